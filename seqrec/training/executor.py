"""Executors: where a training runs. One interface for every training the product starts (Train page, CLI, tuning).

    executor = get_executor()                      # local processes, or Ray when SEQREC_RAY_ADDRESS is set
    handle = executor.submit(split, config, name=..., baselines=..., dataset=..., concurrent=...)
    run = handle.consume([callback, ...])          # progress: the same on_batch / on_epoch callbacks as train()
    handle.stop()                                  # from any thread; takes effect within STOP_GRACE seconds

`consume` returns the finished Run (rebuilt in this process with the caller's vocabulary) or raises
`TrainingFailed` with a sentence for the person; a training stopped before any weights were kept returns None.

LocalExecutor (the default): each training in a *spawned* worker process (never forked: the app's threads and
locks stay in the app), one training per process at a time; a few workers are kept warm (torch already imported)
and reused, so a training starts at once instead of paying a process start and a torch import (5-10 s on a busy
machine). The split travels once, as integer arrays (worker.pack_split); messages come back over a
one-way pipe, so a worker that dies (SIGKILL, the OOM killer, a native crash) is an end-of-file here, which becomes
a failed job with a clear sentence while the server and the other trainings carry on; its memory goes with the
process.

Threads: a training's torch thread count is fixed when it starts and never changed during it (float sums inside
torch depend on the count, so a training re-shared mid-run could never be repeated exactly), and the Run records it
(`run.threads`). It is the config's `cpus` when set (capped at the machine's cores), else an equal share of the
cores among the trainings expected to run at once: those running now plus this one, or more when the caller knows
of others about to start (`concurrent`: the app's queue). A lone training gets every core.

RayExecutor (SEQREC_RAY_ADDRESS, or `train --ray ADDRESS`): the same worker code as a Ray task on an existing
cluster, the config's `cpus` CPUs per task (when 0: SEQREC_RAY_CPUS, default 2) as Ray resources and torch threads,
and a GPU when the cluster has one; progress and the stop flag go through a small actor. Ray does all the placing
and scheduling.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time

import torch

from seqrec.errors import SeqrecError
from seqrec.runs.run import Run, default_run_name
from seqrec.training import worker as _worker
from seqrec.training.loop import BatchInfo, EpochInfo, build_model, resolve_auto

STOP_GRACE = 1.0  # seconds a worker has to reach a batch boundary after Stop before it is ended outright
FIRST_BATCH_GRACE = 30.0  # ... a worker still starting (loading torch) when Stop was pressed
MAX_GRACE = 60.0  # seconds an acknowledged stop may take to finish the batch or validation in progress
POLL = 0.1
DIED = ("The training process stopped unexpectedly (killed or out of memory{code}); try a smaller model or fewer "
        "items, then train again.")
STOPPED_HARD = ("Stopped at once: the batch in progress did not finish within a second, so no weights were kept.")


class TrainingFailed(SeqrecError):
    """A training that ended without a run; str() is the sentence to show."""


class TrainingHandle:
    """One submitted training: its event stream, stop(), and its outcome. `executor` names where it ran."""

    executor = "?"
    threads = 0  # the torch threads the training was given when it was submitted (fixed for the whole run)

    def __init__(self, split, config, name=None):
        self.split, self.config, self.name = split, config, name
        self.threads_seen: list[int] = []  # torch thread counts the worker reported (one, before its first batch)
        self._stop_at: float | None = None
        self._began: float | None = None  # when the worker started this training (a cold one loads torch first)
        self._acked = False
        self._outcome = None  # ("result", payload) | ("error", sentence) | ("stopped", sentence)
        self._lock = threading.Lock()
        self.pid: int | None = None
        self.stop_latency: float | None = None  # seconds from stop() to the worker's acknowledgement

    # -- to implement ---------------------------------------------------------------------------------------------
    def _receive(self, timeout: float) -> list:  # messages available within the timeout (may be empty)
        raise NotImplementedError

    def _finished(self) -> tuple[bool, str]:  # (ended, why) once the worker is gone
        raise NotImplementedError

    def _signal_stop(self) -> None:
        raise NotImplementedError

    def _kill(self) -> None:
        raise NotImplementedError

    def _release(self) -> None:
        pass

    # -- public ---------------------------------------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the worker to end after the current batch (best weights kept); if it has not reached a batch
        boundary within STOP_GRACE seconds it is ended outright (consume() enforces this)."""
        with self._lock:
            if self._stop_at is None:
                self._stop_at = time.monotonic()
        self._signal_stop()

    def _overdue(self) -> bool:
        """After Stop: a worker that has not acknowledged it within STOP_GRACE seconds of starting its training
        (a local worker acknowledges from a thread of its own within 0.1 s: no answer means it is hung), or that
        acknowledged but has not finished within MAX_GRACE seconds, is ended outright (its weights are lost)."""
        now = time.monotonic()
        if not self._acked:
            if self._began is None:  # still starting (a cold worker loads torch first): it sees the flag at once
                return now - self._stop_at > FIRST_BATCH_GRACE
            return now - max(self._stop_at, self._began) > self.ack_grace
        return now - self._stop_at > MAX_GRACE

    ack_grace = STOP_GRACE  # the Ray task only hears the flag when it next reports: see _RayHandle

    @property
    def stop_requested(self) -> bool:
        return self._stop_at is not None

    def events(self):
        """Yield ("batch", BatchInfo) and ("epoch", EpochInfo) until the training ends (then see result())."""
        try:
            while self._outcome is None:
                for msg in self._receive(POLL):
                    kind = msg[0]
                    if kind == "batch":
                        yield "batch", BatchInfo(*msg[1])
                    elif kind == "epoch":
                        yield "epoch", EpochInfo(**msg[1])
                    elif kind == "threads":
                        self.threads_seen.append(int(msg[1]))
                        if self._began is None:
                            self._began = time.monotonic()
                    elif kind == "stopping":
                        self._acked = True
                        if self._stop_at is not None:
                            self.stop_latency = time.monotonic() - self._stop_at
                    elif kind in ("result", "error"):
                        self._outcome = msg
                if self._outcome is not None:
                    break
                ended, why = self._finished()
                if ended:
                    for msg in self._receive(0):  # whatever was still on its way
                        if msg[0] in ("result", "error"):
                            self._outcome = msg
                    if self._outcome is None:
                        self._outcome = ("stopped", STOPPED_HARD) if self._stop_at is not None and not self._acked \
                            else ("error", why)
                elif self._stop_at is not None and self._overdue():
                    self._kill()
                    self._outcome = ("stopped", STOPPED_HARD)
        except BaseException:  # the caller went away (Ctrl-C, an error in a callback): the worker goes too
            self._kill()
            raise
        finally:
            if self._outcome is not None:
                self._release()

    def result(self):
        """The finished Run; None when it was stopped before any weights were kept; TrainingFailed otherwise."""
        if self._outcome is None:
            for _ in self.events():
                pass
        kind, value = self._outcome
        if kind == "error":
            raise TrainingFailed(value)
        if kind == "stopped":
            return None
        return self._rebuild(value)

    def consume(self, callbacks=()):
        """Feed every progress event to the callbacks (as train() would) and return result()."""
        for kind, info in self.events():
            hook = "on_batch" if kind == "batch" else "on_epoch"
            for cb in callbacks:
                fn = getattr(cb, hook, None)
                if fn is not None:
                    fn(info)
        return self.result()

    @property
    def stop_message(self) -> str:
        return self._outcome[1] if self._outcome and self._outcome[0] == "stopped" else ""

    def _rebuild(self, payload: dict):
        model = build_model(self.split.n_items, self.config)  # automatic settings were resolved at submit
        model.load_state_dict({k: torch.from_numpy(v if v.flags.writeable else v.copy())
                               for k, v in payload["state"].items()})
        model.eval()
        run = Run(name=self.name or default_run_name(self.config), config=self.config, vocab=self.split.vocab,
                  model=model, **{k: payload[k] for k in _worker.run_fields() if k in payload})
        run.executor = self.executor
        return run


