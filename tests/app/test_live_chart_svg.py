"""The live training chart is a small static SVG (a watching browser no longer loads and redraws Plotly
every few seconds while its training runs); the finished run keeps the interactive Plotly chart."""
from __future__ import annotations

import math
import xml.etree.ElementTree as ET

from studio.figures.live import MAX_POINTS, live_chart_svg

NS = "{http://www.w3.org/2000/svg}"


def _points(line) -> list[tuple[float, float]]:
    return [tuple(map(float, p.split(","))) for p in line.get("points").split()]


def test_the_live_chart_draws_the_loss_and_both_validation_metrics():
    losses = [5.0 - 0.004 * i for i in range(1000)]
    epochs = [{"epoch": e, "recall@20": 0.1 * e, "mrr@20": 0.03 * e} for e in (1, 2, 3)]
    root = ET.fromstring(live_chart_svg(losses, epochs, 20, best_epoch=3))
    lines = root.findall(f"{NS}polyline")
    assert len(lines) == 4, "raw and smoothed loss, Recall@20 and MRR@20"
    raw, smoothed, recall, mrr = (_points(x) for x in lines)
    assert len(raw) <= MAX_POINTS + 1 and len(smoothed) == len(raw), "a long run's curve is thinned"
    assert smoothed[-1][1] > smoothed[0][1], "a falling loss is drawn going down (SVG y grows downwards)"
    assert len(recall) == len(mrr) == 3 and len(root.findall(f"{NS}circle")) == 6
    assert recall[-1][1] < recall[0][1], "a rising metric is drawn going up"
    assert all(r[1] < m[1] for r, m in zip(recall, mrr)), "Recall above MRR"
    text = " ".join(t.text or "" for t in root.iter(f"{NS}text"))
    assert "Recall@20 (validation)" in text and "best" in text and "1,000" in text


def test_the_live_chart_before_the_first_batch_and_with_odd_values():
    root = ET.fromstring(live_chart_svg([], [], 10))
    text = " ".join(t.text or "" for t in root.iter(f"{NS}text"))
    assert "waiting for the first batch" in text and "after the first epoch" in text
    root = ET.fromstring(live_chart_svg([2.0, math.nan, math.inf, 2.0], [{"epoch": 1, "recall@10": None}], 10))
    for line in root.findall(f"{NS}polyline"):
        assert all(math.isfinite(v) for p in _points(line) for v in p)
