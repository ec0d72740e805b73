"""Fit and scoring time of every baseline on a generated 1M-event log, plus their quality on a real-shaped split.

    python bench/bench_baselines.py                      # 50,000 users x 20,000 items, 1,000,000 events
    python bench/bench_baselines.py --users 5000 --events 100000   # a quick look
    python bench/bench_baselines.py --quality sample_data/interactions.csv

The log: Zipf item popularity (exponent 1.1), user lengths from a heavy-tailed distribution (at least 3 events),
and locality a kNN can use (each next item is often a neighbour of the previous one in a random item order).
Scoring is through the protocol's `rank_baseline` (exact ranks from each baseline's sparse scores) (all users' test
histories, exclude-seen), so the time includes ranking. `--quality FILE` prints test Recall@20 / MRR@20 of each
baseline on FILE's leave-last-out split, with and without exclude-seen (ItemKNN's K tuned on validation under the
same setting).
"""
from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the CLI and the app run
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from seqrec import leave_last_out, load_interactions  # noqa: E402
from seqrec.data.split import ItemVocab, SplitData  # noqa: E402
from seqrec.evaluation.protocol import rank_baseline  # noqa: E402
from seqrec.model.baselines import ALL_BASELINES  # noqa: E402


def generated_split(users: int, items: int, events: int, seed: int = 0) -> SplitData:
    """A leave-last-out split of a synthetic log with about `events` events (vectorised generation)."""
    rng = np.random.default_rng(seed)
    lengths = 3 + rng.pareto(1.5, size=users)
    lengths = np.maximum(3, np.round(lengths / lengths.sum() * events)).astype(np.int64)
    pop = 1.0 / np.arange(1, items + 1) ** 1.1
    total = int(lengths.sum())
    by_pop = rng.choice(items, size=total, p=pop / pop.sum())
    # Locality: 40% of events follow the previous one closely in a fixed random item order.
    order = rng.permutation(items)
    place = np.empty(items, dtype=np.int64)
    place[order] = np.arange(items)
    seq = by_pop.copy()
    follow = rng.random(total) < 0.4
    for _ in range(2):  # two passes let short chains form without a Python loop over events
        prev = np.concatenate([[0], seq[:-1]])
        step = rng.integers(1, 4, size=total)
        seq = np.where(follow, order[(place[prev] + step) % items], by_pop)
    codes = seq + 1
    ends = np.cumsum(lengths)
    seqs = np.split(codes, ends[:-1])
    return SplitData(vocab=ItemVocab(np.array([f"i{i}" for i in range(1, items + 1)], dtype=object)),
                     users=np.arange(users), train=[s[:-2] for s in seqs],
                     valid_target=np.array([s[-2] for s in seqs]), test_target=np.array([s[-1] for s in seqs]))


class Clock:
    """Wall and CPU seconds of a block (CPU time is the fairer figure on a shared machine)."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu

    def __str__(self):
        return f"{self.wall:.1f} / {self.cpu:.1f}"


def timing(split: SplitData):
    """One table row per baseline, yielded as soon as it is measured."""
    hist, tgt = split.histories("test")
    for cls in ALL_BASELINES:
        with Clock() as fit:
            b = cls().fit(split.train, split.n_items)  # the fit alone; ItemKNN's tuning is timed separately below
        with Clock() as score:  # the protocol's scoring path (sparse ranks; SessionKNN dense)
            m = rank_baseline(b, hist, tgt, split.n_items, (20,), True)[0]
        tune = ""
        if hasattr(b, "tune"):
            with Clock() as tune:
                b.tune(split.valid_histories, split.valid_target, True)
        yield cls.name, fit, tune, score, f"{len(hist) / score.wall:,.0f}", f"{m['recall@20']:.3f}", peak_mb()


def protocol_timing(split: SplitData):
    """The path the app and the CLI take (seqrec.evaluation.protocol): all five baselines fitted once per dataset
    (ItemKNN's K chosen on a seeded sample of at most 2,000 validation users), scored on the test users (SessionKNN
    on a seeded sample of 5,000 beyond that), and every 95% interval computed from the per-user ranks."""
    from seqrec.evaluation import protocol, uncertainty

    with Clock() as fit:
        fitted = protocol.fit_baselines(split, exclude_seen=True)
    yield "fit all five (K tuned on a validation sample)", fit, peak_mb()
    with Clock() as score:
        results = protocol.evaluate_baselines(split, (10, 20), True, fitted=fitted)
    yield (f"score all five (exclude-seen; SessionKNN on "
           f"{results['session_knn'].get('users_scored', len(split.train)):,} users)", score, peak_mb())
    with Clock() as ci:
        for ranks in results.ranks.values():
            uncertainty.metric_intervals(ranks, (10, 20))
        best = uncertainty.best_baseline_name(results, "recall@20")
        for ranks in results.ranks.values():
            uncertainty.paired(results.ranks[best], ranks, "recall@20")
    yield "95% intervals (6 metrics x 5 baselines) + 5 paired differences, 1,000 resamples", ci, peak_mb()


def peak_mb() -> str:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f}"


def quality(path: str) -> list[tuple]:
    split = leave_last_out(load_interactions(path))
    hist, tgt = split.histories("test")
    rows = []
    for exclude in (False, True):
        for cls in ALL_BASELINES:
            b = cls().fit(split.train, split.n_items, valid=(split.valid_histories, split.valid_target),
                          exclude_seen=exclude)
            m = rank_baseline(b, hist, tgt, split.n_items, (20,), exclude)[0]
            k = f" (K={b.k_history})" if hasattr(b, "k_history") else ""
            rows.append((cls.name + k, "yes" if exclude else "no", f"{m['recall@20']:.4f}", f"{m['mrr@20']:.4f}"))
    return rows


def print_table(header: tuple, rows) -> None:
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" for _ in header) + "|")
    for r in rows:
        print("| " + " | ".join(str(x) for x in r) + " |", flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--users", type=int, default=50_000)
    p.add_argument("--items", type=int, default=20_000)
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--quality", nargs="*", default=[], metavar="FILE", help="also report quality on these files")
    p.add_argument("--no-timing", action="store_true")
    p.add_argument("--protocol", action="store_true", help="time the protocol's path (fit once, score, intervals) "
                   "instead of each estimator on its own")
    args = p.parse_args(argv)
    if not args.no_timing:
        start = time.perf_counter()
        split = generated_split(args.users, args.items, args.events)
        n_events = sum(len(t) for t in split.train) + 2 * len(split.train)
        print(f"log: {len(split.train):,} users, {split.n_items:,} items, {n_events:,} events "
              f"(generated in {time.perf_counter() - start:.1f} s); scoring = all test histories, exclude-seen, "
              f"load average {os.getloadavg()[0]:.1f}")
        if args.protocol:
            print_table(("step", "s (wall / CPU)", "peak MB so far"), protocol_timing(split))
        else:
            print_table(("baseline", "fit s (wall / CPU)", "tune K s (5 K values)", "score s", "users/s (wall)",
                         "test Recall@20", "peak MB so far"), timing(split))
    for path in args.quality:
        print(f"\nquality on {path} (leave-last-out test set):")
        print_table(("baseline", "exclude seen", "Recall@20", "MRR@20"), quality(path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
