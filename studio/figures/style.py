"""What every chart of the Data, Train and Compare pages shares: the palette, the layout and the title style."""
from __future__ import annotations

import plotly.graph_objects as go

PALETTE = ["#4C6EF5", "#F76707", "#12B886", "#E64980", "#7950F2", "#FAB005", "#15AABF", "#868E96"]
LAYOUT = dict(margin=dict(l=10, r=10, t=50, b=10), height=340, legend=dict(orientation="h", y=-0.2),
              hovermode="x unified")


def style(fig: go.Figure, title: str, height: int | None = None) -> go.Figure:
    fig.update_layout(title=dict(text=title, x=0, xanchor="left"),
                      **{**LAYOUT, **({"height": height} if height else {})})
    return fig
