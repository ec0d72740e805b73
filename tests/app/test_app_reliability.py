"""Reliability in the app: the memory refusal on the Train page, the upload limit and session isolation."""
from __future__ import annotations

import json

from studio.nav import PAGE
from tests.helpers import ROOT, SAMPLE

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
    at = open_page(new_app(), PAGE["train"])
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
    at = open_page(new_app(), PAGE["train"])
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
    at = open_page(new_app(), PAGE["data"])
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
    open_page(a, PAGE["data"])
    a.radio(key="data_source").set_value("Upload CSV files").run()
    a.file_uploader(key="upload_interactions").set_value(("mine.csv", df.to_csv(index=False).encode(), "text/csv"))
    a.run()
    a.button(key="load_data").click().run()
    assert a.session_state["dataset"].stats["users"] == 300
    open_page(a, PAGE["train"])
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
    open_page(b, PAGE["train"])
    assert b.number_input(key="tf_epochs").value != 1 and b.text_input(key="tf_name").value == ""
    b.number_input(key="tf_epochs").set_value(3).run()
    open_page(b, PAGE["data"])
    a.run()
    assert a.number_input(key="tf_epochs").value == 1 and a.session_state["dataset"].stats["users"] == 300
    assert [r.name for r in a.session_state["runs"]] == ["alice's run"]
