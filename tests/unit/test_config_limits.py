"""Reliability: sane hyperparameter bounds, the memory budget (library, CLI, app), run files that could hurt
(pickles, truncation, other format versions, mismatched shapes), atomic saves that survive a crash, and the
training queue shared by many sessions (queue position, closed sessions, isolation)."""
from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import seqrec  # noqa: E402
from seqrec import SeqrecError, TrainConfig, load_run, save_run  # noqa: E402
from seqrec.training import jobs
from seqrec.runs import run as run_module  # noqa: E402
from seqrec.cli import main as cli_main  # noqa: E402
from seqrec.config import LIMITS  # noqa: E402
from seqrec.training.budget import DataShape, check_training_memory, estimate_training_memory, parameter_count, \
    window_counts  # noqa: E402
from seqrec.model.recurrent import SeqRecModel  # noqa: E402
from seqrec.data.split import ItemVocab, SplitData  # noqa: E402
from seqrec.training.loop import training_windows  # noqa: E402

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample_data" / "interactions.csv"
TINY = TrainConfig(embedding_dim=8, hidden_size=8, epochs=1, batch_size=256, patience=0, seed=3)
MB = 1 << 20


def cli(args, capsys, env=None, monkeypatch=None) -> tuple[int, str, str]:
    """Run the CLI in-process (same code path as `python -m seqrec`): exit code, stdout, stderr."""
    for k, v in (env or {}).items():
        monkeypatch.setenv(k, v)
    code = cli_main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_error_line(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    for w in words:
        assert w in err, (w, err)


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
