"""Peak training memory, estimated before training starts, and a budget that refuses what would not fit.

A too-big catalogue or batch must not take a shared server down: `check_training_memory` runs before any tensor is
allocated (train_run and the job queue call it) and refuses, in one sentence, a configuration whose estimate is over
the budget, with the estimate, the budget and a change that would fit.

The estimate follows what training (seqrec.training.loop, seqrec.model.losses) really allocates (float32 everywhere):
- static: weights, their gradients (dense, the embedding included), Adam's two moments, the best-epoch copy of the
  weights, and the int64 matrix of training windows;
- plus the larger of one training step and one validation pass (they never overlap):
  - step: the recurrent activations of the whole batch (B x T positions) and the logits of one loss chunk with the
    softmax buffers cross-entropy keeps for the backward pass; the full-softmax loss scores positions against the whole
    catalogue in chunks of `losses.loss_chunk_positions` positions (the sampled loss: against its shared negatives, all
    positions at once), so the chunk, not the batch, sets the logits' size (with repeat scores, one more copy);
  - validation: the hidden states of one scoring batch and its (rows x n_items+1) score matrix with its copies.
The factors below were measured (peak RSS growth of a 1-epoch training; see RELIABILITY.md): the estimate is within
a factor of 2 of reality, and on the high side.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from seqrec.config import TrainConfig
from seqrec.errors import SeqrecError
from seqrec.evaluation.metrics import MAX_SCORE_ELEMENTS
from seqrec.model.losses import loss_chunk_positions
from seqrec.model.recurrent import REPEAT_DECAYS, has_repeat_scores
from seqrec.runtime import ServerSettings, machine_memory_bytes, worker_count

FLOAT = 4  # bytes per float32
INDEX = 8  # bytes per int64
GATES = {"rnn": 1, "gru": 3, "lstm": 4}
LOGIT_COPIES = 3  # peak of one chunk: the log-softmax kept for backward, its gradient, the logits' gradient
REPEAT_COPIES = 1  # with repeat scores: the logits plus the scores (a new tensor; the slot scores are small)
EMBED_COPIES = 3  # embedding output, dropout mask, dropped output (and its gradient)
CELL_COPIES_EXTRA = 4  # per layer beyond the gates: output, dropout mask, dropped output, gradient
HIDDEN_COPIES = 3  # the top hidden states of the real positions, their detached copy and its gradient
SCORE_COPIES = 3  # scores, NaN-cleaned copy, comparison mask while ranking
MB = 1 << 20

BUDGET_ENV = ServerSettings.variables()["memory_budget_mb"].env
BUDGET_SHARE = 0.5  # share of the machine's memory that all concurrent trainings together may use
BUDGET_CAP_MB = 4096  # no single CPU training needs more: beyond it, it would take hours anyway


@dataclass(frozen=True)
class DataShape:
    """What of the data sets training memory: catalogue size and per-user training lengths (+ item counts, only to
    suggest a minimum item count)."""

    n_items: int
    train_lengths: np.ndarray  # per user, the training part's length (all but the last two items)
    item_counts: np.ndarray | None = None  # interactions per item (index order), optional

    @classmethod
    def of(cls, split) -> DataShape:
        """The shape of a SplitData (cheap: lengths only, no copy of the sequences)."""
        lengths = np.fromiter((len(t) for t in split.train), dtype=np.int64, count=len(split.train))
        return cls(n_items=int(split.n_items), train_lengths=lengths)

    def with_item_counts(self, split) -> DataShape:
        """Same shape plus interactions per item (train + validation + test targets)."""
        flat = np.concatenate(list(split.train) + [split.valid_target, split.test_target])
        counts = np.bincount(flat.astype(np.int64), minlength=self.n_items + 1)[1:]
        return DataShape(self.n_items, self.train_lengths, counts)


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes per part; `total` is the estimated peak of one training."""

    weights: int
    gradients: int
    optimizer: int
    best_copy: int
    windows: int
    step: int
    validation: int

    @property
    def catalogue_bound(self) -> int:
        """The parts that grow with the weights (mostly the catalogue: embedding + output layer)."""
        return self.weights + self.gradients + self.optimizer + self.best_copy

    @property
    def total(self) -> int:
        return self.catalogue_bound + self.windows + max(self.step, self.validation)

    def parts(self) -> dict[str, int]:
        return {"weights": self.weights, "gradients": self.gradients, "optimizer": self.optimizer,
                "best_copy": self.best_copy, "windows": self.windows, "step": self.step,
                "validation": self.validation, "total": self.total}


