"""The recommender: item embedding -> recurrent cell (RNN / LSTM / GRU) -> scores over all items.

Only modules live here. Each layer is its own single-layer fused PyTorch module so dropout between layers can draw
from the run's own random generator (reproducible even when several trainings share a process).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from seqrec.config import AUTO_DROPOUT, TrainConfig

CELL_CLASSES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
REPEAT_DECAYS = (0.5, 0.95)  # initial decays of the repeat scores: the last few steps, and the whole history


MASK_LEVELS = 1 << 16  # a NumPy-drawn dropout mask compares 16-bit draws: p is used to within 1 / 65,536


def seeded_dropout(x: torch.Tensor, p: float, training: bool,
                   generator: torch.Generator | np.random.Generator | None) -> torch.Tensor:
    """Inverted dropout whose mask comes from the run's own `generator` (nn.Dropout would use the process-wide RNG).
    With a NumPy generator (the trainer's choice on the CPU) the mask is four 16-bit draws per 64-bit PCG64 output,
    ~20x cheaper than torch's `bernoulli_` there (which cost ~10% of a training step); a torch generator (GPUs) draws
    with `bernoulli_` on the tensor's device."""
    if not training or p <= 0:
        return x
    if isinstance(generator, np.random.Generator):
        drop = min(MASK_LEVELS, round(p * MASK_LEVELS))  # units whose draw is below this are dropped
        n = x.numel()
        draws = generator.bit_generator.random_raw((n + 3) // 4).view(np.uint16)[:n]
        keep = torch.from_numpy(draws >= drop).view(x.shape).to(x.device)
        return x * keep * (MASK_LEVELS / max(1, MASK_LEVELS - drop))
    keep = torch.empty_like(x).bernoulli_(1 - p, generator=generator)
    return x * keep / (1 - p)


class TiedOutput(nn.Module):
    """The output layer of a tied model: logits = x @ embedding.T + bias, with `weight` and `bias` like nn.Linear's
    (the sampled loss reads them)."""

    def __init__(self, embedding: nn.Embedding):
        super().__init__()
        # not registered as a submodule: the model owns the embedding, so its weight is saved once (safetensors
        # refuses two names for one tensor) and moved to a device with the model
        object.__setattr__(self, "_embedding", embedding)
        self.bias = nn.Parameter(torch.zeros(embedding.num_embeddings))

    @property
    def weight(self) -> torch.Tensor:
        return self._embedding.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self._embedding.weight, self.bias)


class RepeatScores(nn.Module):
    """Repeat-aware scores (after RepeatNet, Ren et al. 2019): an item already in the history gets, on top of the
    network's logit, sum_k gate_k(h) * log(1 + sum of decay_k ** age over its earlier occurrences), with K learned
    decays and gates read from the hidden state h; items not in the history get nothing. A recurrent state of a
    hundred units cannot remember which of thousands of items the user already chose; this term can, and the network
    learns per step how much a repeat is likely (a negative gate pushes seen items down)."""

    def __init__(self, width: int, decays: tuple[float, ...] = REPEAT_DECAYS):
        super().__init__()
        self.decay_logits = nn.Parameter(torch.logit(torch.tensor(decays, dtype=torch.float32)))
        self.gate = nn.Linear(width, len(decays))
        nn.init.zeros_(self.gate.weight)
        nn.init.zeros_(self.gate.bias)

    def slot_scores(self, h: torch.Tensor, rows: torch.Tensor, row_of: torch.Tensor,
                    pos: torch.Tensor) -> torch.Tensor:
        """(R, T) repeat score of each history slot for R steps: h (R, W) their states, rows (U, T) the item rows
        they read (step r reads rows[row_of[r]] up to position pos[r]). Only the first occurrence of an item holds
        its score (so adding the slots into item columns counts each item once); later slots, repeats, slots after
        pos and padding hold 0. Computed on the rows' T slots, never on the whole catalogue."""
        used, row_of = torch.unique(row_of, return_inverse=True)  # a loss chunk reads a few rows of its batch
        rows = rows[used]
        t = rows.shape[1]
        slots = torch.arange(t, device=rows.device)
        same = rows.unsqueeze(2) == rows.unsqueeze(1)  # (U, T, T): slot j holds the item of slot l
        first = (rows > 0) & ~(same & (slots.view(1, -1) < slots.view(-1, 1))).any(2)  # (U, T): no earlier slot has it
        age = slots.view(-1, 1) - slots.view(1, -1)  # (T, T): step t reading slot l
        decay = torch.sigmoid(self.decay_logits).view(-1, 1, 1)
        weight = decay ** age.clamp(min=0).to(decay.dtype) * (age >= 0)  # (K, T, T)
        counts = torch.einsum("ktl,ujl->uktj", weight, same.to(weight.dtype))  # decayed count of j's item at step t
        counts = counts[row_of, :, pos]  # (R, K, T)
        keep = first[row_of] & (slots.view(1, -1) <= pos.view(-1, 1))
        return (self.gate(h).unsqueeze(2) * torch.log1p(counts)).sum(1) * keep

    def add_to(self, logits: torch.Tensor, h: torch.Tensor, rows: torch.Tensor, row_of: torch.Tensor,
               pos: torch.Tensor) -> torch.Tensor:
        """logits (R, n_items + 1) plus the repeat scores of the items in each step's history (see slot_scores)."""
        return logits.scatter_add(1, rows[row_of], self.slot_scores(h, rows, row_of, pos))

    def forward(self, h: torch.Tensor, rows: torch.Tensor, row_of: torch.Tensor, pos: torch.Tensor,
                n_cols: int) -> torch.Tensor:
        """(R, n_cols) repeat scores, dense: 0 for the items not in the history."""
        return self.add_to(torch.zeros(len(h), n_cols, dtype=h.dtype, device=h.device), h, rows, row_of, pos)


def has_repeat_scores(config: TrainConfig) -> bool:
    """Whether a model of this config has repeat scores: switched on, with the full loss (the sampled loss scores a
    few hundred drawn items per step, not the seen ones)."""
    return bool(getattr(config, "repeat", False)) and getattr(config, "loss", "full") == "full"


class SeqRecModel(nn.Module):
    def __init__(self, n_items: int, config: TrainConfig):
        super().__init__()
        self.n_items = n_items
        self.config = config
        cls = CELL_CLASSES[config.model]
        self.embedding = nn.Embedding(n_items + 1, config.embedding_dim, padding_idx=0)
        sizes = [config.embedding_dim] + [config.hidden_size] * config.layers
        self.cells = nn.ModuleList(cls(sizes[i], sizes[i + 1], num_layers=1, batch_first=True)
                                   for i in range(config.layers))
        self.norm = nn.LayerNorm(config.hidden_size) if config.layer_norm else None
        if config.tie_weights:  # logits = proj(h) . embedding + bias: the output shares the input embedding
            self.proj = nn.Linear(config.hidden_size, config.embedding_dim)
            nn.init.normal_(self.embedding.weight, std=config.embedding_dim ** -0.5)  # N(0, 1) logits would be ~8x
            with torch.no_grad():
                self.embedding.weight[0].zero_()
            self.output = TiedOutput(self.embedding)
        else:
            self.proj = None
            self.output = nn.Linear(config.hidden_size, n_items + 1)
        width = config.embedding_dim if config.tie_weights else config.hidden_size
        self.repeat = RepeatScores(width) if has_repeat_scores(config) else None
        self.generator: torch.Generator | np.random.Generator | None = None

    def hidden_states(self, items: torch.Tensor) -> torch.Tensor:
        """(B, T) item indices -> (B, T, H) top-layer hidden states (through `head`: (B, T, E) when tied)."""
        p = self.config.dropout
        if p is None:  # automatic, but built outside a training (which resolves it from the data): the ratings value
            p = AUTO_DROPOUT[0]
        x = seeded_dropout(self.embedding(items), p, self.training, self.generator)
        for cell in self.cells:
            x, _ = cell(x)
            x = seeded_dropout(x, p, self.training, self.generator)
        return self.head(x)

    def head(self, x: torch.Tensor) -> torch.Tensor:
        """Top-layer states -> what the output layer reads (layer norm, then the projection of a tied model)."""
        if self.norm is not None:
            x = self.norm(x)
        return self.proj(x) if self.proj is not None else x

    def forward(self, items: torch.Tensor) -> torch.Tensor:
        """(B, T) item indices -> (B, T, n_items + 1) logits for the next item after every prefix."""
        h = self.hidden_states(items)
        logits = self.output(h)
        if self.repeat is not None:
            b, t = items.shape
            pos = torch.arange(t, device=items.device).repeat(b)
            row_of = torch.arange(b, device=items.device).repeat_interleave(t)
            logits = self.repeat.add_to(logits.reshape(b * t, -1), h.reshape(b * t, -1), items, row_of, pos)
            logits = logits.view(b, t, -1)
        return logits

    def score_last(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits for the item after each right-padded history's last real position; empty histories score from a
        zero state (the learned prior)."""
        h = self.hidden_states(items)  # (B, T, H), or (B, T, E) projected when the output is tied
        idx = (lengths - 1).clamp(min=0).view(-1, 1, 1).expand(-1, 1, h.shape[2])
        last = h.gather(1, idx).squeeze(1)
        last = torch.where((lengths > 0).view(-1, 1), last, torch.zeros_like(last))
        return self.scores(last, items, lengths)

    def scores(self, last: torch.Tensor, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits from each history's last state (B, W) (after `head`) and the histories themselves (B, T) with
        their lengths: the output layer, plus the repeat scores of the items in each history when the run has them."""
        logits = self.output(last)
        if self.repeat is None:
            return logits
        return self.repeat.add_to(logits, last, items, torch.arange(len(items), device=items.device), lengths - 1)

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())
