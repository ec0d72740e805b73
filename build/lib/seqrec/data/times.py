"""Timestamps: epoch numbers (seconds, milliseconds, micro- or nanoseconds), plain ordering numbers or date strings
-> float seconds, with one sentence for every kind of unusable time column."""
from __future__ import annotations

import numpy as np
import pandas as pd

from seqrec.errors import SeqrecError

EPOCH = pd.Timestamp("1970-01-01", tz="UTC")
LATEST_YEAR = 2100  # later "times" are placeholders (9999-12-31) or a wrong unit, never real events
_LATEST_SECONDS = (pd.Timestamp(f"{LATEST_YEAR}-01-01", tz="UTC") - EPOCH).total_seconds()
_SECONDS_PER_YEAR = 365.2425 * 86400
RELATIVE_WORDS = {"now", "today", "yesterday", "tomorrow"}  # pandas would read some as the current date


def quoted(value, limit: int = 40) -> str:
    """A value quoted for a message, shortened: a 1 MB cell must not become a 1 MB error message."""
    text = str(value)
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _line(s: pd.Series, position: int, row_offset: int) -> int:
    """The file line of a row: its index label (the row's position in the file, also after rows were dropped)."""
    label = s.index[position]
    return (int(label) if isinstance(label, (int, np.integer)) else position) + row_offset


def _sentence(problem: tuple[str, str]) -> str:
    """(what is wrong, how to fix it) -> one sentence."""
    what, fix = problem
    return f"{what[0].upper()}{what[1:]}; {fix}."


def parse_times(values: pd.Series, column: str, row_offset: int = 2) -> tuple[np.ndarray, bool]:
    """Timestamps -> float seconds. Integers/floats are epoch seconds, milliseconds, microseconds or nanoseconds
    (or plain ordering numbers); strings are dates. Returns (seconds, is_datetime)."""
    secs, is_dt, problem = try_parse_times(values, column, row_offset)
    if problem:
        raise SeqrecError(_sentence(problem))
    return (secs if secs.flags.writeable else secs.copy()), is_dt  # the caller's own array, free to change


def arrow_numbers(values: pd.Series) -> pd.Series | None:
    """pd.to_numeric(values.astype("str"), errors="coerce") by Arrow's cast, which reads a million strings in
    ~10 ms where pandas takes ~250 ms; None when Arrow refuses (not Arrow-backed strings, a blank, a word). Arrow
    works without the GIL, so prepare runs this beside the ID coding."""
    try:
        # pyarrow is pandas' optional fast path: imported here so that without it the pandas way still works
        import pyarrow as pa
        import pyarrow.compute as pc  # optional too, like pyarrow above

        s = values.astype("str")
        numbers = pc.cast(pa.array(s), pa.float64()).to_numpy(zero_copy_only=False)
        return pd.Series(numbers, index=s.index)
    except Exception:  # not Arrow-backed strings, or a value that is not a plain number
        return None


def _to_numbers(s: pd.Series) -> pd.Series:
    """pd.to_numeric(s, errors="coerce"), fast for the usual all-numeric column (Arrow), else the pandas way."""
    numbers = arrow_numbers(s)
    return pd.to_numeric(s, errors="coerce") if numbers is None else numbers


