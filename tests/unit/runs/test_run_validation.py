"""Every field of every run file is checked on import and on load (types, ranges, finiteness), a
deeply nested JSON is one sentence, weights too large to be real or to unpack are refused, and runs loaded from the
library share one copy of their weights per process."""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import os
import sqlite3
import zipfile
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest
from safetensors.torch import load_file, save_file

from seqrec import SeqrecError, TrainConfig, save_run
from seqrec.cli import main as cli_main
from seqrec.runs import bundle
from seqrec.runs import files as run_files
from seqrec.runs.store import RunStore
from tests.helpers import train_on_sample

TINY = TrainConfig(embedding_dim=8, hidden_size=8, epochs=2, batch_size=256, patience=0, seed=3)
DEEP = b"[" * 200_000 + b"]" * 200_000


pytestmark = pytest.mark.usefixtures("home")  # every test gets its own empty run library (conftest)


@pytest.fixture(scope="module")
def tiny_run():
    return train_on_sample(TINY)


@pytest.fixture(scope="module")
def members(tiny_run) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(bundle.bundle_bytes(tiny_run))) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def forge(files: dict[str, bytes], **changes: bytes) -> bytes:
    """A bundle with some members replaced and the manifest's checksums recomputed (a deliberate forgery)."""
    files = {**files, **changes}
    m = json.loads(files["manifest.json"])
    m["files"] = {n: hashlib.sha256(b).hexdigest() for n, b in files.items() if n != "manifest.json"}
    files["manifest.json"] = json.dumps(m).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for n, b in files.items():
            zf.writestr(n, b)
    return buf.getvalue()


def edited(members, name: str, edit) -> bytes:
    doc = json.loads(members[name])
    edit(doc)
    return json.dumps(doc).encode()


def _set(path: tuple, value):
    def edit(doc):
        d = doc
        for p in path[:-1]:
            d = d[p]
        d[path[-1]] = value
    return edit


BAD_FIELDS = {  # member, edit, words the sentence must contain
    "metrics as a list": ("metrics.json", _set(("metrics",), []), ["metrics.json", "test metric"]),
    "recall as text": ("metrics.json", _set(("metrics", "recall@20"), "0.9"), ["metrics.json", "recall@20"]),
    "recall as garbage": ("metrics.json", _set(("metrics", "recall@20"), "abc"), ["metrics.json", "recall@20"]),
    "recall above 1": ("metrics.json", _set(("metrics", "recall@20"), 7.5), ["metrics.json", "between 0 and 1"]),
    "baseline metric text": ("metrics.json", _set(("baselines", "most_popular", "mrr@10"), "x"), ["most_popular"]),
    "dataset users text": ("metrics.json", _set(("dataset", "users"), "many"), ["dataset", "users"]),
    "negative seconds": ("metrics.json", _set(("train_seconds",), -3), ["train_seconds"]),
    "epochs_run float": ("metrics.json", _set(("epochs_run",), 2.5), ["epochs_run"]),
    "stopped flag text": ("metrics.json", _set(("stopped_by_user",), "no"), ["stopped_by_user"]),
    "unknown executor": ("metrics.json", _set(("executor",), "mars"), ["executor must be local or ray", "'mars'"]),
    "threads as text": ("metrics.json", _set(("threads",), "two"), ["threads must be a whole number"]),
    "negative threads": ("metrics.json", _set(("threads",), -1), ["threads must be a whole number"]),
    "epochs as numbers": ("curves.json", _set(("epochs",), [1, 2, 3]), ["curves.json", "epoch entry 1"]),
    "epoch metric text": ("curves.json", lambda d: d["epochs"][0].update({"recall@20": "abc"}), ["curves.json"]),
    "losses with text": ("curves.json", _set(("batch_losses",), [1.0, "nan"]), ["curves.json", "batch_losses"]),
}


@pytest.mark.parametrize("case", BAD_FIELDS)
def test_a_forged_run_file_field_is_refused_on_import_with_one_sentence(members, case):
    name, edit, words = BAD_FIELDS[case]
    with pytest.raises(SeqrecError) as e:
        bundle.read_bundle(forge(members, **{name: edited(members, name, edit)}), name="forged.zip")
    msg = str(e.value)
    assert msg.count("\n") == 0 and msg.startswith("forged.zip"), msg
    for w in words:
        assert w in msg, (w, msg)


