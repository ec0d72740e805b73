"""Grid over the settings that matter most, on a data file, to choose the CLI/library defaults by experiment.

Usage: python bench/tune_defaults.py DATA.csv [--exclude-seen] [--grid NAME=v1,v2 ...] [--base KEY=V ...]
Prints one line per configuration: test and validation Recall@20, epochs, seconds.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from seqrec import TrainConfig, leave_last_out, load_interactions, train_run
from seqrec.evaluation.protocol import evaluate_baselines


def parse_value(v: str):
    """A KEY=V value from the command line: int, float, true/false, else the text (shared by the bench scripts)."""
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(v.lower(), v)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("data")
    p.add_argument("--exclude-seen", action="store_true")
    p.add_argument("--grid", nargs="*", default=[], help="NAME=v1,v2")
    p.add_argument("--base", nargs="*", default=[], help="KEY=V applied to every configuration")
    a = p.parse_args()
    split = leave_last_out(load_interactions(a.data))
    base = {k: parse_value(v) for k, v in (kv.split("=", 1) for kv in a.base)}
    base["exclude_seen"] = a.exclude_seen
    print("baselines", json.dumps({k: round(v["recall@20"], 4) for k, v in
                                   evaluate_baselines(split, (10, 20), a.exclude_seen).items()}), flush=True)
    names = [g.split("=")[0] for g in a.grid]
    values = [[parse_value(v) for v in g.split("=", 1)[1].split(",")] for g in a.grid]
    for combo in itertools.product(*values) if values else [()]:
        cfg = TrainConfig(**{**base, **dict(zip(names, combo))}).validate()
        t = time.perf_counter()
        run = train_run(split, cfg, baselines={})
        print(json.dumps({**dict(zip(names, combo)), "test_r20": round(run.metrics["recall@20"], 4),
                          "valid_r20": round(run.valid_metrics.get("recall@20", 0), 4),
                          "epochs": run.epochs_run, "best": run.best_epoch,
                          "seconds": round(time.perf_counter() - t, 1)}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
