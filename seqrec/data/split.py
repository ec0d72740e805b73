"""Sequences and the evaluation protocol: per user, chronological leave-last-out.

The last item of each user's sequence is the test target, the second-to-last the validation target, the rest the
training history. Every model and baseline is evaluated on exactly these arrays.
"""
from __future__ import annotations

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
        self._index = {str(v): i + 1 for i, v in enumerate(self.ids)}

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

    def full_sequence(self, user_index: int) -> np.ndarray:
        return np.concatenate([self.train[user_index], [self.valid_target[user_index], self.test_target[user_index]]])


def user_sequences(data: Interactions) -> tuple[np.ndarray, list[np.ndarray], ItemVocab]:
    """Group the (already user/time-sorted) log into one index sequence per user, vectorised."""
    df = data.df
    first_seen, uniques = pd.factorize(df["item"])  # codes in order of first appearance
    counts = np.bincount(first_seen, minlength=len(uniques))
    by_count = np.argsort(-counts, kind="stable")  # most popular first, ties by first appearance (= value_counts)
    rank = np.empty(len(uniques), dtype=np.int64)
    rank[by_count] = np.arange(len(uniques))
    vocab = ItemVocab(np.asarray(uniques, dtype=object)[by_count])
    codes = rank[first_seen] + 1
    users = df["user"].to_numpy()
    starts = np.flatnonzero(np.concatenate([[True], users[1:] != users[:-1]]))
    seqs = np.split(codes, starts[1:])
    return users[starts], seqs, vocab


def leave_last_out(data: Interactions) -> SplitData:
    users, seqs, vocab = user_sequences(data)
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    if (lengths < 3).any():
        raise SeqrecError("Every user needs at least 3 interactions for a train/validation/test split; set the "
                          "minimum interactions per user to 3 or more.")
    return SplitData(vocab=vocab, users=users, train=[s[:-2] for s in seqs],
                     valid_target=np.fromiter((s[-2] for s in seqs), dtype=np.int64, count=len(seqs)),
                     test_target=np.fromiter((s[-1] for s in seqs), dtype=np.int64, count=len(seqs)))


def pad_batch(seqs: list[np.ndarray], max_len: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Right-pad the last `max_len` items of each sequence with 0; returns (batch, lengths)."""
    if max_len:
        seqs = [s[-max_len:] for s in seqs]
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    out = np.zeros((len(seqs), max(1, int(lengths.max()) if len(seqs) else 1)), dtype=np.int64)
    for i, s in enumerate(seqs):
        out[i, : len(s)] = s
    return out, lengths