def parameter_count(n_items: int, config: TrainConfig) -> int:
    """Parameters of SeqRecModel(n_items, config), computed without building it."""
    v, e, h, g = n_items + 1, config.embedding_dim, config.hidden_size, GATES[config.model]
    cells = sum(g * h * ((e if layer == 0 else h) + h + 2) for layer in range(config.layers))
    norm = 2 * h if config.layer_norm else 0
    output = (h * e + e) if config.tie_weights else h * v  # tied: a projection to the embedding, no own weights
    k = len(REPEAT_DECAYS)
    repeat = ((e if config.tie_weights else h) * k + 2 * k) if has_repeat_scores(config) else 0  # gates and decays
    return v * e + cells + norm + output + v + repeat



def window_counts(train_lengths: np.ndarray, max_len: int) -> tuple[int, int]:
    """(number of training windows, their padded width) exactly as loop.training_windows cuts them."""
    w = max_len + 1
    n = train_lengths[train_lengths >= 2]
    if not len(n):
        return 0, 0
    extra = np.where(n > w, np.ceil((n - w) / (w - 1)), 0)
    return int(len(n) + extra.sum()), int(min(w, n.max()))


def _loss_columns_and_rows(config: TrainConfig, n_items: int, tokens: int) -> tuple[int, int]:
    """(score columns, positions scored at once) of the loss in loop.batch_loss_backward: the full softmax scores
    every item over chunks of `loss_chunk_positions` positions; the sampled one scores the target and the
    batch's shared negatives for all positions at once."""
    negatives = int(getattr(config, "negatives", 0) or 0)
    if getattr(config, "loss", "full") == "sampled" and negatives < n_items:
        return negatives + 1, tokens
    return n_items + 1, min(tokens, loss_chunk_positions(n_items))


