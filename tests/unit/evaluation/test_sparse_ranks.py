"""Baselines ranked from their sparse scores (a 200,000-user log scores in seconds) give exactly the ranks
of the dense evaluation every model goes through, so no metric, interval or verdict moves."""
from __future__ import annotations

import math

import numpy as np
import pytest

from seqrec import leave_last_out, load_interactions
from seqrec.data.samples import sample_named
from seqrec.evaluation.metrics import evaluate_with_ranks
from seqrec.evaluation.protocol import rank_baseline, tuning_sample
from seqrec.evaluation.sparse_ranks import evaluate_sparse_with_ranks
from seqrec.model.baselines import ALL_BASELINES, ItemTransitions, fit_all
from seqrec.model.sparse import SparseScores, count_at_least, target_ranks_sparse


@pytest.fixture(scope="module")
def retail_split():
    """The real bundled sample, cut to its first 600 users (long histories, popular last items, ties)."""
    data = load_interactions(str(sample_named("retail").interactions))
    split = leave_last_out(data)
    keep = slice(0, 600)
    return split.__class__(vocab=split.vocab, users=split.users[keep], train=split.train[keep],
                           valid_target=split.valid_target[keep], test_target=split.test_target[keep])


def test_a_hand_computed_rank_with_ties_and_masked_items():
    # items 1..4 fall back to popularity 3, 2, 2, 1; the row stores item 4 at 5.0
    s = SparseScores(rows=np.array([0]), cols=np.array([4]), values=np.array([5.0], np.float32),
                     fallback=np.array([0, 3, 2, 2, 1], np.float32), n_rows=1)
    # target 2 (score 2): ahead are item 4 (5.0), item 1 (3) and item 3 (2, a tie counts as ahead) -> rank 4
    assert target_ranks_sparse(s, np.array([2]), 4, None).tolist() == [4.0]
    # item 1 masked (seen): rank 3; the target itself masked: never a hit
    assert target_ranks_sparse(s, np.array([2]), 4, np.array([1])).tolist() == [3.0]
    assert target_ranks_sparse(s, np.array([2]), 4, np.array([2])).tolist() == [math.inf]
    # the stored target: nothing scores >= 5.0 -> rank 1
    assert target_ranks_sparse(s, np.array([4]), 4, None).tolist() == [1.0]


def test_segmented_search_counts_values_at_least_x():
    values = np.array([1, 3, 3, 7, 2, 5, 9], np.float32)  # segments [1, 3, 3, 7] and [2, 5, 9] ascending
    starts, ends = np.array([0, 4, 0]), np.array([4, 7, 0])
    assert count_at_least(values, starts, ends, np.array([3, 6, 1], np.float32)).tolist() == [3, 1, 0]
    desc = np.array([7, 3, 3, 1, 9, 5, 2], np.float32)
    assert count_at_least(desc, starts, ends, np.array([3, 6, 1], np.float32), descending=True).tolist() == [3, 1, 0]


@pytest.mark.parametrize("cls", ALL_BASELINES, ids=lambda c: c.name)
def test_sparse_scores_are_the_dense_scores(cls, retail_split):
    b = cls().fit(retail_split.train, retail_split.n_items, valid=tuning_sample(retail_split))
    hist = retail_split.histories("test")[0][:80]
    assert np.array_equal(b.sparse_scores(hist).dense().numpy(), b.score_batch(hist).numpy())


@pytest.mark.parametrize("exclude_seen", [False, True])
def test_every_baseline_ranks_exactly_as_the_dense_evaluation(retail_split, exclude_seen):
    hist, tgt = retail_split.histories("test")
    fitted = fit_all(retail_split.train, retail_split.n_items, valid=tuning_sample(retail_split),
                     exclude_seen=exclude_seen)
    for name, b in fitted.items():
        dense_metrics, dense_ranks = evaluate_with_ranks(b.score_batch, hist, tgt, retail_split.n_items, (10, 20),
                                                         exclude_seen)
        metrics, ranks = rank_baseline(b, hist, tgt, retail_split.n_items, (10, 20), exclude_seen)
        assert np.array_equal(ranks, dense_ranks), name
        for key, value in dense_metrics.items():
            # coverage may differ only where items tie on the K-th score (a dense top-k picks any of them)
            assert metrics[key] == pytest.approx(value, abs=0.01 if key.startswith("coverage") else 1e-9), (name, key)


def test_item_transitions_ranks_without_expanding_lists_match_the_expanded_ones(retail_split):
    """The last-item shortcut (sparse_ranks / sparse_top) against the generic per-user route, in small batches."""
    hist, tgt = retail_split.histories("test")
    b = ItemTransitions().fit(retail_split.train, retail_split.n_items)
    for exclude in (False, True):
        short = evaluate_sparse_with_ranks(b.sparse_scores, hist, tgt, retail_split.n_items, (5, 20), exclude, 64,
                                           b.sparse_ranks, b.sparse_top)
        generic = evaluate_sparse_with_ranks(b.sparse_scores, hist, tgt, retail_split.n_items, (5, 20), exclude, 64)
        assert np.array_equal(short[1], generic[1])
        assert short[0] == pytest.approx(generic[0])
