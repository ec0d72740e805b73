"""Exact full-ranking metrics for scorers whose scores are sparse over a per-item fallback: the baselines.

A baseline scores item j for history r as `stored[r, j]` where row r stores j (its last item's transitions, its kNN
neighbours, its own past items) and as `fallback[j]` (a popularity order) everywhere else. Ranking every item for every
user through a dense (users x items) matrix costs users x items work whatever the baseline knows: 200,000 users x
20,000 items is 4e9 scores. Here a target's pessimistic rank (every other item scoring >= the target is ahead, as in
seqrec.evaluation.metrics) is counted from the row's stored entries plus a binary search in the sorted fallback, and
the top K from the stored entries plus the head of the fallback order: work in the stored entries, not the catalogue.

The ranks are identical to `metrics.evaluate_with_ranks` on the densified scores (tests/unit/evaluation check it on
every baseline); coverage@K can differ only where several items tie on the K-th score (a dense top-k picks any of
them, here the lower item code).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from seqrec.evaluation.metrics import _metrics_from
from seqrec.model.sparse import (
    SparseScores,
    _place_in_row,
    _seen_keys,
    target_ranks_sparse,
    top_items_sparse,
)

ROWS_PER_BATCH = 8192  # histories ranked at once: bounds the stored entries and the fallback-prefix checks held


def evaluate_sparse_with_ranks(sparse_scores: Callable[[list[np.ndarray]], SparseScores],
                               histories: list[np.ndarray], targets: np.ndarray, n_items: int,
                               ks: Sequence[int] = (10, 20), exclude_seen: bool = False,
                               batch_size: int = ROWS_PER_BATCH, sparse_ranks=None,
                               sparse_top=None) -> tuple[dict, np.ndarray]:
    """`metrics.evaluate_with_ranks` for a sparse scorer: the same metrics (recall, MRR, NDCG, coverage at each K)
    and each user's pessimistic target rank, in the order of `histories`.

    A scorer whose rows share long stored lists (item transitions: every user with the same last item) can give
    `sparse_ranks(histories, targets, seen)` (the ranks without expanding the lists per user) and
    `sparse_top(histories, k, seen)` (scores holding at least each row's best k stored items, all of them above
    every fallback score)."""
    ks = sorted(set(int(k) for k in ks))
    targets = np.asarray(targets, dtype=np.int64)
    ranks = np.empty(len(histories), dtype=np.float64)
    recommended = {k: torch.zeros(n_items + 1, dtype=torch.bool) for k in ks}
    for start in range(0, len(histories), batch_size):
        hist = histories[start: start + batch_size]
        seen = _seen_keys(hist, n_items + 1) if exclude_seen else None
        tgt = targets[start: start + len(hist)]
        s = sparse_scores(hist) if sparse_ranks is None or sparse_top is None else None
        ranks[start: start + len(hist)] = (sparse_ranks(hist, tgt, seen) if sparse_ranks is not None
                                           else target_ranks_sparse(s, tgt, n_items, seen))
        if ks:
            top = sparse_top(hist, max(ks), seen) if sparse_top is not None else s
            rows, items = top_items_sparse(top, n_items, max(ks), seen)
            position = _place_in_row(rows)
            for k in ks:
                recommended[k][torch.from_numpy(items[position < k])] = True
    ranks_t = torch.from_numpy(ranks)
    return _metrics_from(ranks_t, recommended, ks, n_items), ranks