def _eval_rows(n_cols: int) -> int:
    """Histories scored at once while validating (metrics.evaluate_scorer)."""
    return max(1, min(1024, MAX_SCORE_ELEMENTS // n_cols))


def estimate_training_memory(shape: DataShape, config: TrainConfig) -> MemoryEstimate:
    """Peak bytes one training of `config` on data of `shape` allocates (see the module docstring)."""
    p = parameter_count(shape.n_items, config)
    n_cols = shape.n_items + 1
    n_windows, width = window_counts(shape.train_lengths, config.max_len)
    steps = max(1, width - 1)
    per_position = (EMBED_COPIES * config.embedding_dim
                    + config.layers * config.hidden_size * (GATES[config.model] + CELL_COPIES_EXTRA))
    tokens = config.batch_size * steps  # the recurrent part runs once over the whole batch
    cols, rows = _loss_columns_and_rows(config, shape.n_items, tokens)
    copies = LOGIT_COPIES + (REPEAT_COPIES if has_repeat_scores(config) else 0)
    step = FLOAT * (tokens * (per_position + HIDDEN_COPIES * config.hidden_size) + copies * rows * cols)
    eval_rows = _eval_rows(n_cols)
    eval_steps = min(config.max_len, int(shape.train_lengths.max()) + 1 if len(shape.train_lengths) else 1)
    # no gradients while validating: one layer's input and output per position at a time
    score_copies = SCORE_COPIES + (REPEAT_COPIES if has_repeat_scores(config) else 0)
    validation = FLOAT * eval_rows * (score_copies * n_cols
                                      + eval_steps * (config.embedding_dim + 2 * config.hidden_size))
    return MemoryEstimate(weights=FLOAT * p, gradients=FLOAT * p, optimizer=2 * FLOAT * p, best_copy=FLOAT * p,
                          windows=INDEX * n_windows * width, step=step, validation=validation)


# ------------------------------------------------------------------------------------------------------------------
# The budget
# ------------------------------------------------------------------------------------------------------------------

def memory_budget_bytes(workers: int | None = None) -> int:
    """Bytes one training may use: SEQREC_MEMORY_BUDGET_MB, else half the machine's memory shared by the trainings
    that may run at once (SEQREC_WORKERS), capped at 4 GB (2 GB when the machine's memory is unknown)."""
    mb = ServerSettings.read("memory_budget_mb")  # a bad value is its own sentence
    if mb is not None:
        return int(mb * MB)
    if workers is None:
        workers = worker_count()
    total = machine_memory_bytes()
    if total is None:
        return 2048 * MB
    return int(min(BUDGET_CAP_MB * MB, total * BUDGET_SHARE / max(1, workers)))


# ------------------------------------------------------------------------------------------------------------------
# The check and its suggestion
# ------------------------------------------------------------------------------------------------------------------

def human_bytes(n: float) -> str:
    """'850 MB' / '5.9 GB': how the sentence states sizes."""
    return f"{n / (1 << 30):.1f} GB" if n >= (1 << 30) else f"{max(1, round(n / MB)):,} MB"


def _halvings(value: int, floor: int) -> list[int]:
    out = []
    while value // 2 >= floor:
        value //= 2
        out.append(value)
    return out


def _max_items_within(shape: DataShape, config: TrainConfig, budget: int) -> int:
    """The largest catalogue that fits the budget with this config (0 when even one item does not)."""
    def fits(n: int) -> bool:
        return estimate_training_memory(DataShape(n, shape.train_lengths), config).total <= budget

    if not fits(1):
        return 0
    lo, hi = 1, max(1, shape.n_items)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid - 1)
    return lo


def _min_count_for(item_counts: np.ndarray | None, max_items: int) -> int | None:
    """The smallest minimum item count that leaves at most max_items items (None when counts are unknown or no
    count can do it without dropping every item)."""
    if item_counts is None or max_items <= 0 or not len(item_counts):
        return None
    ordered = np.sort(item_counts)[::-1]
    if max_items >= len(ordered):
        return 1
    needed = int(ordered[max_items]) + 1  # every item at or below the first one that must go is dropped
    return needed if needed > 1 and (item_counts >= needed).any() else None


def suggestion(shape: DataShape, config: TrainConfig, budget: int) -> str:
    """One concrete change that brings the estimate within the budget, aimed at the part that dominates."""
    est = estimate_training_memory(shape, config)

    def fits(cfg: TrainConfig) -> int | None:
        total = estimate_training_memory(shape, cfg).total
        return total if total <= budget else None

    knobs: list[tuple[str, TrainConfig]] = []
    batch = [(f"batch size {b}", config.replace(batch_size=b)) for b in _halvings(config.batch_size, 8)]
    length = [(f"max history length {m}", config.replace(max_len=m)) for m in _halvings(config.max_len, 10)]
    sizes = [(f"embedding size {max(4, config.embedding_dim >> i)} and hidden size {max(4, config.hidden_size >> i)}",
              config.replace(embedding_dim=max(4, config.embedding_dim >> i),
                             hidden_size=max(4, config.hidden_size >> i))) for i in range(1, 6)]
    if est.catalogue_bound >= max(est.step, est.validation, est.windows):
        knobs = sizes
    elif est.windows >= max(est.step, est.validation):
        knobs = length + batch
    else:
        knobs = batch + length + sizes
    both = [(f"{s_text} with batch size {b}", s_cfg.replace(batch_size=b))  # when no single change is enough
            for s_text, s_cfg in sizes for b in [config.batch_size] + _halvings(config.batch_size, 8)]
    for text, cfg in knobs + both:
        if (total := fits(cfg)) is not None:
            fix = f"use {text} (about {human_bytes(total)})"
            break
    else:
        fix = ""
    max_items = _max_items_within(shape, config, budget)
    fewer = ""
    if 0 < max_items < shape.n_items:
        count = _min_count_for(shape.item_counts, max_items)
        where = "the minimum item count (a data filter, or --min-item-count)"
        if count:
            kept = int((shape.item_counts >= count).sum())
            fewer = f"raise {where} to {count}, which keeps {kept:,} of the {shape.n_items:,} items"
        elif shape.item_counts is None:
            fewer = f"raise {where} so at most about {max_items:,} of the {shape.n_items:,} items remain"
    if est.catalogue_bound >= max(est.step, est.validation, est.windows):
        parts = [p for p in (fewer, fix) if p]
    else:
        parts = [p for p in (fix, fewer) if p]
    return ", or ".join(parts) if parts else "use a smaller model, batch and history length, and fewer items"


def _dominant_part(shape: DataShape, est: MemoryEstimate) -> str:
    biggest = max(("catalogue", est.catalogue_bound), ("windows", est.windows),
                  ("step", max(est.step, est.validation)), key=lambda kv: kv[1])[0]
    return {"catalogue": f"mostly the {shape.n_items:,}-item catalogue's embedding and output layer with their "
                         f"gradients and Adam state, {human_bytes(est.catalogue_bound)}",
            "windows": f"mostly the training windows of the long histories, {human_bytes(est.windows)}",
            "step": f"mostly one batch's recurrent states over its histories and its scores over the "
                    f"{shape.n_items:,} items, {human_bytes(max(est.step, est.validation))}"}[biggest]


def check_training_memory(split_or_shape, config: TrainConfig, budget: int | None = None) -> MemoryEstimate:
    """Refuse (SeqrecError, one sentence) a training whose estimated peak memory exceeds the budget; returns the
    estimate otherwise. Cheap: no tensor is allocated."""
    shape = split_or_shape if isinstance(split_or_shape, DataShape) else DataShape.of(split_or_shape)
    budget = memory_budget_bytes() if budget is None else budget
    est = estimate_training_memory(shape, config)
    if est.total <= budget:
        return est
    if shape.item_counts is None and not isinstance(split_or_shape, DataShape):
        shape = shape.with_item_counts(split_or_shape)
    raise SeqrecError(f"This training would need about {human_bytes(est.total)} of memory "
                      f"({_dominant_part(shape, est)}), more than the {human_bytes(budget)} allowed per training "
                      f"(set by {BUDGET_ENV}); {suggestion(shape, config, budget)}.")
