"""The library behind the app: background training jobs, the dataset bundle, explore helpers and figures."""
from __future__ import annotations

import math
import threading

import numpy as np
import pytest
import torch

import seqrec
from seqrec.runs import explore
from studio.figures import charts as figures
from seqrec.training import jobs
from seqrec.data.dataset import sample_dataset

torch.set_num_threads(1)
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
    job.future = jobs.get_pool().submit(job._execute)
    assert job.wait(120) and seen.is_set()
    assert job.status == jobs.STOPPED and job.run.stopped_by_user and job.run.epochs_run == 1
    assert len(job.run.recommend(["P0001"], 5)["recommendations"]) == 5


def test_a_failing_training_becomes_one_sentence(ds, monkeypatch):
    def boom(*a, **k):
        raise seqrec.SeqrecError("Training diverged; lower the learning rate.")

    monkeypatch.setattr(jobs, "train_run", boom)
    job = jobs.start_training(ds, seqrec.TrainConfig(**TINY))
    assert job.wait(60)
    snap = job.snapshot()
    assert snap.status == jobs.FAILED and snap.error == "Training diverged; lower the learning rate."
    assert job.run is None


def test_pool_is_bounded_and_shared():
    assert jobs.get_pool() is jobs.get_pool()
    assert jobs.get_pool()._max_workers == jobs.worker_count()


def test_user_recommendation_ranks_the_held_out_item(finished, ds):
    user = ds.user_ids[0]
    rec = explore.recommend_for_user(finished.run, ds, user, k=10)
    assert len(rec.table) == 10 and rec.held_out_item == ds.split.vocab.decode([ds.split.test_target[0]])[0]
    assert 1 <= rec.held_out_rank <= 300
    in_table = rec.held_out_item in set(rec.table["Item ID"])
    assert in_table == rec.hit == (rec.held_out_rank <= 10)
    assert f"#{int(rec.held_out_rank)}" in rec.sentence()
    hist = explore.user_history(ds, user)
    assert list(hist["Role"].iloc[-2:]) == ["validation item", "held-out next item"]
    with pytest.raises(seqrec.SeqrecError, match="not in the current data"):
        explore.user_index(ds, "nobody")


def test_exclude_seen_masks_the_history_and_the_held_out_rank(finished, ds):
    history = ds.item_ids[:3]
    table = explore.recommend_history(finished.run, ds, history, k=20, exclude_seen=True)
    assert not set(table["Item ID"]) & set(history)
    codes, _ = ds.split.vocab.encode(history)
    assert math.isinf(explore.held_out_rank(finished.run.score_histories, finished.run.vocab, codes, history[0],
                                            exclude_seen=True))


def test_side_by_side_has_every_run_and_both_baselines(finished, ds):
    tables = explore.side_by_side([finished.run], ds, ds.item_ids[5:8], k=4)
    assert list(tables) == ["tiny", "MostPopular", "Item-to-item transitions"]
    assert all(len(t) == 4 for t in tables.values())
    other = explore.side_by_side([finished.run], ds, ds.item_ids[100:102], k=4)
    # MostPopular ignores the history; the network does not
    assert list(tables["MostPopular"]["Item ID"]) == list(other["MostPopular"]["Item ID"])
    assert list(tables["tiny"]["Item ID"]) != list(other["tiny"]["Item ID"])


def test_comparison_table_and_verdict(finished, ds):
    table = explore.comparison_table([finished.run], ds, 20)
    assert list(table["Name"]) == ["tiny", "MostPopular", "Item-to-item transitions"]
    assert table.loc[0, "Recall@20"] == pytest.approx(finished.run.metrics["recall@20"])
    verdict = explore.baseline_verdict(finished.run, 20)
    best = max(m["recall@20"] for m in finished.run.baselines.values())
    diff = finished.run.metrics["recall@20"] - best
    assert ("beats" in verdict) == (diff > 0) and f"{abs(diff):.3f}" in verdict
    shown = explore.comparison_for_display(table)
    assert shown.loc[1, "Hidden"] == "—" and "Kind" not in shown


def test_comparison_scores_baselines_with_the_same_exclude_seen_protocol_as_each_run(finished, ds):
    excluded = seqrec.train_run(ds.split, seqrec.TrainConfig(**{**TINY, "exclude_seen": True}), name="tiny excl",
                                baselines={})
    table = explore.comparison_table([finished.run, excluded], ds, 20)
    base = table[table["Kind"] == "baseline"]
    assert sorted(base["Exclude seen"]) == [False, False, True, True], "baselines under both protocols"
    assert base["Name"].is_unique, "each baseline row can be told apart in the table and the bar chart"
    for exclude, name in ((False, "MostPopular"), (True, "MostPopular (seen excluded)")):
        rows = base[base["Exclude seen"] == exclude].set_index("Name")["Recall@20"]
        truth = ds.baseline_metrics((10, 20), exclude)
        assert rows[name] == pytest.approx(truth["most_popular"]["recall@20"])
    # masking seen items changes what a popularity ranking can hit, so the two protocols really differ here
    assert ds.baseline_metrics((10, 20), True) != ds.baseline_metrics((10, 20), False)


def test_figures_have_the_expected_traces(finished, ds):
    run = finished.run
    fig = figures.training_progress(run.batch_losses, run.epochs, 20, run.best_epoch)
    assert [t.name for t in fig.data] == ["loss (per batch)", "loss (smoothed)", "Recall@20 (validation)",
                                         "MRR@20 (validation)"]
    assert figures.popularity_long_tail(ds).layout.yaxis.type == "log"
    assert len(figures.thin(10_000)) <= 601 and figures.thin(10_000)[-1] == 9_999
    assert np.allclose(figures.smooth([2.0, 2.0, 2.0]), 2.0)
    for f in (figures.sequence_length_histogram, figures.interactions_over_time):
        assert len(f(ds).data) == 1
