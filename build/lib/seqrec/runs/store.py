"""The run library: every finished run kept on disk, so it outlives the browser tab and the app process.

Layout under the data directory (environment variable SEQREC_HOME, default `.seqrec/` in the working directory):

    runs.sqlite     one row per saved run: name, owner, published flag, dataset fingerprint, config, metrics,
                    baselines, curves and the weights folder (SQLite in WAL mode, a busy timeout, short transactions)
    runs/<id>/      the run's files exactly as `seqrec.runs.files.save_run` writes them (JSON + safetensors, never code)

A run is stored in two steps: its folder first (completely written), then its row. A crash in between leaves a
folder without a row: nobody lists it, and `cleanup_orphans` removes it later. Deleting goes the other way round
(row first, then the folder), so a listed run always has its files.

Privacy: every row has an owner (the app's per-session id, or "cli" for the command line). A session lists its own
runs and the published ones (the gallery). Only the owner may rename, delete or (un)publish a run; anyone may load a
published run, which gives them a copy in memory - the stored run stays read-only to them.

Schema history (PRAGMA user_version):
    1  runs(id, name, created, config, metrics, path): one person's library - no owner, no gallery, no dataset.
    2  adds owner, published, fingerprint, dataset, baselines, curves, saved_at. Opening a version-1 store migrates
       it in place: its runs move to the gallery (they were everyone's) and the new fields are read from each
       run's run.json.
"""
from __future__ import annotations

import datetime as _dt
import json
import re
import secrets
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seqrec.errors import SeqrecError
from seqrec.runtime import ServerSettings

HOME_ENV = ServerSettings.variables()["home"].env
DEFAULT_HOME = ".seqrec"
DB_NAME = "runs.sqlite"
RUNS_DIR = "runs"
SCHEMA_VERSION = 2
BUSY_TIMEOUT_S = 15.0  # a writer waits this long for another one (other session, other process) before giving up
ORPHAN_MIN_AGE_S = 3600.0  # a folder without a row younger than this may still be being saved by someone
CLI_OWNER = "cli"
MAX_NAME_CHARS = 100
SCOPES = ("visible", "mine", "gallery", "all")

_OWNER_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ID_RE = re.compile(r"[0-9a-f]{16}")

_V2_COLUMNS = {  # added by the migration from version 1, with their defaults
    "owner": "TEXT NOT NULL DEFAULT ''",
    "published": "INTEGER NOT NULL DEFAULT 0",
    "fingerprint": "TEXT NOT NULL DEFAULT ''",
    "dataset": "TEXT NOT NULL DEFAULT '{}'",
    "baselines": "TEXT NOT NULL DEFAULT '{}'",
    "curves": "TEXT NOT NULL DEFAULT '{}'",
    "saved_at": "REAL NOT NULL DEFAULT 0",
}
_CREATE_V1 = ("CREATE TABLE IF NOT EXISTS runs (id TEXT PRIMARY KEY, name TEXT NOT NULL, created TEXT NOT NULL, "
              "config TEXT NOT NULL, metrics TEXT NOT NULL, path TEXT NOT NULL)")
_INDEXES = ("CREATE INDEX IF NOT EXISTS runs_owner ON runs(owner, saved_at)",
            "CREATE INDEX IF NOT EXISTS runs_published ON runs(published, saved_at)")


def store_home() -> Path:
    """The data directory: $SEQREC_HOME, or `.seqrec/` in the current working directory."""
    raw = ServerSettings.read("home")
    return (Path(raw).expanduser() if raw else Path.cwd() / DEFAULT_HOME).absolute()


@dataclass
class StoredRun:
    """One row of the library: what the pages list without loading any weights."""

    id: str
    name: str
    created: str
    owner: str
    published: bool
    fingerprint: str
    dataset: dict
    config: dict
    metrics: dict
    baselines: dict
    curves: dict
    path: str
    saved_at: float
    folder: Path = field(repr=False, default=Path("."))

    @property
    def model(self) -> str:
        return str(self.config.get("model", "?"))

    @property
    def monitor_k(self) -> int:
        ks = self.config.get("ks") or [10]
        return int(max(ks))

    @property
    def available(self) -> bool:
        """False when the weights folder vanished (deleted by hand): the run can only be deleted then."""
        return self.folder.is_dir()

    def owned_by(self, session: str | None) -> bool:
        """True when `session` may change this run (its owner, or None: the command line acting for the owner)."""
        return session is None or self.owner == session

    def headline(self) -> float | None:
        """Test Recall@K at the run's monitored K (the number its list row shows)."""
        v = self.metrics.get(f"recall@{self.monitor_k}")
        return None if v is None else float(v)


