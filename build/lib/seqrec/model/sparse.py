"""Scores that are sparse over a per-item fallback (what the count-based baselines produce), and the exact
pessimistic target ranks and top items they imply, computed from the stored entries without a dense
(users x items) matrix. The evaluation's metrics over them are seqrec.evaluation.sparse_ranks.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class SparseScores:
    """Scores of a batch of B histories: `values[i]` at (`rows[i]`, `cols[i]`) (unique pairs, cols >= 1), and
    `fallback[j]` for every item a row does not store (length n_items + 1; column 0, the padding, is never ranked).
    All scores float32, as the dense scorer's."""
    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray
    fallback: np.ndarray
    n_rows: int

    def dense(self) -> torch.Tensor:
        """The (B, n_items + 1) matrix these scores stand for (tests; small batches)."""
        out = np.tile(self.fallback.astype(np.float32), (self.n_rows, 1))
        out[self.rows, self.cols] = self.values
        return torch.from_numpy(out)


def _member(keys: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """Mask of `keys` found in the sorted unique array `sorted_set`."""
    if not len(sorted_set):
        return np.zeros(len(keys), dtype=bool)
    at = np.minimum(np.searchsorted(sorted_set, keys), len(sorted_set) - 1)
    return sorted_set[at] == keys


def sorted_unique(keys: np.ndarray) -> np.ndarray:
    """np.unique of int64 keys by sorting (NumPy 2's hash-based unique is several times slower on these)."""
    keys = np.sort(keys)
    return keys[np.concatenate([[True], keys[1:] != keys[:-1]])] if len(keys) else keys


def count_at_least(values: np.ndarray, starts: np.ndarray, ends: np.ndarray, x: np.ndarray,
                   descending: bool = False) -> np.ndarray:
    """How many of values[starts[i]:ends[i]] (each segment sorted, ascending or descending) are >= x[i]: a binary
    search in every segment at once (about log2 of the longest segment vector steps)."""
    lo, hi = starts.astype(np.int64).copy(), ends.astype(np.int64).copy()
    if not len(values):
        return np.zeros(len(x), dtype=np.int64)
    while True:
        open_ = lo < hi
        if not open_.any():
            break
        mid = (lo + hi) // 2
        v = values[np.minimum(mid, len(values) - 1)]
        # ascending: find the first index with value >= x; descending: the first index with value < x
        right = (v < x) if not descending else (v >= x)
        lo = np.where(open_ & right, mid + 1, lo)
        hi = np.where(open_ & ~right, mid, hi)
    return (ends - lo) if not descending else (lo - starts)


def _seen_keys(histories: list[np.ndarray], n_cols: int) -> np.ndarray:
    """Sorted unique row * n_cols + item of every item in each history (the items exclude-seen masks)."""
    lengths = np.fromiter((len(h) for h in histories), dtype=np.int64, count=len(histories))
    if not lengths.sum():
        return np.zeros(0, dtype=np.int64)
    items = np.concatenate(histories).astype(np.int64)
    rows = np.repeat(np.arange(len(histories)), lengths)
    keep = items > 0
    return sorted_unique(rows[keep] * n_cols + items[keep])


def _stored(s: SparseScores, n_cols: int, seen: np.ndarray):
    """The stored entries with an item (cols >= 1), sorted by key (row * n_cols + item; already sorted when the
    scores come row by row with sorted items, as scipy's CSR does), and a mask of the masked (seen) ones: the few
    seen keys are searched in the many stored ones, not the other way round."""
    valid = s.cols >= 1
    rows, cols, values = s.rows[valid], s.cols[valid], s.values[valid].astype(np.float32)
    keys = rows * n_cols + cols
    if len(keys) > 1 and not (keys[1:] >= keys[:-1]).all():
        order = np.argsort(keys, kind="stable")
        keys, rows, cols, values = keys[order], rows[order], cols[order], values[order]
    masked = np.zeros(len(keys), dtype=bool)
    if len(seen) and len(keys):
        at = np.minimum(np.searchsorted(keys, seen), len(keys) - 1)
        masked[at[keys[at] == seen]] = True
    return keys, rows, cols, values, masked


def target_ranks_sparse(s: SparseScores, targets: np.ndarray, n_items: int,
                        seen: np.ndarray | None) -> np.ndarray:
    """1-based pessimistic rank of each row's target (float64; +inf for the padding target or a masked one).
    `seen`: sorted keys of the masked (row, item) pairs (exclude-seen), or None."""
    n_cols = n_items + 1
    b = s.n_rows
    targets = np.asarray(targets, dtype=np.int64)
    fallback = s.fallback.astype(np.float32)
    sorted_fallback = np.sort(fallback[1:])
    seen = np.zeros(0, dtype=np.int64) if seen is None else seen
    keys, rows, cols, values, stored_seen = _stored(s, n_cols, seen)

    t_keys = np.arange(b) * n_cols + targets
    t_at = np.minimum(np.searchsorted(keys, t_keys), max(len(keys) - 1, 0))
    t_stored = (keys[t_at] == t_keys) if len(keys) else np.zeros(b, dtype=bool)
    s_t = np.where(t_stored, values[t_at] if len(keys) else 0, fallback[np.clip(targets, 0, n_items)])
    s_t = s_t.astype(np.float32)

    # Stored items ahead: every stored item but the target itself and the masked ones, scoring >= the target.
    row_score = s_t[rows]
    ahead_stored = (values >= row_score) & (cols != targets[rows]) & ~stored_seen
    ahead = np.bincount(rows[ahead_stored], minlength=b)
    # Items a row does not store score their fallback: all fallback scores >= the target's (binary search), less
    # those of items the row stores (counted above with their stored score), of masked items it does not store, and
    # the target itself when it is not stored.
    ahead += n_items - np.searchsorted(sorted_fallback, s_t, side="left")
    ahead -= np.bincount(rows[fallback[cols] >= row_score], minlength=b)
    if len(seen):
        seen_rows, seen_items = seen // n_cols, seen % n_cols
        unstored = ~_member(seen, keys)
        hit = unstored & (fallback[seen_items] >= s_t[seen_rows])
        ahead -= np.bincount(seen_rows[hit], minlength=b)
    ahead -= (~t_stored).astype(np.int64)
    ranks = (ahead + 1).astype(np.float64)
    invalid = (targets <= 0) | (targets > n_items) | _member(t_keys, seen) | ~np.isfinite(s_t)
    return np.where(invalid, math.inf, ranks)


def _place_in_row(rows: np.ndarray) -> np.ndarray:
    """0-based position of each entry inside its run of equal (grouped) rows, in one pass."""
    if not len(rows):
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate([[True], rows[1:] != rows[:-1]]))
    sizes = np.diff(np.concatenate([starts, [len(rows)]]))
    return np.arange(len(rows)) - np.repeat(starts, sizes)


