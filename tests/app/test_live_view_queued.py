"""A training waiting in the queue shows its place, and no live chart until it starts, and its page polls
slowly: every waiting browser drawing an empty Plotly chart or redrawing its progress every second just after a
crowd pressed Train is work that starves the running trainings when the browsers share the server's cores."""
from __future__ import annotations

import threading

from apppage import open_app_page

from seqrec.config import TrainConfig
from seqrec.service import jobs
from studio import state


def test_a_queued_training_shows_its_place_and_no_chart_until_it_starts(small_dataset):
    queue, release = jobs.TrainingQueue(workers=1), threading.Event()
    queue.pool.submit(release.wait, 60)  # the only slot is busy: the job below waits in the queue
    try:
        job = queue.submit(jobs.TrainingJob(small_dataset.split, TrainConfig(epochs=1, patience=0), name="queued one"))
        assert job.status == jobs.QUEUED
        at = open_app_page("views/train.py", small_dataset, [])
        at.session_state["job"] = job
        at.run()
        assert not at.exception, at.exception
        assert any("Waiting for a free training slot" in p.proto.text for p in at.get("progress"))
        assert not at.get("plotly_chart"), "no chart while the training waits"
        assert any("appears here when your training starts" in c.value for c in at.caption)
        assert state.poll_seconds(job) == state.QUEUED_POLL_SECONDS > state.poll_seconds(None)
        assert at.button(key="train_stop").label == "Leave the queue"
    finally:
        job.stop()
        release.set()
        queue.shutdown()


def test_a_queued_page_switches_to_the_running_view_when_its_training_starts(small_dataset):
    queue, release = jobs.TrainingQueue(workers=1), threading.Event()
    queue.pool.submit(release.wait, 60)
    try:
        job = queue.submit(jobs.TrainingJob(small_dataset.split, TrainConfig(epochs=200, patience=0),
                                            name="queued one"))
        at = open_app_page("views/train.py", small_dataset, [])
        at.session_state["job"] = job
        at.run()
        assert any("Waiting for a free training slot" in p.proto.text for p in at.get("progress"))
        release.set()
        for _ in range(200):  # the slot frees; the job starts
            if job.status != jobs.QUEUED:
                break
            threading.Event().wait(0.05)
        assert job.status == jobs.RUNNING
        at.run()  # the queued view's poll sees the start and reruns the page into the running view
        assert not at.exception, at.exception
        assert any("Training **queued one**" in p.proto.text for p in at.get("progress"))
        assert at.button(key="train_stop").label == "Stop"
        if job.is_active:  # the live chart: a static SVG image, not a Plotly chart (studio/figures/live.py)
            assert at.get("image") and not at.get("plotly_chart")
        assert state.poll_seconds(job) < state.QUEUED_POLL_SECONDS
    finally:
        job.stop()
        release.set()
        job.wait(60)
        queue.shutdown()


def test_the_sidebar_polls_a_training_on_other_pages_and_points_to_the_train_page_on_it():
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    from studio.nav import PAGE

    at = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "app.py"), default_timeout=120)
    at.run()
    at.switch_page(PAGE["train"])
    at.run()
    at.selectbox(key="tf_preset").set_value("Thorough").run()
    at.button(key="train_start").click().run()
    job = at.session_state["job"]
    try:
        assert job.is_active
        assert any("its progress is on this page" in c.value for c in at.sidebar.caption)
        assert not at.sidebar.get("progress"), "no second poller beside the live view"
        at.switch_page(PAGE["compare"])
        at.run()
        assert not at.exception, at.exception
        assert any(p.proto.text.startswith((":material/hourglass_top: Training", ":material/hourglass_empty:"))
                   for p in at.sidebar.get("progress"))
    finally:
        job.stop()
        job.wait(120)
