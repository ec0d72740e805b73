"""Issue 14, item 1: N real chromium sessions (playwright, Debian chromium) each press Train on the Quick demo and
stay on the Train page (which polls its job), against a real `streamlit run app.py` on 127.0.0.1.

    python bench/browser_load.py --sessions 10
    python bench/browser_load.py --sessions 10 --post-script-gc   # Streamlit's default gc after every run, for contrast

Reports: finished, seconds from each press to "Latest run:" on its page, the solo time measured first on the same
server, each session's time over (solo x its place in the queue), and the server's CPU seconds. Figures go to
RELIABILITY.md.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "e2e"))  # the browser driver lives with its test (tests/e2e/browsers.py)

from browsers import CHROMIUM_ARGS, chromium_path, cpu_seconds, streamlit_server, train_in_pages  # noqa: E402


def niced_chromium(nice: int) -> str:
    """The chromium binary, or a wrapper script that starts it at the given nice value."""
    if not nice:
        return chromium_path()
    import tempfile

    wrapper = Path(tempfile.mkdtemp(prefix="niced-chromium-")) / "chromium"
    wrapper.write_text(f"#!/bin/sh\nexec nice -n {int(nice)} {chromium_path()} \"$@\"\n")
    wrapper.chmod(0o755)
    return str(wrapper)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--post-script-gc", action="store_true", help="run the server with runner.postScriptGC true")
    ap.add_argument("--browser-nice", type=int, default=0, help="run chromium at this nice value (e.g. 10): in a "
                    "workshop the browsers run on the participants' laptops, not on the server's cores")
    a = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from seqrec.runtime import worker_count

    extra = ("--runner.postScriptGC", "true") if a.post_script_gc else ()
    load_before = [round(x, 2) for x in os.getloadavg()]
    with streamlit_server(extra) as (url, proc), sync_playwright() as p:
        browser = p.chromium.launch(executable_path=niced_chromium(a.browser_nice), args=CHROMIUM_ARGS, headless=True)
        train_in_pages(url, 1, timeout=a.timeout, browser=browser)  # warm-up: page modules, the sample, warm workers
        solo = train_in_pages(url, 1, timeout=a.timeout, browser=browser)["results"][0]
        cpu0, t0 = cpu_seconds(proc.pid), time.perf_counter()
        timeline, sampling = [], threading.Event()

        def sample() -> None:  # the server's CPU seconds in each second of the crowd (trainings are in workers)
            last = cpu0
            while not sampling.wait(1.0):
                now = cpu_seconds(proc.pid)
                timeline.append(round(now - last, 2))
                last = now

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        crowd = train_in_pages(url, a.sessions, timeout=a.timeout, browser=browser)["results"]
        wall, cpu = time.perf_counter() - t0, cpu_seconds(proc.pid) - cpu0
        sampling.set()
        sampler.join()
        browser.close()
    slots = worker_count()
    ratios = [None if not r["finished"] or not solo["finished"] else
              round(r["seconds"] / (solo["seconds"] * math.ceil((i + 1) / slots)), 2) for i, r in enumerate(crowd)]
    out = dict(sessions=a.sessions, post_script_gc=a.post_script_gc, browser_nice=a.browser_nice,
               cores=os.cpu_count(), training_slots=slots,
               load_average_before=load_before, solo_s=solo["seconds"],
               finished=sum(r["finished"] for r in crowd), seconds=[r["seconds"] for r in crowd],
               over_solo_x_place=ratios,
               worst_over_solo_x_place=max((x for x in ratios if x is not None), default=None),
               errors=[e for r in crowd for e in r["errors"]], saw_queue=sum(r["saw_queue"] for r in crowd),
               wall_s=round(wall, 1), server_cpu_s=round(cpu, 1), server_cpu_per_second=timeline,
               load_average_after=[round(x, 2) for x in os.getloadavg()])
    print(json.dumps(out, indent=1))
    if out["finished"] != a.sessions:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
