"""Tune benchmark: does an equal-budget search beat the defaults, and how do the cells rank?

For each bundled sample (and optionally a MovieLens-shaped log), in one run:
1. the reference: each cell trained once with the defaults (the search's own base: TuneConfig(...).base())
   for the same time as the search (the minute a user would otherwise spend training the defaults), its best-epoch
   validation metric and seconds; with --unbounded-reference, trained to its own end instead (on a loaded
   2-core machine that can take longer than a 1-minute search has);
2. a search of --minutes per cell (same budget for every cell, Optuna TPE, seeded, defaults as first trial);
3. per cell: the best validation metric / the defaults' one (the ratio), the paired difference of the two on the
   validation users with its 95% bootstrap interval, trials run / pruned / failed, and the best trial's test metric
   with its 95% interval. A search "ends below the defaults" when that interval lies below 0 (the project's rule:
   a comparison is stated with its uncertainty); a ratio under 1 inside the interval is two time-cut runs of the same
   settings stopping at different batches, not a worse search.

Usage: python bench/bench_tune.py [--minutes 1] [--cells gru] [--data sample_data/interactions.csv ...]
                                  [--movielens] [--exclude-seen]
Prints one JSON line per (data, cell) and a summary; exits 1 if a search ended below its defaults (its interval).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from seqrec import leave_last_out, load_interactions, train_run  # noqa: E402
from seqrec.data.prepare import Filters  # noqa: E402
from seqrec.evaluation.intervals import paired_difference  # noqa: E402
from seqrec.evaluation.metrics import per_user_values  # noqa: E402
from seqrec.evaluation.protocol import score_model  # noqa: E402
from seqrec.training.space import TuneConfig  # noqa: E402
from seqrec.training.tune import Tuner  # noqa: E402

SAMPLES = [ROOT / "sample_data" / "interactions.csv", ROOT / "sample_data" / "online_retail.csv"]


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--minutes", type=float, default=1.0, help="search budget per cell (default 1)")
    p.add_argument("--cells", nargs="+", default=["gru"])
    p.add_argument("--data", nargs="*", default=[str(s) for s in SAMPLES if s.exists()])
    p.add_argument("--movielens", action="store_true", help="also the MovieLens-shaped log (held back, "
                   "--exclude-seen --min-item-count 1)")
    p.add_argument("--exclude-seen", action="store_true")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--unbounded-reference", action="store_true", help="train the defaults without a time limit")
    a = p.parse_args()
    jobs = [(d, a.exclude_seen) for d in a.data]
    if a.movielens:
        from movielens_like import generate  # bench/ is on the path when this script runs

        path = Path(tempfile.mkdtemp()) / "movielens_like.csv"
        generate().to_csv(path, index=False)
        jobs.append((str(path), True))
    failures = 0
    for data_path, exclude in jobs:
        data = load_interactions(data_path, filters=Filters(min_item_count=1))
        split = leave_last_out(data)
        base = TuneConfig(exclude_seen=exclude, seed=a.seed).base()
        metric = f"recall@{base.monitor_k}"
        for cell in a.cells:
            t0 = time.perf_counter()
            ref = train_run(split, base.replace(model=cell, max_minutes=0 if a.unbounded_reference else a.minutes),
                            baselines={})
            ref_seconds = time.perf_counter() - t0
            tuner = Tuner(split, cells=[cell], budget_seconds=60 * a.minutes, seed=a.seed, base=base)
            result = tuner.run()
            states = [t.state for t in result.trials]
            best = result.best.get(cell)
            ref_valid = ref.valid_metrics[metric]
            best_valid = best.valid[metric] if best else float("nan")
            diff = None
            if best and best.run is not None:  # paired on every validation user, both models scored the same way
                ranks = [score_model(r.model, split, "valid", r.config)[1] for r in (best.run, ref)]
                values = [per_user_values(torch.as_tensor(x), base.ks)[metric] for x in ranks]
                diff = paired_difference(values[0], values[1], seed=a.seed)
            row = {"data": Path(data_path).name, "cell": cell, "metric": metric, "minutes": a.minutes,
                   "parallel": tuner.parallel, "defaults_valid": round(ref_valid, 4),
                   "defaults_test": round(ref.metrics[metric], 4), "defaults_seconds": round(ref_seconds, 1),
                   "defaults_reason": ref.stop_reason,
                   "best_valid": round(best_valid, 4), "ratio_vs_defaults": round(best_valid / ref_valid, 4),
                   "valid_difference": None if diff is None else
                   [round(diff.estimate, 4), round(diff.lo, 4), round(diff.hi, 4)],
                   "best_test": round(best.metrics[metric], 4) if best else None,
                   "best_test_interval": best.intervals.get(metric) if best else None,
                   "trials": len(states), "pruned": states.count("pruned"), "failed": states.count("failed"),
                   "search_seconds": round(result.seconds, 1),
                   "best_config": {k: getattr(best.config, k) for k in result.trials[0].params} if best else None}
            print(json.dumps(row), flush=True)
            # the defaults are the search's first trial; a search ends below them only if that trial was cut short
            if not best or diff is None or diff.hi < 0:
                failures += 1
    print(f"searches below the defaults: {failures}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
