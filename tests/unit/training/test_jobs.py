"""Background training jobs: progress and a finished run, Stop keeping a usable model, a failure as one
sentence, the bounded shared pool; and the app-facing dataset bundle they train on."""
from __future__ import annotations

import threading

import pytest

import seqrec
from seqrec.service import jobs
from seqrec.service.dataset import sample_dataset

TINY = dict(embedding_dim=16, hidden_size=16, epochs=2, batch_size=256, patience=0, seed=1)


@pytest.fixture(scope="module")
def ds():
    return sample_dataset()


@pytest.fixture(scope="module")
def finished(ds):
    job = jobs.start_training(ds, seqrec.TrainConfig(**TINY), name="tiny")
    assert job.wait(120)
    return job


def test_dataset_bundle_labels_items_with_title_and_category(ds):
    assert ds.stats["users"] == 3000 and ds.split.n_items == 300
    assert ds.item_label("P0001") == "Covered Litter Box (Pet Supplies)"
    assert ds.item_label("no-such-item") == "no-such-item"
    assert ds.baseline_metrics((10, 20)) is ds.baseline_metrics([20, 10]), "baselines are computed once"


def test_finished_job_reports_progress_and_a_run(finished, ds):
    snap = finished.snapshot()
    assert snap.status == jobs.DONE and snap.progress == 1.0
    assert len(snap.epoch_metrics) == 2 and len(snap.batch_losses) > 0
    run = finished.run
    assert run.name == "tiny" and run.dataset["fingerprint"] == ds.fingerprint
    assert run.baselines == ds.baseline_metrics(run.config.ks, run.config.exclude_seen)


def test_stop_keeps_a_usable_model(ds):
    seen = threading.Event()

    job = jobs.TrainingJob(ds.split, seqrec.TrainConfig(**{**TINY, "epochs": 50}), name="stopped")
    original = job.on_batch

    def on_batch(info):
        original(info)
        job.stop()
        seen.set()

    job.on_batch = on_batch
    jobs.submit(job)
    assert job.wait(120) and seen.is_set()
    assert job.status == jobs.STOPPED and job.run.stopped_by_user and job.run.epochs_run == 1
    assert len(job.run.recommend(["P0001"], 5)["recommendations"]) == 5


def test_a_failing_training_becomes_one_sentence(ds, monkeypatch):
    def boom(*a, **k):
        raise seqrec.SeqrecError("Training diverged; lower the learning rate.")

    import seqrec.training.executors.thread as thread_executor

    monkeypatch.setattr(thread_executor, "train_run", boom)
    monkeypatch.setenv("SEQREC_EXECUTOR", "thread")  # the patch reaches this process only, not a worker process
    job = jobs.start_training(ds, seqrec.TrainConfig(**TINY))
    assert job.wait(60)
    snap = job.snapshot()
    assert snap.status == jobs.FAILED and snap.error == "Training diverged; lower the learning rate."
    assert job.run is None


def test_pool_is_bounded_and_shared():
    assert jobs.get_pool() is jobs.get_pool()
    assert jobs.get_pool()._max_workers == jobs.worker_count()
