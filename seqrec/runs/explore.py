"""Looking at results: users and their histories, recommendations with item names, where the held-out item ranks,
the same history through several runs and the baselines, and the comparison table with plain-language verdicts.

Everything here returns DataFrames, dicts or sentences, so the app pages only lay them out.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import torch

from seqrec.model.baselines import BASELINES
from seqrec.errors import SeqrecError
from seqrec.evaluation.metrics import METRICS, target_ranks
from seqrec.runs.run import Run, history_scores, recommend_from_scores, top_k_items

BASELINE_LABELS = {cls.name: cls.label for cls in BASELINES}


# ------------------------------------------------------------------------------------------------------------------
# Users and histories
# ------------------------------------------------------------------------------------------------------------------

def user_index(ds, user_id: str) -> int:
    """Position of a user in the dataset's split; an unknown user is one clear sentence."""
    pos = getattr(ds, "_user_pos", None)
    if pos is None:
        pos = {str(u): i for i, u in enumerate(ds.split.users)}
        ds._user_pos = pos
    i = pos.get(str(user_id))
    if i is None:
        raise SeqrecError(f"User {user_id!r} is not in the current data (or was removed by the filters); pick a user "
                          f"from the list.")
    return i


def user_item_ids(ds, user_id: str, last: int | None = None) -> list[str]:
    """A user's whole sequence (train, validation and test items) as raw item IDs, oldest first; only the `last`
    items when given, so a long history stays readable."""
    ids = ds.split.vocab.decode(ds.split.full_sequence(user_index(ds, user_id)))
    return ids[-last:] if last else ids


def _user_row_starts(ds) -> np.ndarray:
    """First row of each user in the (user, time)-sorted log, in split order; computed once per dataset so a page
    rerun reads one user's rows without scanning the whole log."""
    starts = getattr(ds, "_user_row_starts", None)
    if starts is None:
        lengths = np.fromiter((len(t) + 2 for t in ds.split.train), dtype=np.int64, count=len(ds.split.train))
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        ds._user_row_starts = starts
    return starts


def find_users(ds, query: str = "", limit: int = 500) -> list[str]:
    """User IDs containing `query` (case-insensitive), in data order, at most `limit` of them (for big datasets)."""
    q = str(query or "").strip().lower()
    out = []
    for u in ds.split.users:
        if not q or q in str(u).lower():
            out.append(str(u))
            if len(out) >= limit:
                break
    return out


def _format_time(ds, t: float) -> str:
    if ds.interactions.time_is_datetime:
        return pd.Timestamp(t, unit="s", tz="UTC").strftime("%Y-%m-%d %H:%M")
    return f"{t:g}"


def user_history(ds, user_id: str) -> pd.DataFrame:
    """The user's whole sequence in time order with names, marking the validation and the held-out test item."""
    ids = user_item_ids(ds, user_id)
    start = _user_row_starts(ds)[user_index(ds, user_id)]
    times = ds.interactions.df["time"].to_numpy()[start: start + len(ids)]
    role = ["history"] * (len(ids) - 2) + ["validation item", "held-out next item"]
    return pd.DataFrame({
        "#": np.arange(1, len(ids) + 1),
        "Item": [ds.item_title(x) for x in ids],
        "Category": [ds.item_category(x) for x in ids],
        "Item ID": ids,
        "When": [_format_time(ds, t) for t in times[-len(ids):]] if len(times) >= len(ids) else [""] * len(ids),
        "Role": role,
    })


# ------------------------------------------------------------------------------------------------------------------
# Recommending
# ------------------------------------------------------------------------------------------------------------------

def recommendations_table(ds, result: dict, highlight: str | None = None) -> pd.DataFrame:
    """A recommend() result as a table with names; `highlight` marks one item (the true next item)."""
    recs = result["recommendations"]
    df = pd.DataFrame({
        "Rank": np.arange(1, len(recs) + 1, dtype=np.int64),
        "Item": [ds.item_title(r["item"]) for r in recs],
        "Category": [ds.item_category(r["item"]) for r in recs],
        "Score": [float(r["score"]) for r in recs],
        "Item ID": [r["item"] for r in recs],
    })
    if highlight is not None:
        df["True next"] = ["✅" if r["item"] == str(highlight) else "" for r in recs]
    return df


