"""The app server's training queue: a bounded pool of training slots shared by every browser session, and the
thread-safe TrainingJob each press of Train becomes.

A web page must stay responsive while a model trains, so a job waits for a slot of the queue's pool, then trains
through the process's executor (a worker process by default); the page only reads `job.snapshot()` (a copy taken
under a lock) and may call `job.stop()`. Many people at once: the pool runs `worker_count()` trainings at a time
(SEQREC_WORKERS, default one per core up to 4; see seqrec.runtime), so 20 people pressing Train queue instead of
thrashing the CPU. Waiting jobs are served first come, first served; `queue_position` tells a job how many are ahead
of it.

All of the queue's state is one TrainingQueue object (its pool, the waiting and active jobs, each workspace's latest
finished job); the process has one (QUEUE), and tests make their own. A job records the session that started it
(`owner`): the process's one reaper (seqrec.service.sessions) stops the jobs of sessions that are gone, so a closed
tab frees its slot. A job records its workspace: a reloaded page finds its job, and the restart journal
(seqrec.service.journal) tells a workspace which trainings a server restart lost.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import torch

from seqrec.config import TrainConfig
from seqrec.errors import SeqrecError
from seqrec.runs.run import Run, default_run_name
from seqrec.runtime import ServerSettings, threads_per_worker, worker_count
from seqrec.service.executor import get_executor
from seqrec.service.journal import JOURNAL, Journal, interrupted_message
from seqrec.service.sessions import CLOSED, REAPER, SessionReaper
from seqrec.training.executors import Executor
from seqrec.training.loop import BatchInfo, Callback, EpochInfo
from seqrec.training.runner import prepare_training

QUEUED, RUNNING, DONE, STOPPED, FAILED = "queued", "running", "done", "stopped", "failed"
ACTIVE = (QUEUED, RUNNING)
RECENT_SECONDS = 30 * 60  # how long a finished job stays findable by its workspace (its run is also in the library)
UNEXPECTED = ("Training failed unexpectedly ({what}). Try smaller settings (batch size, hidden size) or reload the "
              "data, then train again.")

__all__ = ["QUEUED", "RUNNING", "DONE", "STOPPED", "FAILED", "ACTIVE", "JobSnapshot", "TrainingJob", "TrainingQueue",
           "QueueLoad", "QUEUE", "start_training", "submit", "get_pool", "queue_position", "queue_message",
           "active_jobs", "job_for_workspace", "set_session_check", "set_journal", "interrupted_jobs",
           "interrupted_message", "warm_up", "worker_count"]


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
    """One training of one config on one split, for a queue; polled with `snapshot()`. The config is prepared here
    (validated, automatic settings resolved, memory checked), so a bad or over-budget one is refused at the button,
    not after waiting in the queue."""

    def __init__(self, split, config: TrainConfig, name: str | None = None, baselines: dict | None = None,
                 dataset_info: dict | None = None, baselines_fn=None, owner: str | None = None,
                 workspace: str | None = None, saver: Callable[[Run], object] | None = None):
        self.config = prepare_training(split, config)
        self.owner = owner  # the session that started it: its jobs are stopped when it is gone
        self.split = split
        self.name = name or default_run_name(self.config)
        self._baselines = baselines
        self._baselines_fn = baselines_fn
        self._dataset_info = dataset_info
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._forgotten = threading.Event()  # set once the job left its queue and the journal
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
        self.queue: TrainingQueue | None = None  # set by TrainingQueue.submit
        self.future: Future | None = None
        self.journal_id = ""  # its record in the queue's restart journal
        self.executor: Executor | None = None  # None: the queue's executor; tests set one
        self.handle = None  # the executor's handle of the running training
        self.workspace = workspace  # the run-library workspace that started it (the ?workspace= of the page)
        self.saver = saver  # saver(run) -> record: called by the job itself once the run exists
        self.saved = None  # what saver returned (e.g. the run library's record)
        self.save_error = ""  # the sentence when saving failed (the run still reaches the session)
        self.ended_at: float | None = None  # time.time() when it ended (recently finished jobs are kept a while)

    # -- Callback hooks (called from the pool thread consuming the executor's events) --------------------------------
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
        if handle is not None:
            handle.stop()
        if self.future is not None and self.future.cancel():
            if self.queue is not None:
                self.queue._forget(self)
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
        # the future's done callback (leaving the queue and the journal) runs just after result() returns
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

    # -- the work (runs in a pool thread of its queue) -------------------------------------------------------------
    def _execute(self) -> Run | None:
        queue = self.queue
        queue._started(self)
        gone = self.owner is not None and not queue.reaper.alive(self.owner)
        with self._lock:
            self._t0 = time.perf_counter()
            if self._stop.is_set() or gone:
                self._status, self._t_end = STOPPED, self._t0
                self._error = CLOSED if gone else "Stopped before training started."
                return None
            self._status = RUNNING
        try:
            baselines = self._baselines
            if baselines is None and self._baselines_fn is not None:
                baselines = self._baselines_fn(self.config.ks, self.config.exclude_seen)
            run = self._train(queue, baselines)
        except SeqrecError as e:
            self._finish(FAILED, str(e))
            return None
        except Exception as e:
            self._finish(FAILED, UNEXPECTED.format(what=f"{type(e).__name__}: {e}"))
            return None
        if run is None:  # stopped outright before a batch boundary (the executor says why)
            self._finish(STOPPED, getattr(self.handle, "stop_message", "") or "Stopped.")
            return None
        self.run = run
        self._save(run)
        self._finish(STOPPED if run.stopped_by_user else DONE)
        return run

    def _train(self, queue: TrainingQueue, baselines) -> Run | None:
        """Submit to the executor and consume its event stream into this job's snapshot (the on_batch / on_epoch
        hooks above), whichever executor it is."""
        executor = self.executor or queue.executor()
        self.handle = executor.submit(self.split, self.config, name=self.name, baselines=baselines,
                                      dataset=self._dataset_info, concurrent=queue.expected_at_once())
        if self._stop.is_set():  # Stop pressed while the training was being started
            self.handle.stop()
        return self.handle.consume([self])

    def _save(self, run: Run) -> None:
        """The finished run goes to the run library from here, so a reload or a closed tab loses nothing; a failure
        is kept as a sentence for the session to show."""
        if self.saver is None:
            return
        try:
            self.saved = self.saver(run)
        except SeqrecError as e:
            self.save_error = str(e)
        except Exception as e:
            self.save_error = f"{type(e).__name__}: {e}"

    def _finish(self, status: str, error: str = "") -> None:
        with self._lock:
            self._status, self._error, self._t_end = status, error, time.perf_counter()
            self.ended_at = time.time()
        self.queue._remember(self)


@dataclass
class QueueLoad:
    workers: int
    running: int
    waiting: int


def _init_worker_thread(n_threads: int) -> None:
    torch.set_num_threads(n_threads)


class TrainingQueue:
    """Training slots shared by the sessions of one server: first come, first served, `workers` at a time (default
    SEQREC_WORKERS). Trainings go through `executor` (default: the process's, seqrec.service.executor); the sessions
    that own them are watched by `reaper`, and the queued and running ones recorded in `journal`."""

    def __init__(self, workers: int | None = None, executor: Executor | None = None,
                 reaper: SessionReaper | None = None, journal: Journal | None = None):
        self._workers = workers
        self._executor = executor
        self.reaper = reaper if reaper is not None else REAPER
        self.journal = journal if journal is not None else JOURNAL
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._waiting: list[TrainingJob] = []  # submitted and not started, oldest first (the pool's own FIFO order)
        self._active: list[TrainingJob] = []  # submitted and not finished
        self._recent: dict[str, TrainingJob] = {}  # the latest finished job of each workspace

    @property
    def pool(self) -> ThreadPoolExecutor:
        """The bounded pool of training threads, made on first use (each thread with its share of the cores)."""
        with self._lock:
            if self._pool is None:
                workers = self._workers or worker_count()
                self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="seqrec-train",
                                                initializer=_init_worker_thread,
                                                initargs=(threads_per_worker(workers),))
            return self._pool

    def executor(self) -> Executor:
        return self._executor or get_executor()

    # -- in and out -------------------------------------------------------------------------------------------------
    def submit(self, job: TrainingJob) -> TrainingJob:
        """Put the job at the end of the queue (and in the journal, and under the reaper's watch)."""
        pool = self.pool
        job.queue = self
        job.journal_id = self.journal.start(job.workspace, job.name)
        with self._lock:
            self._waiting.append(job)
            self._active.append(job)
            job.future = pool.submit(job._execute)
        job.future.add_done_callback(lambda _f: self._forget(job))
        self.reaper.track(job)
        return job

    def start(self, dataset, config: TrainConfig, name: str | None = None, owner: str | None = None,
              workspace: str | None = None, saver=None) -> TrainingJob:
        """Queue a training of `config` on a Dataset bundle; baselines come from the dataset's cache (computed once
        per dataset) and the run records which dataset it belongs to. A configuration over the memory budget is
        refused here (SeqrecError), before it waits in the queue."""
        job = TrainingJob(dataset.split, config, name=name, dataset_info=dataset.run_info(),
                          baselines_fn=dataset.baseline_metrics, owner=owner, workspace=workspace, saver=saver)
        return self.submit(job)

    def _started(self, job: TrainingJob) -> None:
        with self._lock:
            if job in self._waiting:
                self._waiting.remove(job)

    def _forget(self, job: TrainingJob) -> None:
        """A finished or withdrawn job leaves the queue: it must not keep a closed session's data alive."""
        with self._lock:
            for jobs in (self._waiting, self._active):
                if job in jobs:
                    jobs.remove(job)
        self.journal.end(job.journal_id)
        self.reaper.forget(job)
        job._forgotten.set()

    def _remember(self, job: TrainingJob) -> None:
        """A job just ended: keep it findable by its workspace for a while, without the data it trained on."""
        job.split, job._baselines_fn, job._baselines = None, None, None
        if job.handle is not None:
            job.handle.split = None
        if job.workspace is None:
            return
        with self._lock:
            self._recent[job.workspace] = job
            cutoff = time.time() - RECENT_SECONDS
            for ws in [w for w, j in self._recent.items() if (j.ended_at or 0) < cutoff]:
                del self._recent[ws]

    # -- what the pages read ----------------------------------------------------------------------------------------
    def position(self, job: TrainingJob) -> int | None:
        """How many trainings will start before this one; None once it has started (or was never queued here)."""
        with self._lock:
            return self._waiting.index(job) if job in self._waiting else None

    def load(self) -> QueueLoad:
        """Trainings running and waiting, and the slots."""
        workers = self.pool._max_workers
        with self._lock:
            waiting = len(self._waiting)
            return QueueLoad(workers=workers, running=len(self._active) - waiting, waiting=waiting)

    def expected_at_once(self) -> int:
        """Trainings this queue will run at once from now on: its slots, or fewer when fewer jobs are running or
        waiting. The executor shares the cores among them and fixes a training's threads for its whole run, so the
        first job of a crowd does not keep every core while the others queue."""
        load = self.load()
        return max(1, min(load.workers, load.running + load.waiting))

    def message(self, job: TrainingJob) -> str:
        """The sentence a waiting person reads, e.g. '2 trainings ahead of yours; 2 of 2 training slots busy.'"""
        ahead = self.position(job)
        if ahead is None:
            return "Starting…"
        load = self.load()
        busy = f"{load.running} of {load.workers} training slot{'s' * (load.workers != 1)} busy"
        if ahead == 0:
            return f"Yours is next; {busy}."
        return f"{ahead} training{'s' * (ahead != 1)} ahead of yours; {busy}."

    def active(self) -> list[TrainingJob]:
        with self._lock:
            return list(self._active)

    def for_workspace(self, workspace: str | None) -> TrainingJob | None:
        """The job a workspace started last: a queued or running one, else one that ended in the last RECENT_SECONDS
        (a reloaded page or a reopened tab with the same ?workspace= finds it)."""
        if not workspace:
            return None
        with self._lock:
            active = [j for j in self._active if j.workspace == workspace]
            if active:
                return active[-1]
            job = self._recent.get(workspace)
        if job is not None and (job.ended_at or 0) >= time.time() - RECENT_SECONDS:
            return job
        return None

    def shutdown(self, wait: bool = True) -> None:
        """End the pool's threads once their jobs are done (tests and scripts with a queue of their own)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=wait)


QUEUE = TrainingQueue()  # the app server's queue, shared by all its sessions


# ------------------------------------------------------------------------------------------------------------------
# The app's calls, on the process's queue, reaper and journal
# ------------------------------------------------------------------------------------------------------------------

def start_training(dataset, config: TrainConfig, name: str | None = None, owner: str | None = None,
                   workspace: str | None = None, saver=None) -> TrainingJob:
    """Queue a training in the process's queue (see TrainingQueue.start)."""
    return QUEUE.start(dataset, config, name=name, owner=owner, workspace=workspace, saver=saver)


def submit(job: TrainingJob, queue: TrainingQueue | None = None) -> TrainingJob:
    """Queue a job in `queue` (default: the process's)."""
    return (queue or QUEUE).submit(job)


def get_pool() -> ThreadPoolExecutor:
    """The process queue's pool of training threads."""
    return QUEUE.pool


def queue_position(job: TrainingJob) -> int | None:
    """How many trainings will start before this one in its queue (None once started, or never queued)."""
    return job.queue.position(job) if job.queue is not None else None


def queue_message(job: TrainingJob) -> str:
    """The sentence a person whose training waits reads about its place."""
    return (job.queue or QUEUE).message(job)


def active_jobs() -> list[TrainingJob]:
    """The process queue's queued and running jobs."""
    return QUEUE.active()


def job_for_workspace(workspace: str | None) -> TrainingJob | None:
    return QUEUE.for_workspace(workspace)


def set_session_check(check: Callable[[str], bool] | None) -> None:
    """Install how to tell whether an owner session still exists (the app asks Streamlit's runtime)."""
    REAPER.set_check(check)


def set_journal(folder) -> None:
    """Where the queued and running jobs are recorded (the app passes a folder in its run library); None: nowhere."""
    JOURNAL.folder = None if folder is None else Path(folder)


def interrupted_jobs(workspace: str | None) -> list[dict]:
    """The trainings of this workspace a server restart lost, each returned once (see Journal.interrupted)."""
    return JOURNAL.interrupted(workspace)


def warm_up() -> None:
    """Have worker processes ready (torch imported) before the first Train press, so a Quick demo starts at once:
    SEQREC_WARM_WORKERS of them (default one per training slot, at most 2). Idempotent and quick."""
    warm = ServerSettings.read("warm_workers")
    get_executor().keep_warm(min(2, worker_count()) if warm is None else warm)
