"""End to end in a real browser: `streamlit run app.py` on 127.0.0.1, driven by Debian's chromium through playwright.

Uploads a CSV (and item names) through the file uploader, trains the Quick demo, opens Recommend and sees
recommendations, and saves a screenshot of every page to artifacts/screenshots/ (and to docs/screenshots/ when
SEQREC_UPDATE_SCREENSHOTS=1, for the README). Skips when chromium is missing unless SEQREC_REQUIRE_BROWSER=1.
"""
from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import pytest
from browsers import CHROMIUM_ARGS, chromium_path, streamlit_server

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts" / "screenshots"
DOCS = ROOT / "docs" / "screenshots"
STEP_TIMEOUT_MS = 300_000  # an upper bound, not a target: a shared 2-core machine can be 10x slower than a quiet one
pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _browser_or_skip() -> str:
    chromium = chromium_path()
    reason = None
    if not chromium:
        reason = "chromium is not installed (apt-get install -y chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "the playwright Python package is not installed"
    if reason:
        if os.environ.get("SEQREC_REQUIRE_BROWSER") == "1":
            pytest.fail(f"Browser test required (SEQREC_REQUIRE_BROWSER=1) but {reason}.")
        pytest.skip(f"Browser test skipped: {reason}.")
    return chromium


@pytest.fixture(scope="module")
def server():
    """A real `streamlit run app.py` on a free local port (tests/e2e/browsers.py), stopped after the test."""
    _browser_or_skip()
    with contextlib.ExitStack() as stack:
        try:
            url, _ = stack.enter_context(streamlit_server(log_path=ROOT / "artifacts" / "streamlit_e2e.log",
                                                          start_timeout=60))
        except RuntimeError as e:
            pytest.fail(f"{e}.")
        yield url


def _shot(page, name: str) -> None:
    """Screenshot of the whole page into the test artifacts (and the docs when asked)."""
    page.wait_for_timeout(600)  # let charts finish drawing
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    # Streamlit scrolls inside its main container, so grow the window to the content's height for a full picture.
    height = page.evaluate("() => { const m = document.querySelector('[data-testid=\"stMain\"]');"
                           " return m ? m.scrollHeight : document.body.scrollHeight; }")
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": int(min(max(height, size["height"]), 3200))})
    page.wait_for_timeout(400)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    if os.environ.get("SEQREC_UPDATE_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOCS / f"{name}.png")


def _idle(page) -> None:
    """Wait until Streamlit has finished the current script run."""
    page.wait_for_timeout(300)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="detached", timeout=STEP_TIMEOUT_MS)


def _go(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()
    page.get_by_role("heading", name=title).first.wait_for(timeout=STEP_TIMEOUT_MS)
    _idle(page)


def test_upload_train_recommend_in_a_real_browser(server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    data = tmp_path / "shop_export.csv"
    shutil.copy(ROOT / "sample_data" / "interactions.csv", data)
    items = tmp_path / "product_names.csv"
    shutil.copy(ROOT / "sample_data" / "items.csv", items)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=_browser_or_skip(), args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        page.set_default_timeout(STEP_TIMEOUT_MS)
        try:
            page.goto(server)
            page.get_by_text("Guided path").wait_for()
            _idle(page)
            _shot(page, "home")

            _go(page, "Data")
            page.get_by_text("Upload CSV files").click()
            uploads = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
            uploads.first.wait_for(state="attached")
            uploads.nth(0).set_input_files(str(data))
            page.get_by_text("rows read from 1 file").wait_for()  # the upload's rerun has finished
            _idle(page)
            uploads.nth(1).set_input_files(str(items))
            page.get_by_text("product_names.csv").first.wait_for()
            _idle(page)
            page.get_by_role("button", name="Load this data").click()
            expect(page.get_by_role("heading", name="Current data: shop_export.csv")).to_be_visible()
            _idle(page)
            _shot(page, "data")

            _go(page, "Train")
            page.get_by_role("button", name="Train", exact=True).click()
            expect(page.get_by_text("Latest run:")).to_be_visible(timeout=STEP_TIMEOUT_MS)
            _idle(page)
            expect(page.get_by_text("Test Recall@20", exact=True)).to_be_visible()
            _shot(page, "train")

            _go(page, "Inside the network")
            _shot(page, "inside")

            _go(page, "Recommend")
            expect(page.get_by_text("ranks #").first).to_be_visible()
            expect(page.get_by_text("Top 10 from")).to_be_visible()
            _shot(page, "recommend")

            _go(page, "Compare")
            expect(page.get_by_text("vs Item kNN on Recall@20").first).to_be_visible()  # interval verdict
            expect(page.get_by_text("95% interval").first).to_be_visible()
            _shot(page, "compare")

            page.locator('[data-testid="stSidebarNav"]').get_by_text("Why this?", exact=True).click()
            page.get_by_role("heading", name="Why this recommendation?").wait_for()
            _idle(page)
            expect(page.locator('[data-testid="stPlotlyChart"]').first).to_be_visible()  # the influence bars
            _shot(page, "why")

            _go(page, "Runs")
            # auto-saved, in use
            expect(page.get_by_role("button", name="Loaded in this session").first).to_be_visible()
            _shot(page, "runs")

            # A page opened by its own address still goes through the router: full navigation and sidebar.
            page.goto(server.rstrip("/") + "/compare")
            page.get_by_role("heading", name="Compare").first.wait_for()
            _idle(page)
            nav = page.locator('[data-testid="stSidebarNav"]')
            expect(nav.get_by_text("Home", exact=True)).to_be_visible()
            expect(nav.get_by_text("Why this?", exact=True)).to_be_visible()
            expect(page.get_by_text("Current data").first).to_be_visible()
        except Exception:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "failure.png"), full_page=True)
            raise
        finally:
            browser.close()
