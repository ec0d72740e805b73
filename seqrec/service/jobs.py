"""Training in the background: a bounded worker pool shared by the whole process and a thread-safe TrainingJob.

A web page must stay responsive while a model trains, so training runs in a worker thread; the page only reads
`job.snapshot()` (a copy taken under a lock) and may call `job.stop()`, which sets the threading.Event that
`train_run` checks between batches. The pool is the one process-wide object: it holds threads, never user data.

Many people at once: the pool runs `worker_count()` trainings at a time (SEQREC_WORKERS, default one per core up to
4; see seqrec.runtime), each with `threads_per_worker()` torch threads, so 20 people pressing Train queue instead of
thrashing the CPU.
Waiting jobs are served first come, first served; `queue_position` tells a job how many are ahead of it. A job
records the session that started it (`owner`); `reap_orphans` stops the jobs of sessions that are gone (the app
passes a check that asks Streamlit), so a closed tab frees its slot and, once its job ends, its memory.
"""
from __future__ import annotations

import json
import os
import secrets
import threading
import time
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from seqrec.config import TrainConfig
from seqrec.errors import SeqrecError
from seqrec.runs.run import Run, default_run_name
from seqrec.training.runner import train_run
from seqrec.runtime import pid_alive, threads_per_worker, worker_count
from seqrec.training.budget import check_training_memory
from seqrec.training.executor import WARM_ENV, LocalExecutor, get_executor
from seqrec.training.loop import BatchInfo, Callback, EpochInfo

QUEUED, RUNNING, DONE, STOPPED, FAILED = "queued", "running", "done", "stopped", "failed"
ACTIVE = (QUEUED, RUNNING)
REAP_SECONDS = 10.0  # how often the reaper looks for jobs whose session is gone

_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()
_REGISTRY_LOCK = threading.Lock()
_WAITING: list["TrainingJob"] = []  # submitted and not started, oldest first (the pool's own FIFO order)
_ACTIVE: list["TrainingJob"] = []  # submitted and not finished
_SESSION_CHECK: Callable[[str], bool] | None = None
_REAPER: threading.Thread | None = None


def _init_worker_thread(n_threads: int) -> None:
    torch.set_num_threads(n_threads)


def get_pool() -> ThreadPoolExecutor:
    """The shared, bounded pool of training threads, created on first use."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            workers = worker_count()
            _POOL = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="seqrec-train",
                                       initializer=_init_worker_thread, initargs=(threads_per_worker(workers),))
        return _POOL


@dataclass
class JobSnapshot:
    """A consistent copy of a job's progress, safe to read while training continues."""

    name: str
    status: str
    epoch: int = 0
    epochs: int = 0
    batch: int = 0
    n_batches: int = 0
    elapsed: float = 0.0
    sequences_per_second: float = 0.0
    batch_losses: list = field(default_factory=list)
    epoch_metrics: list = field(default_factory=list)
    error: str = ""
    best_epoch: int = 0
    n_losses: int = 0  # batches so far (also when the snapshot was taken without the loss list)

    @property
    def progress(self) -> float:
        """Fraction of the planned epochs done (early stopping may finish sooner; a finished job reads 1.0)."""
        if self.status in (DONE, STOPPED):
            return 1.0
        if not self.epochs or not self.n_batches:
            return 0.0
        done = (max(self.epoch, 1) - 1) + self.batch / self.n_batches
        return min(1.0, done / self.epochs)

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE


class TrainingJob(Callback):
    """One training of one config on one split; created by `start_training`, polled with `snapshot()`."""

    def __init__(self, split, config: TrainConfig, name: str | None = None, baselines: dict | None = None,
                 dataset_info: dict | None = None, baselines_fn=None, owner: str | None = None,
                 workspace: str | None = None, saver: Callable[[Run], object] | None = None):
        config.validate()
        check_training_memory(split, config)  # refused at the button, not after waiting in the queue
        self.owner = owner  # the session that started it: its jobs are stopped when it is gone
        self.split = split
        self.config = config
        self.name = name or default_run_name(config)
        self._baselines = baselines
        self._baselines_fn = baselines_fn
        self._dataset_info = dataset_info
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._forgotten = threading.Event()  # set once the job left the registry and the journal
        self._status = QUEUED
        self._error = ""
        self._epoch = self._batch = self._n_batches = 0
        self._best_epoch = 0
        self._sps = 0.0
        self._losses: list[float] = []
        self._epochs: list[dict] = []
        self._t0: float | None = None
        self._t_end: float | None = None
        self.run: Run | None = None
        self.collected = False  # set by the app once the finished run joined the session's list
        self.future: Future | None = None
        self.pool: ThreadPoolExecutor | None = None
        self.executor = None  # issue 13: None = the process's executor (executor.get_executor()); set by tests
        self.handle = None  # the executor's handle of the running training
        # issue 14: the job keeps its own finished run (whoever is watching) and a returning session finds it
        self.workspace = workspace  # the run-library workspace that started it (the ?workspace= of the page)
        self.saver = saver  # saver(run) -> record: called by the job itself once the run exists
        self.saved = None  # what saver returned (e.g. the run library's record)
        self.save_error = ""  # the sentence when saving failed (the run still reaches the session)
        self.ended_at: float | None = None  # time.time() when it ended (recently finished jobs are kept a while)

    # -- Callback hooks (called from the worker thread) -------------------------------------------------------------
    def on_batch(self, info: BatchInfo) -> None:
        with self._lock:
            self._epoch, self._batch, self._n_batches = info.epoch, info.batch, info.n_batches
            self._sps = info.sequences_per_second
            self._losses.append(info.loss)

    def on_epoch(self, info: EpochInfo) -> None:
        with self._lock:
            self._epochs.append(dict(epoch=info.epoch, train_loss=info.train_loss, elapsed=info.elapsed,
                                     **info.valid))
            self._best_epoch = info.best_epoch
            self._sps = info.sequences_per_second

    # -- control ----------------------------------------------------------------------------------------------------
    def stop(self, reason: str = "Stopped before training started.") -> None:
        """Ask the training to end after the current batch (the best weights so far are kept); a job still waiting
        in the queue is withdrawn at once and never takes a slot."""
        self._stop.set()
        handle = self.handle
        if handle is not None:  # issue 13: the worker ends within a second
            handle.stop()
        if self.future is not None and self.future.cancel():
            _unregister(self)
            with self._lock:
                if self._status == QUEUED:
                    self._status, self._error, self._t_end = STOPPED, reason, time.perf_counter()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def status(self) -> str:
        with self._lock:
            return self._status

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends (for tests and scripts); True when it ended within the timeout."""
        if self.future is None:
            return False
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            self.future.result(timeout)
        except (Exception, CancelledError):  # the job records its own failure or withdrawal; this only waits
            pass
        # the future's done callback (leaving the registry and the journal) runs just after result() returns
        self._forgotten.wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
        return not self.is_active

    def snapshot(self, losses: bool = True) -> JobSnapshot:
        """A copy of the progress; losses=False leaves out the per-batch loss list (a cheap poll)."""
        with self._lock:
            end = self._t_end or time.perf_counter()
            elapsed = end - self._t0 if self._t0 is not None else 0.0
            return JobSnapshot(name=self.name, status=self._status, epoch=self._epoch, epochs=self.config.epochs,
                               batch=self._batch, n_batches=self._n_batches, elapsed=elapsed,
                               sequences_per_second=self._sps, batch_losses=list(self._losses) if losses else [],
                               epoch_metrics=[dict(e) for e in self._epochs], error=self._error,
                               best_epoch=self._best_epoch, n_losses=len(self._losses))

    def progress_key(self) -> tuple:
        """Changes whenever the snapshot would (status, batches, epochs): a watcher redraws only then."""
        with self._lock:
            return self._status, len(self._losses), len(self._epochs), self._best_epoch

    # -- the work (runs in a pool thread) ---------------------------------------------------------------------------
    def _execute(self) -> Run | None:
        _started(self)
        gone = self.owner is not None and not session_alive(self.owner)
        with self._lock:
            self._t0 = time.perf_counter()
            if self._stop.is_set() or gone:
                self._status, self._t_end = STOPPED, self._t0
                self._error = "The session that asked for it was closed." if gone else "Stopped before training started."
                return None
            self._status = RUNNING
        try:
            baselines = self._baselines
            if baselines is None and self._baselines_fn is not None:
                baselines = self._baselines_fn(self.config.ks, self.config.exclude_seen)
            run = self._train(baselines)
        except SeqrecError as e:
            self._finish(FAILED, str(e))
            return None
        except Exception as e:  # noqa: BLE001 - a worker must never die silently; whoever polls the job shows the sentence
            self._finish(FAILED, f"Training failed unexpectedly ({type(e).__name__}: {e}). Try smaller settings "
                                 f"(batch size, hidden size) or reload the data, then train again.")
            return None
        if run is None:  # stopped outright before a batch boundary (the executor says why)
            self._finish(STOPPED, getattr(self.handle, "stop_message", "") or "Stopped.")
            return None
        self.run = run
        self._save(run)
        self._finish(STOPPED if run.stopped_by_user else DONE)
        return run

    # -- issue 13: the training itself runs in an executor (a spawned process, or a Ray task) -------------------------
    def _train(self, baselines) -> Run | None:
        """Submit to the executor and consume its event stream into this job's snapshot (the same on_batch /
        on_epoch hooks as an in-thread training). SEQREC_EXECUTOR=thread trains in this pool thread instead."""
        executor = self.executor if self.executor is not None else get_executor()
        if executor is None:
            return train_run(self.split, self.config, callbacks=[self], stop_event=self._stop, name=self.name,
                             baselines=baselines, dataset=self._dataset_info)
        self.handle = executor.submit(self.split, self.config, name=self.name, baselines=baselines,
                                      dataset=self._dataset_info, concurrent=self._expected_at_once())
        if self._stop.is_set():  # Stop pressed while the worker was being started
            self.handle.stop()
        return self.handle.consume([self])

    def _expected_at_once(self) -> int:
        """Trainings this pool will run at once from now on: its slots, or fewer when fewer jobs are running or
        waiting (this one included). The executor shares the cores among them and fixes this training's threads
        for its whole run, so the first job of a crowd does not keep every core while the others queue."""
        if self.pool is None:
            return 1
        load = pool_load(self.pool)
        return max(1, min(load.workers, load.running + load.waiting))

    def _save(self, run: Run) -> None:
        """Issue 14: the finished run goes to the run library from here, so a reload or a closed tab loses nothing;
        a failure is kept as a sentence for the session to show."""
        if self.saver is None:
            return
        try:
            self.saved = self.saver(run)
        except SeqrecError as e:
            self.save_error = str(e)
        except Exception as e:  # noqa: BLE001 - a failed save must not turn a finished training into a failure
            self.save_error = f"{type(e).__name__}: {e}"

    def _finish(self, status: str, error: str = "") -> None:
        with self._lock:
            self._status, self._error, self._t_end = status, error, time.perf_counter()
            self.ended_at = time.time()
        _remember(self)


def warm_up() -> None:
    """Issue 13: have worker processes ready (torch imported) before the first Train press, so a Quick demo starts
    at once: SEQREC_WARM_WORKERS of them (default one per training slot, at most 2). Idempotent and quick."""
    executor = get_executor()
    if isinstance(executor, LocalExecutor):
        raw = os.environ.get(WARM_ENV, "").strip()
        n = int(raw) if raw.isdigit() else min(2, worker_count())
        if executor.warm != n:
            executor.keep_warm(n)


def start_training(dataset, config: TrainConfig, name: str | None = None, pool: ThreadPoolExecutor | None = None,
                   owner: str | None = None, workspace: str | None = None, saver=None) -> TrainingJob:
    """Queue a training of `config` on a Dataset bundle in the shared pool; baselines come from the dataset's
    cache (computed once per dataset) and the run records which dataset it belongs to. A configuration over the
    memory budget is refused here (SeqrecError), before it waits in the queue."""
    job = TrainingJob(dataset.split, config, name=name, dataset_info=dataset.run_info(),
                      baselines_fn=dataset.baseline_metrics, owner=owner, workspace=workspace, saver=saver)
    return submit(job, pool)


# ------------------------------------------------------------------------------------------------------------------
# The queue: who is waiting, who is ahead, and jobs whose session is gone
# ------------------------------------------------------------------------------------------------------------------

def submit(job: TrainingJob, pool: ThreadPoolExecutor | None = None) -> TrainingJob:
    """Put the job in the pool's queue (first come, first served) and in the registry `queue_position` reads."""
    pool = pool or get_pool()
    job.pool = pool
    _journal_start(job)
    with _REGISTRY_LOCK:
        _WAITING.append(job)
        _ACTIVE.append(job)
        job.future = pool.submit(job._execute)
    job.future.add_done_callback(lambda _f: _unregister(job))
    _ensure_reaper()
    return job


