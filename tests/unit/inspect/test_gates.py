"""The gate trace must be exactly what the fused PyTorch modules compute, and its summaries must mean what they say."""
import io
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from seqrec import SeqrecError, TrainConfig, load_interactions, save_run, train_run
from seqrec.cli import main
from seqrec.inspect.gates import (
    GATES,
    hidden_change,
    replay_model,
    replay_module,
    responsive_units,
    saturation,
    summarize,
    summarize_gate,
    trace_history,
    trace_history_json,
)
from seqrec.model.recurrent import SeqRecModel

TOL = 1e-5
CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


def fused_step_by_step(module, x):
    """Run the fused module one step at a time (PyTorch's own kernels), collecting every layer's h (and c) per
    step: (layers, B, T, H) tensors."""
    state, hs, cs = None, [], []
    for t in range(x.shape[1]):
        _, state = module(x[:, t:t + 1], state)
        h, c = state if isinstance(state, tuple) else (state, None)
        hs.append(h)
        if c is not None:
            cs.append(c)
    return torch.stack(hs, dim=2), (torch.stack(cs, dim=2) if cs else None)


def scale_weights(module, factor):
    """Bigger weights push the gates into saturation, where a wrong gate order or formula shows up at once."""
    with torch.no_grad():
        for p in module.parameters():
            p.mul_(factor)


@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("factor", [1.0, 4.0])
def test_replay_matches_fused_module(kind, layers, factor):
    torch.manual_seed(layers * 10 + int(factor))
    module = CELLS[kind](6, 9, num_layers=layers, batch_first=True).eval()
    scale_weights(module, factor)
    x = torch.randn(3, 13, 6)
    replay = replay_module(module, x)
    assert len(replay) == layers
    assert set(replay[0]) == set(GATES[kind])

    with torch.no_grad():
        out, _ = module(x)
        h_steps, c_steps = fused_step_by_step(module, x)
    assert torch.allclose(replay[-1]["hidden"], out, atol=TOL)
    for k in range(layers):
        assert torch.allclose(replay[k]["hidden"], h_steps[k], atol=TOL)
        if kind == "lstm":
            assert torch.allclose(replay[k]["cell"], c_steps[k], atol=TOL)


def test_replay_matches_relu_rnn_and_time_major_module():
    torch.manual_seed(3)
    relu = nn.RNN(4, 5, num_layers=2, nonlinearity="relu", batch_first=True).eval()
    x = torch.randn(2, 7, 4)
    with torch.no_grad():
        assert torch.allclose(replay_module(relu, x)[-1]["hidden"], relu(x)[0], atol=TOL)
    time_major = nn.GRU(4, 5, num_layers=2).eval()  # batch_first=False: same weights, other input layout
    with torch.no_grad():
        expected = time_major(x.transpose(0, 1))[0].transpose(0, 1)
    assert torch.allclose(replay_module(time_major, x)[-1]["hidden"], expected, atol=TOL)


def test_gates_stay_in_their_ranges_and_lstm_cell_follows_the_equation():
    torch.manual_seed(1)
    module = nn.LSTM(3, 4, batch_first=True).eval()
    scale_weights(module, 3.0)
    g = replay_module(module, torch.randn(1, 20, 3))[0]
    for name in ("input", "forget", "output"):
        assert g[name].min() >= 0 and g[name].max() <= 1
    assert g["candidate"].abs().max() <= 1
    c_prev = torch.cat([torch.zeros(1, 1, 4), g["cell"][:, :-1]], dim=1)
    assert torch.allclose(g["cell"], g["forget"] * c_prev + g["input"] * g["candidate"], atol=1e-6)
    assert torch.allclose(g["hidden"], g["output"] * torch.tanh(g["cell"]), atol=1e-6)


def test_gru_update_gate_near_one_keeps_the_old_state():
    """PyTorch's z is the 'keep' gate: with z ~ 1 the hidden state hardly moves from h_0 = 0, whatever the input."""
    gru = nn.GRU(3, 4, batch_first=True).eval()
    with torch.no_grad():
        gru.bias_ih_l0[4:8] = 20.0  # update-gate bias (order r, z, n): z = sigmoid(~20) ~ 1
    g = replay_module(gru, torch.randn(1, 10, 3))[0]
    assert g["update"].min() > 0.999
    assert g["hidden"].abs().max() < 1e-3
    with torch.no_grad():
        gru.bias_ih_l0[4:8] = -20.0  # z ~ 0: the state is replaced by the candidate at every step
    g = replay_module(gru, torch.randn(1, 10, 3))[0]
    assert torch.allclose(g["hidden"], g["candidate"], atol=1e-6)


