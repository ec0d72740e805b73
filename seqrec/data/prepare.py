"""Building the clean table: mapped columns -> a validated, time-ordered, filtered log of (user, item, time).

All problems with the raw values (IDs, times, ratings, filters) are collected and reported together as one
SeqrecError sentence. Then the rows go through STEPS, one small function per step (drop missing values, row
conditions, date range, order by time, duplicates, event types, rating, repeats, sessions, counts), each narrowing
one record of the rows (`_Rows`) and noting what it did. `load_interactions` is the whole data layer in one call
(read, map columns, prepare).
"""
from __future__ import annotations

import dataclasses
import re
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from seqrec.config import Setting, setting_field, settings_of
from seqrec.data.columns import FILE_ORDER, ColumnMap, resolve_columns
from seqrec.data.read import Source, read_tables, source_name
from seqrec.data.times import arrow_numbers, quoted, try_parse_times
from seqrec.errors import SeqrecError

MAX_ID_CHARS = 10_000  # longer "IDs" are a broken delimiter or quote swallowing the rest of the file
MISSING_ID_TOKENS = ["nan", "NaN", "NAN", "null", "NULL", "Null", "none", "None", "NONE", "N/A", "n/a", "#N/A",
                     "<NA>", "NaT"]  # what exports write for a missing value; never a real user or item ID


@dataclass
class Filters:
    """What to keep. Defaults keep everything a leave-last-out split can use (3+ events per user).

    Each field's Setting (seqrec/config.py) is the one definition of its limits, label and help text: validate(),
    the CLI's data options and the Data page's filter widgets are all generated from it (`filter_settings`)."""

    min_user_interactions: int = setting_field(
        3, "int", "Min interactions per user", "Users with fewer events are dropped; 3 is the least a train / "
        "validation / test split needs.", lo=3, noun="minimum interactions per user",
        why="because each user needs a training, a validation and a test item")
    min_item_count: int = setting_field(
        1, "int", "Min item count", "Items seen fewer times are dropped: rare items are hard to learn.", lo=1,
        noun="minimum item count")
    # at least 3, as for the users: a shorter history leaves nothing to train on once the split holds out two items
    max_events_per_user: int | None = setting_field(
        None, "int", "Max events per user", "Keep only each user's most recent events.", lo=3, off="no limit",
        noun="maximum events per user")
    remove_repeats: bool = setting_field(
        False, "switch", "Remove immediate repeats", "Drop an event when the user's previous event was the same "
        "item.")
    min_rating: float | None = setting_field(
        None, "float", "Minimum rating", "Keep only interactions rated at least this (needs a rating column).",
        off="no minimum", noun="minimum rating")
    event_types: Sequence[str] | None = setting_field(
        None, "texts", "Event types to keep", "Keep only these event types (needs an event-type column).",
        off="every type", var="E")
    where: Sequence[str] | None = setting_field(
        None, "texts", "Keep rows where column", "Keep rows meeting a numeric condition on any column, e.g. "
        "Quantity>0 drops cancellations (operators > >= < <= = !=; every condition given must hold).",
        off="every row", var="COND", append=True, noun="the row conditions")
    date_from: str | None = setting_field(
        None, "text", "From date (optional)", "Keep events on or after this date, e.g. 2011-01-01 (the time column "
        "must hold dates).", off="no start", var="DATE", noun="the start date")
    date_to: str | None = setting_field(
        None, "text", "To date (optional)", "Keep events on or before this date (a bare date includes the whole "
        "day).", off="no end", var="DATE", noun="the end date")
    # at most 525,600 minutes (a year): a longer gap never cuts a history
    session_gap_minutes: float | None = setting_field(
        None, "float", "Cut sessions after minutes without activity", "Cut each user's history into sessions after "
        "this many minutes without activity (GRU4Rec uses 30); evaluation then holds out the last item of each "
        "user's last session.", lo=0.0, hi=525_600.0, open_below=True, step=1.0, fmt="%.1f", off="no sessions",
        unit="minutes", noun="the session gap")
    min_session_length: int = setting_field(
        1, "int", "Min session length", "Sessions with fewer events are dropped (needs a session gap).", lo=1,
        noun="minimum session length")

    def validate(self, training: bool = True) -> Filters:
        """Collect every bad value and raise one SeqrecError naming them all, in field order (or return self).
        Training needs 3+ events per user; recommending after each history (training=False) needs only 1."""
        found = []
        for name, s in filter_settings(training).items():
            value = getattr(self, name)
            problem = s.problem(value)
            found += [problem] if problem is not None else _value_problems(s, value, self)
        if found:
            raise SeqrecError("Invalid data filters: " + "; ".join(found) + ".")
        return self


