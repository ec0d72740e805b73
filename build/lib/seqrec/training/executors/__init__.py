"""Executors: where a training runs. One protocol (base.py) and three implementations:

- `thread` (thread.py): in the thread that consumes the handle (SEQREC_EXECUTOR=thread: tests, debugging);
- `local` (local.py, the default): spawned worker processes on this machine, a few kept warm;
- `ray` (ray.py): tasks on a Ray cluster (SEQREC_RAY_ADDRESS or `train --ray`).

Every caller gets a handle with the same consume(callbacks) / result() / stop(), whatever the executor. Which one a
process uses is the application layer's choice (seqrec.service.executor.get_executor); this package only makes them.
"""
from __future__ import annotations

from seqrec.errors import SeqrecError
from seqrec.training.executors.base import Executor, TrainingFailed, TrainingHandle
from seqrec.training.executors.local import LocalExecutor
from seqrec.training.executors.ray import RayExecutor
from seqrec.training.executors.stream import DIED, STOPPED_HARD
from seqrec.training.executors.thread import ThreadExecutor

KINDS = ("process", "thread", "ray")  # what SEQREC_EXECUTOR names ("process": the local executor), and Ray

__all__ = ["Executor", "TrainingHandle", "TrainingFailed", "ThreadExecutor", "LocalExecutor", "RayExecutor",
           "DIED", "STOPPED_HARD", "KINDS", "make_executor"]


def make_executor(kind: str, ray_address: str = "") -> Executor:
    """A new executor of this kind: "process" (spawned worker processes), "thread" (the calling thread) or "ray"
    (the cluster at `ray_address`; "" connects to the one this process knows, e.g. `ray start` on this machine)."""
    if kind == "ray":
        return RayExecutor(ray_address or None)
    if kind == "thread":
        return ThreadExecutor()
    if kind == "process":
        return LocalExecutor()
    raise SeqrecError(f"Unknown executor {kind!r}; use one of {', '.join(KINDS)}.")
