"""Plotly figures for "Inside the network": gate heatmaps, mean gate value per step, saturation histograms and
hidden-state change per step, for one GateTrace or two side by side.

Every function takes a GateTrace (seqrec.inspect.gates) and a `label` function (item ID -> readable name) and returns a
`plotly.graph_objects.Figure`; nothing here draws, caches or knows about Streamlit.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from seqrec.inspect.gates import SATURATION_THRESHOLDS, GateTrace, hidden_change
from studio.textsafe import plot_escape, plot_escape_all

PALETTE = ["#4C6EF5", "#F76707", "#12B886", "#E64980", "#7950F2", "#FAB005", "#15AABF", "#868E96"]
GATE_COLORS = {"input": PALETTE[0], "forget": PALETTE[1], "candidate": PALETTE[2], "output": PALETTE[3],
               "cell": PALETTE[6], "hidden": PALETTE[4], "reset": PALETTE[5], "update": PALETTE[1],
               "pre_activation": PALETTE[7]}
GATE_TITLES = {"input": "Input gate", "forget": "Forget gate", "candidate": "Candidate", "output": "Output gate",
               "cell": "Cell state", "hidden": "Hidden state", "reset": "Reset gate", "update": "Update gate",
               "pre_activation": "Pre-activation"}
MAX_TICKS = 40  # longer histories label every n-th step on the x axis (hover always names the item)
LABEL_CHARS = 24

Label = Callable[[str], str]


def gate_title(gate: str) -> str:
    return GATE_TITLES.get(gate, gate.replace("_", " ").capitalize())


def _short(text: str, n: int = LABEL_CHARS) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def step_labels(trace: GateTrace, label: Label = str) -> list[str]:
    """'3. Item name' for every step: numbered, so an item bought twice still gets two columns."""
    return [f"{t + 1}. {label(item)}" for t, item in enumerate(trace.items)]


def hover_labels(trace: GateTrace, label: Label = str) -> list[str]:
    """step_labels made safe for plotly hover text (item names are shown as text, never read as HTML)."""
    return plot_escape_all(step_labels(trace, label))


def _step_axis(fig: go.Figure, trace: GateTrace, label: Label, row=None, col=None) -> None:
    """x axis = steps 1..T, ticks showing (shortened) item names."""
    steps = np.arange(1, trace.n_steps + 1)
    every = max(1, int(np.ceil(trace.n_steps / MAX_TICKS)))
    names = [plot_escape(_short(s)) for s in step_labels(trace, label)]  # cut first: an entity must stay whole
    fig.update_xaxes(tickmode="array", tickvals=steps[::every], ticktext=names[::every], tickangle=-45,
                     title="history, oldest first", row=row, col=col)


def _style(fig: go.Figure, title: str, height: int = 360) -> go.Figure:
    """Title at the very top, legend (if any) in its own band between the title and the plot, never over it."""
    legend = sum(1 for t in fig.data if t.showlegend is not False) > 1
    fig.update_layout(title=dict(text=title, x=0, xanchor="left", y=0.99, yanchor="top", yref="container"),
                      height=height + (50 if legend else 0), margin=dict(l=10, r=10, t=100 if legend else 50, b=10),
                      legend=dict(orientation="h", y=1.02, yanchor="bottom", x=0, xanchor="left"))
    return fig


def _color_range(trace: GateTrace, gate: str, values: np.ndarray) -> dict:
    """Fixed 0..1 for sigmoid gates, -1..1 for tanh values (so runs compare by colour), symmetric otherwise."""
    kind = trace.range_of(gate)
    if kind == "sigmoid":
        return dict(colorscale="Viridis", zmin=0.0, zmax=1.0)
    bound = 1.0 if kind == "tanh" else max(1e-6, float(np.abs(values).max()) if values.size else 1.0)
    return dict(colorscale="RdBu_r", zmin=-bound, zmax=bound, zmid=0.0)


def gate_heatmap(trace: GateTrace, gate: str, layer: int = 0, units: Sequence[int] | None = None,
                 label: Label = str, height: int | None = None) -> go.Figure:
    """Time step (x, item names) x hidden unit (y) heatmap of one gate; `units` picks and orders the rows."""
    values = trace.gate(gate, layer)
    units = list(range(values.shape[1])) if units is None else [int(u) for u in units]
    z = values[:, units].T  # (units, steps)
    names = hover_labels(trace, label)
    hover = np.array([names] * len(units), dtype=object)
    fig = go.Figure(go.Heatmap(
        z=z, x=np.arange(1, trace.n_steps + 1), y=[f"unit {u}" for u in units], customdata=hover,
        hovertemplate="%{customdata}<br>%{y}: %{z:.3f}<extra></extra>", colorbar=dict(thickness=12),
        **_color_range(trace, gate, z)))
    fig.update_yaxes(autorange="reversed", type="category", title="hidden unit",
                     dtick=1 if len(units) <= 40 else None)  # every unit named while they fit
    _step_axis(fig, trace, label)
    rows = height or int(min(900, max(260, 150 + 15 * len(units))))
    return _style(fig, f"{gate_title(gate)} — layer {layer + 1}", rows)


def gate_means_chart(trace: GateTrace, layer: int = 0, label: Label = str,
                     gates: Sequence[str] | None = None) -> go.Figure:
    """Mean value over all units of every gate, per step: one line per gate."""
    gates = [g for g in (gates or trace.gate_names)]
    names = hover_labels(trace, label)
    fig = go.Figure()
    for g in gates:
        fig.add_trace(go.Scatter(x=np.arange(1, trace.n_steps + 1), y=trace.gate(g, layer).mean(axis=1),
                                 mode="lines+markers", name=gate_title(g), customdata=names,
                                 line=dict(color=GATE_COLORS.get(g)),
                                 hovertemplate="%{customdata}<br>" + gate_title(g) + ": %{y:.3f}<extra></extra>"))
    _step_axis(fig, trace, label)
    fig.update_yaxes(title="mean over units")
    return _style(fig, f"Mean gate value per step — layer {layer + 1}")


def saturation_histograms(trace: GateTrace, layer: int = 0) -> go.Figure:
    """One histogram per gate of all its values (steps x units), saturation zones shaded (Karpathy et al.)."""
    gates = list(trace.gate_names)
    cols = min(3, len(gates))
    rows = int(np.ceil(len(gates) / cols))
    titles = []
    for g in gates:
        values = trace.gate(g, layer)
        kind = trace.range_of(g)
        if kind in SATURATION_THRESHOLDS:
            lo, hi = SATURATION_THRESHOLDS[kind]
            titles.append(f"{gate_title(g)}: {np.mean(values < lo):.0%} low · {np.mean(values > hi):.0%} high")
        else:
            titles.append(f"{gate_title(g)} (unbounded)")
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.06,
                        vertical_spacing=0.18)
    for i, g in enumerate(gates):
        r, c = i // cols + 1, i % cols + 1
        values = trace.gate(g, layer).ravel()
        kind = trace.range_of(g)
        xbins = dict(start=0, end=1, size=0.05) if kind == "sigmoid" else \
            dict(start=-1, end=1, size=0.1) if kind == "tanh" else None
        fig.add_trace(go.Histogram(x=values, xbins=xbins, marker_color=GATE_COLORS.get(g), name=gate_title(g),
                                   showlegend=False,
                                   hovertemplate="%{x}: %{y} values<extra>" + gate_title(g) + "</extra>"),
                      row=r, col=c)
        if kind in SATURATION_THRESHOLDS:
            lo, hi = SATURATION_THRESHOLDS[kind]
            edge_lo, edge_hi = (0.0, 1.0) if kind == "sigmoid" else (-1.0, 1.0)
            for x0, x1 in ((edge_lo, lo), (hi, edge_hi)):
                fig.add_vrect(x0=x0, x1=x1, fillcolor="#868E96", opacity=0.18, line_width=0, row=r, col=c)
            fig.update_xaxes(range=[edge_lo, edge_hi], row=r, col=c)
    fig.update_annotations(font_size=12)
    return _style(fig, f"How saturated is each gate? (grey = saturated zones) — layer {layer + 1}",
                  height=260 * rows + 60)


def hidden_change_bars(trace: GateTrace, layer: int = 0, label: Label = str) -> go.Figure:
    """||h_t - h_(t-1)|| per step (h_0 = 0): which items moved the network's state the most."""
    names = hover_labels(trace, label)
    fig = go.Figure(go.Bar(x=np.arange(1, trace.n_steps + 1), y=hidden_change(trace.gate("hidden", layer)),
                           customdata=names, marker_color=PALETTE[4],
                           hovertemplate="%{customdata}<br>state moved by %{y:.3f}<extra></extra>"))
    _step_axis(fig, trace, label)
    fig.update_yaxes(title="size of the change")
    return _style(fig, f"How much each item changed the hidden state — layer {layer + 1}")


def compare_hidden_change(traces: Sequence[GateTrace], names: Sequence[str], label: Label = str) -> go.Figure:
    """Hidden-state change per step of the TOP layer of several runs over the same history, as grouped bars."""
    fig = go.Figure()
    for i, (trace, name) in enumerate(zip(traces, names)):
        fig.add_trace(go.Bar(x=np.arange(1, trace.n_steps + 1), y=hidden_change(trace.gate("hidden", -1)),
                             name=plot_escape(name), customdata=hover_labels(trace, label),
                             marker_color=PALETTE[i % len(PALETTE)],  # the run name is data, never template text
                             hovertemplate="%{customdata}<br>%{fullData.name}: %{y:.3f}<extra></extra>"))
    if traces:
        _step_axis(fig, traces[0], label)
    fig.update_layout(barmode="group")
    fig.update_yaxes(title="size of the change")
    return _style(fig, "How much each item changed the hidden state (top layer)")
