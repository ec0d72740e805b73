"""Plotly figures for the "Why this?" page: history influence bars, the same explanation across runs, the item map,
the interest trajectory and similar items.

Every function takes library results (seqrec.inspect.influence / seqrec.inspect.embedding_map) and a `label`
function (item ID -> readable name) and returns a `plotly.graph_objects.Figure`; nothing here draws, caches or knows
about Streamlit. Every item name goes through `textsafe.plot_escape` (after any shortening, so an entity stays
whole): plotly renders a subset of HTML in titles, ticks and hover text, and an item title must never become a link
or markup. Run names reach hover text through %{fullData.name}, never as template text.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from seqrec.inspect.embedding_map import StateSpace
from seqrec.inspect.influence import Influence
from studio.textsafe import plot_escape

PALETTE = ["#4C6EF5", "#F76707", "#12B886", "#E64980", "#7950F2", "#FAB005", "#15AABF", "#868E96", "#82C91E",
           "#BE4BDB", "#FA5252", "#364FC7"]
SUPPORT, OPPOSE, NEUTRAL = "#2B8A3E", "#E03131", "#ADB5BD"
MAX_TICKS = 40
PATH_NAMES_UP_TO = 15
LABEL_CHARS = 24

Label = Callable[[str], str]


def _short(text: str, n: int = LABEL_CHARS) -> str:
    text = str(text)
    return text if len(text) <= n else text[: n - 1] + "…"


def _style(fig: go.Figure, title: str, height: int = 380) -> go.Figure:
    """Title at the very top, legend (if any) in its own band between the title and the plot."""
    legend = sum(1 for t in fig.data if t.showlegend is not False and t.name) > 1
    fig.update_layout(title=dict(text=title, x=0, xanchor="left", y=0.99, yanchor="top", yref="container"),
                      height=height + (50 if legend else 0), margin=dict(l=10, r=10, t=100 if legend else 50, b=10),
                      legend=dict(orientation="h", y=1.02, yanchor="bottom", x=0, xanchor="left"))
    return fig


def _step_ticks(items: Sequence[str], label: Label) -> tuple[np.ndarray, list[str]]:
    """(tick positions, '3. Name' texts) for a history axis, every n-th step when it is long."""
    steps = np.arange(1, len(items) + 1)
    every = max(1, int(np.ceil(len(items) / MAX_TICKS)))
    names = [plot_escape(_short(f"{t}. {label(i)}")) for t, i in zip(steps, items)]
    return steps[::every], names[::every]


def step_names(items: Sequence[str], label: Label) -> list[str]:
    """'3. Name' for every step (numbered, so an item seen twice still gets two bars), plotly-safe."""
    return [plot_escape(f"{t + 1}. {label(i)}") for t, i in enumerate(items)]


# ------------------------------------------------------------------------------------------------------------------
# Influence
# ------------------------------------------------------------------------------------------------------------------

def influence_bars(inf: Influence, label: Label = str) -> go.Figure:
    """Two stacked bar charts over the history: the target's probability change when each item is removed
    (percentage points; green = supports the recommendation) and gradient x input (the second opinion)."""
    names = step_names(inf.items, label)
    steps = np.arange(1, inf.n_steps + 1)
    occl = 100 * inf.occlusion
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.12, row_heights=[0.6, 0.4],
                        subplot_titles=["Removal test: probability lost without the item (points)",
                                        "Second opinion: gradient x input"])
    custom = np.column_stack([names, [f"{100 * p:.2f}%" for p in inf.probability_without],
                              [f"{r:.0f}" for r in inf.rank_without]])
    fig.add_trace(go.Bar(x=steps, y=occl, marker_color=[SUPPORT if v > 0 else OPPOSE for v in occl],
                         customdata=custom, showlegend=False, name="removal",
                         hovertemplate="%{customdata[0]}<br>without it: %{customdata[1]} (rank #%{customdata[2]})"
                                       "<br>change: %{y:+.2f} points<extra></extra>"), row=1, col=1)
    g = inf.gradient
    fig.add_trace(go.Bar(x=steps, y=g, marker_color=[SUPPORT if v > 0 else OPPOSE for v in g], customdata=names,
                         showlegend=False, name="gradient",
                         hovertemplate="%{customdata}<br>gradient x input: %{y:+.3f}<extra></extra>"), row=2, col=1)
    tickvals, ticktext = _step_ticks(inf.items, label)
    fig.update_xaxes(tickmode="array", tickvals=tickvals, ticktext=ticktext, tickangle=-45, row=2, col=1,
                     title="history, oldest first")
    fig.update_xaxes(tickmode="array", tickvals=tickvals, showticklabels=False, row=1, col=1)
    fig.update_yaxes(title="points", zeroline=True, row=1, col=1)
    fig.update_yaxes(title="score", zeroline=True, row=2, col=1)
    fig.update_annotations(font_size=12)
    title = (f"Why {plot_escape(_short(label(inf.target), 40))}? "
             f"({inf.cell.upper()}, probability {100 * inf.probability:.1f}%, rank #{inf.rank:.0f})")
    return _style(fig, title, height=520)


def compare_influence(influences: Sequence[Influence], label: Label = str) -> go.Figure:
    """The share of the influence (removal test) on every step of the same history, one line per run: where each
    model's attention sits, and how far back it reaches."""
    fig = go.Figure()
    for i, inf in enumerate(influences):
        name = plot_escape(f"{inf.run_name} ({inf.cell.upper()}) · older half {inf.older_half_share():.0%}")
        fig.add_trace(go.Scatter(x=np.arange(1, inf.n_steps + 1), y=100 * inf.shares("occlusion"),
                                 mode="lines+markers", name=name, customdata=step_names(inf.items, label),
                                 line=dict(color=PALETTE[i % len(PALETTE)]),
                                 hovertemplate="%{fullData.name}<br>%{customdata}<br>%{y:.1f}% of the influence"
                                               "<extra></extra>"))
    if influences:
        tickvals, ticktext = _step_ticks(influences[0].items, label)
        n = influences[0].n_steps
        fig.update_xaxes(tickmode="array", tickvals=tickvals, ticktext=ticktext, tickangle=-45,
                         title="history, oldest first")
        if n >= 4:
            fig.add_vrect(x0=0.5, x1=n // 2 + 0.5, fillcolor="#868E96", opacity=0.12, line_width=0,
                          annotation_text="older half", annotation_position="top left")
    fig.update_yaxes(title="share of the influence (%)", rangemode="tozero")
    return _style(fig, "Same history, each model: where does the influence sit?", height=420)


