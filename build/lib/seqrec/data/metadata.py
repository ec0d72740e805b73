"""Item metadata (titles and categories) read from an item CSV, so pages show names instead of IDs."""
from __future__ import annotations

import pandas as pd

from seqrec.data.columns import ITEM_NAMES, find_columns
from seqrec.data.read import Source, read_table, source_name
from seqrec.errors import SeqrecError

TITLE_NAMES = ["title", "name", "item_name", "product_name", "movie_title", "label", "display_name", "track_name",
               "song", "book_title", "description", "product_title", "app_name", "game_title"]
CATEGORY_NAMES = ["category", "genre", "genres", "categories", "department", "type", "class", "section", "artist"]


def load_item_metadata(source: Source, name: str | None = None) -> pd.DataFrame:
    """Item metadata CSV -> DataFrame indexed by item id (string) with `title` and `category` columns. A file without
    a header line (MovieLens' u.item: id|title|date|...|genre flags) gets its title column guessed from the values."""
    name = name or source_name(source)
    df = read_table(source, name)
    cols = list(df.columns)
    if not df.attrs.get("has_header", True):
        title = guess_title_column(df, exclude={cols[0]})
        if title is None:
            raise SeqrecError(f"{name} has no header line and no column of names (text that is not a number, a date "
                              f"or a web address), so add a header line with item_id and title columns.")
        return _with_notes(titles_from_table(df, cols[0], title), df)
    item = find_columns(cols, ITEM_NAMES + ["id"], set())
    if not item:
        raise SeqrecError(f"{name} has no item id column (looked for names like item_id, movieId, product_id), so "
                          f"rename its id column to item_id; its columns are {cols}.")
    title = find_columns(cols, TITLE_NAMES, {item[0]})
    cat = find_columns(cols, CATEGORY_NAMES, {item[0]} | set(title[:1]))
    if not title and not cat:
        raise SeqrecError(f"{name} has no title or category column (looked for title, name, category, genre), so "
                          f"add a 'title' column; its columns are {cols}.")
    return _with_notes(titles_from_table(df, item[0], title[0] if title else None, cat[0] if cat else None), df)


def _with_notes(meta: pd.DataFrame, df: pd.DataFrame) -> pd.DataFrame:
    meta.attrs["notes"] = list(df.attrs.get("notes", []))  # e.g. "read as Windows-1252"
    return meta


def titles_from_table(df: pd.DataFrame, item: str, title: str | None, category: str | None = None) -> pd.DataFrame:
    """Item metadata (index item id; title, category) from columns of any table, e.g. `Description` beside
    `StockCode` in the interaction file itself: the first non-empty title of each item wins. Item IDs written as
    decimals ('17850.0') become whole numbers, as in the interactions."""
    ids = df[item].astype("str")
    if len(ids) and ids.dropna().str.fullmatch(r"-?\d+\.0+").all():
        ids = ids.str.replace(r"\.0+$", "", regex=True)
    out = pd.DataFrame({"item": ids.to_numpy(dtype=object)})
    out["title"] = df[title].astype("str").fillna("").to_numpy(dtype=object) if title else out["item"]
    out["category"] = df[category].astype("str").fillna("").to_numpy(dtype=object) if category else ""
    out = out[out["item"].notna() & (out["item"] != "")]
    out = out.sort_values("title", key=lambda t: t.eq(""), kind="stable")  # items with a title first
    return out.drop_duplicates("item").set_index("item")


def guess_title_column(df: pd.DataFrame, exclude: set | None = None) -> str | None:
    """The column that looks most like item names: text (not numbers, dates or web addresses), many distinct values,
    mostly filled in; None when no column does."""
    sample = df.head(2000)
    best, best_score = None, 0.0
    for c in sample.columns:
        if c in (exclude or set()):
            continue
        v = sample[c].dropna().astype("str")
        v = v[v != ""]
        if len(v) < max(1, 0.5 * len(sample)):
            continue
        if pd.to_numeric(v, errors="coerce").notna().mean() > 0.5 or v.str.match(r"(?i)(https?://|www\.)").mean() > 0.5:
            continue
        if v.str.fullmatch(r"[\d\s:/.\-]+|\d{1,2}-[A-Za-z]{3}-\d{4}").mean() > 0.5:  # dates like 01-Jan-1995
            continue
        if not v.str.contains(r"[A-Za-z\u00c0-\uffff]", regex=True).mean() > 0.8:
            continue
        score = v.nunique() / len(v) + min(v.str.len().mean(), 30) / 30
        if score > best_score:
            best, best_score = c, score
    return best