def _value_problems(s: Setting, value, filters: Filters) -> list[str]:
    """What a Setting cannot say about an allowed value: a row condition or a date that does not read as one, a
    minimum session length without a session gap to cut the sessions."""
    if s.name == "where":
        return [f"the condition {quoted(cond)} is not of the form COLUMN>NUMBER (operators > >= < <= = !=, e.g. "
                f"Quantity>0)" for cond in value or [] if parse_condition(cond) is None]
    if s.name in ("date_from", "date_to") and value not in (None, "") and _date_seconds(value) is None:
        return [f"{s.called} {quoted(value)} is not a date (write it like 2011-01-31)"]
    if s.name == "min_session_length" and value > 1 and filters.session_gap_minutes is None:
        return ["a minimum session length needs a session gap (minutes of inactivity that end a session)"]
    return []


FILTER_SETTINGS: dict[str, Setting] = settings_of(Filters)
# Recommending after each history (training=False) needs no split, so a user with one event is enough
_RECOMMEND_SETTINGS = {**FILTER_SETTINGS, "min_user_interactions": dataclasses.replace(
    FILTER_SETTINGS["min_user_interactions"], lo=1, why="")}


def filter_settings(training: bool = True) -> dict[str, Setting]:
    """Field name -> Setting of the Filters, with the lower bound of the users' events for training or not."""
    return FILTER_SETTINGS if training else _RECOMMEND_SETTINGS


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
    coded: CodedLog | None = field(default=None, repr=False, compare=False)  # set by prepare, read by the split

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
    rows = _checked_rows(_with_file_order(df, columns), columns, filters, name, training)
    try:
        for step in STEPS:
            step(rows)
    except SeqrecError as e:
        if not rows.dropped:
            raise
        gone = " and ".join(f"'{c}'" for c in rows.dropped)
        raise SeqrecError(f"{str(e).rstrip('.')} ({sum(rows.dropped.values()):,} of {rows.raw_rows:,} rows had "
                          f"already been dropped for an empty {gone}).") from None
    return rows.interactions()


def _with_file_order(df: pd.DataFrame, columns: ColumnMap) -> pd.DataFrame:
    """A file without a time column: its rows' positions become the times (each user's rows in file order)."""
    if columns.time != FILE_ORDER or FILE_ORDER in df.columns:
        return df
    attrs = dict(df.attrs)
    df = df.assign(**{FILE_ORDER: np.arange(len(df), dtype=np.int64)})
    df.attrs.update(attrs, notes=[*attrs.get("notes", []), "no time column: each user's rows are taken in the "
                                  "order of the file"])
    return df


# ---- the raw values, checked together ----------------------------------------------------------------------------

def _checked_rows(df: pd.DataFrame, columns: ColumnMap, filters: Filters, name: str, training: bool) -> _Rows:
    """The mapped columns as codes and numbers, ready for the steps; every problem with the raw values (IDs,
    times, ratings, the columns the filters name) raised together as one SeqrecError."""
    raw_rows = len(df)
    row_offset = 2 if df.attrs.get("has_header", True) else 1
    delimiter = df.attrs.get("delimiter", ",")
    ids, time_numbers = _code_columns(df, columns)
    keep, gaps = _missing_values(df, columns, ids)
    every = bool(keep.all())
    problems = [p for role in ("user", "item")
                if (p := _id_problem(ids[role], keep, df.index, role, getattr(columns, role), row_offset))]

    def kept(col: str) -> pd.Series:
        return df[col] if every else df[col][keep]

    times, is_dt, time_problem = try_parse_times(kept(columns.time), columns.time, row_offset,
                                                 time_numbers if every else None)
    del time_numbers
    _release_arrow_memory()
    if time_problem:
        problems.append(time_problem)
    rating = _numbers(kept(columns.rating), delimiter) if columns.rating else None
    problems += _rating_problems(kept, rating, columns, filters, row_offset)
    if filters.event_types and not columns.event:
        problems.append(("event types to keep were given but no event-type column is mapped",
                         "choose the event-type column or remove the event filter"))
    conditions = _conditions(df, kept, filters, delimiter, problems)
    problems += _time_filter_problems(columns, filters, is_dt, time_problem)
    if problems:
        raise SeqrecError(_problems_message(problems, name))
    notes = list(df.attrs.get("notes", []))
    dropped = {col: n for col, (_, n) in gaps.items() if n}
    if dropped:
        why = "; ".join(f"{n:,} with an empty {gaps[c][0]} ('{c}')" for c, n in dropped.items())
        notes.append(f"dropped {sum(dropped.values()):,} of {raw_rows:,} rows with a missing value: {why}")
    event = None
    if columns.event:
        event = kept(columns.event).astype("str").fillna("").to_numpy(dtype=object)
    return _Rows(filters, columns, name, training, raw_rows, notes, dropped, ids["user"], ids["item"], keep, every,
                 times, is_dt, event, rating, conditions)


