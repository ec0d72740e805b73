"""What a Tune search is asked to do: its settings (TuneConfig: budget, cells, trials, metric, ...), which TrainConfig
fields are searched and over what ranges (from the fields' metadata, `Setting.search` and `Setting.log` in
seqrec/config.py), narrowed by the user, and the metric a search maximises.

Free of torch and optuna, so the CLI checks a bad option, --space or --metric at once, before any data or model loads.
"""
from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from dataclasses import dataclass

from seqrec.config import CELLS, SETTINGS, Setting, TrainConfig, setting_field, settings_of
from seqrec.errors import SeqrecError

SEARCHABLE = tuple(name for name, s in SETTINGS.items() if s.search is not None)
METRICS = ("recall", "mrr", "ndcg")


def _like(name: str, default, label: str, help: str, **changes):
    """A TuneConfig field with the bounds of the TrainConfig field it sets for every trial (one place for them)."""
    base = dataclasses.replace(SETTINGS[name], name="", label=label, help=help,
                               search=None, log=False, **changes)
    return dataclasses.field(default=default, metadata={"setting": base})


@dataclass
class TuneConfig:
    """The settings of one Tune search, for the app's Tune page and the CLI's `tune` alike: each field's Setting
    (seqrec/config.py) generates the page's widgets, the CLI's options and validate(), with one set of defaults and
    limits."""

    cells: tuple[str, ...] = setting_field(
        CELLS, "choices", "Cells", "The recurrent cells to tune; each gets an equal share of the budget.",
        choices=CELLS, flag="--models", var="CELL", noun="the cells to tune")
    # Up to a day, as one training's own time limit (TrainConfig.max_minutes); at least a quarter of a minute, the
    # least in which each of three cells still starts a trial (seqrec.training.tune.MIN_TRIAL_SECONDS each)
    budget_minutes: float = setting_field(
        3.0, "float", "Budget (minutes, total)", "The whole search time; shared equally by the cells.", lo=0.25,
        hi=1440.0, step=0.25, fmt="%.2f", unit="minutes", noun="the budget")
    trials: int | None = setting_field(
        None, "int", "Trials per cell", "Stop a cell's search after this many trials even if budget is left.", lo=1,
        off="no limit", noun="the trials per cell")
    seed: int = _like("seed", 42, "Seed", "Seeds the sampler and every training.")
    ks: tuple[int, ...] = _like("ks", (10, 20), "Evaluate at K", "Cut-offs K of the metrics.")
    metric: str | None = setting_field(
        None, "text", "Metric", "The validation metric each trial is judged by and the search maximises, e.g. "
        "recall@20, mrr@20, ndcg@10.", off="recall at the largest K", var="M", noun="the metric")
    exclude_seen: bool = _like("exclude_seen", False, "Exclude items already seen", "Never recommend (or count as "
                               "hits) items the user already interacted with.")
    # Each trial trains like the Train page's defaults (up to 100 epochs, patience 10) within its share of the
    # budget: the median pruner ends the poor trials early, so a short patience only cut good ones short. With
    # patience 3 the defaults trial stopped after 80 s on the MovieLens-shaped log at test Recall@20 0.313, where
    # patience 10 reaches 0.33-0.34.
    epochs: int = _like("epochs", 100, "Max epochs per trial", "Most epochs per trial.", flag="--max-epochs")
    patience: int = _like("patience", 10, "Patience per trial", "Early-stopping patience per trial.")
    parallel: int | None = setting_field(
        None, "int", "Trials at once", "Trials trained at the same time.", lo=1, hi=256,
        off="as many as the cores allow, 2 threads each; on Ray, as the cluster holds", noun="the trials at once")

    def __post_init__(self):
        for name in ("cells", "ks"):
            if isinstance(getattr(self, name), list):
                setattr(self, name, tuple(getattr(self, name)))  # anything else is reported by validate()

    def validate(self, by_flag: bool = False) -> TuneConfig:
        """Collect every bad value and raise one SeqrecError naming them all, in field order (or return self).
        by_flag: name each setting by its CLI option (for a command line, where that is what the user typed)."""
        found = []
        for name, s in TUNE_SETTINGS.items():
            s = dataclasses.replace(s, noun=s.option) if by_flag else s
            value = getattr(self, name)
            if (problem := s.problem(value)) is not None:
                found.append(problem)
            elif name == "metric" and value is not None and not TUNE_SETTINGS["ks"].problem(self.ks) and \
                    _metric(value, self.ks) is None:
                found.append(f"{s.called} must be one of {', '.join(metric_names(self.ks))} (got {value!r})")
        if found:
            raise SeqrecError("Invalid tune settings: " + "; ".join(found) + ".")
        return self

    @property
    def chosen_metric(self) -> str:
        """The metric the search maximises: the one asked for, else recall at the largest K."""
        return _metric(self.metric, self.ks) if self.metric else f"recall@{max(self.ks)}"

    def base(self) -> TrainConfig:
        """The training settings every trial starts from (the searched fields are then sampled over them)."""
        return TrainConfig(epochs=self.epochs, patience=self.patience, ks=tuple(self.ks),
                           exclude_seen=self.exclude_seen, seed=self.seed)


