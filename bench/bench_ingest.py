"""Ingest speed: load + validate + sort + build sequences of a 1,000,000-row CSV against a bare `pandas.read_csv`
of the same file, measured in the same run (interleaved, median of N), plus peak memory against the parsed table.

    python bench/bench_ingest.py                 # 1,000,000 rows, 5 rounds
    python bench/bench_ingest.py --rows 200000 --rounds 3 --profile
    python bench/bench_ingest.py --floor --rounds 9  # the minimal pipeline (no checks) against read_csv

Prints one JSON object; `ratio` is seqrec's time over read_csv's (the target is <= 2), `peak_over_table` the peak
traced memory of the seqrec side over the memory of the parsed table (the target is < 3). Resident memory (Arrow's
buffers included) is reported beside it for seqrec and for the bare read_csv, each in a fresh process.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from seqrec.data.prepare import load_interactions
from seqrec.data.split import leave_last_out


def million_row_csv(folder: Path, rows: int = 1_000_000) -> Path:
    """A 1,000,000-row interaction export: 20,000 users, 40,000 items (Zipf popularity), epoch-second times, rows
    in random order (as exports often are), string IDs. bench/run.py's ingest section uses this file too."""
    path = folder / f"interactions_{rows}.csv"
    if path.exists():
        return path
    rng = np.random.default_rng(0)
    users = rng.integers(0, 20_000, rows)
    items = (rng.zipf(1.3, rows) - 1) % 40_000
    times = 1_600_000_000 + rng.integers(0, 365 * 86400, rows)
    pd.DataFrame({"user_id": np.char.add("U", users.astype(str)), "item_id": np.char.add("I", items.astype(str)),
                  "timestamp": times}).to_csv(path, index=False)
    return path


def ours(path: Path):
    data = load_interactions(path)
    return data, leave_last_out(data)


def minimal_pipeline(path: Path):
    """The least any ingest of this file must do, with none of seqrec's checks, notes or output frame: Arrow's
    multi-threaded typed read (the time column as int64, the IDs as strings), both ID columns coded to integers in
    two threads (Arrow's `dictionary_encode`, which releases the GIL), users ranked by name, the user/time order from
    one sorted int64 key, and each user's item sequence as offsets into one array. `--floor` times it against the
    bare `read_csv` in the same rounds: the bound on what any design built on these libraries can reach here."""
    from concurrent.futures import ThreadPoolExecutor

    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pcsv

    table = pcsv.read_csv(path, convert_options=pcsv.ConvertOptions(column_types={
        "user_id": pa.string(), "item_id": pa.string(), "timestamp": pa.int64()}))
    with ThreadPoolExecutor(2) as pool:
        users, items = pool.map(lambda c: pc.dictionary_encode(table[c]).combine_chunks(), ["user_id", "item_id"])
    times = table["timestamp"].to_numpy()
    rank = np.empty(len(users.dictionary), dtype=np.int64)
    rank[pc.sort_indices(users.dictionary).to_numpy()] = np.arange(len(rank))
    user_rank = rank[users.indices.to_numpy()]
    n, span = len(times), int(times.max() - times.min()) + 1
    row_bits = int(n).bit_length()
    key = ((user_rank * span + (times - times.min())) << row_bits) | np.arange(n)  # fits int64 for this file
    key.sort()
    rows = key & ((1 << row_bits) - 1)
    sorted_users = user_rank[rows]
    starts = np.flatnonzero(np.r_[True, sorted_users[1:] != sorted_users[:-1]])
    return items.indices.to_numpy()[rows], starts


