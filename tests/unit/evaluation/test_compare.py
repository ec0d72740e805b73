"""Comparing runs with the baselines (seqrec.evaluation.compare): the table, and a verdict whose outcome agrees
with the numbers and whose sentence says them."""
from __future__ import annotations

import dataclasses

import pytest

import seqrec
from seqrec.data.dataset import sample_dataset
from seqrec.evaluation import compare

TINY = dict(embedding_dim=16, hidden_size=16, epochs=2, batch_size=256, patience=0, seed=1)


@pytest.fixture(scope="module")
def ds():
    return sample_dataset()


def test_comparison_table_and_verdict(gru_run, ds):
    table = compare.comparison_table([gru_run], ds, 20)
    assert list(table["Name"]) == [gru_run.name, "MostPopular", "Item-to-item transitions"]
    assert table.loc[0, "Recall@20"] == pytest.approx(gru_run.metrics["recall@20"])
    verdict = compare.baseline_verdict(gru_run, 20)
    best = max(m["recall@20"] for m in gru_run.baselines.values())
    diff = gru_run.metrics["recall@20"] - best
    assert ("beats" in verdict.sentence) == (diff > 0) == verdict.beats and f"{abs(diff):.3f}" in verdict.sentence
    assert verdict.outcome == (compare.BETTER if diff > 0 else compare.TIE if diff == 0 else compare.WORSE)


def test_verdict_outcomes_follow_the_numbers_not_the_words(gru_run):
    best = max(m["recall@20"] for m in gru_run.baselines.values())
    named = dataclasses.replace(gru_run, name="x beats y")  # the words of a name must not decide the outcome
    for mine, outcome in ((best + 0.1, compare.BETTER), (best, compare.TIE), (best - 0.1, compare.WORSE)):
        run = dataclasses.replace(named, metrics={**gru_run.metrics, "recall@20": mine})
        assert compare.baseline_verdict(run, 20).outcome == outcome
    none = compare.baseline_verdict(dataclasses.replace(named, baselines={}), 20)
    assert none.outcome == compare.NO_BASELINE and not none.beats
    assert none.sentence == "x beats y: no Recall@20 to compare with the baselines."


def test_comparison_scores_baselines_with_the_same_exclude_seen_protocol_as_each_run(gru_run, ds):
    excluded = seqrec.train_run(ds.split, seqrec.TrainConfig(**{**TINY, "exclude_seen": True}), name="tiny excl",
                                baselines={})
    table = compare.comparison_table([gru_run, excluded], ds, 20)
    base = table[table["Kind"] == "baseline"]
    assert sorted(base["Exclude seen"]) == [False, False, True, True], "baselines under both protocols"
    assert base["Name"].is_unique, "each baseline row can be told apart in the table and the bar chart"
    for exclude, name in ((False, "MostPopular"), (True, "MostPopular (seen excluded)")):
        rows = base[base["Exclude seen"] == exclude].set_index("Name")["Recall@20"]
        truth = ds.baseline_metrics((10, 20), exclude)
        assert rows[name] == pytest.approx(truth["most_popular"]["recall@20"])
    # masking seen items changes what a popularity ranking can hit, so the two protocols really differ here
    assert ds.baseline_metrics((10, 20), True) != ds.baseline_metrics((10, 20), False)
