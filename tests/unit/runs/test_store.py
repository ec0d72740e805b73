"""The run library and run files that travel: runs outlive the process, two sessions (threads or processes) saving
at once lose nothing, an older library is migrated, bundles round-trip and tampered ones are refused, a downloaded
config reproduces the run's metrics exactly, and the CLI writes top-K for every user."""
from __future__ import annotations

import dataclasses
import io
import json
import os
import sqlite3
import subprocess
import sys
import threading
import warnings
import zipfile
from pathlib import Path

import pandas as pd
import pytest
import torch

from seqrec import SeqrecError, TrainConfig, cli, load_interactions, train_run
from seqrec.data.fingerprint import interactions_fingerprint
from seqrec.evaluation import compare
from seqrec.runs import bundle, recommend
from seqrec.runs.files import load_run, save_run
from seqrec.runs.run import dataset_summary
from seqrec.runs.store import RunStore
from seqrec.service.dataset import load_dataset

ROOT = Path(__file__).resolve().parents[3]
TINY = TrainConfig(embedding_dim=16, hidden_size=16, layers=1, dropout=0.0, batch_size=64, epochs=2, patience=0,
                   seed=7)
TINY_FLAGS = ["--embedding-dim", "16", "--hidden-size", "16", "--dropout", "0", "--batch-size", "64", "--epochs", "2",
              "--patience", "0", "--seed", "7"]


pytestmark = pytest.mark.usefixtures("home")  # every test gets its own empty run library (conftest)


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory, sample_csv) -> Path:
    """The first 300 shoppers of the sample: enough to train in about a second."""
    df = pd.read_csv(sample_csv, dtype=str)
    keep = df["user_id"].drop_duplicates().head(300)
    path = tmp_path_factory.mktemp("data") / "small.csv"
    df[df["user_id"].isin(keep)].to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def small_data(small_csv):
    return load_interactions(small_csv)


@pytest.fixture(scope="module")
def tiny_run(small_data):
    info = {**dataset_summary(small_data), "name": "small.csv", "fingerprint": interactions_fingerprint(small_data)}
    return train_run(small_data, TINY, name="tiny gru", dataset=info)


def first_history(data, n: int = 6) -> list[str]:
    user = data.df["user"].iloc[0]
    return list(data.df.loc[data.df["user"] == user, "item"])[-n:]


