"""Every performance figure of seqrec in one command: prints a table and JSON (see BENCHMARKS.md).

    python bench/run.py                 # everything, 7-8 minutes on 2 cores
    python bench/run.py --quick         # fewer repeats, shorter trainings, no Thorough preset (~2 minutes)
    python bench/run.py --only ingest eval --json out.json

Speed figures are ratios against a reference measured in the same run (the machines are shared and noisy), or
medians of several repeats; the machine's load average is printed with them. Quality figures are exact for the seed.
Sections: overhead, padding, output, ingest, eval, recommend, presets, quality, ui.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI and the app run
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from seqrec import PRESETS, TrainConfig, leave_last_out, load_interactions, train_run  # noqa: E402
from seqrec.data.split import ItemVocab, SplitData  # noqa: E402
from seqrec.evaluation.protocol import evaluate_model  # noqa: E402
from seqrec.model.losses import NegativeSampler  # noqa: E402
from seqrec.training.loop import batch_loss_backward, build_model, length_bucketed_batches, train, training_windows  # noqa: E402

SAMPLE = ROOT / "sample_data" / "interactions.csv"
SECTIONS = ("overhead", "padding", "output", "ingest", "eval", "recommend", "presets", "quality", "ui")


# ------------------------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------------------------

def median_of(fn, reps: int) -> float:
    """Median seconds of `reps` calls of fn()."""
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def machine() -> dict:
    cpu = ""
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu or platform.processor(), "cores": os.cpu_count(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
            "pandas": pd.__version__, "load_average_start": [round(x, 2) for x in os.getloadavg()]}


class RssPeak:
    """Peak resident memory above the level at start, sampled every millisecond in a thread (Linux /proc)."""

    def __enter__(self):
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.start = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _rss(self) -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * self.page

    def _watch(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(0.001)

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    @property
    def extra_mb(self) -> float:
        return (self.peak - self.start) / 2**20


def movielens_like_csv(folder: Path) -> Path:
    """The MovieLens-shaped log of the issue: 1,000 users, 1,700 items, ~100 events per user, long-tailed."""
    from movielens_like import generate

    path = folder / "movielens_like.csv"
    if not path.exists():
        generate(users=1000, items=1700, seed=0).to_csv(path, index=False)
    return path


def skewed_lengths(users: int = 20_000, seed: int = 1) -> np.ndarray:
    """Heavy-tailed sequence lengths (median 7, p99 ~500, up to 2,000): the hard case for padding."""
    rng = np.random.default_rng(seed)
    return np.clip((3 + rng.pareto(1.0, users) * 5).astype(int), 3, 2000)


def split_of_lengths(lengths: np.ndarray, n_items: int, seed: int = 0) -> SplitData:
    """A SplitData with random items and the given per-user lengths (training part = length - 2)."""
    rng = np.random.default_rng(seed)
    seqs = [rng.integers(1, n_items + 1, int(n)) for n in lengths]
    vocab = ItemVocab(np.array([f"i{i}" for i in range(n_items)], dtype=object))
    return SplitData(vocab=vocab, users=np.array([f"u{i}" for i in range(len(seqs))], dtype=object),
                     train=[s[:-2] for s in seqs], valid_target=np.array([s[-2] for s in seqs]),
                     test_target=np.array([s[-1] for s in seqs]))


# ------------------------------------------------------------------------------------------------------------------
# 1. trainer overhead against a minimal loop
# ------------------------------------------------------------------------------------------------------------------

def minimal_loop_seconds(split: SplitData, cfg: TrainConfig) -> float:
    """The minimal hand-written loop over the same model, windows, batches and optimizer: forward, cross-entropy
    over the padded batch (ignore_index=0), backward, clip, step. No callbacks, no bookkeeping."""
    windows, lengths = training_windows(split.train, cfg.max_len)
    data = torch.from_numpy(windows)
    model = build_model(split.n_items, cfg)
    model.generator = torch.Generator().manual_seed(cfg.seed)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, fused=True)
    rng = np.random.default_rng(cfg.seed)
    model.train()
    t = time.perf_counter()
    for _ in range(cfg.epochs):
        for idx in length_bucketed_batches(lengths, cfg.batch_size, rng):
            seq = data[torch.from_numpy(idx), : int(lengths[idx].max())]
            logits = model(seq[:, :-1])
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), seq[:, 1:].reshape(-1), ignore_index=0)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            opt.step()
    return time.perf_counter() - t


class BatchClock:
    """Callback: seqrec's training seconds without per-epoch validation (sum over epochs of first-to-last batch,
    plus the first batch measured from the end of the previous epoch)."""

    def __init__(self):
        self.seconds, self._epoch_end = 0.0, 0.0
        self._last = 0.0

    def on_batch(self, info):
        self._last = info.elapsed

    def on_epoch(self, info):
        self.seconds += self._last - self._epoch_end
        self._epoch_end = info.elapsed


def seqrec_train_seconds(split: SplitData, cfg: TrainConfig) -> float:
    clock = BatchClock()
    train(split, cfg, [clock], device="cpu")
    return clock.seconds


def bench_overhead(quick: bool, tmp: Path) -> dict:
    """Throughput of seqrec's trainer / a minimal loop, per cell, median of interleaved repeats."""
    out = {}
    datasets = [("sample", SAMPLE, 2)]
    if not quick:
        datasets.append(("movielens_like", movielens_like_csv(tmp), 1))
    for dname, path, epochs in datasets:
        split = leave_last_out(load_interactions(path))
        n_windows = len(training_windows(split.train, TrainConfig().max_len)[1])
        for cell in ("rnn", "lstm", "gru") if dname == "sample" else ("gru",):
            cfg = TrainConfig(model=cell, epochs=epochs, patience=0, max_minutes=0).validate()
            seqrec_train_seconds(split, cfg.replace(epochs=1))  # warm-up (first-call allocations)
            ratios, ref_s, ours_s = [], [], []
            for rep in range(3 if quick else 5):
                if rep % 2:  # alternate who goes first: drifting load hits both alike
                    s = seqrec_train_seconds(split, cfg)
                    r = minimal_loop_seconds(split, cfg)
                else:
                    r = minimal_loop_seconds(split, cfg)
                    s = seqrec_train_seconds(split, cfg)
                ratios.append(r / s)
                ref_s.append(r)
                ours_s.append(s)
            out[f"{dname}/{cell}"] = {
                "minimal_seq_per_s": round(n_windows * epochs / statistics.median(ref_s)),
                "seqrec_seq_per_s": round(n_windows * epochs / statistics.median(ours_s)),
                "ratio": round(statistics.median(ratios), 3), "ratios": [round(x, 3) for x in ratios]}
            print(f"  overhead {dname}/{cell}: {out[f'{dname}/{cell}']}", file=sys.stderr, flush=True)
    return out


