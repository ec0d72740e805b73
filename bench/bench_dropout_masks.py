"""Training epoch time with the trainer's dropout masks drawn by torch's `bernoulli_` (the old way) and by NumPy's
PCG64 (now), interleaved, 2 torch threads, default GRU with dropout 0.5, full softmax; same windows and batches.

    python bench/bench_dropout_masks.py ml.csv [--rounds 5]     # ml.csv: python bench/movielens_like.py ml.csv
"""
import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import numpy as np
import torch

from seqrec import Filters, TrainConfig, leave_last_out, load_interactions
from seqrec.training import loop

torch.set_num_threads(2)
ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("data")
ap.add_argument("--rounds", type=int, default=5)
a = ap.parse_args()
split = leave_last_out(load_interactions(a.data, filters=Filters(min_item_count=1)))
cfg = TrainConfig(exclude_seen=True, dropout=0.5).validate()
windows, lengths = loop.training_windows(split.train, cfg.max_len)
wt = torch.from_numpy(windows)
def epoch(gen):
    model = loop.build_model(split.n_items, cfg)
    model.generator = gen
    opt = loop._make_optimizer(model, cfg)
    rng = np.random.default_rng(0)
    t, c = time.perf_counter(), time.process_time()
    for idx in loop.length_bucketed_batches(lengths, cfg.batch_size, rng):
        seq = wt[torch.from_numpy(idx), :int(lengths[idx].max())]
        opt.zero_grad(set_to_none=True)
        loop.batch_loss_backward(model, seq, split.n_items, None)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
    return time.perf_counter() - t, time.process_time() - c
old, new = [], []
epoch(np.random.default_rng(0))
for _ in range(a.rounds):
    old.append(epoch(torch.Generator().manual_seed(0)))
    new.append(epoch(np.random.default_rng(0)))
for i, what in ((0, "wall"), (1, "CPU")):
    o, n = [x[i] for x in old], [x[i] for x in new]
    print(f"{what}: torch bernoulli_ masks median {statistics.median(o):.2f} s/epoch {[round(x, 2) for x in o]}; "
          f"NumPy PCG64 masks {statistics.median(n):.2f} {[round(x, 2) for x in n]}; "
          f"new/old {statistics.median(n) / statistics.median(o):.3f}")
print("load average", [round(x, 2) for x in os.getloadavg()])
