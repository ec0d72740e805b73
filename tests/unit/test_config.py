"""One source of truth for the training settings: every TrainConfig field's Setting drives validate(), the CLI's
`train` flags and the app's Train form, so the three agree on every limit, default and help text."""
import argparse
import json
from dataclasses import fields

import pytest

from seqrec import PRESETS, SeqrecError, TrainConfig
from seqrec.cli import _number_or_auto, build_parser, train_config
from seqrec.config import CELLS, KINDS, LIMITS, LOSSES, SETTINGS
from studio.setting_widgets import limits
from studio.train_form import K_CHOICES, MODELS, NUMBERS
from studio.train_form import LOSSES as FORM_LOSSES

DEFAULTS = TrainConfig()
NUMERIC = [name for name, s in SETTINGS.items() if s.kind in ("int", "float")]


def _train_actions() -> dict:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {a.dest: a for a in sub.choices["train"]._actions}


def _invalid(**changes) -> bool:
    try:
        DEFAULTS.replace(**changes).validate()
    except SeqrecError:
        return True
    return False


def _just_outside(name) -> tuple:
    """A value a hair below the lower bound (the bound itself when it is open) and one a hair above the upper."""
    s = SETTINGS[name]
    if s.integer:
        return s.lo - 1, s.hi + 1
    return (s.lo if s.open_below else s.lo - 1e-9), s.hi + 1e-9


def test_every_field_has_one_setting_and_the_defaults_and_presets_are_valid():
    assert list(SETTINGS) == [f.name for f in fields(TrainConfig)]
    for name, s in SETTINGS.items():
        assert s.kind in KINDS and s.name == name and s.label and s.help.endswith("."), name
        if s.kind in ("int", "float", "ints"):
            assert s.lo < s.hi, name
    assert LIMITS == {name: (SETTINGS[name].lo, SETTINGS[name].hi) for name in NUMERIC}  # derived, nothing else
    DEFAULTS.validate()
    for preset in PRESETS.values():
        TrainConfig(**preset).validate()


@pytest.mark.parametrize("name", NUMERIC)
def test_cli_flag_form_limits_and_validate_agree(name):
    s = SETTINGS[name]
    lo, hi = s.lo, s.hi
    # validate(): the bounds are in, a hair beyond them is out
    below, above = _just_outside(name)
    assert _invalid(**{name: below}) and _invalid(**{name: above})
    assert not _invalid(**{name: hi})
    # the form: its min/max are the config's bounds (an open bound starts at the least positive value shown)
    form_lo, form_hi = limits(s)
    assert form_hi == hi and type(form_lo) is type(form_hi) is (int if s.integer else float)
    if s.open_below:
        assert lo < form_lo <= 1e-6 and _invalid(**{name: lo})
    else:
        assert form_lo == lo
    assert not _invalid(**{name: form_lo})
    # the CLI: the flag exists, with the config's default and type, and its help states the bounds and the default
    action = _train_actions()[name]
    assert action.option_strings == [s.option] and action.default == getattr(DEFAULTS, name)
    assert action.type is (_number_or_auto if s.auto else int if s.integer else float)
    if s.auto:  # `auto` (any case) is the automatic value, None
        assert action.type("auto") is None and action.type(" AUTO ") is None and "or auto" in action.help
    assert "Allowed: " in action.help and "default" in action.help
    for value, bad in ((hi, False), (above, True)):
        argv = ["train", "x.csv", s.option, str(value)]
        a = build_parser().parse_args(argv)
        a.argv = argv
        if bad:
            with pytest.raises(SeqrecError, match=s.noun or name.replace("_", " ")):
                train_config(a)
        else:
            assert getattr(train_config(a)[0], name) == value


def test_choice_switch_and_k_flags_follow_their_settings():
    actions = _train_actions()
    for name in ("model", "loss"):
        assert tuple(actions[name].choices) == SETTINGS[name].choices
        assert actions[name].default == getattr(DEFAULTS, name) and actions[name].option_strings == [f"--{name}"]
    assert actions["exclude_seen"].option_strings == ["--exclude-seen"] and actions["exclude_seen"].default is False
    assert actions["ks"].option_strings == ["--k"] and actions["ks"].default == list(DEFAULTS.ks)
    argv = ["train", "x.csv", "--k", "5", "50", "--exclude-seen", "--model", "lstm", "--loss", "sampled"]
    a = build_parser().parse_args(argv)
    a.argv = argv
    cfg = train_config(a)[0]
    assert (cfg.ks, cfg.exclude_seen, cfg.model, cfg.loss) == ((5, 50), True, "lstm", "sampled")
    # the form's choices are the config's
    assert set(MODELS.values()) == set(CELLS) and set(FORM_LOSSES) == set(LOSSES)
    ks = SETTINGS["ks"]
    assert all(ks.lo <= k <= ks.hi for k in K_CHOICES)


def test_config_file_values_yield_to_typed_options_only(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({**DEFAULTS.to_dict(), "hidden_size": 96, "lr": 0.01, "ks": [5]}))
    argv = ["train", "x.csv", "--config", str(path), "--lr", "0.02"]
    a = build_parser().parse_args(argv)
    a.argv = argv
    cfg = train_config(a)[0]
    assert (cfg.hidden_size, cfg.lr, cfg.ks, cfg.epochs) == (96, 0.02, (5,), DEFAULTS.epochs)


def test_the_form_widgets_offer_exactly_the_config_limits_and_build_valid_configs():
    """The real widgets (Streamlit's AppTest): labels and min/max from the Settings; every number input at its
    minimum, then at its maximum, gives a config that validate() accepts."""
    from streamlit.testing.v1 import AppTest

    def page():
        import streamlit as st

        from studio.train_form import config_form, config_from_widgets

        config_form()
        st.session_state["cfg"] = config_from_widgets()[0]

    at = AppTest.from_function(page, default_timeout=60).run()
    assert not at.exception, at.exception
    assert set(NUMBERS) | {"seed"} == set(NUMERIC)
    for name in NUMERIC:
        widget = at.number_input(key=f"tf_{name}")
        assert (widget.min, widget.max) == limits(SETTINGS[name]) and widget.label == SETTINGS[name].label, name
    for end in (0, 1):
        for name in NUMERIC:
            at.number_input(key=f"tf_{name}").set_value(limits(SETTINGS[name])[end])
        at.run()
        assert not at.exception, at.exception
        cfg = at.session_state["cfg"]
        assert cfg.validate() is cfg and all(getattr(cfg, n) == limits(SETTINGS[n])[end] for n in NUMERIC)