def _started(job: TrainingJob) -> None:
    with _REGISTRY_LOCK:
        if job in _WAITING:
            _WAITING.remove(job)


def _unregister(job: TrainingJob) -> None:
    """Forget a finished or withdrawn job: the registry must not keep a closed session's data alive."""
    with _REGISTRY_LOCK:
        for registry in (_WAITING, _ACTIVE):
            if job in registry:
                registry.remove(job)
    _journal_end(job)
    job._forgotten.set()


def queue_position(job: TrainingJob) -> int | None:
    """How many trainings will start before this one: the jobs queued ahead of it in the same pool. None once it
    has started (or was never queued)."""
    with _REGISTRY_LOCK:
        if job not in _WAITING:
            return None
        pool = getattr(job, "pool", None)
        ahead = _WAITING[: _WAITING.index(job)]
        return sum(1 for j in ahead if getattr(j, "pool", None) is pool)


@dataclass
class PoolLoad:
    workers: int
    running: int
    waiting: int


def pool_load(pool: ThreadPoolExecutor | None = None) -> PoolLoad:
    """Trainings running and waiting in a pool (the shared one by default)."""
    pool = pool or get_pool()
    with _REGISTRY_LOCK:
        mine = [j for j in _ACTIVE if getattr(j, "pool", None) is pool]
        waiting = sum(1 for j in mine if j in _WAITING)
    return PoolLoad(workers=pool._max_workers, running=len(mine) - waiting, waiting=waiting)


