"""The sampled loss against the full softmax: speed and accuracy on the same data, seed and settings.

Data (seeded, no download):
- `large`: a 10,000-item shop (3,000 users, 10-40 events each) with a planted pattern like the bundled sample's:
  items belong to 500 "journeys" of 20 steps that users work through in order (skipping now and then), interleaved
  with popular items browsed in between. The catalogue is big enough that the full softmax dominates a step.
- `movielens`: the MovieLens-shaped log of bench/movielens_like.py (1,000 users, 1,700 items), exclude-seen.

Usage: python bench/sampled_vs_full.py [large|movielens] [--epochs N | --converge] [--negatives 512 ...] [--no-full]
       [--threads 2]
Prints one JSON line per run: test Recall@20 / MRR@20, epochs, training seconds, sequences per second.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402

from seqrec import TrainConfig, leave_last_out, load_interactions, train_run  # noqa: E402


def large_catalogue_log(users: int = 3000, items: int = 10_000, journeys: int = 500, seed: int = 0) -> pd.DataFrame:
    """A shop log with a big catalogue and a learnable order (see the module docstring)."""
    rng = np.random.default_rng(seed)
    steps = items // journeys
    perm = rng.permutation(items)
    journey_items = perm[: journeys * steps].reshape(journeys, steps)
    journey_pop = 1 / np.arange(1, journeys + 1) ** 0.8
    journey_pop /= journey_pop.sum()
    item_pop = 1 / np.arange(1, items + 1) ** 1.0
    item_pop = item_pop[rng.permutation(items)]
    item_pop /= item_pop.sum()
    rows = []
    for u in range(users):
        n = int(rng.integers(10, 41))
        projects = list(rng.choice(journeys, size=int(rng.integers(1, 3)), replace=False, p=journey_pop))
        pos = {j: int(rng.integers(0, 4)) for j in projects}
        seq = []
        while len(seq) < n:
            if rng.random() < 0.45:  # browsing: a popular item
                seq.append(int(rng.choice(items, p=item_pop)))
                continue
            j = projects[int(rng.integers(len(projects)))]
            if pos[j] >= steps:
                continue_with = [p for p in projects if pos[p] < steps]
                if not continue_with:
                    seq.append(int(rng.choice(items, p=item_pop)))
                    continue
                j = continue_with[0]
            seq.append(int(journey_items[j, pos[j]]))
            pos[j] += 1 + int(rng.random() < 0.15)  # now and then a step is skipped
        rows += [(f"U{u:05d}", f"I{i:05d}", 1_700_000_000 + 600 * t) for t, i in enumerate(seq)]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])


def compare(split, base: TrainConfig, negatives: list[int], full: bool = True) -> list[dict]:
    out = []
    for loss, neg in [("full", base.negatives)] * full + [("sampled", n) for n in negatives]:
        cfg = base.replace(loss=loss, negatives=neg)
        t = time.perf_counter()
        run = train_run(split, cfg, baselines={})
        out.append({"loss": loss, "negatives": neg if loss == "sampled" else None,
                    "test_recall@20": round(run.metrics["recall@20"], 4),
                    "test_mrr@20": round(run.metrics["mrr@20"], 4),
                    "epochs": run.epochs_run, "best_epoch": run.best_epoch,
                    "train_seconds": round(run.train_seconds, 1),
                    "seq_per_s": round(run.sequences_per_second), "wall_seconds": round(time.perf_counter() - t, 1)})
        print(json.dumps(out[-1]), flush=True)
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("data", nargs="?", default="large", choices=["large", "movielens"])
    p.add_argument("--epochs", type=int, default=None, help="fixed epochs (default: 6 for large, early stopping "
                   "for movielens)")
    p.add_argument("--negatives", type=int, nargs="+", default=[512])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-full", action="store_true", help="only the sampled runs")
    p.add_argument("--converge", action="store_true", help="train to early stopping (default settings) instead of "
                   "a fixed number of epochs")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log.csv"
        if a.data == "large":
            large_catalogue_log().to_csv(path, index=False)
            base = TrainConfig(max_minutes=0) if a.converge else \
                TrainConfig(epochs=a.epochs or 6, patience=0, max_minutes=0)
        else:
            from movielens_like import generate

            generate(users=1000, items=1700, seed=0).to_csv(path, index=False)
            base = TrainConfig(exclude_seen=True, max_minutes=0, **({"epochs": a.epochs, "patience": 0}
                                                                    if a.epochs and not a.converge else {}))
        split = leave_last_out(load_interactions(path))
    print(json.dumps({"data": a.data, "users": len(split.users), "items": split.n_items,
                      "threads": a.threads, "load_average": [round(x, 2) for x in os.getloadavg()]}), flush=True)
    compare(split, base, a.negatives, full=not a.no_full)


if __name__ == "__main__":
    main()
