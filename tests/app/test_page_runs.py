"""The Runs page driven headlessly with AppTest: a session lists, loads, renames, publishes and deletes its saved runs;
loaded runs work on the other pages; finished trainings are saved by themselves; another session sees published
runs (read-only) but never private ones; Compare separates runs of different datasets."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest
from streamlit.testing.v1 import AppTest

from seqrec.runs.store import RunStore
from studio.nav import PAGE
from studio.state import SESSION_ID

APP = str(Path(__file__).resolve().parents[2] / "app.py")
TIMEOUT = 120
ALICE, BOB = "a" * 32, "b" * 32


pytestmark = pytest.mark.usefixtures("home")  # every test gets its own empty run library (conftest)
# sample_run (conftest): a tiny run on the bundled sample, the data the app starts with; copied before any change


def copy_of(run, **changes):
    return dataclasses.replace(run, **changes)


def session(sid: str | None = None, page: str = PAGE["runs"]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if sid:
        at.session_state[SESSION_ID] = sid
    at.run()
    return open_page(at, page)


def open_page(at: AppTest, page: str) -> AppTest:
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def table_names(at: AppTest, which: str) -> list[str]:
    """Names in the Runs page's table of 'mine' or 'gallery' runs ([] when that table is not shown). The gallery
    table tells whose runs they are; the own-runs table whether they are shared."""
    marks = {"mine": {"private", "in the gallery"}, "gallery": {"yours", "another session"}}[which]
    for df in at.dataframe:
        table = df.value
        if "Shared" in table and set(table["Shared"]) <= marks:
            return list(table["Name"])
    return []


def session_run_names(at: AppTest) -> list[str]:
    return [r.name for r in at.session_state["runs"]]


def test_runs_page_lists_loads_renames_publishes_and_deletes_own_runs(sample_run):
    store = RunStore()
    rec = store.save(copy_of(sample_run), ALICE, name="my gru")
    store.save(copy_of(sample_run), BOB, name="bob's private run")
    at = session(ALICE)
    assert table_names(at, "mine") == ["my gru"]
    assert session_run_names(at) == []

    at.button(key="runs_load").click().run()
    assert not at.exception, at.exception
    assert session_run_names(at) == ["my gru"]
    assert any("Loaded" in s.value for s in at.success)
    assert at.button(key="runs_load").disabled  # already in the session
    # the loaded run works on the other pages
    open_page(at, PAGE["recommend"])
    assert "my gru" in at.selectbox(key="rec_model").options
    open_page(at, PAGE["compare"])
    assert "my gru" in list(at.dataframe[0].value["Name"])
    assert not at.warning or all("different datasets" not in w.value for w in at.warning)

    open_page(at, PAGE["runs"])
    at.text_input(key=f"runs_new_name_{rec.id}").set_value("renamed gru")
    at.button(key="runs_rename").click().run()
    assert not at.exception, at.exception
    assert store.get(rec.id).name == "renamed gru" and session_run_names(at) == ["renamed gru"]
    assert table_names(at, "mine") == ["renamed gru"]

    at.button(key="runs_publish").click().run()
    assert store.get(rec.id).published and table_names(at, "gallery") == ["renamed gru"]

    assert at.button(key="runs_delete").disabled  # needs the confirmation first
    at.checkbox(key=f"runs_delete_sure_{rec.id}").check().run()
    at.button(key="runs_delete").click().run()
    assert not at.exception, at.exception
    assert [r.name for r in store.list(ALICE, "mine")] == [] and session_run_names(at) == []
    assert table_names(at, "mine") == []
    assert [r.name for r in store.list(scope="all")] == ["bob's private run"]  # the other session's run is untouched


def test_published_runs_are_visible_to_other_sessions_and_private_ones_are_not(sample_run):
    store = RunStore()
    store.save(copy_of(sample_run), ALICE, name="alice private")
    shared = store.save(copy_of(sample_run), ALICE, published=True, name="instructor demo")
    bob = session(BOB)
    assert table_names(bob, "mine") == []
    assert table_names(bob, "gallery") == ["instructor demo"]
    assert "alice private" not in str([df.value for df in bob.dataframe])
    assert not [b for b in bob.button if b.key in ("runs_rename", "runs_delete", "runs_publish")]  # read-only
    bob.button(key="runs_gallery_load").click().run()
    assert not bob.exception, bob.exception
    assert session_run_names(bob) == ["instructor demo"]
    assert store.get(shared.id).owner == ALICE  # loading made a copy; the stored run is still alice's

    alice = session(ALICE)
    assert table_names(alice, "mine") == ["instructor demo", "alice private"]


def test_a_finished_training_is_saved_and_found_again_after_a_reload(sample_run):
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[SESSION_ID] = ALICE
    # what a training job looks like once it has finished (the page collects it on the next rerun)
    at.session_state["job"] = SimpleNamespace(is_active=False, collected=False, run=copy_of(sample_run, name="fresh"),
                                              name="fresh")
    at.run()
    assert not at.exception, at.exception
    assert [r.name for r in RunStore().list(ALICE, "mine")] == ["fresh"]
    assert at.query_params["workspace"] in (ALICE, [ALICE])  # the address keeps the workspace

    reloaded = AppTest.from_file(APP, default_timeout=TIMEOUT)  # a new browser session on the same address
    reloaded.query_params["workspace"] = ALICE
    reloaded.run()
    open_page(reloaded, PAGE["runs"])
    assert table_names(reloaded, "mine") == ["fresh"]


def test_an_unusable_library_is_said_once_and_the_run_stays_in_the_session(sample_run, tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("SEQREC_HOME", str(tmp_path / "a-file" / "home"))  # cannot be created, even by root
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["job"] = SimpleNamespace(is_active=False, collected=False, run=copy_of(sample_run, name="one"),
                                              name="one")
    at.run()
    assert not at.exception, at.exception
    assert session_run_names(at) == ["one"]
    assert len(at.toast) == 1 and "not being saved" in at.toast[0].value  # told on the page where it happened
    at.session_state["job"] = SimpleNamespace(is_active=False, collected=False, run=copy_of(sample_run, name="two"),
                                              name="two")
    at.run()
    assert not at.exception, at.exception
    assert session_run_names(at) == ["one", "two"] and len(at.toast) == 0  # not again for every run


def test_a_library_damaged_while_the_app_runs_is_one_sentence(sample_run, home):
    RunStore().save(copy_of(sample_run), ALICE, name="mine")
    at = session(ALICE)
    assert table_names(at, "mine") == ["mine"]
    for leftover in home.glob("runs.sqlite*"):
        leftover.unlink()
    (home / "runs.sqlite").write_bytes(b"this is not a database" * 100)
    at.run()
    assert not at.exception, at.exception
    assert any("damaged" in e.value for e in at.error)


def test_compare_separates_runs_of_different_datasets(sample_run):
    store = RunStore()
    other = copy_of(sample_run, name="elsewhere", dataset={**sample_run.dataset, "fingerprint": "0" * 16,
                                                           "name": "other shop.csv"})
    store.save(copy_of(sample_run, name="here"), ALICE)
    store.save(other, ALICE)
    at = session(ALICE)
    for key in ("runs_pick",):
        for rid in at.selectbox(key=key).options:
            at.selectbox(key=key).set_value(rid).run()
            at.button(key="runs_load").click().run()
    assert sorted(session_run_names(at)) == ["elsewhere", "here"]
    open_page(at, PAGE["compare"])
    assert any("2 different datasets" in w.value for w in at.warning)
    names = list(at.dataframe[0].value["Name"])
    assert "here" in names and "elsewhere" not in names
    at.selectbox(key="cmp_dataset").set_value(1).run()
    assert not at.exception, at.exception
    names = list(at.dataframe[0].value["Name"])
    assert "elsewhere" in names and "here" not in names


def test_two_runs_with_the_same_label_are_told_apart_by_id(sample_run):
    """Two runs with the same name, model and minute; choosing the first and deleting it deletes the first
    (the picker and the actions address runs by id, not by their label), then the second goes too."""
    store = RunStore()
    first = store.save(copy_of(sample_run), ALICE, name="same")
    second = store.save(copy_of(sample_run), ALICE, name="same")
    at = session(ALICE)
    picker = at.selectbox(key="runs_pick")
    assert len(picker.options) == 2 and len(set(picker.options)) == 1  # identical labels
    for target, left in ((first, [second.id]), (second, [])):
        at.selectbox(key="runs_pick").set_value(target.id).run()
        at.button(key="runs_load").click().run()
        assert at.session_state["runs"][-1].store_id == target.id
        at.checkbox(key=f"runs_delete_sure_{target.id}").check().run()
        at.button(key="runs_delete").click().run()
        assert not at.exception, at.exception
        assert [r.id for r in store.list(ALICE, "mine")] == left
        assert target.id not in [getattr(r, "store_id", None) for r in at.session_state["runs"]]


def test_a_damaged_library_row_keeps_the_runs_page_working_and_deletable(sample_run):
    """A row whose metrics hold text ("recall@20": "abc") broke the owner's Runs page for good; it now
    lists (without a score), refuses to load with one sentence when its files are edited too, and can be deleted."""
    import json
    import sqlite3

    store = RunStore()
    rec = store.save(copy_of(sample_run), ALICE, name="damaged")
    with sqlite3.connect(store.db_path) as con:
        con.execute("UPDATE runs SET metrics = ? WHERE id = ?", (json.dumps({"recall@20": "abc"}), rec.id))
    meta = json.loads((rec.folder / "run.json").read_text())
    meta["metrics"]["recall@20"] = "abc"
    (rec.folder / "run.json").write_text(json.dumps(meta))
    at = session(ALICE)
    assert table_names(at, "mine") == ["damaged"]
    at.button(key="runs_load").click().run()
    assert not at.exception, at.exception
    errors = [e.value.replace("\\", "") for e in at.error]
    assert any("The saved run 'damaged': run.json was edited or damaged" in e for e in errors), errors
    assert not any(str(rec.folder.parent) in e for e in errors)  # no server paths shown
    assert session_run_names(at) == []
    at.checkbox(key=f"runs_delete_sure_{rec.id}").check().run()
    at.button(key="runs_delete").click().run()
    assert not at.exception and store.list(ALICE, "mine") == []
