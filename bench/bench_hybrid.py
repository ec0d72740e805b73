"""The network, its hybrid with kNN (--hybrid) and the strongest baseline on real and generated logs, each with the
product's own protocol and paired 95% intervals against the strongest baseline (the one best on each metric).

    python bench/bench_hybrid.py --sessions OR_SESSIONS.csv [--clicks CLICKS.csv] [--out docs/experiments/hybrid.md]

Logs: `sample:retail` with the Quick demo and Balanced presets (real); the Online Retail log cut into invoice sessions
(bench/online_retail_sessions.py; real) with the defaults; a generated click-session stand-in
(bench/click_sessions_like.py) with the defaults, marked as generated. Each row trains once: the network's and the
hybrid's numbers come from the same training. 1 torch thread, OMP_WAIT_POLICY=PASSIVE.
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch

from seqrec import TrainConfig, load_interactions, train_run
from seqrec.config import PRESETS
from seqrec.data.samples import sample_named
from seqrec.evaluation.compare import BASELINE_LABELS


def _cell(comp: dict | None) -> str:
    if not comp:
        return "n/a"
    lo, hi = comp["ci95"]
    return f"{comp['difference']:+.3f} [{lo:+.3f}, {hi:+.3f}] {comp['verdict']}"


def measure(label: str, path, config: TrainConfig) -> list[str]:
    data = load_interactions(path)
    t0 = time.monotonic()
    run = train_run(data, config.replace(hybrid=True))
    seconds = time.monotonic() - t0
    s = run.summary()
    h = s["hybrid"]
    best = {k: max(run.baselines, key=lambda n: run.baselines[n][k]) for k in ("recall@20", "mrr@20")}
    rows = []
    for who, metrics, comps in (("network", s["metrics"], s.get("comparisons", {})),
                                (h["name"] + f" (w={h['weight']:.1f})", h["metrics"], h.get("comparisons", {}))):
        rows.append(f"| {label} | {who} | {metrics['recall@20']:.3f} | {metrics['mrr@20']:.3f} | "
                    f"{BASELINE_LABELS[best['recall@20']]} {run.baselines[best['recall@20']]['recall@20']:.3f} / "
                    f"{BASELINE_LABELS[best['mrr@20']]} {run.baselines[best['mrr@20']]['mrr@20']:.3f} | "
                    f"{_cell(comps.get('recall@20'))} | {_cell(comps.get('mrr@20'))} | {seconds:.0f} s |")
    vs = h.get("vs_network", {})
    rows.append(f"| {label} | hybrid vs network | | | | {_cell(vs)} | | |")
    return rows


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--sessions", help="bench/online_retail_sessions.py's output")
    p.add_argument("--clicks", help="bench/click_sessions_like.py's output (generated)")
    p.add_argument("--out")
    a = p.parse_args()
    torch.set_num_threads(1)
    retail = sample_named("retail").interactions
    rows = ["| log | model | Recall@20 | MRR@20 | strongest baseline (R@20 / MRR@20) | R@20 vs strongest | "
            "MRR@20 vs strongest | train + evaluate |", "|---|---|---|---|---|---|---|---|"]
    rows += measure("`sample:retail`, Quick demo (real)", retail, TrainConfig(**PRESETS["Quick demo"]))
    rows += measure("`sample:retail`, Balanced (real)", retail, TrainConfig(**PRESETS["Balanced"]))
    if a.sessions:
        rows += measure("Online Retail invoice sessions, defaults (real)", a.sessions, TrainConfig())
    if a.clicks:
        rows += measure("click-session stand-in, defaults (generated)", a.clicks, TrainConfig())
    text = "\n".join(rows)
    print(text)
    if a.out:
        with open(a.out, "a") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