@dataclass
class UserRecommendation:
    """Top-K for one user from the history before their held-out item, and where that item ranks."""

    table: pd.DataFrame
    held_out_item: str
    held_out_label: str
    held_out_rank: float  # 1-based among all items; inf when excluded (already seen with exclude-seen on)
    history_length: int
    n_items: int

    @property
    def hit(self) -> bool:
        return self.held_out_rank <= len(self.table)

    def sentence(self) -> str:
        if math.isinf(self.held_out_rank):
            return (f"The true next item, {self.held_out_label}, was already in the history, so 'exclude items already "
                    f"seen' removed it from the ranking.")
        r = int(self.held_out_rank)
        where = f"in the top {len(self.table)}" if self.hit else f"outside the top {len(self.table)}"
        return f"The true next item, {self.held_out_label}, ranks #{r:,} of {self.n_items:,} items ({where})."


def _scorer_and_vocab(source, ds):
    """(score_batch, vocab) for a Run or a fitted baseline (baselines share the dataset's vocabulary)."""
    if isinstance(source, Run):
        return source.score_histories, source.vocab
    return source.score_batch, ds.split.vocab


def held_out_rank(score_batch, vocab, history_codes: np.ndarray, target_id: str, exclude_seen: bool) -> float:
    """Pessimistic 1-based rank of the target among all items given the history (inf when masked or unknown)."""
    return _rank_in(history_scores(score_batch, history_codes, exclude_seen), vocab, target_id)


def _rank_in(scores: torch.Tensor, vocab, target_id: str) -> float:
    """Pessimistic 1-based rank of the target in one masked score vector (inf when masked or unknown)."""
    codes, unknown = vocab.encode([target_id])
    if unknown:
        return math.inf
    return float(target_ranks(scores.unsqueeze(0), torch.tensor([int(codes[0])]))[0])


def recommend_for_user(source, ds, user_id: str, k: int = 10, exclude_seen: bool = False) -> UserRecommendation:
    """Recommend from everything before the user's held-out (test) item, as the evaluation does. `source` is a
    Run or a fitted baseline."""
    full = user_item_ids(ds, user_id)
    history, target = full[:-1], full[-1]
    score, vocab = _scorer_and_vocab(source, ds)
    codes, unknown = vocab.encode(history)
    scores = history_scores(score, codes, exclude_seen)  # scored once: the top-K and the held-out rank share it
    result = top_k_items(vocab, scores, k, unknown)
    return UserRecommendation(recommendations_table(ds, result, target), target, ds.item_label(target),
                              _rank_in(scores, vocab, target), len(history), len(vocab))


def scoring_sources(runs: Sequence[Run], ds) -> dict:
    """Display name -> Run or fitted baseline: everything that can recommend on the current dataset."""
    out = {r.name: r for r in runs}
    for b in ds.fitted_baselines().values():
        out[b.label] = b
    return out


def recommend_history(source, ds, history: Sequence[str], k: int = 10, exclude_seen: bool = False) -> pd.DataFrame:
    """Top-K for a hand-made history of item IDs, from a Run or a fitted baseline."""
    score, vocab = _scorer_and_vocab(source, ds)
    return recommendations_table(ds, recommend_from_scores(vocab, score, list(history), k, exclude_seen))


def side_by_side(runs: Sequence[Run], ds, history: Sequence[str], k: int = 10, exclude_seen: bool = False,
                 include_baselines: bool = True) -> dict[str, pd.DataFrame]:
    """The same history through every run and the baselines: name -> top-K table, runs first."""
    sources = scoring_sources(runs, ds) if include_baselines else {r.name: r for r in runs}
    return {name: recommend_history(src, ds, history, k, exclude_seen) for name, src in sources.items()}


