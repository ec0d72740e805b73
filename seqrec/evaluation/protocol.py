"""The evaluation protocol: one code path scores every model and every baseline on a leave-last-out split (all
items ranked, see seqrec.evaluation.metrics), and a saved run on a (possibly new) data file."""
from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch

from seqrec.config import TrainConfig
from seqrec.data.prepare import Interactions
from seqrec.data.split import SplitData, leave_last_out, pad_batch
from seqrec.evaluation import uncertainty
from seqrec.evaluation.metrics import evaluate_with_ranks
from seqrec.evaluation.sparse_ranks import ROWS_PER_BATCH, evaluate_sparse_with_ranks
from seqrec.evaluation.uncertainty import BaselineResults
from seqrec.model.baselines import ALL_BASELINES, ItemKNN, SessionKNN, fit_all
from seqrec.model.recurrent import SeqRecModel

TUNING_USERS = 2000  # ItemKNN chooses its K on a seeded sample of at most this many validation users
# Above this many test users every other baseline is scored on a seeded sample of them (metrics say `users_scored`):
# 2,000,000 users took 175 s and a 20.7 GB peak on the Compare page when every baseline was ranked
# through a dense users x items matrix; ranked from their sparse scores, 200,000 users x 20,000 items take about
# 1-12 CPU s per baseline (BENCHMARKS.md), and a 250,000-user sample gives each metric to about +-0.002 (95%).
BASELINE_MAX_USERS = 250_000
SESSION_KNN_MAX_USERS = 5000  # above this many test users, SessionKNN is scored on a seeded sample of them
# A trained model's test metrics and order check go through the network for every user scored: above this many
# test users they use a seeded sample (a Quick demo on a 300,000-user file would otherwise spend minutes after its
# 30 s of training); 50,000 users give Recall@20 to about +-0.004 (95%). The samples are nested (prefixes of one
# seeded permutation), so the model's users are among every baseline's and paired intervals compare the same users.
MODEL_TEST_MAX_USERS = 50_000


def user_sample(n_users: int, limit: int) -> np.ndarray | None:
    """Sorted indices of a seeded sample of `limit` of `n_users` test users, None when all fit. Nested: a smaller
    limit gives a subset of a larger one's sample."""
    if n_users <= limit:
        return None
    return np.sort(np.random.default_rng(0).permutation(n_users)[:limit])
BASELINE_NAMES = tuple(cls.name for cls in ALL_BASELINES)


def model_scorer(model: SeqRecModel, max_len: int, device: torch.device):
    """Adapter: list of index histories -> (B, n_items + 1) logits, the interface every scorer shares."""

    @torch.no_grad()
    def score(histories: list[np.ndarray]) -> torch.Tensor:
        items, lengths = pad_batch(histories, max_len)
        return model.score_last(torch.from_numpy(items).to(device), torch.from_numpy(lengths).to(device))

    return score