def test_where_a_run_trained_and_its_threads_survive_save_bundle_and_old_files(tiny_run, tmp_path):
    """The saved run and its bundle say where the training ran and with how many CPU threads; a run saved
    before they were recorded still loads (trained locally; 0 threads = not recorded)."""
    assert tiny_run.threads == 2 and tiny_run.executor == "local"  # trained here, at the tests' 2 threads (conftest)
    ray_run = bundle.read_bundle(bundle.bundle_bytes(dataclasses.replace(tiny_run, executor="ray", threads=4)),
                                 name="ray.zip")
    assert (ray_run.executor, ray_run.threads) == ("ray", 4)
    folder = save_run(tiny_run, tmp_path / "run")
    meta = json.loads((folder / "run.json").read_text())
    assert (meta["executor"], meta["threads"]) == ("local", 2)
    back = run_files.load_run(folder)
    assert (back.executor, back.threads) == ("local", 2)
    for key in ("executor", "threads"):
        del meta[key]
    (folder / "run.json").write_text(json.dumps(meta))
    old = run_files.load_run(folder)
    assert (old.executor, old.threads) == ("local", 0) and old.metrics == tiny_run.metrics


@pytest.mark.parametrize("case", ["recall as garbage", "epochs as numbers", "metrics as a list", "unknown executor"])
def test_a_run_folder_edited_after_saving_is_refused_on_load(tiny_run, tmp_path, case):
    folder = save_run(tiny_run, tmp_path / "run")
    meta = json.loads((folder / "run.json").read_text())
    _, edit, _ = BAD_FIELDS[case]
    if case == "epochs as numbers":
        meta["epochs"] = [1, 2, 3]
    else:
        edit(meta)
    (folder / "run.json").write_text(json.dumps(meta))
    with pytest.raises(SeqrecError, match="run.json was edited or damaged"):
        run_files.load_run(folder)


def test_a_library_row_with_garbage_metrics_lists_and_the_cli_does_not_traceback(tiny_run, home, capsys):
    store = RunStore()
    rec = store.save(tiny_run, "cli", name="damaged")
    with sqlite3.connect(store.db_path) as con:  # a row edited by hand (or written by an old version)
        con.execute("UPDATE runs SET metrics = ?, baselines = ? WHERE id = ?",
                    (json.dumps({"recall@20": "abc"}), json.dumps({"most_popular": {"recall@20": "x"}}), rec.id))
    assert store.get(rec.id).headline() is None
    assert cli_main(["runs"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in out["runs"]] == ["damaged"]
    assert cli_main(["runs", "--delete", rec.id]) == 0  # still deletable
    capsys.readouterr()


def test_deeply_nested_json_is_one_sentence_in_a_bundle_and_in_a_config(members, tmp_path, capsys):
    with pytest.raises(SeqrecError, match="nested too deeply"):
        bundle.read_bundle(forge(members, **{"metrics.json": DEEP}), name="deep.zip")
    with pytest.raises(SeqrecError, match="nested too deeply"):
        bundle.read_bundle(forge(members, **{"config.json": DEEP}), name="deep.zip")
    cfg = tmp_path / "deep.json"
    cfg.write_bytes(DEEP)
    data = Path(__file__).resolve().parents[3] / "sample_data" / "interactions.csv"
    code = cli_main(["train", str(data), "--config", str(cfg)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    assert "nested too deeply" in err
    bad = tmp_path / "deep.zip"
    bad.write_bytes(forge(members, **{"curves.json": DEEP}))
    code = cli_main(["recommend", str(bad), "--history", "P0051"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "nested too deeply" in err, err


def test_weights_scaled_to_overflow_are_refused_with_a_message(tiny_run, tmp_path, members):
    folder = save_run(tiny_run, tmp_path / "run")
    state = load_file(str(folder / "weights.safetensors"))
    save_file({k: v * 1e37 for k, v in state.items()}, str(folder / "weights.safetensors"))
    with pytest.raises(SeqrecError, match="as large as"):
        run_files.load_run(folder)
    scaled = (folder / "weights.safetensors").read_bytes()
    with pytest.raises(SeqrecError, match="as large as"):
        bundle.read_bundle(forge(members, **{"weights.safetensors": scaled}), name="scaled.zip")


def test_weights_declaring_more_than_the_limit_are_refused_before_reading(members, monkeypatch):
    monkeypatch.setattr(bundle, "MAX_WEIGHTS_BYTES", 2_000)  # the tiny run's tensors are larger than this
    # the member itself is small enough to unpack: only its header says how large the tensors are
    monkeypatch.setattr(bundle, "_member_limit", lambda n: 64 * bundle.MB)
    loaded = []
    monkeypatch.setattr(run_files, "load_file", lambda *a, **k: loaded.append(a))
    with pytest.raises(SeqrecError, match="refused before reading"):
        bundle.read_bundle(forge(members), name="big.zip")
    assert not loaded


def test_runs_loaded_from_the_library_share_one_read_only_copy_of_the_weights(tiny_run):
    store = RunStore()
    rec = store.save(tiny_run, "a" * 32, published=True)
    first, second = store.load(rec.id, "a" * 32), store.load(rec.id, "b" * 32)
    assert first is not second and first.model is second.model  # one copy per process
    assert not any(p.requires_grad for p in first.model.parameters())
    second.name = "renamed copy"
    assert first.name != "renamed copy"
    history = ["P0051", "P0127"]
    assert first.recommend(history, 5) == tiny_run.recommend(history, 5)
