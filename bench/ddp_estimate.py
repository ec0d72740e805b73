"""When would data-parallel training (torch DDP over Ray or torchrun) pay off? Measures, on this machine's CPU, the
seconds per optimisation step of the default model at several catalogue sizes and the gradient bytes every step
would have to all-reduce, then prints the epoch time a k-worker DDP run would need by the usual ring all-reduce
model (each worker sends and receives 2 (k-1)/k of the gradient per step). The note in
docs/experiments/ddp.md ("Data-parallel training: when it would pay off") quotes its output.

    python bench/ddp_estimate.py                 # 2,000 users, catalogues of 300 ... 40,000 items
    python bench/ddp_estimate.py --users 4000 --threads 1

Only the step times are measured; the network figures are assumptions named in the output (1 and 10 Gbit/s).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import torch

from seqrec import TrainConfig
from seqrec.data.split import ItemVocab, SplitData
from seqrec.training.loop import train


def split_for(n_users: int, n_items: int, seed: int = 0) -> SplitData:
    """Sequences of 10-60 items drawn by a Zipf-like popularity (the lengths of the retail sample's customers)."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, n_items + 1) ** 0.8
    p /= p.sum()
    train_ = [rng.choice(n_items, size=int(rng.integers(10, 60)), p=p) + 1 for _ in range(n_users)]
    return SplitData(vocab=ItemVocab([f"i{i}" for i in range(n_items)]), users=np.arange(n_users), train=train_,
                     valid_target=rng.integers(1, n_items + 1, size=n_users),
                     test_target=rng.integers(1, n_items + 1, size=n_users))


class StepRecorder:
    """A training callback that keeps every step's BatchInfo (one recorder, and so one list, per training)."""

    def __init__(self) -> None:
        self.steps = []

    def on_batch(self, info) -> None:
        self.steps.append(info)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=2000)
    ap.add_argument("--items", type=int, nargs="+", default=[300, 2459, 10_000, 40_000])
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    load_before = [round(x, 2) for x in os.getloadavg()]
    rows = []
    for n_items in a.items:
        split = split_for(a.users, n_items)
        # the default model (GRU 64/128, batch 64, full softmax); max_len 200: every sequence (at most 60) is one
        # window, as in the measurement quoted in docs/experiments/ddp.md
        config = TrainConfig(epochs=1, patience=0, max_minutes=0, max_len=200)
        recorder = StepRecorder()
        steps = recorder.steps
        t0 = time.perf_counter()
        result = train(split, config, callbacks=[recorder])
        wall = time.perf_counter() - t0
        train_s = steps[-1].elapsed
        events = sum(len(t) for t in split.train)
        grad_mb = sum(p.numel() for p in result.model.parameters()) * 4 / 2**20
        rows.append(dict(items=n_items, events=events, steps=len(steps), epoch_s=round(train_s, 2),
                         step_ms=round(1000 * train_s / len(steps), 1), events_per_s=round(events / train_s),
                         grad_mb=round(grad_mb, 2), with_validation_s=round(wall, 2)))
    out = []
    for r in rows:
        for gbit in (1, 10):
            for k in (2, 4, 8):
                comm_ms = 1000 * 2 * (k - 1) / k * r["grad_mb"] * 2**20 * 8 / (gbit * 1e9)
                # k workers each train a batch at once, then all-reduce: an epoch has 1/k of the steps, each
                # step_ms + comm_ms long (a global batch k times larger: not the same optimisation, see the note)
                out.append(dict(items=r["items"], gbit=gbit, workers=k, comm_ms=round(comm_ms, 1),
                                speedup=round(k * r["step_ms"] / (r["step_ms"] + comm_ms), 2)))
    print(json.dumps(dict(threads=a.threads, users=a.users, load_average_before=load_before,
                          load_average_after=[round(x, 2) for x in os.getloadavg()], measured=rows,
                          ddp_model=out), indent=1))


if __name__ == "__main__":
    main()
