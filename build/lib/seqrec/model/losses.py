"""The training losses: cross-entropy of each next item against the whole catalogue (computed over chunks of
positions), or sampled softmax against popularity-drawn negatives for large catalogues, and the sampler that draws
those negatives."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from seqrec.config import TrainConfig
from seqrec.data.split import SplitData
from seqrec.model.recurrent import SeqRecModel

MAX_LOGITS_PER_STEP = 1 << 25  # most logits materialised at once (~128 MB of float32); bigger batches are split
CHUNK_LOGITS = 1 << 21  # preferred logits per chunk (~8 MB): a chunk that stays in cache makes a step 1.4-1.6x faster
MIN_CHUNK_POSITIONS = 256  # ... but no thinner than this, or the output matmuls get inefficient (large catalogues)


def loss_chunk_positions(n_items: int) -> int:
    """Positions whose full-softmax logits are computed at once (see CHUNK_LOGITS; at most MAX_LOGITS_PER_STEP)."""
    cols = n_items + 1
    return max(1, min(max(MIN_CHUNK_POSITIONS, CHUNK_LOGITS // cols), MAX_LOGITS_PER_STEP // cols))


SAMPLE_ALPHA = 0.75  # sampled loss: negatives are drawn with probability ~ count ** SAMPLE_ALPHA (word2vec's choice)


class NegativeSampler:
    """Draws the shared negatives of one batch for the sampled loss: items by popularity ** SAMPLE_ALPHA, from the
    run's own seeded generator, with log Q (expected draws per item) for the sampled-softmax correction."""

    def __init__(self, train: list[np.ndarray], n_items: int, negatives: int, seed: int,
                 device: torch.device | None = None):
        counts = np.bincount(np.concatenate(train) if train else np.zeros(0, dtype=np.int64),
                             minlength=n_items + 1)[: n_items + 1].astype(np.float64)
        weights = (counts + 1.0) ** SAMPLE_ALPHA  # +1: items seen only as targets can still be drawn
        weights[0] = 0.0  # never the padding index
        self.probs = torch.from_numpy(weights / weights.sum()).to(torch.float32)
        self.negatives = int(negatives)
        self.generator = torch.Generator().manual_seed(int(seed) + 1)
        self.log_expected = torch.log(self.probs.clamp_min(1e-30) * self.negatives).to(device or "cpu")
        self.device = device or torch.device("cpu")

    def draw(self) -> torch.Tensor:
        """(negatives,) item indices, with replacement (the correction accounts for repeats)."""
        return torch.multinomial(self.probs, self.negatives, replacement=True, generator=self.generator) \
            .to(self.device)


def full_softmax_loss(model: SeqRecModel, hidden: torch.Tensor, targets: torch.Tensor,
                      steps: tuple | None = None) -> torch.Tensor:
    """Summed cross-entropy of each target against the whole catalogue. With repeat scores, steps = (rows, row_of,
    pos): the batch's input rows (B, T), and each position's row and place in it (R,)."""
    logits = model.output(hidden)
    if model.repeat is not None:
        logits = model.repeat.add_to(logits, hidden, *steps)
    return F.cross_entropy(logits, targets, reduction="sum")


def sampled_softmax_loss(model: SeqRecModel, hidden: torch.Tensor, targets: torch.Tensor, negatives: torch.Tensor,
                         log_expected: torch.Tensor) -> torch.Tensor:
    """Summed sampled-softmax cross-entropy: each target against the batch's shared popularity-drawn negatives,
    logits corrected by log(expected draws) so the softmax estimate is unbiased for the full one (Jean et al. 2015);
    a negative that is the row's own target ("accidental hit") is masked out."""
    w, b = model.output.weight, model.output.bias
    pos = (hidden * w[targets]).sum(1) + b[targets] - log_expected[targets]
    neg = hidden @ w[negatives].T + (b[negatives] - log_expected[negatives])
    neg = neg.masked_fill(negatives.view(1, -1) == targets.view(-1, 1), -math.inf)
    logits = torch.cat([pos.view(-1, 1), neg], dim=1)
    return F.cross_entropy(logits, torch.zeros_like(targets), reduction="sum")


def make_sampler(split: SplitData, config: TrainConfig, device: torch.device) -> NegativeSampler | None:
    """The negative sampler of a sampled-loss run (None for the full softmax, or when the catalogue is not larger
    than the number of negatives: then the full softmax is both exact and no slower)."""
    if config.loss != "sampled" or config.negatives >= split.n_items:
        return None
    return NegativeSampler(split.train, split.n_items, config.negatives, config.seed, device)