# ------------------------------------------------------------------------------------------------------------------
# The project's model and runs
# ------------------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_data():
    df = pd.read_csv("sample_data/interactions.csv", dtype=str)
    small = df[df.user_id.isin(df.user_id.unique()[:200])]
    return load_interactions(io.BytesIO(small.to_csv(index=False).encode()), names=["small.csv"])


@pytest.fixture(scope="module")
def tiny_runs(small_data):
    return {kind: train_run(small_data, TrainConfig(model=kind, embedding_dim=8, hidden_size=10, layers=2, epochs=2,
                                                    patience=0, batch_size=64, seed=7))
            for kind in ("rnn", "lstm", "gru")}


def _model_layers_step_by_step(model, items):
    """Each layer's hidden states from the model's own fused cells (eval mode: no dropout)."""
    x, outs = model.embedding(items), []
    for cell in model.cells:
        x, _ = cell(x)
        outs.append(x)
    return outs


@pytest.mark.parametrize("tied", [True, False])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_replay_matches_seqrec_model_with_random_weights(kind, layers, tied):
    torch.manual_seed(0)
    model = SeqRecModel(30, TrainConfig(model=kind, embedding_dim=5, hidden_size=7, layers=layers, dropout=0.5,
                                        tie_weights=tied)).eval()
    items = torch.randint(1, 31, (2, 15))
    replay = replay_model(model, items)
    with torch.no_grad():
        expected = _model_layers_step_by_step(model, items)
        top = model.hidden_states(items)
    assert len(replay) == layers
    for k in range(layers):
        assert torch.allclose(replay[k]["hidden"], expected[k], atol=TOL)
    with torch.no_grad():  # the replayed top layer, through the head (the tied output's projection), is what the
        assert torch.allclose(model.head(replay[-1]["hidden"]), top, atol=TOL)  # output layer reads


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_trace_of_a_trained_run_reproduces_its_scores(tiny_runs, kind):
    run = tiny_runs[kind]
    history = list(run.vocab.ids[[5, 1, 17, 3, 3, 40, 2]])
    trace = trace_history(run, history)
    assert trace.cell == kind and trace.n_layers == 2 and trace.items == history
    codes, _ = run.vocab.encode(history)
    with torch.no_grad():
        run.model.eval()
        items = torch.as_tensor(codes).view(1, -1)
        expected = _model_layers_step_by_step(run.model, items)[-1][0].numpy()
        # the last hidden state, through the head (the tied output's projection) and the output layer (and the repeat
        # scores of the history's items), gives exactly the run's recommendation scores
        last = run.model.head(torch.as_tensor(trace.gate("hidden", 1)[-1:], dtype=torch.float32))
        logits = run.model.scores(last, items, torch.tensor([len(codes)]))[0]
    assert np.allclose(trace.gate("hidden", 1), expected, atol=TOL)
    assert torch.allclose(logits, run.score_histories([codes])[0], atol=1e-4)


def test_trace_reports_unknown_and_dropped_items_and_refuses_useless_histories(tiny_runs):
    run = tiny_runs["gru"]
    known = list(run.vocab.ids[:3])
    trace = trace_history(run, [known[0], "NOT-AN-ITEM", known[1], known[2]])
    assert trace.items == known and trace.unknown_items == ["NOT-AN-ITEM"]
    assert trace.gate("update").shape == (3, 10)

    long = list(run.vocab.ids[:40]) * 6  # 240 > max_len (default 50): the model reads only the last max_len
    trace = trace_history(run, long)
    assert trace.n_steps == run.config.max_len and trace.dropped_items == long[:len(long) - run.config.max_len]

    with pytest.raises(SeqrecError, match="known to this run"):
        trace_history(run, ["nope", "nada"])
    with pytest.raises(SeqrecError, match="empty"):
        trace_history(run, [])
    with pytest.raises(SeqrecError, match="no 'forget' gate"):
        trace.gate("forget")


# ------------------------------------------------------------------------------------------------------------------
# Summaries on constructed cases
# ------------------------------------------------------------------------------------------------------------------

def test_hidden_change_is_the_step_norm_from_a_zero_start():
    h = np.array([[3.0, 4.0], [3.0, 4.0], [0.0, 0.0]])
    assert np.allclose(hidden_change(h), [5.0, 0.0, 5.0])