def memory_profile_chart(profiles: dict[str, np.ndarray]) -> go.Figure:
    """Average share of the influence by distance from the end of the history (1 = the latest item), per run."""
    fig = go.Figure()
    for i, (name, prof) in enumerate(profiles.items()):
        prof = np.asarray(prof, dtype=float)
        fig.add_trace(go.Scatter(x=np.arange(1, len(prof) + 1), y=100 * prof, mode="lines+markers",
                                 name=plot_escape(name), line=dict(color=PALETTE[i % len(PALETTE)]),
                                 hovertemplate="%{fullData.name}<br>%{x} item(s) back: %{y:.1f}%<extra></extra>"))
    fig.update_xaxes(title="items back from the latest (1 = the latest item)", dtick=1)
    fig.update_yaxes(title="average share of the influence (%)", rangemode="tozero")
    return _style(fig, "Typical memory span: influence by distance, averaged over users")


# ------------------------------------------------------------------------------------------------------------------
# Item map and trajectory
# ------------------------------------------------------------------------------------------------------------------

def item_map_figure(points: pd.DataFrame, label: Label = str, category: Callable[[str], str] | None = None,
                    color_by: str = "category", history: Sequence[str] = (), recommendations: Sequence[str] = (),
                    title: str = "Map of the items the model learned") -> go.Figure:
    """Scatter of item_map() points coloured by category (one legend entry each) or popularity (log scale), with
    the history (numbered, oldest first) and the recommendations highlighted. Hover shows the item's name."""
    fig = go.Figure()
    names = np.array([plot_escape(label(i)) for i in points["item"]], dtype=object)
    hover = "%{customdata}<extra></extra>"
    if color_by == "category" and category is not None:
        cats = np.array([category(i) or "(no category)" for i in points["item"]], dtype=object)
        for j, cat in enumerate(sorted(set(cats))):
            sel = cats == cat
            fig.add_trace(go.Scattergl(x=points["x"][sel], y=points["y"][sel], mode="markers",
                                       name=plot_escape(_short(cat, 30)), customdata=names[sel],
                                       marker=dict(size=7, color=PALETTE[j % len(PALETTE)], opacity=0.75),
                                       hovertemplate=hover))
    else:
        pop = np.log10(np.maximum(points["popularity"].to_numpy(dtype=float), 1e-12))
        fig.add_trace(go.Scattergl(x=points["x"], y=points["y"], mode="markers", name="items", showlegend=False,
                                   customdata=names, hovertemplate=hover,
                                   marker=dict(size=7, color=pop, colorscale="Viridis", opacity=0.8,
                                               colorbar=dict(title="popularity<br>(log10)", thickness=12))))
    where = {str(i): k for k, i in enumerate(points["item"])}
    hist = [(t, str(i)) for t, i in enumerate(history, start=1) if str(i) in where]
    if hist:
        rows = [where[i] for _, i in hist]
        fig.add_trace(go.Scatter(
            x=points["x"].to_numpy()[rows], y=points["y"].to_numpy()[rows], mode="markers+text+lines",
            name="history (numbered, oldest first)", text=[str(t) for t, _ in hist], textposition="top center",
            customdata=[plot_escape(f"{t}. {label(i)}") for t, i in hist], hovertemplate=hover,
            line=dict(color="rgba(33,37,41,0.25)", width=1),
            marker=dict(size=12, color="rgba(0,0,0,0)", line=dict(color="#212529", width=2))))
    recs = [str(i) for i in recommendations if str(i) in where]
    if recs:
        rows = [where[i] for i in recs]
        fig.add_trace(go.Scatter(
            x=points["x"].to_numpy()[rows], y=points["y"].to_numpy()[rows], mode="markers", name="recommended",
            customdata=[plot_escape(f"#{r}. {label(i)}") for r, i in enumerate(recs, start=1)], hovertemplate=hover,
            marker=dict(size=16, symbol="star", color="#FAB005", line=dict(color="#212529", width=1))))
    fig.update_xaxes(showticklabels=False, title=None, zeroline=False)
    fig.update_yaxes(showticklabels=False, title=None, zeroline=False)
    return _style(fig, plot_escape(title), height=560)


