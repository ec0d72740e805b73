"""How long does tracing a 50-step history through a 2-layer model take, next to one fused forward pass?

The "Inside the network" page and `python -m seqrec gates` trace by replaying the fused module's weights step by
step in Python. This times that replay (trace_history: replay + numpy arrays; and trace_history_json: what the CLI
prints) against one eval-mode forward pass of the same model's fused modules over the same history, measured in the
same process, so the ratio is comparable across machines. Weights are random (speed does not depend on training).

Usage: python bench/bench_gates.py [--hidden 128] [--embedding 64] [--steps 50] [--repeats 30] [--threads 1]
       [--write docs/experiments/gate-tracing.md]   (replaces only the "Gate tracing" section of that file)
"""
from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads, as in the app: no spinning idle threads

import argparse
import platform
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from anywhere without installing

from seqrec import ItemVocab, Run, TrainConfig
from seqrec.inspect.gates import trace_history, trace_history_json
from seqrec.model.recurrent import SeqRecModel

N_ITEMS = 1000
SECTION = "Gate tracing"


def median_ms(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def bench_cell(kind: str, hidden: int, embedding: int, steps: int, repeats: int) -> dict:
    torch.manual_seed(0)
    config = TrainConfig(model=kind, embedding_dim=embedding, hidden_size=hidden, layers=2)
    model = SeqRecModel(N_ITEMS, config).eval()
    run = Run(name=f"bench {kind}", config=config, vocab=ItemVocab([f"I{i}" for i in range(N_ITEMS)]), model=model,
              metrics={})
    history = [f"I{i}" for i in np.random.default_rng(0).integers(0, N_ITEMS, steps)]
    items = torch.as_tensor(run.vocab.encode(history)[0]).view(1, -1)

    def forward():
        with torch.no_grad():
            model.hidden_states(items)

    ref = median_ms(forward, repeats)
    trace = median_ms(lambda: trace_history(run, history), repeats)
    as_json = median_ms(lambda: trace_history_json(run, history), repeats)
    return {"cell": kind.upper(), "forward_ms": ref, "trace_ms": trace, "json_ms": as_json,
            "trace_ratio": trace / ref, "json_ratio": as_json / ref}


def markdown(rows: list[dict], args) -> str:
    lines = [f"## {SECTION}", "",
             f"`python bench/bench_gates.py --steps {args.steps} --hidden {args.hidden} --embedding {args.embedding} "
             f"--threads {args.threads}`: a {args.steps}-step history through a 2-layer model (hidden {args.hidden}, "
             f"embedding {args.embedding}, random weights), median of {args.repeats} runs on CPU "
             f"({platform.processor() or platform.machine()}, torch {torch.__version__}, {args.threads} thread(s)). "
             "Reference: one eval-mode forward pass of the model's fused modules over the same history, measured in "
             "the same process. *trace* = replay of every gate (`seqrec.inspect.gates.trace_history`); "
             "*trace + JSON* = "
             "what `python -m seqrec gates` computes (adds summaries, top units, rounding).", "",
             "| cell | fused forward (ms) | trace (ms) | trace / forward | trace + JSON (ms) "
             "| trace + JSON / forward |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['cell']} | {r['forward_ms']:.2f} | {r['trace_ms']:.2f} | {r['trace_ratio']:.1f}x | "
                     f"{r['json_ms']:.2f} | {r['json_ratio']:.1f}x |")
    slowest = max(max(r["trace_ms"], r["json_ms"]) for r in rows)
    lines += ["", f"Slowest case: {slowest:.1f} ms, well under the one-second target for a {args.steps}-step, "
              f"2-layer trace."]
    return "\n".join(lines) + "\n"


def write_section(path: Path, text: str) -> None:
    """Replace the '## Gate tracing' section (up to the next '## ' heading) or append it; other sections stay."""
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^## {re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(old):
        new = pattern.sub(lambda _: text + "\n", old, count=1)
    else:
        new = old.rstrip("\n") + "\n\n" + text
    path.write_text(new.rstrip("\n") + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--embedding", type=int, default=64)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--repeats", type=int, default=30)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--write", metavar="docs/experiments/gate-tracing.md",
                   help="write the table into this file's Gate tracing section")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    rows = [bench_cell(kind, args.hidden, args.embedding, args.steps, args.repeats) for kind in ("rnn", "lstm", "gru")]
    text = markdown(rows, args)
    print(text)
    if args.write:
        write_section(Path(args.write), text)


if __name__ == "__main__":
    main()
