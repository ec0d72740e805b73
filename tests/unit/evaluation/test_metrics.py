"""Full-ranking metrics against hand-computed values and against an independent brute-force reference."""
import math

import numpy as np
import pytest
import torch

from seqrec.evaluation.metrics import evaluate_scorer, mrr_at_k, ndcg_at_k, recall_at_k, target_ranks
from seqrec.model.baselines import ItemTransitions, MostPopular

NEG = -math.inf


def table_scorer(histories, rows):
    """A scorer that returns a fixed score row per history (looked up by the history's contents)."""
    lookup = {tuple(int(x) for x in h): torch.tensor(r, dtype=torch.float32) for h, r in zip(histories, rows)}
    assert len(lookup) == len(histories), "test histories must be distinct"

    def score(batch):
        return torch.stack([lookup[tuple(int(x) for x in h)] for h in batch])

    return score


def run_table(histories, rows, targets, n_items, ks, exclude_seen=False, batch_size=None):
    histories = [np.asarray(h, dtype=np.int64) for h in histories]
    return evaluate_scorer(table_scorer(histories, rows), histories, np.asarray(targets), n_items, ks,
                           exclude_seen, batch_size=batch_size)


# ------------------------------------------------------------------------------------------------------------------
# Hand-computed cases
# ------------------------------------------------------------------------------------------------------------------

def test_constant_scorer_gets_no_credit_until_k_covers_the_catalogue():
    n = 5
    hist = [[1], [2], [3, 4]]
    rows = [[1.0] * (n + 1)] * 3
    m = run_table(hist, rows, [2, 5, 1], n, ks=(1, 4, 5, 10))
    for k in (1, 4):
        assert m[f"recall@{k}"] == 0.0 and m[f"mrr@{k}"] == 0.0 and m[f"ndcg@{k}"] == 0.0
    # Pessimistic: every target sits behind all 4 other (tied) items, i.e. at rank 5 = catalogue size.
    assert m["recall@5"] == 1.0 and m["recall@10"] == 1.0
    assert m["mrr@5"] == pytest.approx(1 / 5)
    assert m["ndcg@10"] == pytest.approx(1 / math.log2(6))


def test_constant_scorer_with_exclude_seen_ranks_behind_the_unseen_items_only():
    n = 5
    m = run_table([[1, 2]], [[1.0] * (n + 1)], [4], n, ks=(2, 3), exclude_seen=True)
    # items 1 and 2 are masked, so the target ties with 3 and 5 only: pessimistic rank 3
    assert m["recall@2"] == 0.0
    assert m["recall@3"] == 1.0
    assert m["mrr@3"] == pytest.approx(1 / 3)


def test_hand_computed_ranks_recall_mrr_ndcg_and_coverage():
    n = 6
    #        pad   1    2    3    4    5    6
    rows = [[9.0, 0.1, 0.9, 0.5, 0.3, 0.2, 0.0],   # target 2 -> rank 1
            [9.0, 0.5, 0.4, 0.9, 0.1, 0.4, 0.0],   # target 2 -> ahead: 3 (0.9), 1 (0.5), 5 (tie 0.4) -> rank 4
            [9.0, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1]]   # target 6 -> rank 6 (the last)
    m = run_table([[1], [3], [4]], rows, [2, 2, 6], n, ks=(1, 2, 3, 4, 5, 6, 10))
    assert m["recall@1"] == pytest.approx(1 / 3)
    assert m["recall@3"] == pytest.approx(1 / 3)
    assert m["recall@4"] == pytest.approx(2 / 3)
    assert m["recall@6"] == pytest.approx(1.0)
    # MRR is cut at K: the rank-4 hit counts from K=4 on, the rank-6 hit from K=6 on.
    assert m["mrr@3"] == pytest.approx(1 / 3)
    assert m["mrr@5"] == pytest.approx((1 + 1 / 4) / 3)
    assert m["mrr@10"] == pytest.approx((1 + 1 / 4 + 1 / 6) / 3)
    # NDCG with one relevant item: 1 / log2(rank + 1)
    assert m["ndcg@1"] == pytest.approx(1 / 3)
    assert m["ndcg@5"] == pytest.approx((1 + 1 / math.log2(5)) / 3)
    assert m["ndcg@10"] == pytest.approx((1 + 1 / math.log2(5) + 1 / math.log2(7)) / 3)
    # Coverage@K: share of the catalogue that appears in anyone's top K (padding column 0 never counts).
    assert m["coverage@1"] == pytest.approx(len({2, 3, 1}) / 6)
    assert m["coverage@2"] == pytest.approx(len({2, 3} | {3, 1} | {1, 2}) / 6)
    assert m["coverage@10"] == pytest.approx(1.0)


def test_k_larger_than_the_catalogue_is_allowed_and_caps_at_everything():
    n = 3
    rows = [[0.0, 0.3, 0.2, 0.1], [0.0, 0.1, 0.2, 0.3]]
    m = run_table([[1], [2]], rows, [3, 1], n, ks=(20, 100))
    assert m["recall@20"] == 1.0 and m["recall@100"] == 1.0
    assert m["mrr@20"] == pytest.approx(1 / 3)
    assert m["ndcg@100"] == pytest.approx(1 / math.log2(4))
    assert m["coverage@20"] == 1.0