# ------------------------------------------------------------------------------------------------------------------
# Comparing
# ------------------------------------------------------------------------------------------------------------------

METRIC_LABELS = {"recall": "Recall", "mrr": "MRR", "ndcg": "NDCG", "coverage": "Coverage"}


def metric_columns(k: int) -> list[str]:
    """Column names of the comparison table's metrics at K, e.g. 'Recall@10'."""
    return [f"{METRIC_LABELS[m]}@{k}" for m in METRICS]


def available_ks(runs: Sequence[Run], default: Sequence[int] = (10, 20)) -> list[int]:
    """K values every run was evaluated at (the defaults when there are no runs)."""
    ks = None
    for r in runs:
        ks = set(r.config.ks) if ks is None else ks & set(r.config.ks)
    return sorted(ks) if ks else sorted(default)


def comparison_table(runs: Sequence[Run], ds, k: int, baselines: dict | None = None) -> pd.DataFrame:
    """One row per run and per baseline of the current dataset, with the key settings and test metrics at K.
    `baselines` (exclude_seen -> {name: metrics}) replaces the current dataset's for runs of another dataset
    (see `recorded_baselines`)."""
    rows = []
    for r in runs:
        c = r.config
        rows.append({
            "Name": r.name, "Model": c.model.upper(), "Kind": "neural",
            "Embedding": c.embedding_dim, "Hidden": c.hidden_size, "Layers": c.layers, "Dropout": c.dropout,
            "Learning rate": c.lr, "Batch": c.batch_size, "Epochs": r.epochs_run,
            "Parameters": int(r.parameter_count), "Training time (s)": round(float(r.train_seconds), 1),
            **{f"{METRIC_LABELS[m]}@{k}": r.metrics.get(f"{m}@{k}", np.nan) for m in METRICS},
            "Exclude seen": bool(c.exclude_seen), "Dataset": r.dataset.get("name", ""),
        })
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


HYPER_COLUMNS = ["Embedding", "Hidden", "Layers", "Dropout", "Learning rate", "Batch"]


def comparison_for_display(table: pd.DataFrame) -> pd.DataFrame:
    """The comparison table for the screen: settings a baseline does not have read as a dash, not 'None'."""
    out = table.drop(columns=["Kind"])
    for col in HYPER_COLUMNS + ["Epochs"]:
        out[col] = [("—" if pd.isna(v) else f"{v:g}" if isinstance(v, float) else str(v)) for v in out[col]]
    return out


def best_baseline(run: Run, key: str) -> tuple[str | None, dict]:
    """(display name, metrics) of the baseline that scores highest on `key` (e.g. 'recall@20') beside this run;
    (None, {}) when the run has no baselines with that metric."""
    scored = [(m[key], BASELINE_LABELS.get(n, n), m) for n, m in run.baselines.items() if key in m]
    if not scored:
        return None, {}
    _, name, metrics = max(scored, key=lambda t: (t[0], t[1]))
    return name, metrics


def baseline_verdict(run: Run, k: int, metric: str = "recall") -> str:
    """Does this run beat the best baseline (evaluated with the run's own protocol) on metric@K, and by how much?"""
    key = f"{metric}@{k}"
    label = f"{METRIC_LABELS.get(metric, metric)}@{k}"
    mine = run.metrics.get(key)
    best_name, best_metrics = best_baseline(run, key)
    if mine is None or best_name is None:
        return f"{run.name}: no {label} to compare with the baselines."
    best = best_metrics[key]
    diff = mine - best
    rel = f" ({diff / best:+.0%})" if best > 0 else ""
    if diff > 0:
        return (f"{run.name} beats the best baseline ({best_name}, {label} {best:.3f}) by {diff:.3f}{rel}, "
                f"reaching {mine:.3f}.")
    if diff == 0:
        return f"{run.name} ties with the best baseline ({best_name}) at {label} {best:.3f}."
    return (f"{run.name} does not beat the best baseline ({best_name}, {label} {best:.3f}): it falls short by "
            f"{-diff:.3f}{rel}, at {mine:.3f}.")