def test_responsive_units_rank_by_total_change_or_variance():
    t = np.arange(10)
    h = np.stack([np.full(10, 0.9),                 # jumps once from 0, then flat: change 0.9, variance 0
                  np.where(t % 2 == 0, 0.5, -0.5),  # flips every step: change 9.5
                  np.linspace(0, 0.9, 10),          # slow drift: change 0.9, variance > 0
                  np.zeros(10)], axis=1)
    assert responsive_units(h, 2).tolist() == [1, 0]
    assert responsive_units(h, 2, by="variance").tolist() == [1, 2]
    assert responsive_units(h, 99).tolist() == [1, 0, 2, 3]
    with pytest.raises(SeqrecError):
        responsive_units(h, 2, by="loudness")


def test_saturation_fractions_follow_karpathys_thresholds():
    gate = np.array([[0.05, 0.5], [0.95, 0.5], [0.02, 0.95], [0.5, 0.5]])
    s = saturation(gate, "sigmoid")
    assert s["left_by_unit"].tolist() == [0.5, 0.0] and s["right_by_unit"].tolist() == [0.25, 0.25]
    assert s["left_fraction"] == 2 / 8 and s["right_fraction"] == 2 / 8
    tanh_vals = np.array([[-0.95, 0.0], [0.05, 0.99]])  # for tanh values 0.05 is the middle, not saturated
    s = saturation(tanh_vals, "tanh")
    assert s["left_fraction"] == 0.25 and s["right_fraction"] == 0.25
    assert saturation(gate, "unbounded") is None
    summary = summarize_gate(gate, "sigmoid")
    assert np.allclose(summary["mean_by_step"], [0.275, 0.725, 0.485, 0.5])
    assert np.allclose(summary["mean_by_unit"], [0.38, 0.6125])


def test_summaries_cover_every_gate_of_every_layer(tiny_runs):
    trace = trace_history(tiny_runs["lstm"], list(tiny_runs["lstm"].vocab.ids[:6]))
    summaries = summarize(trace)
    assert len(summaries) == 2 and list(summaries[0]) == list(GATES["lstm"])
    assert summaries[1]["cell"]["saturation"] is None  # the cell state is unbounded
    assert summaries[1]["forget"]["mean_by_step"].shape == (6,)


# ------------------------------------------------------------------------------------------------------------------
# JSON and the CLI
# ------------------------------------------------------------------------------------------------------------------

def test_trace_json_has_items_gates_summaries_and_top_units(tiny_runs):
    run = tiny_runs["lstm"]
    history = list(run.vocab.ids[:5]) + ["ghost"]
    out = json.loads(json.dumps(trace_history_json(run, history, top_units=4)))
    assert out["cell"] == "lstm" and out["items"] == history[:5] and out["unknown_items"] == ["ghost"]
    assert set(out["gates"]) == {"input", "forget", "candidate", "output", "cell", "hidden"}
    assert len(out["gates"]["forget"]) == 2 and len(out["gates"]["forget"][1]) == 5
    assert len(out["gates"]["forget"][1][0]) == 10
    assert len(out["top_units"][0]) == 4 and len(out["hidden_change"][1]) == 5
    assert 0 <= out["summary"]["forget"][0]["saturation"]["right_fraction"] <= 1
    with pytest.raises(SeqrecError, match="top-units"):
        trace_history_json(run, history, top_units=0)


@pytest.mark.slow  # real `python -m seqrec gates` processes: ~8 s on 2 cores
def test_cli_gates_prints_the_trace_of_a_saved_run(tiny_runs, tmp_path):
    run = tiny_runs["gru"]
    save_run(run, tmp_path / "run")
    history = [str(i) for i in run.vocab.ids[:4]]
    done = subprocess.run([sys.executable, "-m", "seqrec", "gates", str(tmp_path / "run"), "--history", *history,
                           "unknown-item", "--top-units", "3"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["cell"] == "gru" and out["items"] == history and out["unknown_items"] == ["unknown-item"]
    assert list(out["gates"]) == ["reset", "update", "candidate", "hidden"]
    assert np.array(out["gates"]["hidden"]).shape == (2, 4, 10)
    assert all(len(units) == 3 for units in out["top_units"])


def test_cli_gates_bad_run_dir_exits_2_with_one_sentence(tmp_path, capsys):
    assert main(["gates", str(tmp_path / "missing"), "--history", "P0001"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err and err.count("\n") == 1
