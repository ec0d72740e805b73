"""Recommending with a run or a fitted baseline on the current dataset: the top-K for a user from the history before
their held-out item (and where that item ranks), for a hand-made history, the same history through every model,
and the top-K for every user (CSV export).

Results are plain lists of {"item", "score"} dicts (as `Run.recommend` returns them); tables with item names for
the screen are built by the app (studio/tables.py).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from seqrec.data.users import user_histories, user_item_ids
from seqrec.errors import SeqrecError
from seqrec.evaluation.metrics import target_ranks
from seqrec.runs.export import to_safe_csv
from seqrec.runs.run import Run, history_scores, recommend_from_scores, top_k_items


@dataclass
class UserRecommendation:
    """Top-K for one user from the history before their held-out item, and where that item ranks."""

    recommendations: list  # [{"item": raw ID, "score": probability}], best first
    held_out_item: str
    held_out_label: str
    held_out_rank: float  # 1-based among all items; inf when excluded (already seen with exclude-seen on)
    history_length: int
    n_items: int

    @property
    def hit(self) -> bool:
        return self.held_out_rank <= len(self.recommendations)

    def sentence(self) -> str:
        if math.isinf(self.held_out_rank):
            return (f"The true next item, {self.held_out_label}, was already in the history, so 'exclude items already "
                    f"seen' removed it from the ranking.")
        r = int(self.held_out_rank)
        shown = len(self.recommendations)
        where = f"in the top {shown}" if self.hit else f"outside the top {shown}"
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
    return UserRecommendation(result["recommendations"], target, ds.item_label(target),
                              _rank_in(scores, vocab, target), len(history), len(vocab))


def scoring_sources(runs: Sequence[Run], ds) -> dict:
    """Display name -> Run or fitted baseline: everything that can recommend on the current dataset."""
    out = {r.name: r for r in runs}
    for b in ds.fitted_baselines().values():
        out[b.label] = b
    return out


def recommend_history(source, ds, history: Sequence[str], k: int = 10, exclude_seen: bool = False) -> list:
    """Top-K ({"item", "score"} dicts, best first) for a hand-made history of item IDs, from a Run or a fitted
    baseline."""
    score, vocab = _scorer_and_vocab(source, ds)
    return recommend_from_scores(vocab, score, list(history), k, exclude_seen)["recommendations"]


def side_by_side(runs: Sequence[Run], ds, history: Sequence[str], k: int = 10, exclude_seen: bool = False,
                 include_baselines: bool = True) -> dict[str, list]:
    """The same history through every run and the baselines: name -> top-K list, runs first."""
    sources = scoring_sources(runs, ds) if include_baselines else {r.name: r for r in runs}
    return {name: recommend_history(src, ds, history, k, exclude_seen) for name, src in sources.items()}


# ------------------------------------------------------------------------------------------------------------------
# Top-K for every user (CSV export)
# ------------------------------------------------------------------------------------------------------------------

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
    titles = ds.item_title if ds.items is not None else None
    return to_safe_csv(top_k_for_all_users(source, ds.interactions, k, exclude_seen, titles=titles, ds=ds)[0])
