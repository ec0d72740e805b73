"""The hybrid "network + Session kNN": its scores are the weighted blend of the two parts' distributions, its weight
is chosen on the validation targets only, and a run trained with it carries its own row, verdict and saved results
while the network's own stay as they were."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from seqrec import TrainConfig, load_interactions, train_run
from seqrec.cli import main
from seqrec.data.split import ItemVocab, SplitData
from seqrec.evaluation.compare import comparison_table, run_vs_baselines
from seqrec.evaluation.hybrid import choose_weight, evaluate_hybrid
from seqrec.evaluation.metrics import evaluate_scorer
from seqrec.model.baselines import SessionKNN
from seqrec.model.hybrid import WEIGHT_GRID, HybridScorer
from seqrec.runs.files import load_run, save_run

# Six items (codes 1-6); sessions that walk 1 -> 2 -> 3 and 4 -> 5 -> 6.
SEQUENCES = [np.array(s) for s in ([1, 2, 3], [1, 2, 3, 1], [4, 5, 6], [4, 5, 6, 4], [2, 3, 1], [5, 6, 4])]
N_ITEMS = 6


def fixed_logits(histories):
    """A 'network' that always prefers item 6, then 5, ... (logits 0..5 for items 1..6)."""
    row = torch.tensor([0.0, 0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
    return row.repeat(len(histories), 1)


def test_hybrid_scores_equal_the_weighted_blend_of_both_distributions():
    knn = SessionKNN().fit(SEQUENCES, N_ITEMS)
    histories = [np.array([1, 2]), np.array([4]), np.array([3, 1])]
    raw = knn.raw_scores(histories)
    assert (raw[:, 1:].sum(axis=1) > 0).all()  # every history has neighbours here
    for w in (0.0, 0.3, 1.0):
        got = HybridScorer(fixed_logits, knn, w).score_batch(histories).numpy()
        logits = np.array([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])
        softmax = np.exp(logits) / np.exp(logits).sum()
        for row, r in zip(got, raw):
            knn_part = r[1:] / r[1:].sum()
            assert row[0] == 0.0
            np.testing.assert_allclose(row[1:], (1 - w) * softmax + w * knn_part, rtol=1e-5, atol=1e-7)


def test_a_history_without_neighbours_keeps_the_networks_ranking():
    knn = SessionKNN().fit(SEQUENCES[:2], N_ITEMS)  # nothing in training shares item 5
    got = HybridScorer(fixed_logits, knn, 0.7).score_batch([np.array([5])])[0]
    assert torch.argsort(got[1:], descending=True).tolist() == [5, 4, 3, 2, 1, 0]
    assert float(got.sum()) == pytest.approx(0.3, abs=1e-6)


class _OneItemKnn:
    """Neighbours that always point at item 2 (which the fixed network ranks fifth)."""

    def raw_scores(self, histories):
        out = np.zeros((len(histories), N_ITEMS + 1))
        out[:, 2] = 1.0
        return out


def test_the_weight_follows_the_validation_targets():
    """Targets only the neighbours predict choose a weight that ranks them first (the smallest such weight);
    targets the network predicts choose weight 0; every weight's value is what evaluating it alone gives."""
    histories = [np.array([1]), np.array([4, 5]), np.array([3])]
    scorer = HybridScorer(fixed_logits, _OneItemKnn(), 0.0)
    w, values = choose_weight(scorer, histories, np.array([2, 2, 2]), N_ITEMS, "recall@1")
    assert 0 < w < 1 and values[f"{w:.1f}"] == 1.0 and values["0.0"] == 0.0
    assert all(values[f"{g:.1f}"] == 0.0 for g in WEIGHT_GRID if g < w)
    w, values = choose_weight(scorer, histories, np.array([6, 6, 6]), N_ITEMS, "recall@1")
    assert w == 0.0 and values["0.0"] == 1.0 and values["1.0"] == 0.0
    assert list(values) == [f"{g:.1f}" for g in WEIGHT_GRID]
    knn = SessionKNN().fit(SEQUENCES, N_ITEMS)
    targets = np.array([3, 6, 1])
    w, values = choose_weight(HybridScorer(fixed_logits, knn, 0.0), histories, targets, N_ITEMS, "mrr@5")
    for g in WEIGHT_GRID:
        alone = evaluate_scorer(HybridScorer(fixed_logits, knn, g).score_batch, histories, targets, N_ITEMS, (5,))
        assert values[f"{g:.1f}"] == pytest.approx(alone["mrr@5"], abs=1e-6)
    assert values[f"{w:.1f}"] == max(values.values())


class _Network(torch.nn.Module):
    """A stand-in model with one parameter (for its device) and fixed scores."""

    def __init__(self):
        super().__init__()
        self.p = torch.nn.Parameter(torch.zeros(1))

    def score_last(self, items, lengths):
        return fixed_logits(list(range(items.shape[0])))


