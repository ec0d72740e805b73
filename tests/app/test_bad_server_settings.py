"""A bad SEQREC_* value stops the app at start with its sentence on the page, not a traceback."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def test_a_bad_server_setting_is_one_sentence_on_the_page(monkeypatch):
    monkeypatch.setenv("SEQREC_MEMORY_BUDGET_MB", "lots")
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    assert len(at.error) == 1
    shown = at.error[0].value.replace("\\", "")  # the sentence is shown as plain text (markup escaped)
    assert shown.startswith("SEQREC_MEMORY_BUDGET_MB must be a positive number of megabytes (got 'lots')")
    assert not at.sidebar.markdown, "the app stops there: no sidebar, no page"
