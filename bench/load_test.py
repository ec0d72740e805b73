"""Load test: N people use one seqrec studio server at once. Each session (a Streamlit AppTest, all in this one
process, which plays the server) loads data on the Data page and trains the same preset on the Train page at the
same moment; the shared worker pool queues them. Loopback only: no network, no browser.

    python bench/load_test.py                      # 10 sessions, Quick demo preset, the bundled sample
    python bench/load_test.py --sessions 20 --epochs 2

Reports: every session finished; every session's run identical (test metrics and every batch loss) to a solo run
with the same seed at the same thread count (issue 13: a training's torch threads are fixed when it starts and
recorded in the run; float sums differ between thread counts, so a solo run is trained at each count the crowd
used); how each run ended (a run ended by the preset's time limit depends on the machine's speed); the queue
positions people saw; peak memory of the process; wall time of N sessions against one.
tests/e2e/test_load.py runs a small version of it. Figures go to RELIABILITY.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the app sets it, before torch loads
if "SEQREC_HOME" not in os.environ:  # finished runs are auto-saved: keep the benchmark's out of the real run store
    import tempfile
    os.environ["SEQREC_HOME"] = tempfile.mkdtemp(prefix="seqrec-loadtest-")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "tests" / "e2e"))  # the session driver lives with the load test (tests/e2e/sessions.py)

from sessions import percentile, quiet_streamlit_logs, run_sessions, same_as_solo, solo_references  # noqa: E402


def _counts(values) -> dict:
    out: dict = {}
    for v in values:
        out[str(v)] = out.get(str(v), 0) + 1
    return dict(sorted(out.items()))


def _limited(result: dict) -> bool:
    return str(result.get("stop_reason") or "").startswith("time limit")


def summarize(solo: dict, crowd: dict, refs: dict) -> dict:
    ref = solo["results"][0]
    res = crowd["results"]
    same = [same_as_solo(r, refs) for r in res]
    positions = sorted({t for r in res for t in r.get("queue_text", [])})
    from seqrec.service import jobs
    from seqrec.service.executor import get_executor

    return dict(sessions=len(res), finished=sum(bool(r.get("finished")) for r in res),
                identical_to_solo=sum(same), errors=[e for r in res for e in r.get("errors", [])],
                # a run cut by the preset's time limit (Quick demo: 30 s) stops after as many batches as the busy
                # machine allowed, so it cannot equal a solo run that was not cut: counted apart
                identical_of_runs_not_time_limited=f"{sum(ok for r, ok in zip(res, same) if not _limited(r))}/"
                                                   f"{sum(not _limited(r) for r in res)}",
                crowd_threads=_counts(r.get("threads") for r in res),
                solo_threads=ref.get("threads"),
                solo_references={str(t): dict(threads=r.get("threads"), epochs_run=r.get("epochs_run"),
                                              stop_reason=r.get("stop_reason"), seconds=round(r.get("seconds", 0), 1))
                                 for t, r in sorted(refs.items())},
                crowd_stop_reasons=_counts(r.get("stop_reason") for r in res),
                not_identical=[dict(session=i, threads=r.get("threads"), stop_reason=r.get("stop_reason"),
                                    epochs_run=r.get("epochs_run"), batches=len(r.get("batch_losses") or []))
                               for i, (r, ok) in enumerate(zip(res, same)) if not ok][:10],
                solo_wall_s=round(solo["wall"], 2), crowd_wall_s=round(crowd["wall"], 2),
                slowdown=round(crowd["wall"] / max(solo["wall"], 1e-9), 2),
                solo_training_s=round(ref["seconds"], 2),
                crowd_training_makespan_s=round(max(r.get("seconds", 0) for r in res), 2),
                per_session_s=[round(r.get("seconds", 0), 1) for r in res],
                rss_before_mb=round(crowd["rss_start"] / 2**20), rss_peak_mb=round(crowd["rss_peak"] / 2**20),
                solo_rss_peak_mb=round(solo["rss_peak"] / 2**20),
                server_and_workers_rss_peak_mb=round(crowd.get("tree_rss_peak", 0) / 2**20),
                probe_reruns=len(crowd.get("probe_times", [])),
                probe_rerun_p50_s=round(percentile(crowd.get("probe_times", []), 0.5), 3),
                probe_rerun_p95_s=round(percentile(crowd.get("probe_times", []), 0.95), 3),
                executor=type(get_executor()).__name__,
                workers=jobs.worker_count(),
                queue_texts_seen=positions[:5] + (["..."] if len(positions) > 5 else []),
                recall=ref["metrics"].get(f"recall@{max(int(k.split('@')[1]) for k in ref['metrics'])}"),
                epochs_run=ref["epochs_run"])


def machine() -> str:
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = f"{int(f.readline().split()[1]) / 2**20:.1f} GB RAM, "
    except OSError:
        pass
    import torch

    return (f"{os.cpu_count()} cores, {mem}{platform.system()} {platform.machine()}, Python "
            f"{platform.python_version()}, torch {torch.__version__}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=10, help="concurrent sessions (default 10, at most 50)")
    ap.add_argument("--preset", default="Quick demo")
    ap.add_argument("--epochs", type=int, default=None, help="override the preset's epochs")
    ap.add_argument("--timeout", type=float, default=900, help="seconds one session may wait for its run")
    a = ap.parse_args()
    n = max(1, min(50, a.sessions))
    load_before = [round(x, 2) for x in os.getloadavg()]
    quiet_streamlit_logs()
    run_sessions(1, epochs=1, preset=a.preset, timeout=a.timeout)  # warm-up: imports, page modules, sample cache
    solo = run_sessions(1, epochs=a.epochs, preset=a.preset, timeout=a.timeout)
    if not solo["results"][0].get("finished"):
        raise SystemExit(f"the solo session failed: {solo['results'][0]}")
    crowd = run_sessions(n, epochs=a.epochs, preset=a.preset, timeout=a.timeout, probe=True)
    load_after_crowd = [round(x, 2) for x in os.getloadavg()]
    # a solo run at every thread count the crowd used (the first solo has every core: usually not one of them)
    refs = solo_references(crowd["results"], {solo["results"][0]["threads"]: solo["results"][0]}, epochs=a.epochs,
                           preset=a.preset, timeout=a.timeout)
    out = dict(machine=machine(), command=" ".join(["python"] + sys.argv), load_average_before=load_before,
               **summarize(solo, crowd, refs), load_average_after_crowd=load_after_crowd,
               load_average_after=[round(x, 2) for x in os.getloadavg()])
    print(json.dumps(out, indent=1))
    if out["finished"] != n or out["identical_to_solo"] != n:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