def _missing_values(df: pd.DataFrame, columns: ColumnMap, ids: dict) -> tuple[np.ndarray, dict]:
    """(rows with a user, an item and a time, {column: (role, rows without it)}): a row is counted for the first of
    its empty columns only. A column empty everywhere drops nothing here (_id_problem refuses it)."""
    gaps, keep = {}, np.ones(len(df), dtype=bool)
    time_missing = df[columns.time].isna().to_numpy()
    for role, miss in (("user", ids["user"].missing), ("item", ids["item"].missing), ("time", time_missing)):
        if miss.any() and not miss.all():
            gaps[getattr(columns, role)] = (role, int((miss & keep).sum()))
            keep &= ~miss
    return keep, gaps


def _rating_problems(kept, rating: np.ndarray | None, columns: ColumnMap, filters: Filters,
                     row_offset: int) -> list[tuple[str, str]]:
    """A minimum rating needs a rating column of numbers."""
    if filters.min_rating is None:
        return []
    if rating is None:
        return [("a minimum rating was asked for but no rating column is mapped",
                 "choose the rating column or remove the rating filter")]
    raw_rating = kept(columns.rating)
    bad = np.isnan(rating) & raw_rating.notna().to_numpy()
    if not bad.any():
        return []
    i = int(np.flatnonzero(bad)[0])
    return [(f"the rating column '{columns.rating}' has {int(bad.sum()):,} non-numeric value(s), e.g. "
             f"{quoted(raw_rating.iloc[i])} on line {int(raw_rating.index[i]) + row_offset}, so it cannot be filtered "
             f"by a minimum rating", "fix those rows or remove the rating filter")]


def _conditions(df: pd.DataFrame, kept, filters: Filters, delimiter: str, problems: list) -> list:
    """Each row condition as (its text, the rows meeting it); one that names a missing or non-numeric column is added
    to `problems` instead."""
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
    return conditions


def _time_filter_problems(columns: ColumnMap, filters: Filters, is_dt: bool, time_problem) -> list[tuple[str, str]]:
    """A date range or a session gap needs a time column, and a date range one of dates."""
    dates = bool(filters.date_from or filters.date_to)
    if columns.time == FILE_ORDER and (dates or filters.session_gap_minutes):
        noun = "date range" if dates else "session gap"
        return [(f"a {noun} was given but the file has no time column (its rows are taken in file order)",
                 f"remove the {noun} or choose a time column (--time-col, or the column choice)")]
    if dates and not time_problem and not is_dt:
        return [("a date range was given but the time column holds plain numbers, not dates",
                 "remove the date range or choose a time column of dates")]
    return []


# ---- the steps ---------------------------------------------------------------------------------------------------

