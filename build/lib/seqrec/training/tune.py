"""Tune: the same hyperparameter-search budget for every recurrent cell, so "which cell is better" is a fair question.

    tuner = Tuner(split, cells=("rnn", "lstm", "gru"), budget_seconds=300, trials=None, seed=42)
    result = tuner.run()          # blocking; tuner.stop() from any thread ends it, keeping what was found
    result.to_dict()              # {"trials": [...], "best": {cell: {config, valid, metrics, intervals}}, ...}

Each cell gets an equal share of the budget and its own Optuna study: a seeded TPE sampler, the defaults as the first
trial (so a search never ends below them), and a median pruner fed the validation metric after every epoch (from
the training callbacks' EpochInfo). The search space comes from TrainConfig's field metadata (`Setting.search`,
`Setting.log`) and can be narrowed. Trials run through the executor the Tuner is given (seqrec.training.executors:
the calling thread, spawned processes sharing the cores, or Ray), several at once where it allows. A failing trial
(memory budget refused, divergence) is recorded with its sentence and the search goes on. Selection uses validation
metrics only; the test metrics of each cell's best trial (with 95% bootstrap intervals) are computed once, at the end.
"""
from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace

import optuna

from seqrec.config import CELLS, SETTINGS, TrainConfig
from seqrec.data.split import SplitData
from seqrec.errors import SeqrecError
from seqrec.evaluation.intervals import bootstrap_ci, paired_difference
from seqrec.evaluation.metrics import per_user_metrics
from seqrec.evaluation.protocol import evaluate_baselines, evaluate_model, model_scorer
from seqrec.runs.run import Run
from seqrec.training.executors import Executor, ThreadExecutor
from seqrec.training.loop import resolve_auto
from seqrec.training.space import (  # noqa: F401 - re-exported
    SEARCHABLE,
    Range,
    TuneConfig,
    check_metric,
    parse_space,
    search_space,
)

TRIAL_THREADS = 2  # the fewest torch threads a trial should get: trials in flight = the executor's cores // this
MIN_TRIAL_SECONDS = 3.0  # no new trial starts with less of the cell's budget left
# A trial still running this long past its cell's deadline is stopped (best weights kept). A trial's own time limit
# (the cell's time left when it was submitted) runs on the training's clock, which starts once its worker process is
# up, so the grace covers a worker's start (seconds on a busy machine) plus the last validation.
GRACE_SECONDS = 15.0
# The search's settings and their defaults (epochs and patience per trial, ...) are TuneConfig's (training/space.py)
COMPLETE, PRUNED, FAILED, STOPPED = "complete", "pruned", "failed", "stopped"

# progress is ours to report (stderr in the CLI, a table in the app)
optuna.logging.set_verbosity(optuna.logging.WARNING)


# ------------------------------------------------------------------------------------------------------------------
# Trials and results
# ------------------------------------------------------------------------------------------------------------------

@dataclass
class TrialRecord:
    cell: str
    number: int  # per cell, from 0
    params: dict
    state: str = "running"  # running, complete, pruned, failed, stopped
    value: float | None = None  # the validation metric of the kept weights (best epoch)
    valid: dict = field(default_factory=dict)
    epochs: int = 0
    seconds: float = 0.0
    reason: str = ""
    started: float = 0.0

    def to_dict(self) -> dict:
        return {"cell": self.cell, "number": self.number, "params": dict(self.params), "state": self.state,
                "value": self.value, "valid": dict(self.valid), "epochs": self.epochs,
                "seconds": round(self.seconds, 2), "reason": self.reason}


@dataclass
class CellBest:
    cell: str
    trial: int
    config: TrainConfig
    valid: dict
    metrics: dict  # test metrics, computed once at the end
    intervals: dict  # metric -> [lo, hi] (95% bootstrap over test users)
    run: Run | None = None
    per_user: dict = field(default_factory=dict, repr=False, compare=False)  # metric -> one test value per user

    def to_dict(self) -> dict:
        return {"trial": self.trial, "config": self.config.to_dict(), "valid": self.valid, "metrics": self.metrics,
                "intervals": self.intervals}