def run_cli(*args, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "SEQREC_HOME": str(home), "OMP_WAIT_POLICY": "PASSIVE", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "seqrec", *map(str, args)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def main_json(capsys, *args) -> dict:
    assert cli.main([str(a) for a in args]) == 0, capsys.readouterr().err
    return json.loads(capsys.readouterr().out)


# ------------------------------------------------------------------------------------------------------------------
# The library
# ------------------------------------------------------------------------------------------------------------------

@pytest.mark.slow  # a second Python process reads the library: ~9 s on 2 cores
def test_saved_runs_survive_a_restart_in_a_new_process(home, tiny_run, small_data):
    rec = RunStore().save(tiny_run, "cli", name="keep me")
    listed = run_cli("runs", home=home)
    assert listed.returncode == 0, listed.stderr
    runs = json.loads(listed.stdout)["runs"]
    assert [(r["id"], r["name"], r["fingerprint"]) for r in runs] == [(rec.id, "keep me",
                                                                       tiny_run.dataset["fingerprint"])]
    history = first_history(small_data)
    rec_out = run_cli("recommend", rec.id, "--history", *history, "--k", "10", home=home)
    assert rec_out.returncode == 0, rec_out.stderr
    assert json.loads(rec_out.stdout) == tiny_run.recommend(history, k=10)


def test_sessions_see_their_own_runs_and_the_gallery_and_only_owners_change_them(tiny_run):
    store = RunStore()
    a = store.save(tiny_run, "alice", name="alice private")
    b = store.save(tiny_run, "alice", published=True, name="alice shared")
    c = store.save(tiny_run, "bob", name="bob private")
    names = lambda recs: sorted(r.name for r in recs)
    assert names(store.list("alice", "mine")) == ["alice private", "alice shared"]
    assert names(store.list("bob", "visible")) == ["alice shared", "bob private"]
    assert names(store.list("bob", "gallery")) == ["alice shared"]
    with pytest.raises(SeqrecError, match="no saved run"):
        store.load(a.id, "bob")  # private runs of others do not even exist for bob
    assert store.load(b.id, "bob").recommend(["1"], 3) == tiny_run.recommend(["1"], 3)  # a copy of a published run
    for action in (lambda: store.rename(b.id, "mine now", "bob"), lambda: store.delete(b.id, "bob"),
                   lambda: store.publish(b.id, "bob", published=False)):
        with pytest.raises(SeqrecError, match="only its owner"):
            action()
    assert store.rename(a.id, "  renamed\nrun ", "alice").name == "renamed run"
    assert store.load(a.id, "alice").name == "renamed run"
    for bad in ("", " \t", "x" * 101):
        with pytest.raises(SeqrecError, match="run name"):
            store.rename(a.id, bad, "alice")
    store.delete(a.id, "alice")
    assert not a.folder.exists()
    assert names(store.list(scope="all")) == ["alice shared", "bob private"]
    assert c.folder.is_dir()


def test_a_crash_between_files_and_row_leaves_nothing_listed(tiny_run, monkeypatch):
    store = RunStore()
    save_run(tiny_run, store.runs_dir / "0123456789abcdef")  # files written, then the process died: no row
    assert store.list(scope="all") == []
    assert store.cleanup_orphans() == []  # young: maybe another process is still saving it
    assert store.cleanup_orphans(min_age_s=0) == ["0123456789abcdef"]
    assert list(store.runs_dir.iterdir()) == []

    def failing_write():
        raise SeqrecError("The run library is busy.")

    with monkeypatch.context() as m:
        m.setattr(store, "_write", failing_write)
        with pytest.raises(SeqrecError, match="busy"):
            store.save(tiny_run, "alice")
    assert list(store.runs_dir.iterdir()) == []  # the row failed, so its files went too

    rec = RunStore().save(tiny_run, "alice")
    for f in rec.folder.iterdir():  # someone deletes the files by hand
        f.unlink()
    rec.folder.rmdir()
    (listed,) = store.list("alice")
    assert not listed.available
    with pytest.raises(SeqrecError, match="files of saved run 'tiny gru' are missing"):
        store.load(rec.id, "alice")


def integrity(home: Path) -> str:
    con = sqlite3.connect(home / "runs.sqlite")
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


def test_two_sessions_saving_at_once_in_threads_lose_nothing(home, tiny_run):
    store = RunStore()
    start = threading.Barrier(2)
    errors = []

    def session(owner):
        try:
            start.wait()
            for i in range(5):
                rec = store.save(tiny_run, owner, name=f"{owner} {i}")
                store.rename(rec.id, f"{owner} {i} renamed", owner)
        except Exception as e:
            errors.append(e)

    threads = [threading.Thread(target=session, args=(o,)) for o in ("alice", "bob")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    for owner in ("alice", "bob"):
        assert sorted(r.name for r in store.list(owner, "mine")) == [f"{owner} {i} renamed" for i in range(5)]
    assert len({r.id for r in store.list(scope="all")}) == 10
    assert all(r.available for r in store.list(scope="all"))
    assert integrity(home) == "ok"


@pytest.mark.slow
def test_two_processes_saving_at_once_lose_nothing(home, tiny_run, tmp_path):
    src = save_run(tiny_run, tmp_path / "src")
    script = ("import sys\nfrom seqrec.runs.files import load_run\nfrom seqrec.runs.store import RunStore\n"
              "run = load_run(sys.argv[1])\nstore = RunStore()\n"
              "for i in range(6):\n    store.save(run, sys.argv[2], name=f'{sys.argv[2]} {i}')\n")
    env = {**os.environ, "SEQREC_HOME": str(home), "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(src), owner], env=env, cwd=ROOT,
                              stderr=subprocess.PIPE, text=True) for owner in ("alice", "bob")]
    for p in procs:
        assert p.wait(300) == 0, p.stderr.read()
    store = RunStore()
    for owner in ("alice", "bob"):
        assert sorted(r.name for r in store.list(owner, "mine")) == [f"{owner} {i}" for i in range(6)]
    recs = store.list(scope="all")
    assert len(recs) == 12 and all(r.available for r in recs)
    assert store.load(recs[0].id).recommend(["1"], 5) == tiny_run.recommend(["1"], 5)
    assert integrity(home) == "ok"


def test_opening_an_older_library_migrates_it(home, tiny_run):
    """A version-1 library (one person's: no owner, gallery or dataset columns) as an older seqrec left it."""
    (home / "runs").mkdir(parents=True)
    save_run(tiny_run, home / "runs" / "00000000000000aa")
    con = sqlite3.connect(home / "runs.sqlite")
    con.execute("CREATE TABLE runs (id TEXT PRIMARY KEY, name TEXT NOT NULL, created TEXT NOT NULL, "
                "config TEXT NOT NULL, metrics TEXT NOT NULL, path TEXT NOT NULL)")
    con.execute("INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?)",
                ("00000000000000aa", "old run", "2024-05-01T10:00:00+00:00", json.dumps(TINY.to_dict()),
                 json.dumps(tiny_run.metrics), "runs/00000000000000aa"))
    con.execute("PRAGMA user_version = 1")
    con.commit()
    con.close()

    store = RunStore()
    assert store.schema_version() == 2
    (rec,) = store.list("anyone", "visible")  # the old runs were everyone's: they are in the gallery now
    assert (rec.name, rec.published, rec.owner) == ("old run", True, "")
    assert rec.fingerprint == tiny_run.dataset["fingerprint"]
    assert rec.baselines == tiny_run.baselines
    assert len(rec.curves["epochs"]) == len(tiny_run.epochs) == 2
    assert store.load(rec.id, "anyone").recommend(["1"], 5) == tiny_run.recommend(["1"], 5)
    new = store.save(tiny_run, "alice")
    assert {r.id for r in RunStore().list(scope="all")} == {rec.id, new.id}  # reopening does not migrate twice

    con = sqlite3.connect(home / "runs.sqlite")
    con.execute("PRAGMA user_version = 99")
    con.commit()
    con.close()
    with pytest.raises(SeqrecError, match="newer version of seqrec"):
        RunStore()
    (home / "runs.sqlite").write_bytes(b"this is not a database at all" * 100)
    for extra in ("-wal", "-shm"):
        Path(f"{home / 'runs.sqlite'}{extra}").unlink(missing_ok=True)
    with pytest.raises(SeqrecError, match="damaged or is not a seqrec run library"):
        RunStore()


# ------------------------------------------------------------------------------------------------------------------
# Bundles
# ------------------------------------------------------------------------------------------------------------------

def test_bundle_round_trip_gives_the_same_run(tiny_run, small_data):
    data = bundle.bundle_bytes(tiny_run)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert sorted(zf.namelist()) == sorted(["manifest.json", "config.json", "vocab.json",
                                                "weights.safetensors", "metrics.json", "curves.json"])
        assert json.loads(zf.read("config.json")) == tiny_run.config.to_dict()
    back = bundle.read_bundle(data)
    history = first_history(small_data)
    assert back.recommend(history, 10) == tiny_run.recommend(history, 10)
    assert back.config == tiny_run.config and list(back.vocab.ids) == list(tiny_run.vocab.ids)
    assert (back.name, back.metrics, back.baselines, back.dataset) == (tiny_run.name, tiny_run.metrics,
                                                                       tiny_run.baselines, tiny_run.dataset)
    assert (back.epochs, back.batch_losses) == (tiny_run.epochs, tiny_run.batch_losses)


def _rezip(files: dict[str, bytes], fix_manifest: bool = True) -> bytes:
    """A bundle from member bytes; with fix_manifest the checksums are recomputed (a deliberate forgery)."""
    import hashlib

    if isinstance(files, list):  # (name, bytes) pairs, duplicates allowed
        items = files
    else:
        files = dict(files)
        items = files.items()
    if fix_manifest and "manifest.json" in files:
        m = json.loads(files["manifest.json"])
        m["files"] = {n: hashlib.sha256(b).hexdigest() for n, b in files.items() if n != "manifest.json"}
        files["manifest.json"] = json.dumps(m).encode()
        items = files.items()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names on purpose
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for n, b in items:
                zf.writestr(n, b)
    return buf.getvalue()


def _weights_of(model_config: TrainConfig, n_items: int, fill: float | None = None) -> bytes:
    from safetensors.torch import save

    from seqrec.model.recurrent import SeqRecModel

    state = SeqRecModel(n_items, model_config).state_dict()
    if fill is not None:
        state = {k: torch.full_like(v, fill) for k, v in state.items()}
    return save({k: v.contiguous() for k, v in state.items()})


def tampered_cases(run):
    n = len(run.vocab)
    return {
        "not a zip": (lambda f: b"just some text, not a zip", "not a zip file"),
        "path traversal": (lambda f: _rezip({**f, "../evil.py": b"import os"}), "folder or unsafe name"),
        "absolute path": (lambda f: _rezip({**f, "/etc/cron.d/x": b"x"}), "folder or unsafe name"),
        "extra file": (lambda f: _rezip({**f, "notes.txt": b"hello"}), "unexpected files (notes.txt)"),
        "checkpoint": (lambda f: _torch_save(run), "looks like a torch.save or pickle checkpoint"),
        "missing weights": (lambda f: _rezip({k: v for k, v in f.items() if k != "weights.safetensors"}),
                            "missing weights.safetensors"),
        "edited config": (lambda f: _rezip({**f, "config.json": f["config.json"].replace(b"16", b"32")}, False),
                          "config.json was changed after the bundle was made"),
        "zip bomb": (lambda f: _rezip({**f, "weights.safetensors": bytes(30 << 20)}), "like a zip bomb"),
        "wrong shapes": (lambda f: _rezip({**f, "weights.safetensors": _weights_of(run.config.replace(
            embedding_dim=8), n)}), "do not match its vocabulary and config"),
        "pickle weights": (lambda f: _rezip({**f, "weights.safetensors": _torch_save(run)}),
                           "not a safetensors file"),
        "NaN weights": (lambda f: _rezip({**f, "weights.safetensors": _weights_of(run.config, n, float("nan"))}),
                        "NaN or infinite"),
        "bad setting": (lambda f: _rezip({**f, "config.json": json.dumps({**run.config.to_dict(),
                                                                          "dropout": 7}).encode()}),
                        "invalid"),
        "duplicate member": (lambda f: _rezip(list(f.items()) + [("config.json", f["config.json"])], False),
                             "contains config.json twice"),
    }


def _torch_save(run) -> bytes:
    buf = io.BytesIO()
    torch.save(run.model.state_dict(), buf)
    return buf.getvalue()


@pytest.mark.parametrize("case", ["not a zip", "path traversal", "absolute path", "extra file", "checkpoint",
                                  "missing weights",
                                  "edited config", "zip bomb", "wrong shapes", "pickle weights", "NaN weights",
                                  "bad setting", "duplicate member"])
def test_tampered_bundles_are_refused_with_one_sentence(tiny_run, case):
    with zipfile.ZipFile(io.BytesIO(bundle.bundle_bytes(tiny_run))) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    make, expected = tampered_cases(tiny_run)[case]
    with pytest.raises(SeqrecError) as e:
        bundle.read_bundle(make(files), name="upload.zip")
    msg = str(e.value)
    assert expected in msg and "\n" not in msg and msg.startswith("upload.zip"), msg


def test_huge_bundle_members_are_refused_before_unpacking(tiny_run, monkeypatch):
    monkeypatch.setattr(bundle, "MAX_JSON_BYTES", 200)  # vocab.json of 279 items is larger than this
    with pytest.raises(SeqrecError, match="would unpack to .* more than the 200 bytes allowed"):
        bundle.read_bundle(bundle.bundle_bytes(tiny_run), name="upload.zip")
    monkeypatch.setattr(bundle, "MAX_BUNDLE_BYTES", 1000)
    with pytest.raises(SeqrecError, match="larger than"):
        bundle.read_bundle(io.BytesIO(bundle.bundle_bytes(tiny_run)), name="upload.zip")


# ------------------------------------------------------------------------------------------------------------------
# Config files and the command line
# ------------------------------------------------------------------------------------------------------------------

def test_a_downloaded_config_reproduces_the_metrics_exactly(small_csv, tmp_path, capsys):
    first = main_json(capsys, "train", small_csv, *TINY_FLAGS, "--quiet", "--save", tmp_path / "run")
    cfg = tmp_path / "run.json"
    cfg.write_bytes(bundle.config_bytes(load_run(tmp_path / "run")))
    again = main_json(capsys, "train", small_csv, "--config", cfg, "--quiet")
    assert again["config"] == first["config"]
    assert again["metrics"] == first["metrics"] and again["valid_metrics"] == first["valid_metrics"]
    # the command line and the app agree on which dataset this is
    assert again["dataset"]["fingerprint"] == load_dataset([small_csv], ["small.csv"]).fingerprint
    # an option typed on the command line wins over the file; the rest still comes from the file
    shorter = main_json(capsys, "train", small_csv, "--config", cfg, "--epochs", "1", "--quiet")
    assert shorter["config"]["epochs"] == 1 and shorter["epochs_run"] == 1
    assert shorter["config"]["hidden_size"] == 16 and shorter["config"]["seed"] == 7


@pytest.mark.parametrize("content, expected", [
    ("{not json", "is not valid JSON"),
    ("[1, 2, 3]", "must hold a JSON object"),
    ('{"hiden_size": 32}', "settings seqrec does not know (hiden_size)"),
    ('{"format": "seqrec-config", "version": 1, "config": {"hidden_size": -4}}', "hidden size must be"),
    ('{"format": "something-else", "config": {}}', "is not a seqrec run config"),
])
def test_a_bad_config_file_is_exit_2_and_one_sentence(small_csv, tmp_path, capsys, content, expected):
    cfg = tmp_path / "bad.json"
    cfg.write_text(content)
    assert cli.main(["train", str(small_csv), "--config", str(cfg), "--quiet"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], captured.err


@pytest.mark.parametrize("name, expected", [("", "imported run"), ("x" * 300, "x" * 100),
                                            ("  two\nlines ", "two lines")])
def test_a_bundle_with_an_unusable_name_still_imports(tiny_run, name, expected):
    """The import has no name field, so the bundle's name must never be the reason the run cannot be kept."""
    with zipfile.ZipFile(io.BytesIO(bundle.bundle_bytes(tiny_run))) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    metrics = json.loads(files["metrics.json"])
    metrics["name"] = name
    files["metrics.json"] = json.dumps(metrics).encode()
    run = bundle.read_bundle(_rezip(files))
    assert run.name == expected
    assert RunStore().save(run, "a" * 32).name == expected


@pytest.mark.parametrize("case, expected", [("long name", "at most 100 characters"),
                                            ("blank name", "cannot be empty"),
                                            ("unusable library", "Cannot create the run library")])
def test_train_store_refuses_a_bad_name_or_library_before_training(small_csv, tmp_path, capsys, monkeypatch, case,
                                                                   expected):
    """An analyst must not wait for a whole training to learn that the run cannot be kept."""
    import seqrec.training.runner

    def no_training(*args, **kwargs):
        raise AssertionError("training started although the run could not be stored")

    monkeypatch.setattr(seqrec.training.runner, "train_run", no_training)
    name = {"long name": "x" * 150, "blank name": "   "}.get(case, "fine")
    if case == "unusable library":
        (tmp_path / "a-file").write_text("not a folder")
        monkeypatch.setenv("SEQREC_HOME", str(tmp_path / "a-file" / "home"))
    assert cli.main(["train", str(small_csv), *TINY_FLAGS, "--quiet", "--store", "--name", name]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and expected in err[0], err


def test_recommend_all_users_writes_top_k_for_every_user(tiny_run, small_csv, small_data, sample_items_csv,
                                                         tmp_path, capsys):
    folder = save_run(tiny_run, tmp_path / "run")
    zipped = tmp_path / "run.zip"
    zipped.write_bytes(bundle.bundle_bytes(tiny_run))
    stored = RunStore().save(tiny_run, "cli").id
    tables = []
    for ref in (folder, zipped, stored):
        out = tmp_path / f"recs-{len(tables)}.csv"
        summary = main_json(capsys, "recommend", ref, "--all-users", small_csv, "--k", "5", "--out", out,
                            "--items", sample_items_csv)
        assert (summary["users"], summary["rows"]) == (300, 1500)
        tables.append(pd.read_csv(out, dtype={"user": str, "item": str}))
    recs = tables[0]
    assert list(recs.columns) == ["user", "rank", "item", "score", "title"]
    assert all(t.equals(recs) for t in tables[1:])
    user = small_data.df["user"].iloc[0]
    history = list(small_data.df.loc[small_data.df["user"] == user, "item"])
    mine = recs[recs["user"] == user]
    assert list(mine["rank"]) == [1, 2, 3, 4, 5]
    assert list(mine["item"]) == [r["item"] for r in tiny_run.recommend(history, 5)["recommendations"]]
    assert mine["title"].str.len().min() > 0  # names from items.csv
    assert cli.main(["recommend", str(folder), "--all-users", str(small_csv)]) == 2
    assert "--all-users needs --out" in capsys.readouterr().err
    # the Recommend page's download is the same file
    ds = load_dataset([small_csv], ["small.csv"], items=sample_items_csv)
    page = pd.read_csv(io.BytesIO(recommend.all_users_csv(tiny_run, ds, 5)), dtype={"user": str, "item": str})
    assert page.equals(recs)


def test_recommend_all_users_includes_users_with_one_or_two_events(tiny_run, tmp_path, capsys):
    """New users (one click so far) are the ones who most need recommendations; training's 3-event rule is not
    for them."""
    known = list(tiny_run.vocab.ids[:3])
    data = tmp_path / "new_users.csv"
    data.write_text("user_id,item_id,timestamp\n"
                    f"new,{known[0]},1\nsecond,{known[1]},1\nsecond,{known[2]},2\n")
    out = tmp_path / "recs.csv"
    summary = main_json(capsys, "recommend", save_run(tiny_run, tmp_path / "run"), "--all-users", data, "--k", "3",
                        "--out", out)
    assert (summary["users"], summary["rows"]) == (2, 6)
    table = pd.read_csv(out, dtype={"user": str, "item": str})
    assert sorted(set(table["user"])) == ["new", "second"]


def test_compare_groups_runs_by_dataset_and_warns_when_they_differ(tiny_run, small_csv):
    ds = load_dataset([small_csv], ["small.csv"])
    other = dataclasses.replace(tiny_run, name="other data", dataset={**tiny_run.dataset, "fingerprint": "elsewhere",
                                                                      "name": "other.csv"})
    same = compare.group_runs_by_dataset([tiny_run], ds)
    assert [len(g.runs) for g in same] == [1] and compare.dataset_mix_warning(same) is None
    groups = compare.group_runs_by_dataset([tiny_run, other], ds)
    assert [(g.is_current, [r.name for r in g.runs]) for g in groups] == [(True, ["tiny gru"]),
                                                                          (False, ["other data"])]
    assert "2 different datasets" in compare.dataset_mix_warning(groups)
    table = compare.comparison_table(groups[1].runs, ds, 20, baselines=compare.recorded_baselines(groups[1].runs))
    base = table[table["Kind"] == "baseline"]
    assert len(base) == len(tiny_run.baselines) and set(table["Dataset"]) == {"other.csv"}
    assert sorted(base["Recall@20"]) == sorted(m["recall@20"] for m in tiny_run.baselines.values())


def test_runs_takes_one_change_at_a_time(tiny_run, home, capsys):
    """`runs --delete X --publish X` used to delete the run and then fail on the publish: now refused up front."""
    run_id = RunStore(home).save(tiny_run, owner="cli").id
    assert cli.main(["runs", "--delete", run_id, "--publish", run_id]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "not allowed with" in err[0], err
    assert [r.id for r in RunStore(home).list(scope="all")] == [run_id], "nothing was changed"


def test_importing_a_bundle_holds_one_copy_of_its_weights(tiny_run, monkeypatch):
    """The unpacked weights' bytes are freed before their tensors are loaded, so an import never holds
    the model twice (measured with tracemalloc, which sees the Python bytes but not the tensors)."""
    import dataclasses
    import tracemalloc

    from seqrec.model.recurrent import SeqRecModel
    from seqrec.runs import files as run_files

    cfg = tiny_run.config.replace(hidden_size=1024, embedding_dim=256)
    big = dataclasses.replace(tiny_run, config=cfg, model=SeqRecModel(len(tiny_run.vocab.ids), cfg))
    weights = sum(p.numel() * 4 for p in big.model.parameters())
    assert weights > 10_000_000
    data = bundle.bundle_bytes(big)
    held = []
    real = run_files.load_run

    def measuring(folder, *a, **kw):
        held.append(tracemalloc.get_traced_memory()[0])  # Python memory alive when the tensors start loading
        return real(folder, *a, **kw)

    monkeypatch.setattr(run_files, "load_run", measuring)
    tracemalloc.start()
    try:
        back = bundle.read_bundle(data, name="big.zip")
    finally:
        tracemalloc.stop()
    assert back.config.hidden_size == 1024
    assert held and held[0] < weights / 4, (held, weights)