def queue_message(job: TrainingJob) -> str:
    """The sentence a waiting person reads, e.g. '2 trainings ahead of yours; 2 of 2 training slots busy.'"""
    ahead = queue_position(job)
    if ahead is None:
        return "Starting…"
    load = pool_load(getattr(job, "pool", None))
    busy = f"{load.running} of {load.workers} training slot{'s' * (load.workers != 1)} busy"
    if ahead == 0:
        return f"Yours is next; {busy}."
    return f"{ahead} training{'s' * (ahead != 1)} ahead of yours; {busy}."


def session_alive(owner: str) -> bool:
    """Whether the session that owns a job still exists (always True until the app installs a check)."""
    check = _SESSION_CHECK
    if check is None:
        return True
    try:
        return bool(check(owner))
    except Exception:  # noqa: BLE001 - when in doubt, a job is kept, never killed
        return True


def set_session_check(check: Callable[[str], bool] | None) -> None:
    """Install how to tell whether an owner session still exists (the app asks Streamlit's runtime)."""
    global _SESSION_CHECK
    _SESSION_CHECK = check
    _ensure_reaper()


def active_jobs() -> list[TrainingJob]:
    with _REGISTRY_LOCK:
        return list(_ACTIVE)


def reap_orphans(is_alive: Callable[[str], bool] | None = None) -> list[TrainingJob]:
    """Stop every queued or running job whose owner session is gone (a queued one is withdrawn, a running one ends
    after its current batch); returns them. Jobs without an owner (scripts, the CLI) are never touched."""
    check = is_alive or session_alive
    reaped = []
    for job in active_jobs():
        if job.owner is not None and job.is_active and not job.stop_requested and not check(job.owner):
            job.stop("The session that asked for it was closed.")
            reaped.append(job)
    return reaped


def _ensure_reaper() -> None:
    """Start the reaper thread once a session check is installed (a daemon: it never keeps the process alive)."""
    global _REAPER
    with _POOL_LOCK:
        if _SESSION_CHECK is None or (_REAPER is not None and _REAPER.is_alive()):
            return
        _REAPER = threading.Thread(target=_reap_forever, name="seqrec-reaper", daemon=True)
        _REAPER.start()


def _reap_forever() -> None:
    while True:
        time.sleep(REAP_SECONDS)
        try:
            reap_orphans()
        except Exception:  # noqa: BLE001 - the reaper must outlive any one bad job
            pass


