"""Issue 14: a training waiting in the queue shows its place, and no live chart until it starts: every waiting
browser drawing an empty Plotly chart just after a crowd pressed Train is work that starves the running trainings
when the browsers share the server's cores."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from apppage import open_app_page
from seqrec.config import TrainConfig
from seqrec.training import jobs


def test_a_queued_training_shows_its_place_and_no_chart_until_it_starts(small_dataset):
    pool, release = ThreadPoolExecutor(max_workers=1), threading.Event()
    pool.submit(release.wait, 60)  # the only slot is busy: the job below waits in the queue
    try:
        job = jobs.TrainingJob(small_dataset.split, TrainConfig(epochs=1, patience=0), name="queued one")
        jobs.submit(job, pool)
        assert job.status == jobs.QUEUED
        at = open_app_page("views/train.py", small_dataset, [])
        at.session_state["job"] = job
        at.run()
        assert not at.exception, at.exception
        assert any("Waiting for a free training slot" in p.proto.text for p in at.get("progress"))
        assert not at.get("plotly_chart"), "no chart while the training waits"
        assert any("appears here when your training starts" in c.value for c in at.caption)
    finally:
        job.stop()
        release.set()
        pool.shutdown(wait=True)
