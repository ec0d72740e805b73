"""Training in the background: a bounded worker pool shared by the whole process and a thread-safe TrainingJob.

A web page must stay responsive while a model trains, so training runs in a worker thread; the page only reads
`job.snapshot()` (a copy taken under a lock) and may call `job.stop()`, which sets the threading.Event that
`train_run` checks between batches. The pool is the one process-wide object: it holds threads, never user data.
"""
from __future__ import annotations

import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

import torch

from .config import TrainConfig
from .errors import SeqrecError
from .run import Run, default_run_name, train_run
from .train import BatchInfo, Callback, EpochInfo

QUEUED, RUNNING, DONE, STOPPED, FAILED = "queued", "running", "done", "stopped", "failed"
ACTIVE = (QUEUED, RUNNING)

_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def worker_count() -> int:
    """How many trainings may run at once in this process (env SEQREC_WORKERS, default 2)."""
    try:
        return max(1, int(os.environ.get("SEQREC_WORKERS", "2")))
    except ValueError:
        return 2


def configure_threads(workers: int | None = None) -> int:
    """Give each concurrent training an equal share of the cores, so parallel trainings don't oversubscribe the
    CPU (with OpenMP spin-waiting that makes every step many times slower). Returns the torch thread count."""
    workers = workers or worker_count()
    n = max(1, (os.cpu_count() or 1) // workers)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def get_pool() -> ThreadPoolExecutor:
    """The shared, bounded pool of training threads, created on first use."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=worker_count(), thread_name_prefix="seqrec-train")
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
                 dataset_info: dict | None = None, baselines_fn=None):
        config.validate()
        self.split = split
        self.config = config
        self.name = name or default_run_name(config)
        self._baselines = baselines
        self._baselines_fn = baselines_fn
        self._dataset_info = dataset_info
        self._lock = threading.Lock()
        self._stop = threading.Event()
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
    def stop(self) -> None:
        """Ask the training to end after the current batch; the best weights so far are kept."""
        self._stop.set()

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
        try:
            self.future.result(timeout)
        except Exception:  # the job records its own failure; this only waits
            pass
        return not self.is_active

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            end = self._t_end or time.perf_counter()
            elapsed = end - self._t0 if self._t0 is not None else 0.0
            return JobSnapshot(name=self.name, status=self._status, epoch=self._epoch, epochs=self.config.epochs,
                               batch=self._batch, n_batches=self._n_batches, elapsed=elapsed,
                               sequences_per_second=self._sps, batch_losses=list(self._losses),
                               epoch_metrics=[dict(e) for e in self._epochs], error=self._error,
                               best_epoch=self._best_epoch)

    # -- the work (runs in a pool thread) ---------------------------------------------------------------------------
    def _execute(self) -> Run | None:
        with self._lock:
            self._t0 = time.perf_counter()
            if self._stop.is_set():
                self._status, self._error, self._t_end = STOPPED, "Stopped before training started.", self._t0
                return None
            self._status = RUNNING
        try:
            baselines = self._baselines
            if baselines is None and self._baselines_fn is not None:
                baselines = self._baselines_fn(self.config.ks, self.config.exclude_seen)
            run = train_run(self.split, self.config, callbacks=[self], stop_event=self._stop, name=self.name,
                            baselines=baselines, dataset=self._dataset_info)
        except SeqrecError as e:
            self._finish(FAILED, str(e))
            return None
        except Exception as e:  # noqa: BLE001 - a worker must never die silently; the page shows the sentence
            self._finish(FAILED, f"Training failed unexpectedly ({type(e).__name__}: {e}). Try smaller settings "
                                 f"(batch size, hidden size) or reload the data, then train again.")
            return None
        self.run = run
        self._finish(STOPPED if run.stopped_by_user else DONE)
        return run

    def _finish(self, status: str, error: str = "") -> None:
        with self._lock:
            self._status, self._error, self._t_end = status, error, time.perf_counter()


def start_training(dataset, config: TrainConfig, name: str | None = None, pool: ThreadPoolExecutor | None = None
                   ) -> TrainingJob:
    """Submit a training of `config` on a Dataset bundle to the shared pool; baselines come from the dataset's
    cache (computed once per dataset) and the run records which dataset it belongs to."""
    job = TrainingJob(dataset.split, config, name=name, dataset_info=dataset.run_info(),
                      baselines_fn=dataset.baseline_metrics)
    job.future = (pool or get_pool()).submit(job._execute)
    return job
