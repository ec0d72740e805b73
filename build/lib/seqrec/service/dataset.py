"""A loaded dataset as one bundle (the application layer's: it caches the fitted baselines and their metrics):
interactions, their leave-last-out split, statistics, item metadata and labels.

The app keeps one Dataset per browser session; every page (and every test) reads items, users and labels from it,
so an item is shown the same way everywhere and the split is computed once.
"""
from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from seqrec.data.columns import FILE_ORDER, resolve_columns
from seqrec.data.fingerprint import interactions_fingerprint
from seqrec.data.metadata import load_item_metadata
from seqrec.data.prepare import Filters, Interactions, prepare
from seqrec.data.read import Source, read_tables

# re-exported: the pages and tests read the bundled samples here
from seqrec.data.samples import (
    DEFAULT_SAMPLE,
    SAMPLES,  # noqa: F401
    sample_named,
)
from seqrec.data.split import SplitData, leave_last_out
from seqrec.data.stats import dataset_stats
from seqrec.errors import SeqrecError
from seqrec.evaluation.protocol import evaluate_baselines, fit_baselines


@dataclass
class Dataset:
    """Everything the pages need about the current data. `items` is metadata indexed by item id (or None)."""

    name: str
    interactions: Interactions
    split: SplitData
    stats: dict
    items: pd.DataFrame | None = None
    files: list[str] = field(default_factory=list)
    fingerprint: str = ""
    _baselines: dict = field(default_factory=dict, repr=False)
    _fitted: dict = field(default_factory=dict, repr=False)
    _user_pos: dict | None = field(default=None, repr=False)
    _user_row_starts: np.ndarray | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # -- labels ----------------------------------------------------------------------------------------------------
    def _title_and_category(self, item_id: str) -> tuple[str, str]:
        """(title, category) from the metadata; (the raw ID, "") for an item it does not know."""
        item_id = str(item_id)
        if self.items is None or item_id not in self.items.index:
            return item_id, ""
        row = self.items.loc[item_id]
        title, cat = str(row["title"] or item_id), str(row["category"] or "")
        return title, "" if cat == "nan" else cat

    def item_label(self, item_id: str) -> str:
        """'Title (Category)' when metadata knows the item, else the raw ID, so people see names, not codes."""
        title, cat = self._title_and_category(item_id)
        return f"{title} ({cat})" if cat else title

    def item_labels(self, ids: Sequence[str]) -> list[str]:
        return [self.item_label(i) for i in ids]

    def item_title(self, item_id: str) -> str:
        return self._title_and_category(item_id)[0]

    def item_category(self, item_id: str) -> str:
        return self._title_and_category(item_id)[1]

    @property
    def item_ids(self) -> list[str]:
        """All item IDs of the split vocabulary, most popular first (the order pickers show them in)."""
        return [str(i) for i in self.split.vocab.ids]

    @property
    def user_ids(self) -> list[str]:
        return [str(u) for u in self.split.users]

    def run_info(self) -> dict:
        """What a run records about the data it was trained on (the fingerprint ties it to this dataset)."""
        return dict(users=int(self.stats["users"]), items=int(self.stats["items"]),
                    interactions=int(self.stats["interactions"]), name=self.name, fingerprint=self.fingerprint)

    def preview(self, n: int = 200) -> pd.DataFrame:
        """The first rows of the cleaned log with readable times and item names, for a quick look."""
        df = self.interactions.df.head(n).copy()
        if self.interactions.time_is_datetime:
            df["time"] = pd.to_datetime(df["time"], unit="s", utc=True).dt.strftime("%Y-%m-%d %H:%M:%S")
        df.insert(2, "item name", self.item_labels(df["item"]))
        return df.reset_index(drop=True)

    def time_span_text(self) -> tuple[str, str]:
        """(short value, detail) describing the time span, e.g. ('182 days', '2025-01-01 → 2025-07-02')."""
        span = self.stats["time_span"]
        if span.get("is_datetime"):
            start, end = str(span["start"])[:10], str(span["end"])[:10]
            return f"{span['days']:,.0f} days", f"{start} → {end}"
        if self.interactions.columns.time == FILE_ORDER:
            return "file order", "No time column: each user's rows are taken in the order of the file."
        return f"{span['end'] - span['start']:,.6g}", f"time values {span['start']:g} → {span['end']:g}"

    # -- baselines -------------------------------------------------------------------------------------------------
    def baseline_metrics(self, ks: Sequence[int] = (10, 20), exclude_seen: bool = False) -> dict:
        """Test metrics of every baseline (all five, fitted once per dataset), computed once per (ks, exclude_seen)
        and then reused by every run; a BaselineResults, whose `ranks` (each test user's target rank per baseline)
        give the intervals."""
        key = (tuple(sorted(set(int(k) for k in ks))), bool(exclude_seen))
        fitted = self.fitted_baselines()
        with self._lock:
            if key not in self._baselines:
                self._baselines[key] = evaluate_baselines(self.split, key[0], key[1], fitted=fitted)
            return self._baselines[key]

    def fitted_baselines(self) -> dict:
        """name -> fitted baseline (with its display `label`) for scoring hand-made histories; every baseline of
        ALL_BASELINES, fitted once on the training parts."""
        with self._lock:
            if not self._fitted:
                self._fitted.update(fit_baselines(self.split))
            return self._fitted


