"""The Tune page in AppTest: start a small search, rerun until it is done, see the best row per cell with test
metrics and intervals, keep a run (it joins the session's runs and the run library), copy a config to Train, and
bad settings as one sentence."""
import time

import pytest

from seqrec.service.library import open_store
from studio.nav import PAGE
from tests.app.apppage import open_app_page

SMALL_SPACE = {"tune_hidden_size": (32, 48), "tune_embedding_dim": (16, 24), "tune_max_len": (20, 30),
               "tune_batch_size": (64, 128)}


@pytest.fixture
def page(small_dataset, monkeypatch, tmp_path):
    monkeypatch.setenv("SEQREC_EXECUTOR", "thread")  # trials in the app's process: no worker start-up in a test
    monkeypatch.setenv("SEQREC_HOME", str(tmp_path / "home"))
    at = open_app_page(PAGE["tune"], small_dataset, [])
    for key, value in SMALL_SPACE.items():
        at.session_state[key] = value
    at.multiselect(key="tune_cells").set_value(["GRU", "RNN"])
    at.number_input(key="tune_minutes").set_value(0.5)
    at.number_input(key="tune_trials").set_value(2)
    return at


def table_with(at, column: str):
    """The first table on the page with this column (AppTest does not expose a dataframe's key)."""
    return next(df.value for df in at.dataframe if column in df.value.columns)


def run_until_done(at, limit: float = 120):
    end = time.monotonic() + limit
    while at.session_state["tuning"].running and time.monotonic() < end:
        time.sleep(0.5)
    at.run()
    assert not at.exception, at.exception
    assert not at.session_state["tuning"].running


@pytest.mark.slow  # a whole search of two cells through the page: ~10 s on 2 cores
def test_tune_page_searches_shows_the_best_per_cell_and_keeps_a_run(page):
    at = page
    assert not at.error
    at.button(key="tuning_start").click().run()
    assert not at.exception, at.exception
    search = at.session_state["tuning"]
    assert search.tuner.cells == ["gru", "rnn"] and search.tuner.budget == 30 and search.tuner.trials == 2
    assert search.tuner.space["hidden_size"].hi == 48
    run_until_done(at)
    best = table_with(at, "Best trial")
    assert list(best["Cell"]) == ["GRU", "RNN"]
    assert best["Test recall@20"].between(0, 1).all() and best["95% interval"].str.contains("–").all()
    assert best["Hidden size"].between(32, 48).all()
    # the two cells ranked on the test users, the second with the paired interval of its difference
    assert any(c.value.startswith("Same budget for every cell, ranked on the test users") and "95% interval" in c.value
               for c in at.caption), [c.value for c in at.caption]
    # the trial table with the state of each trial
    trials = table_with(at, "Pruned")
    assert len(trials) == 4 and set(trials["State"]) <= {"complete", "pruned", "failed", "stopped"}

    at.button(key="tuning_keep_gru").click().run()
    assert not at.exception, at.exception
    kept = [r for r in at.session_state["runs"] if r.config.model == "gru"]
    assert len(kept) == 1 and "tuned" in kept[0].name
    assert kept[0].dataset.get("fingerprint") == "small"
    assert any(rec.name == kept[0].name for rec in open_store().list(scope="all"))
    assert at.button(key="tuning_keep_gru").disabled

    config = search.result.best["rnn"].config
    at.button(key="tuning_copy_rnn").click().run()
    assert not at.exception, at.exception
    assert at.session_state["tf_model"] == "RNN" and at.session_state["tf_hidden_size"] == config.hidden_size
    assert at.session_state["tf_lr"] == config.lr


def test_stop_ends_the_search_and_keeps_what_was_found(page):
    at = page
    at.number_input(key="tune_trials").set_value(None)  # no limit
    at.button(key="tuning_start").click().run()
    search = at.session_state["tuning"]
    end = time.monotonic() + 60
    while not any(r.state == "complete" for r in search.tuner.snapshot()) and time.monotonic() < end:
        time.sleep(0.2)
    at.run()
    if search.running:
        at.button(key="tuning_stop").click().run()
        assert not at.exception, at.exception
    run_until_done(at)
    assert search.result.stopped or search.result.seconds >= 29
    assert "gru" in search.result.best and table_with(at, "Best trial")["Cell"].iloc[0] == "GRU"


def test_no_cell_chosen_is_one_sentence(page):
    at = page
    at.multiselect(key="tune_cells").set_value([])
    at.button(key="tuning_start").click().run()
    assert not at.exception, at.exception
    assert len(at.error) == 1 and "at least one cell" in at.error[0].value
    assert "tuning" not in at.session_state


def test_a_search_whose_session_is_gone_is_stopped(small_dataset, monkeypatch):
    """Closing the tab must not leave a search holding the cores for the rest of its budget: the one reaper that
    stops the training jobs of gone sessions stops it too, keeping what was found."""
    import threading

    from seqrec.service.sessions import REAPER
    from studio import tune

    class SlowTuner:  # stands for a Tuner mid-search: runs until stopped
        base = type("Base", (), {"ks": (20,), "exclude_seen": False})()

        def __init__(self):
            self.stopped_event, self.result, self.baselines = threading.Event(), None, None

        @property
        def stopped(self):
            return self.stopped_event.is_set()

        def run(self):
            self.stopped_event.wait(30)

        def stop(self):
            self.stopped_event.set()

    alive = {"owner-1": True}
    monkeypatch.setattr(small_dataset, "baseline_metrics", lambda *a: {})
    tuner = SlowTuner()
    search = tune.TuneSearch(small_dataset, tuner, owner="owner-1")
    assert search in REAPER.tracked() and REAPER.reap(lambda owner: alive.get(owner, True)) == []
    assert search.running and not tuner.stopped  # its session is there: the search goes on
    alive["owner-1"] = False  # the tab is closed
    assert search in REAPER.reap(lambda owner: alive.get(owner, True))
    search.thread.join(5)
    assert tuner.stopped and search.abandoned and not search.running
    assert search not in REAPER.tracked(), "an ended search is no longer watched"
