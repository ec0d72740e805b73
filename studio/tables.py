"""Tables for the screen: the library's results turned into DataFrames with item names, readable times and dashes
for settings that do not apply. Nothing here computes a result; it only formats one."""
from __future__ import annotations

import numpy as np
import pandas as pd

from seqrec.data.users import user_events
from seqrec.evaluation.compare import HYPER_COLUMNS


def recommendations_table(ds, recommendations: list, highlight: str | None = None) -> pd.DataFrame:
    """Top-K {"item", "score"} dicts as a table with names; `highlight` marks one item (the true next item)."""
    recs = recommendations
    df = pd.DataFrame({
        "Rank": np.arange(1, len(recs) + 1, dtype=np.int64),
        "Item": [ds.item_title(r["item"]) for r in recs],
        "Category": [ds.item_category(r["item"]) for r in recs],
        "Score": [float(r["score"]) for r in recs],
        "Item ID": [r["item"] for r in recs],
    })
    if highlight is not None:
        df["True next"] = ["✅" if r["item"] == str(highlight) else "" for r in recs]
    return df


def _format_time(ds, t: float) -> str:
    if ds.interactions.time_is_datetime:
        return pd.Timestamp(t, unit="s", tz="UTC").strftime("%Y-%m-%d %H:%M")
    return f"{t:g}"


def user_history(ds, user_id: str) -> pd.DataFrame:
    """The user's whole sequence in time order with names, marking the validation and the held-out test item."""
    ids, times = user_events(ds, user_id)
    role = ["history"] * (len(ids) - 2) + ["validation item", "held-out next item"]
    return pd.DataFrame({
        "#": np.arange(1, len(ids) + 1),
        "Item": [ds.item_title(x) for x in ids],
        "Category": [ds.item_category(x) for x in ids],
        "Item ID": ids,
        "When": [_format_time(ds, t) for t in times[-len(ids):]] if len(times) >= len(ids) else [""] * len(ids),
        "Role": role,
    })


def comparison_for_display(table: pd.DataFrame) -> pd.DataFrame:
    """The comparison table for the screen: settings a baseline does not have read as a dash, not 'None'."""
    out = table.drop(columns=["Kind"])
    for col in HYPER_COLUMNS + ["Epochs"]:
        out[col] = [("—" if pd.isna(v) else f"{v:g}" if isinstance(v, float) else str(v)) for v in out[col]]
    return out


def library_table(records, session: str | None, loaded_ids=(), show_owner: bool = False) -> pd.DataFrame:
    """The Runs page's list: name, model, test Recall@K, dataset, time, who shares it and whether the run is loaded
    in the session (`loaded_ids`: store ids of its runs)."""
    rows = []
    for r in records:
        shared = ("yours" if r.owner == session else "another session") if show_owner else \
            ("in the gallery" if r.published else "private")
        rows.append({"Name": r.name, "Model": r.model.upper(), "Test Recall": r.headline(), "K": r.monitor_k,
                     "Dataset": r.dataset.get("name", "") or "—", "Trained": r.created[:16].replace("T", " "),
                     "Shared": shared,
                     "In this session": "files missing" if not r.available else "yes" if r.id in loaded_ids else ""})
    return pd.DataFrame(rows)
