"""Plain-language page text: the explanations for "Inside the network", written for a product manager, not an ML
researcher, and what each Train preset is for.

Everything follows PyTorch's conventions, which are the equations the models were trained with (see
seqrec.inspect.gates). In particular PyTorch's GRU computes h' = (1 - z) * n + z * h, so an update gate near 1
means "keep the old state"; several textbooks and blog posts write the opposite.
"""
from __future__ import annotations

from seqrec.errors import SeqrecError

CELL_INTROS = {
    "lstm": (
        "An **LSTM** reads the history one item at a time and keeps two things: a long-term memory (the *cell "
        "state*) and a working summary (the *hidden state*) from which the next-item scores are computed. Three "
        "gates, each a dial between 0 (closed) and 1 (open) for every unit, decide at every step what to forget, "
        "what to write and what to show."),
    "gru": (
        "A **GRU** reads the history one item at a time and keeps a single summary, the *hidden state*, from which "
        "the next-item scores are computed. Two gates, dials between 0 and 1 for every unit, decide at every step "
        "how much of the old summary to keep and how much of it to use when reading the new item."),
    "rnn": (
        "A **plain RNN** reads the history one item at a time and keeps a single summary, the *hidden state*. It has "
        "no gates: at every step the whole state is recomputed from the new item and the previous state, then "
        "squashed into -1..1 by tanh."),
}

GATE_TEXTS = {
    ("lstm", "input"): (
        "**Input gate** (0..1): how much of this item's new information is written into memory. Near 1: "
        "\"this item matters, remember it\". Near 0: the item is mostly ignored by that unit."),
    ("lstm", "forget"): (
        "**Forget gate** (0..1): how much of the existing memory is kept. It is near 1 when the network keeps what "
        "it knew; it drops when the user switches interests and the old context stops being useful."),
    ("lstm", "candidate"): (
        "**Candidate** (-1..1): the new information this item proposes to write into memory; the input gate decides "
        "how much of it actually gets in."),
    ("lstm", "output"): (
        "**Output gate** (0..1): how much of the memory is shown to the rest of the network, and so used for the "
        "recommendations, at this step. A unit can remember something without acting on it yet."),
    ("lstm", "cell"): (
        "**Cell state** (any value): the long-term memory. Each step it becomes forget x old memory + input x "
        "candidate. Values far from 0 mean a unit has built up strong evidence about this user."),
    ("lstm", "hidden"): (
        "**Hidden state** (-1..1): output gate x tanh(memory), the summary the next-item scores are computed from."),
    ("gru", "reset"): (
        "**Reset gate** (0..1): how much of the previous state is used when reading the new item. Near 0: the unit "
        "reads the item as if starting fresh (a new interest). Near 1: the item is read in the context of what "
        "came before."),
    ("gru", "update"): (
        "**Update gate** (0..1), in PyTorch's convention: near **1** means **keep the old state** (this item "
        "changes little for that unit); near **0** means replace it with the new candidate (the item redirects the "
        "model). Many textbooks define it the other way round; these models use PyTorch's."),
    ("gru", "candidate"): (
        "**Candidate** (-1..1): the new state this item proposes. The update gate mixes it with the old state: new "
        "state = (1 - update) x candidate + update x old state."),
    ("gru", "hidden"): (
        "**Hidden state** (-1..1): the summary of the history so far, from which the next-item scores are "
        "computed."),
    ("rnn", "pre_activation"): (
        "**Pre-activation** (any value): the weighted sum of the new item and the previous state, before tanh "
        "squashes it. Large positive or negative values push the unit into saturation."),
    ("rnn", "hidden"): (
        "**Hidden state** (-1..1): tanh(pre-activation), the summary the next-item scores are computed from. It is "
        "rewritten completely at every step."),
}

RNN_NOTE = (
    "**Why are there no gates?** A plain RNN has no learned switches that decide what to keep or to overwrite: "
    "every step mixes the new item into the whole state. That is why it tends to forget older items quickly, and "
    "why LSTM and GRU were invented. **What does saturation mean here?** tanh squashes every value into -1..1. A "
    "unit near -1 or +1 is saturated: it behaves like an on/off switch, and small changes in the input barely move "
    "it (during training, almost no learning signal passes through it). Some saturation is normal; a state that is "
    "saturated almost everywhere hardly reacts to new items.")

VIEW_TEXTS = {
    "heatmap": (
        "Each row is one hidden unit, each column one item of the history (oldest on the left). The colour is the "
        "gate's value at that step. Look for columns where many rows change colour: that item changed what the "
        "network is doing. Unit numbers are arbitrary; no single unit has a name."),
    "top_units": (
        "A model has dozens or hundreds of units and most rows look alike. \"Most responsive\" shows the units "
        "whose hidden state moved the most over this history (total absolute change from step to step, starting "
        "from zero), most responsive first, so the interesting rows are on top."),
    "means": (
        "The average of every gate over all units, step by step. A dip in the forget gate (LSTM) or the update gate "
        "(GRU), or a jump in the input gate, marks the items where the network rewrites its picture of the user."),
    "saturation": (
        "How often each gate sits at an extreme, as in Karpathy et al., \"Visualizing and Understanding Recurrent "
        "Networks\": a 0..1 gate counts as saturated below 0.1 (shut) or above 0.9 (wide open); a -1..1 value "
        "below -0.9 or above 0.9. Saturated gates act like switches (keep / discard); values in the middle act "
        "like fine-grained dials. A forget gate often above 0.9 means long memory."),
    "change": (
        "How far each item moved the hidden state (the length of the difference between the state before and "
        "after the item; the state starts at zero). A tall bar means the item surprised the model or redirected "
        "it, for example a switch to a new category; a short bar means the item fit what the model already "
        "believed."),
    "compare": (
        "The same history traced through an LSTM run and a GRU run. Unit numbers do not correspond between the two "
        "models (unit 5 of one has nothing to do with unit 5 of the other); compare the patterns instead: which "
        "items cause big changes, and how strongly each model holds on to the past."),
}


