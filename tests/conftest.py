"""Shared test setup, in one place: the test process's environment (torch's threads, OpenMP, the executor, a
throwaway run library), the repo on sys.path, the tiers (markers), and trained runs on the sample data that several
test files reuse (training is the slow part, so each configuration trains once per session).

Tiers: the README's test command runs the fast tier, every test without a tier marker. `slow`, `process`, `ray`,
`browser` and `load` (pyproject.toml describes each) opt in; .ci/run runs them after the fast tier."""
import atexit
import os
import shutil
import sys
import tempfile
from pathlib import Path

# Before torch loads: idle OpenMP threads must not spin on a shared 2-core machine.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# Trainings the app and the CLI start run in the calling thread, not in spawned worker processes (each start costs
# a torch import): a test about the worker processes asks for them with the `worker_processes` fixture. Set before
# anything reads it; tests that start a real server (tests/e2e/browsers.py) give it the product's default instead.
os.environ["SEQREC_EXECUTOR"] = "thread"
# The app saves every finished run to the run library: tests (and the app servers they start) use a throwaway one,
# never the repo's .seqrec/. Tests that look inside the library point SEQREC_HOME at their own tmp_path.
os.environ["SEQREC_HOME"] = tempfile.mkdtemp(prefix="seqrec-test-home-")
atexit.register(shutil.rmtree, os.environ["SEQREC_HOME"], True)

import pytest  # noqa: E402
import torch  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

# The one place that sets torch's threads for the tests: the CI machine's 2 cores. Exact figures in the tests were
# measured at this count (a float sum's order, hence the last digit of a score, depends on it).
TORCH_THREADS = 2
torch.set_num_threads(TORCH_THREADS)

from seqrec import TrainConfig, leave_last_out, load_interactions, train_run  # noqa: E402
from tests.helpers import train_on_sample  # noqa: E402

SAMPLE_CSV = REPO_ROOT / "sample_data" / "interactions.csv"
SAMPLE_ITEMS_CSV = REPO_ROOT / "sample_data" / "items.csv"

# Small and fast, yet enough to learn the sample's planted long-range pattern (GRU ~0.73 vs baselines ~0.22) in 8
# epochs. Its output layer is untied (the default ties it to the item embedding, which on this sample needs more
# epochs to get there, and is trained with the defaults in tests/unit/training/test_training.py). No hybrid: the
# tables and pages these runs feed are checked row by row; tests/unit/model/test_hybrid.py checks the hybrid row.
FAST_CONFIG = TrainConfig(embedding_dim=32, hidden_size=64, layers=1, dropout=0.1, lr=0.005, batch_size=128,
                          epochs=8, patience=0, seed=42, tie_weights=False, hybrid=False)
# One epoch of a tiny GRU on the sample: a run for the pages to list, load and show, not a good one.
TINY_SAMPLE_CONFIG = TrainConfig(embedding_dim=16, hidden_size=16, dropout=0.0, batch_size=256, epochs=1, patience=0,
                                 seed=3)

# On the CI machine everything a tier needs is installed (chromium, Ray, Linux's /proc): a skip there would let a
# tier pass without testing anything, so .ci/run sets this and a skip fails instead.
NO_SKIPS_ENV = "SEQREC_NO_SKIPS"


# The fixtures that train the session's shared runs on the whole sample (about 10 s a cell on 2 cores).
SHARED_TRAINING_FIXTURES = {"trained_runs", "gru_run"}


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the groups
def pytest_collection_modifyitems(config, items):
    """With pytest-xdist (the README's `-n 2 --dist loadgroup`), keep each test file in one worker process, so its
    module fixtures are built once; and the files that use the session's trained runs all in one worker, so those
    runs are trained once, not once per worker."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    shared = {item.path for item in items if SHARED_TRAINING_FIXTURES & set(item.fixturenames)}
    for item in items:
        group = "shared-trained-runs" if item.path in shared else str(item.path.relative_to(REPO_ROOT))
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.skipped and os.environ.get(NO_SKIPS_ENV) == "1" and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"Skipped, but {NO_SKIPS_ENV}=1 says every tier's requirements are installed: {reason}"
    return report


@pytest.fixture(autouse=True)
def _torch_threads_of_the_tests() -> None:
    """Every test starts at TORCH_THREADS: code under test may change this thread's count (the CLI run in-process
    shares the cores out, a test of the pool sets 1), and a test's exact figures must not depend on which tests ran
    before it."""
    if torch.get_num_threads() != TORCH_THREADS:
        torch.set_num_threads(TORCH_THREADS)


@pytest.fixture
def worker_processes(monkeypatch) -> None:
    """Trainings through the product's default executor (spawned worker processes) instead of the tests' in-thread
    one; a test using it belongs in the `process` tier."""
    monkeypatch.setenv("SEQREC_EXECUTOR", "process")


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def sample_csv() -> Path:
    return SAMPLE_CSV


@pytest.fixture(scope="session")
def sample_items_csv() -> Path:
    return SAMPLE_ITEMS_CSV


@pytest.fixture(scope="session")
def small_dataset(sample_csv, sample_items_csv):
    """The first 150 shoppers of the sample, with item names: page tests train tiny runs on it in about a second."""
    import io

    import pandas as pd

    from seqrec import load_item_metadata
    from seqrec.service.dataset import build_dataset

    df = pd.read_csv(sample_csv, dtype=str)
    small = df[df.user_id.isin(df.user_id.unique()[:150])]
    data = load_interactions(io.BytesIO(small.to_csv(index=False).encode()), names=["small.csv"])
    return build_dataset(data, load_item_metadata(sample_items_csv), name="small sample", fingerprint="small")


@pytest.fixture(scope="session")
def sample_data():
    return load_interactions(SAMPLE_CSV)


@pytest.fixture(scope="session")
def sample_split(sample_data):
    return leave_last_out(sample_data)


@pytest.fixture(scope="session")
def fast_config() -> TrainConfig:
    return FAST_CONFIG


@pytest.fixture(scope="session")
def sample_baselines(sample_split):
    """Baseline test metrics, computed once and handed to every train_run below."""
    from seqrec.evaluation.protocol import evaluate_baselines

    return evaluate_baselines(sample_split, FAST_CONFIG.ks, FAST_CONFIG.exclude_seen)


@pytest.fixture(scope="session")
def trained_runs(sample_split, sample_baselines):
    """Model name -> Run trained lazily with FAST_CONFIG on the sample (each cell trains at most once)."""

    class Runs(dict):
        def __missing__(self, model):
            self[model] = train_run(sample_split, FAST_CONFIG.replace(model=model), baselines=sample_baselines)
            return self[model]

    return Runs()


@pytest.fixture(scope="session")
def gru_run(trained_runs):
    return trained_runs["gru"]


@pytest.fixture(scope="session")
def sample_run():
    """A tiny run on the bundled sample, i.e. on the data the app starts with (same fingerprint), with its baselines.
    Shared by every test of the session: a test that changes it works on a copy (dataclasses.replace)."""
    return train_on_sample(TINY_SAMPLE_CONFIG)


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """An empty run library of this test's own (SEQREC_HOME), never the repo's .seqrec/ or another test's."""
    path = tmp_path / "home"
    monkeypatch.setenv("SEQREC_HOME", str(path))
    return path
