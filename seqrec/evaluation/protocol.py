"""Scoring a saved run on a (possibly new) data file with the same leave-last-out protocol."""
from __future__ import annotations

import numpy as np

from seqrec.data.prepare import Interactions
from seqrec.data.split import SplitData, leave_last_out
from seqrec.training.loop import evaluate_baselines, evaluate_model


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
