"""Demo runs: one small run per cell with the "Quick demo" preset, for the pages that compare cells side by side."""
from __future__ import annotations

from collections.abc import Sequence

from seqrec.config import PRESETS, TrainConfig
from seqrec.errors import SeqrecError
from seqrec.service.executor import get_executor
from seqrec.training.executors import Executor


def quick_demo_runs(dataset, cells: Sequence[str] = ("gru", "lstm"), executor: Executor | None = None) -> list:
    """Train one small run per cell on the dataset with the "Quick demo" preset, synchronously (seconds on the
    sample), recorded as belonging to that dataset like any other run trained on it. Like every training the
    product starts, each goes through the process's executor (by default a worker process, so a crash in it cannot
    take the app down)."""
    executor = executor or get_executor()
    info = dataset.run_info()
    out = []
    for cell in cells:
        config = TrainConfig(model=cell, **PRESETS["Quick demo"])
        name, baselines = f"{cell.upper()} quick demo", dataset.baseline_metrics(config.ks, config.exclude_seen)
        run = executor.submit(dataset.split, config, name=name, dataset=info, baselines=baselines).result()
        if run is None:  # only a Stop ends a training without a run, and nothing stops a demo: say so all the same
            raise SeqrecError(f"The {name} training ended without a run; train it again.")
        out.append(run)
    return out
