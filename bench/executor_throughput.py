"""Issue 13, throughput: one app session's training (a TrainingJob through the default executor: its own spawned
worker process with all the cores) against the CLI (`python -m seqrec train`) on the same config and data, and the
old in-thread path (SEQREC_EXECUTOR=thread, cores // workers torch threads) for reference.

    python bench/executor_throughput.py [--epochs 3] [--repeats 2]

Prints sequences/s of each (the training loop's own count: windows trained / training seconds) and the ratio
app / CLI (the issue asks for at least 0.9). Figures go to RELIABILITY.md.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data" / "interactions.csv"

APP_CHILD = r"""
import json, os, sys
sys.path.insert(0, {root!r})
from seqrec import TrainConfig
from seqrec.service.dataset import sample_dataset
from seqrec.runtime import configure_threads
from seqrec.service import jobs
configure_threads()  # what app.py does for the server process
ds = sample_dataset()
job = jobs.start_training(ds, TrainConfig(epochs={epochs}, patience=0))
job.wait()
r = job.run
print(json.dumps(dict(sps=r.sequences_per_second, seconds=r.train_seconds, executor=r.executor,
                      recall=r.metrics["recall@20"])))
"""


def env(**extra):
    e = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_WAIT_POLICY": "PASSIVE", **extra}
    e.pop("OMP_NUM_THREADS", None)
    return e


def cli(epochs: int) -> dict:
    out = subprocess.run([sys.executable, "-m", "seqrec", "train", str(SAMPLE), "--epochs", str(epochs),
                          "--patience", "0", "--quiet"], capture_output=True, text=True, env=env(), timeout=1800)
    if out.returncode:
        raise SystemExit(out.stderr[-2000:])
    d = json.loads(out.stdout)
    return dict(sps=d["sequences_per_second"], seconds=d["train_seconds"], executor=d["executor"],
                recall=d["metrics"]["recall@20"])


def app(epochs: int, **extra) -> dict:
    out = subprocess.run([sys.executable, "-c", APP_CHILD.format(root=str(ROOT), epochs=epochs)],
                         capture_output=True, text=True, env=env(**extra), timeout=1800)
    if out.returncode:
        raise SystemExit(out.stderr[-2000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()
    rows = {"cli": [], "app (process executor)": [], "app, old in-thread path": []}
    for _ in range(a.repeats):  # interleaved, so a busy moment on a shared machine hits all three alike
        rows["cli"].append(cli(a.epochs))
        rows["app (process executor)"].append(app(a.epochs))
        rows["app, old in-thread path"].append(app(a.epochs, SEQREC_EXECUTOR="thread"))
    best = {k: max(v, key=lambda r: r["sps"]) for k, v in rows.items()}
    out = dict(cores=os.cpu_count(), epochs=a.epochs, repeats=a.repeats, load_average=os.getloadavg(),
               best=best, all={k: [round(r["sps"]) for r in v] for k, v in rows.items()},
               app_over_cli=round(best["app (process executor)"]["sps"] / best["cli"]["sps"], 3),
               old_over_cli=round(best["app, old in-thread path"]["sps"] / best["cli"]["sps"], 3))
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
