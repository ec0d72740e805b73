"""The training form: one widget per TrainConfig field (ranges and help text), and presets that fill them in."""
from __future__ import annotations

import streamlit as st

from seqrec import PRESETS, TrainConfig

MODELS = {"GRU": "gru", "LSTM": "lstm", "RNN": "rnn"}
K_CHOICES = [1, 5, 10, 20, 50, 100]

# field -> (label, min, max, step, format, help)
FIELDS = {
    "embedding_dim": ("Embedding size", 4, 512, 4, None, "Length of the vector that represents each item."),
    "hidden_size": ("Hidden size", 4, 1024, 4, None, "Size of the recurrent state that summarises the history."),
    "layers": ("Layers", 1, 4, 1, None, "Stacked recurrent layers; more can learn more, but train slower."),
    "dropout": ("Dropout", 0.0, 0.9, 0.05, "%.2f", "Share of units dropped during training, against overfitting."),
    "lr": ("Learning rate", 0.0001, 0.1, 0.0005, "%.4f", "Adam step size; too high diverges, too low is slow."),
    "weight_decay": ("Weight decay", 0.0, 0.1, 0.0001, "%.4f", "L2 penalty on the weights (0 = off)."),
    "batch_size": ("Batch size", 8, 1024, 8, None, "Sequences per optimisation step."),
    "epochs": ("Max epochs", 1, 500, 1, None, "Upper limit on passes over the data (early stopping may end sooner)."),
    "patience": ("Early-stopping patience", 0, 50, 1, None,
                 "Stop after this many epochs without a better validation Recall@K (0 = never stop early)."),
    "max_len": ("Max history length", 2, 2000, 1, None, "Only the most recent items of a history are fed in."),
    "grad_clip": ("Gradient clipping", 0.0, 100.0, 0.5, "%.1f", "Largest gradient norm allowed (0 = off)."),
    "max_minutes": ("Time limit (minutes)", 0.0, 120.0, 0.5, "%.1f",
                    "Training stops after this long and keeps the best weights so far (0 = no limit)."),
    "negatives": ("Sampled negatives", 16, 100_000, 64, None,
                  "With the sampled loss: items scored against each target per batch (drawn by popularity)."),
}
LOSSES = {"full": "Full softmax (exact)", "sampled": "Sampled softmax (large catalogues)"}


def _defaults(preset: str) -> dict:
    return TrainConfig(**PRESETS[preset]).to_dict()


def apply_preset() -> None:
    """on_change of the preset picker: write the preset's values into the widgets."""
    for name, value in _defaults(st.session_state["tf_preset"]).items():
        if name in FIELDS:
            st.session_state[f"tf_{name}"] = value


def init_form() -> None:
    """First visit: the widgets start at the Quick demo preset."""
    if "tf_preset" not in st.session_state:
        st.session_state["tf_preset"] = "Quick demo"
        apply_preset()
    for name, value in {"tf_model": "GRU", "tf_seed": 42, "tf_ks": [10, 20], "tf_exclude": False,
                        "tf_name": "", "tf_loss": "full"}.items():
        st.session_state.setdefault(name, value)


def number(name: str, container) -> float | int:
    label, lo, hi, step, fmt, help_ = FIELDS[name]
    return container.number_input(label, min_value=lo, max_value=hi, step=step, format=fmt, help=help_,
                                  key=f"tf_{name}")


def config_form() -> tuple[TrainConfig | None, str]:
    """Draw the form; returns (config, run name). The config is not validated here (train does that)."""
    init_form()
    top = st.columns([2, 2, 2, 1])
    top[0].selectbox("Preset", list(PRESETS), key="tf_preset", on_change=apply_preset,
                     help="Quick demo: seconds on the sample. Balanced: a good default. Thorough: bigger and longer.")
    model = top[1].segmented_control("Recurrent cell", list(MODELS), key="tf_model",
                                     help="RNN: plain recurrence. LSTM and GRU: gated cells that keep longer memory.")
    name = top[2].text_input("Run name (optional)", key="tf_name", placeholder="e.g. GRU quick",
                             help="Shown in the run list; a name is made from the settings when left empty.")
    seed = top[3].number_input("Seed", 0, 2**31 - 1, key="tf_seed", help="Same seed and settings, same run.")
    with st.expander("Hyperparameters", icon=":material/tune:", expanded=False):
        cells = [c for _ in range(len(FIELDS) // 4 + 1) for c in st.columns(4)]
        values = {name_: number(name_, cells[i]) for i, name_ in enumerate(FIELDS)}
        ks = cells[len(FIELDS)].multiselect("Evaluate at K", K_CHOICES, key="tf_ks",
                                            help="Cut-offs for Recall, MRR and NDCG; the largest drives early "
                                                 "stopping.")
        exclude = st.toggle("Exclude items already seen from recommendations", key="tf_exclude",
                            help="Good for shops where people rarely re-buy; off when repeats are common.")
        loss = st.selectbox("Loss", list(LOSSES), key="tf_loss", format_func=LOSSES.get,
                            help="Full: every item is scored at every step (exact; best below ~10,000 items). "
                                 "Sampled: each target against a few hundred popularity-drawn items, many times "
                                 "faster on large catalogues for a small accuracy cost (see BENCHMARKS.md).")
    ints = {"embedding_dim", "hidden_size", "layers", "batch_size", "epochs", "patience", "max_len", "negatives"}
    values = {k: int(v) if k in ints else float(v) for k, v in values.items()}
    cfg = TrainConfig(model=MODELS.get(model or "GRU", "gru"), seed=int(seed), ks=tuple(sorted(ks or [10, 20])),
                      exclude_seen=bool(exclude), loss=str(loss or "full"), **values)
    return cfg, (name or "").strip()