def score_model(model: SeqRecModel, split: SplitData, part: str, config: TrainConfig,
                device: torch.device | None = None, users: np.ndarray | None = None,
                shuffle_seed: int | None = None) -> tuple[dict, np.ndarray]:
    """(metrics, each user's target rank) of the model on a part of the split; with `shuffle_seed`, every history's
    order is shuffled (seeded) first: the order check."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    hist, tgt = split.histories(part)
    if users is not None:
        hist, tgt = [hist[i] for i in users], tgt[users]
    if shuffle_seed is not None:
        rng = np.random.default_rng(shuffle_seed)
        hist = [rng.permutation(h) for h in hist]
    try:
        return evaluate_with_ranks(model_scorer(model, config.max_len, device), hist, tgt, split.n_items,
                                   config.ks, config.exclude_seen)
    finally:
        model.train(was_training)


def score_model_sampled(model: SeqRecModel, split: SplitData, config: TrainConfig,
                        limit: int | None = None) -> tuple[dict, np.ndarray, np.ndarray | None]:
    """score_model on the test part, on a seeded sample of MODEL_TEST_MAX_USERS users when there are more: (metrics
    with `users_scored` when sampled, each user's rank with NaN for users not scored, the sample or None)."""
    n = len(split.users)
    pick = user_sample(n, MODEL_TEST_MAX_USERS if limit is None else limit)
    metrics, ranks = score_model(model, split, "test", config, users=pick)
    if pick is None:
        return metrics, ranks, None
    full = np.full(n, np.nan)
    full[pick] = ranks
    return {**metrics, "users_scored": int(len(pick))}, full, pick


def evaluate_model(model: SeqRecModel, split: SplitData, part: str, config: TrainConfig,
                   device: torch.device | None = None, users: np.ndarray | None = None) -> dict:
    return score_model(model, split, part, config, device, users)[0]


def order_check(score_batch, split: SplitData, exclude_seen: bool, ranks: np.ndarray | None = None,
                seed: int = 0, users: np.ndarray | None = None) -> dict:
    """Does order matter? Score the test histories as they are and with each one's order shuffled (seeded): the
    drop in Recall@20 and MRR@20 with its paired interval, and a sentence saying what it means. `ranks`: the
    unshuffled ranks when already known (of `users` only, when given: a sample of the test users)."""
    hist, tgt = split.histories("test")
    if users is not None:
        hist, tgt = [hist[i] for i in users], tgt[users]
    if ranks is None:
        ranks = evaluate_with_ranks(score_batch, hist, tgt, split.n_items, (20,), exclude_seen)[1]
    rng = np.random.default_rng(seed)
    shuffled = evaluate_with_ranks(score_batch, [rng.permutation(h) for h in hist], tgt, split.n_items, (20,),
                                   exclude_seen)[1]
    drops = {key: uncertainty.paired(ranks, shuffled, key) for key in uncertainty.ORDER_KEYS}
    originals = {key: float(uncertainty.metric_values(ranks, key).mean()) for key in drops}
    matters, sentence = uncertainty.order_words(drops, originals)
    out = {key: {"original": round(originals[key], 6),
                 "shuffled": round(float(uncertainty.metric_values(shuffled, key).mean()), 6),
                 "drop": round(d.estimate, 6), "ci95": [round(d.lo, 6), round(d.hi, 6)]} for key, d in drops.items()}
    return {**out, "order_matters": matters, "sentence": sentence, "seed": seed,
            **({"users_scored": int(len(users))} if users is not None else {})}


def model_order_check(model: SeqRecModel, split: SplitData, config: TrainConfig, ranks: np.ndarray | None = None,
                      seed: int = 0, users: np.ndarray | None = None) -> dict:
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        return order_check(model_scorer(model, config.max_len, device), split, config.exclude_seen, ranks, seed,
                           users)
    finally:
        model.train(was_training)


def tuning_sample(split: SplitData, users: int = TUNING_USERS, seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """Validation (histories, targets) of a seeded sample of at most `users` users (ItemKNN's choice of K)."""
    hist, tgt = split.histories("valid")
    if len(hist) > users:
        pick = np.sort(np.random.default_rng(seed).choice(len(hist), users, replace=False))
        hist, tgt = [hist[i] for i in pick], tgt[pick]
    return hist, tgt


def fit_baselines(split: SplitData, exclude_seen: bool = False) -> dict:
    """name -> every baseline (ALL_BASELINES, display order) fitted on the split's training parts; ItemKNN chooses
    its K on a validation sample under `exclude_seen` (evaluate_baselines re-chooses it for the other protocol)."""
    fitted = fit_all(split.train, split.n_items, valid=tuning_sample(split), exclude_seen=exclude_seen)
    fitted["item_knn"].tuned_for_ = bool(exclude_seen)
    return fitted


def _for_protocol(baseline, split: SplitData, exclude_seen: bool):
    """ItemKNN re-chooses K under the evaluation's exclude-seen setting (a shallow copy: the similarities are
    shared, not recomputed); every other baseline is used as fitted."""
    if isinstance(baseline, ItemKNN) and getattr(baseline, "tuned_for_", None) != bool(exclude_seen):
        baseline = copy.copy(baseline)
        baseline.tune(*tuning_sample(split), exclude_seen)
        baseline.tuned_for_ = bool(exclude_seen)
    return baseline


def rank_baseline(baseline, histories: list[np.ndarray], targets: np.ndarray, n_items: int, ks: Sequence[int],
                  exclude_seen: bool) -> tuple[dict, np.ndarray]:
    """A baseline's metrics and per-user ranks. From its sparse scores (work in what it stores, not users x items:
    seqrec.evaluation.sparse_ranks; the ranks equal the dense evaluation's), except SessionKNN: its neighbour search
    already holds a (batch x items) matrix and it is scored on a sample of users, so it keeps the dense path."""
    if isinstance(baseline, SessionKNN) or not hasattr(baseline, "sparse_scores"):
        return evaluate_with_ranks(baseline.score_batch, histories, targets, n_items, ks, exclude_seen)
    return evaluate_sparse_with_ranks(baseline.sparse_scores, histories, targets, n_items, ks, exclude_seen,
                                      ROWS_PER_BATCH, getattr(baseline, "sparse_ranks", None),
                                      getattr(baseline, "sparse_top", None))


def evaluate_baselines(split: SplitData, ks: Sequence[int], exclude_seen: bool, part: str = "test",
                       fitted: dict | None = None) -> BaselineResults:
    """Every baseline (fitted on the training parts unless given) scored through the model's evaluation code, with
    each user's target rank. SessionKNN is scored on a seeded sample of SESSION_KNN_MAX_USERS users when there are
    more (its metrics then say `users_scored`), so a 200,000-user log still scores in seconds."""
    hist, tgt = split.histories(part)
    fitted = fitted if fitted is not None else fit_baselines(split, exclude_seen)
    metrics, ranks = {}, {}
    for name, b in fitted.items():
        b = _for_protocol(b, split, exclude_seen)
        limit = SESSION_KNN_MAX_USERS if isinstance(b, SessionKNN) else BASELINE_MAX_USERS
        metrics[name], ranks[name] = rank_on_sample(
            lambda h, t, b=b: rank_baseline(b, h, t, split.n_items, ks, exclude_seen), hist, tgt, limit)
    return BaselineResults(metrics, ranks)


def rank_on_sample(rank, histories: list[np.ndarray], targets: np.ndarray, limit: int) -> tuple[dict, np.ndarray]:
    """`rank(histories, targets)` -> (metrics, ranks) on every user, or on the seeded sample of `limit` users when
    there are more (time and memory bounded whatever the upload): the metrics then say `users_scored`, and users
    outside the sample get a NaN rank."""
    pick = user_sample(len(histories), limit)
    if pick is None:
        return rank(histories, targets)
    metrics, sampled = rank([histories[i] for i in pick], targets[pick])
    ranks = np.full(len(histories), np.nan)
    ranks[pick] = sampled
    return {**metrics, "users_scored": int(len(pick))}, ranks


def remap_split(split: SplitData, vocab) -> tuple[SplitData, int]:
    """Re-express a split in another vocabulary; items the vocabulary lacks become 0 (dropped from histories, and a
    certain miss as targets). Returns the split and how many distinct items were unknown."""
    lookup = np.zeros(split.n_items + 1, dtype=np.int64)
    known = 0
    for i, raw in enumerate(split.vocab.ids, start=1):
        c, unk = vocab.encode([raw])
        if not unk:
            lookup[i] = c[0]
            known += 1
    train = [lookup[t][lookup[t] > 0] for t in split.train]
    out = SplitData(vocab=vocab, users=split.users, train=train, valid_target=lookup[split.valid_target],
                    test_target=lookup[split.test_target])
    return out, split.n_items - known


def evaluate_run_on(run, data: Interactions, exclude_seen: bool | None = None) -> dict:
    exclude = run.config.exclude_seen if exclude_seen is None else exclude_seen
    config = run.config.replace(exclude_seen=exclude)
    split, unknown = remap_split(leave_last_out(data), run.vocab)
    test, ranks = score_model(run.model, split, "test", config)
    baselines = evaluate_baselines(split, config.ks, exclude)
    return {"model": run.config.model, "name": run.name,
            "dataset": {"users": data.n_users, "items": data.n_items, "interactions": len(data),
                        "items_unknown_to_run": unknown},
            "metrics": test, "metrics_ci95": uncertainty.ci_json(uncertainty.metric_intervals(ranks, config.ks)),
            "baselines": baselines,
            "comparison": uncertainty.comparison(ranks, baselines, baselines.ranks, run.comparison_key)}
