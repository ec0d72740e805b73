"""Comparing runs with each other and with the baselines: the comparison table, the best baseline beside a run
and a structured verdict on it, the K values every run shares, and grouping runs by the dataset they were trained
on (metrics of different data are not comparable).

Runs are read through their attributes (name, config, metrics, baselines, dataset, ...), so this module needs no
torch and sits below seqrec.runs.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from seqrec.evaluation import uncertainty
from seqrec.evaluation.intervals import Interval
from seqrec.evaluation.metrics import METRICS
from seqrec.model.baselines import ALL_BASELINES

BASELINE_LABELS = {cls.name: cls.label for cls in ALL_BASELINES}
METRIC_LABELS = {"recall": "Recall", "mrr": "MRR", "ndcg": "NDCG", "coverage": "Coverage"}
HYPER_COLUMNS = ["Embedding", "Hidden", "Layers", "Dropout", "Learning rate", "Batch"]

# Verdict outcomes: pages branch on these, never on the words of the sentence. Decided by the 95% interval of the
# paired difference: above 0, containing 0, below 0 (seqrec.evaluation.intervals.verdict).
BETTER, NO_CLEAR, WORSE, NO_BASELINE = "better", "no clear difference", "worse", "no baseline"


@dataclass(frozen=True)
class Verdict:
    """How a run fares against the best baseline (or another run) on one metric: `outcome` for code, `sentence`
    for people, `interval` the paired difference (None when per-user results are unavailable)."""

    outcome: str  # BETTER | NO_CLEAR | WORSE | NO_BASELINE
    sentence: str
    interval: Interval | None = None

    @property
    def beats(self) -> bool:
        return self.outcome == BETTER


def metric_columns(k: int) -> list[str]:
    """Column names of the comparison table's metrics at K, e.g. 'Recall@10'."""
    return [f"{METRIC_LABELS[m]}@{k}" for m in METRICS]


def available_ks(runs: Sequence, default: Sequence[int] = (10, 20)) -> list[int]:
    """K values every run was evaluated at (the defaults when there are no runs)."""
    ks = None
    for r in runs:
        ks = set(r.config.ks) if ks is None else ks & set(r.config.ks)
    return sorted(ks) if ks else sorted(default)


def _run_row(r, k: int) -> dict:
    c = r.config
    return {"Name": r.name, "Model": c.model.upper(), "Kind": "neural",
            "Embedding": c.embedding_dim, "Hidden": c.hidden_size, "Layers": c.layers, "Dropout": c.dropout,
            "Learning rate": c.lr, "Batch": c.batch_size, "Epochs": r.epochs_run,
            "Parameters": int(r.parameter_count), "Training time (s)": round(float(r.train_seconds), 1),
            **{f"{METRIC_LABELS[m]}@{k}": r.metrics.get(f"{m}@{k}", np.nan) for m in METRICS},
            "Exclude seen": bool(c.exclude_seen), "Dataset": r.dataset.get("name", "")}


def interval_columns(k: int, metric: str = "recall") -> tuple[str, str]:
    """Names of the comparison table's 95% interval columns for metric@K."""
    col = f"{METRIC_LABELS[metric]}@{k}"
    return f"{col} 95% low", f"{col} 95% high"


def _interval_cells(ranks, k: int, metric: str) -> dict:
    lo_col, hi_col = interval_columns(k, metric)
    if ranks is None or metric not in uncertainty.INTERVAL_METRICS:
        return {lo_col: np.nan, hi_col: np.nan}
    i = uncertainty.metric_intervals(ranks, (k,))[f"{metric}@{k}"]
    return {lo_col: i.lo, hi_col: i.hi}


def comparison_table(runs: Sequence, ds, k: int, baselines: dict | None = None, metric: str = "recall") -> pd.DataFrame:
    """One row per run and per baseline of the current dataset, with the key settings and test metrics at K, and
    the 95% interval of metric@K (NaN where per-user results are unavailable: runs saved before them, coverage).
    `baselines` (exclude_seen -> {name: metrics}) replaces the current dataset's for runs of another dataset
    (see `recorded_baselines`)."""
    rows = []
    for r in runs:
        rows.append({**_run_row(r, k), **_interval_cells(getattr(r, "test_ranks", None), k, metric)})
        view = hybrid_view(r)
        if view is not None:  # the hybrid's own row, right below its network's
            rows.append({**_run_row(view, k), "Model": f"{r.config.model.upper()} + kNN", "Kind": "hybrid",
                         **_interval_cells(view.test_ranks, k, metric)})
    # Baselines under every protocol a run used: with exclude-seen on, seen items are masked for them too.
    protocols = sorted({bool(r.config.exclude_seen) for r in runs} or {False})
    data_name = ds.name if baselines is None else (runs[0].dataset.get("name", "") if runs else "")
    for exclude in protocols:
        base = baselines[exclude] if baselines is not None else \
            ds.baseline_metrics(sorted({k, *available_ks(runs)}), exclude)
        suffix = " (seen excluded)" if exclude and len(protocols) > 1 else ""  # names stay unique in the charts
        base_ranks = getattr(base, "ranks", {})
        for name, m in base.items():
            rows.append({**_interval_cells(base_ranks.get(name), k, metric),
                         "Name": BASELINE_LABELS.get(name, name) + suffix, "Model": "baseline", "Kind": "baseline",
                         "Parameters": 0, "Training time (s)": 0.0,
                         **{f"{METRIC_LABELS[x]}@{k}": m.get(f"{x}@{k}", np.nan) for x in METRICS},
                         "Exclude seen": exclude, "Dataset": data_name})
    df = pd.DataFrame(rows)
    for col in ("Embedding", "Hidden", "Layers", "Batch", "Epochs"):
        if col not in df:
            df[col] = np.nan
        df[col] = df[col].astype("Int64")
    for col in ("Dropout", "Learning rate"):
        if col not in df:
            df[col] = np.nan
    order = ["Name", "Model", *metric_columns(k), *interval_columns(k, metric), "Parameters", "Training time (s)",
             "Epochs", *HYPER_COLUMNS,
             "Exclude seen", "Dataset", "Kind"]
    return df[order]


