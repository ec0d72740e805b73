"""Two sessions of one server process (AppTest): a training is saved to the run library by the
job itself, whoever is watching (the tab that started it never reruns again: a reload or a closed tab), and a page
opened with the same ?workspace= address finds the job and its finished run; another workspace does not."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from seqrec.service.library import open_store
from studio.nav import PAGE

APP = str(Path(__file__).resolve().parents[2] / "app.py")
pytestmark = pytest.mark.slow


def open_train(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(query or {})
    at.run()
    at.switch_page(PAGE["train"])
    at.run()
    assert not at.exception, at.exception
    return at


def test_a_reloaded_page_finds_its_training_and_the_run_is_saved_without_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQREC_HOME", str(tmp_path))
    first = open_train()
    first.number_input(key="tf_epochs").set_value(2).run()
    first.button(key="train_start").click().run()
    job = first.session_state["job"]
    workspace = first.session_state["seqrec_session_id"]
    # "F5": the first tab is gone (it never reruns again); a new session opens the same workspace address
    again = open_train({"workspace": workspace})
    assert again.session_state["job"] is job, "the returning session sees its job"
    assert job.wait(120) and job.run is not None
    saved = open_store().list(workspace, scope="mine")
    assert [r.name for r in saved] == [job.run.name], "saved by the job itself: nobody collected it"
    again.run()
    assert [r.name for r in again.session_state["runs"]] == [job.run.name]
    assert any(s.value.startswith("Latest run:") for s in again.subheader)
    assert len(open_store().list(workspace, scope="mine")) == 1, "collecting it does not save it twice"
    stranger = open_train()
    assert stranger.session_state["job"] is None and stranger.session_state["runs"] == []
