"""Spreadsheet-safe CSV export.

A CSV opened in Excel / LibreOffice / Google Sheets runs any cell that starts with `=`, `+`, `-` or `@` (and some
versions also tab / carriage return) as a formula - so an item title like `=HYPERLINK("http://evil")` coming from an
uploaded file would turn our download into an attack on whoever opens it. Every CSV the app or CLI hands out goes
through `to_safe_csv`, which prefixes such text cells with an apostrophe (the spreadsheet convention for
"this is text"). Numbers stored as numbers are never touched, so a negative score stays a negative number.
"""
from __future__ import annotations

import re

import pandas as pd

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")  # "-5", "+1.5e3": a spreadsheet reads a number


def neutralise_cell(value):
    """One value made formula-safe: text that a spreadsheet would run as a formula gets a leading apostrophe.

    Text that is just a signed number (``"-3"``) is left alone: a spreadsheet reads it as that number, not a formula.
    """
    if not isinstance(value, str) or not value.startswith(FORMULA_STARTS):
        return value
    if _PLAIN_NUMBER.fullmatch(value):
        return value
    return "'" + value


def _is_text_column(series: pd.Series) -> bool:
    return (series.dtype == object or isinstance(series.dtype, (pd.StringDtype, pd.CategoricalDtype))
            or pd.api.types.is_string_dtype(series.dtype))


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of `df` whose text cells (and column names) cannot run as spreadsheet formulas; numbers untouched."""
    out = df.copy()
    for col in out.columns:
        series = out[col]
        if _is_text_column(series):
            out[col] = series.astype(object).map(neutralise_cell)
    out.columns = [neutralise_cell(c) for c in out.columns]
    if out.index.dtype == object or pd.api.types.is_string_dtype(out.index.dtype):
        out.index = out.index.map(neutralise_cell)
    return out


def to_safe_csv(df: pd.DataFrame, index: bool = False) -> bytes:
    """UTF-8 CSV bytes of `df` after `neutralise_formulas` - the only way the project writes CSV for people.

    Rows end in CRLF (RFC 4180, what spreadsheets expect), which also makes the writer quote any cell holding a
    carriage return, so a title with a stray CR cannot split its row."""
    return neutralise_formulas(df).to_csv(index=index, lineterminator="\r\n").encode("utf-8")
