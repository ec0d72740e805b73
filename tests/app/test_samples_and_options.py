"""On the pages: the Data page offers both bundled samples (synthetic teaching, real retail) and loads the
real one with product names; the Train form offers the new training options, generated from the config."""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from streamlit.testing.v1 import AppTest

from seqrec.config import SETTINGS
from seqrec.service.dataset import SAMPLES
from studio import data_form
from studio.nav import PAGE
from studio.train_form import CHOICES, SWITCHES

APP = str(Path(__file__).resolve().parents[2] / "app.py")


def page(name: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(PAGE[name])
    at.run()
    assert not at.exception, at.exception
    return at


def test_the_data_page_offers_both_samples_and_loads_the_real_one():
    at = page("data")
    radio = at.radio(key="data_source")
    assert list(radio.options) == [data_form.SAMPLE, data_form.RETAIL, data_form.UPLOAD]
    assert radio.value == data_form.SAMPLE  # the synthetic sample opens first
    radio.set_value(data_form.RETAIL).run()
    assert any("sample:retail" in c.value and "CC BY 4.0" in c.value for c in at.caption)
    at.button(key="load_data").click().run()
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    ds = at.session_state["dataset"]
    assert ds.name == SAMPLES["retail"].name and ds.stats["users"] == 2500
    assert "White Hanging Heart T-Light Holder" in set(ds.items["title"])


def test_the_train_form_offers_the_new_options_from_the_config():
    assert SWITCHES == ("tie_weights", "repeat", "hybrid", "layer_norm") and CHOICES == ("monitor", "lr_schedule")
    at = page("train")
    toggles = {t.key: t for t in at.toggle}
    for name in SWITCHES:
        assert toggles[f"tf_{name}"].label == SETTINGS[name].label
        # repeat-aware scores, the tied output and the hybrid row are on by default
        assert toggles[f"tf_{name}"].value is (name in ("repeat", "tie_weights", "hybrid"))
    for name in CHOICES:
        box = at.selectbox(key=f"tf_{name}")
        assert list(box.options) == list(SETTINGS[name].choices) and box.label == SETTINGS[name].label
    for name in ("warmup_steps", "eval_every"):
        assert at.number_input(key=f"tf_{name}").label == SETTINGS[name].label
    at.selectbox(key="tf_monitor").set_value("ndcg").run()
    at.toggle(key="tf_layer_norm").set_value(True).run()
    assert not at.exception
    assert at.selectbox(key="tf_monitor").value == "ndcg" and at.toggle(key="tf_layer_norm").value is True


def test_the_quick_demo_says_it_does_not_beat_the_best_baseline_on_the_real_sample():
    from seqrec.config import PRESETS
    from studio.copy import PRESET_NOTES

    assert set(PRESET_NOTES) == set(PRESETS) and PRESETS["Quick demo"]["max_minutes"] == 0.5
    at = page("train")
    notes = [c.value for c in at.caption if "Quick demo" in c.value]
    assert notes and "real retail sample it does NOT beat the best baseline" in notes[0]
    at.selectbox(key="tf_preset").set_value("Balanced").run()
    assert any("Balanced" in c.value and "stays below the best baseline" in c.value for c in at.caption)
