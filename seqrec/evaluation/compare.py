"""Comparing runs with each other and with the baselines: the comparison table, the best baseline beside a run
and a structured verdict on it, the K values every run shares, and grouping runs by the dataset they were trained
on (metrics of different data are not comparable).

Runs are read through their attributes (name, config, metrics, baselines, dataset, ...), so this module needs no
torch and sits below seqrec.runs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from seqrec.evaluation.metrics import METRICS
from seqrec.model.baselines import BASELINES

BASELINE_LABELS = {cls.name: cls.label for cls in BASELINES}
METRIC_LABELS = {"recall": "Recall", "mrr": "MRR", "ndcg": "NDCG", "coverage": "Coverage"}
HYPER_COLUMNS = ["Embedding", "Hidden", "Layers", "Dropout", "Learning rate", "Batch"]

# Verdict outcomes: pages branch on these, never on the words of the sentence.
BETTER, TIE, WORSE, NO_BASELINE = "better", "tie", "worse", "no baseline"


@dataclass(frozen=True)
class Verdict:
    """How a run fares against the best baseline on one metric: `outcome` for code, `sentence` for people."""

    outcome: str  # BETTER | TIE | WORSE | NO_BASELINE
    sentence: str

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


def comparison_table(runs: Sequence, ds, k: int, baselines: dict | None = None) -> pd.DataFrame:
    """One row per run and per baseline of the current dataset, with the key settings and test metrics at K.
    `baselines` (exclude_seen -> {name: metrics}) replaces the current dataset's for runs of another dataset
    (see `recorded_baselines`)."""
    rows = [_run_row(r, k) for r in runs]
    # Baselines under every protocol a run used: with exclude-seen on, seen items are masked for them too.
    protocols = sorted({bool(r.config.exclude_seen) for r in runs} or {False})
    data_name = ds.name if baselines is None else (runs[0].dataset.get("name", "") if runs else "")
    for exclude in protocols:
        base = baselines[exclude] if baselines is not None else \
            ds.baseline_metrics(sorted({k, *available_ks(runs)}), exclude)
        suffix = " (seen excluded)" if exclude and len(protocols) > 1 else ""  # names stay unique in the charts
        for name, m in base.items():
            rows.append({"Name": BASELINE_LABELS.get(name, name) + suffix, "Model": "baseline", "Kind": "baseline",
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
    order = ["Name", "Model", *metric_columns(k), "Parameters", "Training time (s)", "Epochs", *HYPER_COLUMNS,
             "Exclude seen", "Dataset", "Kind"]
    return df[order]


def best_baseline(run, key: str) -> tuple[str | None, dict]:
    """(display name, metrics) of the baseline that scores highest on `key` (e.g. 'recall@20') beside this run;
    (None, {}) when the run has no baselines with that metric."""
    scored = [(m[key], BASELINE_LABELS.get(n, n), m) for n, m in run.baselines.items() if key in m]
    if not scored:
        return None, {}
    _, name, metrics = max(scored, key=lambda t: (t[0], t[1]))
    return name, metrics


def baseline_verdict(run, k: int, metric: str = "recall") -> Verdict:
    """Does this run beat the best baseline (evaluated with the run's own protocol) on metric@K, and by how much?"""
    key = f"{metric}@{k}"
    label = f"{METRIC_LABELS.get(metric, metric)}@{k}"
    mine = run.metrics.get(key)
    best_name, best_metrics = best_baseline(run, key)
    if mine is None or best_name is None:
        return Verdict(NO_BASELINE, f"{run.name}: no {label} to compare with the baselines.")
    best = best_metrics[key]
    diff = mine - best
    rel = f" ({diff / best:+.0%})" if best > 0 else ""
    if diff > 0:
        return Verdict(BETTER, f"{run.name} beats the best baseline ({best_name}, {label} {best:.3f}) by "
                               f"{diff:.3f}{rel}, reaching {mine:.3f}.")
    if diff == 0:
        return Verdict(TIE, f"{run.name} ties with the best baseline ({best_name}) at {label} {best:.3f}.")
    return Verdict(WORSE, f"{run.name} does not beat the best baseline ({best_name}, {label} {best:.3f}): it falls "
                          f"short by {-diff:.3f}{rel}, at {mine:.3f}.")


def run_vs_baselines(run, k: int) -> pd.DataFrame:
    """The run and the baselines it was evaluated beside (same data, same protocol): Recall, MRR and NDCG at K."""
    rows = [{"Model": run.name, **{f"{METRIC_LABELS[m]}@{k}": run.metrics.get(f"{m}@{k}") for m in METRICS[:3]}}]
    rows += [{"Model": BASELINE_LABELS.get(n, n), **{f"{METRIC_LABELS[x]}@{k}": m.get(f"{x}@{k}") for x in METRICS[:3]}}
             for n, m in run.baselines.items()]
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
        out.setdefault(bool(r.config.exclude_seen), r.baselines)
    return out
