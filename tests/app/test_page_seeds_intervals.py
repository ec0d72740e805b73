"""In the app: "repeat with N seeds" on Train trains N runs and shows mean and spread; Compare shows the
paired run-vs-run interval; a run saved before per-user results shows its intervals as unavailable."""
from __future__ import annotations

import dataclasses
import json

import pytest
from apppage import open_app_page

from studio.nav import PAGE

TIMEOUT = 120


@pytest.mark.slow  # two trainings in the background queue: about a minute on 2 busy cores
def test_repeat_with_two_seeds_trains_two_runs_and_shows_mean_and_spread(small_dataset):
    at = open_app_page(PAGE["train"], small_dataset, [])
    at.number_input(key="tf_n_seeds").set_value(2).run()
    at.number_input(key="tf_seed").set_value(7).run()
    at.button(key="train_start").click().run()
    assert not at.exception, at.exception
    for _ in range(2):  # each finished run is collected on the next rerun, which starts the next seed
        assert at.session_state["job"].wait(TIMEOUT)
        at.run()
        assert not at.exception, at.exception
    runs = at.session_state["runs"]
    assert [r.config.seed for r in runs] == [7, 8] and runs[0].name.endswith("(seed 7)")
    labels = [m.label for m in at.metric]
    assert "Recall@20 over 2 seeds" in labels and "MRR@20 over 2 seeds" in labels
    shown = next(m.value for m in at.metric if m.label == "Recall@20 over 2 seeds")
    mean = sum(r.metrics["recall@20"] for r in runs) / 2
    assert shown.startswith(f"{mean:.3f} ± ")
    assert any("Each run's 95% interval of Recall@20" in c.value for c in at.caption)
    table = next(d.value for d in at.dataframe if "Recall@20 95% interval" in d.value.columns)
    # the run, its hybrid row (on by default) and the five baselines, each with its interval
    assert len(table) == 7 and table.iloc[1, 0].startswith("GRU + ") and " to " in table.iloc[0, -1]


def test_compare_pairs_two_runs_and_old_runs_show_intervals_unavailable(small_dataset, fast_config):
    from seqrec import train_run

    cfg = fast_config.replace(epochs=1, hidden_size=16, embedding_dim=16)
    base = small_dataset.baseline_metrics(cfg.ks, False)
    a = train_run(small_dataset.split, cfg, name="a", baselines=base, dataset=small_dataset.run_info())
    at = open_app_page(PAGE["compare"], small_dataset, [a, dataclasses.replace(a, name="b")])
    boxes = [b.value.replace("\\", "") for b in at.info]
    assert any(v.startswith("a vs b on Recall@20: +0.000 (95% interval +0.000 to +0.000): no clear difference")
               for v in boxes)
    assert "Run vs run, order and history length" in [h.value for h in at.subheader]
    bars = json.loads(at.get("plotly_chart")[0].proto.spec)
    # each value label sits past the end of its whisker (not on it): one annotation per bar, at x >= the high end
    data = bars["data"][0]
    notes = bars["layout"]["annotations"]
    assert "text" not in data or not data["text"]
    assert len(notes) == len(data["y"])
    assert all(n["xanchor"] == "left" and n["xshift"] > 0 for n in notes)
    one = open_app_page(PAGE["compare"], small_dataset, [a])  # a single run: nothing to pair it with
    assert "Order and history length" in [h.value for h in one.subheader]
    assert not any("Run vs run" in h.value for h in one.subheader)
    old = dataclasses.replace(a, name="old", test_ranks=None, baseline_ranks={}, history_lengths=None, order_check={})
    at = open_app_page(PAGE["compare"], small_dataset, [old])
    boxes = [b.value.replace("\\", "") for b in at.info]
    assert any("no interval is available" in v for v in boxes)
    table = next(d.value for d in at.dataframe if "Recall@20" in d.value.columns)
    assert table["Recall@20 95% low"].isna().tolist() == [True] + [False] * 5
    assert any("need per-user results" in c.value for c in at.caption)
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert "error_x" in charts[0]["data"][0]  # the baselines still have their whiskers
