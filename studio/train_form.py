"""The training form: one widget per TrainConfig field, and presets that fill them in.

Labels, help texts, limits, steps and formats all come from the config's Settings (seqrec/config.py, through
studio/setting_widgets.py), so the form offers exactly what TrainConfig.validate() accepts: it cannot build a config
that training then refuses.
"""
from __future__ import annotations

import streamlit as st

from seqrec import PRESETS, TrainConfig
from seqrec.config import SETTINGS
from studio import state
from studio.copy import PRESET_NOTES
from studio.setting_widgets import number_input
from studio.ui import error_sentence

MODELS = {"GRU": "gru", "LSTM": "lstm", "RNN": "rnn"}  # button label -> cell (the config's choices)
K_CHOICES = [1, 5, 10, 20, 50, 100]
LOSSES = {"full": "Full softmax (exact)", "sampled": "Sampled softmax (large catalogues)"}
# The number inputs of the Hyperparameters grid, in the config's field order; the seed sits in the top row instead.
NUMBERS = tuple(name for name, s in SETTINGS.items() if s.kind in ("int", "float") and name != "seed")
# The other switches and choices (tied output, layer norm, monitor, LR schedule, ...): one toggle / select box each.
SWITCHES = tuple(name for name, s in SETTINGS.items() if s.kind == "switch" and name != "exclude_seen")
CHOICES = tuple(name for name, s in SETTINGS.items() if s.kind == "choice" and name not in ("model", "loss"))
DEFAULTS = TrainConfig()
START_ERROR = "_train_start_error"  # why the last press of Train started nothing (shown under the button)


def _defaults(preset: str) -> dict:
    return TrainConfig(**PRESETS[preset]).to_dict()


def apply_preset() -> None:
    """on_change of the preset picker: write the preset's values into the widgets."""
    for name, value in _defaults(st.session_state["tf_preset"]).items():
        if name in NUMBERS + SWITCHES + CHOICES:
            st.session_state[f"tf_{name}"] = value
        elif name == "loss":
            st.session_state["tf_loss"] = value


def init_form() -> None:
    """First visit: the widgets start at the Quick demo preset (the rest at the config's defaults)."""
    if "tf_preset" not in st.session_state:
        st.session_state["tf_preset"] = "Quick demo"
        apply_preset()
    model_label = next(label for label, cell in MODELS.items() if cell == DEFAULTS.model)
    for name, value in {"tf_model": model_label, "tf_seed": DEFAULTS.seed, "tf_ks": list(DEFAULTS.ks),
                        "tf_exclude": DEFAULTS.exclude_seen, "tf_name": "", "tf_loss": DEFAULTS.loss,
                        **{f"tf_{n}": getattr(DEFAULTS, n) for n in SWITCHES + CHOICES}}.items():
        st.session_state.setdefault(name, value)


def number(name: str, container) -> float | int | None:
    return number_input(container, SETTINGS[name], f"tf_{name}")


def config_form() -> None:
    """Draw the form. Its config and run name come from `config_from_widgets()`, which the Train button's callback
    reads before the page is drawn."""
    init_form()
    top = st.columns([2, 2, 2, 1])
    top[0].selectbox("Preset", list(PRESETS), key="tf_preset", on_change=apply_preset,
                     help="Quick demo: seconds on the sample. Balanced: a good default. Thorough: bigger and longer.")
    top[1].segmented_control(SETTINGS["model"].label, list(MODELS), key="tf_model", help=SETTINGS["model"].help)
    top[2].text_input("Run name (optional)", key="tf_name", placeholder="e.g. GRU quick",
                      help="Shown in the run list; a name is made from the settings when left empty.")
    number("seed", top[3])
    st.caption(f":material/info: **{st.session_state['tf_preset']}**: {PRESET_NOTES[st.session_state['tf_preset']]}")
    with st.expander("Hyperparameters", icon=":material/tune:", expanded=False):
        cells = [c for _ in range(len(NUMBERS) // 4 + 1) for c in st.columns(4)]
        for i, name_ in enumerate(NUMBERS):
            number(name_, cells[i])
        cells[len(NUMBERS)].multiselect(SETTINGS["ks"].label, K_CHOICES, key="tf_ks", help=SETTINGS["ks"].help)
        st.toggle(SETTINGS["exclude_seen"].label, key="tf_exclude", help=SETTINGS["exclude_seen"].help)
        st.selectbox(SETTINGS["loss"].label, list(LOSSES), key="tf_loss", format_func=LOSSES.get,
                     help=SETTINGS["loss"].help)
        extra = st.columns(len(SWITCHES) + len(CHOICES))
        for i, n in enumerate(SWITCHES):
            extra[i].toggle(SETTINGS[n].label, key=f"tf_{n}", help=SETTINGS[n].help)
        for i, n in enumerate(CHOICES):
            extra[len(SWITCHES) + i].selectbox(SETTINGS[n].label, list(SETTINGS[n].choices), key=f"tf_{n}",
                                               help=SETTINGS[n].help)


def config_from_widgets() -> tuple[TrainConfig, str]:
    """The form's config and run name from its widgets' values (kept in the session under their keys, so this also
    works in a widget's callback, before the page is drawn). Not validated here (training does that)."""
    ss = st.session_state
    values = {k: None if ss[f"tf_{k}"] is None and SETTINGS[k].auto else
              int(ss[f"tf_{k}"]) if SETTINGS[k].integer else float(ss[f"tf_{k}"]) for k in NUMBERS}
    options = {n: bool(ss[f"tf_{n}"]) if n in SWITCHES else str(ss[f"tf_{n}"] or getattr(DEFAULTS, n))
               for n in SWITCHES + CHOICES}
    cfg = TrainConfig(model=MODELS.get(ss["tf_model"] or "GRU", "gru"), seed=int(ss["tf_seed"]),
                      ks=tuple(sorted(ss["tf_ks"] or DEFAULTS.ks)), exclude_seen=bool(ss["tf_exclude"]),
                      loss=str(ss["tf_loss"] or DEFAULTS.loss), **values, **options)
    return cfg, (ss["tf_name"] or "").strip()


def start_from_form() -> None:
    """The Train button's on_click. A callback runs before the page's script, so the one rerun that follows a press
    already shows the job (queued or running) and a disabled button; starting it in the script needed a second full
    rerun, a redraw of the whole page that costs the watching browser about 0.4 s of CPU. A config over
    the memory budget, or anything unexpected, is kept as a sentence for the page to show."""
    st.session_state.pop(START_ERROR, None)
    if state.training_active():
        return
    try:
        config, run_name = config_from_widgets()
        state.start_seed_series(state.current_dataset(), config.validate(), run_name or None,
                                int(st.session_state.get("tf_n_seeds") or 1))
    except Exception as e:
        st.session_state[START_ERROR] = error_sentence("Starting the training", e)
