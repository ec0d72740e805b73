"""The executor of this process: every training the product starts (Train page, demo runs, Tune, the CLI) goes
through the one `get_executor()` returns, made on first use and kept, so warm worker processes and a Ray connection
are shared by all of them."""
from __future__ import annotations

import threading

from seqrec.runtime import ServerSettings
from seqrec.training.executors import Executor, make_executor

_EXECUTORS: dict[tuple[str, str], Executor] = {}  # (kind, Ray address) -> the executor made for it
_LOCK = threading.Lock()


def executor_kind(ray_address: str | None = None) -> tuple[str, str]:
    """(kind, address): "ray" at `ray_address` (the CLI's --ray) or SEQREC_RAY_ADDRESS when either is set, else
    SEQREC_EXECUTOR's kind ("process" by default, or "thread")."""
    address = (ray_address or ServerSettings.read("ray_address")).strip()
    return ("ray", address) if address else (ServerSettings.read("executor"), "")


def get_executor(ray_address: str | None = None) -> Executor:
    """The executor every training of this process goes through (always one: the thread executor too is one).
    Made once per kind and address, and kept; a Ray cluster that cannot be reached is one SeqrecError sentence."""
    key = executor_kind(ray_address)
    with _LOCK:
        if key not in _EXECUTORS:
            _EXECUTORS[key] = make_executor(*key)
        return _EXECUTORS[key]
