"""Baselines computed beside every neural model, as small estimators (`fit` returns self).

All score with the same (B, n_items + 1) interface as the neural model, so evaluation runs the identical code path.
Every `fit(sequences, n_items, valid=None, exclude_seen=False)` takes the same arguments: `valid` = (histories,
targets) is used by the baselines that choose a setting on validation (ItemKNN's K) and ignored by the others.
MostPopular and ItemTransitions count; Repeat, ItemKNN and SessionKNN are vectorised with scipy.sparse,
no per-user Python loop, and each has `raw_scores(histories)` (float64, before popularity breaks ties) for tests.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from seqrec.model.sparse import SparseScores, _seen_keys, count_at_least, target_ranks_sparse


class MostPopular:
    """Recommends the items seen most often in training, whatever the history."""

    name = "most_popular"
    label = "MostPopular"

    def fit(self, sequences: list[np.ndarray], n_items: int, valid=None, exclude_seen: bool = False) -> MostPopular:
        flat = np.concatenate(sequences) if sequences else np.zeros(0, dtype=np.int64)
        self.counts_ = np.bincount(flat, minlength=n_items + 1).astype(np.float32)
        self.counts_[0] = 0
        return self

    def score_batch(self, histories: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(self.counts_).unsqueeze(0).expand(len(histories), -1)

    def sparse_scores(self, histories: list[np.ndarray]) -> SparseScores:
        empty = np.zeros(0, dtype=np.int64)
        return SparseScores(empty, empty, np.zeros(0, dtype=np.float32), self.counts_, len(histories))


class ItemTransitions:
    """Recommends what most often followed the user's last item in training (a first-order Markov chain); ties and
    unseen transitions fall back to popularity."""

    name = "item_transitions"
    label = "Item-to-item transitions"

    def fit(self, sequences: list[np.ndarray], n_items: int, valid=None,
            exclude_seen: bool = False) -> ItemTransitions:
        self.n_items_ = n_items
        self.popularity_ = MostPopular().fit(sequences, n_items).counts_
        prev = np.concatenate([s[:-1] for s in sequences]) if sequences else np.zeros(0, dtype=np.int64)
        nxt = np.concatenate([s[1:] for s in sequences]) if sequences else np.zeros(0, dtype=np.int64)
        n = n_items + 1
        # Compressed sparse rows in plain numpy: unique (prev, next) pairs sorted by prev, with their counts.
        keys, counts = np.unique(prev * n + nxt, return_counts=True)
        self.next_items_ = keys % n
        self.next_counts_ = counts.astype(np.float32)
        self.row_starts_ = np.searchsorted(keys // n, np.arange(n + 1))
        # For ranking without expanding each user's list (sparse_ranks / sparse_top): every transition's score,
        # and each last item's transitions sorted by score (descending) and by popularity (ascending).
        self.keys_ = keys
        pop = torch.from_numpy(self.popularity_)
        self.values_ = (torch.from_numpy(self.next_counts_) * (float(pop.max()) + 1.0)
                        + pop[torch.from_numpy(self.next_items_)]).numpy()
        source = keys // n
        by_value = np.lexsort((self.next_items_, -self.values_, source))
        self.desc_items_, self.desc_values_ = self.next_items_[by_value], self.values_[by_value]
        next_pop = self.popularity_[self.next_items_]
        self.asc_popularity_ = next_pop[np.lexsort((next_pop, source))]
        self.sorted_popularity_ = np.sort(self.popularity_[1:])
        return self

    def _transitions(self, histories: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row, next item, count) of every stored transition out of each row's last item, gathered at once."""
        last = np.fromiter((h[-1] if len(h) else 0 for h in histories), dtype=np.int64, count=len(histories))
        starts, ends = self.row_starts_[last], self.row_starts_[last + 1]
        sizes = ends - starts
        rows = np.repeat(np.arange(len(last)), sizes)
        pos = _segments(starts, sizes)
        return rows, self.next_items_[pos], self.next_counts_[pos]

    def score_batch(self, histories: list[np.ndarray]) -> torch.Tensor:
        rows, cols, counts = self._transitions(histories)
        scores = torch.zeros(len(histories), self.n_items_ + 1)
        scores[torch.from_numpy(rows), torch.from_numpy(cols)] = torch.from_numpy(counts)
        pop = torch.from_numpy(self.popularity_)
        # Lexicographic: transition count first, popularity only breaks ties.
        return scores * (float(pop.max()) + 1.0) + pop

    def sparse_scores(self, histories: list[np.ndarray]) -> SparseScores:
        """score_batch's scores, stored only where a transition exists (the same float32 arithmetic)."""
        rows, cols, counts = self._transitions(histories)
        pop = torch.from_numpy(self.popularity_)
        values = torch.from_numpy(counts) * (float(pop.max()) + 1.0) + pop[torch.from_numpy(cols)]
        return SparseScores(rows, cols.astype(np.int64), values.numpy(), self.popularity_, len(histories))

    def _lists(self, histories: list[np.ndarray], seen: np.ndarray | None):
        """Each row's last item, the start and end of its transition list, and the masked (seen) pairs: their row,
        item, whether the row's list holds them and their score there."""
        n = self.n_items_ + 1
        last = np.fromiter((h[-1] if len(h) else 0 for h in histories), dtype=np.int64, count=len(histories))
        starts, ends = self.row_starts_[last], self.row_starts_[last + 1]
        seen = np.zeros(0, dtype=np.int64) if seen is None else seen
        s_rows, s_items = seen // n, seen % n
        keys = last[s_rows] * n + s_items
        at = np.minimum(np.searchsorted(self.keys_, keys), max(len(self.keys_) - 1, 0))
        listed = (self.keys_[at] == keys) if len(self.keys_) else np.zeros(len(keys), dtype=bool)
        return last, starts, ends, s_rows, s_items, listed, self.values_[at] if len(self.keys_) else np.zeros(0)

    def sparse_ranks(self, histories: list[np.ndarray], targets: np.ndarray, seen: np.ndarray | None) -> np.ndarray:
        """The pessimistic target ranks of score_batch's scores (equal to the dense evaluation's), counted in the
        last item's sorted list instead of per user: every transition scores above every popularity score."""
        n = self.n_items_ + 1
        b = len(histories)
        targets = np.asarray(targets, dtype=np.int64)
        last, starts, ends, s_rows, s_items, listed, s_values = self._lists(histories, seen)
        t_keys = last * n + targets
        at = np.minimum(np.searchsorted(self.keys_, t_keys), max(len(self.keys_) - 1, 0))
        t_listed = (self.keys_[at] == t_keys) if len(self.keys_) else np.zeros(b, dtype=bool)
        pop = self.popularity_
        t_score = np.where(t_listed, self.values_[at] if len(self.keys_) else 0, pop[np.clip(targets, 0, n - 1)])
        t_score = t_score.astype(np.float32)
        seen_listed = np.bincount(s_rows[listed], minlength=b)
        # a listed target: listed items scoring >= it (less itself and the masked ones)
        ahead_listed = (count_at_least(self.desc_values_, starts, ends, t_score, descending=True) - 1
                        - np.bincount(s_rows[listed & (s_values >= t_score[s_rows])], minlength=b))
        # an unlisted target: every unmasked listed item, then unlisted unmasked items by popularity
        ahead_unlisted = ((ends - starts) - seen_listed
                          + self.n_items_ - np.searchsorted(self.sorted_popularity_, t_score, side="left")
                          - count_at_least(self.asc_popularity_, starts, ends, t_score)
                          - np.bincount(s_rows[~listed & (pop[s_items] >= t_score[s_rows])], minlength=b) - 1)
        ranks = (np.where(t_listed, ahead_listed, ahead_unlisted) + 1).astype(np.float64)
        masked = np.zeros(b, dtype=bool)
        if seen is not None and len(seen):
            pos = np.minimum(np.searchsorted(seen, np.arange(b) * n + targets), len(seen) - 1)
            masked = seen[pos] == np.arange(b) * n + targets
        return np.where((targets <= 0) | (targets >= n) | masked, np.inf, ranks)

    def sparse_top(self, histories: list[np.ndarray], k: int, seen: np.ndarray | None) -> SparseScores:
        """Each row's k best unmasked transitions at least: the head of its last item's sorted list, lengthened by
        the number of its masked items the list holds."""
        last, starts, ends, s_rows, _, listed, _ = self._lists(histories, seen)
        take = np.minimum(ends - starts, k + np.bincount(s_rows[listed], minlength=len(histories)))
        pos = _segments(starts, take)
        rows = np.repeat(np.arange(len(histories)), take)
        return SparseScores(rows, self.desc_items_[pos].astype(np.int64), self.desc_values_[pos], self.popularity_,
                            len(histories))


