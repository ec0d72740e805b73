"""Item metadata (titles and categories) read from an item CSV, so pages show names instead of IDs."""
from __future__ import annotations

import pandas as pd

from seqrec.data.columns import ITEM_NAMES, find_columns
from seqrec.data.read import Source, read_table, source_name
from seqrec.errors import SeqrecError

TITLE_NAMES = ["title", "name", "item_name", "product_name", "movie_title", "label", "display_name", "track_name",
               "song", "book_title"]
CATEGORY_NAMES = ["category", "genre", "genres", "categories", "department", "type", "class", "section", "artist"]


def load_item_metadata(source: Source, name: str | None = None) -> pd.DataFrame:
    """Item metadata CSV -> DataFrame indexed by item id (string) with `title` and `category` columns."""
    name = name or source_name(source)
    df = read_table(source, name)
    cols = list(df.columns)
    item = find_columns(cols, ITEM_NAMES + ["id"], set())
    if not item:
        raise SeqrecError(f"{name} has no item id column (looked for names like item_id, movieId, product_id), so "
                          f"rename its id column to item_id; its columns are {cols}.")
    title = find_columns(cols, TITLE_NAMES, {item[0]})
    cat = find_columns(cols, CATEGORY_NAMES, {item[0]} | set(title[:1]))
    if not title and not cat:
        raise SeqrecError(f"{name} has no title or category column (looked for title, name, category, genre), so "
                          f"add a 'title' column; its columns are {cols}.")
    out = pd.DataFrame({"item": df[item[0]].astype("str")})
    out["title"] = df[title[0]].astype("str").fillna("") if title else out["item"]
    out["category"] = df[cat[0]].astype("str").fillna("") if cat else ""
    out = out.drop_duplicates("item").set_index("item")
    return out
