"""The live training chart as a small static SVG.

A watching page redraws its live chart every few seconds while its training runs. As a Plotly figure that cost the
browser about 2 s of CPU to load Plotly and a few tenths of a second per redraw (measured in chromium: a page
watching a Quick demo used a third to half of a core), and in a workshop whose browsers share the server's cores
that starves the very trainings being watched. This SVG shows the same two panels (training loss per batch, raw and
smoothed; validation Recall@K and MRR@K per epoch, the best epoch marked) and costs the browser next to nothing. The
Train page shows a finished run's curves with it too (a Plotly chart there cost each finishing page ~2 s of CPU);
the interactive Plotly version (`studio.figures.training.training_progress`) is drawn when asked for.

Only numbers go into the SVG (no run or item names), so it needs no escaping of user text.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from studio.figures.style import PALETTE
from studio.figures.training import smooth, thin

WIDTH, HEIGHT = 1000, 300
TOP, BOTTOM = 46, 250  # the plot area's y range (SVG y grows downwards)
PANELS = ((60, 470), (570, 980))  # x ranges of the loss panel and the metrics panel
MAX_POINTS = 200
TEXT = "#495057"


def _fmt(v: float) -> str:
    return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"


def _scale(values: np.ndarray, lo: float, hi: float, a: float, b: float) -> np.ndarray:
    """Map values in [lo, hi] onto [a, b] (a constant series sits in the middle)."""
    if hi - lo < 1e-12:
        return np.full(len(values), (a + b) / 2)
    return a + (values - lo) / (hi - lo) * (b - a)


def _polyline(xs: np.ndarray, ys: np.ndarray, color: str, width: float, opacity: float = 1.0) -> str:
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))
    return (f'<polyline points="{points}" fill="none" stroke="{color}" stroke-width="{width}" '
            f'stroke-opacity="{opacity}" stroke-linejoin="round"/>')


def _frame(x0: float, x1: float, title: str, lo: float, hi: float, x_label: str, x_first: str,
           x_last: str) -> list[str]:
    parts = [f'<text x="{x0}" y="20" font-size="17" font-weight="600" fill="{TEXT}">{title}</text>']
    for frac in (0.0, 0.5, 1.0):
        y = BOTTOM - frac * (BOTTOM - TOP)
        parts.append(f'<line x1="{x0}" x2="{x1}" y1="{y:.1f}" y2="{y:.1f}" stroke="#E9ECEF" stroke-width="1"/>')
        parts.append(f'<text x="{x0 - 6}" y="{y + 5:.1f}" font-size="13" text-anchor="end" fill="{TEXT}">'
                     f'{_fmt(lo + frac * (hi - lo))}</text>')
    parts.append(f'<text x="{x0}" y="{BOTTOM + 20}" font-size="13" fill="{TEXT}">{x_first}</text>')
    parts.append(f'<text x="{x1}" y="{BOTTOM + 20}" font-size="13" text-anchor="end" fill="{TEXT}">{x_last}</text>')
    parts.append(f'<text x="{(x0 + x1) / 2}" y="{BOTTOM + 20}" font-size="13" text-anchor="middle" '
                 f'fill="{TEXT}">{x_label}</text>')
    return parts


def _legend(x: float, entries: list[tuple[str, str]]) -> list[str]:
    parts = []
    for name, color in entries:
        parts.append(f'<line x1="{x}" x2="{x + 22}" y1="{HEIGHT - 12}" y2="{HEIGHT - 12}" stroke="{color}" '
                     f'stroke-width="3"/>')
        parts.append(f'<text x="{x + 28}" y="{HEIGHT - 7}" font-size="13" fill="{TEXT}">{name}</text>')
        x += 40 + 7.5 * len(name)
    return parts


def live_chart_svg(batch_losses: Sequence[float], epoch_metrics: Sequence[dict], k: int, best_epoch: int = 0) -> str:
    """Training loss per batch (faint raw and smoothed) and validation Recall@K / MRR@K per epoch, as SVG text."""
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
             f'font-family="sans-serif">', f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>']
    (a0, a1), (b0, b1) = PANELS
    raw = np.asarray(batch_losses, dtype=float)
    raw = raw[np.isfinite(raw)]
    if len(raw):
        keep = thin(len(raw), MAX_POINTS)
        smoothed = smooth(raw)[keep]
        lo, hi = float(min(raw.min(), smoothed.min())), float(max(raw.max(), smoothed.max()))
        parts += _frame(a0, a1, "Training loss per batch", lo, hi, "batch", "1", f"{len(raw):,}")
        xs = _scale(keep.astype(float), 0, max(len(raw) - 1, 1), a0, a1)
        parts.append(_polyline(xs, _scale(raw[keep], lo, hi, BOTTOM, TOP), PALETTE[0], 1, 0.3))
        parts.append(_polyline(xs, _scale(smoothed, lo, hi, BOTTOM, TOP), PALETTE[0], 2.5))
    else:
        parts += _frame(a0, a1, "Training loss per batch", 0, 1, "batch", "", "")
        parts.append(f'<text x="{(a0 + a1) / 2}" y="{(TOP + BOTTOM) / 2}" font-size="14" text-anchor="middle" '
                     f'fill="{TEXT}">waiting for the first batch…</text>')
    parts += _legend(a0, [("loss (smoothed)", PALETTE[0])])
    rows = [e for e in epoch_metrics if "epoch" in e]
    series = [(f"Recall@{k}", PALETTE[1], [e.get(f"recall@{k}") for e in rows]),
              (f"MRR@{k}", PALETTE[2], [e.get(f"mrr@{k}") for e in rows])]
    values = np.asarray([v for _, _, vs in series for v in vs if v is not None and np.isfinite(v)], dtype=float)
    if len(values):
        epochs = np.asarray([e["epoch"] for e in rows], dtype=float)
        e_lo, e_hi = float(epochs.min()) - 0.5, float(epochs.max()) + 0.5
        hi = max(float(values.max()) * 1.1, 1e-6)
        parts += _frame(b0, b1, f"Validation metrics @{k}", 0.0, hi, "epoch", f"{int(epochs.min())}",
                        f"{int(epochs.max())}")
        if best_epoch and e_lo <= best_epoch <= e_hi:
            xb = _scale(np.asarray([best_epoch], float), e_lo, e_hi, b0, b1)[0]
            parts.append(f'<line x1="{xb:.1f}" x2="{xb:.1f}" y1="{TOP}" y2="{BOTTOM}" stroke="#868E96" '
                         f'stroke-dasharray="4 4"/>')
            parts.append(f'<text x="{xb - 4:.1f}" y="{TOP + 12}" font-size="12" text-anchor="end" '
                         f'fill="{TEXT}">best</text>')
        for _, color, vs in series:
            ok = np.asarray([v is not None and np.isfinite(v) for v in vs])
            if not ok.any():
                continue
            xs = _scale(epochs[ok], e_lo, e_hi, b0, b1)
            ys = _scale(np.asarray([v for v in vs if v is not None and np.isfinite(v)], float), 0.0, hi, BOTTOM, TOP)
            parts.append(_polyline(xs, ys, color, 2.5))
            parts += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="{color}"/>' for x, y in zip(xs, ys)]
    else:
        parts += _frame(b0, b1, f"Validation metrics @{k}", 0, 1, "epoch", "", "")
        parts.append(f'<text x="{(b0 + b1) / 2}" y="{(TOP + BOTTOM) / 2}" font-size="14" text-anchor="middle" '
                     f'fill="{TEXT}">after the first epoch</text>')
    parts += _legend(b0, [(name + " (validation)", color) for name, color, _ in series])
    parts.append("</svg>")
    return "".join(parts)