def hybrid_view(run):
    """The run's hybrid as a run-like row (seqrec.runs.run.Run.hybrid_run), or None (a run without one, or an
    object that is not a Run)."""
    make = getattr(run, "hybrid_run", None)
    return make() if callable(make) else None


def best_baseline(run, key: str) -> tuple[str | None, dict]:
    """(display name, metrics) of the baseline that scores highest on `key` (e.g. 'recall@20') beside this run;
    (None, {}) when the run has no baselines with that metric."""
    name = uncertainty.best_baseline_name(run.baselines, key)
    return (None, {}) if name is None else (BASELINE_LABELS.get(name, name), run.baselines[name])


def _difference_sentence(who: str, other: str, label: str, diff: Interval, outcome: str) -> str:
    return (f"{who} vs {other} on {label}: {diff.estimate:+.3f} (95% interval {diff.lo:+.3f} to {diff.hi:+.3f}): "
            f"{outcome}")


def baseline_verdict(run, k: int, metric: str = "recall") -> Verdict:
    """The run against the best baseline (same data, same protocol) on metric@K: the paired bootstrap interval of
    the difference decides better / no clear difference / worse. Without per-user results (a run saved before
    them, or coverage, which has none) there is no interval, and no clear difference can be claimed."""
    key = f"{metric}@{k}"
    label = f"{METRIC_LABELS.get(metric, metric)}@{k}"
    mine = run.metrics.get(key)
    name = uncertainty.best_baseline_name(run.baselines, key)
    if mine is None or name is None:
        return Verdict(NO_BASELINE, f"{run.name}: no {label} to compare with the baselines.")
    best_name, best = BASELINE_LABELS.get(name, name), run.baselines[name][key]
    diff = uncertainty.paired(getattr(run, "test_ranks", None), getattr(run, "baseline_ranks", {}).get(name), key) \
        if metric in uncertainty.INTERVAL_METRICS else None
    if diff is None:
        why = "coverage is a property of the whole list, not of each user" if metric == "coverage" else \
            "this run was saved before per-user results were kept"
        return Verdict(NO_CLEAR, f"{run.name} vs {best_name} on {label}: {mine - best:+.3f} ({mine:.3f} vs "
                                 f"{best:.3f}); no interval is available ({why}), so no clear difference can be "
                                 f"claimed.")
    return Verdict(diff.verdict, _difference_sentence(run.name, best_name, label, diff, diff.verdict), diff)


def run_vs_run_verdict(a, b, k: int, metric: str = "recall") -> Verdict:
    """Run a against run b on metric@K as a paired bootstrap over the test users both were scored on."""
    key = f"{metric}@{k}"
    label = f"{METRIC_LABELS.get(metric, metric)}@{k}"
    diff = uncertainty.paired(a.test_ranks, b.test_ranks, key) if metric in uncertainty.INTERVAL_METRICS else None
    if diff is None:
        return Verdict(NO_BASELINE, f"{a.name} vs {b.name} on {label}: no per-user results for both runs on the same "
                                    f"test users, so no paired interval.")
    return Verdict(diff.verdict, _difference_sentence(a.name, b.name, label, diff, diff.verdict), diff)


def _interval_text(ranks, key: str) -> str:
    if ranks is None:
        return "unavailable"
    i = uncertainty.metric_intervals(ranks, (int(key.split("@")[1]),))[key]
    return f"{i.lo:.3f} to {i.hi:.3f}"