def _by_row_then_score(rows: np.ndarray, values: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Order grouping rows (ascending), each row's entries by score (descending), ties by item code: one sort of
    a combined integer key (row, score's rank among the batch's distinct scores, item), several times faster than
    a three-key lexsort."""
    if not len(rows):
        return np.zeros(0, dtype=np.int64)
    distinct, inverse = np.unique(values, return_inverse=True)
    n_cols = int(cols.max()) + 1
    key = (rows.astype(np.int64) * (len(distinct) + 1) + (len(distinct) - inverse.astype(np.int64))) * n_cols + cols
    return np.argsort(key)


def top_items_sparse(s: SparseScores, n_items: int, k: int, seen: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(rows, items) of every row's top k items (masked items never; ties to the lower item code)."""
    n_cols = n_items + 1
    b = s.n_rows
    seen = np.zeros(0, dtype=np.int64) if seen is None else seen
    fallback = s.fallback.astype(np.float32)
    keys, rows, cols, values, masked = _stored(s, n_cols, seen)
    stored_keys = keys
    rows, cols, values = rows[~masked], cols[~masked], values[~masked]
    # Each row's best k stored items.
    order = _by_row_then_score(rows, values, cols)
    rows, cols, values = rows[order], cols[order], values[order]
    best = _place_in_row(rows) < k
    cand_rows, cand_cols, cand_vals = [rows[best]], [cols[best]], [values[best]]
    # Each row's first k items of the fallback order that it neither stores nor masks: a prefix of the order,
    # lengthened for the rows whose prefix held too many of their own items. Rows whose k best stored items all
    # score above every fallback score need none.
    by_fallback = np.lexsort((np.arange(1, n_cols), -fallback[1:])) + 1
    above = np.bincount(rows[best & (values > fallback[1:].max(initial=-np.inf))], minlength=b)
    pending = np.flatnonzero(above < k)
    length = min(n_items, k + 32)
    while len(pending):
        head = by_fallback[:length]
        probe = (pending[:, None] * n_cols + head[None, :]).ravel()
        mask = ~(_member(probe, stored_keys) | _member(probe, seen)).reshape(len(pending), length)
        count = np.cumsum(mask, axis=1)
        pick = mask & (count <= k)
        r, j = np.nonzero(pick)
        cand_rows.append(pending[r])
        cand_cols.append(head[j])
        cand_vals.append(fallback[head[j]])
        done = (count[:, -1] >= k) | (length >= n_items)
        pending = pending[~done]
        length = min(n_items, length * 2)
    rows, cols, values = (np.concatenate(x) for x in (cand_rows, cand_cols, cand_vals))
    order = _by_row_then_score(rows, values, cols)
    rows, cols = rows[order], cols[order]
    best = _place_in_row(rows) < k
    return rows[best], cols[best]
