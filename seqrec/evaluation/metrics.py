"""Full-ranking metrics (no sampled negatives), pure and batched in torch.

Ties are pessimistic: every other item scoring >= the target is ranked ahead of it, so a constant scorer gets no
credit. A target that was masked out (exclude-seen) is never a hit.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch

MAX_SCORE_ELEMENTS = 1 << 23  # scores held at once while evaluating (~32 MB of float32)
MAX_EVAL_BATCH = 256  # histories scored at once: larger batches gain nothing and pad more
METRICS = ("recall", "mrr", "ndcg", "coverage")  # every metric evaluate_scorer reports, as f"{metric}@{k}"


def target_ranks(scores: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """1-based pessimistic rank of each row's target among all columns; +inf where the target's score is -inf.

    scores: (B, N) float; columns that must not be recommended are -inf. targets: (B,) column indices.
    """
    t = scores.gather(1, targets.view(-1, 1))
    ahead = (scores >= t).sum(dim=1) - 1  # the target itself is not ahead of itself
    ranks = (ahead + 1).to(torch.float64)
    invalid = torch.isneginf(t.view(-1)) | torch.isnan(t.view(-1))
    return torch.where(invalid, torch.full_like(ranks, math.inf), ranks)


def recall_at_k(ranks: torch.Tensor, k: int) -> float:
    """Share of targets ranked in the top k (with a single target this equals HitRate@k)."""
    return float((ranks <= k).double().mean()) if len(ranks) else 0.0


def mrr_at_k(ranks: torch.Tensor, k: int) -> float:
    """Mean reciprocal rank, counting ranks beyond k as 0."""
    return float(torch.where(ranks <= k, 1.0 / ranks, torch.zeros_like(ranks)).mean()) if len(ranks) else 0.0


def ndcg_at_k(ranks: torch.Tensor, k: int) -> float:
    """NDCG with one relevant item: 1 / log2(rank + 1) inside the top k, else 0 (the ideal DCG is 1)."""
    if not len(ranks):
        return 0.0
    return float(torch.where(ranks <= k, 1.0 / torch.log2(ranks + 1), torch.zeros_like(ranks)).mean())


def top_k(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k (values, indices) per row, never returning -inf (masked) columns; missing slots get index -1."""
    k = min(k, scores.shape[1])
    vals, idx = scores.topk(k, dim=1)
    return vals, torch.where(torch.isneginf(vals), torch.full_like(idx, -1), idx)