def _dumps(obj) -> str:
    return json.dumps(obj, default=json_default, allow_nan=True)


def json_default(o):
    """JSON for what json.dumps cannot write itself: numpy numbers and arrays, tuples; anything else as text."""
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, tuple):
        return list(o)
    return str(o)


def _loads(text, default):
    try:
        v = json.loads(text) if text else default
    except (TypeError, ValueError, RecursionError):
        return default
    return v if isinstance(v, type(default)) else default


def _clean_metrics(d: dict) -> dict:
    """Only finite numbers: a row written by an older version or edited by hand never breaks a listing."""
    out = {}
    for k, v in d.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            try:
                f = float(v)
            except OverflowError:  # an integer beyond float range
                continue
            if np.isfinite(f):
                out[str(k)] = f
    return out


def is_run_id(ref) -> bool:
    """True for text shaped like a run-library id (16 hex digits), e.g. from `python -m seqrec runs`."""
    return isinstance(ref, str) and bool(_ID_RE.fullmatch(ref))


def check_name(name) -> str:
    """A run name as the list shows it: trimmed, one line, 1 to 100 characters (else one sentence)."""
    if not isinstance(name, str):
        raise SeqrecError("A run name must be text; type a short name such as 'GRU quick'.")
    clean = " ".join(re.sub(r"[\x00-\x1f\x7f]", " ", name).split())
    if not clean:
        raise SeqrecError("A run name cannot be empty; type a short name such as 'GRU quick'.")
    if len(clean) > MAX_NAME_CHARS:
        raise SeqrecError(f"A run name can have at most {MAX_NAME_CHARS} characters (this one has {len(clean)}); "
                          f"choose a shorter name.")
    return clean


def check_owner(owner) -> str:
    if not isinstance(owner, str) or not _OWNER_RE.fullmatch(owner):
        raise SeqrecError(f"{owner!r} is not a valid session id (letters, digits, - and _, at most 64); this is a "
                          f"bug in the caller, not in your data.")
    return owner