BASELINES = (MostPopular, ItemTransitions)


# ------------------------------------------------------------------------------------------------------------------
# Stronger baselines: fitted once per dataset, scored a whole batch at a time with scipy.sparse / numpy.
# ------------------------------------------------------------------------------------------------------------------

TIE_LEVELS = 1 << 14
"""Score levels per row before popularity breaks ties (see `with_popularity_ties`). A float32 score cannot hold a
float primary key and a popularity key exactly, so the primary score is rounded up to 1/TIE_LEVELS of the row's best
score: items closer than that count as tied. At the top level popularity still has 2^23 / TIE_LEVELS = 512 steps."""


def with_popularity_ties(scores: np.ndarray, popularity: np.ndarray) -> torch.Tensor:
    """Float32 scores ordered by `scores` (>= 0) first and by popularity among ties, like ItemTransitions.

    Items a baseline gives no score (0) stay below every scored item, in popularity order, so a baseline never ranks
    worse than MostPopular on the items it knows nothing about. Always finite.
    """
    top = scores.max(axis=1, keepdims=True)
    quantum = np.where(top > 0, top / TIE_LEVELS, 1.0)
    levels = np.ceil(scores / quantum)  # ceil: the smallest positive score still beats every unscored item
    tie_break = popularity / (float(popularity.max()) + 1.0)  # in [0, 1): never lifts an item to the next level
    return torch.from_numpy((levels + tie_break).astype(np.float32))


