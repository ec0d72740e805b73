"""Simple baselines computed beside every neural model, as small estimators (`fit` returns self).

Both score with the same (B, n_items + 1) interface as the neural model, so evaluation runs the identical code path.
"""
from __future__ import annotations

import numpy as np
import torch


class MostPopular:
    """Recommends the items seen most often in training, whatever the history."""

    name = "most_popular"
    label = "MostPopular"

    def fit(self, sequences: list[np.ndarray], n_items: int) -> "MostPopular":
        flat = np.concatenate(sequences) if sequences else np.zeros(0, dtype=np.int64)
        self.counts_ = np.bincount(flat, minlength=n_items + 1).astype(np.float32)
        self.counts_[0] = 0
        return self

    def score_batch(self, histories: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(self.counts_).unsqueeze(0).expand(len(histories), -1)


class ItemTransitions:
    """Recommends what most often followed the user's last item in training (a first-order Markov chain); ties and
    unseen transitions fall back to popularity."""

    name = "item_transitions"
    label = "Item-to-item transitions"

    def fit(self, sequences: list[np.ndarray], n_items: int) -> "ItemTransitions":
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
        return self

    def score_batch(self, histories: list[np.ndarray]) -> torch.Tensor:
        last = np.fromiter((h[-1] if len(h) else 0 for h in histories), dtype=np.int64, count=len(histories))
        starts, ends = self.row_starts_[last], self.row_starts_[last + 1]
        sizes = ends - starts
        # Every stored transition out of each row's last item, gathered at once (no per-user loop).
        rows = np.repeat(np.arange(len(last)), sizes)
        offsets = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        pos = np.repeat(starts, sizes) + offsets
        scores = torch.zeros(len(last), self.n_items_ + 1)
        scores[torch.from_numpy(rows), torch.from_numpy(self.next_items_[pos])] = torch.from_numpy(self.next_counts_[pos])
        pop = torch.from_numpy(self.popularity_)
        # Lexicographic: transition count first, popularity only breaks ties.
        return scores * (float(pop.max()) + 1.0) + pop


BASELINES = (MostPopular, ItemTransitions)
