"""Users and their histories in a prepared dataset: find a user, their position in the split, their item IDs and
event times. Plain lists and arrays: what a page shows about them (names, roles, dates) is studio's business."""
from __future__ import annotations

import numpy as np

from seqrec.errors import SeqrecError


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


def user_events(ds, user_id: str) -> tuple[list[str], np.ndarray]:
    """(item IDs, times) of a user's whole sequence, oldest first; times are the log's values (epoch seconds when
    the time column held dates). The times can be fewer than the items only in a log that does not match its split."""
    ids = user_item_ids(ds, user_id)
    start = _user_row_starts(ds)[user_index(ds, user_id)]
    return ids, ds.interactions.df["time"].to_numpy()[start: start + len(ids)]


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


def user_histories(interactions) -> tuple[list[str], list[np.ndarray]]:
    """Every user's raw item IDs, oldest first (the processed log is sorted by user, then time)."""
    users = interactions.df["user"].to_numpy(dtype=object)
    items = interactions.df["item"].to_numpy(dtype=object)
    if not len(users):
        return [], []
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    ends = np.r_[starts[1:], len(users)]
    return [str(users[s]) for s in starts], [items[s:e] for s, e in zip(starts, ends)]
