"""The Train form's dropout box is empty ("auto") for the presets that leave it automatic; a typed number
is used as it is, emptying the box makes it automatic again, and an empty box survives navigation (AppTest)."""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pytest
from streamlit.proto.WidgetStates_pb2 import WidgetStates
from streamlit.testing.v1 import AppTest

from studio.nav import PAGE

APP = str(Path(__file__).resolve().parents[2] / "app.py")
pytestmark = pytest.mark.usefixtures("home")


def browse(at: AppTest, page: str) -> AppTest:
    at.switch_page(PAGE[page])
    at._run(WidgetStates())
    assert not at.exception, (page, at.exception)
    return at


def test_dropout_is_an_empty_auto_box_for_balanced_and_a_number_once_typed():
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    browse(at, "train")
    box = at.number_input(key="tf_dropout")
    assert box.value == 0.2  # the first-visit preset (Quick demo) sets it
    at.selectbox(key="tf_preset").set_value("Balanced").run()
    box = at.number_input(key="tf_dropout")
    assert box.value is None and box.proto.placeholder == "auto"
    assert "Automatic when left empty" in box.help and not at.exception
    assert any("dropout chosen from your data" in c.value for c in at.caption)  # the preset's note says so
    browse(at, "compare")
    browse(at, "train")
    assert at.number_input(key="tf_dropout").value is None  # still automatic, not reset to the minimum (0.0)
    at.number_input(key="tf_dropout").set_value(0.35).run()
    assert at.number_input(key="tf_dropout").value == 0.35
    at.number_input(key="tf_dropout").set_value(None).run()
    assert at.number_input(key="tf_dropout").value is None and not at.exception


def test_the_forms_config_leaves_an_empty_dropout_automatic(monkeypatch):
    from seqrec import PRESETS, TrainConfig
    from studio import train_form

    widgets = {f"tf_{k}": v for k, v in TrainConfig(**PRESETS["Balanced"]).to_dict().items()}
    widgets.update(tf_model="GRU", tf_exclude=False, tf_name=" mine ", tf_ks=[10, 20])
    monkeypatch.setattr(train_form.st, "session_state", widgets)
    config, name = train_form.config_from_widgets()
    assert config.dropout is None and config.validate() and name == "mine"
    widgets["tf_dropout"] = 0.3
    assert train_form.config_from_widgets()[0].dropout == 0.3


def test_a_balanced_training_in_the_app_records_the_dropout_it_chose():
    """Through the app's queue and training executor: the form's empty box trains with the value the data calls for
    (0.5 on the synthetic sample, whose shoppers rarely re-buy), and the Train page names it."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    browse(at, "train")
    at.selectbox(key="tf_preset").set_value("Balanced").run()
    for key, value in {"tf_epochs": 1, "tf_embedding_dim": 16, "tf_hidden_size": 16, "tf_cpus": 1}.items():
        at.number_input(key=key).set_value(value)
    at.button(key="train_start").click().run()
    assert not at.exception, at.exception
    assert at.session_state["job"].wait(120), "the training did not finish"
    at.run()
    run = at.session_state["runs"][-1]
    assert run.config.dropout == 0.5 and run.config.epochs == 1
    assert any("dropout 0.5 ·" in c.value for c in at.caption)
