"""Run vs baselines with 95% intervals, repeated seeds and the order check, on the real and the synthetic sample.

    python bench/bench_verdicts.py                                   # both samples, 3 seeds each
    python bench/bench_verdicts.py --files sample_data/interactions.csv --seeds 0

Exactly what `python -m seqrec train FILE --seeds ...` computes (same split, the five baselines fitted once, each
seed's run scored with the same protocol); printed as the Markdown tables of docs/experiments/baselines-and-verdicts.md.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI and the app run
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from seqrec import PRESETS, TrainConfig, leave_last_out, load_interactions, train_run  # noqa: E402
from seqrec.evaluation import uncertainty  # noqa: E402
from seqrec.evaluation.compare import BASELINE_LABELS  # noqa: E402
from seqrec.evaluation.protocol import evaluate_baselines  # noqa: E402

FILES = ("sample_data/interactions.csv", "sample_data/online_retail.csv")


def ci(ranks, key: str) -> str:
    i = uncertainty.metric_intervals(ranks, (int(key.split("@")[1]),))[key]
    return f"{i.estimate:.3f} ({i.lo:.3f} to {i.hi:.3f})"


def report(path: str, config: TrainConfig, seeds: list[int]) -> None:
    data = load_interactions(ROOT / path)
    split = leave_last_out(data)
    start = time.perf_counter()
    baselines = evaluate_baselines(split, config.ks, config.exclude_seen)
    base_s = time.perf_counter() - start
    runs = []
    for s in seeds:
        runs.append(train_run(split, config.replace(seed=s), baselines=baselines, name=f"GRU seed {s}"))
        print(f"  {path}: seed {s} done ({runs[-1].epochs_run} epochs, {runs[-1].train_seconds:.0f} s)",
              file=sys.stderr, flush=True)
    spread = uncertainty.seed_summary(seeds, [r.metrics for r in runs])
    first = runs[0]
    print(f"\n**{path}** ({len(split.users):,} users, {split.n_items:,} items; GRU {config.embedding_dim}/"
          f"{config.hidden_size}, lr {config.lr}, up to {config.epochs} epochs / {config.max_minutes:g} min; "
          f"baselines fitted and scored once in {base_s:.1f} s)\n")
    print("| scorer | Recall@20 (95% interval) | MRR@20 (95% interval) | mean ± sd over seeds (Recall@20 / MRR@20) |")
    print("|---|---|---|---|")
    print(f"| GRU, seed {seeds[0]} | {ci(first.test_ranks, 'recall@20')} | {ci(first.test_ranks, 'mrr@20')} | "
          f"{spread['mean']['recall@20']:.3f} ± {spread['std']['recall@20']:.3f} / "
          f"{spread['mean']['mrr@20']:.3f} ± {spread['std']['mrr@20']:.3f} ({len(seeds)} seeds) |")
    for name in baselines:
        print(f"| {BASELINE_LABELS[name]} | {ci(baselines.ranks[name], 'recall@20')} | "
              f"{ci(baselines.ranks[name], 'mrr@20')} | (deterministic) |")
    print()
    for key in ("recall@20", "mrr@20"):
        comps = [r.uncertainty_summary(key)["comparison"] for r in runs]
        c = comps[0]
        print(f"- vs best baseline on {key} ({BASELINE_LABELS[c['baseline']]}): {c['difference']:+.3f} "
              f"(95% interval {c['ci95'][0]:+.3f} to {c['ci95'][1]:+.3f}): **{c['verdict']}**; verdicts per seed: "
              f"{', '.join(x['verdict'] for x in comps)}")
    print(f"- order check (seed {seeds[0]}): {first.order_check['sentence']}")
    buckets = first.uncertainty_summary()["by_history_length"]
    best = uncertainty.best_baseline_name(baselines, "recall@20")
    print(f"- Recall@20 by history length, GRU vs {BASELINE_LABELS[best]}: " + "; ".join(
        f"{b} ({row['users']:,} users): {row['model']['recall@20']:.3f} vs {row[best]['recall@20']:.3f}"
        for b, row in buckets.items()))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--files", nargs="+", default=list(FILES))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--max-minutes", type=float, default=1.5, help="per training")
    a = p.parse_args(argv)
    config = TrainConfig(**{**PRESETS["Balanced"], "max_minutes": a.max_minutes})
    print(f"load average {os.getloadavg()[0]:.1f}; config: Balanced preset, at most {a.max_minutes:g} min per run")
    for path in a.files:
        report(path, config, a.seeds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
