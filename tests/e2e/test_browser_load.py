"""In real browsers: 4 chromium sessions press Train (Quick demo) at once and stay on the Train page, which polls
its job; all 4 finish with no error on any page. Timing is measured, not asserted: bench/browser_load.py (10 sessions)
reports each session's time against solo x queue place in RELIABILITY.md."""
from __future__ import annotations

import os

import pytest
from browsers import chromium_path, streamlit_server, train_in_pages

pytestmark = [pytest.mark.browser, pytest.mark.load]
SESSIONS = 4


@pytest.fixture(scope="module")
def url():
    if not chromium_path():
        if os.environ.get("SEQREC_REQUIRE_BROWSER") == "1":
            pytest.fail("Browser test required (SEQREC_REQUIRE_BROWSER=1) but chromium is not installed.")
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    with streamlit_server() as (u, _proc):
        yield u


def test_four_watched_trainings_all_finish_without_errors(url):
    solo = train_in_pages(url, 1, timeout=300)["results"][0]
    assert solo["finished"] and not solo["errors"], solo
    crowd = train_in_pages(url, SESSIONS, timeout=600)["results"]
    assert [r["errors"] for r in crowd] == [[]] * SESSIONS
    assert all(r["finished"] for r in crowd), crowd
