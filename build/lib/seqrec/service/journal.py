"""The restart journal: after a server restart, a workspace is told, once, which of its trainings were lost.

One small JSON file per queued or running training of a workspace, in a folder of the run library (the app sets
it), removed when the training ends. A record left by a server process that is gone (stopped, restarted, killed) is
a training that never finished: `interrupted(workspace)` returns it once and removes it.
"""
from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path

from seqrec.runtime import pid_alive


class Journal:
    """The records of one folder (None: nowhere, the journal then records nothing). `token` names this server
    process; a record with another token is from an earlier one."""

    def __init__(self, folder: str | Path | None = None):
        self.folder = Path(folder) if folder is not None else None
        self.token = secrets.token_hex(8)

    def start(self, workspace: str | None, name: str) -> str:
        """Record a training of `workspace` that is now queued; returns its record id ("" when nothing was
        recorded: no folder, no workspace, or a read-only library, where the training still runs)."""
        if self.folder is None or workspace is None:
            return ""
        record_id = f"{self.token}-{secrets.token_hex(6)}"
        record = dict(workspace=workspace, name=name, pid=os.getpid(), server=self.token,
                      started=time.strftime("%Y-%m-%d %H:%M", time.localtime()))
        path = self.folder / f"{record_id}.json"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(record))
            os.replace(tmp, path)
        except OSError:  # a read-only library: only a restart could not be reported
            return ""
        return record_id

    def end(self, record_id: str) -> None:
        """The training ended (or left the queue): its record goes."""
        if not record_id or self.folder is None:
            return
        try:
            (self.folder / f"{record_id}.json").unlink(missing_ok=True)
        except OSError:
            pass

    def interrupted(self, workspace: str | None) -> list[dict]:
        """Trainings of this workspace recorded as queued or running by a server that is gone before they finished.
        Each is returned once (its record is removed), so the person is told exactly once."""
        if self.folder is None or not workspace or not self.folder.is_dir():
            return []
        lost = []
        for path in sorted(self.folder.glob("*.json")):
            record = _read(path)
            if record is None or record.get("workspace") != workspace:
                continue
            if record.get("server") == self.token or _server_alive(int(record.get("pid") or 0)):
                continue
            try:
                path.unlink()
            except OSError:
                continue
            lost.append(record)
        return lost


def _read(path: Path) -> dict | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def _server_alive(pid: int) -> bool:
    if pid <= 0 or pid == os.getpid():
        return False  # same pid, other token: an earlier server that had this pid (e.g. a restarted container)
    return pid_alive(pid)


def interrupted_message(records: list[dict]) -> str:
    """One sentence for the person about trainings a server restart lost."""
    names = ", ".join(f"'{r.get('name', '?')}' (started {r.get('started', '?')})" for r in records[:3])
    more = f" and {len(records) - 3} more" if len(records) > 3 else ""
    what = "training was" if len(records) == 1 else "trainings were"
    return (f"Your {what} interrupted by a server restart before finishing and not saved: {names}{more}; "
            f"train again to get the run.")


JOURNAL = Journal()  # the app server's journal (the app points it at its run library's jobs/ folder)