# ------------------------------------------------------------------------------------------------------------------
# 2. padding
# ------------------------------------------------------------------------------------------------------------------

def padding_fraction(lengths: np.ndarray, batch_size: int, epochs: int = 3, seed: int = 42) -> float:
    """Padded share of the positions the recurrent layer computes (batch rows x (width - 1) per batch), over the
    batches the trainer builds in a few epochs. The output layer sees only real positions."""
    rng = np.random.default_rng(seed)
    computed = real = 0
    for _ in range(epochs):
        for idx in length_bucketed_batches(lengths, batch_size, rng):
            computed += len(idx) * (int(lengths[idx].max()) - 1)
            real += int((lengths[idx] - 1).sum())
    return 1 - real / computed


def bench_padding(quick: bool, tmp: Path) -> dict:
    out = {}
    max_len = TrainConfig().max_len
    cases = {"sample": leave_last_out(load_interactions(SAMPLE)).train,
             "movielens_like": leave_last_out(load_interactions(movielens_like_csv(tmp))).train,
             "skewed": [np.ones(n - 2, dtype=np.int64) for n in skewed_lengths()]}
    for name, train_seqs in cases.items():
        _, lengths = training_windows(train_seqs, max_len)
        out[name] = {"windows": int(len(lengths)), "median_length": float(np.median(lengths)),
                     "max_length": int(lengths.max())}
        for bs in (32, 64, 128, 256):
            out[name][f"batch_{bs}"] = round(padding_fraction(lengths, bs), 4)
    return out