def default_eval_batch(n_items: int) -> int:
    """Histories per evaluation batch: at most MAX_EVAL_BATCH, and fewer for large catalogues so one batch's score
    matrix stays within MAX_SCORE_ELEMENTS (this is what bounds evaluation memory)."""
    return max(1, min(MAX_EVAL_BATCH, MAX_SCORE_ELEMENTS // (n_items + 1)))


def evaluate_scorer(score_batch: Callable[[list[np.ndarray]], torch.Tensor], histories: list[np.ndarray],
                    targets: np.ndarray, n_items: int, ks: Sequence[int] = (10, 20), exclude_seen: bool = False,
                    batch_size: int | None = None) -> dict:
    """Rank all items for each history and score the true next item.

    score_batch maps a list of index histories to a (B, n_items + 1) score tensor; column 0 is padding and never
    ranked. With exclude_seen, the items of each history are masked out before ranking.
    """
    return evaluate_with_ranks(score_batch, histories, targets, n_items, ks, exclude_seen, batch_size)[0]


def evaluate_with_ranks(score_batch: Callable[[list[np.ndarray]], torch.Tensor], histories: list[np.ndarray],
                        targets: np.ndarray, n_items: int, ks: Sequence[int] = (10, 20), exclude_seen: bool = False,
                        batch_size: int | None = None) -> tuple[dict, np.ndarray]:
    """evaluate_scorer's metrics and, from the same single scoring pass, each user's pessimistic target rank (float64,
    +inf when masked) in the order of `histories`: the per-user values behind every interval (`per_user_values`)."""
    ks = sorted(set(int(k) for k in ks))
    ranks, order, recommended = _rank_targets(score_batch, histories, targets, n_items, ks, exclude_seen, batch_size)
    unsorted = torch.empty_like(ranks)
    unsorted[torch.from_numpy(order)] = ranks  # back from evaluation order to the callers' order
    return _metrics_from(ranks, recommended, ks, n_items), unsorted.numpy()


def _metrics_from(ranks: torch.Tensor, recommended: dict, ks: list[int], n_items: int) -> dict:
    out = {}
    for k in ks:
        out[f"recall@{k}"] = recall_at_k(ranks, k)
    for k in ks:
        out[f"mrr@{k}"] = mrr_at_k(ranks, k)
    for k in ks:
        out[f"ndcg@{k}"] = ndcg_at_k(ranks, k)
    for k in ks:
        out[f"coverage@{k}"] = float(recommended[k].sum()) / max(1, n_items)
    return out


def mask_unrankable(scores: torch.Tensor, histories: list[np.ndarray], exclude_seen: bool) -> torch.Tensor:
    """In place: the padding column 0 and, with exclude_seen, each row's own history items set to -inf."""
    scores[:, 0] = -math.inf
    if exclude_seen:
        rows = np.repeat(np.arange(len(histories)), [len(h) for h in histories])
        cols = np.concatenate(histories) if len(histories) else np.zeros(0, dtype=np.int64)
        scores[torch.from_numpy(rows), torch.from_numpy(cols.astype(np.int64))] = -math.inf
    return scores


def _rank_targets(score_batch, histories, targets, n_items, ks, exclude_seen, batch_size):
    """Pessimistic target ranks in evaluation order (histories sorted by length), that order, and per K the items
    anyone got in their top K. The one scoring loop behind evaluate_scorer and per_user_metrics."""
    n_cols = n_items + 1
    if batch_size is None:
        batch_size = default_eval_batch(n_items)
    # Similar lengths together: a model pads each batch to its longest history, so sorted batches waste little
    # work on padding. The metrics are means over users (and coverage a union), so the order does not change them.
    order = np.argsort(np.fromiter((len(h) for h in histories), dtype=np.int64, count=len(histories)), kind="stable")
    histories = [histories[i] for i in order]
    targets = np.asarray(targets)[order] if len(order) else np.asarray(targets)
    all_ranks = []
    recommended = {k: torch.zeros(n_cols, dtype=torch.bool) for k in ks}
    for start in range(0, len(histories), batch_size):
        hist = histories[start: start + batch_size]
        # NaN -> -inf; keep +-inf as they are (nan_to_num would otherwise turn a masked -inf into a finite number)
        scores = torch.nan_to_num(score_batch(hist).detach().to("cpu", torch.float32), nan=-math.inf,
                                  posinf=math.inf, neginf=-math.inf)
        mask_unrankable(scores, hist, exclude_seen)
        tgt = torch.as_tensor(np.asarray(targets[start: start + batch_size], dtype=np.int64))
        all_ranks.append(target_ranks(scores, tgt))
        _, idx = top_k(scores, max(ks))
        for k in ks:
            got = idx[:, :k].reshape(-1)
            recommended[k][got[got > 0]] = True
    ranks = torch.cat(all_ranks) if all_ranks else torch.zeros(0, dtype=torch.float64)
    return ranks, order, recommended


PER_USER_METRICS = ("recall", "mrr", "ndcg")  # coverage is a property of the whole list, not of one user


def per_user_values(ranks: torch.Tensor, ks: Sequence[int]) -> dict[str, np.ndarray]:
    """f"{metric}@{k}" -> one float64 value per user (hit, reciprocal rank, NDCG); their means are the metrics."""
    out = {}
    for k in sorted(set(int(k) for k in ks)):
        hit = ranks <= k
        out[f"recall@{k}"] = hit.double().numpy()
        out[f"mrr@{k}"] = torch.where(hit, 1.0 / ranks, torch.zeros_like(ranks)).numpy()
        out[f"ndcg@{k}"] = torch.where(hit, 1.0 / torch.log2(ranks + 1), torch.zeros_like(ranks)).numpy()
    return out


def per_user_metrics(score_batch: Callable[[list[np.ndarray]], torch.Tensor], histories: list[np.ndarray],
                     targets: np.ndarray, n_items: int, ks: Sequence[int] = (10, 20), exclude_seen: bool = False,
                     batch_size: int | None = None) -> dict[str, np.ndarray]:
    """Like evaluate_scorer, but each metric as one value per user, in the order of `histories` (for bootstrap
    intervals and paired comparisons: two scorers on the same split give aligned arrays). No coverage."""
    ks = sorted(set(int(k) for k in ks))
    ranks, order, _ = _rank_targets(score_batch, histories, targets, n_items, ks, exclude_seen, batch_size)
    unsorted = torch.empty_like(ranks)
    unsorted[torch.from_numpy(order)] = ranks  # back from evaluation order to the callers' order
    return per_user_values(unsorted, ks)
