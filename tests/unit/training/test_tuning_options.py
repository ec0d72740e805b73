"""The training options added for real-data tuning: tied output, layer norm, monitor, LR schedule,
warm-up, validation every N epochs. Each is validated, off by default except the tied output (on since round 7 of
docs/experiments/defaults-on-real-data.md), and old saved configs still load as they were trained."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from seqrec.config import TrainConfig
from seqrec.errors import SeqrecError
from seqrec.model.recurrent import SeqRecModel
from seqrec.training.loop import train


def test_a_config_saved_before_the_new_fields_loads_with_their_defaults():
    old = TrainConfig().to_dict()
    for name in ("tie_weights", "layer_norm", "monitor", "lr_schedule", "warmup_steps", "eval_every"):
        old.pop(name)
    cfg = TrainConfig.from_dict(old)
    assert (cfg.tie_weights, cfg.layer_norm, cfg.monitor, cfg.lr_schedule, cfg.warmup_steps, cfg.eval_every) == \
        (False, False, "recall", "constant", 0, 1)


def test_the_output_is_tied_to_the_item_embedding_by_default():
    from seqrec.model.recurrent import TiedOutput

    m = SeqRecModel(30, TrainConfig(embedding_dim=8, hidden_size=16))
    assert isinstance(m.output, TiedOutput) and m.output.weight is m.embedding.weight
    assert m.proj.in_features == 16 and m.proj.out_features == 8
    untied = SeqRecModel(30, TrainConfig(embedding_dim=8, hidden_size=16, tie_weights=False))
    assert isinstance(untied.output, torch.nn.Linear) and untied.proj is None
    assert m.parameter_count() < untied.parameter_count()


def test_default_training_windows_are_51_items_and_train_every_transition_once():
    """Max_len defaults to 50 (was 200; docs/experiments/defaults-on-real-data.md, round 3), so a long history
    becomes several short windows (more optimisation steps per epoch) that still train each transition exactly once;
    a run saved with the old default keeps reading its 200 items."""
    from seqrec.training.loop import training_windows

    cfg = TrainConfig()
    assert cfg.max_len == 50
    seq = np.arange(1, 131)  # 130 items: 129 transitions
    windows, lengths = training_windows([seq], cfg.max_len)
    assert len(windows) == 3 and lengths.max() == cfg.max_len + 1
    pairs = [(int(w[i]), int(w[i + 1])) for w, n in zip(windows, lengths) for i in range(n - 1)]
    assert sorted(pairs) == [(a, a + 1) for a in range(1, 130)]
    assert TrainConfig.from_dict(TrainConfig(max_len=200).to_dict()).max_len == 200


@pytest.mark.parametrize("change", [dict(monitor="auc"), dict(lr_schedule="cosine"), dict(tie_weights=1),
                                    dict(layer_norm="yes"), dict(warmup_steps=-1), dict(eval_every=0)])
def test_bad_new_settings_are_refused(change):
    with pytest.raises(SeqrecError):
        TrainConfig(**change).validate()


def test_tied_model_scores_with_its_input_embedding():
    cfg = TrainConfig(embedding_dim=8, hidden_size=16, tie_weights=True, layer_norm=True)
    m = SeqRecModel(30, cfg)
    assert m.output.weight is m.embedding.weight
    logits = m(torch.tensor([[1, 2, 3]]))
    assert logits.shape == (1, 3, 31)


def _split(seed=0, users=40, items=25, length=12):
    import io

    from seqrec.data.prepare import load_interactions
    from seqrec.data.split import leave_last_out

    rng = np.random.default_rng(seed)
    rows = [f"u{u},i{(u + t) % items if rng.random() < 0.8 else rng.integers(items)},{1_600_000_000 + t}"
            for u in range(users) for t in range(length)]
    csv = "user_id,item_id,timestamp\n" + "\n".join(rows) + "\n"
    return leave_last_out(load_interactions(io.BytesIO(csv.encode()), names=["tiny.csv"]))


def test_new_options_train_and_validate_every_n_epochs():
    split = _split()
    cfg = TrainConfig(embedding_dim=8, hidden_size=16, epochs=5, tie_weights=True, layer_norm=True, monitor="ndcg",
                      lr_schedule="plateau", warmup_steps=3, eval_every=2, patience=0, max_minutes=0, seed=1)
    res = train(split, cfg)
    assert [e["epoch"] for e in res.epochs] == [2, 4, 5]  # every 2nd epoch and the last
    assert res.best_epoch in (2, 4, 5)


def test_influence_scores_a_tied_layer_normed_model_like_the_model_itself():
    from seqrec.inspect.influence import _logits_from_embeddings

    torch.manual_seed(0)
    m = SeqRecModel(30, TrainConfig(embedding_dim=8, hidden_size=16, tie_weights=True, layer_norm=True)).eval()
    items = torch.tensor([[4, 7, 9, 2]])
    with torch.no_grad():
        assert torch.allclose(_logits_from_embeddings(m, m.embedding(items), items), m(items)[:, -1], atol=1e-5)


def test_a_tied_layer_normed_run_saves_and_loads_with_the_same_scores(tmp_path):
    from seqrec.runs.files import load_run, save_run
    from seqrec.training.runner import train_run

    cfg = TrainConfig(embedding_dim=8, hidden_size=16, epochs=2, tie_weights=True, layer_norm=True, max_minutes=0,
                      seed=2)
    run = train_run(_split(), cfg)
    save_run(run, tmp_path / "tied")
    back = load_run(tmp_path / "tied")
    assert back.model.output.weight is back.model.embedding.weight
    items, lengths = torch.tensor([[1, 2, 3]]), torch.tensor([3])
    run.model.eval(), back.model.eval()
    with torch.no_grad():
        assert torch.allclose(run.model.score_last(items, lengths), back.model.score_last(items, lengths))