def _signal_name(code) -> str:
    if code is None:
        return ""
    if code < 0:
        try:
            return f"; signal {signal.Signals(-code).name}"
        except ValueError:
            return f"; signal {-code}"
    return f"; exit code {code}"


# ------------------------------------------------------------------------------------------------------------------
# Local: spawned worker processes, a few kept warm (torch already imported), one training per process at a time
# ------------------------------------------------------------------------------------------------------------------

WARM_ENV = "SEQREC_WARM_WORKERS"


_stdlib_preparation_data = multiprocessing.spawn.get_preparation_data


def _preparation_data(name):
    """multiprocessing's start-up data for a spawned child, without the parent's __main__ for our workers: inside
    Streamlit, __main__ is the page script being run (app.py), which the child would otherwise execute again. The
    worker's target lives in seqrec.training.worker, importable by name, so the child needs no main module."""
    data = _stdlib_preparation_data(name)
    if str(name).startswith("seqrec-train"):
        data.pop("init_main_from_path", None)
        data.pop("init_main_from_name", None)
    return data


multiprocessing.spawn.get_preparation_data = _preparation_data


class _Worker:
    """One spawned worker process (worker.serve): tasks go down `tasks`, messages come up `conn` (only the child
    writes it, so its death is an end-of-file here), `stop` is shared with it for its lifetime."""

    def __init__(self, ctx):
        self.stop = ctx.Event()
        task_reader, self.tasks = ctx.Pipe(duplex=False)
        self.conn, writer = ctx.Pipe(duplex=False)
        self.process = ctx.Process(target=_worker.serve, name="seqrec-train",
                                   args=(task_reader, writer, self.stop), daemon=True)
        try:
            self.process.start()
        finally:
            task_reader.close()  # the child's ends: only it reads tasks and writes messages
            writer.close()
        self.pid = self.process.pid
        self.trainings = 0

    def send(self, task) -> None:
        self.tasks.send(task)

    def wait_between_tasks(self, timeout: float) -> bool:
        """After a training: True once the worker says it is idle again (ready for the next task); False when it
        retired, died or did not answer in time (then it is ended)."""
        end = time.monotonic() + timeout
        try:
            while time.monotonic() < end:
                if self.conn.poll(max(0.0, end - time.monotonic())):
                    kind = self.conn.recv()[0]
                    if kind == "idle":
                        return True
                    if kind == "retire":
                        break
                    # "ready" or a late progress message of the finished training: skipped
        except (EOFError, OSError):
            pass
        self.end()
        return False

    def end(self, wait: float = 5.0) -> None:
        for conn in (self.tasks, self.conn):
            try:
                conn.close()
            except OSError:
                pass
        if self.process.is_alive():
            self.process.join(min(wait, 0.5))  # an idle worker exits on its own once its task pipe closes
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(wait)
            if self.process.is_alive():
                self.process.kill()
                self.process.join(wait)

    @property
    def alive(self) -> bool:
        return self.process.is_alive()


