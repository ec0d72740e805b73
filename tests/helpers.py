"""What several test files share: the sample file, a tiny fast config, a run trained on the bundled sample, the CLI
run in-process, and the check that a refusal is one sentence on stderr with exit 2 (never a traceback). The test
process's environment (torch's threads, OpenMP, the executor) is set in tests/conftest.py, before this is imported."""
from __future__ import annotations

from pathlib import Path

from seqrec import TrainConfig, train_run
from seqrec.cli import main as cli_main
from seqrec.service.dataset import sample_dataset

ROOT = Path(__file__).resolve().parents[1]
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


def train_on_sample(config: TrainConfig, name: str = "tiny"):
    """A run trained on the bundled sample (the data the app opens with, same fingerprint), with its baselines."""
    ds = sample_dataset()
    return train_run(ds.split, config, name=name, baselines=ds.baseline_metrics(config.ks, False),
                     dataset=ds.run_info())