def trajectory_figure(path: pd.DataFrame, space: StateSpace, label: Label = str,
                      title: str = "How the model's picture of the user drifts") -> go.Figure:
    """The user's hidden state after each step as a numbered path over the grey cloud of other users' states."""
    fig = go.Figure()
    bg = space.background
    fig.add_trace(go.Scattergl(x=bg[:, 0], y=bg[:, 1], mode="markers", name=f"other users' states "
                               f"({space.n_users} users)", hoverinfo="skip",
                               marker=dict(size=4, color="#CED4DA", opacity=0.5)))
    names = step_names(list(path["item"]), label)
    n = len(path)
    # short paths carry their item names on the map; long ones are numbered (hover always names the item)
    text = [plot_escape(_short(f"{s}. {label(i)}", 22)) for s, i in zip(path["step"], path["item"])] \
        if n <= PATH_NAMES_UP_TO else [str(s) for s in path["step"]]
    fig.add_trace(go.Scatter(x=path["x"], y=path["y"], mode="lines+markers+text", name="this history",
                             text=text, textposition="top center", textfont=dict(size=11), customdata=names,
                             hovertemplate="after %{customdata}<extra></extra>",
                             line=dict(color="rgba(76,110,245,0.5)", width=2),
                             marker=dict(size=10, color=np.arange(n), colorscale="Viridis",
                                         colorbar=dict(title="step", thickness=12),
                                         line=dict(color="#212529", width=1))))
    for row, text in ((0, "start"), (n - 1, "now")):
        if n and (row == 0 or n > 1):
            fig.add_annotation(x=path["x"].iloc[row], y=path["y"].iloc[row], text=text, showarrow=True,
                               arrowhead=2, ax=25, ay=-30)
    ex = space.explained
    fig.update_xaxes(title=f"direction 1 ({ex[0]:.0%} of the variation)", zeroline=False, showticklabels=False)
    fig.update_yaxes(title=f"direction 2 ({ex[1]:.0%} of the variation)", zeroline=False, showticklabels=False)
    return _style(fig, plot_escape(title), height=520)


# ------------------------------------------------------------------------------------------------------------------
# Similar items
# ------------------------------------------------------------------------------------------------------------------

def similar_items_figure(neighbours: pd.DataFrame, followers: pd.DataFrame, item: str,
                         label: Label = str) -> go.Figure:
    """Side by side: the item's nearest neighbours by the model (cosine similarity) and the items most often
    picked right after it in the data (count). Items in both lists are drawn in the same highlight colour."""
    both = set(neighbours["item"]) & set(followers["item"])
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.28,
                        subplot_titles=["Closest in the model (cosine similarity)",
                                        "Most often picked right after it (count)"])
    for col, df, value, fmt in ((1, neighbours, "similarity", ".3f"), (2, followers, "count", "d")):
        names = [plot_escape(_short(label(i), 32)) for i in df["item"]]
        full = [plot_escape(label(i)) for i in df["item"]]
        # categories must be unique on the axis: a number keeps two items with the same name apart
        y = [f"{k}. {n}" for k, n in enumerate(names, start=1)]
        fig.add_trace(go.Bar(x=df[value], y=y, orientation="h", showlegend=False, customdata=full,
                             marker_color=[PALETTE[2] if i in both else PALETTE[0] for i in df["item"]],
                             hovertemplate="%{customdata}: %{x:" + fmt + "}<extra></extra>"), row=1, col=col)
        fig.update_yaxes(autorange="reversed", type="category", row=1, col=col)
    fig.update_annotations(font_size=12)
    rows = max(len(neighbours), len(followers), 1)
    return _style(fig, f"Items like {plot_escape(_short(label(item), 40))} (green: in both lists)",
                  height=int(min(700, 140 + 28 * rows)))
