"""One set of limits for "Train with this config" (the config's field metadata), a server-wide
cap on minutes per training, tables whose built-in export cannot write raw formula cells, and `runs --help` saying
it prints every workspace's code."""
from __future__ import annotations

import json
import os
from pathlib import Path

import tomllib

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest
from streamlit import config as st_config
from streamlit.testing.v1 import AppTest

from seqrec import SeqrecError, TrainConfig
from seqrec.cli import build_parser
from seqrec.config import MAX_TRAIN_MINUTES_ENV, cap_training_minutes, server_minutes_cap
from studio.nav import PAGE

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")


pytestmark = pytest.mark.usefixtures("home")  # every test gets its own empty run library (conftest)


def test_the_server_cap_lowers_long_or_unlimited_trainings_and_says_so(monkeypatch):
    monkeypatch.delenv(MAX_TRAIN_MINUTES_ENV, raising=False)
    assert server_minutes_cap() == 30
    for asked in (1440.0, 0.0, 31.0):
        capped, note = cap_training_minutes(TrainConfig(max_minutes=asked))
        assert capped.max_minutes == 30 and "at most 30 minutes" in note
    same, note = cap_training_minutes(TrainConfig(max_minutes=4.0))
    assert same.max_minutes == 4.0 and note is None
    monkeypatch.setenv(MAX_TRAIN_MINUTES_ENV, "2.5")
    assert cap_training_minutes(TrainConfig(max_minutes=0))[0].max_minutes == 2.5


@pytest.mark.parametrize("raw", ["abc", "0", "-3", "nan", "99999"])
def test_a_bad_cap_setting_is_one_sentence(monkeypatch, raw):
    monkeypatch.setenv(MAX_TRAIN_MINUTES_ENV, raw)
    with pytest.raises(SeqrecError, match=MAX_TRAIN_MINUTES_ENV):
        server_minutes_cap()


def _upload_config(at: AppTest, config: dict) -> AppTest:
    doc = {"format": "seqrec-config", "version": 1, "name": "from file", "config": config}
    at.file_uploader(key="train_config_file").set_value(("c.json", json.dumps(doc).encode(), "application/json"))
    return at.run()


def _train_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(PAGE["train"])
    at.run()
    assert not at.exception, at.exception
    return at


def test_train_with_this_config_refuses_values_past_the_configs_limits():
    at = _upload_config(_train_page(), {"epochs": 5000, "hidden_size": 100000})
    assert not at.exception
    assert len(at.error) == 1 and "epochs" in at.error[0].value and "hidden size" in at.error[0].value
    assert at.session_state["job"] is None  # nothing was started


def test_train_with_this_config_runs_under_the_server_cap(monkeypatch):
    """The audit's config (epochs 1000, patience 0, a day of minutes) is valid for the CLI, but on the server the
    training is capped (here to 0.02 minutes, about a second) and the page says so."""
    monkeypatch.setenv(MAX_TRAIN_MINUTES_ENV, "0.02")
    at = _upload_config(_train_page(), {"epochs": 1000, "patience": 0, "max_minutes": 1440, "embedding_dim": 8,
                                        "hidden_size": 8, "batch_size": 512})
    assert not at.error, [e.value for e in at.error]
    at.button(key="train_from_config").click().run()
    assert not at.exception, at.exception
    job = at.session_state["job"]
    assert job is not None and job.config.max_minutes == 0.02 and job.config.epochs == 1000
    assert any("at most 0.02 minutes" in i.value for i in at.info)
    job.stop()


def test_built_in_table_export_is_off_for_the_untrusted_tables():
    """Streamlit's dataframe toolbar "Download as CSV" writes cells raw (a +HYPERLINK(...) item ID stays a formula);
    the app's own download buttons neutralise them, so the built-in export is switched off server-wide."""
    conf = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert conf["client"]["disableDataExport"] is True
    assert "client.disableDataExport" in st_config._config_options_template  # a real option, not a typo


def test_runs_help_says_it_prints_every_workspace_code(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["runs", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "EVERY workspace" in out and "admin" in out and "private code" in out
