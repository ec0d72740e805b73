"""A small load test (bench/load_test.py is the full one): 10 app sessions at once each upload a small log and
train 1 epoch of the Quick demo preset; all finish, through the shared queue, with runs identical to a solo run."""
from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/e2e: the session driver (never bench/)

from sessions import quiet_streamlit_logs, run_sessions, same_as_solo, solo_references  # noqa: E402

SESSIONS = 10


def small_log(n_users: int = 150) -> bytes:
    df = pd.read_csv(ROOT / "sample_data" / "interactions.csv", dtype=str)
    return df[df["user_id"].isin(df["user_id"].drop_duplicates().head(n_users))].to_csv(index=False).encode()


@pytest.mark.load
def test_ten_sessions_at_once_all_finish_with_the_solo_result(worker_processes):
    quiet_streamlit_logs()
    csv = small_log()
    solo = run_sessions(1, csv=csv, epochs=1, timeout=120)["results"][0]
    assert solo["finished"] and solo["users"] == 150, solo

    crowd = run_sessions(SESSIONS, csv=csv, epochs=1, timeout=300, hold_slots=True)["results"]
    assert [r["errors"] for r in crowd] == [[]] * SESSIONS
    assert all(r["finished"] for r in crowd), "every session got its run"
    assert all(r["users"] == 150 for r in crowd), "every session trained on the data it loaded"
    assert all(r["threads"] >= 1 for r in crowd), "every run records its thread count"
    refs = solo_references(crowd, {solo["threads"]: solo}, csv=csv, epochs=1, timeout=120)
    for r in crowd:
        assert same_as_solo(r, refs), "a run trained beside 9 others must equal the same run trained alone (at " \
                                      "the same thread count)"
    # each session's page and sidebar both show its place; every session must see exactly one, its own
    places = [{t.rsplit(": ", 1)[1].split(";")[0] for t in r["queue_text"]} for r in crowd]
    assert all(len(p) == 1 for p in places), places
    seen = sorted(p.pop() for p in places)
    assert seen == sorted(["Yours is next"] + [f"{k} training{'s' * (k > 1)} ahead of yours"
                                               for k in range(1, SESSIONS)]), \
        "each person saw their own place in the queue"
