"""The app after a run exists: how long each page rerun takes, and whether any rerun trains or evaluates again.

Drives app.py headlessly with Streamlit's AppTest: trains the Quick demo through the Train page, then switches
pages and changes views (metric, K, user, toggles), timing every rerun. Counters wrapped around the library say what
each rerun computed: trainings, full-ranking evaluations (every metric of a model or baseline goes through
`evaluate_scorer`) and model forward passes (one per scored batch of histories).

Usage: python bench/ui_reruns.py [--quick]   (also the `ui` section of bench/run.py)
"""
from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from studio.nav import PAGE  # noqa: E402

PAGES = [PAGE[p] for p in ("data", "train", "inside", "recommend", "why", "compare", "runs")]


class Counters:
    """Wraps seqrec's training, evaluation and model forward so every call is counted (restored by close())."""

    def __init__(self):
        import seqrec.evaluation.metrics as metrics
        import seqrec.evaluation.protocol as protocol
        import seqrec.training.loop as train
        import seqrec.training.runner as run
        from seqrec.model.recurrent import SeqRecModel

        self.counts = {"trainings": 0, "evaluations": 0, "forward_passes": 0}
        self._undo = []

        def wrap(owner, name, key):
            original = getattr(owner, name)

            def counted(*a, **k):
                self.counts[key] += 1
                return original(*a, **k)

            setattr(owner, name, counted)
            self._undo.append((owner, name, original))

        wrap(train, "train", "trainings")
        wrap(run, "train", "trainings")
        wrap(metrics, "evaluate_scorer", "evaluations")
        wrap(protocol, "evaluate_scorer", "evaluations")
        wrap(SeqRecModel, "hidden_states", "forward_passes")

    def take(self) -> dict:
        out = dict(self.counts)
        for k in self.counts:
            self.counts[k] = 0
        return out

    def close(self):
        for owner, name, original in reversed(self._undo):
            setattr(owner, name, original)


def _timed(at, steps: list, label: str, action) -> None:
    """Run one interaction (a page switch or a widget change) and record its seconds and what it computed."""
    counters = _timed.counters
    counters.take()
    t = time.perf_counter()
    try:
        action()
        error = str(at.exception[0].message) if at.exception else None
    except Exception as e:  # a page that fails is reported, not fatal for the benchmark
        error = f"{type(e).__name__}: {e}"
    steps.append({"step": label, "seconds": round(time.perf_counter() - t, 3), **counters.take(),
                  **({"error": error[:200]} if error else {})})


def measure_reruns(quick: bool = False) -> dict:
    import torch
    from streamlit.testing.v1 import AppTest

    torch.set_num_threads(max(1, torch.get_num_threads()))
    home = tempfile.mkdtemp(prefix="seqrec-ui-bench-")
    os.environ.setdefault("SEQREC_HOME", home)  # the run library of this benchmark, not the user's
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    at.switch_page(PAGE["train"])
    at.run()
    at.button(key="train_start").click().run()
    job = at.session_state["job"]
    t = time.perf_counter()
    job.wait(180)
    train_seconds = time.perf_counter() - t
    at.run()  # collects the finished run (what the page's poll does)
    _timed.counters = Counters()
    steps: list[dict] = []
    try:
        rounds = 1 if quick else 2
        for r in range(rounds):
            for page in PAGES:
                _timed(at, steps, f"open {page}" + (" again" if r else ""),
                       lambda page=page: at.switch_page(page).run())
        _timed(at, steps, f"open {PAGE['compare']}", lambda: at.switch_page(PAGE["compare"]).run())
        _timed(at, steps, "compare: metric -> MRR", lambda: at.selectbox(key="cmp_metric").set_value("mrr").run())
        _timed(at, steps, "compare: K -> 10", lambda: at.selectbox(key="cmp_k").set_value(10).run())
        _timed(at, steps, f"open {PAGE['recommend']}", lambda: at.switch_page(PAGE["recommend"]).run())
        _timed(at, steps, "recommend: K -> 20", lambda: at.slider(key="rec_k").set_value(20).run())
        _timed(at, steps, "recommend: exclude seen", lambda: at.toggle(key="rec_exclude").set_value(True).run())
        _timed(at, steps, "recommend: another user",
               lambda: at.selectbox(key="rec_user").set_value(at.selectbox(key="rec_user").options[5]).run())
        _timed(at, steps, "recommend: other model",
               lambda: at.selectbox(key="rec_model").set_value(at.selectbox(key="rec_model").options[-1]).run())
        _timed(at, steps, f"open {PAGE['inside']}", lambda: at.switch_page(PAGE["inside"]).run())
        _timed(at, steps, "inside: another user",
               lambda: at.selectbox(key="inside_user").set_value(at.selectbox(key="inside_user").options[3]).run())
        _timed(at, steps, f"open {PAGE['train']}", lambda: at.switch_page(PAGE["train"]).run())
        _timed(at, steps, "open Home", lambda: at.switch_page("app.py").run())
    finally:
        _timed.counters.close()
    seconds = [s["seconds"] for s in steps if "error" not in s]
    slowest = max((s for s in steps if "error" not in s), key=lambda s: s["seconds"], default={"step": "-"})
    return {"quick_demo_train_wall_s": round(train_seconds, 1), "reruns": len(steps),
            "trainings": sum(s["trainings"] for s in steps), "evaluations": sum(s["evaluations"] for s in steps),
            "forward_passes": sum(s["forward_passes"] for s in steps),
            "median_s": round(statistics.median(seconds), 3) if seconds else None,
            "max_s": round(max(seconds), 3) if seconds else None, "slowest": slowest["step"],
            "errors": [s for s in steps if "error" in s], "steps": steps}


if __name__ == "__main__":
    result = measure_reruns("--quick" in sys.argv)
    print(json.dumps(result, indent=1))
