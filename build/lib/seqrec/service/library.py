"""The run library of this process: each library folder opened once and kept, so every session and the CLI share one
connection set and its orphan clean-up runs once."""
from __future__ import annotations

import threading
from pathlib import Path

from seqrec.runs.store import RunStore, store_home

_STORES: dict[Path, RunStore] = {}
_STORES_LOCK = threading.Lock()


def open_store(home: str | Path | None = None) -> RunStore:
    """The library under `home` (default: store_home()), opened once per process; the first opening also removes
    old orphan folders."""
    path = Path(home).expanduser().absolute() if home is not None else store_home()
    with _STORES_LOCK:
        store = _STORES.get(path)
        if store is None or not store.db_path.exists():
            store = RunStore(path)
            store.cleanup_orphans()
            _STORES[path] = store
        return store
