"""Where a run does not beat the best baseline (the paired interval says so), the pages that use
it to recommend, trace or explain say so too, and say nothing when it does beat it."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from apppage import open_app_page

from seqrec import TrainConfig
from seqrec.service.dataset import sample_dataset
from studio.nav import PAGE
from tests.helpers import train_on_sample

WARNING = "A simple baseline recommends at least as well"


@pytest.fixture(scope="module")
def weak_run():
    """One epoch of a tiny GRU: well below Item kNN on the sample."""
    return train_on_sample(TrainConfig(embedding_dim=8, hidden_size=8, epochs=1, batch_size=256, patience=0, seed=3),
                           name="weak")


def captions(at) -> list[str]:
    return [c.value for c in at.caption]


@pytest.mark.parametrize("page", ["recommend", "inside", "why"])
def test_a_run_that_does_not_beat_the_best_baseline_is_flagged_where_it_is_used(weak_run, page):
    at = open_app_page(PAGE[page], sample_dataset(), [weak_run])
    flagged = [c for c in captions(at) if WARNING in c]
    assert flagged and "weak vs Item kNN on Recall@20" in flagged[0].replace("\\", ""), captions(at)


def test_a_run_that_beats_the_best_baseline_is_not_flagged(weak_run):
    # every target ranked first: the paired interval of the difference lies above 0
    strong = dataclasses.replace(weak_run, name="strong", test_ranks=np.ones_like(weak_run.test_ranks),
                                 metrics={**weak_run.metrics, "recall@20": 1.0})
    at = open_app_page(PAGE["recommend"], sample_dataset(), [strong])
    assert not any(WARNING in c for c in captions(at)), captions(at)
