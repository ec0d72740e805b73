"""Browser sessions and the work they own: ONE reaper stops the trainings and the tunes of sessions that are gone.

A closed tab must not leave its training holding a slot, nor its search holding the cores for the rest of its
budget. The app installs how to tell whether a session still exists (`set_check`: it asks Streamlit); every piece of
work that belongs to a session is tracked here (`track`) and, once its owner is gone, stopped (`reap`, every
REAP_SECONDS from a daemon thread while a check is installed). Work without an owner (scripts, the CLI) is never
touched, and when in doubt (the check fails) a session counts as alive.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

REAP_SECONDS = 10.0  # how often the reaper looks for work whose session is gone
CLOSED = "The session that asked for it was closed."


class OwnedWork(Protocol):
    """A training job or a tune search: who asked for it, whether it still runs, and how to stop it."""

    owner: str | None

    @property
    def is_active(self) -> bool: ...

    @property
    def stop_requested(self) -> bool: ...

    def stop(self, reason: str) -> None: ...


class SessionReaper:
    """Which sessions are alive, the work they own, and the thread that stops the work of the gone ones."""

    def __init__(self, every: float = REAP_SECONDS, check: Callable[[str], bool] | None = None):
        self.every = every
        self.check = check
        self._lock = threading.Lock()
        self._work: list[OwnedWork] = []
        self._thread: threading.Thread | None = None

    def set_check(self, check: Callable[[str], bool] | None) -> None:
        """Install how to tell whether an owner session still exists (None: every session counts as alive)."""
        self.check = check
        self._ensure_thread()

    def alive(self, owner: str) -> bool:
        """Whether the session `owner` still exists (always True until a check is installed)."""
        check = self.check
        if check is None:
            return True
        try:
            return bool(check(owner))
        except Exception:
            return True

    def track(self, work: OwnedWork) -> None:
        """Watch this work until it ends (or is forgotten)."""
        with self._lock:
            if work not in self._work:
                self._work.append(work)
        self._ensure_thread()

    def forget(self, work: OwnedWork) -> None:
        with self._lock:
            if work in self._work:
                self._work.remove(work)

    def tracked(self) -> list[OwnedWork]:
        with self._lock:
            return list(self._work)

    def reap(self, is_alive: Callable[[str], bool] | None = None) -> list[OwnedWork]:
        """Stop every active piece of work whose owner session is gone (a queued training is withdrawn, a running
        one ends after its current batch, a search keeps what it found); returns them. Ended work is dropped."""
        check = is_alive or self.alive
        reaped = []
        for work in self.tracked():
            if work.owner is not None and work.is_active and not work.stop_requested and not check(work.owner):
                work.stop(CLOSED)
                reaped.append(work)
        with self._lock:
            self._work = [w for w in self._work if w.is_active]
        return reaped

    def _ensure_thread(self) -> None:
        """Start the reaper thread once a check is installed (a daemon: it never keeps the process alive)."""
        with self._lock:
            if self.check is None or (self._thread is not None and self._thread.is_alive()):
                return
            self._thread = threading.Thread(target=self._reap_while_checked, name="seqrec-reaper", daemon=True)
            self._thread.start()

    def _reap_while_checked(self) -> None:
        while self.check is not None:
            time.sleep(self.every)
            try:
                self.reap()
            except Exception:
                pass


REAPER = SessionReaper()  # the process's one reaper: the app's training queue and its tune searches
