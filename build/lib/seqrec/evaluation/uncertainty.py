"""How sure a test result is, from each user's target rank: a 95% interval for every metric, paired differences
(a run vs the best baseline, run vs run), the comparison the CLI reports, metrics by history length, and the words of
the order check (seqrec.evaluation.protocol.order_check scores the shuffled histories).

Everything here is numpy on rank arrays (one float per test user, in the split's user order; +inf: the target could
not be ranked, a certain miss; NaN: that user was not scored, e.g. a baseline scored on a sample of a huge log), so
it needs no torch and sits below seqrec.evaluation.compare. Intervals are seeded: the same ranks give the same
interval.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from seqrec.config import MAX_SEEDS
from seqrec.evaluation.intervals import Interval, bootstrap_ci, paired_difference

SEED = 0
N_RESAMPLES = 1000
INTERVAL_METRICS = ("recall", "mrr", "ndcg")  # per-user metrics (coverage is a property of the whole list)
LENGTH_BUCKETS = (("1-5", 1, 5), ("6-20", 6, 20), ("21-50", 21, 50), ("51+", 51, None))
ORDER_KEYS = ("recall@20", "mrr@20")
ORDER_MATTERS_MIN_RELATIVE_DROP = 0.05  # a drop above 0 with 95% confidence and of at least 5% of the metric


class BaselineResults(dict):
    """name -> test metrics of each baseline (a plain dict for JSON), with `ranks`: name -> each test user's target
    rank (NaN for users a baseline did not score), which intervals and paired comparisons need."""

    def __init__(self, metrics=(), ranks: dict | None = None):
        super().__init__(metrics)
        self.ranks = dict(ranks or {})


def metric_values(ranks, key: str) -> np.ndarray:
    """One value per scored user of `key` (e.g. 'mrr@20') from target ranks; NaN (unscored) users left out."""
    name, k = key.split("@")
    ranks = np.asarray(ranks, dtype=np.float64)
    ranks = ranks[~np.isnan(ranks)]
    hit = ranks <= int(k)
    if name == "recall":
        return hit.astype(np.float64)
    with np.errstate(divide="ignore"):
        if name == "mrr":
            return np.where(hit, 1.0 / ranks, 0.0)
        if name == "ndcg":
            return np.where(hit, 1.0 / np.log2(ranks + 1.0), 0.0)
    raise ValueError(f"no per-user values for {key!r}: intervals exist for {', '.join(INTERVAL_METRICS)}")


def interval_keys(ks: Sequence[int]) -> list[str]:
    return [f"{m}@{k}" for m in INTERVAL_METRICS for k in sorted(set(int(k) for k in ks))]


def metric_intervals(ranks, ks: Sequence[int]) -> dict[str, Interval]:
    """key -> mean with its 95% bootstrap interval over users, for recall, MRR and NDCG at every K."""
    if ranks is None:
        return {}
    return {key: bootstrap_ci(metric_values(ranks, key), N_RESAMPLES, SEED) for key in interval_keys(ks)}


def ci_json(intervals: Mapping[str, Interval]) -> dict:
    """{"recall@20": [lo, hi], ...} as the CLI prints it."""
    return {key: [round(i.lo, 6), round(i.hi, 6)] for key, i in intervals.items()}


def paired(a, b, key: str) -> Interval | None:
    """mean(a) - mean(b) of `key` with a paired bootstrap interval over the users both scored; None when the rank
    arrays are missing or belong to different users (different lengths)."""
    if a is None or b is None:
        return None
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        return None
    both = ~(np.isnan(a) | np.isnan(b))
    if not both.any():
        return None
    return paired_difference(metric_values(a[both], key), metric_values(b[both], key), N_RESAMPLES, SEED)


def best_baseline_name(baselines: Mapping[str, dict], key: str) -> str | None:
    """The baseline with the highest `key`; ties go to the one listed first (the simpler one)."""
    scored = [(m[key], -i, n) for i, (n, m) in enumerate(baselines.items()) if isinstance(m, dict) and key in m]
    return max(scored)[2] if scored else None


def comparison(ranks, baselines: Mapping[str, dict], baseline_ranks: Mapping, key: str = "recall@20") -> dict | None:
    """The run vs the best baseline on `key` as the CLI reports it: {"baseline", "metric", "difference", "ci95",
    "verdict"}; None without per-user ranks for both."""
    name = best_baseline_name(baselines, key)
    diff = paired(ranks, (baseline_ranks or {}).get(name), key) if name else None
    if diff is None:
        return None
    return {"baseline": name, "metric": key, "difference": round(diff.estimate, 6),
            "ci95": [round(diff.lo, 6), round(diff.hi, 6)], "verdict": diff.verdict}


def length_bucket_labels(lengths) -> np.ndarray:
    """The history-length bucket ('1-5', '6-20', '21-50', '51+') of each user."""
    lengths = np.asarray(lengths)
    out = np.empty(len(lengths), dtype=object)
    for label, lo, hi in LENGTH_BUCKETS:
        out[(lengths >= lo) & (lengths <= (hi if hi is not None else np.inf))] = label
    return out


def by_history_length(lengths, ranks_by_name: Mapping, keys: Sequence[str] = ("recall@20", "mrr@20")) -> dict:
    """{bucket: {"users": n, name: {key: mean}}} for every scorer with ranks (buckets without users left out)."""
    if lengths is None:
        return {}
    buckets = length_bucket_labels(lengths)
    out = {}
    for label, _, _ in LENGTH_BUCKETS:
        mask = buckets == label
        if not mask.any():
            continue
        row: dict = {"users": int(mask.sum())}
        for name, ranks in ranks_by_name.items():
            if ranks is None or len(ranks) != len(mask):
                continue
            r = np.asarray(ranks, dtype=np.float64)[mask]
            if np.isnan(r).all():
                continue
            row[name] = {key: round(float(metric_values(r, key).mean()), 6) for key in keys}
        out[label] = row
    return out


def order_words(drops: Mapping[str, Interval], originals: Mapping[str, float]) -> tuple[bool, str]:
    """(order matters?, sentence) from the drop of each ORDER_KEYS metric when histories are shuffled."""
    def clear(key):
        d = drops[key]
        return d.lo > 0 and d.estimate >= ORDER_MATTERS_MIN_RELATIVE_DROP * max(originals[key], 1e-12)

    matters = any(clear(key) for key in drops)
    parts = [f"{metric_label(key)} by {d.estimate:.3f} (95% interval {d.lo:+.3f} to {d.hi:+.3f})"
             for key, d in drops.items()]
    head = "Shuffling the order of each test history lowers " + " and ".join(parts)
    if matters:
        return True, f"{head}: order matters here."
    return False, f"{head}: this log behaves like a bag of items: a sequence model buys little."


LABELS = {"recall": "Recall", "mrr": "MRR", "ndcg": "NDCG", "coverage": "Coverage"}


def metric_label(key: str) -> str:
    """'recall@20' -> 'Recall@20'."""
    name, _, k = key.partition("@")
    return f"{LABELS.get(name, name)}@{k}"


def check_seeds(seeds: Sequence[int]) -> list[int]:
    """The seeds of a repeated training: 1 to MAX_SEEDS distinct whole numbers in the seed range, else a
    ValueError sentence."""
    seeds = list(seeds)
    if not 1 <= len(seeds) <= MAX_SEEDS:
        raise ValueError(f"give between 1 and {MAX_SEEDS} seeds (got {len(seeds)})")
    if any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) or not 0 <= s <= 2 ** 32 - 1 for s in seeds):
        raise ValueError("every seed must be a whole number from 0 to 4294967295")
    if len(set(seeds)) != len(seeds):
        raise ValueError("each seed must be different (the same seed trains the same run)")
    return [int(s) for s in seeds]


def seed_summary(seeds: Sequence[int], metrics: Sequence[dict]) -> dict:
    """The same config trained with several seeds: {"values": seeds, "mean": {key: mean}, "std": {key: standard
    deviation across seeds (n - 1; 0 for one seed)}} over the metrics every run reports."""
    keys = [k for k in metrics[0] if all(k in m for m in metrics)] if metrics else []
    table = np.array([[float(m[k]) for k in keys] for m in metrics]) if keys else np.zeros((len(metrics), 0))
    std = table.std(axis=0, ddof=1) if len(metrics) > 1 else np.zeros(len(keys))
    return {"values": [int(s) for s in seeds], "mean": {k: round(float(v), 6) for k, v in zip(keys, table.mean(0))},
            "std": {k: round(float(v), 6) for k, v in zip(keys, std)}}
