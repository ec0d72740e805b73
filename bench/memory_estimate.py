"""Does seqrec.training.budget's estimate match what training really allocates? Each case trains one \
(time-limited) epoch in
a fresh subprocess on synthetic sequences and reports the estimate beside the measured peak RSS growth.

    python bench/memory_estimate.py            # all cases, one torch thread
    python bench/memory_estimate.py --case catalogue

The growth is the process's peak RSS (ru_maxrss) minus its RSS just before training, after torch and the data were
loaded and a tiny warm-up training ran (so lazily loaded kernels and thread pools are not counted). Figures go to
RELIABILITY.md.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CASES = {
    # name: (n_items, n_users, sequence length, config overrides)
    "catalogue": (300_000, 1_000, 20, dict(embedding_dim=64, hidden_size=128, batch_size=64)),
    "logits": (20_000, 2_000, 50, dict(embedding_dim=32, hidden_size=64, batch_size=256)),
    "long histories": (1_000, 40_000, 300, dict(embedding_dim=16, hidden_size=16, batch_size=256, max_len=200)),
    "lstm 2 layers": (50_000, 2_000, 100, dict(model="lstm", embedding_dim=64, hidden_size=256, layers=2,
                                                batch_size=128)),
    "sample-like": (300, 3_000, 16, dict()),
}

CHILD = r"""
import json, resource, sys, time
import numpy as np
import torch
torch.set_num_threads(1)
sys.path.insert(0, {root!r})
from seqrec import TrainConfig
from seqrec.data.split import ItemVocab, SplitData
from seqrec.training.budget import DataShape, estimate_training_memory
from seqrec.training.loop import train

n_items, n_users, length, overrides = {args!r}
rng = np.random.default_rng(0)
train_seqs = [rng.integers(1, n_items + 1, size=length).astype(np.int64) for _ in range(n_users)]
split = SplitData(vocab=ItemVocab([f"i{{i}}" for i in range(n_items)]), users=np.arange(n_users),
                  train=train_seqs, valid_target=rng.integers(1, n_items + 1, size=n_users),
                  test_target=rng.integers(1, n_items + 1, size=n_users))
config = TrainConfig(epochs=1, patience=0, max_minutes=0.05, **overrides).validate()
tiny = SplitData(split.vocab, split.users[:50], split.train[:50], split.valid_target[:50], split.test_target[:50])
train(tiny, config.replace(embedding_dim=4, hidden_size=4, max_minutes=0.01))  # warm-up: kernels, thread pools
del tiny
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()
before = rss()
est = estimate_training_memory(DataShape.of(split), config)
t0 = time.perf_counter()
train(split, config)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps(dict(estimate=est.total, parts=est.parts(), growth=peak - before, seconds=time.perf_counter() - t0)))
"""


def measure(name: str) -> dict:
    n_items, n_users, length, overrides = CASES[name]
    code = CHILD.format(root=str(ROOT), args=(n_items, n_users, length, overrides))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900,
                         env={"OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE", "PATH": "/usr/bin:/bin"})
    if out.returncode:
        raise SystemExit(f"{name} failed:\n{out.stderr[-3000:]}")
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res.update(case=name, n_items=n_items, n_users=n_users, length=length, config=overrides,
               ratio=res["estimate"] / max(1, res["growth"]))
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", choices=list(CASES), action="append")
    a = ap.parse_args()
    print(f"{'case':<16}{'items':>9}{'users':>8}{'len':>5}  {'estimate':>10}{'measured':>10}{'est/real':>9}  "
          f"dominant part")
    for name in a.case or list(CASES):
        r = measure(name)
        parts = {k: v for k, v in r["parts"].items() if k != "total"}
        top = max(parts, key=parts.get)
        print(f"{name:<16}{r['n_items']:>9,}{r['n_users']:>8,}{r['length']:>5}  {r['estimate'] / 2**20:>8.0f}MB"
              f"{r['growth'] / 2**20:>8.0f}MB{r['ratio']:>9.2f}  {top}", flush=True)


if __name__ == "__main__":
    main()