class _LocalHandle(TrainingHandle):
    executor = "local"

    def __init__(self, owner: "LocalExecutor", split, config, name, opts, concurrent=None):
        super().__init__(split, config, name)
        self._owner = owner
        self._eof = False
        self._released = False
        worker = self.worker = owner._take_worker()
        worker.stop.clear()
        self._conn = worker.conn
        self.process = worker.process
        self.pid = worker.pid
        self.threads = owner._started(self, config.cpus, concurrent)  # fixed now, for the whole training
        try:
            worker.send((_worker.pack_split(split), config.to_dict(), {**opts, "threads": self.threads}))
        except BaseException:
            self._outcome = ("error", DIED.format(code=""))
            self._kill()
            raise

    def _receive(self, timeout):
        out = []
        try:
            if self._conn.poll(timeout):
                out.append(self._conn.recv())
                while self._conn.poll(0):
                    out.append(self._conn.recv())
        except (EOFError, OSError):
            self._eof = True
        return [m for m in out if m[0] not in ("ready", "idle", "retire")]

    def _finished(self):
        if self._eof or not self.process.is_alive():
            self.process.join(2)
            return True, DIED.format(code=_signal_name(self.process.exitcode))
        return False, ""

    def _signal_stop(self):
        with self._lock:
            if not self._released:  # a finished handle must not stop the next training of its (reused) worker
                self.worker.stop.set()

    def _kill(self):
        with self._lock:
            self._released = True
        self.worker.end(wait=2.0)
        self._owner._ended(self, reusable=False)

    def _release(self):
        with self._lock:
            if self._released:
                return
            self._released = True
        healthy = self._outcome is not None and self._outcome[0] in ("result", "error") and not self._eof
        self._owner._ended(self, reusable=healthy)


