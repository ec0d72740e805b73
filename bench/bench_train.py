"""Training throughput of seqrec's loop against a plain PyTorch reference measured in the same run.

The reference is the straightforward loop one would write first: nn.GRU/LSTM/RNN over randomly shuffled batches
padded to the longest sequence, default (unfused) Adam. seqrec adds length bucketing and fused Adam. Both train the
same model size on the same windows for the same number of epochs; the ratio is what matters (machines are noisy).

Usage: python bench/bench_train.py [DATA.csv] [--epochs 2] [--threads 2]
Prints a markdown table for BENCHMARKS.md.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch
import torch.nn.functional as F

from seqrec import TrainConfig, leave_last_out, load_interactions
from seqrec.model.recurrent import CELL_CLASSES
from seqrec.training.loop import train, training_windows


def reference_seconds(windows: np.ndarray, lengths: np.ndarray, n_items: int, cfg: TrainConfig) -> float:
    """A plain loop: random batches padded to the batch's longest window, unfused Adam."""
    torch.manual_seed(cfg.seed)
    emb = torch.nn.Embedding(n_items + 1, cfg.embedding_dim, padding_idx=0)
    rnn = CELL_CLASSES[cfg.model](cfg.embedding_dim, cfg.hidden_size, num_layers=cfg.layers, batch_first=True)
    out = torch.nn.Linear(cfg.hidden_size, n_items + 1)
    params = [*emb.parameters(), *rnn.parameters(), *out.parameters()]
    opt = torch.optim.Adam(params, lr=cfg.lr)
    rng = np.random.default_rng(cfg.seed)
    data = torch.from_numpy(windows)
    t = time.perf_counter()
    for _ in range(cfg.epochs):
        perm = rng.permutation(len(lengths))
        for s in range(0, len(perm), cfg.batch_size):
            idx = perm[s: s + cfg.batch_size]
            seq = data[torch.from_numpy(idx), : int(lengths[idx].max())]
            h, _ = rnn(F.dropout(emb(seq[:, :-1]), cfg.dropout))
            logits = out(F.dropout(h, cfg.dropout))
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), seq[:, 1:].reshape(-1), ignore_index=0)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            opt.step()
    return time.perf_counter() - t


def seqrec_seconds(split, cfg: TrainConfig) -> float:
    """seqrec's training loop without its per-epoch validation (timed through the batch callback)."""
    marks = []

    class Timer:
        def on_batch(self, info):
            marks.append(info.elapsed)

        def on_epoch(self, info):
            pass

    train(split, cfg, [Timer()], device="cpu")
    return marks[-1]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("data", nargs="?", default=str(Path(__file__).resolve().parents[1] / "sample_data/interactions.csv"))
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    split = leave_last_out(load_interactions(a.data))
    print(f"data: {a.data} ({len(split.users)} users, {split.n_items} items), {a.threads} threads, "
          f"{a.epochs} epochs\n")
    print("| cell | reference s | seqrec s | speed-up (reference / seqrec) | seqrec sequences/s |")
    print("|---|---|---|---|---|")
    for cell in ("rnn", "gru", "lstm"):
        cfg = TrainConfig(model=cell, epochs=a.epochs, patience=0).validate()
        windows, lengths = training_windows(split.train, cfg.max_len)
        ref = reference_seconds(windows, lengths, split.n_items, cfg)
        ours = seqrec_seconds(split, cfg)
        print(f"| {cell} | {ref:.2f} | {ours:.2f} | {ref / ours:.2f}x | {len(lengths) * a.epochs / ours:.0f} |",
              flush=True)


if __name__ == "__main__":
    main()