TUNE_SETTINGS: dict[str, Setting] = settings_of(TuneConfig)


def metric_names(ks: Sequence[int]) -> list[str]:
    """Every metric a search can maximise with these K values: recall@10, recall@20, mrr@10, ..."""
    return [f"{x}@{k}" for x in METRICS for k in ks]


def _metric(metric: str, ks: Sequence[int]) -> str | None:
    """`metric` in its canonical spelling ("Recall@20 " -> "recall@20"), or None when it is not one of ks' metrics."""
    m = re.fullmatch(r"(recall|mrr|ndcg)@(\d+)", str(metric).strip().lower())
    return m.group(0) if m and int(m.group(2)) in ks else None


@dataclass(frozen=True)
class Range:
    """What one field searches: [lo, hi] (lo == hi: fixed at that value), on a log scale or not."""

    lo: float
    hi: float
    log: bool = False
    integer: bool = False

    @property
    def fixed(self) -> bool:
        return self.lo == self.hi

    def clip(self, v):
        v = min(max(v, self.lo), self.hi)
        return int(round(v)) if self.integer else float(v)


def search_space(narrow: dict | None = None) -> dict[str, Range]:
    """The default ranges from the config's metadata, narrowed by `narrow` (field -> (lo, hi), or one value to fix
    it). Every range must lie inside what the field allows; a wrong name or range is one SeqrecError."""
    space = {}
    for name in SEARCHABLE:
        s = SETTINGS[name]
        space[name] = Range(s.search[0], s.search[1], s.log, s.integer)
    for name, value in (narrow or {}).items():
        if name not in space:
            raise SeqrecError(f"{name!r} cannot be searched; choose from {', '.join(SEARCHABLE)}.")
        s = SETTINGS[name]
        lo, hi = (value if isinstance(value, (tuple, list)) and len(value) == 2 else (value, value))
        cast = int if s.integer else float
        try:
            if isinstance(lo, bool) or isinstance(hi, bool) or (s.integer and (cast(lo) != lo or cast(hi) != hi)):
                raise ValueError
            lo, hi = cast(lo), cast(hi)
        except (TypeError, ValueError):
            raise SeqrecError(f"The search range of {name} must be {'whole ' if s.integer else ''}numbers "
                              f"(got {value!r}).") from None
        for v in (lo, hi):
            if (p := s.problem(v)) is not None:
                raise SeqrecError(f"Search range of {name}: {p}.")
        if lo > hi:
            raise SeqrecError(f"The search range of {name} is empty ({lo:g} > {hi:g}); give the lower bound first.")
        if s.log and lo <= 0:
            raise SeqrecError(f"{name} is searched on a log scale, so its range must be above 0 (got {lo:g}).")
        space[name] = Range(lo, hi, s.log, s.integer)
    return space


def parse_space(items: Sequence[str]) -> dict:
    """CLI form `NAME=LO:HI` or `NAME=VALUE` (fixed) -> the `narrow` dict of search_space()."""
    out = {}
    for item in items or ():
        m = re.fullmatch(r"\s*([a-z_]+)\s*=\s*([^:]+?)\s*(?::\s*(.+?)\s*)?", item)
        if not m:
            raise SeqrecError(f"Cannot read the search range {item!r}; write NAME=LO:HI (e.g. lr=0.001:0.01) or "
                              f"NAME=VALUE to fix it.")
        name, lo, hi = m.group(1), m.group(2), m.group(3) if m.group(3) is not None else m.group(2)
        try:
            lo, hi = float(lo), float(hi)
        except ValueError:
            raise SeqrecError(f"The search range {item!r} must hold numbers (e.g. lr=0.001:0.01).") from None
        if name in SETTINGS and SETTINGS[name].integer:
            lo, hi = (int(lo) if lo.is_integer() else lo), (int(hi) if hi.is_integer() else hi)
        out[name] = (lo, hi)
    return out


def check_metric(metric: str, ks: Sequence[int]) -> str:
    """`metric` in its canonical spelling, or one SeqrecError naming the metrics allowed with these K values."""
    if (found := _metric(metric, ks)) is None:
        raise SeqrecError(f"The metric to optimise must be one of {', '.join(metric_names(ks))} (got {metric!r}).")
    return found
