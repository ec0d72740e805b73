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
from seqrec import SeqrecError, TrainConfig, jobs, load_run, save_run  # noqa: E402
from seqrec import run as run_module  # noqa: E402
from seqrec.cli import main as cli_main  # noqa: E402
from seqrec.config import LIMITS  # noqa: E402
from seqrec.memory import DataShape, check_training_memory, estimate_training_memory, parameter_count, \
    window_counts  # noqa: E402
from seqrec.model import SeqRecModel  # noqa: E402
from seqrec.split import ItemVocab, SplitData  # noqa: E402
from seqrec.train import training_windows  # noqa: E402

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parent.parent
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


# ------------------------------------------------------------------------------------------------------------------
# Memory estimate and budget
# ------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("model, layers", [("rnn", 1), ("gru", 2), ("lstm", 3)])
def test_parameter_count_matches_the_real_model(model, layers):
    cfg = TrainConfig(model=model, layers=layers, embedding_dim=12, hidden_size=20)
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


def test_estimate_is_within_a_factor_two_of_what_training_allocates():
    """Peak RSS growth of one short training in a fresh process (logits-heavy config: ~450 MB) against the
    estimate. bench/memory_estimate.py measures more shapes."""
    import inspect

    code = (
        "import resource, sys, numpy as np, torch\n"
        "torch.set_num_threads(1)\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from seqrec import TrainConfig\n"
        "from seqrec.split import ItemVocab, SplitData\n"
        "from seqrec.memory import DataShape, estimate_training_memory\n"
        "from seqrec.train import train\n"
        + inspect.getsource(synthetic_split) +
        "split = synthetic_split(20_000, 300, 50)\n"
        "cfg = TrainConfig(embedding_dim=32, hidden_size=64, batch_size=256, epochs=1, patience=0)\n"  # a whole epoch, never cut by a timer: load must not change what is measured
        "train(synthetic_split(50, 50, 5), cfg.replace(embedding_dim=4, hidden_size=4))  # warm-up\n"
        "before = int(open('/proc/self/statm').read().split()[1]) * resource.getpagesize()\n"
        "est = estimate_training_memory(DataShape.of(split), cfg).total\n"
        "train(split, cfg)\n"
        "print(est, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - before)\n")
    if not Path("/proc/self/statm").exists():
        pytest.skip("needs /proc to read the resident size")
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
    assert "embedding size 32 and hidden size 64" in msg, msg  # the catalogue dominates: smaller layers
    fixed = cfg.replace(embedding_dim=32, hidden_size=64)
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


