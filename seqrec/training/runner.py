"""Training a run end to end: split, train, score on the test targets beside the baselines, and wrap it all in a Run.

Every training the product starts ends here, in this process or in an executor's worker, and every one is prepared
by `prepare_training` first (by the executor at submit, by the queue when the button is pressed, and here again,
which costs nothing for a config prepared already).
"""
from __future__ import annotations

import datetime as _dt
import threading
from collections.abc import Sequence

import numpy as np
import torch

from seqrec.config import TrainConfig
from seqrec.data.prepare import Interactions
from seqrec.data.split import SplitData, leave_last_out
from seqrec.evaluation.hybrid import evaluate_hybrid
from seqrec.evaluation.protocol import evaluate_baselines, model_order_check, score_model_sampled
from seqrec.runs.run import Run, dataset_summary, default_run_name
from seqrec.training.budget import check_training_memory
from seqrec.training.loop import Callback, resolve_auto, train


def prepare_training(split: SplitData, config: TrainConfig) -> TrainConfig:
    """The config a training of `split` runs with: validated (SeqrecError, one sentence), its automatic settings
    resolved from the data (the run records the values they took), and refused when its estimated memory exceeds the
    budget (before any tensor is allocated). Done once where a training is submitted, so the worker that trains it
    and the process that rebuilds its run hold the same values."""
    config = resolve_auto(config.validate(), split)
    check_training_memory(split, config)
    return config


def train_run(data: Interactions | SplitData, config: TrainConfig, callbacks: Sequence[Callback] = (),
              stop_event: threading.Event | None = None, name: str | None = None, baselines: dict | None = None,
              device: str | None = None, dataset: dict | None = None) -> Run:
    """Split, train, evaluate on the test targets, and compute the baselines (unless given) with the same code."""
    config.validate()  # a bad setting is reported before the data is split
    split = data if isinstance(data, SplitData) else leave_last_out(data)
    config = prepare_training(split, config)
    if dataset is None:
        dataset = dataset_summary(data) if isinstance(data, Interactions) else \
            {"users": len(split.users), "items": split.n_items,
             "interactions": int(sum(len(t) for t in split.train) + 2 * len(split.users))}
    threads = torch.get_num_threads()  # what this training's parallel ops use (an executor fixed it beforehand)
    result = train(split, config, callbacks, stop_event, device)
    test, ranks, sampled = score_model_sampled(result.model, split, config)
    if baselines is None:
        baselines = evaluate_baselines(split, config.ks, config.exclude_seen)
    # Per-user ranks come with baselines from evaluate_baselines / Dataset.baseline_metrics (a BaselineResults);
    # a plain dict of metrics has none, and the intervals against the baselines are then unavailable.
    baseline_ranks = {n: r for n, r in getattr(baselines, "ranks", {}).items() if len(r) == len(ranks)}
    hybrid = evaluate_hybrid(result.model, split, config) if config.hybrid else None
    order = model_order_check(result.model, split, config, ranks if sampled is None else ranks[sampled],
                              users=sampled)
    return Run(name=name or default_run_name(config), config=config, vocab=split.vocab, model=result.model,
               metrics=test, baselines=dict(baselines), valid_metrics=result.best_valid, dataset=dataset,
               batch_losses=result.batch_losses, epochs=result.epochs, epochs_run=result.epochs_run,
               best_epoch=result.best_epoch, train_seconds=result.train_seconds,
               sequences_per_second=result.sequences_per_second, stopped_by_user=result.stopped_by_user,
               stop_reason=result.stop_reason, threads=threads,
               created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
               test_ranks=ranks, baseline_ranks=baseline_ranks, order_check=order,
               hybrid=hybrid.to_dict() if hybrid else {}, hybrid_ranks=hybrid.ranks if hybrid else None,
               history_lengths=np.fromiter((len(h) for h in split.test_histories), dtype=np.int64,
                                           count=len(split.users)))
