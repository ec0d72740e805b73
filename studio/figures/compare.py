"""Plotly figures of the Compare page's diagnostics: a metric by history length for runs and baselines.

Each function takes library tables and returns a `plotly.graph_objects.Figure`; nothing here draws or caches.
"""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from seqrec.evaluation.uncertainty import LENGTH_BUCKETS
from studio.figures.style import PALETTE, style
from studio.textsafe import plot_escape


def history_length_bars(table: pd.DataFrame, key: str, label: str) -> go.Figure:
    """Grouped bars: `key` per history-length bucket (x), one bar per run (colours) and baseline (greys)."""
    fig = go.Figure()
    order = [b for b, _, _ in LENGTH_BUCKETS if b in set(table["Bucket"])]
    users = table.drop_duplicates("Bucket").set_index("Bucket")["Users"] if len(table) else pd.Series(dtype=int)
    ticks = [f"{b} events ({int(users[b]):,} users)" for b in order]
    greys = ["#495057", "#868E96", "#ADB5BD", "#CED4DA", "#DEE2E6", "#E9ECEF"]
    n_run = n_base = 0
    for name, part in table.groupby("Name", sort=False):
        is_base = part["Kind"].iloc[0] == "baseline"
        color = greys[n_base % len(greys)] if is_base else PALETTE[n_run % len(PALETTE)]
        n_base, n_run = n_base + is_base, n_run + (not is_base)
        vals = part.set_index("Bucket")[key].reindex(order)
        fig.add_trace(go.Bar(x=ticks, y=vals.to_numpy(), name=plot_escape(name), marker_color=color,
                             hovertemplate="%{x}: %{y:.3f}<extra>" + plot_escape(name) + "</extra>"))
    fig.update_layout(barmode="group", hovermode="closest")
    fig.update_xaxes(title="history length (events before the test item)")
    fig.update_yaxes(title=f"{label} (test)", rangemode="tozero")
    return style(fig, f"{label} by history length", 380)
