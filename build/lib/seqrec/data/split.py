"""Sequences and the evaluation protocol: per user, chronological leave-last-out.

The last item of each user's sequence is the test target, the second-to-last the validation target, the rest the
training history. Every model and baseline is evaluated on exactly these arrays.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from seqrec.data.prepare import Interactions
from seqrec.errors import SeqrecError


@dataclass
class ItemVocab:
    """Raw item IDs <-> model indices. Index 0 is padding; item i (0-based in `ids`) has index i + 1."""

    ids: np.ndarray  # str, most popular first

    def __post_init__(self):
        self.ids = np.asarray(self.ids, dtype=object)
        self._lookup: dict | None = None

    @property
    def _index(self) -> dict:
        """Raw ID -> index, built on the first encode (loading a log of 100,000 items need not build it)."""
        if self._lookup is None:
            self._lookup = {str(v): i + 1 for i, v in enumerate(self.ids)}
        return self._lookup

    def __len__(self) -> int:
        return len(self.ids)

    def encode(self, raw: list[str]) -> tuple[np.ndarray, list[str]]:
        """Indices of the known items (in order) and the list of unknown ones (reported, never silently dropped)."""
        codes, unknown = [], []
        for r in raw:
            i = self._index.get(str(r))
            if i is None:
                unknown.append(str(r))
            else:
                codes.append(i)
        return np.asarray(codes, dtype=np.int64), unknown

    def decode(self, codes) -> list[str]:
        return [str(self.ids[int(c) - 1]) for c in codes]


@dataclass
class SplitData:
    vocab: ItemVocab
    users: np.ndarray
    train: list[np.ndarray]  # per user: the training part (all but the last two items), as indices
    valid_target: np.ndarray
    test_target: np.ndarray

    @property
    def n_items(self) -> int:
        return len(self.vocab)

    @property
    def valid_histories(self) -> list[np.ndarray]:
        return self.train

    @property
    def test_histories(self) -> list[np.ndarray]:
        return [np.append(t, v) for t, v in zip(self.train, self.valid_target)]

    def histories(self, part: str) -> tuple[list[np.ndarray], np.ndarray]:
        if part == "valid":
            return self.valid_histories, self.valid_target
        if part == "test":
            return self.test_histories, self.test_target
        raise ValueError(part)

    @functools.cached_property
    def repeat_share(self) -> float:
        """repeat_share(self.train), computed once per split (automatic settings read it for every training)."""
        return repeat_share(self.train)

    def full_sequence(self, user_index: int) -> np.ndarray:
        return np.concatenate([self.train[user_index], [self.valid_target[user_index], self.test_target[user_index]]])


def _coded_sequences(data: Interactions) -> tuple[np.ndarray, np.ndarray, np.ndarray, ItemVocab]:
    """(users, starts, codes, vocab): the log's item indices in one flat array (already user/time-sorted) and the
    row each user starts at, plus a last offset (the total); no per-user arrays are made here. The integer codes
    prepare kept are used when they belong to this very frame; any other frame is coded from its strings."""
    coded = data.coded
    if coded is not None and coded.matches(data.df):
        users, starts, items, item_ids = coded.users.copy(), coded.starts, coded.items, coded.item_ids
        counts = np.bincount(items, minlength=len(item_ids))
        first = np.full(len(item_ids), len(items), dtype=np.int64)
        np.minimum.at(first, items, np.arange(len(items)))  # each item's first row
        seen = np.flatnonzero(counts)
        by_first = seen[np.argsort(first[seen])]  # the items in order of first appearance in the log
    else:
        df = data.df
        items, item_ids = pd.factorize(df["item"])  # codes in order of first appearance
        item_ids = np.asarray(item_ids, dtype=object)
        counts = np.bincount(items, minlength=len(item_ids))
        by_first = np.arange(len(item_ids))
        all_users = df["user"].to_numpy()
        starts = np.flatnonzero(np.concatenate([[True], all_users[1:] != all_users[:-1]]))
        users = all_users[starts]
    # most popular first, ties by first appearance (= value_counts)
    by_count = by_first[np.argsort(-counts[by_first], kind="stable")]
    rank = np.zeros(len(item_ids), dtype=np.int64)
    rank[by_count] = np.arange(1, len(by_count) + 1)
    vocab = ItemVocab(item_ids[by_count])
    codes = rank[items]
    offsets = np.append(starts, len(codes)).astype(np.int64)
    return users, offsets, codes, vocab


def user_sequences(data: Interactions) -> tuple[np.ndarray, list[np.ndarray], ItemVocab]:
    """Group the (already user/time-sorted) log into one index sequence per user (views of one flat array)."""
    users, offsets, codes, vocab = _coded_sequences(data)
    bounds = offsets.tolist()
    return users, [codes[a:b] for a, b in zip(bounds[:-1], bounds[1:])], vocab


def leave_last_out(data: Interactions) -> SplitData:
    users, offsets, codes, vocab = _coded_sequences(data)
    if (np.diff(offsets) < 3).any():
        raise SeqrecError("Every user needs at least 3 interactions for a train/validation/test split; set the "
                          "minimum interactions per user to 3 or more.")
    ends = offsets[1:]
    bounds = offsets.tolist()
    # per user the training part is a view of the flat array (no copies), the two targets come from the offsets
    train = [codes[a:b - 2] for a, b in zip(bounds[:-1], bounds[1:])]
    return SplitData(vocab=vocab, users=users, train=train, valid_target=codes[ends - 2], test_target=codes[ends - 1])


def repeat_share(train: list[np.ndarray]) -> float:
    """Share of the training sequences' next items (every position after the first) that repeat an item earlier in
    the same sequence: ~0 on ratings (each item once per user), 10-40% on shop and click logs. 0.0 when there are
    no next items."""
    lengths = np.fromiter((len(s) for s in train), dtype=np.int64, count=len(train))
    steps = int(np.maximum(lengths - 1, 0).sum())
    if steps == 0:
        return 0.0
    items = np.concatenate(train).astype(np.int64)
    owner = np.repeat(np.arange(len(train), dtype=np.int64), lengths)
    keys = owner * (int(items.max()) + 1) + items
    keys.sort()  # then count the distinct (sequence, item) pairs: ~30x faster than np.unique on a million
    distinct = 1 + int(np.count_nonzero(keys[1:] != keys[:-1]))
    return (len(items) - distinct) / steps


def pad_batch(seqs: list[np.ndarray], max_len: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad the last `max_len` items of each sequence with 0; returns (batch, lengths)."""
    if max_len:
        seqs = [s[-max_len:] for s in seqs]
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    out = np.zeros((len(seqs), max(1, int(lengths.max()) if len(seqs) else 1)), dtype=np.int64)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = s
    return out, lengths