def test_coverage_counts_only_items_actually_recommended():
    n = 4
    rows = [[0.0, 0.4, 0.3, 0.2, 0.1], [0.0, 0.1, 0.2, 0.3, 0.4]]
    # item 4 is in both histories: with exclude-seen nobody can be recommended it, however large K is
    m = run_table([[4], [4, 1]], rows, [1, 2], n, ks=(1, 10), exclude_seen=True)
    assert m["coverage@1"] == pytest.approx(2 / 4)  # {1} and {3}
    assert m["coverage@10"] == pytest.approx(3 / 4)  # {1, 2, 3}


def test_exclude_seen_makes_a_seen_target_a_certain_miss_and_removes_history_from_the_top_k():
    n = 5
    #        pad   1    2    3    4    5
    row = [0.0, 0.9, 0.8, 0.7, 0.6, 0.5]
    # target 1 (the best-scored item) was already in the history
    kept = run_table([[1, 2]], [row], [1], n, ks=(1, 5), exclude_seen=False)
    assert kept["recall@1"] == 1.0
    dropped = run_table([[1, 2]], [row], [1], n, ks=(1, 5), exclude_seen=True)
    assert dropped["recall@5"] == 0.0 and dropped["mrr@5"] == 0.0 and dropped["ndcg@5"] == 0.0
    # an unseen target moves up by the number of seen items that outscored it
    moved_off = run_table([[1, 2]], [row], [3], n, ks=(1, 2), exclude_seen=False)
    moved_on = run_table([[1, 2]], [row], [3], n, ks=(1, 2), exclude_seen=True)
    assert moved_off["recall@2"] == 0.0
    assert moved_on["recall@1"] == 1.0
    # history items leave the top K: both users' top 2 is {1, 2} without the mask, {3, 4} and {2, 4} with it
    hist = [[1, 2], [1, 3]]
    rows = [row, row]
    off = run_table(hist, rows, [5, 5], n, ks=(2,), exclude_seen=False)
    on = run_table(hist, rows, [5, 5], n, ks=(2,), exclude_seen=True)
    assert off["coverage@2"] == pytest.approx(2 / 5)  # both users get {1, 2}
    assert on["coverage@2"] == pytest.approx(3 / 5)   # {3, 4} and {2, 4}


def test_padding_column_and_nan_scores_are_never_ranked():
    n = 3
    rows = [[1e9, 0.1, 0.2, 0.3],            # huge padding score must not push the target down
            [0.0, float("nan"), 0.5, 0.2]]   # a NaN target score is a miss, not a hit
    m = run_table([[1], [2]], rows, [3, 1], n, ks=(1, 3))
    assert m["recall@1"] == pytest.approx(0.5)
    assert m["recall@3"] == pytest.approx(0.5)


def test_metric_functions_on_explicit_ranks():
    ranks = torch.tensor([1.0, 2.0, 3.0, math.inf], dtype=torch.float64)
    assert recall_at_k(ranks, 2) == pytest.approx(0.5)
    assert mrr_at_k(ranks, 2) == pytest.approx((1 + 0.5) / 4)
    assert mrr_at_k(ranks, 3) == pytest.approx((1 + 1 / 2 + 1 / 3) / 4)
    assert ndcg_at_k(ranks, 3) == pytest.approx((1 + 1 / math.log2(3) + 1 / math.log2(4)) / 4)
    scores = torch.tensor([[NEG, 0.5, 0.5, 0.1], [NEG, 0.2, NEG, 0.9]])
    assert target_ranks(scores, torch.tensor([1, 2])).tolist() == [2.0, math.inf]


# ------------------------------------------------------------------------------------------------------------------
# Randomized comparison against a brute-force reference
# ------------------------------------------------------------------------------------------------------------------

def reference_metrics(rows, histories, targets, n_items, ks, exclude_seen):
    """Pure-python ranking: mask, count items scoring >= the target, and the top-K sets (with tie bounds)."""
    ranks, lo_sets, hi_sets = [], {k: set() for k in ks}, {k: set() for k in ks}
    for row, hist, t in zip(rows, histories, targets):
        row = [NEG if (isinstance(v, float) and math.isnan(v)) else float(v) for v in row]
        masked = {0} | (set(int(h) for h in hist) if exclude_seen else set())
        live = [j for j in range(1, n_items + 1) if j not in masked and row[j] != NEG]
        if t in live:
            ranks.append(1 + sum(1 for j in live if j != t and row[j] >= row[t]))
        else:
            ranks.append(math.inf)
        ordered = sorted((row[j] for j in live), reverse=True)
        for k in ks:
            if not ordered:
                continue
            kth = ordered[min(k, len(ordered)) - 1]
            sure = [j for j in live if row[j] > kth]
            tied = [j for j in live if row[j] == kth]
            lo_sets[k].update(sure)
            if len(sure) + len(tied) <= k:
                lo_sets[k].update(tied)
            hi_sets[k].update(sure + tied)
    out = {}
    n = len(ranks)
    for k in ks:
        out[f"recall@{k}"] = sum(r <= k for r in ranks) / n
        out[f"mrr@{k}"] = sum(1 / r for r in ranks if r <= k) / n
        out[f"ndcg@{k}"] = sum(1 / math.log2(r + 1) for r in ranks if r <= k) / n
        out[f"coverage_lo@{k}"] = len(lo_sets[k]) / n_items
        out[f"coverage_hi@{k}"] = len(hi_sets[k]) / n_items
    return out


