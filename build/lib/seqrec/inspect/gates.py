"""Gate tracing: replay a trained recurrent model step by step and record every gate.

Training uses PyTorch's fused nn.RNN / nn.LSTM / nn.GRU (fast, but it hides the gates). To show them we read the
module's own weights (weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k}) and recompute the cell one time
step at a time with PyTorch's documented equations and gate order, so the trace is exactly what the model computed
(tests/unit/inspect/test_gates.py checks it against the fused modules to ~1e-5).

PyTorch conventions replayed here (x_t input, h the previous hidden state, h_0 = c_0 = 0):
  LSTM  gates in the order i, f, g, o:  c' = f * c + i * g,  h' = o * tanh(c')
  GRU   gates in the order r, z, n:     n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),  h' = (1 - z) * n + z * h
        (so z near 1 means "keep the old state", the opposite of some textbooks)
  RNN   h' = tanh(W_ih x + b_ih + W_hh h + b_hh)   (or relu when the module was built with nonlinearity="relu")

Summaries follow Karpathy, Johnson & Fei-Fei, "Visualizing and Understanding Recurrent Networks" (2015): a gate
value is left-saturated below 0.1 and right-saturated above 0.9 (for tanh-valued quantities: below -0.9 / above
0.9). "Most responsive units" are ranked by the total absolute change of the hidden state over the history,
sum_t |h_t - h_{t-1}| with h_0 = 0 (ties: lower unit number first).
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from seqrec.errors import SeqrecError

# Gate names per cell, in display order. "hidden" is always last.
GATES: dict[str, tuple[str, ...]] = {
    "rnn": ("pre_activation", "hidden"),
    "lstm": ("input", "forget", "candidate", "output", "cell", "hidden"),
    "gru": ("reset", "update", "candidate", "hidden"),
}

# Value range of each gate: "sigmoid" (0..1), "tanh" (-1..1) or "unbounded". Saturation is defined for the first two.
SIGMOID_GATES = {"input", "forget", "output", "reset", "update"}
TANH_GATES = {"candidate", "hidden"}

SATURATION_THRESHOLDS = {"sigmoid": (0.1, 0.9), "tanh": (-0.9, 0.9)}
RANKING = "total absolute change of the hidden state, sum over steps of |h_t - h_(t-1)| with h_0 = 0"


def gate_range(cell: str, gate: str, nonlinearity: str = "tanh") -> str:
    """'sigmoid', 'tanh' or 'unbounded': decides colour scales and whether saturation makes sense."""
    if gate in SIGMOID_GATES:
        return "sigmoid"
    if gate in TANH_GATES and not (cell == "rnn" and nonlinearity == "relu"):
        return "tanh"
    return "unbounded"


# ------------------------------------------------------------------------------------------------------------------
# Replay
# ------------------------------------------------------------------------------------------------------------------

def cell_type(module: nn.Module) -> str:
    """'rnn' / 'lstm' / 'gru' for a fused PyTorch recurrent module; anything we cannot replay exactly is refused."""
    kinds = {nn.LSTM: "lstm", nn.GRU: "gru", nn.RNN: "rnn"}
    kind = kinds.get(type(module))
    if kind is None:
        raise SeqrecError(f"Cannot trace a {type(module).__name__}; only nn.RNN, nn.LSTM and nn.GRU can be replayed.")
    if module.bidirectional or getattr(module, "proj_size", 0):
        raise SeqrecError("Cannot trace bidirectional or projected recurrent layers; the recommender uses neither.")
    return kind


def _layer_weights(module: nn.Module, k: int):
    """Weights of layer k; absent biases (bias=False) become None."""
    return (getattr(module, f"weight_ih_l{k}"), getattr(module, f"weight_hh_l{k}"),
            getattr(module, f"bias_ih_l{k}", None), getattr(module, f"bias_hh_l{k}", None))


def _affine(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    return torch.nn.functional.linear(x, w, b)


@torch.no_grad()
def replay_layer(kind: str, weights, x: torch.Tensor, nonlinearity: str = "tanh") -> dict[str, torch.Tensor]:
    """One recurrent layer over (B, T, D) inputs from a zero state -> {gate: (B, T, H)}.

    The input projection of every step is computed at once; only the recurrent part runs step by step.
    """
    w_ih, w_hh, b_ih, b_hh = weights
    B, T, _ = x.shape
    H = w_hh.shape[1]
    xs = _affine(x, w_ih, b_ih)  # (B, T, G*H)
    h = x.new_zeros(B, H)
    c = x.new_zeros(B, H)
    out: dict[str, list[torch.Tensor]] = {g: [] for g in GATES[kind]}
    for t in range(T):
        hs = _affine(h, w_hh, b_hh)
        if kind == "lstm":
            pre = xs[:, t] + hs
            i, f, g, o = pre.chunk(4, dim=1)
            i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
            c = f * c + i * g
            h = o * torch.tanh(c)
            step = {"input": i, "forget": f, "candidate": g, "output": o, "cell": c, "hidden": h}
        elif kind == "gru":
            x_r, x_z, x_n = xs[:, t].chunk(3, dim=1)
            h_r, h_z, h_n = hs.chunk(3, dim=1)
            r = torch.sigmoid(x_r + h_r)
            z = torch.sigmoid(x_z + h_z)
            n = torch.tanh(x_n + r * h_n)
            h = (1 - z) * n + z * h
            step = {"reset": r, "update": z, "candidate": n, "hidden": h}
        else:
            pre = xs[:, t] + hs
            h = torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)
            step = {"pre_activation": pre, "hidden": h}
        for name, value in step.items():
            out[name].append(value)
    return {name: torch.stack(values, dim=1) for name, values in out.items()}


@torch.no_grad()
def replay_module(module: nn.Module, x: torch.Tensor) -> list[dict[str, torch.Tensor]]:
    """Replay a (possibly multi-layer) fused module over (B, T, D) inputs (always batch-first here, whatever the
    module's own layout), in eval mode (no dropout
    between layers) -> one {gate: (B, T, H)} dict per layer."""
    kind = cell_type(module)
    layers = []
    for k in range(module.num_layers):
        gates = replay_layer(kind, _layer_weights(module, k), x, getattr(module, "nonlinearity", "tanh"))
        layers.append(gates)
        x = gates["hidden"]
    return layers


@torch.no_grad()
def replay_model(model: nn.Module, items: torch.Tensor) -> list[dict[str, torch.Tensor]]:
    """Replay a SeqRecModel (embedding -> one single-layer module per layer) over (B, T) item indices, exactly as
    it runs in eval mode -> one {gate: (B, T, H)} dict per layer."""
    x = model.embedding(items)
    layers = []
    for cell in model.cells:
        per_layer = replay_module(cell, x)
        layers.extend(per_layer)
        x = per_layer[-1]["hidden"]
    return layers


# ------------------------------------------------------------------------------------------------------------------
# Tracing a run over a history
# ------------------------------------------------------------------------------------------------------------------

@dataclass
class GateTrace:
    """Every gate of every layer over one history. `layers[k][gate]` is a (steps, units) float array."""

    cell: str
    items: list[str]                      # raw item IDs traced, oldest first (one per step)
    layers: list[dict[str, np.ndarray]]
    unknown_items: list[str] = field(default_factory=list)   # IDs the run never saw (skipped)
    dropped_items: list[str] = field(default_factory=list)   # oldest IDs beyond the run's max_len (the model
    #                                                          does not read them either)
    nonlinearity: str = "tanh"
    run_name: str = ""

    @property
    def gate_names(self) -> tuple[str, ...]:
        return GATES[self.cell]

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    @property
    def n_steps(self) -> int:
        return len(self.items)

    @property
    def hidden_size(self) -> int:
        return self.layers[0]["hidden"].shape[1]

    def gate(self, name: str, layer: int = 0) -> np.ndarray:
        if name not in self.layers[layer]:
            raise SeqrecError(f"A {self.cell.upper()} has no '{name}' gate; choose one of "
                              f"{', '.join(self.gate_names)}.")
        return self.layers[layer][name]

    def range_of(self, gate: str) -> str:
        return gate_range(self.cell, gate, self.nonlinearity)


def _model_cell(model: nn.Module) -> tuple[str, str]:
    first = model.cells[0]
    return cell_type(first), getattr(first, "nonlinearity", "tanh")


def trace_history(run, history: Sequence[str]) -> GateTrace:
    """Trace a run over one history of raw item IDs (oldest first). Unknown IDs are skipped and reported; like the
    model itself, only the last `max_len` known items are read."""
    if isinstance(history, (str, bytes)):
        history = [history]
    history = [str(h) for h in history]
    if not history:
        raise SeqrecError("The history is empty; give at least one item ID (oldest first).")
    codes, unknown = run.vocab.encode(history)
    if len(codes) == 0:
        raise SeqrecError(f"None of the {len(history)} history item(s) is known to this run (e.g. {unknown[0]!r}); "
                          f"use item IDs from the data the run was trained on.")
    unknown_set = set(unknown)
    known = [h for h in history if h not in unknown_set]
    max_len = run.config.max_len
    dropped = known[:-max_len] if len(known) > max_len else []
    codes, known = codes[-max_len:], known[-max_len:]
    model = run.model
    model.eval()
    device = next(model.parameters()).device
    layers = replay_model(model, torch.as_tensor(codes, device=device).view(1, -1))
    arrays = [{g: v[0].detach().cpu().numpy().astype(np.float64) for g, v in layer.items()} for layer in layers]
    kind, nonlin = _model_cell(model)
    return GateTrace(cell=kind, items=known, layers=arrays, unknown_items=unknown, dropped_items=dropped,
                     nonlinearity=nonlin, run_name=getattr(run, "name", ""))


# ------------------------------------------------------------------------------------------------------------------
# Summaries
# ------------------------------------------------------------------------------------------------------------------

def hidden_change(hidden: np.ndarray) -> np.ndarray:
    """(T,) L2 norm of h_t - h_{t-1} with h_0 = 0: how far each item moved the state."""
    prev = np.vstack([np.zeros((1, hidden.shape[1])), hidden[:-1]])
    return np.linalg.norm(hidden - prev, axis=1)


def unit_change(hidden: np.ndarray) -> np.ndarray:
    """(H,) total absolute change of each hidden unit over the history (h_0 = 0)."""
    prev = np.vstack([np.zeros((1, hidden.shape[1])), hidden[:-1]])
    return np.abs(hidden - prev).sum(axis=0)


def responsive_units(hidden: np.ndarray, n: int = 20, by: str = "change") -> np.ndarray:
    """Indices of the n most responsive hidden units, most responsive first.

    by="change": total absolute change (the default, see RANKING); by="variance": variance over time.
    """
    if by == "change":
        score = unit_change(hidden)
    elif by == "variance":
        score = hidden.var(axis=0)
    else:
        raise SeqrecError(f"Units can be ranked by 'change' or 'variance' (got {by!r}).")
    n = max(0, min(int(n), hidden.shape[1]))
    return np.argsort(-score, kind="stable")[:n]


def saturation(values: np.ndarray, kind: str) -> dict | None:
    """Karpathy-style saturation of a (T, H) gate: per unit, the fraction of steps below the low threshold
    (left-saturated) and above the high one (right-saturated), plus the overall fractions. None when unbounded."""
    if kind not in SATURATION_THRESHOLDS:
        return None
    lo, hi = SATURATION_THRESHOLDS[kind]
    left, right = values < lo, values > hi
    return {"low": lo, "high": hi,
            "left_fraction": float(left.mean()), "right_fraction": float(right.mean()),
            "left_by_unit": left.mean(axis=0), "right_by_unit": right.mean(axis=0)}


def summarize_gate(values: np.ndarray, kind: str) -> dict:
    """Mean per step (over units), mean per unit (over time), and saturation for one (T, H) gate."""
    return {"mean_by_step": values.mean(axis=1), "mean_by_unit": values.mean(axis=0),
            "mean": float(values.mean()), "saturation": saturation(values, kind)}


def summarize(trace: GateTrace) -> list[dict[str, dict]]:
    """Per layer: {gate: summary}."""
    return [{g: summarize_gate(layer[g], trace.range_of(g)) for g in trace.gate_names} for layer in trace.layers]


# ------------------------------------------------------------------------------------------------------------------
# JSON (the CLI's `gates` command)
# ------------------------------------------------------------------------------------------------------------------

def _rounded(a, digits: int = 6):
    if isinstance(a, dict):
        return {k: _rounded(v, digits) for k, v in a.items()}
    if isinstance(a, np.ndarray):
        return np.round(a, digits).tolist()
    if isinstance(a, float):
        return round(a, digits)
    return a


def trace_history_json(run, history: Sequence[str], top_units: int = 20) -> dict:
    """Everything the trace knows, as plain JSON: gates[gate][layer] is a steps x units list of lists."""
    n = top_units
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise SeqrecError(f"--top-units must be a whole number of at least 1 (got {n!r}).")
    trace = trace_history(run, history)
    summaries = summarize(trace)
    return {
        "run": trace.run_name,
        "cell": trace.cell,
        "layers": trace.n_layers,
        "hidden_size": trace.hidden_size,
        "items": trace.items,
        "unknown_items": trace.unknown_items,
        "dropped_items": trace.dropped_items,
        "gate_names": list(trace.gate_names),
        "gates": {g: [_rounded(layer[g]) for layer in trace.layers] for g in trace.gate_names},
        "summary": {g: [_rounded(s[g]) for s in summaries] for g in trace.gate_names},
        "hidden_change": [_rounded(hidden_change(layer["hidden"])) for layer in trace.layers],
        "top_units": [responsive_units(layer["hidden"], n).tolist() for layer in trace.layers],
        "top_units_by": RANKING,
        "saturation_thresholds": {"sigmoid gates": [0.1, 0.9], "tanh values": [-0.9, 0.9]},
    }


# ------------------------------------------------------------------------------------------------------------------
# Tracing several runs: the history they share, and demo runs to trace it with
# ------------------------------------------------------------------------------------------------------------------

def shared_history(runs: Sequence, history: Sequence[str]) -> list[str]:
    """The items of `history` that every run knows, in order, so traces of different runs line up step by step."""
    known = [set(map(str, r.vocab.ids)) for r in runs]
    return [str(h) for h in history if all(str(h) in k for k in known)]