class LocalExecutor:
    """Each training in a spawned worker process with a fixed number of torch threads: the config's `cpus` (at most
    `cores`), else an equal share of `cores` among the trainings expected at once when it starts. `warm` idle workers
    (torch imported) are kept ready so a training starts at once; a worker is reused for later trainings (one at a
    time), retired when its memory grew (worker.RECYCLE_MB) and replaced when it dies."""

    name = "local"

    def __init__(self, cores: int | None = None, warm: int | None = None):
        self.ctx = multiprocessing.get_context("spawn")
        self.cores = max(1, int(cores or os.cpu_count() or 1))
        raw = os.environ.get(WARM_ENV, "").strip()
        self.warm = max(0, min(8, int(warm if warm is not None else (raw if raw.isdigit() else 0))))
        self._lock = threading.Lock()
        self._running: list[_LocalHandle] = []
        self._idle: list[_Worker] = []
        self._starting = 0
        self.spawned = 0  # worker processes started so far (a reused worker is not counted again)

    # -- the warm pool ----------------------------------------------------------------------------------------------
    def _spawn(self) -> _Worker:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # inherited by the child before its torch loads
        w = _Worker(self.ctx)
        with self._lock:
            self.spawned += 1
        return w

    def _take_worker(self) -> _Worker:
        """An idle warm worker when there is one (a dead one is dropped), else a new one (which reads its task
        once torch has loaded). Workers come back to the idle list after their training (see _recycle)."""
        worker = None
        with self._lock:
            while self._idle and worker is None:
                w = self._idle.pop(0)
                if w.alive:
                    worker = w
                else:
                    threading.Thread(target=w.end, daemon=True).start()
        if worker is None:
            worker = self._spawn()
        worker.trainings += 1
        return worker

    def keep_warm(self, n: int) -> None:
        """Keep `n` idle workers ready from now on (the app: SEQREC_WARM_WORKERS, default one per training slot up
        to 2; the CLI keeps none) and start them in the background."""
        self.warm = max(0, min(8, int(n)))
        self.prewarm()

    def prewarm(self) -> None:
        """Start worker processes in the background until `warm` are idle or starting (returns at once)."""
        with self._lock:
            missing = self.warm - len(self._idle) - self._starting
            self._starting += max(0, missing)
        for _ in range(max(0, missing)):
            threading.Thread(target=self._warm_one, name="seqrec-warm-worker", daemon=True).start()

    def _warm_one(self) -> None:
        try:
            w = self._spawn()
        except Exception:  # noqa: BLE001 - no warm worker this time; a training then starts its own
            with self._lock:
                self._starting -= 1
            return
        with self._lock:
            self._starting -= 1
            self._idle.append(w)

    @property
    def idle(self) -> int:
        with self._lock:
            return len(self._idle)

    def shutdown(self) -> None:
        """End the idle workers (running trainings are not touched)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for w in idle:
            w.end()

    # -- cores shared by the trainings: each one's thread count is fixed when it starts ------------------------------
    def share(self, running: int | None = None) -> int:
        """Torch threads for each training when `running` train at once (a lone training gets every core)."""
        n = len(self._running) if running is None else running
        return max(1, self.cores // max(1, n))

    def threads_for(self, cpus: int = 0, concurrent: int | None = None) -> int:
        """The thread count a training submitted now gets: `cpus` when set (at most `cores`), else the share of
        the cores among max(running now + this one, `concurrent`)."""
        if cpus:
            return max(1, min(int(cpus), self.cores))
        return self.share(max(len(self._running) + 1, int(concurrent or 0)))

    def _started(self, handle, cpus: int = 0, concurrent: int | None = None) -> int:
        with self._lock:
            threads = self.threads_for(cpus, concurrent)
            self._running.append(handle)
            return threads

    def _ended(self, handle, reusable: bool = False) -> None:
        with self._lock:
            if handle in self._running:
                self._running.remove(handle)
        # the worker cleans up (gc, memory back to the system) and says it is idle: off the caller's thread
        threading.Thread(target=self._recycle, args=(handle.worker, reusable), name="seqrec-recycle-worker",
                         daemon=True).start()

    def _recycle(self, worker: _Worker, reusable: bool) -> None:
        if reusable and worker.wait_between_tasks(60.0):
            with self._lock:
                if len(self._idle) < max(self.warm, 1):  # reused by the next training; extra ones end
                    self._idle.append(worker)
                    return
            worker.end()
            return
        if not reusable:
            worker.end(wait=2.0)
        self.prewarm()  # a retired or dead worker is replaced

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._running)

    def submit(self, split, config, name=None, baselines=None, dataset=None, device=None,
               concurrent: int | None = None) -> TrainingHandle:
        """Start a training in a worker process. `concurrent`: how many trainings the caller expects to run at once
        with this one (the app's queue: its busy slots plus the waiting jobs), so the first of a crowd does not
        take every core for its whole run; None: those running now plus this one."""
        # automatic settings chosen here, once, so the worker and the parent's run hold the same values
        config = resolve_auto(config.validate(), split)
        opts = dict(name=name, baselines=baselines, dataset=dataset, device=device)
        return _LocalHandle(self, split, config, name, opts, concurrent)


# ------------------------------------------------------------------------------------------------------------------
# Ray: the same worker code as a task on a cluster
# ------------------------------------------------------------------------------------------------------------------

RAY_MISSING = ("Ray is not installed, so SEQREC_RAY_ADDRESS / --ray cannot be used; install it with "
               "`pip install \"ray[default]\"` (or unset SEQREC_RAY_ADDRESS to train on this machine).")


def _import_ray():
    try:
        import ray  # optional dependency (pip install "ray[default]"): only the Ray executor needs it
    except ImportError:
        raise SeqrecError(RAY_MISSING) from None
    return ray


def _check_reachable(address: str | None, timeout: float = 5.0) -> None:
    """A host:port address (or ray://host:port) must answer a TCP connection within seconds: ray.init would
    otherwise retry an unreachable head for minutes. "auto" and other forms are left to Ray."""
    import socket  # standard library; only when a Ray address is given

    text = (address or "").strip()
    if text.startswith("ray://"):
        text = text[len("ray://"):]
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        raise SeqrecError(f"Could not connect to the Ray cluster at {address!r} (nothing answers there: "
                          f"{e.strerror or type(e).__name__}); start it with `ray start --head` or fix "
                          f"SEQREC_RAY_ADDRESS / --ray.") from None


class _RayHandle(TrainingHandle):
    executor = "ray"
    ack_grace = 10.0  # the task hears the flag at its next report (after a batch, at most every FLUSH_SECONDS)

    def __init__(self, owner: "RayExecutor", split, config, name, opts):
        super().__init__(split, config, name)
        ray = self._ray = owner.ray
        self.threads = cpus = owner.cpus_for(config)  # Ray's CPU resources for the task and its torch threads
        self.channel = owner.channel_cls.remote()
        self.ref = owner.task.options(num_cpus=cpus, num_gpus=owner.gpus_per_task(),
                                      max_retries=0).remote(_worker.pack_split(split), config.to_dict(), opts,
                                                            self.channel, cpus)
        self._task_done = False
        self._error = ""
        del ray

    def _receive(self, timeout):
        ray = self._ray
        try:
            msgs = ray.get(self.channel.drain.remote(), timeout=30)
        except Exception:  # noqa: BLE001 - the actor is gone (node lost): judged by the task's own fate below
            msgs = []
        if any(m[0] == "finished" for m in msgs) or self._task_done:
            msgs = [m for m in msgs if m[0] != "finished"] + self._task_outcome()
        elif not msgs:
            ready, _ = ray.wait([self.ref], timeout=timeout)
            if ready:
                msgs = self._drain_quietly() + self._task_outcome()
        return msgs

    def _drain_quietly(self):
        try:
            return [m for m in self._ray.get(self.channel.drain.remote(), timeout=30) if m[0] != "finished"]
        except Exception:  # noqa: BLE001
            return []

    def _task_outcome(self) -> list:
        ray = self._ray
        self._task_done = True
        try:
            payload = ray.get(self.ref)
        except Exception as e:  # noqa: BLE001 - a cancelled, crashed or lost task
            if self.stop_requested and ("Cancel" in type(e).__name__):
                return []
            self._error = DIED.format(code=f"; Ray: {type(e).__name__}")
            return []
        return [("result", payload)] if payload is not None else []

    def _finished(self):
        if self._task_done:
            return True, self._error or DIED.format(code="")
        return False, ""

    def _signal_stop(self):
        try:
            self.channel.stop.remote()
        except Exception:  # noqa: BLE001
            pass

    def _kill(self):
        try:
            self._ray.cancel(self.ref, force=True)
        except Exception:  # noqa: BLE001
            pass
        self._release()

    def _release(self):
        if getattr(self, "_released", False):
            return
        self._released = True
        try:
            self._ray.kill(self.channel)
        except Exception:  # noqa: BLE001
            pass


class RayExecutor:
    """Trainings as Ray tasks on the cluster at `address` ("auto", "host:6379", "ray://host:10001"), or on the
    Ray this process is already connected to when ray.init() was called before."""

    name = "ray"

    def __init__(self, address: str | None = None, cpus: int | None = None, gpu: str = "auto"):
        ray = self.ray = _import_ray()
        _check_reachable(address)  # also when connected already: a named address that answers nothing is an error
        if not ray.is_initialized():
            try:
                ray.init(address=address or "auto", ignore_reinit_error=True, log_to_driver=False,
                         logging_level="ERROR")
            except Exception as e:  # noqa: BLE001 - e.g. nothing listening at the address
                raise SeqrecError(f"Could not connect to the Ray cluster at {address!r} ({type(e).__name__}: "
                                  f"{str(e).splitlines()[0] if str(e) else ''}); start it with `ray start --head` "
                                  f"or fix SEQREC_RAY_ADDRESS / --ray.") from None
        raw = os.environ.get("SEQREC_RAY_CPUS", "").strip()
        self.cpus = max(1, int(cpus or (raw if raw.isdigit() else 0) or 2))  # per task when the config says 0
        self.gpu = gpu
        self.task = ray.remote(_worker.ray_main)
        self.channel_cls = ray.remote(num_cpus=0)(_worker.Channel)

    def cpus_for(self, config) -> int:
        """CPUs (Ray resources and torch threads) of one training's task: the config's `cpus`, else self.cpus. A
        request larger than any node of the cluster would wait forever in Ray's queue: refused with a sentence."""
        cpus = int(config.cpus or self.cpus)
        try:
            nodes = [n.get("Resources", {}).get("CPU", 0) for n in self.ray.nodes() if n.get("Alive")]
        except Exception:  # noqa: BLE001 - a cluster that cannot say: Ray decides
            nodes = []
        if nodes and cpus > max(nodes):
            raise SeqrecError(f"The training asks for {cpus} CPUs per task (the CPU threads setting, or "
                              f"SEQREC_RAY_CPUS), but the largest machine of the Ray cluster has {max(nodes):g}; "
                              f"lower it to at most {max(nodes):g} (or 0 for the default of {self.cpus}).")
        return cpus

    def gpus_per_task(self) -> int:
        if self.gpu == "never":
            return 0
        try:
            return 1 if self.ray.cluster_resources().get("GPU", 0) >= 1 else 0
        except Exception:  # noqa: BLE001
            return 0

    def submit(self, split, config, name=None, baselines=None, dataset=None, device=None,
               concurrent: int | None = None) -> TrainingHandle:
        """Start a training as a Ray task (`concurrent` is not needed: Ray gives each task its own CPUs)."""
        config = resolve_auto(config.validate(), split)  # as the local executor does
        opts = dict(name=name, baselines=baselines, dataset=dataset, device=device)
        return _RayHandle(self, split, config, name, opts)


# ------------------------------------------------------------------------------------------------------------------
# The executor of this process
# ------------------------------------------------------------------------------------------------------------------

_EXECUTORS: dict = {}
_EXECUTORS_LOCK = threading.Lock()


def get_executor(ray_address: str | None = None):
    """The executor every training of this process goes through: Ray at `ray_address` or SEQREC_RAY_ADDRESS when
    set, else local processes; None when SEQREC_EXECUTOR=thread (train inside the calling thread, as before)."""
    address = (ray_address or os.environ.get("SEQREC_RAY_ADDRESS", "")).strip()
    kind = "ray" if address else os.environ.get("SEQREC_EXECUTOR", "process").strip().lower() or "process"
    if kind == "thread":
        return None
    with _EXECUTORS_LOCK:
        key = (kind, address)
        if key not in _EXECUTORS:
            _EXECUTORS[key] = RayExecutor(address) if kind == "ray" else LocalExecutor()
        return _EXECUTORS[key]
