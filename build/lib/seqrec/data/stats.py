"""Dataset statistics: users, items, interactions, sequence lengths, sparsity, most popular items, time span."""
from __future__ import annotations

import numpy as np
import pandas as pd

from seqrec.data.prepare import Interactions


def dataset_stats(data: Interactions, top_n: int = 10) -> dict:
    """Users, items, interactions, sequence-length distribution, sparsity, most popular items and time span."""
    df = data.df
    lengths = df.groupby("user", sort=False).size().to_numpy()
    item_counts = df["item"].value_counts()
    n_users, n_items, n = len(lengths), len(item_counts), len(df)
    pop = item_counts.head(top_n)
    tmin, tmax = float(df["time"].min()), float(df["time"].max())
    span = dict(start=tmin, end=tmax, is_datetime=data.time_is_datetime)
    if data.time_is_datetime:
        span["start"] = pd.Timestamp(tmin, unit="s", tz="UTC").isoformat()
        span["end"] = pd.Timestamp(tmax, unit="s", tz="UTC").isoformat()
        span["days"] = round((tmax - tmin) / 86400, 2)
    return {
        "users": n_users,
        "items": n_items,
        "interactions": n,
        "rows_in_file": data.raw_rows,
        "sequence_length": {
            "min": int(lengths.min()), "median": float(np.median(lengths)), "mean": round(float(lengths.mean()), 2),
            "p90": float(np.percentile(lengths, 90)), "max": int(lengths.max()),
        },
        "sparsity": round(1.0 - n / (n_users * n_items), 6),
        "most_popular": [{"item": str(k), "count": int(v)} for k, v in pop.items()],
        "time_span": span,
        "columns": data.columns.to_dict(),
        "filters_applied": data.notes,
        "dropped_rows": dict(data.dropped_rows),
        **({"sessions": data.sessions} if data.sessions is not None else {}),
    }