# ------------------------------------------------------------------------------------------------------------------
# 3. output layer share and the sampled loss
# ------------------------------------------------------------------------------------------------------------------

def step_seconds(n_items: int, mode: str, reps: int, batch: int = 256, length: int = 50, hidden: int = 100,
                 negatives: int = 512) -> float:
    """Median seconds of one training step (forward, backward, Adam) of a GRU on random data. mode: 'recurrent'
    (the loss reads the hidden states directly: no output layer), 'full' or 'sampled' (seqrec's losses)."""
    cfg = TrainConfig(model="gru", embedding_dim=hidden, hidden_size=hidden, dropout=0.0, negatives=negatives)
    model = build_model(n_items, cfg)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    seq = torch.randint(1, n_items + 1, (batch, length + 1), generator=torch.Generator().manual_seed(0))
    sampler = None
    if mode == "sampled":
        counts = [np.random.default_rng(0).zipf(1.2, 50_000) % n_items + 1]
        sampler = NegativeSampler(counts, n_items, negatives, seed=0)

    def step():
        opt.zero_grad()
        if mode == "recurrent":
            model.hidden_states(seq[:, :-1]).square().mean().backward()
        else:
            batch_loss_backward(model, seq, n_items, sampler)
        opt.step()

    step()  # warm-up
    return median_of(step, reps)


def bench_output(quick: bool, tmp: Path) -> dict:
    out = {}
    for n_items in (3_700, 40_000):
        reps = 1 if (quick and n_items > 10_000) else 3
        rec = step_seconds(n_items, "recurrent", reps)
        full = step_seconds(n_items, "full", reps)
        sampled = step_seconds(n_items, "sampled", reps)
        out[str(n_items)] = {"recurrent_ms": round(rec * 1000), "full_step_ms": round(full * 1000),
                             "output_share_full": round((full - rec) / full, 3),
                             "full_seq_per_s": round(256 / full), "sampled_step_ms": round(sampled * 1000),
                             "sampled_seq_per_s": round(256 / sampled), "sampled_speedup": round(full / sampled, 1),
                             "output_share_sampled": round(max(0.0, sampled - rec) / sampled, 3)}
        print(f"  output {n_items}: {out[str(n_items)]}", file=sys.stderr, flush=True)
    return out


# ------------------------------------------------------------------------------------------------------------------
# 4. ingest
# ------------------------------------------------------------------------------------------------------------------

def bench_ingest(quick: bool, tmp: Path) -> dict:
    """bench/bench_ingest.py's file and interleaved timing (one copy of both, shared with that script)."""
    from bench_ingest import interleaved, million_row_csv

    return interleaved(million_row_csv(tmp), 2 if quick else 3)


# ------------------------------------------------------------------------------------------------------------------
# 5. evaluation of a large catalogue
# ------------------------------------------------------------------------------------------------------------------

