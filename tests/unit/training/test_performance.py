"""What the speed work must not change: the sampled loss still learns, the large-catalogue code paths (chunked loss,
chunked evaluation) give the same numbers as one pass, batches waste little on padding, and ingest's fast paths
give the same table as the plain pandas ones. No timings here: speed is measured in bench/run.py."""
import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F

import seqrec.training.loop as train_mod
from seqrec import SeqrecError, TrainConfig, load_interactions, train_run
from seqrec.data.split import pad_batch
from seqrec.evaluation.metrics import evaluate_scorer
from seqrec.evaluation.protocol import model_scorer
from seqrec.model import losses
from seqrec.model.losses import NegativeSampler, make_sampler
from seqrec.training.loop import batch_loss_backward, build_model, length_bucketed_batches, training_windows

# ------------------------------------------------------------------------------------------------------------------
# The sampled loss
# ------------------------------------------------------------------------------------------------------------------

def test_sampled_softmax_training_still_learns_the_planted_pattern(sample_split, sample_baselines, fast_config):
    cfg = fast_config.replace(loss="sampled", negatives=64)
    assert make_sampler(sample_split, cfg, torch.device("cpu")) is not None  # 64 of 300 items: really sampled
    run = train_run(sample_split, cfg, baselines=sample_baselines)
    # The planted pattern is out of reach of count tables (popularity, last-item transitions); item kNN sees part
    # of it (about 0.68 here), so the sampled loss must clear the count tables by a wide margin and match kNN.
    counts = max(sample_baselines[n]["recall@20"] for n in ("most_popular", "item_transitions"))
    assert run.metrics["recall@20"] >= counts + 0.2, (run.metrics, sample_baselines)
    assert run.metrics["recall@20"] >= sample_baselines["item_knn"]["recall@20"] - 0.05, (run.metrics, sample_baselines)
    assert run.config.loss == "sampled" and run.summary()["config"]["loss"] == "sampled"


def test_sampled_loss_falls_back_to_the_exact_softmax_when_negatives_cover_the_catalogue(sample_split):
    cfg = TrainConfig(loss="sampled", negatives=sample_split.n_items)
    assert make_sampler(sample_split, cfg, torch.device("cpu")) is None
    assert make_sampler(sample_split, TrainConfig(loss="full", negatives=8), torch.device("cpu")) is None


def test_negatives_follow_popularity_and_never_draw_padding():
    train = [np.array([1] * 90 + [2] * 9 + [3])]  # item 1 is far more popular than 3
    sampler = NegativeSampler(train, n_items=4, negatives=5000, seed=0)
    draws = sampler.draw().numpy()
    assert draws.min() >= 1 and draws.max() <= 4
    counts = np.bincount(draws, minlength=5)
    assert counts[1] > counts[2] > counts[3] and counts[4] > 0  # never seen in training, still drawable
    again = NegativeSampler(train, n_items=4, negatives=5000, seed=0).draw().numpy()
    assert (draws == again).all()  # seeded: the same run draws the same negatives


@pytest.mark.parametrize("changes, words", [
    (dict(loss="bpr"), "loss must be full or sampled"),
    (dict(negatives=0), "negatives must be a whole number"),
    (dict(negatives=2.5), "negatives must be a whole number"),
])
def test_bad_loss_settings_are_named(changes, words):
    with pytest.raises(SeqrecError, match=words):
        TrainConfig(**changes).validate()


def test_configs_saved_before_the_loss_setting_still_load():
    old = TrainConfig().to_dict()
    del old["loss"], old["negatives"]
    cfg = TrainConfig.from_dict(old)
    assert cfg.loss == "full"
    assert TrainConfig.from_dict(TrainConfig(loss="sampled", negatives=64).to_dict()).negatives == 64


# ------------------------------------------------------------------------------------------------------------------
# The full loss: only real positions, chunked for large catalogues, same objective as the plain loop
# ------------------------------------------------------------------------------------------------------------------

def _grads_after(model, seq, n_items):
    model.zero_grad(set_to_none=True)
    loss, tokens = batch_loss_backward(model, seq, n_items)
    return float(loss), tokens, {k: p.grad.clone() for k, p in model.named_parameters()}


def test_chunked_full_loss_gives_the_gradients_of_one_pass(monkeypatch):
    n_items = 50
    model = build_model(n_items, TrainConfig(embedding_dim=8, hidden_size=8, dropout=0.0))
    seqs = [np.random.default_rng(i).integers(1, n_items + 1, n) for i, n in enumerate([12, 7, 3, 12, 5])]
    seq = torch.from_numpy(pad_batch(seqs)[0])
    loss1, tokens, one_pass = _grads_after(model, seq, n_items)
    monkeypatch.setattr(train_mod, "loss_chunk_positions", lambda n: 4)  # 4 positions per chunk
    loss2, tokens2, chunked = _grads_after(model, seq, n_items)
    assert tokens == tokens2 == sum(len(s) - 1 for s in seqs)
    assert loss1 == pytest.approx(loss2, rel=1e-5)
    for name in one_pass:
        torch.testing.assert_close(one_pass[name], chunked[name], rtol=1e-4, atol=1e-6)
    # ... and it is the objective of the plain loop (cross-entropy over the padded batch, padding ignored)
    logits = model(seq[:, :-1])
    plain = F.cross_entropy(logits.reshape(-1, n_items + 1), seq[:, 1:].reshape(-1), ignore_index=0)
    assert float(plain.detach()) == pytest.approx(loss1, rel=1e-5)