def build_dataset(interactions: Interactions, items: pd.DataFrame | None = None, name: str = "data",
                  files: Sequence[str] = (), fingerprint: str = "") -> Dataset:
    """Split once and compute the statistics; the split refuses users with fewer than 3 interactions clearly."""
    split = leave_last_out(interactions)
    return Dataset(name=name, interactions=interactions, split=split, stats=dataset_stats(interactions), items=items,
                   files=list(files), fingerprint=fingerprint)


def load_dataset(sources: Sequence[Source], names: Sequence[str] | None = None, columns: dict | None = None,
                 filters: Filters | None = None, items: Source | pd.DataFrame | None = None,
                 items_name: str | None = None, name: str | None = None) -> Dataset:
    """Read one or several interaction files (appended), map columns, filter, split, and attach item metadata.

    `columns` maps roles (user, item, time, event, rating) to column names; missing roles are guessed.
    Every problem is raised as one SeqrecError sentence, so the caller can keep its previous dataset.
    """
    if not sources:
        raise SeqrecError("No interaction file was given; upload at least one CSV or pick the bundled sample.")
    names = list(names) if names else None
    df = read_tables(list(sources), names)
    cols = resolve_columns(df, **(columns or {}))
    label = name or (names[0] if names and len(names) == 1 else
                     f"{len(names)} files" if names else "uploaded data")
    data = prepare(df, cols, filters, names[0] if names else "the file")
    meta = items if isinstance(items, pd.DataFrame) or items is None else load_item_metadata(items, items_name)
    return build_dataset(data, meta, label, names or [], interactions_fingerprint(data))


def sample_dataset(filters: Filters | None = None, key: str = DEFAULT_SAMPLE) -> Dataset:
    """A bundled sample (by default the synthetic one: 3000 shoppers, 300 products) with its item titles."""
    sample = sample_named(key)
    ds = load_dataset([sample.interactions], [sample.interactions.name], filters=filters, items=sample.items,
                      items_name=sample.items.name, name=sample.name)
    return ds


def metadata_coverage(ds: Dataset) -> float:
    """Share of the dataset's items that the metadata names (0 when there is no metadata)."""
    if ds.items is None or not ds.split.n_items:
        return 0.0
    return float(np.isin(np.asarray(ds.item_ids, dtype=object), ds.items.index.to_numpy()).mean())


def column_values(df: pd.DataFrame, column: str, limit: int = 50) -> list[str]:
    """The most frequent distinct values of a raw column (for event-type filters), at most `limit`."""
    return [str(v) for v in df[column].astype(str).value_counts().head(limit).index]


def numeric_range(df: pd.DataFrame, column: str) -> tuple[float, float] | None:
    """(min, max) of a raw column read as numbers, or None when it holds no numbers (for a rating filter)."""
    v = pd.to_numeric(df[column], errors="coerce").dropna()
    return (float(v.min()), float(v.max())) if len(v) else None