def bench_eval(quick: bool, tmp: Path) -> dict:
    """Full ranking of 40,000 items for 6,000 users (exclude-seen on), default model size, random weights."""
    n_items, n_users = 40_000, 6_000
    rng = np.random.default_rng(0)
    lengths = np.clip((3 + rng.pareto(1.2, n_users) * 20).astype(int), 3, 400)
    split = split_of_lengths(lengths, n_items)
    cfg = TrainConfig(exclude_seen=True)
    model = build_model(n_items, cfg).eval()
    evaluate_model(model, split, "test", cfg, users=np.arange(50))  # warm-up
    with RssPeak() as mem:
        t = time.perf_counter()
        metrics = evaluate_model(model, split, "test", cfg)
        secs = time.perf_counter() - t
    from seqrec.evaluation.metrics import default_eval_batch

    return {"items": n_items, "users": n_users, "seconds": round(secs, 2), "users_per_s": round(n_users / secs),
            "scores_per_s_millions": round(n_users * (n_items + 1) / secs / 1e6, 1),
            "peak_extra_mb": round(mem.extra_mb, 1), "batch_rows": default_eval_batch(n_items),
            "recall@20": round(metrics["recall@20"], 5)}


# ------------------------------------------------------------------------------------------------------------------
# 6. one recommendation
# ------------------------------------------------------------------------------------------------------------------

def bench_recommend(quick: bool, tmp: Path) -> dict:
    """Top-20 for one 50-item history after load_run, median of many calls, for a 300- and a 40,000-item run."""
    from seqrec.runs.files import load_run, save_run
    from seqrec.runs.run import Run

    out = {}
    for n_items in (300, 40_000):
        cfg = TrainConfig()
        vocab = ItemVocab(np.array([f"item{i}" for i in range(n_items)], dtype=object))
        folder = save_run(Run(name="bench", config=cfg, vocab=vocab, model=build_model(n_items, cfg), metrics={}),
                          tmp / f"run_{n_items}")
        run = load_run(folder)
        history = [f"item{i}" for i in np.random.default_rng(0).integers(0, n_items, 50)]
        for _ in range(5):
            run.recommend(history, k=20)
        times = []
        for _ in range(50 if quick else 200):
            t = time.perf_counter()
            run.recommend(history, k=20, exclude_seen=True)
            times.append(time.perf_counter() - t)
        out[str(n_items)] = {"median_ms": round(1000 * statistics.median(times), 2),
                             "p90_ms": round(1000 * float(np.percentile(times, 90)), 2)}
    return out


# ------------------------------------------------------------------------------------------------------------------
# 7. presets on the sample
# ------------------------------------------------------------------------------------------------------------------

def bench_presets(quick: bool, tmp: Path) -> dict:
    split = leave_last_out(load_interactions(SAMPLE))
    out = {}
    for name in (("Quick demo",) if quick else ("Quick demo", "Thorough")):
        cfg = TrainConfig(**PRESETS[name])
        t = time.perf_counter()
        run = train_run(split, cfg, baselines={})
        out[name] = {"recall@20": round(run.metrics["recall@20"], 4), "train_seconds": round(run.train_seconds, 1),
                     "wall_seconds": round(time.perf_counter() - t, 1), "epochs": run.epochs_run,
                     "best_epoch": run.best_epoch}
        print(f"  preset {name}: {out[name]}", file=sys.stderr, flush=True)
    if "Thorough" in out:
        out["quick_share_of_thorough"] = round(out["Quick demo"]["recall@20"] / out["Thorough"]["recall@20"], 3)
    return out


# ------------------------------------------------------------------------------------------------------------------
# 8. time to quality on the MovieLens-shaped log
# ------------------------------------------------------------------------------------------------------------------