@pytest.mark.parametrize("n_items", [300, 1_700, 40_000, 2_000_000])
def test_loss_chunks_stay_within_the_logits_budget(n_items):
    positions = losses.loss_chunk_positions(n_items)
    assert positions >= 1
    assert positions * (n_items + 1) <= max(losses.MAX_LOGITS_PER_STEP, n_items + 1)


# ------------------------------------------------------------------------------------------------------------------
# Batching: every window once per epoch, little padding
# ------------------------------------------------------------------------------------------------------------------

def _padding_share(lengths, batch_size):
    batches = length_bucketed_batches(lengths, batch_size, np.random.default_rng(0))
    computed = sum(len(b) * (lengths[b].max() - 1) for b in batches)
    real = sum((lengths[b] - 1).sum() for b in batches)
    return batches, 1 - real / computed


@pytest.mark.parametrize("name", ["sample", "skewed"])
def test_batches_cover_every_window_once_with_under_15_percent_padding(sample_split, name):
    if name == "sample":
        train = sample_split.train
    else:  # heavy-tailed lengths: most users have a handful of events, a few have hundreds to thousands
        lengths = np.clip((3 + np.random.default_rng(1).pareto(1.0, 5000) * 5).astype(int), 3, 2000)
        train = [np.ones(n - 2, dtype=np.int64) for n in lengths]
    _, lengths = training_windows(train, TrainConfig().max_len)
    batches, share = _padding_share(lengths, TrainConfig().batch_size)
    assert sorted(np.concatenate(batches).tolist()) == list(range(len(lengths)))
    assert max(len(b) for b in batches) == TrainConfig().batch_size
    assert share < 0.15, share


# ------------------------------------------------------------------------------------------------------------------
# Evaluation in chunks
# ------------------------------------------------------------------------------------------------------------------

def test_chunked_evaluation_gives_identical_metrics(sample_split, gru_run):
    hist, tgt = sample_split.histories("test")
    scorer = model_scorer(gru_run.model, gru_run.config.max_len, torch.device("cpu"))
    whole = evaluate_scorer(scorer, hist, tgt, sample_split.n_items, (10, 20), True, batch_size=len(hist))
    for size in (1, 37, 256):
        assert evaluate_scorer(scorer, hist, tgt, sample_split.n_items, (10, 20), True, batch_size=size) == \
            pytest.approx(whole, abs=1e-12), size
    assert whole["recall@20"] > 0.3  # a real model, so the comparison means something


# ------------------------------------------------------------------------------------------------------------------
# Ingest fast paths
# ------------------------------------------------------------------------------------------------------------------

def test_shuffled_file_is_sorted_by_user_then_time_with_ties_in_file_order():
    rows = [("u2", "b", 5), ("u1", "x", 9), ("u2", "a", 5), ("u1", "y", 1), ("u10", "c", 3), ("u2", "c", 1),
            ("u1", "z", 9), ("u10", "a", 2), ("u10", "b", 2)]
    csv = "user_id,item_id,timestamp\n" + "\n".join(f"{u},{i},{t}" for u, i, t in rows)
    df = load_interactions(csv.encode()).df
    assert list(df["user"]) == ["u1"] * 3 + ["u10"] * 3 + ["u2"] * 3  # string order of IDs, as before
    assert list(df["item"]) == ["y", "x", "z", "a", "b", "c", "c", "b", "a"]
    assert list(df["time"]) == [1, 9, 9, 2, 2, 3, 1, 5, 5]


def test_time_column_with_a_stray_word_is_still_refused_clearly():
    csv = "user_id,item_id,timestamp\n" + "\n".join(f"u{i % 3},i{i},{1000 + i}" for i in range(20)) + "\nu1,i9,soon\n"
    with pytest.raises(SeqrecError, match="soon"):
        load_interactions(csv.encode())


def test_vocabulary_is_most_popular_first_with_ties_in_order_of_appearance(sample_data, sample_split):
    expected = sample_data.df["item"].value_counts(sort=True).index.tolist()
    assert [str(i) for i in sample_split.vocab.ids] == expected
    df = pd.DataFrame({"user": ["a"] * 3 + ["b"] * 3, "item": ["q", "p", "q", "r", "p", "s"], "time": range(6)})
    from seqrec.data.columns import ColumnMap
    from seqrec.data.prepare import Interactions
    from seqrec.data.split import user_sequences

    _, seqs, vocab = user_sequences(Interactions(df, ColumnMap("user", "item", "time"), False, 6))
    assert list(vocab.ids) == ["q", "p", "r", "s"]
    assert [vocab.decode(s) for s in seqs] == [["q", "p", "q"], ["r", "p", "s"]]