def test_millions_of_unique_items_are_refused_quickly_without_gigabytes(tmp_path):
    """A 1,000,000-item catalogue (every item seen once): loaded, then refused by the memory check before any
    model is built. The child process reports its own peak memory."""
    n_users = 250_000
    users = np.repeat(np.arange(n_users), 4)
    path = tmp_path / "million_items.csv"
    with open(path, "w") as f:
        f.write("user_id,item_id,timestamp\n")
        f.write("".join(f"u{u},item{i},{1_700_000_000 + i % 4}\n" for i, u in enumerate(users)))
    code = ("import resource, sys\n"
            f"sys.path.insert(0, {str(ROOT)!r})\n"
            "from seqrec.cli import main\n"
            f"rc = main(['train', {str(path)!r}, '--quiet'])\n"
            "print('peak_mb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, file=sys.stderr)\n"
            "sys.exit(rc)\n")
    env = {**os.environ, "SEQREC_MEMORY_BUDGET_MB": "2048"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    err = out.stderr.splitlines()
    assert out.returncode == 2 and err[0].startswith("error: This training would need about"), out.stderr[-2000:]
    assert "1,000,000-item catalogue" in err[0] and "2.0 GB allowed per training" in err[0]
    peak_mb = int(err[-1].split()[-1])
    assert peak_mb < 1500, f"refusing used {peak_mb} MB"


# ------------------------------------------------------------------------------------------------------------------
# Run files that could hurt
# ------------------------------------------------------------------------------------------------------------------

class MarkerPickle:
    """Unpickling this creates a file: the proof that a loader executed code."""

    def __init__(self, marker: Path):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A small trained run saved to a folder (copied by each test that tampers with it)."""
    data = seqrec.load_interactions(SAMPLE)
    run = seqrec.train_run(data, TINY, name="tiny")
    return save_run(run, tmp_path_factory.mktemp("runs") / "tiny"), run


def copy_run(saved, tmp_path) -> Path:
    folder = tmp_path / "run"
    shutil.copytree(saved[0], folder)
    return folder


def test_the_crafted_pickle_really_runs_code_when_unpickled(tmp_path):
    marker = tmp_path / "proof"
    pickle.loads(pickle.dumps(MarkerPickle(marker)))
    assert marker.exists(), "the hostile file below is a real threat"


@pytest.mark.parametrize("writer", ["pickle", "torch.save"])
def test_a_pickle_as_weights_is_refused_unopened(saved, tmp_path, capsys, writer):
    folder = copy_run(saved, tmp_path)
    marker = tmp_path / "pwned"
    weights = folder / "weights.safetensors"
    if writer == "pickle":
        weights.write_bytes(pickle.dumps({"embedding.weight": MarkerPickle(marker)}, protocol=4))
    else:
        torch.save({"embedding.weight": MarkerPickle(marker)}, weights)
    with pytest.raises(SeqrecError) as info:
        load_run(folder)
    assert "pickle" in str(info.value) and "can run any code" in str(info.value)
    code, _, err = cli(["recommend", folder, "--history", "P0001"], capsys)
    assert_one_error_line(code, err, "weights.safetensors", "pickle")
    assert not marker.exists(), "loading executed code from the file"


@pytest.mark.parametrize("writer", ["pickle", "torch.save"])
def test_a_pickle_passed_as_the_run_path_is_refused_unopened(tmp_path, capsys, writer):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.pt"
    if writer == "pickle":
        path.write_bytes(pickle.dumps(MarkerPickle(marker), protocol=4))
    else:
        torch.save(MarkerPickle(marker), path)  # a zip: the CLI may also try it as a run bundle, and refuse it
    for command in (["recommend", path, "--history", "P0001"], ["gates", path, "--history", "P0001"],
                    ["evaluate", path, SAMPLE]):
        code, _, err = cli(command, capsys)
        assert_one_error_line(code, err, str(path))
        if writer == "pickle":
            assert "is a file, not a saved run folder" in err and "pickle" in err, err
    with pytest.raises(SeqrecError, match="pickle"):
        load_run(path)
    assert not marker.exists()


def _truncate(name):
    def edit(folder):
        p = folder / name
        p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    return edit


def _set_meta(**changes):
    def edit(folder):
        meta = json.loads((folder / "run.json").read_text())
        meta.update(changes)
        (folder / "run.json").write_text(json.dumps(meta))
    return edit


def _other_runs_weights(folder):
    """Weights of a model with another hidden size, under the right file name."""
    other = SeqRecModel(300, TINY.replace(hidden_size=16))
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in other.state_dict().items()}, str(folder / "weights.safetensors"))


FILE_CASES = {
    "truncated weights": (_truncate("weights.safetensors"), ["weights.safetensors", "damaged"]),
    "truncated run.json": (_truncate("run.json"), ["run.json", "not valid JSON"]),
    "truncated config.json": (_truncate("config.json"), ["config.json", "not valid JSON"]),
    "truncated vocab.json": (_truncate("vocab.json"), ["vocab.json", "not valid JSON"]),
    "newer format": (_set_meta(format_version=2), ["newer seqrec", "format version 2", "upgrade"]),
    "older format": (_set_meta(format_version=0), ["unknown run format", "train the run again"]),
    "format not a number": (_set_meta(format_version="one"), ["unknown run format"]),
    "not a seqrec run": (_set_meta(format="something-else"), ["not a seqrec run"]),
    "mismatched shapes": (_other_runs_weights, ["do not match its config and vocabulary"]),
}


@pytest.mark.parametrize("case", list(FILE_CASES))
def test_damaged_or_foreign_run_files_get_one_sentence(saved, tmp_path, capsys, case):
    folder = copy_run(saved, tmp_path)
    edit, words = FILE_CASES[case]
    edit(folder)
    with pytest.raises(SeqrecError) as info:
        load_run(folder)
    for w in words:
        assert w in str(info.value), (case, str(info.value))
    code, _, err = cli(["recommend", folder, "--history", "P0001"], capsys)
    assert_one_error_line(code, err, *words)


def test_runs_saved_before_format_version_existed_still_load(saved, tmp_path):
    folder = copy_run(saved, tmp_path)
    meta = json.loads((folder / "run.json").read_text())
    assert meta["format_version"] == run_module.FORMAT_VERSION
    del meta["format_version"]
    (folder / "run.json").write_text(json.dumps(meta))
    assert load_run(folder).metrics == saved[1].metrics


def test_a_file_given_as_run_folder_is_named_as_such(tmp_path, capsys):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    code, _, err = cli(["recommend", path, "--history", "P0001"], capsys)
    assert_one_error_line(code, err, "is a file, not a saved run folder")


# ------------------------------------------------------------------------------------------------------------------
# Atomic saves
# ------------------------------------------------------------------------------------------------------------------

def visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


def test_a_save_that_fails_midway_keeps_the_previous_run(saved, tmp_path, monkeypatch):
    target = copy_run(saved, tmp_path)
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    newer = saved[1]
    newer.name = "newer"

    def broken_writer(run, path):
        path.write_bytes(b"half a weights file")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(run_module, "_write_weights", broken_writer)
    with pytest.raises(SeqrecError, match="Could not save the run .*No space left on device"):
        save_run(newer, target)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before, "the previous run was touched"
    assert [p.name for p in tmp_path.iterdir()] == ["run"], "a temporary folder was left behind"

    monkeypatch.setattr(run_module, "_write_weights", lambda run, path: 1 / 0)  # any error, not only disk ones
    with pytest.raises(ZeroDivisionError):
        save_run(newer, target)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    newer.name = "tiny"


def test_a_save_killed_with_sigkill_leaves_the_previous_run_intact(saved, tmp_path):
    target = copy_run(saved, tmp_path)
    before = load_run(target).metrics
    code = (f"import sys, time\nsys.path.insert(0, {str(ROOT)!r})\n"
            "from seqrec import run as r\n"
            f"run = r.load_run({str(target)!r})\n"
            "run.name = 'half-written'\n"
            "def slow_writer(run, path):\n"
            "    path.write_bytes(b'partial')\n"
            "    print('MIDWAY', flush=True)\n"
            "    time.sleep(60)\n"
            "r._write_weights = slow_writer\n"
            f"r.save_run(run, {str(target)!r})\n")
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "MIDWAY"
        child.send_signal(signal.SIGKILL)
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    assert visible(tmp_path) == ["run"], "only the run is listed"
    reloaded = load_run(target)
    assert reloaded.name == "tiny" and reloaded.metrics == before
    save_run(reloaded, target)  # the next save cleans the dead save's hidden leftovers
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_a_save_killed_between_its_two_renames_is_recovered_on_load(saved, tmp_path):
    target = copy_run(saved, tmp_path)
    aside = tmp_path / ".run.replaced-999999999-dead"  # what a save killed after moving the old run aside leaves
    os.rename(target, aside)
    assert load_run(target).name == "tiny"
    assert visible(tmp_path) == ["run"] and not aside.exists()


def test_save_replaces_a_previous_run_but_never_another_folder(saved, tmp_path):
    target = copy_run(saved, tmp_path)
    run = load_run(target)
    run.name = "second"
    save_run(run, target)
    assert load_run(target).name == "second"
    precious = tmp_path / "documents"
    precious.mkdir()
    (precious / "thesis.txt").write_text("years of work")
    with pytest.raises(SeqrecError, match="already exists and is not a saved run"):
        save_run(run, precious)
    assert visible(precious) == ["thesis.txt"]


# ------------------------------------------------------------------------------------------------------------------
# The training queue
# ------------------------------------------------------------------------------------------------------------------

def test_pool_size_follows_the_cores_and_the_setting(monkeypatch):
    assert [jobs.default_workers(c) for c in (1, 2, 3, 8, 64)] == [1, 2, 3, 4, 4]
    monkeypatch.setenv("SEQREC_WORKERS", "3")
    assert jobs.worker_count() == 3
    monkeypatch.setenv("SEQREC_WORKERS", "many")
    assert jobs.worker_count() == jobs.default_workers()
    assert jobs.threads_per_worker(1) == (os.cpu_count() or 1)


def test_pool_workers_use_their_share_of_the_cores_whatever_the_main_thread_set():
    torch.set_num_threads(1)
    seen = jobs.get_pool().submit(torch.get_num_threads).result(30)
    assert seen == jobs.threads_per_worker(jobs.get_pool()._max_workers)


class Gate:
    """Stands in for train_run: blocks until opened, so tests control when slots free up."""

    def __init__(self):
        self.open = threading.Event()
        self.started = []

    def __call__(self, split, config, callbacks=(), stop_event=None, name=None, **kw):
        self.started.append(name)
        while not self.open.wait(0.01):
            if stop_event is not None and stop_event.is_set():
                break
        raise SeqrecError(f"{name} ended")


@pytest.fixture()
def one_slot(monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    gate = Gate()
    monkeypatch.setattr(jobs, "train_run", gate)
    pool = ThreadPoolExecutor(max_workers=1)
    yield gate, pool
    gate.open.set()
    pool.shutdown(wait=True)


def queue(pool, name, owner=None):
    split = synthetic_split(20, 10, 5)
    return jobs.submit(jobs.TrainingJob(split, TINY, name=name, baselines={}, owner=owner), pool)


def wait_for(condition, timeout=10.0):
    import time
    end = time.time() + timeout
    while not condition():
        assert time.time() < end, "timed out"
        time.sleep(0.01)


def test_waiting_jobs_know_how_many_are_ahead(one_slot):
    gate, pool = one_slot
    a, b, c, d = (queue(pool, n) for n in "abcd")
    wait_for(lambda: gate.started == ["a"])
    assert [jobs.queue_position(j) for j in (a, b, c, d)] == [None, 0, 1, 2]
    assert jobs.queue_message(d) == "2 trainings ahead of yours; 1 of 1 training slot busy."
    assert jobs.queue_message(b) == "Yours is next; 1 of 1 training slot busy."
    c.stop()  # withdrawn at once: it never takes a slot, and the ones behind it move up
    assert c.status == jobs.STOPPED and jobs.queue_position(d) == 1
    gate.open.set()
    assert all(j.wait(10) for j in (a, b, d))
    assert gate.started == ["a", "b", "d"]
    assert not [j for j in jobs.active_jobs() if j in (a, b, c, d)], "finished jobs are forgotten"


def test_jobs_of_closed_sessions_are_stopped_and_free_their_slot(one_slot):
    gate, pool = one_slot
    running = queue(pool, "gone-running", owner="s1")
    wait_for(lambda: gate.started == ["gone-running"])
    waiting = queue(pool, "gone-waiting", owner="s1")
    mine = queue(pool, "alive", owner="s2")
    script = queue(pool, "no-owner")
    reaped = jobs.reap_orphans(lambda owner: owner != "s1")
    assert set(reaped) == {running, waiting}
    assert waiting.status == jobs.STOPPED and "session" in waiting.snapshot().error
    assert running.wait(10), "the running job of a closed session ends after its current batch"
    wait_for(lambda: "alive" in gate.started)
    assert jobs.queue_position(script) == 0 and not mine.stop_requested and not script.stop_requested
    gate.open.set()
    assert mine.wait(10) and script.wait(10)
    assert gate.started == ["gone-running", "alive", "no-owner"]


def test_a_queued_job_whose_session_closed_is_skipped_when_its_turn_comes(one_slot, monkeypatch):
    gate, pool = one_slot
    first = queue(pool, "first")
    wait_for(lambda: gate.started == ["first"])
    orphan = queue(pool, "orphan", owner="closed")
    monkeypatch.setattr(jobs, "_SESSION_CHECK", lambda owner: owner != "closed")
    gate.open.set()
    assert first.wait(10) and orphan.wait(10)
    assert gate.started == ["first"] and orphan.status == jobs.STOPPED


# ------------------------------------------------------------------------------------------------------------------
# The app: memory refusal on the Train page, upload limit, session isolation
# ------------------------------------------------------------------------------------------------------------------

def new_app():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    return at


def open_page(at, page):
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def test_train_page_refuses_an_over_budget_config_and_keeps_everything(monkeypatch):
    at = open_page(new_app(), "views/train.py")
    at.number_input(key="tf_hidden_size").set_value(1024)
    at.number_input(key="tf_batch_size").set_value(1024)
    monkeypatch.setenv("SEQREC_MEMORY_BUDGET_MB", "50")
    at.button(key="train_start").click().run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert any("would need about" in e and "50 MB allowed per training" in e for e in errors), errors
    assert at.session_state["job"] is None and at.session_state["runs"] == []
    assert at.session_state["dataset"].stats["users"] == 3000
    assert at.number_input(key="tf_hidden_size").value == 1024, "the settings are kept for a retry"


def test_a_config_whose_dataset_entry_is_not_an_object_still_trains():
    """The data note is read only from a {"fingerprint": ...} object; a hand-edited file with anything else there
    is still a valid config: it is shown and can be trained, not refused as an unexpected failure."""
    at = open_page(new_app(), "views/train.py")
    doc = {"format": "seqrec-config", "config": {"loss": "sampled", "negatives": 5000, "epochs": 1}, "dataset": "x"}
    at.file_uploader(key="train_config_file").set_value(("c.json", json.dumps(doc).encode(), "application/json"))
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.button(key="train_from_config") is not None
    other = {**doc, "dataset": {"fingerprint": "some other data"}}
    at.file_uploader(key="train_config_file").set_value(("c.json", json.dumps(other).encode(), "application/json"))
    at.run()
    assert any("trained on other data" in i.value for i in at.info)


def test_data_page_states_the_upload_limit():
    at = open_page(new_app(), "views/data.py")
    at.radio(key="data_source").set_value("Upload CSV files").run()
    import tomllib

    limit = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]["maxUploadSize"]
    assert limit == 200
    assert any(f"Up to {limit:,} MB per file" in c.value for c in at.caption)


def test_one_session_never_sees_or_changes_anothers_data_runs_or_selections():
    import pandas as pd

    df = pd.read_csv(SAMPLE, dtype=str)
    df = df[df["user_id"].isin(df["user_id"].drop_duplicates().head(300))]
    a, b = new_app(), new_app()
    open_page(a, "views/data.py")
    a.radio(key="data_source").set_value("Upload CSV files").run()
    a.file_uploader(key="upload_interactions").set_value(("mine.csv", df.to_csv(index=False).encode(), "text/csv"))
    a.run()
    a.button(key="load_data").click().run()
    assert a.session_state["dataset"].stats["users"] == 300
    open_page(a, "views/train.py")
    a.number_input(key="tf_epochs").set_value(1)
    a.text_input(key="tf_name").set_value("alice's run")
    a.button(key="train_start").click().run()
    assert a.session_state["job"].wait(120)
    a.run()
    assert [r.name for r in a.session_state["runs"]] == ["alice's run"]

    b.run()
    assert b.session_state["dataset"].stats["users"] == 3000, "b still has its own (sample) data"
    assert b.session_state["runs"] == [] and b.session_state["job"] is None
    assert "_raw_table" not in b.session_state, "a's upload is kept in a's session only"
    open_page(b, "views/train.py")
    assert b.number_input(key="tf_epochs").value != 1 and b.text_input(key="tf_name").value == ""
    b.number_input(key="tf_epochs").set_value(3).run()
    open_page(b, "views/data.py")
    a.run()
    assert a.number_input(key="tf_epochs").value == 1 and a.session_state["dataset"].stats["users"] == 300
    assert [r.name for r in a.session_state["runs"]] == ["alice's run"]
