"""Comparing runs with the baselines (seqrec.evaluation.compare): the table, and a verdict whose outcome agrees
with the numbers and whose sentence says them."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import seqrec
from seqrec.evaluation import compare, uncertainty
from seqrec.service.dataset import sample_dataset

TINY = dict(embedding_dim=16, hidden_size=16, epochs=2, batch_size=256, patience=0, seed=1)


@pytest.fixture(scope="module")
def ds():
    return sample_dataset()


def test_comparison_table_and_verdict(gru_run, ds):
    table = compare.comparison_table([gru_run], ds, 20)
    assert list(table["Name"]) == [gru_run.name, "MostPopular", "Item-to-item transitions", "Repeat own items",
                                   "Item kNN", "Session kNN (V-SKNN)"]
    assert table.loc[0, "Recall@20"] == pytest.approx(gru_run.metrics["recall@20"])
    lo, hi = compare.interval_columns(20)
    assert (table[lo] <= table["Recall@20"]).all() and (table["Recall@20"] <= table[hi]).all()
    assert (table[hi] - table[lo] > 0.005).all(), "3,000 users: every interval has a real width"
    verdict = compare.baseline_verdict(gru_run, 20)
    best = max(gru_run.baselines, key=lambda n: gru_run.baselines[n]["recall@20"])
    diff = uncertainty.paired(gru_run.test_ranks, gru_run.baseline_ranks[best], "recall@20")
    assert diff.estimate == pytest.approx(gru_run.metrics["recall@20"] - gru_run.baselines[best]["recall@20"])
    assert verdict.outcome == diff.verdict and verdict.interval == diff
    assert verdict.sentence == (f"{gru_run.name} vs {compare.BASELINE_LABELS[best]} on Recall@20: "
                                f"{diff.estimate:+.3f} (95% interval {diff.lo:+.3f} to {diff.hi:+.3f}): {diff.verdict}")


def _with_ranks(run, ranks, **changes):
    return dataclasses.replace(run, test_ranks=np.asarray(ranks, dtype=np.float64), **changes)


def test_verdict_outcomes_follow_the_interval_not_the_words(gru_run):
    named = dataclasses.replace(gru_run, name="x beats y")  # the words of a name must not decide the outcome
    best = max(gru_run.baselines, key=lambda n: gru_run.baselines[n]["recall@20"])
    base = gru_run.baseline_ranks[best]
    n = len(base)
    for ranks, outcome in ((np.ones(n), compare.BETTER), (base, compare.NO_CLEAR), (np.full(n, np.inf), compare.WORSE)):
        v = compare.baseline_verdict(_with_ranks(named, ranks), 20)
        assert v.outcome == outcome and (v.beats == (outcome == compare.BETTER))
    # within noise: the baseline's own ranks with 5 hits turned into misses and 5 misses into hits (of 3,000)
    noisy = base.copy()
    hits, misses = np.flatnonzero(base <= 20), np.flatnonzero(base > 20)
    noisy[hits[:5]], noisy[misses[:5]] = 100.0, 1.0
    v = compare.baseline_verdict(_with_ranks(named, noisy), 20)
    assert v.outcome == compare.NO_CLEAR and v.interval.lo < 0 < v.interval.hi and "no clear difference" in v.sentence
    none = compare.baseline_verdict(dataclasses.replace(named, baselines={}), 20)
    assert none.outcome == compare.NO_BASELINE and not none.beats
    assert none.sentence == "x beats y: no Recall@20 to compare with the baselines."


def test_a_run_without_per_user_results_gets_no_interval_and_no_claim(gru_run, ds):
    old = dataclasses.replace(gru_run, test_ranks=None, baseline_ranks={}, history_lengths=None, order_check={})
    v = compare.baseline_verdict(old, 20)
    assert v.outcome == compare.NO_CLEAR and v.interval is None and "no interval is available" in v.sentence
    assert not {"metrics_ci95", "comparison", "order_check", "by_history_length"} & set(old.summary())
    table = compare.comparison_table([old], ds, 20)
    lo, _ = compare.interval_columns(20)
    assert np.isnan(table.loc[0, lo]) and table[lo].iloc[1:].notna().all()
    assert compare.run_vs_baselines(old, 20).iloc[0, -1] == "unavailable"


def test_run_vs_run_is_a_paired_interval(gru_run):
    twin = dataclasses.replace(gru_run, name="twin")
    v = compare.run_vs_run_verdict(gru_run, twin, 20)
    assert v.outcome == compare.NO_CLEAR and (v.interval.lo, v.interval.hi) == (0.0, 0.0)
    worse = _with_ranks(gru_run, np.where(gru_run.test_ranks <= 20, 50.0, gru_run.test_ranks), name="broken")
    assert compare.run_vs_run_verdict(gru_run, worse, 20).outcome == compare.BETTER
    assert compare.run_vs_run_verdict(worse, gru_run, 20).outcome == compare.WORSE
    assert compare.paired_runs([gru_run, dataclasses.replace(gru_run, test_ranks=None)]) == [gru_run]


def test_history_length_table_agrees_with_the_ranks(gru_run):
    table = compare.history_length_table([gru_run], "recall@20")
    assert set(table["Name"]) == {gru_run.name, *(compare.BASELINE_LABELS[n] for n in gru_run.baselines)}
    mine = table[table["Name"] == gru_run.name].set_index("Bucket")
    lengths, hits = gru_run.history_lengths, gru_run.test_ranks <= 20
    for bucket, lo, hi in uncertainty.LENGTH_BUCKETS:
        mask = (lengths >= lo) & (lengths <= (hi or 10 ** 9))
        if mask.any():
            assert mine.loc[bucket, "Users"] == mask.sum()
            assert mine.loc[bucket, "recall@20"] == pytest.approx(hits[mask].mean(), abs=1e-6)
    # users weighted by bucket give back the overall metric
    assert (mine["Users"] * mine["recall@20"]).sum() / mine["Users"].sum() == pytest.approx(
        gru_run.metrics["recall@20"], abs=1e-5)


def test_comparison_scores_baselines_with_the_same_exclude_seen_protocol_as_each_run(gru_run, ds):
    excluded = seqrec.train_run(ds.split, seqrec.TrainConfig(**{**TINY, "exclude_seen": True}), name="tiny excl",
                                baselines={})
    table = compare.comparison_table([gru_run, excluded], ds, 20)
    base = table[table["Kind"] == "baseline"]
    assert sorted(base["Exclude seen"]) == [False] * 5 + [True] * 5, "baselines under both protocols"
    assert base["Name"].is_unique, "each baseline row can be told apart in the table and the bar chart"
    for exclude, name in ((False, "MostPopular"), (True, "MostPopular (seen excluded)")):
        rows = base[base["Exclude seen"] == exclude].set_index("Name")["Recall@20"]
        truth = ds.baseline_metrics((10, 20), exclude)
        assert rows[name] == pytest.approx(truth["most_popular"]["recall@20"])
    # masking seen items changes what a popularity ranking can hit, so the two protocols really differ here
    assert ds.baseline_metrics((10, 20), True) != ds.baseline_metrics((10, 20), False)
