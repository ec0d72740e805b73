"""Load test: N people use one seqrec studio server at once. Each session (a Streamlit AppTest, all in this one
process, which plays the server) loads data on the Data page and trains the same preset on the Train page at the
same moment; the shared worker pool queues them. Loopback only: no network, no browser.

    python bench/load_test.py                      # 10 sessions, Quick demo preset, the bundled sample
    python bench/load_test.py --sessions 20 --epochs 2

Reports: every session finished; every session's run identical (test metrics and every batch loss) to a solo run
with the same seed; the queue positions people saw; peak memory of the process; wall time of N sessions against
one. tests/e2e/test_load.py runs a small version of it. Figures go to RELIABILITY.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import threading
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the app sets it, before torch loads
if "SEQREC_HOME" not in os.environ:  # finished runs are auto-saved: keep the benchmark's out of the real run store
    import tempfile
    os.environ["SEQREC_HOME"] = tempfile.mkdtemp(prefix="seqrec-loadtest-")

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from studio.nav import PAGE  # noqa: E402

APP = str(ROOT / "app.py")


def rss_bytes() -> int:
    """Resident memory of this process now (Linux), else its peak so far."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class PeakMemory:
    """Samples the resident memory every 50 ms while a phase runs (ru_maxrss only knows the process's all-time peak)."""

    def __init__(self):
        self.peak = self.start = rss_bytes()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        while not self._done.wait(0.05):
            self.peak = max(self.peak, rss_bytes())

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


# AppTest swaps a process-wide mock Streamlit runtime in and out around every script run, so two AppTests must not
# run a script at the same instant: script runs (each a few ms to a few hundred ms) take turns under this lock.
# The trainings they start run concurrently in the shared pool, outside it, exactly as on a real server.
SCRIPT_LOCK = threading.Lock()


def step(at, action=None):
    """Do one user action (a widget change) and the rerun it triggers, in turn with the other sessions."""
    with SCRIPT_LOCK:
        if action is not None:
            action(at)
        at.run()
        if at.exception:
            raise RuntimeError(f"the page raised: {at.exception[0].value}")
    return at