@dataclass
class TuneResult:
    trials: list[TrialRecord]
    best: dict[str, CellBest]
    budget_seconds: float
    metric: str
    seconds: float
    stopped: bool
    studies: dict = field(default_factory=dict)
    cells: int = 1  # how many cells shared the budget

    def to_dict(self) -> dict:
        cells = max(1, self.cells)
        return {"metric": self.metric, "trials": [t.to_dict() for t in self.trials],
                "best": {c: b.to_dict() for c, b in self.best.items()},
                "budget_seconds": float(self.budget_seconds),
                "budget_seconds_per_cell": round(self.budget_seconds / cells, 2),
                "seconds": round(self.seconds, 2), "stopped": self.stopped, "ranking": self.ranking()}

    def ranking(self, seed: int = 0) -> list[dict]:
        """The cells by their best trial's test metric, best first, each with its 95% interval and, below the first,
        the paired bootstrap interval of its difference from the first (the same test users): "worse" only when
        that interval lies below 0, else "no clear difference". A fair ranking needs every cell searched with the
        same budget, which the Tuner gives them."""
        key = self.metric
        cells = sorted(self.best.values(), key=lambda b: -float(b.metrics.get(key, float("-inf"))))
        out = []
        for i, b in enumerate(cells):
            row = {"cell": b.cell, "metric": key, "test": b.metrics.get(key), "ci95": b.intervals.get(key)}
            top = cells[0]
            if i and key in b.per_user and key in top.per_user:
                d = paired_difference(b.per_user[key], top.per_user[key], seed=seed)
                row["vs_first"] = {"cell": top.cell, "difference": round(d.estimate, 6),
                                   "ci95": [round(d.lo, 6), round(d.hi, 6)], "verdict": d.verdict}
            out.append(row)
        return out


class _Pruned(Exception):
    pass


def default_parallel(executor: Executor) -> int:
    """Trials in flight: as many as the executor can run with TRIAL_THREADS threads each (one on 2 cores; on Ray,
    as many as the cluster's CPUs hold tasks; one in the calling thread)."""
    return max(1, int(executor.capacity(TRIAL_THREADS)))


