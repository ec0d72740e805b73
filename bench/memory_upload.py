"""Peak memory of the upload cases of issue 14 (item 2): a CSV of N users x 3 events is loaded (read, prepare, split,
statistics) and then the Compare page's work is done (every baseline fitted and scored), each phase in this fresh
process, with the peak RSS read after each phase (ru_maxrss). Prints one JSON object.

    python bench/memory_upload.py --users 2000000 --items 1000      # the audit's case (a 72 MB CSV)

An address-space limit (--limit-gb, default 10) makes a run that would exhaust the machine fail with MemoryError
instead of taking the machine down."""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def make_csv(path: Path, users: int, items: int, events: int = 3, seed: int = 0) -> None:
    import numpy as np

    rng = np.random.default_rng(seed)
    u = np.repeat(np.arange(users), events)
    it = (rng.zipf(1.3, size=users * events) % items) + 1
    t = np.tile(np.arange(1, events + 1), users) + 1_700_000_000
    with open(path, "w") as f:
        f.write("user_id,item_id,timestamp\n")
        for start in range(0, len(u), 1_000_000):
            sl = slice(start, start + 1_000_000)
            f.write("".join(f"{a},{b},{c}\n" for a, b, c in zip(u[sl], it[sl], t[sl])))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--users", type=int, default=2_000_000)
    p.add_argument("--items", type=int, default=1000)
    p.add_argument("--csv", type=Path, default=None)
    p.add_argument("--limit-gb", type=float, default=10.0)
    a = p.parse_args()
    resource.setrlimit(resource.RLIMIT_AS, (int(a.limit_gb * 2**30),) * 2)
    csv = a.csv or Path(f"/tmp/seqrec-upload-{a.users}x3.csv")
    if not csv.exists():
        make_csv(csv, a.users, a.items)
    out = {"users": a.users, "csv_mb": round(csv.stat().st_size / 2**20, 1), "start_mb": round(rss_mb())}
    from seqrec.service.dataset import load_dataset

    t = time.perf_counter()
    try:
        ds = load_dataset([csv.read_bytes()], [csv.name])
        out.update(load_s=round(time.perf_counter() - t, 1), load_peak_mb=round(peak_mb()),
                   after_load_mb=round(rss_mb()))
        t = time.perf_counter()
        from seqrec.evaluation import compare

        compare.comparison_table([], ds, 20)  # what the Compare page computes with no runs yet
        base = ds.baseline_metrics((10, 20), False)
        out.update(compare_s=round(time.perf_counter() - t, 1), compare_peak_mb=round(peak_mb()),
                   users_scored={n: m.get("users_scored", len(ds.split.users)) for n, m in base.items()})
    except MemoryError:
        out.update(error="MemoryError", peak_mb=round(peak_mb()), seconds=round(time.perf_counter() - t, 1))
    except Exception as e:  # a refusal (SeqrecError) is a result too
        out.update(error=f"{type(e).__name__}: {e}", peak_mb=round(peak_mb()))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