def cell_intro(cell: str) -> str:
    """One paragraph on what this kind of network keeps between steps."""
    if cell not in CELL_INTROS:
        raise SeqrecError(f"Unknown cell type {cell!r}; expected rnn, lstm or gru.")
    return CELL_INTROS[cell]


def gate_text(cell: str, gate: str) -> str:
    """What one gate of one cell type means, in a sentence or two."""
    try:
        return GATE_TEXTS[(cell, gate)]
    except KeyError:
        raise SeqrecError(f"A {cell.upper()} has no '{gate}' gate.") from None


def view_text(view: str) -> str:
    """How to read one of the page's views: heatmap, top_units, means, saturation, change or compare."""
    try:
        return VIEW_TEXTS[view]
    except KeyError:
        raise SeqrecError(f"No explanation for the view {view!r}; choose one of {', '.join(VIEW_TEXTS)}.") from None


# ------------------------------------------------------------------------------------------------------------------
# "Why this?" page: why a recommendation, and what the model learned (seqrec.inspect.influence,
# seqrec.inspect.embedding_map)
# ------------------------------------------------------------------------------------------------------------------

WHY_TEXTS = {
    "influence": (
        "**What removing each item does.** For every item in the history we ask the model again, as if the user had "
        "never interacted with that item, and measure how the recommended item's probability changes. A tall green "
        "bar: without that item the recommendation would be much less likely, so it is a reason for it. A red bar: "
        "the item works against the recommendation. Near zero: the model would recommend it anyway."),
    "gradient": (
        "**Second opinion (gradient x input).** A quick mathematical estimate of the same question from one pass "
        "through the network: how sensitive the recommendation is to each item. It usually points at the same "
        "items; when the two disagree, trust the removal test above, which is what really happens."),
    "compare": (
        "**Which model remembers further back?** The same history explained by each run. Each line shows how the "
        "influence is spread over the history (shares add up to 100% per run). A plain RNN usually puts almost "
        "everything on the last few items; LSTM and GRU, built to keep a memory, can still be moved by items far "
        "back. \"Older half\" is the share of the influence that comes from the first half of the history; \"reaches "
        "back\" counts the items from the latest one back to the oldest item that still has at least a fifth of the "
        "strongest item's influence."),
    "profile": (
        "**Typical memory span.** The same measure averaged over many users, each explaining the run's own top "
        "recommendation: how much of the influence usually sits on the latest item, the one before, and so on. A "
        "curve that drops to zero after a few items means a short memory."),
    "map": (
        "**Map of the items.** The model learns a list of numbers (a vector) for every item. Items the model treats "
        "alike get similar vectors and end up close together on this map, which squeezes those vectors into two "
        "dimensions. The *output layer* vectors say how the model scores an item as the next one: items that tend "
        "to come next in the same situations sit together, so when the model has learned something real, items of "
        "the same category cluster. The *input embedding* is how the network reads an item; it is often less tidy, "
        "because the network only needs it to be useful to its memory. PCA keeps the big picture (distances "
        "between groups); t-SNE keeps neighbours together but distances between groups mean little. The axes have "
        "no units or names."),
    "trajectory": (
        "**How the model's picture of the user drifts.** After every item the network summarises the user in its "
        "hidden state. Each point is that summary after one more item, placed on the same 2D map for everyone (grey "
        "dots are other users' states). Long jumps are items that changed the model's mind, for example a switch to "
        "a new interest; a tight cluster means the user kept doing similar things."),
    "similar": (
        "**Similar items.** Left: the items whose learned vectors (the kind picked on the item map) are closest to "
        "this one (cosine similarity, 1 = pointing the same way). Right: what users actually picked right after "
        "this item in the training data. When the two lists share items, the model has learned the data's "
        "patterns; neighbours that never directly follow can still belong together (for example products of the "
        "same project bought a few steps apart)."),
}


def why_text(view: str) -> str:
    """How to read one view of the "Why this?" page: influence, gradient, compare, profile, map, trajectory or
    similar."""
    try:
        return WHY_TEXTS[view]
    except KeyError:
        raise SeqrecError(f"No explanation for the view {view!r}; choose one of {', '.join(WHY_TEXTS)}.") from None


# ---- the Train page's presets --------------------------------------------------------------------------------------
# What each preset of seqrec.config.PRESETS is for, shown under the Train page's preset picker. Honest about the real
# retail sample, where no preset beats the best baseline (measurements: docs/experiments/defaults-on-real-data.md).
PRESET_NOTES: dict[str, str] = {
    "Quick demo": "A small GRU for at most 30 seconds on one CPU thread (more would not make a model this small "
                  "faster): it clearly beats the baselines on the synthetic teaching "
                  "sample. On the real retail sample it does NOT beat the best baseline (item-to-item neighbours, "
                  "ItemKNN: test Recall@20 0.34 against 0.32 for this preset after its 30 seconds): it shows how "
                  "training works, not what a network can do there.",
    "Balanced": "The default model (GRU, 64-dim embeddings, 128 hidden units, dropout chosen from your data: the "
                "empty Dropout box), up to 30 epochs: a good start on your own data. On the real retail sample even "
                "this stays below the best baseline (ItemKNN); the Compare page says by how much.",
    "Thorough": "Two stacked layers, up to 100 epochs with patient early stopping: minutes rather than seconds; for "
                "when Balanced is still improving at its last epoch.",
}
