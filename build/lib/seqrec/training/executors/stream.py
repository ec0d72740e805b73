"""The handle of a training that runs elsewhere (a worker process, a Ray task) and reports as a stream of messages.

The worker side (seqrec.training.worker) sends ("threads", n), ("batch", ...), ("epoch", ...), ("stopping",) and at
the end ("result", payload) or ("error", sentence). This handle turns them into the same on_batch / on_epoch
callbacks as train(), enforces Stop (a worker that does not acknowledge it in time is ended outright), and rebuilds
the finished Run in this process with the caller's vocabulary. A subclass says how messages arrive and how the
worker is stopped or ended.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import torch

from seqrec.runs.run import Run, default_run_name
from seqrec.training import worker as _worker
from seqrec.training.executors.base import TrainingFailed
from seqrec.training.loop import BatchInfo, EpochInfo, build_model

STOP_GRACE = 1.0  # seconds a worker has to reach a batch boundary after Stop before it is ended outright
FIRST_BATCH_GRACE = 30.0  # ... a worker still starting (loading torch) when Stop was pressed
MAX_GRACE = 60.0  # seconds an acknowledged stop may take to finish the batch or validation in progress
POLL = 0.1
DIED = ("The training process stopped unexpectedly (killed or out of memory{code}); try a smaller model or fewer "
        "items, then train again.")
STOPPED_HARD = ("Stopped at once: the batch in progress did not finish within a second, so no weights were kept.")


class StreamHandle:
    """One submitted training: its event stream, stop(), and its outcome. `executor` names where it ran."""

    executor = "?"
    threads = 0  # the torch threads the training was given when it was submitted (fixed for the whole run)
    ack_grace = STOP_GRACE  # a Ray task only hears the flag when it next reports: see ray.py

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

    @property
    def stop_requested(self) -> bool:
        return self._stop_at is not None

    @property
    def stop_message(self) -> str:
        return self._outcome[1] if self._outcome and self._outcome[0] == "stopped" else ""

    def events(self):
        """Yield ("batch", BatchInfo) and ("epoch", EpochInfo) until the training ends (then see result())."""
        try:
            while self._outcome is None:
                for msg in self._receive(POLL):
                    event = self._note(msg)
                    if event is not None:
                        yield event
                if self._outcome is None:
                    self._check_ended()
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

    def consume(self, callbacks: Sequence = ()):
        """Feed every progress event to the callbacks (as train() would) and return result()."""
        for kind, info in self.events():
            hook = "on_batch" if kind == "batch" else "on_epoch"
            for cb in callbacks:
                fn = getattr(cb, hook, None)
                if fn is not None:
                    fn(info)
        return self.result()

    # -- the stream -----------------------------------------------------------------------------------------------
    def _note(self, msg) -> tuple | None:
        """Take in one message: a progress event to hand on, or bookkeeping (threads, stop acknowledged, the end)."""
        kind = msg[0]
        if kind == "batch":
            return "batch", BatchInfo(*msg[1])
        if kind == "epoch":
            return "epoch", EpochInfo(**msg[1])
        if kind == "threads":
            self.threads_seen.append(int(msg[1]))
            if self._began is None:
                self._began = time.monotonic()
        elif kind == "stopping":
            self._acked = True
            if self._stop_at is not None:
                self.stop_latency = time.monotonic() - self._stop_at
        elif kind in ("result", "error") and self._outcome is None:
            self._outcome = msg
        return None

    def _check_ended(self) -> None:
        """No outcome yet: a worker that is gone gets the outcome its last messages or its death say; one that
        overran its Stop grace is ended outright."""
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

    def _overdue(self) -> bool:
        """After Stop: a worker that has not acknowledged it within `ack_grace` seconds of starting its training
        (a local worker acknowledges from a thread of its own within 0.1 s: no answer means it is hung), or that
        acknowledged but has not finished within MAX_GRACE seconds, is ended outright (its weights are lost)."""
        now = time.monotonic()
        if not self._acked:
            if self._began is None:  # still starting (a cold worker loads torch first): it sees the flag at once
                return now - self._stop_at > FIRST_BATCH_GRACE
            return now - max(self._stop_at, self._began) > self.ack_grace
        return now - self._stop_at > MAX_GRACE

    def _rebuild(self, payload: dict):
        model = build_model(self.split.n_items, self.config)  # automatic settings were resolved at submit
        model.load_state_dict({k: torch.from_numpy(v if v.flags.writeable else v.copy())
                               for k, v in payload["state"].items()})
        model.eval()
        run = Run(name=self.name or default_run_name(self.config), config=self.config, vocab=self.split.vocab,
                  model=model, **{k: payload[k] for k in _worker.run_fields() if k in payload})
        run.executor = self.executor
        return run
