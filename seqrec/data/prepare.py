"""Building the clean table: mapped columns -> a validated, time-ordered, filtered log of (user, item, time).

All problems with the raw values (IDs, times, ratings, filters) are collected and reported together as one
SeqrecError sentence. `load_interactions` is the whole data layer in one call (read, map columns, prepare).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import re
import sys
import threading

import numpy as np
import pandas as pd

from seqrec.data.columns import FILE_ORDER, ColumnMap, resolve_columns
from seqrec.data.read import Source, read_tables, source_name
from seqrec.data.times import arrow_numbers, quoted, try_parse_times
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
    where: Sequence[str] | None = None  # numeric conditions on any column, e.g. "Quantity>0"
    date_from: str | None = None  # keep events on/after this date (the time column must hold dates)
    date_to: str | None = None  # ... and on/before this one (a bare date includes that whole day)
    session_gap_minutes: float | None = None  # cut each user's history after this much inactivity
    min_session_length: int = 1  # sessions with fewer events are dropped

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
        for cond in self.where or []:
            if parse_condition(cond) is None:
                problems.append(f"the condition {quoted(cond)} is not of the form COLUMN>NUMBER (operators > >= < <= "
                                f"= !=, e.g. Quantity>0)")
        for label, value in (("start date", self.date_from), ("end date", self.date_to)):
            if value not in (None, "") and _date_seconds(value) is None:
                problems.append(f"the {label} {quoted(value)} is not a date (write it like 2011-01-31)")
        if self.session_gap_minutes is not None and (isinstance(self.session_gap_minutes, bool) or not
                                                     isinstance(self.session_gap_minutes, (int, float))
                                                     or not 0 < self.session_gap_minutes <= 525_600):
            problems.append(f"the session gap must be a number of minutes above 0 and at most 525,600 (a year) "
                            f"(got {self.session_gap_minutes!r})")
        if not isinstance(self.min_session_length, int) or isinstance(self.min_session_length, bool) \
                or self.min_session_length < 1:
            problems.append(f"minimum session length must be a whole number of at least 1 "
                            f"(got {self.min_session_length!r})")
        elif self.min_session_length > 1 and self.session_gap_minutes is None:
            problems.append("a minimum session length needs a session gap (minutes of inactivity that end a "
                            "session)")
        if problems:
            raise SeqrecError("Invalid data filters: " + "; ".join(problems) + ".")
        return self


_CONDITION = re.compile(r"^\s*(.+?)\s*(>=|<=|!=|==|=|>|<)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$")
_OPS = {">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal, "=": np.equal,
        "==": np.equal, "!=": np.not_equal}


def parse_condition(cond: str) -> tuple[str, str, float] | None:
    """'Quantity>0' -> ('Quantity', '>', 0.0); None when it is not COLUMN OP NUMBER."""
    m = _CONDITION.match(str(cond))
    if not m or m.group(1).strip() in ("", "'", '"') or re.search(r"[<>=!]", m.group(1)):
        return None
    return m.group(1).strip().strip("'\"`"), m.group(2), float(m.group(3))


def _date_seconds(value: str, end: bool = False) -> float | None:
    """A date (or date and time) -> epoch seconds; `end` with a bare date is the end of that day."""
    try:
        ts = pd.Timestamp(str(value).strip())
    except (ValueError, TypeError):
        return None
    if pd.isna(ts):
        return None
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    if end and len(str(value).strip()) <= 10:
        ts = ts + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    return (ts - pd.Timestamp("1970-01-01", tz="UTC")).total_seconds()


@dataclass
class CodedLog:
    """The integer codes prepare sorted `df` by, kept so that the split groups and numbers the items without
    hashing a million strings again: the users (in the log's order) and the row each starts at, and each row's
    item as a code into `item_ids`. Valid only for the very frame it was made with (`matches`)."""

    df: pd.DataFrame
    users: np.ndarray  # object: one per user, in the log's order
    starts: np.ndarray  # int: the first row of each user
    items: np.ndarray  # int: each row's item, a position in item_ids
    item_ids: np.ndarray  # object

    def matches(self, df: pd.DataFrame) -> bool:
        return df is self.df and len(df) == len(self.items)


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
    dropped_rows: dict = field(default_factory=dict)  # column -> rows removed because that value was empty
    sessions: int | None = None  # sessions kept, when the histories were cut into sessions
    coded: "CodedLog | None" = field(default=None, repr=False, compare=False)  # set by prepare, read by the split

    @property
    def n_users(self) -> int:
        return int(self.df["user"].nunique())

    @property
    def n_items(self) -> int:
        return int(self.df["item"].nunique())

    def __len__(self) -> int:
        return len(self.df)


def _factorize(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """pd.factorize(values) as (codes, uniques as an object array): codes in order of first appearance, -1 where the
    value is missing. Arrow-backed strings (what the reader gives) are encoded by Arrow directly, without pandas'
    copies of the codes, and the codes stay int32 (half the memory)."""
    data = getattr(values.array, "_pa_array", None)
    if data is not None and len(data):
        try:
            # pyarrow is what made `data` above; imported here like the readers' optional fast paths
            import pyarrow as pa
            import pyarrow.compute as pc

            if pa.types.is_string(data.type) or pa.types.is_large_string(data.type):
                encoded = pc.dictionary_encode(data, null_encoding="mask")
                chunks = encoded.chunks if isinstance(encoded, pa.ChunkedArray) else [encoded]
                if chunks:
                    # Arrow codes all chunks against one dictionary (checked: else the pandas way below)
                    dictionary = chunks[-1].dictionary
                    if all(c.dictionary.equals(dictionary) for c in chunks):
                        codes = [(c.indices.fill_null(-1) if c.indices.null_count else c.indices)
                                 .to_numpy(zero_copy_only=False) for c in chunks]
                        return (codes[0] if len(codes) == 1 else np.concatenate(codes),
                                dictionary.to_numpy(zero_copy_only=False).astype(object, copy=False))
        except Exception:  # an Arrow version without these: pandas' way below gives the same codes
            pass
    codes, uniq = pd.factorize(values)
    return codes, np.asarray(uniq, dtype=object)


class _Ids:
    """One ID column as integer codes into its distinct values (the checks run on the few distinct values, not on
    the million rows). codes[i] == -1 where the cell is empty or a missing-value word."""

    def __init__(self, values: pd.Series):
        codes, self.uniques = _factorize(values)
        # a hash lookup per distinct value (np.isin would sort the object array)
        self.token = pd.Index(self.uniques, dtype=object).isin(MISSING_ID_TOKENS) if len(self.uniques) \
            else np.zeros(0, dtype=bool)
        self.empty = codes < 0
        if self.token.any():
            codes = np.where(self.empty, -1, np.where(self.token[np.maximum(codes, 0)], -1, codes))
        self.codes = codes
        self.missing = codes < 0


def _id_problem(ids: _Ids, keep: np.ndarray, index: pd.Index, role: str, column: str,
                row_offset: int) -> tuple[str, str] | None:
    """Every value empty, or absurdly long user/item IDs, as (what, fix); None when the column is usable."""
    if len(ids.codes) and ids.missing.all():
        if ids.token.any():
            words = ", ".join(repr(t) for t in ids.uniques[ids.token][:3])
            what = (f"the {role} column '{column}' has only empty or missing values such as {words} "
                    f"({len(ids.codes):,} rows)")
        else:
            what = f"the {role} column '{column}' is empty on every row ({len(ids.codes):,} rows)"
        return what, "choose the right column or fill it in"
    if len(ids.uniques) and max(map(len, ids.uniques)) > MAX_ID_CHARS:
        lengths = np.fromiter(map(len, ids.uniques), dtype=np.int64, count=len(ids.uniques))
        long_value = (lengths > MAX_ID_CHARS) & ~ids.token
        bad_rows = np.flatnonzero(long_value[np.maximum(ids.codes, 0)] & ~ids.missing & keep)
        if len(bad_rows):
            i = int(bad_rows[0])
            return (f"the {role} column '{column}' has {len(bad_rows):,} value(s) longer than {MAX_ID_CHARS:,} "
                    f"characters (on line {int(index[i]) + row_offset}: {int(lengths[ids.codes[i]]):,} characters)",
                    "no ID is that long, so check the delimiter and the quotes on that line")
    return None


_FLOAT_INT = r"-?\d+\.0+"


def _integer_ids(ids: _Ids, used: np.ndarray, role: str, notes: list) -> None:
    """IDs a spreadsheet wrote as floats ('17850.0') -> '17850', when every value of the column looks like that."""
    values = ids.uniques[used]
    if not len(values) or not all(str(v).endswith(".0") for v in values[:50]):
        return  # the usual case, decided on a few values
    values = pd.Series(values, dtype=object)
    if not values.str.fullmatch(_FLOAT_INT).all():
        return
    notes.append(f"{role} IDs written as decimals (e.g. {quoted(values.iloc[0])}) were read as whole numbers "
                 f"({quoted(values.iloc[0].split('.')[0])})")
    whole = pd.Series(ids.uniques, dtype=object).str.replace(r"\.0+$", "", regex=True).to_numpy(dtype=object)
    merged, uniq = pd.factorize(whole)  # '7.0' and '7.00' are the same ID
    ids.uniques = np.asarray(uniq, dtype=object)
    ids.codes = np.where(ids.codes < 0, -1, merged[np.maximum(ids.codes, 0)])


PARALLEL_ROWS = 200_000  # from this size the item column and the times are read in a second thread


def _code_columns(df: pd.DataFrame, columns: ColumnMap) -> tuple[dict, pd.Series | None]:
    """The user and item columns as integer codes ({role: _Ids}), and the time column as numbers when Arrow reads
    them all (else None: try_parse_times does the rest). Arrow's hashing and casting run without the GIL, so on a
    big log the item column and the times are done in a second thread while this one codes the users."""
    out: dict = {}

    def items_and_times():
        out["item"] = _Ids(df[columns.item])
        out["numbers"] = arrow_numbers(df[columns.time])

    if len(df) < PARALLEL_ROWS:
        items_and_times()
        return {"user": _Ids(df[columns.user]), "item": out["item"]}, out["numbers"]
    failed: list = []

    def run():
        try:
            items_and_times()
        except BaseException as e:  # raised again below, in the caller's thread
            failed.append(e)

    worker = threading.Thread(target=run, name="seqrec-prepare", daemon=True)
    worker.start()
    try:
        user = _Ids(df[columns.user])
    finally:
        worker.join()
    if failed:
        raise failed[0]
    return {"user": user, "item": out["item"]}, out["numbers"]


def _release_arrow_memory() -> None:
    """Hand the memory Arrow freed (the column codes' and casts' temporaries) back to the system: its allocator keeps
    it otherwise, where the NumPy arrays of the sort cannot reuse it (about 50 MB less peak memory for a million rows,
    in under a millisecond)."""
    pa = sys.modules.get("pyarrow")  # only when something already used Arrow
    if pa is not None:
        try:
            pa.default_memory_pool().release_unused()
        except Exception:  # an old pyarrow without it: only the memory stays cached
            pass


def _problems_message(problems: list[tuple[str, str]], name: str) -> str:
    """One sentence for one problem or several (each named, then one fix)."""
    if len(problems) == 1:
        what, fix = problems[0]
        return f"In {name}, {what}; {fix}."
    return (f"{name} has {len(problems)} problems: " + "; ".join(what for what, _ in problems)
            + "; fix these rows or choose other columns, then try again.")


def _user_time_order(user_rank: np.ndarray, times: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows sorted by user (in the users' string order), then time, ties in file order: (row positions, their user
    ranks, their times). The user, the time and the position go into one int64 key whose plain sort orders exactly
    as the stable sort would (the keys are distinct), and the sorted key itself gives positions and users without
    gathering. Whole-number times (epoch seconds, ordering numbers) go into the key as they are; others (fractions
    of seconds, e.g. millisecond times) as their rank among the distinct times. Logs too big for one key get a
    stable sort on time, then a stable one on the user."""
    n = len(times)
    if n:
        lo, hi = float(times.min()), float(times.max())
        span = hi - lo + 1
        users = int(user_rank.max()) + 1
        bits = max(1, (n - 1).bit_length())
        if span * users * 2.0**bits < 2**62 and np.array_equal(times, np.floor(times)):
            order, u, offset = _packed_order(user_rank, (times - lo).astype(np.int64), int(span), bits)
            if 0 < lo and hi < 2**53:  # lo + offset is the time exactly (whole numbers; no -0.0 to keep)
                t = offset.astype(np.float64)
                t += lo
            else:
                t = times[order]
            return order, u, t
        if float(n) * users * 2.0**bits < 2**62:
            by_time = np.argsort(times)  # equal times get equal ranks, so this sort need not be stable
            ordered = times[by_time]
            dense = np.empty(n, dtype=np.int64)
            dense[by_time] = np.cumsum(np.concatenate([[False], ordered[1:] != ordered[:-1]]))
            order, u, _ = _packed_order(user_rank, dense, int(dense.max()) + 1, bits)
            return order, u, times[order]
    by_time = np.argsort(times, kind="stable")
    ranks = user_rank[by_time]
    if len(ranks) and ranks.max() < 2**16:
        ranks = ranks.astype(np.uint16)
    order = by_time[np.argsort(ranks, kind="stable")]
    return order, user_rank[order], times[order]


def _packed_order(user_rank: np.ndarray, offset: np.ndarray, span: int, bits: int):
    """Sort by (user rank, offset, position) through one int64 key (offset in [0, span), position in `bits` bits):
    (positions, user ranks, offsets) in that order. `offset` is used up (it becomes the key)."""
    key = offset
    key += user_rank.astype(np.int64) * span
    key <<= bits
    key |= np.arange(len(key), dtype=np.int64)
    key.sort()
    order = key & ((1 << bits) - 1)
    key >>= bits
    u = key // span
    key -= u * span
    return order, u, key


def _duplicates(u: np.ndarray, t: np.ndarray, others: list[np.ndarray]) -> np.ndarray:
    """Rows (of a log sorted by user, time, file order) identical in every mapped column to an earlier row: only
    rows inside a run of the same user and time can be, so only those few are compared."""
    dup = np.zeros(len(u), dtype=bool)
    if len(u) < 2:
        return dup
    same = (u[1:] == u[:-1]) & (t[1:] == t[:-1])
    if not same.any():
        return dup
    in_run = np.zeros(len(u), dtype=bool)
    in_run[1:] |= same
    in_run[:-1] |= same
    rows = np.flatnonzero(in_run)
    run_id = np.cumsum((rows == 0) | ~same[np.maximum(rows - 1, 0)])  # a run starts where a row differs from the last
    frame = pd.DataFrame({"run": run_id, **{f"c{k}": o[rows] for k, o in enumerate(others)}})
    dup[rows] = frame.duplicated().to_numpy()
    return dup


def _require_sequences(item_codes: np.ndarray, user_counts: np.ndarray, item_names: np.ndarray, name: str) -> None:
    """Refuse data that can never train, whatever the filters: one item (nothing to rank) or users who all have
    fewer events than a train / validation / test split needs (`user_counts`: events per user)."""
    if len(item_codes) and (item_codes == item_codes[0]).all():
        raise SeqrecError(f"{name} has only one distinct item ({quoted(item_names[item_codes[0]])}), so there is "
                          f"nothing to rank; a recommender needs at least 2 different items (ideally hundreds), so "
                          f"check that the item column is the right one.")
    longest = int(user_counts.max())
    if longest < 3:
        have = "only one interaction per user" if longest == 1 else f"at most {longest} interactions per user"
        raise SeqrecError(f"{name} has {have}, but a next-item model needs at least 3 per user (one to learn from, "
                          f"one to validate, one to test); check that the user column identifies a person or a "
                          f"session, not an order or a single row.")


def prepare(df: pd.DataFrame, columns: ColumnMap, filters: Filters | None = None, name: str = "the file",
            training: bool = True) -> Interactions:
    """Validate the mapped columns, drop rows with an empty user, item or time (counted per column), parse times,
    apply the filters, sort per user by time (ties in file order) and optionally cut sessions. All problems with the
    raw values are collected and reported together. training=False (histories to recommend after, not a split)
    accepts users with fewer than 3 events. The work is done on integer codes of the IDs (the checks on their
    distinct values), so a million rows take about as long as reading them."""
    filters = (filters or Filters()).validate(training)
    if columns.time == FILE_ORDER and FILE_ORDER not in df.columns:
        attrs = dict(df.attrs)
        df = df.assign(**{FILE_ORDER: np.arange(len(df), dtype=np.int64)})
        df.attrs.update(attrs, notes=[*attrs.get("notes", []), "no time column: each user's rows are taken in the "
                                      "order of the file"])
    raw_rows = len(df)
    row_offset = 2 if df.attrs.get("has_header", True) else 1
    delimiter = df.attrs.get("delimiter", ",")
    notes = list(df.attrs.get("notes", []))
    problems = []
    # rows with an empty user, item or time are dropped (counted per column); a column empty everywhere is refused
    ids, time_numbers = _code_columns(df, columns)
    time_missing = df[columns.time].isna().to_numpy()
    gaps, keep = {}, np.ones(raw_rows, dtype=bool)
    for role, miss in (("user", ids["user"].missing), ("item", ids["item"].missing), ("time", time_missing)):
        if miss.any() and not miss.all():
            col = getattr(columns, role)
            gaps[col] = (role, int((miss & keep).sum()))
            keep &= ~miss
    dropped = {col: n for col, (_, n) in gaps.items() if n}
    every = bool(keep.all())
    for role in ("user", "item"):
        problem = _id_problem(ids[role], keep, df.index, role, getattr(columns, role), row_offset)
        if problem:
            problems.append(problem)

    def kept(col: str) -> pd.Series:
        return df[col] if every else df[col][keep]

    times, is_dt, time_problem = try_parse_times(kept(columns.time), columns.time, row_offset,
                                                 time_numbers if every else None)
    del time_numbers
    _release_arrow_memory()
    if time_problem:
        problems.append(time_problem)
    rating = None
    if columns.rating:
        raw_rating = kept(columns.rating)
        rating = _numbers(raw_rating, delimiter)
        if filters.min_rating is not None:
            bad = np.isnan(rating) & raw_rating.notna().to_numpy()
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                problems.append((f"the rating column '{columns.rating}' has {int(bad.sum()):,} non-numeric value(s), "
                                 f"e.g. {quoted(raw_rating.iloc[i])} on line {int(raw_rating.index[i]) + row_offset}, "
                                 f"so it cannot be filtered by a minimum rating", "fix those rows or remove the "
                                 "rating filter"))
    elif filters.min_rating is not None:
        problems.append(("a minimum rating was asked for but no rating column is mapped",
                         "choose the rating column or remove the rating filter"))
    if filters.event_types and not columns.event:
        problems.append(("event types to keep were given but no event-type column is mapped",
                         "choose the event-type column or remove the event filter"))
    conditions = []
    for cond in filters.where or []:
        col, op, number = parse_condition(cond)
        if col not in df.columns:
            problems.append((f"the condition {quoted(cond)} names the column '{col}', which is not in the file",
                             f"use one of {list(df.columns)}"))
            continue
        values = _numbers(kept(col), delimiter)
        if not np.isfinite(values).any():
            problems.append((f"the condition {quoted(cond)} needs numbers but the column '{col}' holds none",
                             "choose a numeric column"))
            continue
        conditions.append((cond, _OPS[op](values, number)))
    if columns.time == FILE_ORDER and (filters.date_from or filters.date_to or filters.session_gap_minutes):
        noun = "date range" if filters.date_from or filters.date_to else "session gap"
        problems.append((f"a {noun} was given but the file has no time column (its rows are taken in file order)",
                         f"remove the {noun} or choose a time column (--time-col, or the column choice)"))
    elif (filters.date_from or filters.date_to) and not time_problem and not is_dt:
        problems.append(("a date range was given but the time column holds plain numbers, not dates",
                         "remove the date range or choose a time column of dates"))
    if problems:
        raise SeqrecError(_problems_message(problems, name))
    if dropped:
        why = "; ".join(f"{n:,} with an empty {gaps[c][0]} ('{c}')" for c, n in dropped.items())
        notes.append(f"dropped {sum(dropped.values()):,} of {raw_rows:,} rows with a missing value: {why}")
    try:
        return _build(df, columns, filters, name, training, ids, keep, every, times, is_dt, rating, conditions,
                      notes, raw_rows, dropped)
    except SeqrecError as e:
        if not dropped:
            raise
        gone = " and ".join(f"'{c}'" for c in dropped)
        raise SeqrecError(f"{str(e).rstrip('.')} ({sum(dropped.values()):,} of {raw_rows:,} rows had already been "
                          f"dropped for an empty {gone}).") from None


def _build(df, columns, filters, name, training, ids, keep, every, times, is_dt, rating, conditions, notes,
           raw_rows, dropped) -> Interactions:
    """The validated rows -> the filtered, sorted log (every step on integer codes and positions)."""
    users, items = ids["user"], ids["item"]
    for role, i in (("user", users), ("item", items)):
        if every:  # every value that is not a missing-value word is on some kept row
            used = ~i.token
        else:
            used = np.zeros(len(i.uniques), dtype=bool)
            used[i.codes[keep & (i.codes >= 0)]] = True
        _integer_ids(i, used, role, notes)
    uc = users.codes if every else users.codes[keep]
    ic = items.codes if every else items.codes[keep]
    event = None
    if columns.event:
        raw_event = df[columns.event] if every else df[columns.event][keep]
        event = raw_event.astype("str").fillna("").to_numpy(dtype=object)
    mask = None
    for cond, ok in conditions:
        mask = ok if mask is None else mask & ok
        notes.append(f"kept rows where {cond.strip()} ({int(ok.sum()):,} of {len(ok):,})")
    if filters.date_from or filters.date_to:
        lo = _date_seconds(filters.date_from) if filters.date_from else -np.inf
        hi = _date_seconds(filters.date_to, end=True) if filters.date_to else np.inf
        ok = (times >= lo) & (times <= hi)
        mask = ok if mask is None else mask & ok
        span = f"from {filters.date_from} " * bool(filters.date_from) + f"to {filters.date_to}" * bool(filters.date_to)
        notes.append(f"kept events {span.strip()} ({int(ok.sum()):,} of {len(ok):,})")
    if not len(uc) or (mask is not None and not mask.any()):
        _require_rows([], "no row meets the row conditions and date range; loosen them")
    # users ranked in their string order, so the log is sorted by user as text, then time, ties in file order
    rank = np.empty(len(users.uniques), dtype=np.int32 if len(users.uniques) < 2**31 else np.int64)
    rank[_string_order(users.uniques)] = np.arange(len(users.uniques))
    if mask is None:  # the usual case: every row, so no copies of the columns
        ur, tt = rank[uc], times
    else:
        pos = np.flatnonzero(mask)
        ur, tt = rank[uc[pos]], times[pos]
    order, u, t = _user_time_order(ur, tt)
    del ur, tt
    pos = order if mask is None else pos[order]
    i = ic[pos]
    others = [i] + ([event[pos]] if event is not None else []) + ([rating[pos]] if rating is not None else [])
    dup = _duplicates(u, t, others)
    if dup.any():
        pos, u, i, t = pos[~dup], u[~dup], i[~dup], t[~dup]
        notes.append(f"removed {int(dup.sum()):,} exact duplicate row(s) (same user, item and time as an earlier row)")
    user_counts, counted = np.bincount(u, minlength=len(rank)), len(u)  # events per user (rank)
    if training:
        _require_sequences(i, user_counts, items.uniques, name)
    row_mask = None
    if filters.event_types:
        keep_types = set(map(str, filters.event_types))
        ok = np.isin(event[pos], list(keep_types))
        notes.append(f"kept event types {sorted(keep_types)}")
        _require_rows(np.flatnonzero(ok), f"no row has an event type in {sorted(keep_types)}; check the event filter")
        row_mask = ok
    if filters.min_rating is not None:
        ok = rating[pos] >= filters.min_rating
        notes.append(f"kept ratings >= {filters.min_rating:g}")
        both = ok if row_mask is None else ok & row_mask
        _require_rows(np.flatnonzero(both), f"no row has a rating of at least {filters.min_rating:g}; lower the "
                                            f"rating filter")
        row_mask = both
    if row_mask is not None:
        pos, u, i, t = _rows(row_mask, pos, u, i, t)
    if filters.remove_repeats and len(u) > 1:
        ok = np.concatenate([[True], ~((u[1:] == u[:-1]) & (i[1:] == i[:-1]))])
        pos, u, i, t = _rows(ok, pos, u, i, t)
    n_sessions = None
    if filters.session_gap_minutes is not None:
        ok, n_sessions = _cut_sessions(u, t, filters, is_dt, notes)
        pos, u, i, t = _rows(ok, pos, u, i, t)
    if filters.max_events_per_user:
        ends = np.flatnonzero(np.concatenate([u[1:] != u[:-1], [True]]))  # last row of each user
        run_end = np.repeat(ends, np.diff(np.concatenate([[-1], ends])))
        ok = (run_end - np.arange(len(u))) < filters.max_events_per_user
        pos, u, i, t = _rows(ok, pos, u, i, t)
    if filters.min_item_count > 1:
        ok = np.bincount(i, minlength=len(items.uniques))[i] >= filters.min_item_count
        pos, u, i, t = _rows(ok, pos, u, i, t)
        _require_rows(pos, f"no item occurs at least {filters.min_item_count} times; lower the minimum item count")
    if len(u) != counted:  # rows were removed since the users were counted
        user_counts = np.bincount(u, minlength=len(rank))
    ok = user_counts[u] >= filters.min_user_interactions
    pos, u, i, t = _rows(ok, pos, u, i, t)
    _require_rows(pos, f"no user has at least {filters.min_user_interactions} interactions after filtering; "
                       f"lower the minimum interactions per user or the minimum item count")
    n_users = int((user_counts >= max(1, filters.min_user_interactions)).sum())  # every event of these is kept
    if training and n_users < 2:
        raise SeqrecError(f"Only {n_users} user has enough interactions after filtering; at least 2 users (ideally "
                          f"hundreds) are needed to train and evaluate, so add data or relax the filters.")
    if training and not (i != i[0]).any():  # one distinct item
        raise SeqrecError("Only one item is left after filtering, so there is nothing to rank; relax the filters "
                          "(minimum item count, event types or minimum rating).")
    by_rank = np.empty(len(rank), dtype=object)
    by_rank[rank] = users.uniques
    starts = np.flatnonzero(np.concatenate([[True], u[1:] != u[:-1]]))  # first row of each user
    user_ids = by_rank.take(u[starts])
    # the arrays become the frame's columns as they are (no copy, no consolidation into one block)
    out = pd.DataFrame({"user": pd.Series(np.repeat(user_ids, np.diff(np.append(starts, len(u)))), dtype=object,
                                          copy=False),
                        "item": pd.Series(items.uniques.take(i), dtype=object, copy=False),
                        "time": pd.Series(t, copy=False)}, copy=False)
    if event is not None:
        out["event"] = event[pos]
    if rating is not None:
        out["rating"] = rating[pos]
    coded = CodedLog(out, user_ids, starts, i, items.uniques)
    return Interactions(out, columns, is_dt, raw_rows, notes, dropped, n_sessions, coded)


def _string_order(values: np.ndarray) -> np.ndarray:
    """np.argsort(values.astype(str), kind="stable"): Arrow sorts strings without making a fixed-width copy (UTF-8
    byte order is code point order); NumPy's way for anything else, and for values holding a NUL character (NumPy
    drops trailing NULs, so "a" and "a\\x00" tie there)."""
    if len(values) > 1000:
        try:
            import pyarrow as pa  # optional, as in the readers' fast paths
            import pyarrow.compute as pc

            strings = pa.array(values, type=pa.string())
            if not pc.any(pc.match_substring(strings, "\x00")).as_py():
                return pc.array_sort_indices(strings).to_numpy().astype(np.int64)  # a stable sort
        except Exception:  # not all strings, or no pyarrow
            pass
    return np.argsort(values.astype(str), kind="stable")


def _rows(ok: np.ndarray, *arrays: np.ndarray) -> tuple[np.ndarray, ...]:
    """The rows where `ok` holds, of each array; the arrays themselves when every row does (no copies)."""
    if ok.all():
        return arrays
    return tuple(a[ok] for a in arrays)


def _numbers(values: pd.Series, delimiter: str) -> np.ndarray:
    """A raw column as float numbers (NaN where not a number); '4,5' is 4.5 in a ';'-separated file."""
    if delimiter != ",":
        values = values.str.replace(",", ".", regex=False)
    return pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _cut_sessions(u: np.ndarray, t: np.ndarray, filters: Filters, is_dt: bool, notes: list) -> tuple[np.ndarray, int]:
    """Cut each user's (sorted) history into sessions after `session_gap_minutes` without activity and drop the
    sessions shorter than `min_session_length`; the user's sequence is what is left, in time order, so the split
    holds out the last item of the user's last session (README, evaluation protocol). Returns (rows kept, sessions
    kept)."""
    if not is_dt:
        raise SeqrecError("Cutting sessions needs a time column of real dates or epoch times, but this one holds "
                          "plain ordering numbers; remove the session gap or choose another time column.")
    new = np.ones(len(u), dtype=bool)
    if len(u) > 1:
        new[1:] = (u[1:] != u[:-1]) | (np.diff(t) > filters.session_gap_minutes * 60)
    session = np.cumsum(new)
    keep = np.bincount(session)[session] >= filters.min_session_length
    n_total, n_kept = int(new.sum()), int(new[keep].sum())
    notes.append(f"cut histories into {n_total:,} sessions at gaps over {filters.session_gap_minutes:g} minutes"
                 + (f"; kept the {n_kept:,} with at least {filters.min_session_length} events"
                    if filters.min_session_length > 1 else ""))
    _require_rows(np.flatnonzero(keep), f"no session has at least {filters.min_session_length} events; lower the "
                                        f"minimum session length or raise the session gap")
    return keep, n_kept


def _require_rows(rows, why: str):
    if len(rows) == 0:
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
