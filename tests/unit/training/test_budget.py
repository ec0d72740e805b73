"""Reliability: sane hyperparameter bounds and the memory budget, estimated before any tensor exists and
refused with one sentence (library and CLI)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import seqrec
from seqrec import SeqrecError, TrainConfig
from seqrec.data.split import ItemVocab, SplitData
from seqrec.model.recurrent import SeqRecModel
from seqrec.training.budget import (
    DataShape,
    check_training_memory,
    estimate_training_memory,
    parameter_count,
    window_counts,
)
from seqrec.training.loop import training_windows
from tests.helpers import MB, ROOT, SAMPLE, TINY, assert_one_error_line, cli

# ------------------------------------------------------------------------------------------------------------------
# Memory estimate and budget
# ------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("model, layers, tied, norm", [("rnn", 1, False, False), ("gru", 2, True, False),
                                                      ("lstm", 3, False, True), ("gru", 1, True, True)])
def test_parameter_count_matches_the_real_model(model, layers, tied, norm):
    cfg = TrainConfig(model=model, layers=layers, embedding_dim=12, hidden_size=20, tie_weights=tied, layer_norm=norm)
    assert parameter_count(777, cfg) == SeqRecModel(777, cfg).parameter_count()


def test_window_count_matches_how_training_cuts_sequences():
    rng = np.random.default_rng(0)
    seqs = [rng.integers(1, 50, size=n) for n in [1, 2, 3, 10, 11, 12, 25, 40, 101]]
    windows, _ = training_windows(seqs, 10)
    lengths = np.array([len(s) for s in seqs])
    assert window_counts(lengths, 10) == windows.shape


def synthetic_split(n_items: int, n_users: int, length: int) -> SplitData:
    rng = np.random.default_rng(0)
    return SplitData(vocab=ItemVocab([f"i{i}" for i in range(n_items)]), users=np.arange(n_users),
                     train=[rng.integers(1, n_items + 1, size=length) for _ in range(n_users)],
                     valid_target=rng.integers(1, n_items + 1, size=n_users),
                     test_target=rng.integers(1, n_items + 1, size=n_users))


@pytest.mark.slow
def test_estimate_is_within_a_factor_two_of_what_training_allocates():
    """Peak RSS growth of one short training in a fresh process (logits-heavy config: ~450 MB) against the
    estimate. bench/memory_estimate.py measures more shapes."""
    import inspect

    code = (
        "import resource, sys, numpy as np, torch\n"
        "torch.set_num_threads(1)\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from seqrec import TrainConfig\n"
        "from seqrec.data.split import ItemVocab, SplitData\n"
        "from seqrec.training.budget import DataShape, estimate_training_memory\n"
        "from seqrec.training.loop import train\n"
        + inspect.getsource(synthetic_split) +
        "split = synthetic_split(20_000, 300, 50)\n"
        # a whole epoch, never cut by a timer: load must not change what is measured
        "cfg = TrainConfig(embedding_dim=32, hidden_size=64, batch_size=256, epochs=1, patience=0)\n"
        "train(synthetic_split(50, 50, 5), cfg.replace(embedding_dim=4, hidden_size=4))  # warm-up\n"
        # the high-water mark is reset here: ru_maxrss would carry the pytest parent's size over the fork and exec
        "open('/proc/self/clear_refs', 'w').write('5')\n"
        "before = int(open('/proc/self/statm').read().split()[1]) * resource.getpagesize()\n"
        "est = estimate_training_memory(DataShape.of(split), cfg).total\n"
        "train(split, cfg)\n"
        "hwm = next(int(x.split()[1]) * 1024 for x in open('/proc/self/status') if x.startswith('VmHWM:'))\n"
        "print(est, hwm - before)\n")
    if not Path("/proc/self/clear_refs").exists():
        pytest.skip("needs Linux's /proc to reset and read the resident high-water mark")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr[-2000:]
    estimate, measured = map(int, out.stdout.split()[-2:])
    assert measured > 100 * MB, "the case must allocate enough to measure"
    assert measured / 2 <= estimate <= measured * 2, (estimate / MB, measured / MB)


def test_over_budget_training_is_refused_with_estimate_budget_and_a_fix_that_fits(monkeypatch):
    split = synthetic_split(200_000, 100, 30)
    cfg = TrainConfig(embedding_dim=128, hidden_size=256, batch_size=64)
    monkeypatch.setenv("SEQREC_MEMORY_BUDGET_MB", "1000")
    with pytest.raises(SeqrecError) as info:
        seqrec.train_run(split, cfg)  # refused before any tensor is allocated
    msg = str(info.value)
    est = estimate_training_memory(DataShape.of(split), cfg).total
    assert f"about {est / 2**20:,.0f} MB" in msg or f"about {est / 2**30:.1f} GB" in msg, msg
    assert "1,000 MB allowed per training" in msg and "SEQREC_MEMORY_BUDGET_MB" in msg
    # the catalogue dominates: smaller layers (halved once; the tied default output scores with the embedding)
    assert "embedding size 64 and hidden size 128" in msg, msg
    fixed = cfg.replace(embedding_dim=64, hidden_size=128)
    assert check_training_memory(split, fixed).total <= 1000 * MB, "the suggested settings really fit"
    assert "\n" not in msg


def test_long_histories_over_budget_blame_the_recurrent_states_and_suggest_a_shorter_history():
    """500 users with 5,000 items each at max_len 2,000: the batch's recurrent states, not the scores of a
    300-item catalogue, take the memory, and the sentence says so and suggests a shorter history."""
    shape = DataShape(300, np.full(500, 5000))
    with pytest.raises(SeqrecError) as err:
        check_training_memory(shape, TrainConfig(max_len=2000, batch_size=1024), budget=512 << 20)
    msg = str(err.value)
    assert "recurrent states" in msg and "use max history length" in msg, msg


def test_a_bad_budget_setting_is_one_sentence(monkeypatch):
    monkeypatch.setenv("SEQREC_MEMORY_BUDGET_MB", "lots")
    with pytest.raises(SeqrecError, match="SEQREC_MEMORY_BUDGET_MB must be a positive number of megabytes"):
        check_training_memory(synthetic_split(10, 10, 5), TINY)


def test_cli_refuses_an_over_budget_training_with_exit_2(capsys, monkeypatch):
    code, out, err = cli(["train", SAMPLE, "--quiet", "--hidden-size", "1024", "--batch-size", "4096"], capsys,
                         {"SEQREC_MEMORY_BUDGET_MB": "64"}, monkeypatch)
    assert_one_error_line(code, err, "memory", "64 MB allowed per training", "use ")
    assert out == ""


@pytest.mark.slow
def test_millions_of_unique_items_are_refused_quickly_without_gigabytes(tmp_path):
    """A 1,000,000-item catalogue (every item seen once): loaded, then refused by the memory check before any
    model is built. The child process reports its own peak memory."""
    n_users = 250_000
    users = np.repeat(np.arange(n_users), 4)
    path = tmp_path / "million_items.csv"
    with open(path, "w") as f:
        f.write("user_id,item_id,timestamp\n")
        f.write("".join(f"u{u},item{i},{1_700_000_000 + i % 4}\n" for i, u in enumerate(users)))
    if not Path("/proc/self/status").exists():
        pytest.skip("needs Linux's /proc to read the resident high-water mark")
    code = ("import sys\n"
            f"sys.path.insert(0, {str(ROOT)!r})\n"
            "from seqrec.cli import main\n"
            f"rc = main(['train', {str(path)!r}, '--quiet'])\n"
            # VmHWM, not ru_maxrss: the latter carries the pytest parent's size over the fork and exec
            "hwm = next(int(x.split()[1]) for x in open('/proc/self/status') if x.startswith('VmHWM:'))\n"
            "print('peak_mb', hwm // 1024, file=sys.stderr)\n"
            "sys.exit(rc)\n")
    # the default tied model would need ~1.7 GB here (an untied one ~4.1 GB): a 1.5 GB budget refuses it
    env = {**os.environ, "SEQREC_MEMORY_BUDGET_MB": "1536"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    err = out.stderr.splitlines()
    assert out.returncode == 2 and err[0].startswith("error: This training would need about"), out.stderr[-2000:]
    assert "1,000,000-item catalogue" in err[0] and "1.5 GB allowed per training" in err[0]
    peak_mb = int(err[-1].split()[-1])
    assert peak_mb < 1500, f"refusing used {peak_mb} MB"
