"""Reliability: run files that could hurt (pickles, truncation, other format versions, mismatched shapes) and
atomic saves that survive a crash."""
from __future__ import annotations

import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import seqrec
from seqrec import SeqrecError, load_run, save_run
from seqrec.model.recurrent import SeqRecModel
from seqrec.runs import files as run_files
from tests.helpers import ROOT, SAMPLE, TINY, assert_one_error_line, cli

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
    assert meta["format_version"] == run_files.FORMAT_VERSION
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

    monkeypatch.setattr(run_files, "_write_weights", broken_writer)
    with pytest.raises(SeqrecError, match="Could not save the run .*No space left on device"):
        save_run(newer, target)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before, "the previous run was touched"
    assert [p.name for p in tmp_path.iterdir()] == ["run"], "a temporary folder was left behind"

    monkeypatch.setattr(run_files, "_write_weights", lambda run, path: 1 / 0)  # any error, not only disk ones
    with pytest.raises(ZeroDivisionError):
        save_run(newer, target)
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["run"]
    newer.name = "tiny"


def test_a_save_killed_with_sigkill_leaves_the_previous_run_intact(saved, tmp_path):
    target = copy_run(saved, tmp_path)
    before = load_run(target).metrics
    code = (f"import sys, time\nsys.path.insert(0, {str(ROOT)!r})\n"
            "from seqrec.runs import files as r\n"
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
