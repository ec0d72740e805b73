"""Reliability: sane hyperparameter bounds. Every nonsense value is named in one sentence; the largest and smallest
sane values are accepted. (The bounds live in TrainConfig's Settings; tests/unit/test_config.py checks that the CLI
and the app's form use the same ones.)"""
from __future__ import annotations

import pytest

from seqrec import SeqrecError, TrainConfig
from seqrec.config import LIMITS, SETTINGS

# ------------------------------------------------------------------------------------------------------------------
# Hyperparameter bounds
# ------------------------------------------------------------------------------------------------------------------

def test_settings_beyond_sane_bounds_are_all_named_in_one_sentence():
    bad = TrainConfig(embedding_dim=2048, hidden_size=4096, layers=8, dropout=0.95, lr=2.0, batch_size=10_000,
                      epochs=5000, max_len=10_000, ks=(10, 5000))
    with pytest.raises(SeqrecError) as info:
        bad.validate()
    msg = str(info.value)
    for words in ["embedding dim", "(got 2048)", "hidden size", "1024", "layers", "between 1 and 4", "dropout",
                  "0.9", "lr", "(0.0, 1.0]", "batch size", "4096", "epochs", "1000", "max len", "2000", "K values"]:
        assert words in msg, (words, msg)
    assert "\n" not in msg and msg.count(";") == 8


def test_the_largest_sane_settings_are_accepted():
    top = {k: hi for k, (lo, hi) in LIMITS.items()}
    TrainConfig(**top).validate()
    TrainConfig(**{k: lo for k, (lo, hi) in LIMITS.items() if k != "lr"}, lr=1e-6).validate()


def test_the_problems_are_named_in_the_order_of_the_fields():
    with pytest.raises(SeqrecError) as info:
        TrainConfig(model="cnn", layers=0, seed=-1, negatives=0, loss="bpr").validate()
    order = [str(info.value).index(noun) for noun in ("model must", "layers must", "seed must", "loss must",
                                                      "negatives must")]
    assert order == sorted(order)
    assert list(SETTINGS)[:2] == ["model", "embedding_dim"] and list(SETTINGS)[-10:-8] == ["loss", "negatives"]
    assert list(SETTINGS)[-8:] == ["tie_weights", "repeat", "hybrid", "layer_norm", "monitor", "lr_schedule",
                                   "warmup_steps", "eval_every"]
