"""The recommender: item embedding -> recurrent cell (RNN / LSTM / GRU) -> scores over all items.

Only modules live here. Each layer is its own single-layer fused PyTorch module so dropout between layers can draw
from the run's own random generator (reproducible even when several trainings share a process).
"""
from __future__ import annotations

import torch
from torch import nn

from seqrec.config import TrainConfig

CELL_CLASSES = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


def seeded_dropout(x: torch.Tensor, p: float, training: bool, generator: torch.Generator | None) -> torch.Tensor:
    """Inverted dropout whose mask comes from `generator` (nn.Dropout would use the process-wide RNG)."""
    if not training or p <= 0:
        return x
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
        self.generator: torch.Generator | None = None

    def hidden_states(self, items: torch.Tensor) -> torch.Tensor:
        """(B, T) item indices -> (B, T, H) top-layer hidden states (through `head`: (B, T, E) when tied)."""
        p = self.config.dropout
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
        return self.output(self.hidden_states(items))

    def score_last(self, items: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Logits for the item after each right-padded history's last real position; empty histories score from a
        zero state (the learned prior)."""
        h = self.hidden_states(items)  # (B, T, H), or (B, T, E) projected when the output is tied
        idx = (lengths - 1).clamp(min=0).view(-1, 1, 1).expand(-1, 1, h.shape[2])
        last = h.gather(1, idx).squeeze(1)
        last = torch.where((lengths > 0).view(-1, 1), last, torch.zeros_like(last))
        return self.output(last)

    def parameter_count(self) -> int:
        return sum(p.numel() for p in self.parameters())