class RunStore:
    """The library under one data directory. Every method opens its own short-lived connection, so one store
    object can be shared by all sessions and threads of the app, and several processes can use the same folder."""

    def __init__(self, home: str | Path | None = None):
        self.home = Path(home).expanduser().absolute() if home is not None else store_home()
        self.db_path = self.home / DB_NAME
        self.runs_dir = self.home / RUNS_DIR
        try:
            self.runs_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise SeqrecError(f"Cannot create the run library in {self.home} ({e.strerror or e}); set {HOME_ENV} to "
                              f"a writable folder.") from None
        self._ensure_schema()

    # -- connections ---------------------------------------------------------------------------------------------
    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """A connection in autocommit mode with a busy timeout; sqlite errors become one sentence."""
        con = None
        try:
            con = sqlite3.connect(self.db_path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            con.row_factory = sqlite3.Row
            yield con
        except sqlite3.OperationalError as e:
            if "locked" in str(e) or "busy" in str(e):
                raise SeqrecError(f"The run library in {self.home} is busy (another program kept it locked for more "
                                  f"than {BUSY_TIMEOUT_S:.0f} s); try again in a moment.") from None
            raise SeqrecError(f"The run library in {self.home} cannot be used ({e}); check that the folder is "
                              f"writable and the disk is not full, or set {HOME_ENV} to another folder.") from None
        except sqlite3.DatabaseError as e:
            raise SeqrecError(f"{self.db_path} is damaged or is not a seqrec run library ({e}); move it away (your "
                              f"weight files stay in {self.runs_dir}) and start the app again.") from None
        finally:
            if con is not None:
                con.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction; BEGIN IMMEDIATE takes the write lock up front, so two writers queue (under
        the busy timeout) instead of failing half way."""
        with self._db() as con:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    # -- schema --------------------------------------------------------------------------------------------------
    def _ensure_schema(self) -> None:
        """Create a new library, or migrate an older one to SCHEMA_VERSION (refusing one made by a newer seqrec)."""
        with self._db() as con:
            try:
                con.execute("PRAGMA journal_mode = WAL")  # readers never block the writer; persists in the file
            except sqlite3.OperationalError:  # another process is switching it right now: it will be WAL anyway
                pass
            if self._version(con) == SCHEMA_VERSION:
                return
        with self._write() as con:
            version = self._version(con)  # again, under the lock: another process may have migrated meanwhile
            if version > SCHEMA_VERSION:
                raise SeqrecError(f"The run library in {self.home} was made by a newer version of seqrec (schema "
                                  f"{version}, this one reads up to {SCHEMA_VERSION}); update seqrec or set "
                                  f"{HOME_ENV} to another folder.")
            if version == 0:
                con.execute(_CREATE_V1)
                version = 1
            if version == 1:
                self._migrate_1_to_2(con)
            con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @staticmethod
    def _version(con: sqlite3.Connection) -> int:
        return int(con.execute("PRAGMA user_version").fetchone()[0])

    def _migrate_1_to_2(self, con: sqlite3.Connection) -> None:
        """Add owner/gallery/dataset/curves columns; rows of a version-1 library (one person's, no sessions) become
        published so every session still sees them, and their dataset and curves come from their run.json."""
        have = {r["name"] for r in con.execute("PRAGMA table_info(runs)")}
        for col, decl in _V2_COLUMNS.items():
            if col not in have:
                con.execute(f"ALTER TABLE runs ADD COLUMN {col} {decl}")
        for stmt in _INDEXES:
            con.execute(stmt)
        for row in con.execute("SELECT id, path, created FROM runs WHERE saved_at = 0").fetchall():
            meta = _read_run_json(self.home / row["path"])
            dataset = meta.get("dataset") if isinstance(meta.get("dataset"), dict) else {}
            curves = {"epochs": meta.get("epochs", []), "batch_losses": meta.get("batch_losses", [])}
            con.execute("UPDATE runs SET owner = '', published = 1, fingerprint = ?, dataset = ?, baselines = ?, "
                        "curves = ?, saved_at = ? WHERE id = ?",
                        (str(dataset.get("fingerprint", "")), _dumps(dataset), _dumps(meta.get("baselines", {})),
                         _dumps(curves), _folder_time(self.home / row["path"]), row["id"]))

    def schema_version(self) -> int:
        with self._db() as con:
            return self._version(con)

    # -- reading -------------------------------------------------------------------------------------------------
    def _record(self, row: sqlite3.Row) -> StoredRun:
        return StoredRun(id=row["id"], name=row["name"], created=row["created"], owner=row["owner"],
                         published=bool(row["published"]), fingerprint=row["fingerprint"],
                         dataset=_loads(row["dataset"], {}), config=_loads(row["config"], {}),
                         metrics=_clean_metrics(_loads(row["metrics"], {})),
                         baselines={str(k): _clean_metrics(v) for k, v in _loads(row["baselines"], {}).items()
                                    if isinstance(v, dict)},
                         curves=_loads(row["curves"], {}), path=row["path"], saved_at=float(row["saved_at"]),
                         folder=self.home / row["path"])

    def list(self, session: str | None = None, scope: str = "visible") -> list[StoredRun]:
        """Saved runs, newest first. scope: 'visible' (the session's own + the gallery), 'mine', 'gallery', or
        'all' (every run; for the command line, which acts as the owner of the folder)."""
        if scope not in SCOPES:
            raise SeqrecError(f"Unknown scope {scope!r}; use one of {', '.join(SCOPES)}.")
        where, args = {"visible": ("owner = ? OR published = 1", (session or "",)),
                       "mine": ("owner = ?", (session or "",)),
                       "gallery": ("published = 1", ()),
                       "all": ("1 = 1", ())}[scope]
        with self._db() as con:
            rows = con.execute(f"SELECT * FROM runs WHERE {where} ORDER BY saved_at DESC, id", args).fetchall()
        return [self._record(r) for r in rows]

    def get(self, run_id: str, session: str | None = None) -> StoredRun:
        """The row of one run this session may see (its own or published; any run for session=None)."""
        row = None
        if is_run_id(run_id):
            with self._db() as con:
                row = con.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None or (session is not None and row["owner"] != session and not row["published"]):
            raise SeqrecError(f"There is no saved run {run_id!r} in {self.home}; list them with `python -m seqrec "
                              f"runs`, or look in the run library.")
        return self._record(row)

    def load(self, run_id: str, session: str | None = None, device: str | None = None):
        """The Run itself (weights included), named as the library names it; `run.store_id` is set to its id."""
        # torch (through the run files) loads only when weights are needed: listing the library stays light
        from seqrec.runs.files import load_run

        rec = self.get(run_id, session)
        if not rec.available:
            raise SeqrecError(f"The files of saved run '{rec.name}' are missing from {rec.folder} (deleted by hand?); "
                              f"delete the run from the library or restore the folder.")
        try:
            run = load_run(rec.folder, device=device, shared=True)  # one copy of the weights per process
        except SeqrecError as e:  # the sentence names the run, not the server's folders
            raise SeqrecError(str(e).replace(str(rec.folder), f"The saved run '{rec.name}'")
                              .replace("The saved run '" + rec.name + "'/", f"The saved run '{rec.name}': ")) from None
        run.name = rec.name
        run.store_id = rec.id
        return run

    # -- writing -------------------------------------------------------------------------------------------------
    def save(self, run, owner: str, published: bool = False, name: str | None = None) -> StoredRun:
        """Write the run's files, then (and only then) its row. Returns the new row; sets `run.store_id`."""
        # torch (through the run files) loads only when weights are written: listing the library stays light
        from seqrec.runs.files import save_run

        owner = check_owner(owner)
        name = check_name(name if name is not None else run.name)
        run_id = secrets.token_hex(8)
        rel = f"{RUNS_DIR}/{run_id}"
        folder = self.home / rel
        save_run(run, folder)
        dataset = dict(run.dataset or {})
        curves = {"epochs": list(run.epochs or []), "batch_losses": list(run.batch_losses or [])}
        try:
            with self._write() as con:
                con.execute("INSERT INTO runs (id, name, created, config, metrics, path, owner, published, "
                            "fingerprint, dataset, baselines, curves, saved_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                            (run_id, name, run.created or _now_iso(), _dumps(run.config.to_dict()),
                             _dumps(run.metrics), rel, owner, int(bool(published)),
                             str(dataset.get("fingerprint", "")), _dumps(dataset), _dumps(run.baselines),
                             _dumps(curves), time.time()))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)  # no row: the files must not linger either
            raise
        run.store_id = run_id
        return self.get(run_id)

    def rename(self, run_id: str, new_name: str, session: str | None = None) -> StoredRun:
        rec = self._owned(run_id, session, "rename")
        name = check_name(new_name)
        with self._write() as con:
            con.execute("UPDATE runs SET name = ? WHERE id = ?", (name, rec.id))
        return self.get(rec.id)

    def publish(self, run_id: str, session: str | None = None, published: bool = True) -> StoredRun:
        """Put the run in the shared, read-only gallery (or take it back out)."""
        rec = self._owned(run_id, session, "publish or unpublish")
        with self._write() as con:
            con.execute("UPDATE runs SET published = ? WHERE id = ?", (int(bool(published)), rec.id))
        return self.get(rec.id)

    def delete(self, run_id: str, session: str | None = None) -> None:
        """Remove the row first, then the files (a crash in between only leaves an orphan folder)."""
        rec = self._owned(run_id, session, "delete")
        with self._write() as con:
            con.execute("DELETE FROM runs WHERE id = ?", (rec.id,))
        shutil.rmtree(rec.folder, ignore_errors=True)

    def _owned(self, run_id: str, session: str | None, action: str) -> StoredRun:
        rec = self.get(run_id, session)
        if not rec.owned_by(session):
            raise SeqrecError(f"'{rec.name}' is a published run of another session: you can load a copy of it, but "
                              f"only its owner can {action} it.")
        return rec

    def cleanup_orphans(self, min_age_s: float = ORPHAN_MIN_AGE_S) -> list[str]:
        """Remove folders under runs/ that no row points to (left by a crash between writing the files and the
        row, or by an interrupted delete). Younger ones are kept: another process may be saving them right now."""
        with self._db() as con:
            known = {Path(r["path"]).name for r in con.execute("SELECT path FROM runs")}
        removed, now = [], time.time()
        for entry in self.runs_dir.iterdir():
            if entry.name in known:
                continue
            try:
                age = now - entry.stat().st_mtime
            except OSError:
                continue
            if age >= min_age_s:
                if entry.is_dir():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)
                removed.append(entry.name)
        return removed


def _now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _read_run_json(folder: Path) -> dict:
    try:
        meta = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _folder_time(folder: Path) -> float:
    try:
        return folder.stat().st_mtime
    except OSError:
        return time.time()