class Tuner:
    """One equal-budget search per cell (cells one after another, each for budget_seconds / len(cells))."""

    def __init__(self, split: SplitData, cells: Sequence[str] = CELLS, budget_seconds: float = 60.0,
                 trials: int | None = None, seed: int = 42, metric: str | None = None,
                 base: TrainConfig | None = None, space: dict | None = None, parallel: int | None = None,
                 executor: Executor | None = None, dataset: dict | None = None, baselines: dict | None = None,
                 device: str | None = None, on_trial: Callable[[TrialRecord], None] | None = None):
        cells = list(dict.fromkeys(cells))
        if not cells or any(c not in CELLS for c in cells):
            raise SeqrecError(f"Choose the cells to tune from {', '.join(CELLS)} (got {cells or 'none'}).")
        if isinstance(budget_seconds, bool) or not isinstance(budget_seconds, (int, float)) or \
                not math.isfinite(budget_seconds) or budget_seconds <= 0:
            raise SeqrecError(f"The time budget must be a positive number of minutes (got {budget_seconds!r} s).")
        if trials is not None and (isinstance(trials, bool) or not isinstance(trials, int) or trials < 1):
            raise SeqrecError(f"The number of trials must be a whole number of at least 1 (got {trials!r}).")
        if isinstance(seed, bool) or not isinstance(seed, int) or SETTINGS["seed"].problem(seed):
            raise SeqrecError(f"The seed must be a whole number between 0 and {2**32 - 1} (got {seed!r}).")
        self.split, self.cells, self.budget, self.trials, self.seed = split, cells, float(budget_seconds), trials, seed
        self.base = (base or TuneConfig().base()).replace(seed=seed).validate()
        self.metric = check_metric(metric or f"recall@{self.base.monitor_k}", self.base.ks)
        self.space = search_space(space)
        self.executor = executor if executor is not None else ThreadExecutor()  # the CLI and the app pass theirs
        self.parallel = max(1, int(parallel or default_parallel(self.executor)))
        self.dataset, self.baselines, self.device, self.on_trial = dataset, baselines, device, on_trial
        self.records: list[TrialRecord] = []
        self.studies: dict[str, optuna.Study] = {}
        self.cell: str | None = None  # the cell being searched now
        self.deadline: float | None = None
        self.result: TuneResult | None = None
        self._runs: dict[str, tuple[float, int, Run]] = {}  # cell -> (value, trial number, run) of its best so far
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._handles: set = set()

    @classmethod
    def from_settings(cls, split: SplitData, settings: TuneConfig, **options) -> Tuner:
        """The search a validated TuneConfig describes (the CLI's options, the Tune page's widgets); `options`: the
        rest of the Tuner's arguments (space, executor, dataset, ...)."""
        return cls(split, cells=list(settings.cells), budget_seconds=60 * settings.budget_minutes,
                   trials=settings.trials, seed=settings.seed, metric=settings.chosen_metric, base=settings.base(),
                   parallel=settings.parallel, **options)

    # -- control --------------------------------------------------------------------------------------------------
    def stop(self) -> None:
        """End the search now: trials in flight stop after their current batch; what was found is kept."""
        self._stop.set()
        with self._lock:
            handles = list(self._handles)
        for h in handles:
            h.stop()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def snapshot(self) -> list[TrialRecord]:
        with self._lock:
            return [TrialRecord(**vars(r)) for r in self.records]

    # -- the search -----------------------------------------------------------------------------------------------
    def run(self) -> TuneResult:
        t0 = time.monotonic()
        share = self.budget / len(self.cells)
        for cell in self.cells:
            if self._stop.is_set():
                break
            self._search_cell(cell, time.monotonic() + share)  # each its own share: no cell inherits unused time
        best = {cell: self._finish(cell) for cell in self.cells if cell in self._runs}
        self.result = TuneResult(self.snapshot(), best, self.budget, self.metric, time.monotonic() - t0,
                                 self._stop.is_set(), dict(self.studies), len(self.cells))
        return self.result

    def _search_cell(self, cell: str, deadline: float) -> None:
        sampler = optuna.samplers.TPESampler(seed=self.seed, n_startup_trials=5)
        pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=2)
        study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner, study_name=cell)
        defaults = resolve_auto(TrainConfig(), self.split)  # automatic settings as a plain training would take them
        first = {n: r.clip(getattr(defaults, n)) for n, r in self.space.items() if not r.fixed}
        if first:
            study.enqueue_trial(first)  # the defaults first: the search never ends below them
        with self._lock:
            self.studies[cell], self.cell, self.deadline = study, cell, deadline
        started = [0]

        def worker():
            while not self._stop.is_set() and deadline - time.monotonic() >= MIN_TRIAL_SECONDS:
                with self._lock:
                    if self.trials is not None and started[0] >= self.trials:
                        return
                    started[0] += 1
                    trial = study.ask()
                self._one_trial(cell, study, trial, deadline)

        threads = [threading.Thread(target=worker, name=f"seqrec-tune-{cell}-{j}", daemon=True)
                   for j in range(self.parallel)]
        for t in threads:
            t.start()
        guard_stopped = False
        while any(t.is_alive() for t in threads):
            for t in threads:
                t.join(0.2)
            if not guard_stopped and time.monotonic() > deadline + GRACE_SECONDS:
                guard_stopped = True  # a trial that overran its time limit (a long validation): stop it
                with self._lock:
                    for h in list(self._handles):
                        h.stop()

    def _sample(self, trial) -> dict:
        params = {}
        for name, r in self.space.items():
            if r.fixed:
                params[name] = r.lo
            elif r.integer:
                params[name] = trial.suggest_int(name, int(r.lo), int(r.hi), log=r.log)
            else:
                params[name] = trial.suggest_float(name, r.lo, r.hi, log=r.log)
        return params

    def _one_trial(self, cell: str, study, trial, deadline: float) -> None:
        params = self._sample(trial)
        rec = TrialRecord(cell, trial.number, params, started=time.monotonic())
        with self._lock:
            self.records.append(rec)
        minutes = min(max(deadline - time.monotonic(), 1.0) / 60, SETTINGS["max_minutes"].hi)
        config = self.base.replace(model=cell, max_minutes=min(minutes, self.base.max_minutes or minutes), **params)
        metric, pruned = self.metric, [False]
        handle = None

        def on_epoch(info):  # the executor's per-epoch event: report to the pruner, stop the trial if it says so
            value = float(info.valid.get(metric, 0.0))
            rec.epochs = info.epoch
            if math.isfinite(value):
                trial.report(value, info.epoch)
            if not pruned[0] and trial.should_prune():
                pruned[0] = True
                handle.stop()

        try:
            try:
                handle = self._submit(config, f"{cell.upper()} tune #{trial.number}")
                with self._lock:
                    self._handles.add(handle)
                if self._stop.is_set():
                    handle.stop()
                run = handle.consume([SimpleNamespace(on_epoch=on_epoch)])
            finally:
                with self._lock:
                    self._handles.discard(handle)
            rec.seconds = time.monotonic() - rec.started
            if run is None or not run.valid_metrics:
                raise _Pruned("stopped before the first validation" if not pruned[0] else "pruned")
            rec.valid = {k: float(v) for k, v in run.valid_metrics.items()}
            rec.value = rec.valid.get(metric)
            rec.epochs = run.epochs_run
            if pruned[0]:
                rec.state, rec.reason = PRUNED, f"pruned at epoch {run.epochs_run} (below the median of earlier trials)"
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            else:
                rec.state = STOPPED if (self._stop.is_set() and run.stopped_by_user) else COMPLETE
                rec.reason = run.stop_reason
                study.tell(trial, rec.value)  # a stopped trial's best weights are a real measurement too
                self._keep(cell, rec.value, trial.number, run)
        except _Pruned as e:
            rec.seconds = time.monotonic() - rec.started
            rec.state, rec.reason = (PRUNED, "pruned") if pruned[0] else (STOPPED, str(e))
            study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        except (SeqrecError, MemoryError, RuntimeError, ValueError) as e:  # recorded; the search goes on
            rec.seconds = time.monotonic() - rec.started
            rec.state = FAILED
            rec.reason = str(e) if isinstance(e, SeqrecError) else f"{type(e).__name__}: {e}"
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
        if self.on_trial is not None:
            self.on_trial(rec)

    def _submit(self, config: TrainConfig, name: str):
        opts = dict(name=name, baselines={}, dataset=self.dataset, device=self.device)  # baselines: once, at the end
        # the executor prepares the trial (a bad or over-budget config is a failed trial); the trials in flight
        # share the cores, and each trial's threads are fixed when it starts
        return self.executor.submit(self.split, config, concurrent=self.parallel, **opts)

    def _keep(self, cell: str, value, number: int, run: Run) -> None:
        if value is None or not math.isfinite(value):
            return
        with self._lock:
            if cell not in self._runs or value > self._runs[cell][0]:
                self._runs[cell] = (value, number, run)  # only each cell's best run stays in memory

    def _finish(self, cell: str) -> CellBest:
        """The cell's best trial (by validation): its TEST metrics and 95% intervals, computed here, once."""
        value, number, run = self._runs[cell]
        config = run.config.replace(max_minutes=self.base.max_minutes)
        run.config = config
        test = evaluate_model(run.model, self.split, "test", config)
        hist, tgt = self.split.histories("test")
        per_user = per_user_metrics(model_scorer(run.model, config.max_len, next(run.model.parameters()).device),
                                    hist, tgt, self.split.n_items, config.ks, config.exclude_seen)
        intervals = {}
        for key, values in per_user.items():
            ci = bootstrap_ci(values, seed=self.seed)
            intervals[key] = [round(ci.lo, 6), round(ci.hi, 6)]
        if self.baselines is None:
            self.baselines = evaluate_baselines(self.split, config.ks, config.exclude_seen)
        run.metrics, run.baselines = test, self.baselines
        run.name = f"{cell.upper()} tuned (trial {number})"
        return CellBest(cell, number, config, dict(run.valid_metrics), test, intervals, run, per_user)
