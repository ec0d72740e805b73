"""A trained run (config, vocabulary, weights, metrics, curves) and recommending with it; training one end to end is
seqrec.training.runner.train_run.

Saving a run to a folder and loading it back live in seqrec.runs.files.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from seqrec.config import TrainConfig
from seqrec.data.prepare import Interactions
from seqrec.data.split import ItemVocab
from seqrec.errors import SeqrecError
from seqrec.evaluation import uncertainty
from seqrec.evaluation.protocol import model_scorer
from seqrec.model.recurrent import SeqRecModel


@dataclass
class Run:
    name: str
    config: TrainConfig
    vocab: ItemVocab
    model: SeqRecModel
    metrics: dict
    baselines: dict = field(default_factory=dict)
    valid_metrics: dict = field(default_factory=dict)
    dataset: dict = field(default_factory=dict)
    batch_losses: list = field(default_factory=list)
    epochs: list = field(default_factory=list)
    epochs_run: int = 0
    best_epoch: int = 0
    train_seconds: float = 0.0
    sequences_per_second: float = 0.0
    stopped_by_user: bool = False
    created: str = ""
    stop_reason: str = ""
    executor: str = "local"  # where it trained: "local" (this machine) or "ray" (a Ray cluster)
    # torch CPU threads it trained with, fixed for the whole training: float sums depend on the count, so
    # the same seed repeats its numbers exactly only at the same count; 0 for runs saved before it was recorded
    threads: int = 0
    # Per-user test results, in the split's user order; absent (None / {}) for runs saved before them,
    # whose intervals are then unavailable. Ranks: +inf a certain miss, NaN a user that scorer did not score.
    test_ranks: np.ndarray | None = field(default=None, repr=False, compare=False)
    baseline_ranks: dict = field(default_factory=dict, repr=False, compare=False)
    history_lengths: np.ndarray | None = field(default=None, repr=False, compare=False)
    order_check: dict = field(default_factory=dict)
    # With config.hybrid: the hybrid "network + Session kNN" (seqrec.evaluation.hybrid.HybridResult.to_dict(): name,
    # weight chosen on validation, test metrics) and its per-user test ranks; empty otherwise.
    hybrid: dict = field(default_factory=dict)
    hybrid_ranks: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def parameter_count(self) -> int:
        return self.model.parameter_count()

    def summary(self) -> dict:
        """The JSON the CLI prints after training (metrics on the TEST targets)."""
        return {
            "model": self.config.model,
            "name": self.name,
            "config": self.config.to_dict(),
            "dataset": self.dataset,
            "metrics": self.metrics,
            "baselines": self.baselines,
            "valid_metrics": self.valid_metrics,
            "epochs_run": self.epochs_run,
            "best_epoch": self.best_epoch,
            "train_seconds": round(self.train_seconds, 3),
            "sequences_per_second": round(self.sequences_per_second, 1),
            "parameters": self.parameter_count,
            "stopped_by_user": self.stopped_by_user,
            "stop_reason": self.stop_reason,
            "executor": self.executor,
            "threads": self.threads,
            **self.uncertainty_summary(),
            **({"hybrid": self.hybrid_summary()} if self.hybrid else {}),
        }

    def hybrid_run(self) -> Run | None:
        """The hybrid as a row of its own (a Run sharing this run's weights, with the hybrid's name, metrics and
        per-user ranks), for tables and verdicts; None for a run trained without it. Explanations (gates,
        influence, why) always use the network itself."""
        if not self.hybrid:
            return None
        return replace(self, name=str(self.hybrid.get("name", f"{self.name} hybrid")),
                       metrics=dict(self.hybrid.get("metrics", {})), test_ranks=self.hybrid_ranks,
                       order_check={}, hybrid={}, hybrid_ranks=None)

    def hybrid_summary(self) -> dict:
        """The hybrid's JSON: name, weight and how it was chosen, test metrics, and, with per-user ranks, their 95%
        intervals and the paired comparisons with the best baseline (the network's own stay at the top level)."""
        out = dict(self.hybrid)
        view = self.hybrid_run()
        if view is not None and view.test_ranks is not None:
            got = view.uncertainty_summary()
            out.update({k: got[k] for k in ("metrics_ci95", "comparison", "comparisons") if k in got})
            if self.test_ranks is not None:  # the hybrid against the network alone, on the users both scored
                key = self.comparison_key
                diff = uncertainty.paired(view.test_ranks, self.test_ranks, key)
                if diff is not None:
                    out["vs_network"] = {"metric": key, "difference": round(diff.estimate, 6),
                                         "ci95": [round(diff.lo, 6), round(diff.hi, 6)], "verdict": diff.verdict}
        return out

    @property
    def comparison_key(self) -> str:
        """The metric the run is judged on against the baselines: recall@20, or recall at its largest K."""
        return "recall@20" if 20 in self.config.ks else f"recall@{max(self.config.ks)}"

    def uncertainty_summary(self, key: str | None = None) -> dict:
        """metrics_ci95, baselines_ci95, comparison (vs the best baseline on `key`), comparisons (the same on Recall,
        MRR and NDCG at key's K), by_history_length and order_check, as far as the run has per-user results (nothing
        for runs saved before them)."""
        if self.test_ranks is None:
            return {}
        ks = self.config.ks
        out = {"metrics_ci95": uncertainty.ci_json(uncertainty.metric_intervals(self.test_ranks, ks))}
        if self.baseline_ranks:
            out["baselines_ci95"] = {n: uncertainty.ci_json(uncertainty.metric_intervals(r, ks))
                                     for n, r in self.baseline_ranks.items()}
            key = key or self.comparison_key
            comp = uncertainty.comparison(self.test_ranks, self.baselines, self.baseline_ranks, key)
            if comp is not None:
                out["comparison"] = comp
                # the same judgement on each metric with an interval, each against its own best baseline (the
                # best on Recall is not always the best on MRR)
                k = key.split("@")[1]
                each = (uncertainty.comparison(self.test_ranks, self.baselines, self.baseline_ranks, f"{m}@{k}")
                        for m in uncertainty.INTERVAL_METRICS)
                out["comparisons"] = {c["metric"]: c for c in each if c is not None}
        out["by_history_length"] = uncertainty.by_history_length(
            self.history_lengths, {"model": self.test_ranks, **self.baseline_ranks,
                                   **({"hybrid": self.hybrid_ranks} if self.hybrid_ranks is not None else {})},
            sorted({f"{m}@{k}" for m in ("recall", "mrr") for k in ks}))
        if self.order_check:
            out["order_check"] = self.order_check
        return out

    # -- scoring ------------------------------------------------------------------------------------------------
    def score_histories(self, histories: list[np.ndarray]) -> torch.Tensor:
        """(B, n_items + 1) logits for the next item after each index history (column 0 is padding)."""
        self.model.eval()
        device = next(self.model.parameters()).device
        return model_scorer(self.model, self.config.max_len, device)(histories).cpu()

    def recommend(self, history: Sequence[str], k: int = 10, exclude_seen: bool = False) -> dict:
        """Top-k next items (raw IDs, probabilities) for a history of raw item IDs; unknown IDs are reported."""
        return recommend_from_scores(self.vocab, self.score_histories, history, k, exclude_seen)


def history_scores(score_batch, codes: np.ndarray, exclude_seen: bool = False) -> torch.Tensor:
    """(n_items + 1,) float32 scores for the item after one index history; the padding column (and, with
    exclude_seen, the history's own items) set to -inf."""
    scores = score_batch([codes])[0].to(torch.float32).clone()
    scores[0] = -math.inf
    if exclude_seen and len(codes):
        scores[torch.from_numpy(np.asarray(codes, dtype=np.int64))] = -math.inf
    return scores


def recommend_from_scores(vocab: ItemVocab, score_batch, history: Sequence[str], k: int = 10,
                          exclude_seen: bool = False) -> dict:
    """Shared by runs and baselines: encode the history, score, mask, softmax, take the top k."""
    codes, unknown = vocab.encode([str(h) for h in history])
    return top_k_items(vocab, history_scores(score_batch, codes, exclude_seen), k, unknown)


def top_k_items(vocab: ItemVocab, scores: torch.Tensor, k: int, unknown: Sequence[str] = ()) -> dict:
    """The k best items (raw IDs, softmax probabilities) of one masked score vector from `history_scores`."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise SeqrecError(f"k must be a whole number of at least 1 (got {k!r}).")
    probs = torch.softmax(scores, dim=0)
    k = min(int(k), int(torch.isfinite(scores).sum()))
    vals, idx = probs.topk(k) if k > 0 else (torch.zeros(0), torch.zeros(0, dtype=torch.int64))
    return {"recommendations": [{"item": vocab.decode([i])[0], "score": round(float(v), 6)} for v, i in zip(vals, idx)],
            "unknown_items": list(unknown)}


def dataset_summary(data: Interactions) -> dict:
    return {"users": data.n_users, "items": data.n_items, "interactions": len(data)}



def default_run_name(config: TrainConfig) -> str:
    return f"{config.model.upper()} h{config.hidden_size} x{config.layers}"