def quality_curve(split: SplitData, cfg: TrainConfig) -> dict:
    """Train cfg; after every epoch also score the TEST targets (outside the clock) to find when it crosses 0.30."""
    rows = []
    model_box = {}
    import seqrec.training.loop as T

    original = T.build_model

    def capture(*a, **k):
        model_box["m"] = original(*a, **k)
        return model_box["m"]

    spent = {"s": 0.0}

    class Curve:
        def on_epoch(self, info):
            t = time.perf_counter()
            test = evaluate_model(model_box["m"], split, "test", cfg)
            rows.append({"epoch": info.epoch, "seconds": round(info.elapsed - spent["s"], 1),
                         "valid_recall@20": round(info.valid["recall@20"], 4),
                         "test_recall@20": round(test["recall@20"], 4)})
            spent["s"] += time.perf_counter() - t

    T.build_model = capture
    try:
        result = train(split, cfg, [Curve()])
    finally:
        T.build_model = original
    test = evaluate_model(result.model, split, "test", cfg)
    cross = next((r for r in rows if r["test_recall@20"] >= 0.30), None)
    kept_at_60 = [r for r in rows if r["seconds"] <= 60]
    best_by_valid_60 = max(kept_at_60, key=lambda r: r["valid_recall@20"]) if kept_at_60 else None
    return {"final_test_recall@20": round(test["recall@20"], 4), "epochs": result.epochs_run,
            "best_epoch": result.best_epoch, "train_seconds": round(result.train_seconds - spent["s"], 1),
            "stop_reason": result.stop_reason, "crosses_0.30_at_s": cross["seconds"] if cross else None,
            "crosses_0.30_at_epoch": cross["epoch"] if cross else None,
            "test_recall@20_kept_at_60s": best_by_valid_60["test_recall@20"] if best_by_valid_60 else None,
            "curve": rows}


def bench_quality(quick: bool, tmp: Path) -> dict:
    data = load_interactions(movielens_like_csv(tmp))
    split = leave_last_out(data)
    out = {"users": len(split.users), "items": split.n_items, "events": len(data)}
    limit = 1.0 if quick else 2.5  # minutes, this benchmark's own test scoring included
    for name, cfg in (("default", TrainConfig(exclude_seen=True, max_minutes=limit)),
                      ("sampled", TrainConfig(exclude_seen=True, max_minutes=limit, loss="sampled"))):
        if quick and name != "default":
            continue
        out[name] = quality_curve(split, cfg)
        summary = {k: v for k, v in out[name].items() if k != "curve"}
        print(f"  quality {name}: {json.dumps(summary)}", file=sys.stderr, flush=True)
    return out


# ------------------------------------------------------------------------------------------------------------------
# 9. the app: page reruns after a run exists
# ------------------------------------------------------------------------------------------------------------------

def bench_ui(quick: bool, tmp: Path) -> dict:
    from ui_reruns import measure_reruns

    return measure_reruns(quick)


BENCHES = {"overhead": bench_overhead, "padding": bench_padding, "output": bench_output, "ingest": bench_ingest,
           "eval": bench_eval, "recommend": bench_recommend, "presets": bench_presets, "quality": bench_quality,
           "ui": bench_ui}


# ------------------------------------------------------------------------------------------------------------------
# report
# ------------------------------------------------------------------------------------------------------------------