@dataclass
class _Rows:
    """One log on its way through STEPS: the rows still kept and what was done to them (notes, rows dropped).

    Until `_order_by_time`, the rows are the file's: `keep` marks those with a user, an item and a time, `times`,
    `rating`, `event` and each condition's rows hold those kept rows, and `mask` (None: all) the ones the row
    conditions and the date range keep. From then on `pos` (each row's position among the kept rows), `u` (its
    user's rank in the users' string order), `i` (its item's code) and `t` (its time) are the rows left, sorted by
    user then time; each later step narrows all four together (`keep_rows`)."""

    filters: Filters
    columns: ColumnMap
    name: str
    training: bool
    raw_rows: int
    notes: list[str]
    dropped: dict  # column -> rows removed because that value was empty
    users: _Ids
    items: _Ids
    keep: np.ndarray
    every: bool  # keep.all(): the kept rows' arrays are the file's columns themselves, not copies
    times: np.ndarray | None  # until the sort
    is_dt: bool
    event: np.ndarray | None
    rating: np.ndarray | None
    conditions: list  # (text, rows meeting it)
    mask: np.ndarray | None = None
    user_codes: np.ndarray | None = None  # of the kept rows, until the sort
    item_codes: np.ndarray | None = None
    rank: np.ndarray | None = None  # user code -> rank in the users' string order
    pos: np.ndarray | None = None
    u: np.ndarray | None = None
    i: np.ndarray | None = None
    t: np.ndarray | None = None
    user_counts: np.ndarray | None = None  # events per user rank, counted when `counted` rows were left
    counted: int = 0
    n_sessions: int | None = None

    def keep_rows(self, ok: np.ndarray) -> None:
        self.pos, self.u, self.i, self.t = _rows(ok, self.pos, self.u, self.i, self.t)

    def narrow(self, ok: np.ndarray) -> None:
        """Before the sort: keep only the rows where `ok` holds too."""
        self.mask = ok if self.mask is None else self.mask & ok

    def interactions(self) -> Interactions:
        """The rows left as the clean log (the arrays become the frame's columns as they are: no copy, no
        consolidation into one block) and the codes the split reuses."""
        u, pos = self.u, self.pos
        by_rank = np.empty(len(self.rank), dtype=object)
        by_rank[self.rank] = self.users.uniques
        starts = np.flatnonzero(np.concatenate([[True], u[1:] != u[:-1]]))  # first row of each user
        user_ids = by_rank.take(u[starts])
        out = pd.DataFrame({"user": pd.Series(np.repeat(user_ids, np.diff(np.append(starts, len(u)))), dtype=object,
                                              copy=False),
                            "item": pd.Series(self.items.uniques.take(self.i), dtype=object, copy=False),
                            "time": pd.Series(self.t, copy=False)}, copy=False)
        if self.event is not None:
            out["event"] = self.event[pos]
        if self.rating is not None:
            out["rating"] = self.rating[pos]
        coded = CodedLog(out, user_ids, starts, self.i, self.items.uniques)
        return Interactions(out, self.columns, self.is_dt, self.raw_rows, self.notes, self.dropped, self.n_sessions,
                            coded)


def _whole_number_ids(rows: _Rows) -> None:
    """IDs a spreadsheet wrote as floats ('17850.0') become '17850' (decided on the values of kept rows)."""
    for role, ids in (("user", rows.users), ("item", rows.items)):
        if rows.every:  # every value that is not a missing-value word is on some kept row
            used = ~ids.token
        else:
            used = np.zeros(len(ids.uniques), dtype=bool)
            used[ids.codes[rows.keep & (ids.codes >= 0)]] = True
        _integer_ids(ids, used, role, rows.notes)


def _drop_missing(rows: _Rows) -> None:
    """Only the rows with a user, an item and a time go on (the other arrays hold only those already)."""
    rows.user_codes = rows.users.codes if rows.every else rows.users.codes[rows.keep]
    rows.item_codes = rows.items.codes if rows.every else rows.items.codes[rows.keep]


def _where_conditions(rows: _Rows) -> None:
    for cond, ok in rows.conditions:
        rows.narrow(ok)
        rows.notes.append(f"kept rows where {cond.strip()} ({int(ok.sum()):,} of {len(ok):,})")


def _date_range(rows: _Rows) -> None:
    f = rows.filters
    if not (f.date_from or f.date_to):
        return
    lo = _date_seconds(f.date_from) if f.date_from else -np.inf
    hi = _date_seconds(f.date_to, end=True) if f.date_to else np.inf
    ok = (rows.times >= lo) & (rows.times <= hi)
    rows.narrow(ok)
    span = f"from {f.date_from} " * bool(f.date_from) + f"to {f.date_to}" * bool(f.date_to)
    rows.notes.append(f"kept events {span.strip()} ({int(ok.sum()):,} of {len(ok):,})")


def _order_by_time(rows: _Rows) -> None:
    """The rows the conditions and the date range keep, sorted by user (as text), then time, ties in file order."""
    mask, users = rows.mask, rows.users
    if not len(rows.user_codes) or (mask is not None and not mask.any()):
        _require_rows([], "no row meets the row conditions and date range; loosen them")
    rank = np.empty(len(users.uniques), dtype=np.int32 if len(users.uniques) < 2**31 else np.int64)
    rank[_string_order(users.uniques)] = np.arange(len(users.uniques))
    if mask is None:  # the usual case: every row, so no copies of the columns
        ur, tt = rank[rows.user_codes], rows.times
    else:
        pos = np.flatnonzero(mask)
        ur, tt = rank[rows.user_codes[pos]], rows.times[pos]
    order, rows.u, rows.t = _user_time_order(ur, tt)
    del ur, tt
    rows.pos = order if mask is None else pos[order]
    rows.i = rows.item_codes[rows.pos]
    rows.rank = rank
    rows.user_codes = rows.item_codes = rows.mask = rows.times = None  # the sorted arrays replace them


