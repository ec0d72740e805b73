"""One source of truth for the data filters and the Tune settings, as for TrainConfig (tests/unit/test_config.py):
each field's Setting drives the library's validate(), the CLI's options and the app's widgets, so the three agree on
every limit and default. Also the one maximum of seeds of a repeated training."""
from __future__ import annotations

import argparse

import pytest
from streamlit.testing.v1 import AppTest

from seqrec import SeqrecError
from seqrec.cli import _filters, build_parser
from seqrec.config import CELLS, MAX_SEEDS
from seqrec.data.prepare import FILTER_SETTINGS, Filters, filter_settings
from seqrec.evaluation.uncertainty import check_seeds
from seqrec.training.space import TUNE_SETTINGS, TuneConfig
from studio.data_form import NUMBERS, SESSIONS
from studio.setting_widgets import limits

NUMERIC_FILTERS = [name for name, s in FILTER_SETTINGS.items() if s.kind in ("int", "float")]
NUMERIC_TUNE = [name for name, s in TUNE_SETTINGS.items() if s.kind in ("int", "float")]


def _actions(command: str) -> dict:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {a.dest: a for a in sub.choices[command]._actions}


def _refused(make, **changes) -> str | None:
    """The sentence validate() raises for these values, or None when they are accepted."""
    try:
        make(**changes)
    except SeqrecError as e:
        return str(e)
    return None


def _outside(s) -> list:
    """Values a hair outside a setting's bounds (the bound itself when it is open); none where it is unbounded."""
    step = 1 if s.integer else 1e-9
    below = [s.lo if s.open_below else s.lo - step] if s.lo is not None else []
    return below + ([s.hi + step] if s.hi is not None else [])


def _data_page():
    """The Data page's Filters box on a small table with a rating and an event column; the Filters it builds."""
    import pandas as pd
    import streamlit as st

    from studio.data_form import filter_choice

    raw = pd.DataFrame({"user": ["a", "a", "b"], "item": ["x", "y", "x"], "time": [1, 2, 3], "stars": [1, 3, 5],
                        "kind": ["view", "buy", "view"]})
    roles = {"user": "user", "item": "item", "time": "time", "rating": "stars", "event": "kind"}
    st.session_state["filters"] = filter_choice(raw, roles, "k")


def _tune_page():
    import streamlit as st

    from studio import tune

    tune.init_form()
    st.session_state["settings"] = tune.settings_form()


@pytest.fixture(scope="module")
def data_page():
    at = AppTest.from_function(_data_page, default_timeout=60).run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("name", NUMERIC_FILTERS)
def test_each_numeric_filter_has_one_set_of_limits_in_library_form_and_cli(name, data_page):
    s = FILTER_SETTINGS[name]
    # the library: the bounds are in, a hair beyond them is out, with the filter named in one sentence
    for value in _outside(s):
        msg = _refused(lambda **kw: Filters(**kw).validate(), **{name: value})
        assert msg and msg.startswith("Invalid data filters: ") and s.called in msg and "\n" not in msg, (name, value)
    if name == "min_rating":  # any number: the page's slider spans the rating column's values
        slider = data_page.slider(key="f_rating_k")
        assert (slider.min, slider.max) == (1, 5) and slider.label == s.label
        assert _refused(lambda **kw: Filters(**kw).validate(), min_rating=-1e9) is None
    else:
        form_lo, form_hi = limits(s)
        ok = {name: form_lo, **({"session_gap_minutes": 30.0} if name == "min_session_length" else {})}
        assert _refused(lambda **kw: Filters(**kw).validate(), **ok) is None
        if s.hi is not None:
            assert _refused(lambda **kw: Filters(**kw).validate(), **{name: s.hi}) is None
        # the Data page's widget: the library's bounds (an open bound starts at the least value the format shows)
        widget = data_page.number_input(key=f"f_{name}")
        assert (widget.min, widget.max) == (form_lo, form_hi) and widget.label == s.label and widget.help == s.help
        assert form_lo == s.lo or (s.open_below and s.lo < form_lo <= 0.1)
    # the CLI: the option exists with the library's default, and a value outside the bounds is refused
    action = _actions("stats")[name]
    assert action.option_strings == [s.option] and action.default == getattr(Filters(), name)
    for value in _outside(s):
        a = build_parser().parse_args(["stats", "x.csv", s.option, str(value)])
        with pytest.raises(SeqrecError, match=s.called):
            _filters(a).validate()


def test_every_filter_widget_starts_at_the_library_default_and_builds_valid_filters(data_page):
    """Untouched, the Data page's Filters box gives exactly the library's default Filters; every number input at its
    minimum still gives Filters the library accepts (the form can no longer offer a history length of 1)."""
    assert set(NUMBERS + SESSIONS) == set(NUMERIC_FILTERS) - {"min_rating"}
    assert data_page.session_state["filters"] == Filters()
    for name in NUMBERS + SESSIONS:
        data_page.number_input(key=f"f_{name}").set_value(limits(FILTER_SETTINGS[name])[0])
    data_page.run()
    assert not data_page.exception, data_page.exception
    built = data_page.session_state["filters"]
    assert built.validate() is built and built.max_events_per_user == 3 and built.session_gap_minutes == 0.1
    labels = {w.label for w in [*data_page.slider, *data_page.multiselect, *data_page.text_input,
                                *data_page.checkbox, *data_page.selectbox]}
    for name in ("min_rating", "event_types", "date_from", "date_to", "remove_repeats", "where"):
        assert FILTER_SETTINGS[name].label in labels, name


