"""Repeat-aware scores: items already in the history get a learned, recency-weighted score on top of the
network's logit, so a model can recommend again what people come back to."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from seqrec.config import TrainConfig
from seqrec.model.recurrent import RepeatScores, SeqRecModel
from seqrec.training.loop import batch_loss_backward, train


def test_repeat_scores_follow_their_formula():
    rep = RepeatScores(width=3, decays=(0.5, 0.9))
    with torch.no_grad():
        rep.gate.weight.zero_()
        rep.gate.bias.copy_(torch.tensor([2.0, -1.0]))
    hist = torch.tensor([[5, 3, 5, 0], [1, 2, 3, 4]])  # the first row is padded after 3 items
    pos = torch.tensor([2, 1])  # the step after item 3 of row 0 (all of it), after item 2 of row 1
    out = rep(torch.zeros(2, 3), hist, torch.arange(2), pos, n_cols=7)

    def expected(ages):
        return 2.0 * math.log1p(sum(0.5 ** a for a in ages)) - 1.0 * math.log1p(sum(0.9 ** a for a in ages))

    want = torch.zeros(2, 7)
    want[0, 5] = expected([2, 0])  # item 5 seen twice: 2 steps ago and just now
    want[0, 3] = expected([1])
    want[1, 2] = expected([0])
    want[1, 1] = expected([1])  # items 3 and 4 come after the step: not seen yet
    assert torch.allclose(out, want, atol=1e-6)


def test_a_repeat_model_scores_the_last_step_like_its_forward_and_the_legacy_switch_is_off():
    torch.manual_seed(0)
    m = SeqRecModel(30, TrainConfig(embedding_dim=8, hidden_size=16)).eval()
    assert m.repeat is not None, "on by default"
    with torch.no_grad():
        m.repeat.gate.bias.fill_(3.0)
        items = torch.tensor([[4, 7, 9, 4], [2, 3, 0, 0]])
        lengths = torch.tensor([4, 2])
        full = m(items)
        last = m.score_last(items, lengths)
    assert torch.allclose(last[0], full[0, 3], atol=1e-5) and torch.allclose(last[1], full[1, 1], atol=1e-5)
    assert last[0, 4] - last[0, 5] > 2, "an item seen twice scores above the rest"
    assert SeqRecModel(30, TrainConfig(repeat=False)).repeat is None
    assert SeqRecModel(30, TrainConfig(loss="sampled")).repeat is None, "the sampled loss trains without them"
    saved = TrainConfig().to_dict()
    saved.pop("repeat")
    assert TrainConfig.from_dict(saved).repeat is False, "a run saved before the switch loads as it was trained"


def test_the_chunked_loss_equals_one_pass_with_repeat_scores(monkeypatch):
    import seqrec.training.loop as loop

    torch.manual_seed(0)
    seq = torch.randint(1, 40, (6, 12))
    seq[4, 8:] = 0
    grads = []
    for chunk in (10_000, 7):
        monkeypatch.setattr(loop, "loss_chunk_positions", lambda n, c=chunk: c)
        torch.manual_seed(1)
        m = SeqRecModel(40, TrainConfig(embedding_dim=8, hidden_size=16, dropout=0.0))
        loss, n = batch_loss_backward(m, seq, 40)
        grads.append((float(loss), m.repeat.gate.weight.grad.clone(), m.repeat.decay_logits.grad.clone()))
    assert grads[0][0] == pytest.approx(grads[1][0], rel=1e-5)
    assert torch.allclose(grads[0][1], grads[1][1], atol=1e-5) and torch.allclose(grads[0][2], grads[1][2], atol=1e-5)


def _repeat_log(n_users=300, n_items=120, length=16, seed=0):
    """Users who often come back to one of their own last four items (60% of steps), else pick any item."""
    import io

    from seqrec.data.prepare import load_interactions
    from seqrec.data.split import leave_last_out

    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        s = [int(rng.integers(n_items))]
        for _ in range(length - 1):
            s.append(int(rng.choice(s[-4:])) if rng.random() < 0.6 else int(rng.integers(n_items)))
        rows += [f"u{u},i{item},{1_600_000_000 + t}" for t, item in enumerate(s)]
    csv = "user_id,item_id,timestamp\n" + "\n".join(rows) + "\n"
    return leave_last_out(load_interactions(io.BytesIO(csv.encode()), names=["repeats.csv"]))


def test_repeat_scores_recommend_what_people_come_back_to():
    split = _repeat_log()
    base = dict(embedding_dim=16, hidden_size=32, epochs=3, patience=0, max_minutes=0, seed=0, lr=0.01, cpus=1)
    with_rep = train(split, TrainConfig(**base)).best_valid
    without = train(split, TrainConfig(**base, repeat=False)).best_valid
    assert with_rep["recall@10"] > without["recall@10"] + 0.1, (with_rep, without)
