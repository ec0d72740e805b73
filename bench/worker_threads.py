"""How should a small CPU machine split its cores between concurrent trainings? Times a fixed short training of the
Quick demo preset on the sample, alone and as several at once in worker threads, for each torch thread count, and
checks what `torch.set_num_threads` (process-wide) means for threads that already exist.

    python bench/worker_threads.py [--epochs 2] [--concurrent 2]

Each case runs in a fresh subprocess (torch's thread settings cannot be undone inside one process). Figures go to
RELIABILITY.md.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys, threading, time
import torch
sys.path.insert(0, {root!r})
torch.set_num_threads({threads})
from seqrec import PRESETS, TrainConfig
from seqrec.service.dataset import sample_dataset
from seqrec.training.loop import train
split = sample_dataset().split
config = TrainConfig(**{{**PRESETS["Quick demo"], "epochs": {epochs}, "patience": 0}})
seen = {{}}
def work(i):
    seen[i] = torch.get_num_threads()
    train(split, config)
t0 = time.perf_counter()
threads = [threading.Thread(target=work, args=(i,)) for i in range({concurrent})]
for t in threads: t.start()
for t in threads: t.join()
wall = time.perf_counter() - t0
# What a worker thread that already ran torch ops sees after the main thread changes the setting:
ready, changed = threading.Event(), threading.Event()
late = {{}}
def probe():
    torch.ones(1000, 1000) @ torch.ones(1000, 1000)
    ready.set(); changed.wait()
    late["after"] = torch.get_num_threads()
p = threading.Thread(target=probe); p.start(); ready.wait()
torch.set_num_threads(max(1, {threads} + 1)); changed.set(); p.join()
print(json.dumps(dict(wall=wall, worker_threads=sorted(set(seen.values())), late=late["after"],
                      main_after=torch.get_num_threads())))
"""


def run_case(threads: int, concurrent: int, epochs: int) -> dict:
    code = CHILD.format(root=str(ROOT), threads=threads, concurrent=concurrent, epochs=epochs)
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    env.pop("OMP_NUM_THREADS", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=900, env=env)
    if out.returncode:
        raise SystemExit(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--concurrent", type=int, default=2)
    a = ap.parse_args()
    cores = os.cpu_count() or 1
    print(f"{cores} cores; Quick demo preset, {a.epochs} epochs on the sample; wall seconds")
    print(f"{'torch threads':>14}{'1 training':>12}{f'{a.concurrent} at once':>12}{'per training':>14}"
          f"{'late set_num_threads':>22}")
    for threads in sorted({1, max(1, cores // a.concurrent), cores}):
        solo = run_case(threads, 1, a.epochs)
        many = run_case(threads, a.concurrent, a.epochs)
        late = f"worker {many['late']}, main {many['main_after']}"
        print(f"{threads:>14}{solo['wall']:>12.1f}{many['wall']:>12.1f}{many['wall'] / a.concurrent:>14.1f}"
              f"{late:>22}", flush=True)


if __name__ == "__main__":
    main()
