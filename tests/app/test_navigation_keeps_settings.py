"""The Train form's settings survive any navigation path between the pages (AppTest).

A real browser sends, on a page switch, no widget values of the page it leaves, so Streamlit drops them and the pages
restore them from a plain session copy (studio.state.keep_widget_values). `browse()` switches pages the same way (no
widget values sent). AppTest still did not reproduce the audit's loss (Train -> Recommend -> Why this? -> Train put
every number of the form at its minimum): the real-browser test tests/e2e/test_browser_navigation.py does, and fails
without the fix. These tests keep every path between the pages covered.
"""
from __future__ import annotations

import itertools
import os
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest
from streamlit.proto.WidgetStates_pb2 import WidgetStates
from streamlit.testing.v1 import AppTest

from studio.nav import PAGE

APP = str(Path(__file__).resolve().parents[2] / "app.py")
# every number of the form away from its preset and from its minimum, plus the other widgets
CHANGED = {"tf_embedding_dim": 24, "tf_hidden_size": 96, "tf_layers": 2, "tf_dropout": 0.3, "tf_lr": 0.002,
           "tf_weight_decay": 0.001, "tf_batch_size": 48, "tf_epochs": 7, "tf_max_len": 50, "tf_grad_clip": 2.5,
           "tf_patience": 4, "tf_max_minutes": 3.0, "tf_seed": 11, "tf_negatives": 128}
OTHER_PAGES = [k for k in PAGE if k != "train"]


pytestmark = pytest.mark.usefixtures("home")  # every test gets its own empty run library (conftest)
# sample_run (conftest): a tiny run on the bundled sample, in the session's runs so every page has one to show


def browse(at: AppTest, page: str) -> AppTest:
    """Switch page like a browser: the widgets of the page left send nothing."""
    at.switch_page(PAGE[page])
    at._run(WidgetStates())
    assert not at.exception, (page, at.exception)
    return at


def form_on_train(sample_run) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["runs"] = [sample_run]
    at.run()
    browse(at, "train")
    for key, value in CHANGED.items():
        at.number_input(key=key).set_value(value)
    at.text_input(key="tf_name").set_value("my settings")
    at.segmented_control(key="tf_model").set_value("LSTM")
    at.run()
    assert form_values(at) == expected()
    return at


def form_values(at: AppTest) -> dict:
    values = {key: at.number_input(key=key).value for key in CHANGED}
    values["tf_name"] = at.text_input(key="tf_name").value
    values["tf_model"] = at.segmented_control(key="tf_model").value
    return values


def expected() -> dict:
    return {**CHANGED, "tf_name": "my settings", "tf_model": "LSTM"}


def test_train_recommend_why_train_keeps_every_setting(sample_run):
    at = form_on_train(sample_run)
    for page in ("recommend", "why", "train"):
        browse(at, page)
    assert form_values(at) == expected()


def test_values_the_app_set_and_the_user_never_touched_survive_too(sample_run):
    """The preset's values are written by the app, so a browser never sends them: these were the ones lost."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["runs"] = [sample_run]
    at.run()
    browse(at, "train")
    preset = {key: at.number_input(key=key).value for key in CHANGED}
    assert preset["tf_hidden_size"] == 64 and preset["tf_epochs"] == 10  # Quick demo, not the minimums
    for page in ("recommend", "why", "train"):
        browse(at, page)
    assert {key: at.number_input(key=key).value for key in CHANGED} == preset


def test_a_tour_of_every_page_and_back_keeps_every_setting(sample_run):
    at = form_on_train(sample_run)
    for page in OTHER_PAGES + OTHER_PAGES[::-1] + ["train"]:
        browse(at, page)
    assert form_values(at) == expected()


@pytest.mark.slow
def test_every_two_page_detour_keeps_every_setting(sample_run):
    """Train -> P -> Q -> Train for every ordered pair of other pages, in one session (a few minutes)."""
    at = form_on_train(sample_run)
    for first, second in itertools.permutations(OTHER_PAGES, 2):
        for page in (first, second, "train"):
            browse(at, page)
        assert form_values(at) == expected(), (first, second)
