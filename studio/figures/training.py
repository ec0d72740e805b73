"""Plotly figures of training and its results: live training curves, and comparisons across runs (Train and
Compare pages).

Each function takes library objects and returns a `plotly.graph_objects.Figure`; nothing here draws or caches.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from studio.figures.style import LAYOUT, PALETTE
from studio.figures.style import style as _style
from studio.textsafe import plot_escape, plot_escape_all


def smooth(values: Sequence[float], alpha: float = 0.1) -> np.ndarray:
    """Exponential moving average (bias-corrected), so a noisy per-batch loss shows its trend."""
    v = np.asarray(values, dtype=float)
    out = np.empty_like(v)
    acc, weight = 0.0, 0.0
    for i, x in enumerate(v):
        acc = (1 - alpha) * acc + alpha * x
        weight = (1 - alpha) * weight + alpha
        out[i] = acc / weight
    return out


def thin(n: int, max_points: int = 600) -> np.ndarray:
    """Indices of at most `max_points` evenly spaced points (always keeping the last), so long curves stay light
    to send to the browser every second."""
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.append(np.linspace(0, n - 1, max_points).astype(int), n - 1))


def training_progress(batch_losses: Sequence[float], epoch_metrics: Sequence[dict], k: int,
                      best_epoch: int = 0) -> go.Figure:
    """Live chart: training loss per batch (raw, faint, and smoothed) and validation Recall@K / MRR@K per epoch."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Training loss per batch", f"Validation metrics @{k}"),
                        horizontal_spacing=0.08)
    if len(batch_losses):
        raw = np.asarray(batch_losses, dtype=float)
        keep = thin(len(raw))
        fig.add_trace(go.Scatter(x=keep + 1, y=raw[keep], mode="lines", name="loss (per batch)",
                                 line=dict(color=PALETTE[0], width=1), opacity=0.25), 1, 1)
        fig.add_trace(go.Scatter(x=keep + 1, y=smooth(raw)[keep], mode="lines", name="loss (smoothed)",
                                 line=dict(color=PALETTE[0], width=2.5)), 1, 1)
    epochs = [e["epoch"] for e in epoch_metrics]
    for j, (m, label) in enumerate((("recall", "Recall"), ("mrr", "MRR"))):
        fig.add_trace(go.Scatter(x=epochs, y=[e.get(f"{m}@{k}") for e in epoch_metrics], mode="lines+markers",
                                 name=f"{label}@{k} (validation)", line=dict(color=PALETTE[1 + j], width=2.5)), 1, 2)
    if not len(batch_losses):
        fig.add_annotation(text="waiting for the first batch…", showarrow=False, xref="x domain", yref="y domain",
                           x=0.5, y=0.5, row=1, col=1)
    if not epochs:
        fig.add_annotation(text="after the first epoch", showarrow=False, xref="x2 domain", yref="y2 domain",
                           x=0.5, y=0.5, row=1, col=2)
        fig.update_xaxes(range=[0.5, 1.5], row=1, col=2)
        fig.update_yaxes(range=[0, 1], row=1, col=2)
    if best_epoch:
        fig.add_vline(x=best_epoch, line_dash="dot", line_color="#868E96", row=1, col=2,
                      annotation_text="best", annotation_position="top left")
    fig.update_xaxes(title="batch", row=1, col=1)
    fig.update_xaxes(title="epoch", row=1, col=2, dtick=1 if len(epochs) <= 15 else None)
    fig.update_yaxes(title="cross-entropy", row=1, col=1)
    fig.update_yaxes(rangemode="tozero", row=1, col=2)
    fig.update_layout(**{**LAYOUT, "hovermode": "closest", "height": 360})
    return fig


# ------------------------------------------------------------------------------------------------------------------
# Comparison
# ------------------------------------------------------------------------------------------------------------------

def metric_bars(table: pd.DataFrame, metric_col: str) -> go.Figure:
    """One bar per run and baseline for the chosen metric, baselines in grey; error bars show the 95% interval
    where the table has one (columns f"{metric_col} 95% low/high", see compare.comparison_table)."""
    df = table.dropna(subset=[metric_col]).sort_values(metric_col, ascending=True)
    colors = ["#ADB5BD" if kind == "baseline" else PALETTE[0] for kind in df["Kind"]]
    lo_col, hi_col = f"{metric_col} 95% low", f"{metric_col} 95% high"
    error = None
    if lo_col in df and hi_col in df and df[lo_col].notna().any():
        error = dict(type="data", symmetric=False, array=(df[hi_col] - df[metric_col]).fillna(0).clip(lower=0),
                     arrayminus=(df[metric_col] - df[lo_col]).fillna(0).clip(lower=0), color="#495057", thickness=1.5)
    names = plot_escape_all(df["Name"])
    labels = [f"{v:.3f}" for v in df[metric_col]]
    fig = go.Figure(go.Bar(x=df[metric_col], y=names, orientation="h", marker_color=colors,
                           text=None if error else labels, textposition="outside", error_x=error,
                           hovertemplate="%{y}: %{x:.4f}<extra></extra>"))
    fig.update_xaxes(title=f"{metric_col} (test; whiskers: 95% interval)" if error else f"{metric_col} (test)",
                     rangemode="tozero")
    if error:  # each value just past its whisker's end, so the label never sits on the whisker
        ends = np.maximum(df[metric_col].to_numpy(float), df[hi_col].fillna(df[metric_col]).to_numpy(float))
        for y, x, text in zip(names, ends, labels):
            fig.add_annotation(x=x, y=y, text=text, showarrow=False, xanchor="left", xshift=6, font=dict(size=12))
        fig.update_xaxes(range=[0, float(ends.max(initial=0)) * 1.18 or 1])
    height = max(260, 60 + 38 * len(df))
    fig.update_layout(hovermode="closest")
    return _style(fig, f"{metric_col} on the held-out test items", height)


def validation_curves(runs, metric_key: str, label: str | None = None) -> go.Figure:
    """Validation metric per epoch, one line per run."""
    label = label or metric_key
    fig = go.Figure()
    for i, r in enumerate(runs):
        fig.add_trace(go.Scatter(x=[e["epoch"] for e in r.epochs], y=[e.get(metric_key) for e in r.epochs],
                                 mode="lines+markers", name=plot_escape(r.name),
                                 line=dict(color=PALETTE[i % len(PALETTE)])))
    fig.update_xaxes(title="epoch")
    fig.update_yaxes(title=f"validation {label}", rangemode="tozero")
    return _style(fig, f"Validation {label} per epoch")


def loss_curves(runs) -> go.Figure:
    """Smoothed training loss per batch, one line per run."""
    fig = go.Figure()
    for i, r in enumerate(runs):
        y = smooth(r.batch_losses) if r.batch_losses else np.zeros(0)
        keep = thin(len(y))
        fig.add_trace(go.Scatter(x=keep + 1, y=y[keep], mode="lines", name=plot_escape(r.name),
                                 line=dict(color=PALETTE[i % len(PALETTE)])))
    fig.update_xaxes(title="batch")
    fig.update_yaxes(title="training loss (smoothed)")
    return _style(fig, "Training loss")
