"""The hybrid "network + kNN" (seqrec.model.hybrid) under the product's protocol: its neighbourhood partner (Session
kNN or Item kNN: the first is strong on short sessions, the second on shop logs) and blend weight chosen on the
validation targets only, then its test metrics and per-user ranks on the same users as the SessionKNN baseline,
so its row and its verdict sit beside every other model's."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from seqrec.config import TrainConfig
from seqrec.data.split import SplitData
from seqrec.evaluation.metrics import (
    default_eval_batch,
    evaluate_with_ranks,
    mask_unrankable,
    mrr_at_k,
    ndcg_at_k,
    recall_at_k,
    target_ranks,
)
from seqrec.evaluation.protocol import SESSION_KNN_MAX_USERS, model_scorer, rank_on_sample, tuning_sample
from seqrec.model.baselines import ItemKNN, SessionKNN
from seqrec.model.hybrid import WEIGHT_GRID, HybridScorer, blend
from seqrec.model.recurrent import SeqRecModel

_METRIC = {"recall": recall_at_k, "mrr": mrr_at_k, "ndcg": ndcg_at_k}


@dataclass
class HybridResult:
    name: str  # e.g. "GRU + Session kNN"
    neighbours: str  # the partner's baseline name: session_knn or item_knn
    weight: float  # the partner's share, chosen on validation
    chosen_by: str  # the validation metric that chose both, e.g. "recall@20"
    valid: dict  # weight (as text) -> that validation metric, for the chosen partner
    metrics: dict  # test metrics
    ranks: np.ndarray = field(repr=False)  # each test user's target rank (NaN: not scored)
    partners: dict = field(default_factory=dict)  # every partner tried: its best weight and validation value

    def to_dict(self) -> dict:
        return {"name": self.name, "neighbours": self.neighbours, "weight": self.weight, "chosen_on": "validation",
                "chosen_by": self.chosen_by, "valid": dict(self.valid), "partners": dict(self.partners),
                "metrics": dict(self.metrics)}


def choose_weight(scorer: HybridScorer, histories: list[np.ndarray], targets: np.ndarray, n_items: int, key: str,
                  exclude_seen: bool = False, grid: Sequence[float] = WEIGHT_GRID) -> tuple[float, dict]:
    """(the weight of `grid` with the best `key`, e.g. 'recall@20', on these histories; weight -> value). Every
    weight is ranked from one scoring pass of each part; ties go to the smaller weight (more of the network)."""
    metric, k = key.split("@")
    ranks: dict[float, list[torch.Tensor]] = {w: [] for w in grid}
    batch = default_eval_batch(n_items)
    for start in range(0, len(histories), batch):
        hist = histories[start: start + batch]
        tgt = torch.as_tensor(np.asarray(targets[start: start + batch], dtype=np.int64))
        probs, neighbours = scorer.parts(hist)
        for w in grid:
            ranks[w].append(target_ranks(mask_unrankable(blend(probs, neighbours, w), hist, exclude_seen), tgt))
    values = {w: _METRIC[metric](torch.cat(r) if r else torch.zeros(0, dtype=torch.float64), int(k))
              for w, r in ranks.items()}
    best = max(grid, key=lambda w: (values[w], -w))
    return float(best), {f"{w:.1f}": round(float(v), 6) for w, v in values.items()}


def evaluate_hybrid(model: SeqRecModel, split: SplitData, config: TrainConfig,
                    partners: dict | None = None) -> HybridResult:
    """Fit the neighbourhood partners on the training parts (unless given: name -> fitted SessionKNN / ItemKNN),
    choose the partner and its weight on a seeded sample of validation users (the test targets are not read), and
    score the test users SessionKNN is scored on (nested in every other scorer's sample: paired comparisons hold)."""
    valid_hist, valid_tgt = tuning_sample(split)
    if partners is None:
        partners = {"session_knn": SessionKNN().fit(split.train, split.n_items),
                    "item_knn": ItemKNN().fit(split.train, split.n_items, valid=(valid_hist, valid_tgt),
                                              exclude_seen=config.exclude_seen)}
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        network = model_scorer(model, config.max_len, device)
        key = f"{config.monitor}@{config.monitor_k}"
        choices = {name: choose_weight(HybridScorer(network, p, 0.0), valid_hist, valid_tgt, split.n_items, key,
                                       config.exclude_seen) for name, p in partners.items()}
        # the best validation value; ties go to the partner listed first (Session kNN)
        partner = max(choices, key=lambda n: (choices[n][1][f"{choices[n][0]:.1f}"], -list(choices).index(n)))
        weight, valid = choices[partner]
        scorer = HybridScorer(network, partners[partner], weight)
        hist, tgt = split.histories("test")
        metrics, ranks = rank_on_sample(
            lambda h, t: evaluate_with_ranks(scorer.score_batch, h, t, split.n_items, config.ks, config.exclude_seen),
            hist, tgt, SESSION_KNN_MAX_USERS)
    finally:
        model.train(was_training)
    label = type(partners[partner]).label if hasattr(type(partners[partner]), "label") else partner
    return HybridResult(f"{config.model.upper()} + {label}", partner, weight, key, valid, metrics, ranks,
                        {n: {"weight": w, "valid": v[f"{w:.1f}"]} for n, (w, v) in choices.items()})
