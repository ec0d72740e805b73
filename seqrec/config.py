"""One typed config describes a training run: the UI, the CLI, saved runs and the tests all use it."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields

from seqrec.errors import SeqrecError

CELLS = ("rnn", "lstm", "gru")
LOSSES = ("full", "sampled")  # sampled: softmax over popularity-drawn negatives, for large catalogues

# Sane bounds (inclusive) for every numeric setting. Beyond them a CPU training is either pointless (dropout 0.95
# keeps 1 unit in 20; lr > 1 diverges under Adam) or unbounded in cost (hidden 4096 is 200 MB of recurrent weights
# per layer; 8 stacked layers of a next-item RNN do not train better than 2). The memory estimate (memory.py) then
# checks what the data adds (catalogue size, sequence lengths) against the machine's budget.
LIMITS: dict[str, tuple[float, float]] = {
    "embedding_dim": (1, 1024),
    "hidden_size": (1, 1024),
    "layers": (1, 4),
    "dropout": (0.0, 0.9),
    "lr": (0.0, 1.0),  # open below: lr must be > 0
    "weight_decay": (0.0, 1.0),
    "batch_size": (1, 4096),
    "epochs": (1, 1000),
    "max_len": (2, 2000),
    "grad_clip": (0.0, 1000.0),
    "patience": (0, 1000),
    "max_minutes": (0.0, 1440.0),  # a day
    "seed": (0, 2**32 - 1),
}
INT_FIELDS = {"embedding_dim", "hidden_size", "layers", "batch_size", "epochs", "max_len", "patience", "seed"}
OPEN_BELOW = {"lr"}
MAX_K = 1000


@dataclass
class TrainConfig:
    """Hyperparameters of one training run. Defaults were chosen by experiment (see BENCHMARKS.md)."""

    model: str = "gru"
    embedding_dim: int = 64
    hidden_size: int = 128
    layers: int = 1
    dropout: float = 0.5
    lr: float = 0.005
    weight_decay: float = 0.0
    batch_size: int = 64
    epochs: int = 100
    max_len: int = 200
    grad_clip: float = 5.0
    patience: int = 10
    max_minutes: float = 4.0
    seed: int = 42
    ks: tuple[int, ...] = (10, 20)
    exclude_seen: bool = False
    loss: str = "full"
    negatives: int = 512  # negatives per batch for loss="sampled"

    def __post_init__(self):
        if isinstance(self.ks, (list, tuple)):
            self.ks = tuple(self.ks)  # anything else (a bare number, a string) is reported by validate()

    @property
    def monitor_k(self) -> int:
        """The K whose validation Recall drives early stopping (the largest requested)."""
        return max(self.ks)

    def validate(self) -> "TrainConfig":
        """Collect every nonsense value and raise one SeqrecError naming them all (or return self)."""
        problems = []

        def need_int(name, lo, hi=None):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < lo or (hi is not None and v > hi):
                rng = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
                problems.append(f"{name.replace('_', ' ')} must be a whole number {rng} (got {v!r})")

        def need_float(name, lo, hi, lo_open=False, hi_open=False):
            v = getattr(self, name)
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and v == v
            if ok:
                ok = (v > lo if lo_open else v >= lo) and (v < hi if hi_open else v <= hi)
            if not ok:
                lb = "(" if lo_open else "["
                rb = ")" if hi_open else "]"
                problems.append(f"{name.replace('_', ' ')} must be a number in {lb}{lo}, {hi}{rb} (got {v!r})")

        if self.model not in CELLS:
            problems.append(f"model must be one of rnn, lstm, gru (got {self.model!r})")
        if self.loss not in LOSSES:
            problems.append(f"loss must be full or sampled (got {self.loss!r})")
        need_int("negatives", 1, 100_000)
        for name, (lo, hi) in LIMITS.items():
            if name in INT_FIELDS:
                need_int(name, lo, hi)
            else:
                need_float(name, lo, hi, lo_open=name in OPEN_BELOW)
        if not isinstance(self.ks, tuple) or not self.ks or len(self.ks) > 10 or \
                any(isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K for k in self.ks):
            problems.append(f"K values must be 1 to 10 whole numbers between 1 and {MAX_K} (got {self.ks!r})")
        if not isinstance(self.exclude_seen, bool):
            problems.append(f"exclude seen must be true or false (got {self.exclude_seen!r})")
        if problems:
            raise SeqrecError("Invalid training settings: " + "; ".join(problems) + ".")
        return self

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["ks"] = list(self.ks)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """Rebuild a config from a saved dict; unknown keys (from a newer version) are refused clearly."""
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise SeqrecError(f"The saved run has unknown settings {sorted(unknown)}; it was made by a different version of seqrec.")
        return cls(**d).validate()

    def replace(self, **changes) -> "TrainConfig":
        return dataclasses.replace(self, **changes)


PRESETS: dict[str, dict] = {
    "Quick demo": dict(embedding_dim=32, hidden_size=64, layers=1, dropout=0.2, lr=0.01, batch_size=64, epochs=10, patience=3),
    "Balanced": dict(embedding_dim=64, hidden_size=128, layers=1, dropout=0.5, lr=0.005, batch_size=64, epochs=30, patience=5),
    "Thorough": dict(embedding_dim=64, hidden_size=128, layers=2, dropout=0.5, lr=0.003, batch_size=64, epochs=100, patience=10),
}