def _drop_duplicates(rows: _Rows) -> None:
    """Rows identical to an earlier one in every mapped column (user, item, time, event, rating) are dropped."""
    pos = rows.pos
    others = [rows.i] + ([rows.event[pos]] if rows.event is not None else []) + \
        ([rows.rating[pos]] if rows.rating is not None else [])
    dup = _duplicates(rows.u, rows.t, others)
    if dup.any():
        rows.keep_rows(~dup)
        rows.notes.append(f"removed {int(dup.sum()):,} exact duplicate row(s) (same user, item and time as an "
                          f"earlier row)")


def _can_train(rows: _Rows) -> None:
    """Data that no filter setting could make trainable is refused before the filters run (one item, or no user
    with 3 events); the events per user are counted here for _min_user_interactions."""
    rows.user_counts, rows.counted = np.bincount(rows.u, minlength=len(rows.rank)), len(rows.u)
    if rows.training:
        _require_sequences(rows.i, rows.user_counts, rows.items.uniques, rows.name)


def _event_types(rows: _Rows) -> None:
    if not rows.filters.event_types:
        return
    keep_types = sorted(set(map(str, rows.filters.event_types)))
    ok = np.isin(rows.event[rows.pos], keep_types)
    rows.notes.append(f"kept event types {keep_types}")
    _require_rows(np.flatnonzero(ok), f"no row has an event type in {keep_types}; check the event filter")
    rows.keep_rows(ok)


def _min_rating(rows: _Rows) -> None:
    least = rows.filters.min_rating
    if least is None:
        return
    ok = rows.rating[rows.pos] >= least
    rows.notes.append(f"kept ratings >= {least:g}")
    _require_rows(np.flatnonzero(ok), f"no row has a rating of at least {least:g}; lower the rating filter")
    rows.keep_rows(ok)


def _remove_repeats(rows: _Rows) -> None:
    u, i = rows.u, rows.i
    if rows.filters.remove_repeats and len(u) > 1:
        rows.keep_rows(np.concatenate([[True], ~((u[1:] == u[:-1]) & (i[1:] == i[:-1]))]))


def _sessions(rows: _Rows) -> None:
    if rows.filters.session_gap_minutes is not None:
        ok, rows.n_sessions = _cut_sessions(rows.u, rows.t, rows.filters, rows.is_dt, rows.notes)
        rows.keep_rows(ok)


def _max_events_per_user(rows: _Rows) -> None:
    """Only each user's most recent events."""
    most, u = rows.filters.max_events_per_user, rows.u
    if most:
        ends = np.flatnonzero(np.concatenate([u[1:] != u[:-1], [True]]))  # last row of each user
        run_end = np.repeat(ends, np.diff(np.concatenate([[-1], ends])))
        rows.keep_rows((run_end - np.arange(len(u))) < most)


def _min_item_count(rows: _Rows) -> None:
    least = rows.filters.min_item_count
    if least > 1:
        rows.keep_rows(np.bincount(rows.i, minlength=len(rows.items.uniques))[rows.i] >= least)
        _require_rows(rows.pos, f"no item occurs at least {least} times; lower the minimum item count")


def _min_user_interactions(rows: _Rows) -> None:
    """Users with fewer events than the minimum (counted after every other filter) are dropped."""
    least = rows.filters.min_user_interactions
    if len(rows.u) != rows.counted:  # rows were removed since the users were counted
        rows.user_counts, rows.counted = np.bincount(rows.u, minlength=len(rows.rank)), len(rows.u)
    rows.keep_rows(rows.user_counts[rows.u] >= least)
    _require_rows(rows.pos, f"no user has at least {least} interactions after filtering; lower the minimum "
                            f"interactions per user or the minimum item count")


def _enough_to_train(rows: _Rows) -> None:
    """A training needs 2 users and 2 items left."""
    if not rows.training:
        return
    n_users = int((rows.user_counts >= max(1, rows.filters.min_user_interactions)).sum())  # all their events kept
    if n_users < 2:
        raise SeqrecError(f"Only {n_users} user has enough interactions after filtering; at least 2 users (ideally "
                          f"hundreds) are needed to train and evaluate, so add data or relax the filters.")
    if not (rows.i != rows.i[0]).any():  # one distinct item
        raise SeqrecError("Only one item is left after filtering, so there is nothing to rank; relax the filters "
                          "(minimum item count, event types or minimum rating).")


# In this order: each step sees what the ones before it left (the users' events are counted after every filter)
STEPS = (_whole_number_ids, _drop_missing, _where_conditions, _date_range, _order_by_time, _drop_duplicates,
         _can_train, _event_types, _min_rating, _remove_repeats, _sessions, _max_events_per_user, _min_item_count,
         _min_user_interactions, _enough_to_train)


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
