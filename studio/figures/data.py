"""Plotly figures of the Data page: the data at a glance (sequence lengths, popularity, activity over time).

Each function takes library objects and returns a `plotly.graph_objects.Figure`; nothing here draws or caches.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from seqrec.data.columns import FILE_ORDER
from studio.figures.style import PALETTE
from studio.figures.style import style as _style
from studio.textsafe import plot_escape_all


def sequence_length_histogram(ds) -> go.Figure:
    """How many interactions each user has: the model learns from these sequences."""
    lengths = ds.interactions.df.groupby("user", sort=False).size()
    fig = go.Figure(go.Histogram(x=lengths, nbinsx=min(60, max(5, int(lengths.nunique()))),
                                 marker_color=PALETTE[0], hovertemplate="%{x} interactions: %{y} users<extra></extra>"))
    fig.update_xaxes(title="interactions per user")
    fig.update_yaxes(title="users")
    fig.update_layout(bargap=0.05)
    return _style(fig, "Sequence length per user")


def popularity_long_tail(ds) -> go.Figure:
    """Interaction count of every item by popularity rank, log scale: how concentrated the catalogue is."""
    popularity = ds.interactions.df["item"].value_counts()
    counts = popularity.to_numpy()
    ranks = np.arange(1, len(counts) + 1)
    ids = popularity.index.astype(str)
    names = plot_escape_all(ds.item_labels(ids) if len(ids) <= 50_000 else ids)  # titles are text, not HTML
    fig = go.Figure(go.Scatter(x=ranks, y=counts, mode="lines", fill="tozeroy", line=dict(color=PALETTE[1]),
                               text=names, hovertemplate="#%{x} %{text}: %{y} interactions<extra></extra>"))
    fig.update_yaxes(type="log", dtick=1, title="interactions (log scale)")  # one label per decade
    fig.update_xaxes(title="item popularity rank")
    return _style(fig, "Item popularity (long tail)")


def interactions_over_time(ds) -> go.Figure:
    """Interactions per day (or per time bucket when the time column holds plain numbers)."""
    t = ds.interactions.df["time"]
    if ds.interactions.time_is_datetime:
        dates = pd.to_datetime(t, unit="s", utc=True)
        span_days = (dates.max() - dates.min()).days
        freq = "D" if span_days <= 400 else "W" if span_days <= 3000 else "MS"
        s = dates.dt.tz_localize(None).dt.to_period(freq if freq != "MS" else "M").dt.start_time.value_counts()
        s = s.sort_index()
        unit = {"D": "day", "W": "week", "MS": "month"}[freq]
        fig = go.Figure(go.Scatter(x=s.index, y=s.values, mode="lines", line=dict(color=PALETTE[2]),
                                   fill="tozeroy", hovertemplate=f"%{{x|%Y-%m-%d}}: %{{y}} per {unit}<extra></extra>"))
        fig.update_yaxes(title=f"interactions per {unit}")
    else:
        fig = go.Figure(go.Histogram(x=t, nbinsx=60, marker_color=PALETTE[2]))
        fig.update_xaxes(title="row of the file" if ds.interactions.columns.time == FILE_ORDER else "time value")
        fig.update_yaxes(title="interactions")
    return _style(fig, "Interactions over time")
