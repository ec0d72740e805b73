"""Bootstrap intervals over users, paired differences and verdicts; per-user metrics that average to the metrics."""
import time

import numpy as np
import pytest
import torch

from seqrec.evaluation.intervals import Interval, bootstrap_ci, paired_difference, resampled_means, verdict
from seqrec.evaluation.metrics import evaluate_scorer, per_user_metrics


def random_scorer(n_items, seed):
    def score(batch):
        g = torch.Generator().manual_seed(seed + len(batch) + int(sum(len(h) for h in batch)))
        return torch.rand(len(batch), n_items + 1, generator=g)
    return score


@pytest.fixture(scope="module")
def log():
    rng = np.random.default_rng(3)
    n_items = 30
    histories = [rng.integers(1, n_items + 1, size=rng.integers(1, 8)) for _ in range(200)]
    return histories, rng.integers(1, n_items + 1, size=200), n_items


def test_per_user_metrics_average_to_evaluate_scorer_and_keep_the_callers_order(log):
    histories, targets, n = log
    score = random_scorer(n, 0)
    for exclude in (False, True):
        per_user = per_user_metrics(score, histories, targets, n, (5, 20), exclude, batch_size=16)
        means = evaluate_scorer(score, histories, targets, n, (5, 20), exclude, batch_size=16)
        assert set(per_user) == {f"{m}@{k}" for m in ("recall", "mrr", "ndcg") for k in (5, 20)}
        for name, values in per_user.items():
            assert values.shape == (200,) and values.mean() == pytest.approx(means[name])
    # user i's value belongs to history i: a scorer that puts exactly user 0's target first hits for user 0
    first = histories[0]

    def oracle(batch):
        s = torch.zeros(len(batch), n + 1)
        for r, hist in enumerate(batch):
            if hist is first:
                s[r, targets[0]] = 1.0
        return s

    hits = per_user_metrics(oracle, histories, targets, n, (1,))["recall@1"]
    assert hits[0] == 1.0 and hits[1:].sum() == 0


def test_bootstrap_interval_is_seeded_and_matches_the_normal_approximation():
    values = (np.random.default_rng(0).random(10_000) < 0.3).astype(float)
    ci = bootstrap_ci(values, seed=7)
    assert ci == bootstrap_ci(values, seed=7) and ci != bootstrap_ci(values, seed=8)
    assert ci.lo < ci.estimate < ci.hi and ci.level == 0.95 and ci.n_resamples == 1000
    half = 1.96 * values.std() / np.sqrt(len(values))
    assert (ci.hi - ci.lo) / 2 == pytest.approx(half, rel=0.1)
    estimate, lo, hi = ci  # unpacks as a tuple
    assert (estimate, lo, hi) == (ci.estimate, ci.lo, ci.hi)


def test_index_resampling_for_continuous_values_agrees_with_theory():
    values = np.random.default_rng(1).normal(size=5_000)  # all distinct: draws user indices in chunks
    means = resampled_means(values, n_resamples=400, seed=0)
    assert means.std() == pytest.approx(values.std() / np.sqrt(len(values)), rel=0.15)


def test_one_thousand_resamples_of_one_hundred_thousand_users_take_about_a_second():
    values = (np.random.default_rng(2).random(100_000) < 0.25).astype(float)
    start = time.perf_counter()
    bootstrap_ci(values)
    assert time.perf_counter() - start < 1.0


def test_paired_interval_covers_the_true_difference_about_95_percent_of_the_time():
    rng = np.random.default_rng(12)
    true_diff = 0.30 - (0.22 + 0.78 * 0.05)  # P(a) - P(b) for the two scorers below
    covered = 0
    sims = 300
    for s in range(sims):
        u = rng.random(400)
        a = (u < 0.30).astype(float)  # a hits on the easy users, b on fewer of them plus some by luck
        b = ((u < 0.22) | (rng.random(400) < 0.05)).astype(float)
        _, lo, hi = paired_difference(a, b, seed=s)
        covered += lo <= true_diff <= hi
    assert 0.92 <= covered / sims <= 0.98, covered / sims


def test_identical_scorers_and_a_run_within_noise_give_no_clear_difference(log):
    histories, targets, n = log
    a = per_user_metrics(random_scorer(n, 5), histories, targets, n, (20,))["recall@20"]
    same = paired_difference(a, a.copy())
    assert tuple(same) == (0.0, 0.0, 0.0) and same.verdict == "no clear difference"
    rng = np.random.default_rng(4)
    noisy = np.where(rng.random(len(a)) < 0.04, 1 - a, a)  # a few users flip either way
    assert paired_difference(noisy, a).verdict == "no clear difference"


def test_verdicts_have_three_outcomes():
    better = np.ones(500)
    worse = np.zeros(500)
    assert paired_difference(better, worse).verdict == "better"
    assert paired_difference(worse, better).verdict == "worse"
    assert verdict(0.01, 0.2) == "better" and verdict(-0.2, -0.01) == "worse"
    assert verdict(-0.1, 0.1) == verdict(0.0, 0.0) == "no clear difference"
    assert isinstance(bootstrap_ci([1.0, 0.0]), Interval)
    with pytest.raises(ValueError):
        paired_difference(np.ones(3), np.ones(4))
