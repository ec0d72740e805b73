"""The session driver shared by the load test (tests/e2e/test_load.py) and its benchmark (bench/load_test.py): N
people use one seqrec studio server at once, each a Streamlit AppTest in this one process (which plays the server),
loading data on the Data page and pressing Train on the Train page at the same moment; the shared queue takes them.

A test must not import bench/: this module is the one copy, bench/load_test.py imports it from here.
"""
from __future__ import annotations

import os
import resource
import threading
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the app sets it, before torch loads

from studio.nav import PAGE

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")


def rss_bytes(pid: int | str = "self") -> int:
    """Resident memory of a process now (Linux), else this process's peak so far."""
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * resource.getpagesize()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 if pid == "self" else 0


def child_pids(pid: int | str = "self") -> list[int]:
    """Child processes (the training workers) of a process, recursively (Linux /proc)."""
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        return out
    return out + [g for c in out for g in child_pids(c)]


def tree_rss_bytes() -> int:
    """This process and its worker processes together."""
    return rss_bytes() + sum(rss_bytes(c) for c in child_pids())


class PeakMemory:
    """Samples the resident memory every 50 ms while a phase runs (ru_maxrss only knows the process's all-time peak)."""

    def __init__(self):
        self.peak = self.start = rss_bytes()
        self.tree_peak = self.tree_start = tree_rss_bytes()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self):
        n = 0
        while not self._done.wait(0.05):
            self.peak = max(self.peak, rss_bytes())
            n += 1
            if n % 10 == 0:  # the workers' memory: every 0.5 s (reading /proc of every child costs more)
                self.tree_peak = max(self.tree_peak, tree_rss_bytes())

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
                timeout: float, pressed: threading.Barrier | None = None, cpus: int | None = None) -> dict:
    """One person: open the app, load data (an upload, or the bundled sample), press Train with the preset (and
    `cpus` CPU threads when given), wait for the run. Returns what they saw and got."""
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
    if cpus is not None:
        step(at, lambda a: a.number_input(key="tf_cpus").set_value(cpus))
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
                threads=run.threads if run else None, stop_reason=run.stop_reason if run else None,
                exceptions=[str(e.value) for e in at.exception])


def run_sessions(n: int, csv: bytes | None = None, epochs: int | None = None, preset: str = "Quick demo",
                 timeout: float = 600, hold_slots: bool = False, probe: bool = False, cpus: int | None = None) -> dict:
    """N sessions in threads, all pressing Train together; their results, wall time and peak memory.

    hold_slots (for tests): every training slot stays busy until all N have pressed Train, so the queue they see
    does not depend on how fast this machine trains. probe: one more session (the N+1st) reruns its Train page
    during the load; the seconds of each rerun are returned as probe_times. cpus: the CPU threads setting of every
    training (None: the form's 0, an automatic share fixed when each starts; each result says its `threads`)."""
    from seqrec.service import jobs

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
            results[i] = one_session(csv, epochs, preset, barrier, timeout, pressed, cpus)
        except Exception as e:
            results[i] = dict(finished=False, errors=[f"{type(e).__name__}: {e}"])
            for b in (barrier, pressed):
                if b is not None:
                    b.abort()

    probe_times: list[float] = []
    everyone_done = threading.Event()
    probe_thread = threading.Thread(target=rerun_probe, args=(probe_times, everyone_done), daemon=True) \
        if probe else None
    with PeakMemory() as mem:
        t0 = time.perf_counter()
        threads = [threading.Thread(target=person, args=(i,), name=f"session-{i}") for i in range(n)]
        if probe_thread is not None:
            probe_thread.start()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        everyone_done.set()
        if probe_thread is not None:
            probe_thread.join(60)
    return dict(results=results, wall=wall, rss_start=mem.start, rss_peak=mem.peak, tree_rss_peak=mem.tree_peak,
                probe_times=probe_times)


def solo_references(crowd: list, have: dict, **session_args) -> dict:
    """A solo run (alone on the server) at every thread count the crowd's runs used, {threads: result}:
    a training's numbers depend on its thread count (fixed when it starts), so a crowd run is compared with the solo
    run at its own count. `have`: solo results already measured, by thread count; the others are trained now, one
    at a time, with the form's CPU threads set to that count (`session_args`: csv, epochs, preset, timeout)."""
    refs = dict(have)
    for t in sorted({r.get("threads") for r in crowd if r and r.get("threads")} - set(refs)):
        refs[t] = run_sessions(1, cpus=t, **session_args)["results"][0]
    return refs


def same_as_solo(result: dict, refs: dict) -> bool:
    """The session's run has the exact test metrics and every batch loss of the solo run at its thread count."""
    ref = refs.get(result.get("threads"))
    return bool(ref and ref.get("finished") and result.get("metrics") == ref["metrics"]
                and result.get("batch_losses") == ref["batch_losses"])


def rerun_probe(times: list, done: threading.Event, page: str = PAGE["train"]) -> None:
    """One more session that only reruns its Train page while the others train; records the seconds of
    each rerun (waiting for its turn among the AppTests included: a pessimistic figure)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=120)
    step(at)
    step(at, lambda a: a.switch_page(page))
    while not done.wait(0.2):
        t0 = time.perf_counter()
        step(at)
        times.append(time.perf_counter() - t0)


def percentile(values: list, q: float) -> float:
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q * (len(v) - 1))))]


def quiet_streamlit_logs() -> None:
    """AppTest sessions driven from plain threads make Streamlit warn about a missing ScriptRunContext; harmless."""
    import logging

    for name in ("streamlit", "streamlit.runtime.scriptrunner_utils.script_run_context"):
        logging.getLogger(name).setLevel(logging.ERROR)
