"""Building the clean table: mapped columns -> a validated, time-ordered, filtered log of (user, item, time).

All problems with the raw values (IDs, times, ratings, filters) are collected and reported together as one
SeqrecError sentence. `load_interactions` is the whole data layer in one call (read, map columns, prepare).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from seqrec.data.columns import ColumnMap, resolve_columns
from seqrec.data.read import Source, read_tables, source_name
from seqrec.data.times import quoted, try_parse_times
from seqrec.errors import SeqrecError

MAX_ID_CHARS = 10_000  # longer "IDs" are a broken delimiter or quote swallowing the rest of the file
MISSING_ID_TOKENS = ["nan", "NaN", "NAN", "null", "NULL", "Null", "none", "None", "NONE", "N/A", "n/a", "#N/A",
                     "<NA>", "NaT"]  # what exports write for a missing value; never a real user or item ID


@dataclass
class Filters:
    """What to keep. Defaults keep everything a leave-last-out split can use (3+ events per user)."""

    min_user_interactions: int = 3
    min_item_count: int = 1
    max_events_per_user: int | None = None
    remove_repeats: bool = False
    min_rating: float | None = None
    event_types: Sequence[str] | None = None

    def validate(self, training: bool = True) -> "Filters":
        """Training needs 3+ events per user; recommending after each history (training=False) needs only 1."""
        problems = []
        least = 3 if training else 1
        if not isinstance(self.min_user_interactions, int) or self.min_user_interactions < least:
            why = ", because each user needs a training, a validation and a test item" if training else ""
            problems.append(f"minimum interactions per user must be a whole number of at least {least}{why} "
                            f"(got {self.min_user_interactions!r})")
        if not isinstance(self.min_item_count, int) or self.min_item_count < 1:
            problems.append(f"minimum item count must be a whole number of at least 1 (got {self.min_item_count!r})")
        if self.max_events_per_user is not None and (not isinstance(self.max_events_per_user, int)
                                                     or self.max_events_per_user < 3):
            problems.append(f"maximum events per user must be empty or a whole number of at least 3 "
                            f"(got {self.max_events_per_user!r})")
        if problems:
            raise SeqrecError("Invalid data filters: " + "; ".join(problems) + ".")
        return self


@dataclass
class Interactions:
    """A validated, filtered log sorted by user then time (ties in file order).

    `df` has string columns `user`, `item`, a float column `time` (seconds since the epoch when the file held real
    dates, otherwise the file's own numbers), and optional `event` / `rating` columns.
    """

    df: pd.DataFrame
    columns: ColumnMap
    time_is_datetime: bool
    raw_rows: int
    notes: list[str] = field(default_factory=list)

    @property
    def n_users(self) -> int:
        return int(self.df["user"].nunique())

    @property
    def n_items(self) -> int:
        return int(self.df["item"].nunique())

    def __len__(self) -> int:
        return len(self.df)

def _id_problem(values: pd.Series, role: str, column: str, row_offset: int) -> tuple[str, str] | None:
    """Empty, NaN/null or absurdly long user/item IDs, as (what, fix); None when the column is fine."""
    tokens = values.isin(MISSING_ID_TOKENS).to_numpy()
    missing = values.isna().to_numpy() | tokens
    if missing.any():
        line = int(np.flatnonzero(missing)[0]) + row_offset
        if tokens.any():
            words = ", ".join(repr(t) for t in pd.unique(values[tokens])[:3])
            what = (f"the {role} column '{column}' has {int(missing.sum()):,} empty or missing value(s) such as "
                    f"{words} (first on line {line})")
        else:
            what = f"the {role} column '{column}' has {int(missing.sum()):,} empty value(s) (first on line {line})"
        return what, "fill them in or delete those rows"
    lengths = values.astype("str").str.len().to_numpy()
    too_long = np.flatnonzero(lengths > MAX_ID_CHARS)
    if len(too_long):
        i = int(too_long[0])
        return (f"the {role} column '{column}' has {len(too_long):,} value(s) longer than {MAX_ID_CHARS:,} characters "
                f"(on line {i + row_offset}: {int(lengths[i]):,} characters)",
                "no ID is that long, so check the delimiter and the quotes on that line")
    return None


def _problems_message(problems: list[tuple[str, str]], name: str) -> str:
    """One sentence for one problem or several (each named, then one fix)."""
    if len(problems) == 1:
        what, fix = problems[0]
        return f"In {name}, {what}; {fix}."
    return (f"{name} has {len(problems)} problems: " + "; ".join(what for what, _ in problems)
            + "; fix these rows or choose other columns, then try again.")


def _user_time_order(out: pd.DataFrame) -> np.ndarray:
    """Row positions sorted by user, then time, ties in file order (rows are in file order): what a stable
    sort_values(["user", "time", "_row"]) gives, on integer codes, which is faster on a million string IDs."""
    users = pd.factorize(out["user"], sort=True)[0]
    users = users.astype(np.uint16) if len(users) and users.max() < 2**16 else users  # radix sort for < 65,536 users
    by_time = np.argsort(out["time"].to_numpy(), kind="stable")
    return by_time[np.argsort(users[by_time], kind="stable")]


def _drop_exact_duplicates(out: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Rows identical in every mapped column (same user, item and time) are one event logged twice: keep the first."""
    dup = out.duplicated(subset=[c for c in out.columns if c != "_row"]).to_numpy()
    return (out[~dup], int(dup.sum())) if dup.any() else (out, 0)


def _require_sequences(out: pd.DataFrame, name: str) -> None:
    """Refuse data that can never train, whatever the filters: one item (nothing to rank) or users who all have
    fewer events than a train / validation / test split needs."""
    items = out["item"].unique()
    if len(items) < 2:
        raise SeqrecError(f"{name} has only one distinct item ({quoted(items[0])}), so there is nothing to rank; a "
                          f"recommender needs at least 2 different items (ideally hundreds), so check that the item "
                          f"column is the right one.")
    longest = int(out["user"].value_counts().max())
    if longest < 3:
        have = "only one interaction per user" if longest == 1 else f"at most {longest} interactions per user"
        raise SeqrecError(f"{name} has {have}, but a next-item model needs at least 3 per user (one to learn from, "
                          f"one to validate, one to test); check that the user column identifies a person or a "
                          f"session, not an order or a single row.")


def prepare(df: pd.DataFrame, columns: ColumnMap, filters: Filters | None = None, name: str = "the file",
            training: bool = True) -> Interactions:
    """Validate the mapped columns, parse times, sort per user by time (ties in file order) and apply filters.
    All problems with the raw values are collected and reported together. training=False (histories to recommend
    after, not a split) accepts users with fewer than 3 events."""
    filters = (filters or Filters()).validate(training)
    raw_rows = len(df)
    row_offset = 2 if df.attrs.get("has_header", True) else 1
    problems = []
    for role in ("user", "item"):
        col = getattr(columns, role)
        problem = _id_problem(df[col], role, col, row_offset)
        if problem:
            problems.append(problem)
    times, is_dt, time_problem = try_parse_times(df[columns.time], columns.time, row_offset)
    if time_problem:
        problems.append(time_problem)
    rating = None
    if columns.rating:
        raw_rating = df[columns.rating]
        if df.attrs.get("delimiter", ",") != ",":  # e.g. ';' files from European spreadsheets write 4,5 for 4.5
            raw_rating = raw_rating.str.replace(",", ".", regex=False)
        rating = pd.to_numeric(raw_rating, errors="coerce")
        if filters.min_rating is not None:
            bad = rating.isna() & df[columns.rating].notna()
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                problems.append((f"the rating column '{columns.rating}' has {int(bad.sum()):,} non-numeric value(s), "
                                 f"e.g. {quoted(df[columns.rating].iloc[i])} on line {i + row_offset}, so it "
                                 f"cannot be filtered by a minimum rating", "fix those rows or remove the rating "
                                 "filter"))
    elif filters.min_rating is not None:
        problems.append(("a minimum rating was asked for but no rating column is mapped",
                         "choose the rating column or remove the rating filter"))
    if filters.event_types and not columns.event:
        problems.append(("event types to keep were given but no event-type column is mapped",
                         "choose the event-type column or remove the event filter"))
    if problems:
        raise SeqrecError(_problems_message(problems, name))
    out = pd.DataFrame({"user": df[columns.user].astype("str").array,  # .array: no round trip through Python
                        "item": df[columns.item].astype("str").array,  # strings (1M IDs: ~0.15 s saved)
                        "time": times})
    if columns.event:
        out["event"] = df[columns.event].astype("str").fillna("").to_numpy()
    if rating is not None:
        out["rating"] = rating.to_numpy()
    out["_row"] = np.arange(len(out))
    notes = []
    out, n_dupes = _drop_exact_duplicates(out)
    if n_dupes:
        notes.append(f"removed {n_dupes:,} exact duplicate row(s) (same user, item and time as an earlier row)")
    if training:
        _require_sequences(out, name)
    if filters.event_types:
        keep = set(map(str, filters.event_types))
        out = out[out["event"].isin(keep)]
        notes.append(f"kept event types {sorted(keep)}")
        _require_rows(out, f"no row has an event type in {sorted(keep)}; check the event filter")
    if filters.min_rating is not None:
        out = out[out["rating"] >= filters.min_rating]
        notes.append(f"kept ratings >= {filters.min_rating:g}")
        _require_rows(out, f"no row has a rating of at least {filters.min_rating:g}; lower the rating filter")
    out = out.iloc[_user_time_order(out)]
    if filters.remove_repeats:
        same = (out["user"].to_numpy()[1:] == out["user"].to_numpy()[:-1]) & \
               (out["item"].to_numpy()[1:] == out["item"].to_numpy()[:-1])
        out = out[np.concatenate([[True], ~same])]
    if filters.max_events_per_user:
        pos_from_end = out.groupby("user", sort=False).cumcount(ascending=False)
        out = out[pos_from_end.to_numpy() < filters.max_events_per_user]
    if filters.min_item_count > 1:
        counts = out["item"].map(out["item"].value_counts())
        out = out[counts.to_numpy() >= filters.min_item_count]
        _require_rows(out, f"no item occurs at least {filters.min_item_count} times; lower the minimum item count")
    sizes = out.groupby("user", sort=False)["item"].transform("size")
    out = out[sizes.to_numpy() >= filters.min_user_interactions]
    _require_rows(out, f"no user has at least {filters.min_user_interactions} interactions after filtering; "
                       f"lower the minimum interactions per user or the minimum item count")
    n_users = out["user"].nunique()
    if training and n_users < 2:
        raise SeqrecError(f"Only {n_users} user has enough interactions after filtering; at least 2 users (ideally "
                          f"hundreds) are needed to train and evaluate, so add data or relax the filters.")
    if training and out["item"].nunique() < 2:
        raise SeqrecError("Only one item is left after filtering, so there is nothing to rank; relax the filters "
                          "(minimum item count, event types or minimum rating).")
    out = out.drop(columns="_row").reset_index(drop=True)
    return Interactions(out, columns, is_dt, raw_rows, notes)


def _require_rows(df: pd.DataFrame, why: str):
    if len(df) == 0:
        raise SeqrecError(f"Nothing is left after filtering: {why}.")


def load_interactions(sources: Source | Sequence[Source], user: str | None = None, item: str | None = None,
                      time: str | None = None, event: str | None = None, rating: str | None = None,
                      filters: Filters | None = None, names: Sequence[str] | None = None,
                      training: bool = True) -> Interactions:
    """The whole data layer in one call: read (one or several files), map columns, validate, sort and filter."""
    if not isinstance(sources, (list, tuple)):
        sources = [sources]
    df = read_tables(sources, names)
    cols = resolve_columns(df, user, item, time, event, rating)
    name = (names[0] if names else None) or source_name(sources[0])
    return prepare(df, cols, filters, name, training)
