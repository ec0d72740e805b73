"""A hybrid scorer: the network's next-item probabilities blended with a neighbourhood method's scores.

Neighbourhood methods are hard to beat on short sessions and sparse logs, and they fail where the network is strong
(long-range order, rare co-occurrences); the articles this product grew from propose blending the two. Both parts are
made distributions over the catalogue first, so one weight means the same on every log:

    score(j) = (1 - w) * softmax(network logits)(j) + w * knn(j) / sum_i knn(i)

A history whose neighbourhood scores are all zero (no training sequence shares an item) gets the network's
probabilities, scaled by (1 - w): the ranking is the network's. Column 0 (padding) is never a candidate.

    >>> import numpy as np, torch
    >>> logits = lambda hs: torch.tensor([[0.0, 0.0, 0.0]] * len(hs))      # the network: indifferent
    >>> class Knn:  # a neighbourhood scorer that likes item 2
    ...     def raw_scores(self, hs): return np.array([[0.0, 0.0, 3.0]] * len(hs))
    >>> HybridScorer(logits, Knn(), 0.5).score_batch([np.array([1])])
    tensor([[0.0000, 0.2500, 0.7500]])
"""
from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch

# The blend weights tried on validation: 0 is the network alone, 1 the neighbourhood method alone.
WEIGHT_GRID = tuple(round(0.1 * i, 1) for i in range(11))


def network_probabilities(logits: torch.Tensor) -> torch.Tensor:
    """(B, n_items + 1) float32 softmax over the items, the padding column 0 excluded (probability 0)."""
    logits = logits.detach().to("cpu", torch.float32).clone()
    logits[:, 0] = -math.inf
    return torch.softmax(logits, dim=1)


def neighbour_distribution(raw: np.ndarray) -> torch.Tensor:
    """Each row of non-negative neighbourhood scores divided by its sum (rows summing to 0 stay 0); column 0 is 0."""
    raw = np.asarray(raw, dtype=np.float64).copy()
    raw[:, 0] = 0.0
    total = raw.sum(axis=1, keepdims=True)
    return torch.from_numpy(np.divide(raw, total, out=np.zeros_like(raw), where=total > 0).astype(np.float32))


def blend(probs: torch.Tensor, neighbours: torch.Tensor, weight: float) -> torch.Tensor:
    return (1.0 - float(weight)) * probs + float(weight) * neighbours


class HybridScorer:
    """score_batch for a network (histories -> logits) and a fitted neighbourhood method (`raw_scores(histories)`,
    e.g. seqrec.model.baselines.SessionKNN), blended with `weight`."""

    def __init__(self, network: Callable[[list[np.ndarray]], torch.Tensor], neighbours, weight: float):
        if not 0.0 <= float(weight) <= 1.0:
            raise ValueError(f"the blend weight must lie in [0, 1] (got {weight!r})")
        self.network, self.neighbours, self.weight = network, neighbours, float(weight)

    def parts(self, histories: list[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        """(network probabilities, neighbourhood distribution) of a batch, both (B, n_items + 1)."""
        return network_probabilities(self.network(histories)), \
            neighbour_distribution(self.neighbours.raw_scores(histories))

    def score_batch(self, histories: list[np.ndarray]) -> torch.Tensor:
        return blend(*self.parts(histories), self.weight)