def test_the_weight_is_chosen_without_reading_the_test_targets():
    rng = np.random.default_rng(0)
    train = [rng.integers(1, N_ITEMS + 1, size=rng.integers(2, 6)) for _ in range(40)]
    valid = rng.integers(1, N_ITEMS + 1, size=40)
    test_a = rng.integers(1, N_ITEMS + 1, size=40)
    test_b = np.full(40, 6)  # the network's favourite for everyone: a test-reading choice would pick weight 0
    vocab = ItemVocab(np.array([f"i{j}" for j in range(1, N_ITEMS + 1)]))
    users = np.arange(40)
    config = TrainConfig(hybrid=True)
    a = evaluate_hybrid(_Network(), SplitData(vocab, users, train, valid, test_a), config)
    b = evaluate_hybrid(_Network(), SplitData(vocab, users, train, valid, test_b), config)
    assert (a.name, a.weight, a.valid) == (b.name, b.weight, b.valid)
    assert a.metrics != b.metrics and b.metrics["recall@10"] == 1.0


@pytest.fixture(scope="module")
def hybrid_run(sample_csv):
    lines = sample_csv.read_text().splitlines()[:4001]  # ~250 shoppers: seconds
    data = load_interactions("\n".join(lines).encode())
    config = TrainConfig(embedding_dim=16, hidden_size=16, dropout=0.0, batch_size=64, epochs=2, patience=0, seed=7,
                         hybrid=True)
    return train_run(data, config)


def test_a_run_trained_with_the_hybrid_reports_its_row_and_verdict_beside_the_networks(hybrid_run):
    run = hybrid_run
    summary = run.summary()
    h = summary["hybrid"]
    assert h["name"] in ("GRU + Session kNN (V-SKNN)", "GRU + Item kNN") and h["chosen_on"] == "validation"
    assert h["neighbours"] in ("session_knn", "item_knn") and 0 <= h["weight"] <= 1
    assert set(h["valid"]) == {f"{g:.1f}" for g in WEIGHT_GRID}
    assert h["comparison"]["verdict"] in ("better", "no clear difference", "worse")
    assert h["vs_network"]["metric"] == "recall@20"
    lo, hi = h["metrics_ci95"]["recall@20"]
    assert lo <= h["metrics"]["recall@20"] <= hi
    # the network's own numbers are untouched and still on top
    assert summary["metrics"] == run.metrics and summary["comparison"]["verdict"] in ("better", "no clear difference",
                                                                                       "worse")
    assert h["metrics"] != run.metrics
    assert "hybrid" in next(iter(summary["by_history_length"].values()))
    table = run_vs_baselines(run, 20)
    assert table["Model"].tolist()[:2] == [run.name, h["name"]]

    class _Ds:  # the current dataset as comparison_table reads it
        name = "sample"

        @staticmethod
        def baseline_metrics(ks, exclude):
            return run.baselines

    rows = comparison_table([run], _Ds(), 20)
    assert rows["Kind"].tolist().count("hybrid") == 1
    assert rows.loc[rows["Kind"] == "hybrid", "Recall@20"].item() == pytest.approx(h["metrics"]["recall@20"])


def test_the_hybrid_survives_save_and_load(hybrid_run, tmp_path):
    loaded = load_run(save_run(hybrid_run, tmp_path / "run"))
    assert loaded.hybrid == hybrid_run.hybrid
    # ranks beyond the largest K are stored as misses (inf), as for the network and the baselines
    kept = np.where(hybrid_run.hybrid_ranks > 20, np.inf, hybrid_run.hybrid_ranks)
    np.testing.assert_array_equal(loaded.hybrid_ranks, kept)
    assert loaded.summary()["hybrid"]["comparison"] == hybrid_run.summary()["hybrid"]["comparison"]


def test_a_run_without_the_hybrid_has_no_hybrid_row(trained_runs):
    run = trained_runs["gru"]
    assert run.hybrid_run() is None and "hybrid" not in run.summary()


def test_cli_hybrid_flag(tmp_path, capsys, sample_csv, monkeypatch):
    monkeypatch.setenv("SEQREC_HOME", str(tmp_path / "home"))
    small = tmp_path / "small.csv"
    small.write_text("\n".join(sample_csv.read_text().splitlines()[:3001]) + "\n")
    assert main(["train", str(small), "--hybrid", "--embedding-dim", "8", "--hidden-size", "8", "--epochs", "1",
                 "--patience", "0", "--batch-size", "128", "--seed", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["config"]["hybrid"] is True and out["hybrid"]["name"].startswith("GRU + ")
    assert "comparison" in out["hybrid"] and "metrics" in out
