"""Wiring: per-user ranks from the one evaluation path, the five baselines in the protocol, the order check,
metrics by history length, repeated seeds, and per-user results saved with a run (old runs still load)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from seqrec.errors import SeqrecError
from seqrec.evaluation import protocol, uncertainty
from seqrec.evaluation.metrics import evaluate_scorer
from seqrec.model.baselines import ALL_BASELINES, MostPopular
from seqrec.runs.files import load_run, save_run


def test_protocol_fits_all_five_baselines_and_their_ranks_give_back_the_metrics(sample_baselines):
    assert list(sample_baselines) == [cls.name for cls in ALL_BASELINES]
    for name, metrics in sample_baselines.items():
        ranks = sample_baselines.ranks[name]
        for key in ("recall@20", "mrr@10", "ndcg@20"):
            assert uncertainty.metric_values(ranks, key).mean() == pytest.approx(metrics[key], abs=1e-9), (name, key)
    # ItemKNN chose its K on validation; it is by far the strongest baseline on the synthetic sample
    assert max(sample_baselines, key=lambda n: sample_baselines[n]["recall@20"]) == "item_knn"


def test_itemknn_rechooses_k_under_the_evaluations_exclude_seen_setting(sample_split):
    fitted = protocol.fit_baselines(sample_split, exclude_seen=False)
    knn = fitted["item_knn"]
    assert knn.tuned_for_ is False and len(knn.tuning_) == len(knn.k_grid)
    other = protocol._for_protocol(knn, sample_split, True)
    assert other is not knn and other.tuned_for_ is True and other.sim_ is knn.sim_, "similarities shared, not refit"
    assert protocol._for_protocol(knn, sample_split, False) is knn


def test_session_knn_beyond_the_threshold_is_scored_on_a_seeded_sample(small_dataset, monkeypatch):
    split = small_dataset.split
    monkeypatch.setattr(protocol, "SESSION_KNN_MAX_USERS", 40)
    fitted = protocol.fit_baselines(split)
    out = protocol.evaluate_baselines(split, (20,), False, fitted=fitted)
    ranks = out.ranks["session_knn"]
    assert out["session_knn"]["users_scored"] == 40 and np.isfinite(ranks).sum() + np.isinf(ranks).sum() == 40
    hist, tgt = split.histories("test")
    picked = np.flatnonzero(~np.isnan(ranks))
    alone = evaluate_scorer(fitted["session_knn"].score_batch, [hist[i] for i in picked], tgt[picked], split.n_items,
                            (20,))
    assert out["session_knn"]["recall@20"] == pytest.approx(alone["recall@20"])
    again = protocol.evaluate_baselines(split, (20,), False, fitted=fitted).ranks["session_knn"]
    np.testing.assert_array_equal(np.isnan(again), np.isnan(ranks))  # seeded: the same users every time
    # a paired comparison against it uses the users it scored
    assert uncertainty.paired(out.ranks["item_knn"], ranks, "recall@20") is not None


def test_order_check_is_zero_for_a_model_that_ignores_order(sample_split):
    popular = MostPopular().fit(sample_split.train, sample_split.n_items)
    check = protocol.order_check(popular.score_batch, sample_split, exclude_seen=False)
    for key in ("recall@20", "mrr@20"):
        assert check[key]["drop"] == 0 and check[key]["ci95"] == [0, 0]
    assert not check["order_matters"] and "bag of items: a sequence model buys little" in check["sentence"]


def test_order_check_is_large_for_the_gru_on_the_synthetic_sample(gru_run):
    check = gru_run.order_check
    assert check["order_matters"] and check["sentence"].endswith("order matters here.")
    assert check["recall@20"]["drop"] > 0.05 and check["recall@20"]["ci95"][0] > 0
    assert check["recall@20"]["original"] == pytest.approx(gru_run.metrics["recall@20"], abs=1e-6)


def test_by_history_length_hand_computed():
    lengths = np.array([2, 3, 10, 60, 61])
    ranks = {"a": np.array([1.0, 30.0, 2.0, np.inf, 4.0]), "b": np.array([np.nan, 1.0, 1.0, 1.0, 1.0])}
    out = uncertainty.by_history_length(lengths, ranks, ("recall@20", "mrr@20"))
    assert list(out) == ["1-5", "6-20", "51+"]
    assert out["1-5"] == {"users": 2, "a": {"recall@20": 0.5, "mrr@20": 0.5}, "b": {"recall@20": 1.0, "mrr@20": 1.0}}
    assert out["51+"]["a"] == {"recall@20": 0.5, "mrr@20": 0.125}
    assert out["6-20"]["a"] == {"recall@20": 1.0, "mrr@20": 0.5}


def test_comparison_picks_the_best_baseline_and_reports_the_paired_interval():
    rng = np.random.default_rng(0)
    a = rng.integers(1, 40, 2000).astype(float)
    strong, weak = np.where(rng.random(2000) < 0.5, 1.0, 99.0), np.full(2000, 99.0)
    base = {"weak": {"recall@20": 0.0}, "strong": {"recall@20": float((strong <= 20).mean())}}
    out = uncertainty.comparison(a, base, {"weak": weak, "strong": strong}, "recall@20")
    diff = uncertainty.paired(a, strong, "recall@20")
    assert out == {"baseline": "strong", "metric": "recall@20", "difference": round(diff.estimate, 6),
                   "ci95": [round(diff.lo, 6), round(diff.hi, 6)], "verdict": diff.verdict}
    assert uncertainty.comparison(a, base, {}, "recall@20") is None


def test_seeds_are_checked_and_summarised():
    s = uncertainty.seed_summary([0, 1, 2], [{"recall@20": 0.5}, {"recall@20": 0.6}, {"recall@20": 0.7}])
    assert s == {"values": [0, 1, 2], "mean": {"recall@20": 0.6}, "std": {"recall@20": 0.1}}
    assert uncertainty.seed_summary([3], [{"recall@20": 0.5}])["std"] == {"recall@20": 0.0}
    for bad in ([], [1, 1], [-1], list(range(11))):
        with pytest.raises(ValueError):
            uncertainty.check_seeds(bad)


def test_per_user_results_are_saved_and_old_runs_still_load(gru_run, tmp_path):
    folder = save_run(gru_run, tmp_path / "run")
    loaded = load_run(folder)
    cap = max(gru_run.config.ks) + 1
    np.testing.assert_array_equal(loaded.test_ranks, np.where(gru_run.test_ranks >= cap, np.inf, gru_run.test_ranks))
    assert set(loaded.baseline_ranks) == set(gru_run.baseline_ranks)
    np.testing.assert_array_equal(loaded.history_lengths, gru_run.history_lengths)
    summary, before = loaded.summary(), gru_run.summary()
    for key in ("metrics_ci95", "baselines_ci95", "comparison", "by_history_length", "order_check"):
        assert summary[key] == before[key], key
    meta = json.loads((folder / "run.json").read_text())
    assert "metrics_ci95" not in meta, "intervals are recomputed from per_user, not stored twice"
    # a run saved before per-user results: loads, and its intervals are simply unavailable
    del meta["per_user"], meta["order_check"]
    (folder / "run.json").write_text(json.dumps(meta))
    old = load_run(folder)
    assert old.test_ranks is None and old.baseline_ranks == {} and "metrics_ci95" not in old.summary()
    # damaged per-user results: one sentence
    meta["per_user"] = {"cap": cap, "ranks": {"model": [1, "x"]}}
    (folder / "run.json").write_text(json.dumps(meta))
    with pytest.raises(SeqrecError, match="per_user results"):
        load_run(folder)


def test_a_plain_dict_of_baselines_gives_a_run_without_baseline_intervals(small_dataset, fast_config):
    from seqrec import train_run

    run = train_run(small_dataset.split, fast_config.replace(epochs=1, hidden_size=16, embedding_dim=16),
                    baselines=dict(small_dataset.baseline_metrics(fast_config.ks, False)))
    out = run.summary()
    assert "metrics_ci95" in out and "comparison" not in out and "baselines_ci95" not in out
    assert run.baselines == dict(small_dataset.baseline_metrics(fast_config.ks, False))


def test_dataset_caches_baselines_with_ranks(small_dataset):
    first = small_dataset.baseline_metrics((10, 20), False)
    assert small_dataset.baseline_metrics((10, 20), False) is first
    assert set(first.ranks) == set(first) and len(first.ranks["repeat"]) == len(small_dataset.split.users)
    # the fitted baselines are shared by every protocol: only ItemKNN re-chooses its K (on a shallow copy)
    fitted = small_dataset.fitted_baselines()
    excluded = small_dataset.baseline_metrics((10, 20), True)
    assert small_dataset.fitted_baselines() is fitted and fitted["item_knn"].tuned_for_ is False
    assert excluded["most_popular"]["recall@20"] != first["most_popular"]["recall@20"]


def test_a_bundle_carries_the_per_user_results(gru_run):
    import io

    from seqrec.runs.bundle import bundle_bytes, read_bundle

    loaded = read_bundle(io.BytesIO(bundle_bytes(gru_run)), "run.zip")
    assert loaded.summary()["comparison"] == gru_run.summary()["comparison"]
    assert loaded.order_check == gru_run.order_check