def test_every_filter_is_a_cli_option_and_recommending_needs_one_event_per_user():
    stats, recommend = _actions("stats"), _actions("recommend")
    for name, s in FILTER_SETTINGS.items():
        assert stats[name].option_strings == [s.option] and s.help.rstrip(".")[:30] in stats[name].help, name
    a = build_parser().parse_args(["stats", "x.csv", "--where", "Quantity>0", "--where", "Price<=9",
                                   "--event-types", "view", "buy", "--remove-repeats", "--date-to", "2011-12-31"])
    assert _filters(a) == Filters(where=["Quantity>0", "Price<=9"], event_types=["view", "buy"], remove_repeats=True,
                                  date_to="2011-12-31")
    # the recommend command's histories need no split: one event per user is enough, in the CLI as in the library
    least = filter_settings(training=False)["min_user_interactions"].lo
    assert recommend["min_user_interactions"].default == 1 == least
    Filters(min_user_interactions=1).validate(training=False)
    assert "at least 3" in _refused(lambda **kw: Filters(**kw).validate(), min_user_interactions=1)


def test_filter_problems_are_named_together_in_field_order():
    msg = _refused(lambda **kw: Filters(**kw).validate(), min_item_count=0, where=["oops"], date_from="soon",
                   session_gap_minutes=-1, min_session_length=0, max_events_per_user=2)
    nouns = ["minimum item count", "maximum events per user", "'oops'", "'soon' is not a date", "the session gap",
             "minimum session length"]
    assert [msg.index(n) for n in nouns] == sorted(msg.index(n) for n in nouns) and msg.count(";") == 5
    assert "needs a session gap" in _refused(lambda **kw: Filters(**kw).validate(), min_session_length=2)


# ---- Tune ---------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def tune_page():
    at = AppTest.from_function(_tune_page, default_timeout=60).run()
    assert not at.exception, at.exception
    return at


def test_tune_defaults_are_one_set_for_the_app_and_the_cli(tune_page):
    defaults = TuneConfig()
    assert defaults.validate() is defaults and defaults.cells == CELLS
    # the CLI: every setting has an option whose default is TuneConfig's (the budget must be given)
    a = build_parser().parse_args(["tune", "x.csv", "--budget-minutes", str(defaults.budget_minutes)])
    parsed = TuneConfig(**{name: getattr(a, name) for name in TUNE_SETTINGS})
    assert parsed == defaults and parsed.base() == defaults.base()
    assert (defaults.epochs, defaults.patience) == (parsed.base().epochs, parsed.base().patience) == (100, 10)
    assert _actions("tune")["cells"].choices == CELLS and _actions("tune")["budget_minutes"].required
    # the page: its widgets start at the same values and build the same settings
    built = tune_page.session_state["settings"]
    assert set(built.cells) == set(CELLS)  # in the page's order of the cells: GRU, LSTM, RNN
    assert built == TuneConfig(cells=built.cells, metric=defaults.chosen_metric)


@pytest.mark.parametrize("name", NUMERIC_TUNE)
def test_each_numeric_tune_setting_has_one_set_of_limits_in_library_page_and_cli(name, tune_page):
    s = TUNE_SETTINGS[name]
    for value in _outside(s):
        msg = _refused(lambda **kw: TuneConfig(**kw).validate(), **{name: value})
        assert msg and msg.startswith("Invalid tune settings: ") and s.called in msg, (name, value)
        # the CLI names the option that was typed
        argv = ["tune", "x.csv", "--budget-minutes", "1", s.option, str(value)]
        a = build_parser().parse_args(argv[:2] + argv[4:] if name == "budget_minutes" else argv)
        with pytest.raises(SeqrecError, match=s.option):
            TuneConfig(**{n: getattr(a, n) for n in TUNE_SETTINGS}).validate(by_flag=True)
    lo, hi = limits(s)
    assert _refused(lambda **kw: TuneConfig(**kw).validate(), **{name: lo}) is None
    if hi is not None:
        assert _refused(lambda **kw: TuneConfig(**kw).validate(), **{name: hi}) is None
    widgets = {w.key: w for w in tune_page.number_input}
    key = {"budget_minutes": "tune_minutes", "trials": "tune_trials"}.get(name)
    if key is not None:  # the page offers these two (the others keep their defaults there)
        assert (widgets[key].min, widgets[key].max) == (lo, hi) and widgets[key].label == s.label


def test_the_tune_page_offers_the_metrics_the_library_accepts(tune_page):
    options = tune_page.selectbox(key="tune_metric").options
    assert options[0] == TuneConfig().chosen_metric == "recall@20" and len(options) == 6
    for metric in options:
        TuneConfig(metric=metric).validate()
    assert "must be one of" in _refused(lambda **kw: TuneConfig(**kw).validate(), metric="hit@20")


# ---- seeds --------------------------------------------------------------------------------------------------------

def test_one_maximum_of_seeds_for_the_cli_the_library_and_the_train_page():
    check_seeds(list(range(MAX_SEEDS)))
    with pytest.raises(ValueError, match=f"between 1 and {MAX_SEEDS}"):
        check_seeds(list(range(MAX_SEEDS + 1)))
    assert f"at most {MAX_SEEDS}" in _actions("train")["seeds"].help
    from pathlib import Path

    from studio.nav import PAGE

    app = AppTest.from_file(str(Path(__file__).resolve().parents[2] / "app.py"), default_timeout=120).run()
    app.switch_page(PAGE["train"]).run()
    assert not app.exception, app.exception
    assert app.number_input(key="tf_n_seeds").max == MAX_SEEDS
