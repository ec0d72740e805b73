"""The evaluation protocol: one code path scores every model and every baseline on a leave-last-out split (all
items ranked, see seqrec.evaluation.metrics), and a saved run on a (possibly new) data file."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from seqrec.config import TrainConfig
from seqrec.data.prepare import Interactions
from seqrec.data.split import SplitData, leave_last_out, pad_batch
from seqrec.evaluation.metrics import evaluate_scorer
from seqrec.model.baselines import BASELINES
from seqrec.model.recurrent import SeqRecModel


def model_scorer(model: SeqRecModel, max_len: int, device: torch.device):
    """Adapter: list of index histories -> (B, n_items + 1) logits, the interface every scorer shares."""

    @torch.no_grad()
    def score(histories: list[np.ndarray]) -> torch.Tensor:
        items, lengths = pad_batch(histories, max_len)
        return model.score_last(torch.from_numpy(items).to(device), torch.from_numpy(lengths).to(device))

    return score


def evaluate_model(model: SeqRecModel, split: SplitData, part: str, config: TrainConfig,
                   device: torch.device | None = None, users: np.ndarray | None = None) -> dict:
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    hist, tgt = split.histories(part)
    if users is not None:
        hist, tgt = [hist[i] for i in users], tgt[users]
    try:
        return evaluate_scorer(model_scorer(model, config.max_len, device), hist, tgt, split.n_items,
                               config.ks, config.exclude_seen)
    finally:
        model.train(was_training)


def fit_baselines(split: SplitData) -> dict:
    """name -> every baseline fitted on the split's training parts."""
    return {b.name: b for b in (cls().fit(split.train, split.n_items) for cls in BASELINES)}


def evaluate_baselines(split: SplitData, ks: Sequence[int], exclude_seen: bool, part: str = "test",
                       fitted: dict | None = None) -> dict:
    """Every baseline (fitted on the training parts unless given) scored through the model's evaluation code."""
    hist, tgt = split.histories(part)
    fitted = fitted if fitted is not None else fit_baselines(split)
    return {name: evaluate_scorer(b.score_batch, hist, tgt, split.n_items, ks, exclude_seen)
            for name, b in fitted.items()}


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
    test = evaluate_model(run.model, split, "test", config)
    return {"model": run.config.model, "name": run.name,
            "dataset": {"users": data.n_users, "items": data.n_items, "interactions": len(data),
                        "items_unknown_to_run": unknown},
            "metrics": test, "baselines": evaluate_baselines(split, config.ks, exclude)}