def random_case(rng, n_users, n_items, ties, neg_inf):
    histories, seen = [], set()
    while len(histories) < n_users:
        h = tuple(int(x) for x in rng.integers(1, n_items + 1, size=int(rng.integers(0, 7))))
        if h not in seen:
            seen.add(h)
            histories.append(h)
    if ties:
        rows = rng.integers(0, 4, size=(n_users, n_items + 1)).astype(np.float64)
    else:
        rows = rng.standard_normal((n_users, n_items + 1))
    if neg_inf:
        rows[rng.random(rows.shape) < 0.1] = NEG
    rows = rows.astype(np.float32).astype(np.float64)  # the scorer hands out float32: compare like with like
    # targets: often an item of the history (so exclude-seen matters), otherwise random
    targets = [int(rng.choice(h)) if h and rng.random() < 0.4 else int(rng.integers(1, n_items + 1))
               for h in histories]
    return histories, rows.tolist(), targets


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("exclude_seen", [False, True])
def test_evaluate_scorer_matches_brute_force_reference(seed, exclude_seen):
    rng = np.random.default_rng(seed)
    n_items = int(rng.integers(8, 30))
    n_users = int(rng.integers(20, 60))
    ties = seed % 2 == 0
    histories, rows, targets = random_case(rng, n_users, n_items, ties=ties, neg_inf=seed % 3 == 0)
    ks = (1, 3, 5, n_items + 4)
    ref = reference_metrics(rows, histories, targets, n_items, ks, exclude_seen)
    for batch_size in (1, 7, n_users - 1, n_users + 5):  # uneven splits of the users into batches
        got = run_table(histories, rows, targets, n_items, ks, exclude_seen, batch_size=batch_size)
        for k in ks:
            for name in ("recall", "mrr", "ndcg"):
                assert got[f"{name}@{k}"] == pytest.approx(ref[f"{name}@{k}"], abs=1e-9), (name, k, batch_size)
            cov = got[f"coverage@{k}"]
            assert ref[f"coverage_lo@{k}"] - 1e-12 <= cov <= ref[f"coverage_hi@{k}"] + 1e-12, (k, batch_size)
            if not ties:
                assert cov == pytest.approx(ref[f"coverage_lo@{k}"]), (k, batch_size)


# ------------------------------------------------------------------------------------------------------------------
# Baselines (they use the same scoring interface)
# ------------------------------------------------------------------------------------------------------------------

def test_baselines_score_popularity_and_transitions():
    seqs = [np.array([1, 2, 3]), np.array([1, 2, 4]), np.array([3, 1, 2]), np.array([4, 4])]
    pop = MostPopular().fit(seqs, n_items=5)
    s = pop.score_batch([np.array([3]), np.array([], dtype=np.int64)])
    assert s.shape == (2, 6)
    assert s[0].tolist() == [0, 3, 3, 2, 3, 0]  # counts; padding 0; item 5 unseen
    tr = ItemTransitions().fit(seqs, n_items=5)
    after1 = tr.score_batch([np.array([4, 1])])[0]
    assert int(after1.argmax()) == 2  # 1 -> 2 three times
    after3 = tr.score_batch([np.array([3])])[0]
    # 3 -> 1 once; nothing else follows 3, so the rest are ordered by popularity with item 1 on top
    assert int(after3.argmax()) == 1
    assert after3[2] > after3[5] and after3[4] > after3[5]
    assert after3[2] == after3[4]  # equal popularity, no transition: tie
    # an empty history falls back to popularity
    empty = tr.score_batch([np.array([], dtype=np.int64)])[0]
    assert torch.equal(empty, torch.from_numpy(pop.counts_))


def test_transition_scores_of_a_batch_equal_one_history_at_a_time():
    rng = np.random.default_rng(3)
    seqs = [rng.integers(1, 30, size=rng.integers(2, 12)) for _ in range(60)]
    tr = ItemTransitions().fit(seqs, n_items=30)
    histories = [rng.integers(1, 31, size=rng.integers(0, 5)) for _ in range(40)]
    batch = tr.score_batch(histories)
    for i, h in enumerate(histories):
        assert torch.equal(batch[i], tr.score_batch([h])[0])
        if len(h):  # the item that most often followed the last item is on top (when any did)
            follows = [s[j + 1] for s in seqs for j in range(len(s) - 1) if s[j] == h[-1]]
            if follows:
                counts = np.bincount(follows, minlength=31)
                assert counts[int(batch[i].argmax())] == counts.max()
