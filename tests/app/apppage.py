"""Opening one page of the app in AppTest with a given dataset and runs already in the session, through app.py (the
router and sidebar), so the page sees exactly what it would after loading data and training in the app."""
from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = Path(__file__).resolve().parents[2] / "app.py"
TIMEOUT = 120


def open_app_page(page: str, dataset, runs) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["dataset"] = dataset
    at.session_state["runs"] = list(runs)
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at