def table(results: dict) -> str:
    """One line per figure of the issue: figure, value, target, met?"""
    rows = []

    def add(figure, value, target="", met=None):
        rows.append((figure, value, target, "" if met is None else ("yes" if met else "NO")))

    r = results
    if "overhead" in r:
        for key, v in r["overhead"].items():
            add(f"trainer / minimal loop throughput, {key}", f"{v['ratio']:.2f}x ({v['seqrec_seq_per_s']} vs "
                f"{v['minimal_seq_per_s']} seq/s)", ">= 0.85x", v["ratio"] >= 0.85)
    if "padding" in r:
        for name, v in r["padding"].items():
            add(f"padding share of computed positions, {name} (batch 64)", f"{v['batch_64']:.1%} (256: "
                f"{v['batch_256']:.1%})", "< 15%", v["batch_64"] < 0.15)
    if "output" in r:
        for n, v in r["output"].items():
            add(f"output layer share of a step, {int(n):,} items", f"{v['output_share_full']:.0%} "
                f"({v['full_seq_per_s']} seq/s)", "measure")
            add(f"sampled loss speed-up, {int(n):,} items", f"{v['sampled_speedup']}x ({v['sampled_seq_per_s']} "
                f"seq/s)", "faster")
    if "ingest" in r:
        v = r["ingest"]
        add("ingest 1M rows / bare pandas.read_csv", f"{v['ratio']:.2f}x ({v['seqrec_s']} s vs "
            f"{v['pandas_read_csv_s']} s)", "<= 2x", v["ratio"] <= 2)
    if "eval" in r:
        v = r["eval"]
        add("evaluate 40,000 items x 6,000 users", f"{v['seconds']} s, {v['users_per_s']} users/s, peak +"
            f"{v['peak_extra_mb']} MB", "< 1 GB extra", v["peak_extra_mb"] < 1024)
    if "recommend" in r:
        for n, v in r["recommend"].items():
            add(f"recommend top-20, 50-item history, {int(n):,} items", f"{v['median_ms']} ms median", "< 20 ms",
                v["median_ms"] < 20)
    if "presets" in r:
        v = r["presets"]
        q = v["Quick demo"]
        if "Thorough" in v:
            add("Quick demo / Thorough Recall@20 (sample)", f"{v['quick_share_of_thorough']:.0%} ({q['recall@20']} "
                f"vs {v['Thorough']['recall@20']}, {v['Thorough']['train_seconds']} s)", ">= 90%",
                v["quick_share_of_thorough"] >= 0.9)
        add("Quick demo training time (sample)", f"{q['train_seconds']} s", "< 30 s", q["train_seconds"] < 30)
    if "quality" in r:
        for name in ("default", "sampled"):
            if name in r["quality"]:
                v = r["quality"][name]
                add(f"MovieLens-shaped, {name} GRU: test Recall@20 >= 0.30 after",
                    f"{v['crosses_0.30_at_s']} s (epoch {v['crosses_0.30_at_epoch']}); kept at 60 s: "
                    f"{v['test_recall@20_kept_at_60s']}; end {v['final_test_recall@20']} after "
                    f"{v['train_seconds']} s ({v['stop_reason']})", "<= 60 s",
                    v["crosses_0.30_at_s"] is not None and v["crosses_0.30_at_s"] <= 60)
    if "ui" in r:
        v = r["ui"]
        add("app reruns after a run exists: trainings / evaluations started", f"{v['trainings']} / "
            f"{v['evaluations']}", "0 / 0", v["trainings"] == 0 and v["evaluations"] == 0)
        add("app rerun seconds (median / slowest)", f"{v['median_s']} / {v['max_s']} ({v['slowest']})", "measure")
    width = max(len(x[0]) for x in rows) if rows else 10
    lines = [f"{'figure':<{width}}  {'value':<60}  {'target':<12}  met", "-" * (width + 82)]
    lines += [f"{a:<{width}}  {b:<60}  {c:<12}  {d}" for a, b, c, d in rows]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats, shorter trainings (~2 minutes)")
    p.add_argument("--only", nargs="+", choices=SECTIONS, help="run only these sections")
    p.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    p.add_argument("--json", metavar="FILE", help="also write the JSON results to FILE")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    results = {"machine": machine(), "mode": "quick" if a.quick else "full"}
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="seqrec-bench-") as tmp:
        for name in a.only or SECTIONS:
            t = time.perf_counter()
            print(f"[{name}] ...", file=sys.stderr, flush=True)
            results[name] = BENCHES[name](a.quick, Path(tmp))
            results.setdefault("section_seconds", {})[name] = round(time.perf_counter() - t, 1)
    results["machine"]["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    results["total_seconds"] = round(time.perf_counter() - t0, 1)
    text = json.dumps(results, indent=1)
    print(text)
    print()
    print(table(results))
    print(f"\ntotal {results['total_seconds']} s; load average start {results['machine']['load_average_start']}, "
          f"end {results['machine']['load_average_end']}")
    if a.json:
        Path(a.json).write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
