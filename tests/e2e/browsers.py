"""Real-browser sessions against a real `streamlit run app.py`: N chromium pages, each in its own
browser context (its own session and workspace), open the Train page, press Train on the Quick demo and stay on
the page, polling it as a person watching would. Shared by tests/e2e/test_browser_load.py (4 sessions) and
bench/browser_load.py (10 and more; figures in RELIABILITY.md). A test must not import bench/: this is the copy.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def chromium_path() -> str | None:
    """Debian's chromium (never a downloaded one), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def streamlit_server(extra_args: tuple = (), env_extra: dict | None = None, log_path: Path | None = None,
                     start_timeout: float = 90):
    """`streamlit run app.py` on 127.0.0.1 and a free port, with the repo's .streamlit/config.toml and a throwaway
    run library; yields (url, process); stopped afterwards."""
    port = free_port()
    home = tempfile.mkdtemp(prefix="seqrec-browser-home-")
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "PYTHONUNBUFFERED": "1", "SEQREC_HOME": home,
           **(env_extra or {})}
    if "SEQREC_EXECUTOR" not in (env_extra or {}):
        env.pop("SEQREC_EXECUTOR", None)  # the server trains as deployed (worker processes), not as the tests do
    log_path = log_path or ROOT / "artifacts" / "streamlit_browser_load.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                                 "--server.port", str(port), "--server.address", "127.0.0.1",
                                 "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
                                 *extra_args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.time() + start_timeout
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                        if r.status == 200:
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"streamlit did not start (see {log_path})")
                time.sleep(0.3)
            yield url, proc
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
            shutil.rmtree(home, ignore_errors=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


# Installed in each page before its press: a MutationObserver notes (page clock, ms since the epoch) when "Latest
# run:" first appears and whether a queue place was shown. The harness reads the note once a second. It used to ask
# every page for three texts four times a second (`get_by_text(...).count()`, a walk over the whole page each):
# with 10 pages that alone kept 0.6 of a core busy in the renderers, on the cores the trainings were measured on.
WATCH_JS = """() => {
  if (window.__seqrecWatch) return;
  const w = window.__seqrecWatch = {done: null, queue: false};
  const check = (node) => {
    const t = (node && node.textContent) || "";
    if (w.done === null && t.includes("Latest run:")) w.done = Date.now();
    if (!w.queue && (t.includes("ahead of yours") || t.includes("Yours is next"))) w.queue = true;
  };
  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === "characterData") check(r.target.parentNode || r.target);
      for (const n of r.addedNodes) check(n);
    }
  }).observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


def train_in_pages(url: str, n: int, timeout: float = 600, browser=None) -> dict:
    """N pages (separate contexts) open the Train page, all press Train (Quick demo, the default preset) one after
    another as fast as the page allows, and stay there. Returns, per page in the order Train was pressed: finished,
    seconds from its press to "Latest run:" on its page (noted in the page itself, see WATCH_JS), and whether it
    showed its place in the queue while waiting."""
    from playwright.sync_api import sync_playwright

    results = []
    with contextlib.ExitStack() as stack:
        if browser is None:
            p = stack.enter_context(sync_playwright())
            browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
            stack.callback(browser.close)
        pages = []
        for _ in range(n):
            ctx = browser.new_context(viewport={"width": 1280, "height": 900})
            stack.callback(ctx.close)
            page = ctx.new_page()
            page.set_default_timeout(timeout * 1000)
            page.goto(url.rstrip("/") + "/train")
            pages.append(page)
        for page in pages:  # the Train button, enabled: the page and its form have rendered
            page.get_by_role("button", name="Train", exact=True).wait_for()
            page.evaluate(WATCH_JS)
        pressed = []
        for page in pages:  # a CSS locator: a role query computes every button's accessible name in the renderer
            page.locator('[data-testid="stBaseButton-primary"]', has_text="Train").first.click()
            pressed.append(time.time())
        done: list[float | None] = [None] * n
        saw_queue = [False] * n
        deadline = time.time() + timeout
        while any(d is None for d in done) and time.time() < deadline:
            pages[0].wait_for_timeout(1000)
            for i, page in enumerate(pages):
                if done[i] is None:
                    note = page.evaluate("() => window.__seqrecWatch")
                    saw_queue[i] = bool(note["queue"])
                    if note["done"] is not None:
                        done[i] = note["done"] / 1000
        errors = []
        for page in pages:
            errors.append([t for t in page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
                           .all_inner_texts()])
        for i in range(n):
            results.append(dict(finished=done[i] is not None,
                                seconds=None if done[i] is None else round(done[i] - pressed[i], 2),
                                saw_queue=saw_queue[i], errors=errors[i]))
    return dict(results=results)