def run_vs_baselines(run: Run, k: int) -> pd.DataFrame:
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


def group_runs_by_dataset(runs: Sequence[Run], ds) -> list[DatasetGroup]:
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


def recorded_baselines(runs: Sequence[Run]) -> dict:
    """exclude_seen -> {baseline: metrics} as recorded with the runs themselves (for runs of another dataset,
    whose baselines cannot be recomputed from the current data)."""
    out: dict = {}
    for r in runs:
        out.setdefault(bool(r.config.exclude_seen), r.baselines)
    return out


# ------------------------------------------------------------------------------------------------------------------
# Top-K for every user (CSV export)
# ------------------------------------------------------------------------------------------------------------------

def user_histories(interactions) -> tuple[list[str], list[np.ndarray]]:
    """Every user's raw item IDs, oldest first (the processed log is sorted by user, then time)."""
    users = interactions.df["user"].to_numpy(dtype=object)
    items = interactions.df["item"].to_numpy(dtype=object)
    if not len(users):
        return [], []
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    ends = np.r_[starts[1:], len(users)]
    return [str(users[s]) for s in starts], [items[s:e] for s, e in zip(starts, ends)]


def top_k_for_all_users(source, interactions, k: int = 20, exclude_seen: bool = False, titles=None, ds=None,
                        batch_size: int = 256) -> tuple[pd.DataFrame, int]:
    """(table, unknown) - the top-K next items after each user's WHOLE history (what to show them next), from a Run
    or a fitted baseline: columns user, rank, item, score (probability) and, when `titles` (item ID -> title) is
    given, title. `unknown` counts history events whose item the model never saw (they are skipped)."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise SeqrecError(f"K must be a whole number of at least 1 (got {k!r}).")
    score, vocab = _scorer_and_vocab(source, ds)
    users, hists = user_histories(interactions)
    index = {str(v): i + 1 for i, v in enumerate(vocab.ids)}
    coded = [np.fromiter((index.get(str(x), 0) for x in h), dtype=np.int64, count=len(h)) for h in hists]
    unknown = int(sum(int((c == 0).sum()) for c in coded))
    coded = [c[c > 0] for c in coded]
    kk = min(int(k), len(vocab))
    cols: dict[str, list] = {"user": [], "rank": [], "item": [], "score": []}
    for start in range(0, len(users), batch_size):
        batch = coded[start:start + batch_size]
        scores = score(batch).to(torch.float32).clone()
        scores[:, 0] = -math.inf
        if exclude_seen:
            for row, c in enumerate(batch):
                if len(c):
                    scores[row, torch.from_numpy(c)] = -math.inf
        probs = torch.softmax(scores, dim=1)
        vals, idx = probs.topk(kk, dim=1)
        finite = torch.isfinite(scores.gather(1, idx))
        for row in range(len(batch)):
            keep = idx[row][finite[row]].tolist()
            cols["user"] += [users[start + row]] * len(keep)
            cols["rank"] += list(range(1, len(keep) + 1))
            cols["item"] += vocab.decode(keep)
            cols["score"] += [round(float(v), 6) for v in vals[row][finite[row]]]
    table = pd.DataFrame(cols).astype({"rank": "int64", "score": "float64"})
    if titles is not None:
        table["title"] = [titles(i) for i in table["item"]]
    return table, unknown


def all_users_csv(source, ds, k: int = 20, exclude_seen: bool = False) -> bytes:
    """The top-K for every user of the dataset as spreadsheet-safe CSV (with titles when metadata is loaded)."""
    from seqrec.runs.export import to_safe_csv

    titles = ds.item_title if ds.items is not None else None
    return to_safe_csv(top_k_for_all_users(source, ds.interactions, k, exclude_seen, titles=titles, ds=ds)[0])
