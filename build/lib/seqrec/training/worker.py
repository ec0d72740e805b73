"""The training side of an executor: what runs inside a worker process (spawned by the local executor) or a Ray task.

The parent sends a prepared split once, in a compact form (`pack_split`: a few integer arrays, no raw IDs, no
re-parsing), with the config as a plain dict. The worker trains with the same `train_run` as every other path and
reports through an `emit(message)` function:

    ("threads", n)                      the torch threads it uses, once, before the first batch (fixed for the run)
    ("batch", BatchInfo fields)         after every batch
    ("epoch", EpochInfo fields)         after every epoch
    ("stopping",)                       it saw the stop request at a batch boundary; the best weights are kept
    ("result", payload)                 the finished run: weights as numpy arrays, metrics, curves
    ("error", sentence)                 a failure the person can act on

It imports torch only inside functions, so a spawned child reads OMP_WAIT_POLICY from its environment first.
"""
from __future__ import annotations

import gc
import os
import threading
import time
from dataclasses import asdict, fields

import numpy as np

UNEXPECTED = ("Training failed unexpectedly ({what}). Try smaller settings (batch size, hidden size) or reload the "
              "data, then train again.")
# Run fields NOT copied from the worker's Run into the payload: the model and vocabulary are rebuilt in the parent,
# the name and config are the parent's, and where it ran is the executor's to say. Every other field travels (the
# per-user ranks and order check included), so a field added to Run later travels too.
NOT_SENT = ("name", "config", "vocab", "model", "executor")


def run_fields() -> tuple:
    """The Run fields a worker sends back: all of them but NOT_SENT."""
    from seqrec.runs.run import Run  # the training code: loaded in the worker, not when the module is imported

    return tuple(f.name for f in fields(Run) if f.name not in NOT_SENT)


class _CountVocab:
    """Stands in for the item vocabulary in a worker: training only needs how many items there are."""

    def __init__(self, n: int):
        self.n = int(n)

    def __len__(self) -> int:
        return self.n


def pack_split(split) -> dict:
    """The training data as integer arrays: every user's training part concatenated, with their lengths, and the
    validation and test targets. Raw IDs stay in the parent (the finished run gets the parent's vocabulary)."""
    lengths = np.fromiter((len(t) for t in split.train), dtype=np.int64, count=len(split.train))
    items = np.concatenate(split.train).astype(np.int32 if split.n_items < 2**31 - 1 else np.int64) \
        if len(split.train) else np.zeros(0, dtype=np.int32)
    return dict(n_items=int(split.n_items), lengths=lengths, items=items,
                valid_target=np.asarray(split.valid_target, dtype=np.int64),
                test_target=np.asarray(split.test_target, dtype=np.int64))


def unpack_split(packed: dict):
    from seqrec.data.split import SplitData  # the worker side imports the data code only when it unpacks

    items = packed["items"].astype(np.int64, copy=False)
    ends = np.cumsum(packed["lengths"])
    train = np.split(items, ends[:-1]) if len(ends) else []
    n_users = len(packed["lengths"])
    return SplitData(vocab=_CountVocab(packed["n_items"]), users=np.arange(n_users), train=train,
                     valid_target=packed["valid_target"], test_target=packed["test_target"])


class _Reporter:
    """The training callback of a worker: every batch and epoch goes to `emit`; it also acknowledges a stop
    request."""

    def __init__(self, emit, stop):
        self.emit, self.stop = emit, stop
        self.acked = False
        self.ack_lock = threading.Lock()

    def on_batch(self, info) -> None:
        self.emit(("batch", tuple(getattr(info, f.name) for f in fields(info))))
        self._ack()

    def on_epoch(self, info) -> None:
        self.emit(("epoch", asdict(info)))
        self._ack()

    def _ack(self) -> None:
        if not self.acked and self.stop is not None and self.stop.is_set():
            with self.ack_lock:
                if not self.acked:
                    self.acked = True
                    self.emit(("stopping",))


class _StopWatcher:
    """Acknowledges a stop request at once (within WATCH_SECONDS), from a thread of its own, whatever the training
    is doing (a batch, a validation pass): the parent then knows the worker is alive and lets it finish at the next
    batch boundary, keeping the best weights. Only for a stop flag that can be waited on (a local worker's Event)."""

    WATCH_SECONDS = 0.1

    def __init__(self, reporter, stop):
        self.reporter, self.stop = reporter, stop
        self._done = threading.Event()
        if stop is not None and hasattr(stop, "wait"):
            threading.Thread(target=self._watch, name="seqrec-stop-watcher", daemon=True).start()

    def _watch(self) -> None:
        while not self._done.is_set():
            if self.stop.wait(self.WATCH_SECONDS):
                with self.reporter.ack_lock:
                    if not self.reporter.acked and not self._done.is_set():
                        self.reporter.acked = True
                        self.reporter.emit(("stopping",))
                return

    def done(self) -> None:
        with self.reporter.ack_lock:
            self._done.set()


def fix_threads(threads: int) -> int:
    """Set this process's torch threads for the whole training that follows, and return the count in use. Fixed
    when a training starts and never changed during it: float sums inside torch depend on the thread count (1 and
    2 threads give different batch losses from the 10th batch of the Quick demo on: RELIABILITY.md, section 7), so
    a training re-shared mid-run could never be repeated exactly."""
    import torch  # loaded inside the worker, after its environment (OMP_WAIT_POLICY) is set

    if threads and int(threads) != torch.get_num_threads():
        torch.set_num_threads(int(threads))
    return torch.get_num_threads()