# ------------------------------------------------------------------------------------------------------------------
# Issue 14: a returning session finds its job; after a server restart the user is told what was lost
# ------------------------------------------------------------------------------------------------------------------

RECENT_SECONDS = 30 * 60  # how long a finished job stays findable by its workspace (its run is also in the library)
_RECENT: dict[str, TrainingJob] = {}  # the latest finished job of each workspace
_JOURNAL: Path | None = None  # folder of one small JSON file per queued or running job (set by the app)
_SERVER_TOKEN = secrets.token_hex(8)  # this server process; a record with another token is from an earlier one


def _remember(job: TrainingJob) -> None:
    """A job just ended: keep it findable by its workspace for a while, without the data it trained on."""
    job.split, job._baselines_fn, job._baselines = None, None, None  # the session's data is not kept alive here
    if job.handle is not None:
        job.handle.split = None
    if job.workspace is None:
        return
    with _REGISTRY_LOCK:
        _RECENT[job.workspace] = job
        cutoff = time.time() - RECENT_SECONDS
        for ws in [w for w, j in _RECENT.items() if (j.ended_at or 0) < cutoff]:
            del _RECENT[ws]


def job_for_workspace(workspace: str | None) -> TrainingJob | None:
    """The job a workspace started last: a queued or running one, else one that ended in the last RECENT_SECONDS
    (a reloaded page or a reopened tab with the same ?workspace= finds it)."""
    if not workspace:
        return None
    with _REGISTRY_LOCK:
        active = [j for j in _ACTIVE if j.workspace == workspace]
        if active:
            return active[-1]
        job = _RECENT.get(workspace)
    if job is not None and (job.ended_at or 0) >= time.time() - RECENT_SECONDS:
        return job
    return None


def set_journal(folder: str | Path | None) -> None:
    """Where the queued and running jobs are recorded (the app passes a folder in its run library); None: nowhere."""
    global _JOURNAL
    _JOURNAL = Path(folder) if folder is not None else None


def _journal_path(job: TrainingJob) -> Path | None:
    if _JOURNAL is None or job.workspace is None:
        return None
    if not getattr(job, "_journal_id", None):
        job._journal_id = f"{_SERVER_TOKEN}-{secrets.token_hex(6)}"
    return _JOURNAL / f"{job._journal_id}.json"


def _journal_start(job: TrainingJob) -> None:
    path = _journal_path(job)
    if path is None:
        return
    record = dict(workspace=job.workspace, name=job.name, pid=os.getpid(), server=_SERVER_TOKEN,
                  started=time.strftime("%Y-%m-%d %H:%M", time.localtime()))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record))
        os.replace(tmp, path)
    except OSError:  # a read-only library: the job still runs, only a restart could not be reported
        pass


def _journal_end(job: TrainingJob) -> None:
    path = _journal_path(job) if getattr(job, "_journal_id", None) else None
    if path is not None:
        try:
            path.unlink(missing_ok=True)
        except OSError:
            pass


def _server_alive(pid: int) -> bool:
    if pid <= 0 or pid == os.getpid():
        return False  # same pid, other token: an earlier server that had this pid (e.g. a restarted container)
    return pid_alive(pid)


def interrupted_jobs(workspace: str | None) -> list[dict]:
    """Jobs of this workspace recorded as queued or running by a server that is gone (stopped, restarted, killed)
    before they finished. Each is returned once (its record is removed), so the person is told exactly once."""
    if _JOURNAL is None or not workspace or not _JOURNAL.is_dir():
        return []
    lost = []
    for path in sorted(_JOURNAL.glob("*.json")):
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if not isinstance(record, dict) or record.get("workspace") != workspace:
            continue
        if record.get("server") == _SERVER_TOKEN or _server_alive(int(record.get("pid") or 0)):
            continue
        try:
            path.unlink()
        except OSError:
            continue
        lost.append(record)
    return lost


def interrupted_message(records: list[dict]) -> str:
    """One sentence for the person about trainings a server restart lost."""
    names = ", ".join(f"'{r.get('name', '?')}' (started {r.get('started', '?')})" for r in records[:3])
    more = f" and {len(records) - 3} more" if len(records) > 3 else ""
    what = "training was" if len(records) == 1 else "trainings were"
    return (f"Your {what} interrupted by a server restart before finishing and not saved: {names}{more}; "
            f"train again to get the run.")