def try_parse_times(values: pd.Series, column: str, row_offset: int, numbers: pd.Series | None = None):
    """(seconds, is_datetime, None) or (None, False, (what, fix)) so prepare can report it beside other problems.
    `numbers`: arrow_numbers(values) when the caller already has it."""
    s = values.astype("str")
    missing = values.isna().to_numpy()
    if missing.any():
        line = _line(values, int(np.flatnonzero(missing)[0]), row_offset)
        return None, False, (f"the time column '{column}' has {int(missing.sum()):,} empty value(s) (first on line "
                             f"{line})", "fill them in or delete those rows")
    num = _to_numbers(s) if numbers is None else numbers
    is_num = num.notna().to_numpy()
    if is_num.all():
        return _epoch_seconds(num.to_numpy(dtype="float64"), s, column, row_offset)
    text_rows = np.flatnonzero(~is_num)
    dates = _parse_dates(s.iloc[text_rows])
    bad = text_rows[dates.isna().to_numpy()]
    if len(bad):
        return None, False, (f"the time column '{column}' has {len(bad):,} value(s) that are neither numbers nor "
                             f"dates, e.g. {quoted(s.iloc[bad[0]])} on line {_line(s, bad[0], row_offset)}",
                             "use epoch seconds/milliseconds or dates like 2024-05-01 13:45:00, or choose the right "
                             "time column")
    if is_num.any():
        first_num, first_date = int(np.flatnonzero(is_num)[0]), int(text_rows[0])
        return None, False, (f"the time column '{column}' mixes numbers and dates: {int(is_num.sum()):,} value(s) "
                             f"are numbers (e.g. {quoted(s.iloc[first_num])} on line "
                             f"{_line(s, first_num, row_offset)}) and {len(text_rows):,} are dates (e.g. "
                             f"{quoted(s.iloc[first_date])} on line {_line(s, first_date, row_offset)})",
                             "export every time in one format (all dates or all epoch seconds) and try again")
    secs = (dates - EPOCH).dt.total_seconds().to_numpy(dtype="float64")
    return _refuse_far_future(secs, s, column, row_offset)


def _parse_dates(s: pd.Series) -> pd.Series:
    """Date strings -> UTC timestamps (NaT where unreadable); 'today' and friends are not dates in a log."""
    dt = pd.to_datetime(s, errors="coerce", utc=True, format="ISO8601")
    if dt.isna().any():
        dt = dt.where(dt.notna(), pd.to_datetime(s, errors="coerce", utc=True, format="mixed"))
    return dt.where(~s.str.strip().str.lower().isin(RELATIVE_WORDS).to_numpy())


def _epoch_seconds(v: np.ndarray, s: pd.Series, column: str, row_offset: int):
    """Numbers -> seconds. The unit comes from the typical (median) magnitude, so one wrong value cannot rescale
    the whole column; it is refused instead."""
    if not np.isfinite(v).all():
        line = _line(s, int(np.flatnonzero(~np.isfinite(v))[0]), row_offset)
        return None, False, (f"the time column '{column}' holds infinite numbers (first on line {line})",
                             "use epoch seconds or dates")
    size = np.abs(v)
    scale = 1e9 if _median_is(size, 1e17) else 1e6 if _median_is(size, 1e14) else 1e3 if _median_is(size, 1e11) \
        else 1.0
    secs = v / scale if scale != 1.0 else v  # may be Arrow's read-only buffer: prepare only reads it
    if not _median_is(size, 1e8, scale):
        return secs, False, None  # plain ordering numbers (any sign): they only order each user's events
    negative = np.flatnonzero(secs < 0)
    if len(negative):
        i = int(negative[0])
        return None, False, (f"the time column '{column}' has {len(negative):,} negative value(s) among epoch "
                             f"timestamps, e.g. {quoted(s.iloc[i])} on line {_line(s, i, row_offset)}",
                             "an epoch time cannot be before 1970, so fix or delete those rows and try again")
    return _refuse_far_future(secs, s, column, row_offset)


def _median_is(size: np.ndarray, bound: float, scale: float = 1.0) -> bool:
    """np.median(size) / scale >= bound, decided by counting instead of sorting a million values: the two middle
    values (one for an odd count) are on the same side of the bound unless exactly half the values are below it,
    and then they are the largest value below and the smallest above."""
    n = len(size)
    if not n:
        return 0.0 >= bound
    above = size / scale >= bound if scale != 1.0 else size >= bound
    below = n - int(np.count_nonzero(above))
    m = n // 2
    if n % 2 or below != m:
        return below <= m
    return (float(size[~above].max()) + float(size[above].min())) / 2 / scale >= bound


def _refuse_far_future(secs: np.ndarray, s: pd.Series, column: str, row_offset: int):
    late = np.flatnonzero(secs >= _LATEST_SECONDS)
    if len(late):
        i = int(late[0])
        year = int(1970 + secs[i] / _SECONDS_PER_YEAR)
        return None, False, (f"the time column '{column}' has {len(late):,} value(s) after the year {LATEST_YEAR}, "
                             f"e.g. {quoted(s.iloc[i])} on line {_line(s, i, row_offset)} (the year {year})",
                             "placeholders like 9999-12-31 or a wrong unit are the usual cause, so fix or delete "
                             "those rows and try again")
    return secs, True, None
