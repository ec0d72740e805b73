"""Automatic dropout: left empty, dropout is chosen from the training data when a training starts (0.2
where people often come back to items, 0.5 on ratings-like logs), and the run records the value it used."""
import numpy as np
import pytest

from seqrec import SeqrecError, TrainConfig, leave_last_out, load_interactions, train_run
from seqrec.config import PRESETS
from seqrec.data.split import repeat_share
from seqrec.training.loop import AUTO_DROPOUT, AUTO_DROPOUT_REPEATS, resolve_auto

TINY = dict(embedding_dim=8, hidden_size=8, batch_size=64, epochs=1, patience=0, seed=1)


def _log(users: int, repeat_every: int) -> bytes:
    """Users x 12 events; with repeat_every > 0 every repeat_every-th event re-buys the user's first item."""
    rng = np.random.default_rng(0)
    rows = ["user_id,item_id,timestamp"]
    for u in range(users):
        items = rng.choice(np.arange(1, 200), 12, replace=False)
        for t, it in enumerate(items):
            if repeat_every and t and t % repeat_every == 0:
                it = items[0]
            rows.append(f"u{u},i{it},{1_600_000_000 + 60 * t}")
    return ("\n".join(rows) + "\n").encode()


def test_repeat_share_counts_next_items_that_repeat_an_earlier_one():
    train = [np.array([1, 2, 1, 3, 2]), np.array([4, 5]), np.array([7])]
    assert repeat_share(train) == pytest.approx(2 / 5)  # 4 + 1 + 0 next items, two of them repeats
    assert repeat_share([np.array([1, 2, 3])]) == 0.0
    assert repeat_share([np.array([5])]) == 0.0 and repeat_share([]) == 0.0


def test_dropout_is_automatic_by_default_and_takes_its_value_from_the_data():
    assert TrainConfig().dropout is None and TrainConfig().validate().dropout is None
    ratings = leave_last_out(load_interactions(_log(60, 0)))
    rebuys = leave_last_out(load_interactions(_log(60, 3)))
    assert repeat_share(ratings.train) < AUTO_DROPOUT_REPEATS <= repeat_share(rebuys.train)
    assert rebuys.repeat_share == repeat_share(rebuys.train)  # computed once per split, the same value
    assert resolve_auto(TrainConfig(), ratings).dropout == AUTO_DROPOUT[0] == 0.5
    assert resolve_auto(TrainConfig(), rebuys).dropout == AUTO_DROPOUT[1] == 0.2
    chosen = TrainConfig(dropout=0.35)
    assert resolve_auto(chosen, rebuys) is chosen  # a value the user chose is kept as it is
    assert PRESETS["Balanced"]["dropout"] is None and PRESETS["Quick demo"]["dropout"] == 0.2


def test_a_run_records_the_dropout_it_trained_with_and_reproduces_from_it():
    rebuys = leave_last_out(load_interactions(_log(60, 3)))
    auto = train_run(rebuys, TrainConfig(**TINY))
    assert auto.config.dropout == 0.2 and auto.summary()["config"]["dropout"] == 0.2
    explicit = train_run(rebuys, TrainConfig(**TINY, dropout=0.2))
    assert auto.metrics == explicit.metrics  # the same training as asking for 0.2 by hand


def test_a_bad_dropout_names_the_automatic_choice():
    with pytest.raises(SeqrecError, match=r"dropout must be a number in \[0.0, 0.9\] or auto \(got 'x'\)"):
        TrainConfig(dropout="x").validate()