def sparse_with_popularity_ties(raw: sp.csr_matrix, popularity: np.ndarray) -> SparseScores:
    """`with_popularity_ties` on a sparse raw score matrix: the same float32 values where `raw` stores an entry,
    and the popularity tie-break (level 0) everywhere else."""
    raw = raw.tocsr()
    raw.sort_indices()  # row by row, items ascending: the order the ranking expects (no re-sort there)
    tie_break = popularity / (float(popularity.max()) + 1.0)
    rows = np.repeat(np.arange(raw.shape[0]), np.diff(raw.indptr))
    top = np.zeros(raw.shape[0])
    nonempty = np.diff(raw.indptr) > 0
    if raw.nnz:
        top[nonempty] = np.maximum.reduceat(raw.data, raw.indptr[:-1][nonempty])
    top = np.maximum(top, 0.0)
    quantum = np.where(top > 0, top / TIE_LEVELS, 1.0)
    cols = raw.indices.astype(np.int64)
    values = (np.ceil(raw.data / quantum[rows]) + tie_break[cols]).astype(np.float32)
    return SparseScores(rows, cols, values, tie_break.astype(np.float32), raw.shape[0])


def _flat(histories: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All items of a batch of histories at once: (items, row of each, 1-based position, row lengths)."""
    lengths = np.fromiter((len(h) for h in histories), dtype=np.int64, count=len(histories))
    items = np.concatenate(histories).astype(np.int64) if lengths.sum() else np.zeros(0, dtype=np.int64)
    rows = np.repeat(np.arange(len(histories)), lengths)
    positions = np.arange(len(items)) - np.repeat(np.cumsum(lengths) - lengths, lengths) + 1
    return items, rows, positions, lengths


def _binary_rows(sequences: list[np.ndarray], n_cols: int) -> sp.csr_matrix:
    """Sequence x item matrix with a 1 where the sequence holds the item (repeats count once), sorted indices."""
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    items = np.concatenate(sequences).astype(np.int64) if lengths.sum() else np.zeros(0, dtype=np.int64)
    rows = np.repeat(np.arange(len(sequences)), lengths)
    m = sp.csr_matrix((np.ones(len(items), dtype=np.float32), (rows, items)), shape=(len(sequences), n_cols))
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def _rank_in_group(groups: np.ndarray) -> np.ndarray:
    """0-based position of each element inside its run of equal, already sorted `groups` values."""
    return np.arange(len(groups)) - np.searchsorted(groups, groups)


def _segments(starts: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    """Indices start..start+size-1 of every segment, concatenated (the vectorised gather ItemTransitions uses)."""
    return np.repeat(starts - np.cumsum(sizes) + sizes, sizes) + np.arange(int(sizes.sum()))


class Repeat:
    """Recommends the user's own past items, most frequent first (ties: the more recent first), above every item
    they have not seen, which follow by popularity. Strong where people re-buy and re-click; with exclude-seen it
    is MostPopular by construction."""

    name = "repeat"
    label = "Repeat own items"

    def fit(self, sequences: list[np.ndarray], n_items: int, valid=None, exclude_seen: bool = False) -> Repeat:
        self.n_items_ = n_items
        self.popularity_ = MostPopular().fit(sequences, n_items).counts_
        return self

    def _seen(self, histories: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Flat (row * (n_items + 1) + item) index of every distinct (history, item) pair and its key: the count of
        the item in the history + its last position / (length + 1), which is in (0, 1) and breaks count ties only."""
        items, rows, positions, lengths = _flat(histories)
        key = rows * (self.n_items_ + 1) + items
        # np.unique reports each pair's first index, so on the reversed batch that is the pair's last occurrence.
        uniq, first_from_end, counts = np.unique(key[::-1], return_index=True, return_counts=True)
        last_pos = positions[::-1][first_from_end]
        return uniq, counts + last_pos / (lengths[uniq // (self.n_items_ + 1)] + 1.0)

    def raw_scores(self, histories: list[np.ndarray]) -> np.ndarray:
        """(B, n_items + 1): each seen item's key (see `_seen`), 0 where unseen."""
        out = np.zeros((len(histories), self.n_items_ + 1))
        flat, value = self._seen(histories)
        out.ravel()[flat] = value
        return out

    def score_batch(self, histories: list[np.ndarray]) -> torch.Tensor:
        # Unseen items get the popularity fraction in [0, 1), seen ones 1 + their key: one pass over the matrix.
        pop = (self.popularity_ / (float(self.popularity_.max()) + 1.0)).astype(np.float32)
        out = np.tile(pop, (len(histories), 1))
        flat, value = self._seen(histories)
        out.ravel()[flat] = 1.0 + value
        return torch.from_numpy(out)

    def sparse_scores(self, histories: list[np.ndarray]) -> SparseScores:
        pop = (self.popularity_ / (float(self.popularity_.max()) + 1.0)).astype(np.float32)
        flat, value = self._seen(histories)
        n_cols = self.n_items_ + 1
        return SparseScores(flat // n_cols, flat % n_cols, (1.0 + value).astype(np.float32), pop, len(histories))


TUNE_ROWS = 8192  # validation histories ranked at once while choosing K (as the evaluation batches them)
SIM_BLOCK_ELEMENTS = 1 << 22  # ItemKNN fit: co-occurrence entries computed at once (a block of item rows)


class ItemKNN:
    """Item-to-item kNN: cosine similarity of items by the training sequences that hold them (each item keeps only
    its `neighbours` most similar items, so the matrix stays sparse for large catalogues); a history scores each item
    by the similarities summed over its last `k_history` items, the most recent weighted most (weight 1/p for the
    p-th item from the end). `tune` (or `fit(..., valid=(histories, targets))`) picks `k_history` from
    `k_grid` by validation Recall@20."""

    name = "item_knn"
    label = "Item kNN"

    def __init__(self, neighbours: int = 100, k_history: int = 3, k_grid: tuple[int, ...] = (1, 2, 3, 5, 10)):
        self.neighbours = neighbours
        self.k_history = k_history
        self.k_grid = k_grid

    def fit(self, sequences: list[np.ndarray], n_items: int, valid=None, exclude_seen: bool = False) -> ItemKNN:
        self.n_items_ = n_items
        self.popularity_ = MostPopular().fit(sequences, n_items).counts_
        self.sim_ = self._similarities(_binary_rows(sequences, n_items + 1))
        if valid is not None:
            self.tune(valid[0], valid[1], exclude_seen)
        return self

    def _similarities(self, x: sp.csr_matrix) -> sp.csr_matrix:
        """Row i: item i's `neighbours` most cosine-similar items (itself excluded). Computed a block of items at a
        time, at most SIM_BLOCK_ELEMENTS co-occurrences per block (popular items co-occur with nearly everything),
        so fitting 40,000 items needs a few hundred MB at most, never the full co-occurrence matrix."""
        n_cols = x.shape[1]
        chunk = max(16, min(4096, SIM_BLOCK_ELEMENTS // n_cols))
        norms = np.sqrt(np.asarray(x.sum(axis=0)).ravel().astype(np.float64))
        xt = x.T.tocsr()
        parts = []
        for start in range(0, n_cols, chunk):
            block = (xt[start: start + chunk] @ x).tocoo()
            r, c = block.row.astype(np.int64) + start, block.col.astype(np.int64)
            off_diagonal = r != c
            r, c, v = r[off_diagonal], c[off_diagonal], block.data[off_diagonal].astype(np.float64)
            sim = v / (norms[r] * norms[c])
            order = np.lexsort((c, -sim, r))  # per row: most similar first, ties by item code (deterministic)
            r, c, sim = r[order], c[order], sim[order]
            keep = _rank_in_group(r) < self.neighbours
            parts.append((r[keep], c[keep], sim[keep]))
        r, c, sim = (np.concatenate(p) for p in zip(*parts)) if parts else (np.zeros(0, dtype=np.int64),) * 3
        return sp.csr_matrix((sim, (r, c)), shape=(n_cols, n_cols))

    def raw_sparse(self, histories: list[np.ndarray], k_history: int | None = None) -> sp.csr_matrix:
        """Sparse (B, n_items + 1): sum over the last k_history items (p = 1 the latest) of similarity / p."""
        k = self.k_history if k_history is None else k_history
        items, rows, positions, lengths = _flat(histories)
        from_end = lengths[rows] - positions + 1
        recent = from_end <= k
        query = sp.csr_matrix((1.0 / from_end[recent], (rows[recent], items[recent])),
                              shape=(len(histories), self.n_items_ + 1))  # a repeated item adds its weights up
        return (query @ self.sim_).tocsr()

    def raw_scores(self, histories: list[np.ndarray], k_history: int | None = None) -> np.ndarray:
        """raw_sparse as a dense (B, n_items + 1) array."""
        return self.raw_sparse(histories, k_history).toarray()

    def score_batch(self, histories: list[np.ndarray]) -> torch.Tensor:
        return with_popularity_ties(self.raw_scores(histories), self.popularity_)

    def sparse_scores(self, histories: list[np.ndarray], k_history: int | None = None) -> SparseScores:
        return sparse_with_popularity_ties(self.raw_sparse(histories, k_history), self.popularity_)

    def tune(self, histories: list[np.ndarray], targets: np.ndarray, exclude_seen: bool = False) -> ItemKNN:
        """Set k_history to the value of k_grid with the best Recall@20 on (histories, targets), scored through the
        evaluation's own pessimistic ranks (seqrec.model.sparse); ties go to the smaller K. Returns self; `tuning_`
        keeps every K's Recall@20."""
        self.tuning_ = {}
        targets = np.asarray(targets, dtype=np.int64)
        for k in sorted(self.k_grid):
            ranks = np.empty(len(histories), dtype=np.float64)
            for start in range(0, len(histories), TUNE_ROWS):  # the evaluation's pessimistic ranks, a batch at a time
                batch = histories[start: start + TUNE_ROWS]
                seen = _seen_keys(batch, self.n_items_ + 1) if exclude_seen else None
                ranks[start: start + len(batch)] = target_ranks_sparse(
                    self.sparse_scores(batch, k), targets[start: start + len(batch)], self.n_items_, seen)
            self.tuning_[k] = float((ranks <= 20).mean()) if len(ranks) else 0.0
        self.k_history = max(self.tuning_, key=lambda k: (self.tuning_[k], -k))
        return self


class SessionKNN:
    """V-SKNN as in session-rec (`knn/vsknn.py`, Ludewig & Jannach 2018), each training sequence a session.

    For a history of length L, item weights grow linearly with position (the p-th item weighs p / L; a repeated item
    keeps its latest weight). Candidates are the `sample` most recent training sequences sharing an item with the
    history; each gets the cosine similarity sum(weights of shared items) / (|weights| * sqrt(its distinct items));
    the `k` most similar are the neighbours (ties: the more recent). An item scores the sum over neighbours holding
    it of similarity / s, where s is the position from the end of the latest history item that neighbour shares
    (session-rec's `div_score`). Items of the history are scored too (session-rec's remind; exclude-seen masks
    them). Deviation: neighbours holding nothing beyond the history are dropped, which keeps a user's own training
    sequence (a prefix of every leave-last-out history) from using up a neighbour slot.

    Recency: `fit(..., last_times=...)` gives each sequence's last timestamp; without it, later sequences count as
    more recent.
    """

    name = "session_knn"
    label = "Session kNN (V-SKNN)"

    def __init__(self, k: int = 100, sample: int = 500, route: str = "auto"):
        self.k = k
        self.sample = sample
        self.route = route  # "auto", or force "full" / "sampled" (tests, benchmarks): the same scores either way

    def fit(self, sequences: list[np.ndarray], n_items: int, valid=None, exclude_seen: bool = False,
            last_times: np.ndarray | None = None) -> SessionKNN:
        self.n_items_ = n_items
        self.popularity_ = MostPopular().fit(sequences, n_items).counts_
        # Sessions are renumbered oldest first, so "most recent" is simply "largest number" everywhere below.
        order = np.arange(len(sequences)) if last_times is None else np.argsort(last_times, kind="stable")
        self.sessions_ = _binary_rows([sequences[i] for i in order], n_items + 1)  # session x item, sorted indices
        self.sizes_ = np.diff(self.sessions_.indptr)
        self.by_item_ = self.sessions_.T.tocsr()  # item x session, sorted indices
        self.by_item_.sort_indices()
        self.recent_ = self._recent_sessions_per_item()
        return self

    def _recent_sessions_per_item(self) -> sp.csr_matrix:
        """Item x session keeping each item's `sample` most recent sessions. Enough to find every row's sample: a
        session among the `sample` most recent of a union is among the `sample` most recent of its own item's."""
        by_item = self.by_item_
        item = np.repeat(np.arange(by_item.shape[0]), np.diff(by_item.indptr))
        from_end = np.repeat(by_item.indptr[1:], np.diff(by_item.indptr)) - np.arange(by_item.nnz)
        keep = from_end <= self.sample
        return sp.csr_matrix((by_item.data[keep], (item[keep], by_item.indices[keep])), shape=by_item.shape)

    @staticmethod
    def _last_per_row(m: sp.csr_matrix, count: int) -> np.ndarray:
        """Mask of the last `count` stored entries of each row (the most recent sessions, as they are numbered by
        age; indices sorted)."""
        return np.repeat(m.indptr[1:], np.diff(m.indptr)) - np.arange(m.nnz) <= count

    def _candidates(self, latest: np.ndarray, weights: np.ndarray):
        """Each row's `sample` most recent sessions sharing an item, with the shared count and sum of weights.

        Two exact routes, the cheaper one per batch: products with every item's sessions (cost: the sessions of
        the history's items; cheap when histories or popular items are few), or the candidates from each item's
        recent sessions only and the overlap counted on those (cost: sample x session length). `latest` and
        `weights`: (B, n_items + 1) latest position and weight of each history item, 0 where absent."""
        query = sp.csr_matrix((latest > 0).astype(np.float64))
        n_items_sessions = np.diff(self.by_item_.indptr)
        full_cost = int(n_items_sessions[query.indices].sum())
        sampled_cost = query.shape[0] * self.sample * max(1.0, float(self.sizes_.mean()) if len(self.sizes_) else 1)
        if self.route == "full" or (self.route == "auto" and full_cost <= sampled_cost):
            shared = (query @ self.by_item_).tocsr()
            num = (sp.csr_matrix(weights) @ self.by_item_).tocsr()  # the sparsity of `shared`: weights are > 0
            shared.sort_indices()
            num.sort_indices()
            keep = self._last_per_row(shared, self.sample)
            c_rows = np.repeat(np.arange(query.shape[0]), np.diff(shared.indptr))[keep]
            return c_rows, shared.indices[keep].astype(np.int64), shared.data[keep], num.data[keep]
        cand = (query @ self.recent_).tocsr()
        cand.sort_indices()
        keep = self._last_per_row(cand, self.sample)
        c_rows = np.repeat(np.arange(query.shape[0]), np.diff(cand.indptr))[keep]
        c_sess = cand.indices[keep].astype(np.int64)
        sizes = self.sizes_[c_sess]
        its = self.sessions_.indices[_segments(self.sessions_.indptr[c_sess], sizes)]
        flat = np.repeat(c_rows * latest.shape[1], sizes) + its
        starts = np.cumsum(sizes) - sizes  # every candidate holds >= 1 item, so no segment is empty
        if not len(starts):
            return c_rows, c_sess, np.zeros(0), np.zeros(0)
        shared = np.add.reduceat((latest.ravel()[flat] > 0).astype(np.float64), starts)
        num = np.add.reduceat(weights.ravel()[flat], starts)
        return c_rows, c_sess, shared, num

    def _neighbours(self, histories: list[np.ndarray]):
        """The kept (row, session, similarity / s) triples of a batch, vectorised over rows and candidates."""
        items, rows, positions, lengths = _flat(histories)
        n_cols, b = self.n_items_ + 1, len(histories)
        latest = np.zeros((b, n_cols), dtype=np.int64)  # latest position of each history item, 0 if absent
        np.maximum.at(latest, (rows, items), positions)
        weights = latest / np.maximum(lengths, 1)[:, None]  # the p-th item weighs p / L
        q_norm = np.sqrt((weights ** 2).sum(axis=1))
        c_rows, c_sess, n_shared, num = self._candidates(latest, weights)
        sizes = self.sizes_[c_sess]
        sim = num / (q_norm[c_rows] * np.sqrt(sizes))
        useful = n_shared < sizes  # drop sessions that hold nothing beyond the history
        c_rows, c_sess, sim = c_rows[useful], c_sess[useful], sim[useful]
        order = np.lexsort((-c_sess, -sim, c_rows))  # per row: most similar first, ties: the more recent
        top = order[_rank_in_group(c_rows[order]) < self.k]
        c_rows, c_sess, sim = c_rows[top], c_sess[top], sim[top]
        # session-rec's decay 1/s: s = position from the end of the latest history item the neighbour shares.
        sizes = self.sizes_[c_sess]
        its = self.sessions_.indices[_segments(self.sessions_.indptr[c_sess], sizes)]
        pos = latest.ravel()[np.repeat(c_rows * n_cols, sizes) + its]
        newest = np.maximum.reduceat(pos, np.cumsum(sizes) - sizes) if len(sizes) else np.zeros(0, np.int64)
        return c_rows, c_sess, sim / (lengths[c_rows] - newest + 1)

    def raw_sparse(self, histories: list[np.ndarray]) -> sp.csr_matrix:
        """Sparse (B, n_items + 1): each item's summed neighbour similarity / s (absent where no neighbour holds it)."""
        rows, sessions, weights = self._neighbours(histories)
        w = sp.csr_matrix((weights, (rows, sessions)), shape=(len(histories), self.sessions_.shape[0]))
        out = (w @ self.sessions_).tocsr()
        return out.astype(np.float64) if out.dtype != np.float64 else out

    def raw_scores(self, histories: list[np.ndarray]) -> np.ndarray:
        return self.raw_sparse(histories).toarray()

    def score_batch(self, histories: list[np.ndarray]) -> torch.Tensor:
        return with_popularity_ties(self.raw_scores(histories), self.popularity_)

    def sparse_scores(self, histories: list[np.ndarray]) -> SparseScores:
        return sparse_with_popularity_ties(self.raw_sparse(histories), self.popularity_)


STRONG_BASELINES = (Repeat, ItemKNN, SessionKNN)
ALL_BASELINES = BASELINES + STRONG_BASELINES
"""Every baseline in display order: most_popular, item_transitions, repeat, item_knn, session_knn; the protocol
(seqrec.evaluation.protocol.fit_baselines) fits all of them once per dataset. BASELINES holds the two counting ones."""


def fit_all(sequences: list[np.ndarray], n_items: int, valid=None, exclude_seen: bool = False,
            classes=ALL_BASELINES) -> dict:
    """name -> each baseline of `classes` fitted on `sequences` (a split's training parts); `valid` = (histories,
    targets) lets those with a validation choice (ItemKNN's K) make it, under the evaluation's exclude-seen setting."""
    return {cls.name: cls().fit(sequences, n_items, valid=valid, exclude_seen=exclude_seen) for cls in classes}