def floor_ratio(path: Path, rounds: int) -> dict:
    pd.read_csv(path)
    minimal_pipeline(path)
    bare, least = [], []
    for _ in range(rounds):
        t = time.perf_counter()
        pd.read_csv(path)
        bare.append(time.perf_counter() - t)
        t = time.perf_counter()
        minimal_pipeline(path)
        least.append(time.perf_counter() - t)
    b, m = statistics.median(bare), statistics.median(least)
    return {"pandas_read_csv_s": round(b, 3), "minimal_pipeline_s": round(m, 3), "floor_ratio": round(m / b, 2),
            "floor_ratios": [round(x / y, 2) for x, y in zip(least, bare)],
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def interleaved(path: Path, rounds: int) -> dict:
    """Bare `pandas.read_csv` and seqrec's load + split of the same file, alternated `rounds` times after a warm-up
    of each (page cache, lazy imports): medians, the per-round ratios, and the load-only part of seqrec's time."""
    pd.read_csv(path)
    ours(path)
    bare, mine, load = [], [], []
    for _ in range(rounds):
        t = time.perf_counter()
        pd.read_csv(path)
        bare.append(time.perf_counter() - t)
        t = time.perf_counter()
        data = load_interactions(path)
        load.append(time.perf_counter() - t)
        split = leave_last_out(data)
        mine.append(time.perf_counter() - t)
        del data, split
    data, split = ours(path)
    b, o = statistics.median(bare), statistics.median(mine)
    return {"rows": data.raw_rows, "file_mb": round(path.stat().st_size / 2**20, 1), "users": len(split.users),
            "items": split.n_items, "pandas_read_csv_s": round(b, 3), "seqrec_s": round(o, 3),
            "seqrec_load_validate_s": round(statistics.median(load), 3), "ratio": round(o / b, 2),
            "ratios": [round(x / y, 2) for x, y in zip(mine, bare)],
            "load_average": [round(x, 2) for x in os.getloadavg()]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--folder", default=None, help="where the CSV is written (default: a temporary folder)")
    ap.add_argument("--profile", action="store_true", help="also print a cProfile of one seqrec round to stderr")
    ap.add_argument("--floor", action="store_true", help="time only the minimal pipeline (no checks) against the bare "
                    "read_csv: the lower bound of the ratio on this machine")
    a = ap.parse_args()
    folder = Path(a.folder or tempfile.mkdtemp(prefix="seqrec_ingest_"))
    folder.mkdir(parents=True, exist_ok=True)
    path = million_row_csv(folder, a.rows)
    if a.floor:
        print(json.dumps(floor_ratio(path, a.rounds), indent=1))
        return
    table = pd.read_csv(path)  # also warms the page cache
    table_bytes = int(table.memory_usage(deep=True).sum())
    del table
    out = interleaved(path, a.rounds)
    tracemalloc.start()
    ours(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rss = peak_rss_mb(path)
    rss_bare = peak_rss_mb(path, "pd.read_csv(%r)")
    if a.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        ours(path)
        prof.disable()
        pstats.Stats(prof, stream=sys.stderr).sort_stats("cumulative").print_stats(30)
    out.update({"parsed_table_mb": round(table_bytes / 2**20, 1), "peak_traced_mb": round(peak / 2**20, 1),
                "peak_over_table": round(peak / table_bytes, 2), "peak_rss_growth_mb": rss,
                "rss_growth_over_table": round(rss * 2**20 / table_bytes, 2), "bare_read_csv_rss_growth_mb": rss_bare})
    print(json.dumps(out, indent=1))


def peak_rss_mb(path: Path, what: str = "b.ours(Path(%r))") -> float:
    """Peak resident memory growth (MB) of one load + split (or of `what`, e.g. a bare read_csv) in a fresh process
    (Arrow's allocations included, which tracemalloc does not see): the process's high-water mark after it (VmHWM,
    reset once everything is imported) minus the resident size then. Not ru_maxrss: Linux carries that over from
    the parent across fork and exec, so it would report the benchmark's own size."""
    code = ("import sys; sys.path.insert(0, %r); import bench_ingest as b, pyarrow.csv, pyarrow.compute;"
            "from pathlib import Path; import pandas as pd;"
            "status = lambda key: float([l.split()[1] for l in open('/proc/self/status') if l.startswith(key)][0]);"
            "open('/proc/self/clear_refs', 'w').write('5');"
            "before = status('VmRSS:');"
            + what + ";"
            "print((status('VmHWM:') - before) / 1024)") % (str(Path(__file__).resolve().parent), str(path))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return round(float(out.stdout.strip().splitlines()[-1]), 1)


if __name__ == "__main__":
    main()