def one_session(csv: bytes | None, epochs: int | None, preset: str, start: threading.Barrier | None,
                timeout: float, pressed: threading.Barrier | None = None) -> dict:
    """One person: open the app, load data (an upload, or the bundled sample), press Train with the preset, wait
    for the run. Returns what they saw and got."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=timeout)
    step(at)
    step(at, lambda a: a.switch_page(PAGE["data"]))
    if csv is not None:
        step(at, lambda a: a.radio(key="data_source").set_value("Upload CSV files"))
        step(at, lambda a: a.file_uploader(key="upload_interactions").set_value(("workshop.csv", csv, "text/csv")))
    step(at, lambda a: a.button(key="load_data").click())
    step(at, lambda a: a.switch_page(PAGE["train"]))
    step(at, lambda a: a.selectbox(key="tf_preset").set_value(preset))
    if epochs is not None:
        step(at, lambda a: a.number_input(key="tf_epochs").set_value(epochs))
    if start is not None:
        start.wait()  # everybody presses Train at the same moment
    t0 = time.perf_counter()
    step(at, lambda a: a.button(key="train_start").click())
    if pressed is not None:
        pressed.wait()
    errors = [e.value for e in at.error]
    waiting = [p.proto.text for p in at.get("progress") if "ahead of yours" in p.proto.text
               or "Yours is next" in p.proto.text]
    job = at.session_state["job"]
    if job is None:
        return dict(finished=False, errors=errors)
    finished = job.wait(timeout)
    seconds = time.perf_counter() - t0
    step(at)  # collects the finished run into the session, as the page's poll would
    runs = at.session_state["runs"]
    run = runs[-1] if runs else None
    return dict(finished=finished and run is not None, seconds=seconds, errors=errors, queue_text=waiting,
                metrics=run.metrics if run else None, batch_losses=run.batch_losses if run else None,
                epochs_run=run.epochs_run if run else None, users=at.session_state["dataset"].stats["users"],
                exceptions=[str(e.value) for e in at.exception])


def run_sessions(n: int, csv: bytes | None = None, epochs: int | None = None, preset: str = "Quick demo",
                 timeout: float = 600, hold_slots: bool = False) -> dict:
    """N sessions in threads, all pressing Train together; their results, wall time and peak memory.

    hold_slots (for tests): every training slot stays busy until all N have pressed Train, so the queue they see
    does not depend on how fast this machine trains."""
    from seqrec.training import jobs

    results: list[dict | None] = [None] * n
    barrier = threading.Barrier(n) if n > 1 else None
    pressed = None
    if hold_slots:
        workers = jobs.get_pool()._max_workers
        pressed = threading.Barrier(n + workers, timeout=timeout)
        for _ in range(workers):
            jobs.get_pool().submit(pressed.wait)

    def person(i):
        try:
            results[i] = one_session(csv, epochs, preset, barrier, timeout, pressed)
        except Exception as e:  # noqa: BLE001 - a crashed session is a result to report, not a crash of the bench
            results[i] = dict(finished=False, errors=[f"{type(e).__name__}: {e}"])
            for b in (barrier, pressed):
                if b is not None:
                    b.abort()

    with PeakMemory() as mem:
        t0 = time.perf_counter()
        threads = [threading.Thread(target=person, args=(i,), name=f"session-{i}") for i in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
    return dict(results=results, wall=wall, rss_start=mem.start, rss_peak=mem.peak)


def summarize(solo: dict, crowd: dict) -> dict:
    ref = solo["results"][0]
    res = crowd["results"]
    same = [r.get("metrics") == ref["metrics"] and r.get("batch_losses") == ref["batch_losses"] for r in res]
    positions = sorted({t for r in res for t in r.get("queue_text", [])})
    from seqrec.training import jobs

    return dict(sessions=len(res), finished=sum(bool(r.get("finished")) for r in res),
                identical_to_solo=sum(same), errors=[e for r in res for e in r.get("errors", [])],
                solo_wall_s=round(solo["wall"], 2), crowd_wall_s=round(crowd["wall"], 2),
                slowdown=round(crowd["wall"] / max(solo["wall"], 1e-9), 2),
                solo_training_s=round(ref["seconds"], 2),
                crowd_training_makespan_s=round(max(r.get("seconds", 0) for r in res), 2),
                per_session_s=[round(r.get("seconds", 0), 1) for r in res],
                rss_before_mb=round(crowd["rss_start"] / 2**20), rss_peak_mb=round(crowd["rss_peak"] / 2**20),
                solo_rss_peak_mb=round(solo["rss_peak"] / 2**20),
                workers=jobs.worker_count(), torch_threads_per_worker=jobs.threads_per_worker(),
                queue_texts_seen=positions[:5] + (["..."] if len(positions) > 5 else []),
                recall=ref["metrics"].get(f"recall@{max(int(k.split('@')[1]) for k in ref['metrics'])}"),
                epochs_run=ref["epochs_run"])


def quiet_streamlit_logs() -> None:
    """AppTest sessions driven from plain threads make Streamlit warn about a missing ScriptRunContext; harmless."""
    import logging

    for name in ("streamlit", "streamlit.runtime.scriptrunner_utils.script_run_context"):
        logging.getLogger(name).setLevel(logging.ERROR)


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
    quiet_streamlit_logs()
    run_sessions(1, epochs=1, preset=a.preset, timeout=a.timeout)  # warm-up: imports, page modules, sample cache
    solo = run_sessions(1, epochs=a.epochs, preset=a.preset, timeout=a.timeout)
    if not solo["results"][0].get("finished"):
        raise SystemExit(f"the solo session failed: {solo['results'][0]}")
    crowd = run_sessions(n, epochs=a.epochs, preset=a.preset, timeout=a.timeout)
    out = dict(machine=machine(), command=" ".join(["python"] + sys.argv), **summarize(solo, crowd),
               load_average_after=[round(x, 2) for x in os.getloadavg()])
    print(json.dumps(out, indent=1))
    if out["finished"] != n or out["identical_to_solo"] != n:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