def run_training(packed: dict, config: dict, opts: dict, emit, stop=None, threads: int = 0) -> dict | None:
    """Train in this process with `threads` torch threads (0: leave the count as it is); report through `emit`;
    return the result payload (also emitted), or None after an error (emitted as one sentence)."""
    # inside the worker: the spawned process imports torch and the training code here, not at unpickling time
    from seqrec.config import TrainConfig
    from seqrec.errors import SeqrecError
    from seqrec.training.runner import train_run

    lock = threading.Lock()
    send = emit

    def emit(message):
        with lock:
            send(message)

    reporter = _Reporter(emit, stop)
    watcher = _StopWatcher(reporter, stop)
    try:
        used = fix_threads(threads)
        emit(("threads", used))
        cfg = TrainConfig.from_dict(config)
        split = unpack_split(packed)
        run = train_run(split, cfg, callbacks=[reporter], stop_event=stop, name=opts.get("name"),
                        baselines=opts.get("baselines"), device=opts.get("device"), dataset=opts.get("dataset"))
    except SeqrecError as e:
        emit(("error", str(e)))
        return None
    except MemoryError:
        emit(("error", "The training ran out of memory; try a smaller model (hidden size, batch size) or fewer "
                       "items."))
        return None
    except Exception as e:
        emit(("error", UNEXPECTED.format(what=f"{type(e).__name__}: {e}")))
        return None
    finally:
        watcher.done()
    payload = {k: getattr(run, k) for k in run_fields()}
    payload["state"] = {k: v.detach().cpu().numpy() for k, v in run.model.state_dict().items()}
    payload["threads"] = used
    emit(("result", payload))
    return payload


# ------------------------------------------------------------------------------------------------------------------
# Local executor: the entry point of a spawned, pre-warmed worker process
# ------------------------------------------------------------------------------------------------------------------

RECYCLE_MB = 400  # a reused worker whose memory grew by more than this over its warm baseline retires after a run


def rss_mb() -> float:
    """This process's resident memory in MB (Linux /proc; 0 when unknown)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return 0.0


def _release_memory() -> None:
    """Give freed memory back to the system after a training (glibc keeps freed heap pages otherwise)."""
    import ctypes  # only here: a worker between trainings, on Linux

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def serve(tasks, conn, stop) -> None:
    """Target of a spawned, pre-warmed worker process: torch and the training code load once at start, then it
    trains one task at a time, as many as it is sent (the executor keeps a few of these ready so a training
    starts at once). Tasks arrive on `tasks` (None: exit); every message goes up the one-way pipe `conn`, so the
    parent sees this process's death as an end-of-file. Between tasks it reports ("idle", rss_mb) or, when its
    memory grew more than RECYCLE_MB over its warm baseline, ("retire", rss_mb) and exits (the executor replaces it).
    """
    import seqrec.training.runner  # noqa: F401  # warm-up: torch and the training code, before the first task arrives

    baseline = rss_mb()
    conn.send(("ready", os.getpid()))
    while True:
        try:
            task = tasks.recv()
        except (EOFError, OSError):  # the parent is gone
            return
        if task is None:
            return
        packed, config, opts = task
        del task
        run_training(packed, config, opts, conn.send, stop, int(opts.get("threads") or 0))
        del packed
        _release_memory()
        now = rss_mb()
        if baseline and now - baseline > RECYCLE_MB:
            conn.send(("retire", now))
            return
        conn.send(("idle", now))


# ------------------------------------------------------------------------------------------------------------------
# Ray executor: the task and the actor that carries progress and the stop flag between it and the app
# ------------------------------------------------------------------------------------------------------------------

class Channel:
    """A tiny Ray actor (num_cpus=0): the task pushes messages and reads the stop flag; the app drains messages
    and sets the flag. No scheduling of its own: Ray places and runs the task."""

    def __init__(self):
        self.messages: list = []
        self.stop_flag = False

    def push(self, messages: list) -> bool:
        self.messages.extend(messages)
        return self.stop_flag

    def drain(self) -> list:
        out, self.messages = self.messages, []
        return out

    def stop(self) -> None:
        self.stop_flag = True


class _RemoteStop:
    """The stop flag as train() reads it (`is_set()`), refreshed whenever the buffered messages are flushed."""

    def __init__(self):
        self.flag = False

    def is_set(self) -> bool:
        return self.flag


FLUSH_SECONDS = 0.1


def ray_main(packed: dict, config: dict, opts: dict, channel, cpus: int) -> dict | None:
    """Body of the Ray task: the same training, its messages sent to the channel actor in small bundles (at most
    every FLUSH_SECONDS, and at once for an epoch, the stop acknowledgement and the end)."""
    import ray  # optional dependency: only a Ray task imports it

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    stop = _RemoteStop()
    buf: list = []
    last = [time.monotonic()]

    def flush():
        stop.flag = bool(ray.get(channel.push.remote(list(buf)))) or stop.flag
        buf.clear()
        last[0] = time.monotonic()

    def emit(message):
        kind = message[0]
        if kind == "result":  # the payload is the task's return value; the channel only hears that it ended
            buf.append(("finished",))
            flush()
            return
        buf.append(message)
        if kind != "batch" or time.monotonic() - last[0] >= FLUSH_SECONDS:
            flush()

    payload = run_training(packed, config, opts, emit, stop, cpus)
    if buf:
        flush()
    return payload