def run_vs_baselines(run, k: int) -> pd.DataFrame:
    """The run and the baselines it was evaluated beside (same data, same protocol): Recall, MRR and NDCG at K, and
    the 95% interval of Recall@K ("unavailable" for runs saved before per-user results were kept)."""
    key, ci_col = f"recall@{k}", f"Recall@{k} 95% interval"
    ranks = getattr(run, "baseline_ranks", {})
    rows = [{"Model": run.name, **{f"{METRIC_LABELS[m]}@{k}": run.metrics.get(f"{m}@{k}") for m in METRICS[:3]},
             ci_col: _interval_text(getattr(run, "test_ranks", None), key)}]
    view = hybrid_view(run)
    if view is not None:
        rows.append({"Model": view.name, **{f"{METRIC_LABELS[m]}@{k}": view.metrics.get(f"{m}@{k}")
                                            for m in METRICS[:3]}, ci_col: _interval_text(view.test_ranks, key)})
    rows += [{"Model": BASELINE_LABELS.get(n, n), **{f"{METRIC_LABELS[x]}@{k}": m.get(f"{x}@{k}") for x in METRICS[:3]},
              ci_col: _interval_text(ranks.get(n), key)} for n, m in run.baselines.items()]
    return pd.DataFrame(rows)


# ------------------------------------------------------------------------------------------------------------------
# Runs of several datasets
# ------------------------------------------------------------------------------------------------------------------

@dataclass
class DatasetGroup:
    """Runs trained on one dataset (same fingerprint): only their metrics are comparable with each other."""

    fingerprint: str
    label: str
    runs: list
    is_current: bool


def group_runs_by_dataset(runs: Sequence, ds) -> list[DatasetGroup]:
    """Runs grouped by the fingerprint of their training data, in the order their first run appears; the current
    dataset's group comes first when it has runs, last (baselines only) when it has none."""
    groups: dict[str, DatasetGroup] = {ds.fingerprint: DatasetGroup(ds.fingerprint, f"{ds.name} (current data)", [],
                                                                     True)}
    for r in runs:
        fp = str(r.dataset.get("fingerprint", ""))
        if fp not in groups:
            name = r.dataset.get("name") or "an unrecorded dataset"
            size = f", {r.dataset['users']:,} users" if isinstance(r.dataset.get("users"), int) else ""
            groups[fp] = DatasetGroup(fp, f"{name}{size}", [], False)
        groups[fp].runs.append(r)
    out = list(groups.values())
    return out if out[0].runs or len(out) == 1 else out[1:] + out[:1]


def dataset_mix_warning(groups: Sequence[DatasetGroup]) -> str | None:
    """A sentence when the runs come from more than one dataset (their numbers are not comparable), else None."""
    used = [g for g in groups if g.runs]
    if len(used) < 2:
        return None
    parts = ", ".join(f"{g.label}: {len(g.runs)} run{'s' if len(g.runs) != 1 else ''}" for g in used)
    return (f"These runs were trained on {len(used)} different datasets ({parts}). Metrics are only comparable on "
            f"the same data, so the table shows one dataset at a time: pick it below.")


def recorded_baselines(runs: Sequence) -> dict:
    """exclude_seen -> {baseline: metrics} as recorded with the runs themselves (for runs of another dataset,
    whose baselines cannot be recomputed from the current data)."""
    out: dict = {}
    for r in runs:
        out.setdefault(bool(r.config.exclude_seen),
                       uncertainty.BaselineResults(r.baselines, getattr(r, "baseline_ranks", {})))
    return out


# ------------------------------------------------------------------------------------------------------------------
# Intervals and diagnostics across runs
# ------------------------------------------------------------------------------------------------------------------

def history_length_table(runs: Sequence, key: str = "recall@20") -> pd.DataFrame:
    """Long table (Bucket, Name, Kind, Users, value of `key`) of `key` by history-length bucket for every run with
    per-user results and for the baselines recorded with the first of them (the same split and test users)."""
    rows = []
    with_ranks = [r for r in runs if getattr(r, "test_ranks", None) is not None and r.history_lengths is not None]
    base_from = next((r for r in with_ranks if r.baseline_ranks), None)
    scorers = [(r.name, "neural", r.test_ranks, r.history_lengths) for r in with_ranks]
    if base_from is not None:
        scorers += [(BASELINE_LABELS.get(n, n), "baseline", ranks, base_from.history_lengths)
                    for n, ranks in base_from.baseline_ranks.items()]
    for name, kind, ranks, lengths in scorers:
        for bucket, row in uncertainty.by_history_length(lengths, {"x": ranks}, (key,)).items():
            if "x" in row:
                rows.append({"Bucket": bucket, "Name": name, "Kind": kind, "Users": row["users"],
                             key: row["x"][key]})
    return pd.DataFrame(rows, columns=["Bucket", "Name", "Kind", "Users", key])


def paired_runs(runs: Sequence) -> list:
    """Runs that can be compared pairwise (per-user results kept; same test users as the first such run)."""
    kept = [r for r in runs if getattr(r, "test_ranks", None) is not None]
    return [r for r in kept if len(r.test_ranks) == len(kept[0].test_ranks)] if kept else []
