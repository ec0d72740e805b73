"""Why a model recommends an item: how much each history item contributed to one recommended item.

Two measures, computed on the run's own weights exactly as it scores (eval mode, no dropout):

* **Occlusion** (the main answer): remove one item from the history, score the shortened history again, and see how
  the target item's probability, score and rank change. All removals go through the network in ONE batched forward
  (row 0 is the whole history, row t + 1 the history without item t). Removing an item is a real "what if": it is
  what the model would have recommended had the user never interacted with that item.
* **Gradient x input** (a second opinion): the gradient of the target's log-probability with respect to each history
  item's embedding, times that embedding, summed over the embedding dimensions. It is a first-order estimate of what
  replacing the item by an empty (all-zero, the padding row) embedding would do, from a single backward pass.

Probabilities are a softmax over every item except the padding column and, with `exclude_seen`, except the items
already in the history (the target itself always stays a candidate). Shares ("how much of the influence comes from
the older half") use the absolute change of the target's log-probability: a relative change, so confident and
unsure recommendations compare on the same footing.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from seqrec.data.split import pad_batch
from seqrec.errors import SeqrecError
from seqrec.evaluation.metrics import target_ranks

Label = Callable[[str], str]

MAIN_SHARE = 0.2        # an item holding at least this share of the positive influence is named as a main reason
NEGLIGIBLE_LOGP = 0.05  # removing an item changes the target's probability by less than ~5%: "barely matters"
EARLY_LITTLE, EARLY_LOT = 0.15, 0.4  # older-half share below / above which the sentence says so
REACH_FRACTION = 0.2    # "reach": the oldest item whose influence is at least this fraction of the largest one


# ------------------------------------------------------------------------------------------------------------------
# Inputs: a history (raw IDs or index codes) and a target
# ------------------------------------------------------------------------------------------------------------------

def _is_codes(history) -> bool:
    """Index codes are integers (numpy or Python); raw item IDs are always strings."""
    if isinstance(history, np.ndarray):
        return history.dtype.kind in "iu"
    return len(history) > 0 and all(isinstance(h, (int, np.integer)) and not isinstance(h, bool) for h in history)


def encode_history(run, history) -> tuple[np.ndarray, list[str], list[str], list[str]]:
    """(codes, known raw IDs, unknown IDs, dropped IDs) of a history the run will read: unknown IDs are skipped and
    reported, and like the model itself only the last `max_len` known items are kept (the older ones are dropped)."""
    if isinstance(history, (str, bytes)):
        history = [history]
    if history is None or len(history) == 0:
        raise SeqrecError("The history is empty; give at least one item (oldest first).")
    if _is_codes(history):
        codes = np.asarray(history, dtype=np.int64)
        if codes.min() < 1 or codes.max() > len(run.vocab):
            raise SeqrecError(f"Item codes must be between 1 and {len(run.vocab)} for this run (0 is padding); "
                              f"pass raw item IDs instead.")
        unknown: list[str] = []
    else:
        raw = [str(h) for h in history]
        codes, unknown = run.vocab.encode(raw)
        if len(codes) == 0:
            raise SeqrecError(f"None of the {len(raw)} history item(s) is known to this run (e.g. {unknown[0]!r}); "
                              f"use item IDs from the data the run was trained on.")
    known = run.vocab.decode(codes)
    max_len = run.config.max_len
    dropped = known[:-max_len] if len(known) > max_len else []
    return codes[-max_len:], known[-max_len:], unknown, dropped


def target_code(run, target) -> int:
    """The index code of a target given as a raw item ID or a code; an unknown target is one clear sentence."""
    if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        if not 1 <= int(target) <= len(run.vocab):
            raise SeqrecError(f"Item code {target} is not an item of this run (codes run from 1 to "
                              f"{len(run.vocab)}).")
        return int(target)
    codes, unknown = run.vocab.encode([str(target)])
    if unknown:
        raise SeqrecError(f"The item {str(target)!r} is not known to this run, so it cannot be explained; pick one of "
                          f"its recommendations or an item from the data it was trained on.")
    return int(codes[0])


def _mask(n_columns: int, codes: np.ndarray, target: int | None, exclude_seen: bool) -> torch.Tensor:
    """(n_columns,) bool: True for columns that are not candidates (padding; the seen items with exclude_seen)."""
    mask = torch.zeros(n_columns, dtype=torch.bool)
    mask[0] = True
    if exclude_seen:
        mask[torch.from_numpy(np.asarray(codes, dtype=np.int64))] = True
        if target is not None:
            mask[target] = False
    return mask


# ------------------------------------------------------------------------------------------------------------------
# The network, evaluated the way it scores
# ------------------------------------------------------------------------------------------------------------------

def _device(model) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def occlusion_logits(model, codes: np.ndarray) -> torch.Tensor:
    """(T + 1, n_items + 1) logits in ONE forward: row 0 for the whole history, row t + 1 for the history without
    item t. Removing the only item leaves an empty history, scored from the zero state (the learned prior)."""
    T = len(codes)
    rows = [np.asarray(codes, dtype=np.int64)] + [np.delete(codes, t) for t in range(T)]
    items, lengths = pad_batch(rows)
    model.eval()
    dev = _device(model)
    return model.score_last(torch.from_numpy(items).to(dev), torch.from_numpy(lengths).to(dev)).float().cpu()


def _logits_from_embeddings(model, x: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
    """The model's forward from (B, T, D) embeddings of the (B, T) items to the logits after the last step (eval
    mode: the dropout between layers is the identity, so this is exactly SeqRecModel.score_last)."""
    for cell in model.cells:
        x, _ = cell(x)
    lengths = torch.full((items.shape[0],), items.shape[1], dtype=torch.long, device=items.device)
    return model.scores(model.head(x[:, -1]), items, lengths)


def gradient_x_input(model, codes: np.ndarray, target: int, mask: torch.Tensor) -> np.ndarray:
    """(T,) gradient of the target's log-probability w.r.t. each history embedding, times that embedding, summed over
    the embedding dimensions. Only the embeddings get gradients: the run's weights are left untouched."""
    model.eval()
    dev = _device(model)
    with torch.enable_grad(), torch.backends.cudnn.flags(enabled=False):  # cuDNN RNNs cannot backprop in eval mode
        items = torch.as_tensor(codes, device=dev).view(1, -1)
        emb = model.embedding(items).detach().requires_grad_(True)
        logits = _logits_from_embeddings(model, emb, items)[0].float()
        logp = torch.log_softmax(logits.masked_fill(mask.to(dev), -math.inf), dim=0)[target]
        (grad,) = torch.autograd.grad(logp, emb)
    return (grad * emb).sum(dim=2)[0].detach().cpu().double().numpy()


# ------------------------------------------------------------------------------------------------------------------
# The explanation of one recommendation
# ------------------------------------------------------------------------------------------------------------------

@dataclass
class Influence:
    """How much each history item contributed to one target item. Arrays are per history step, oldest first."""

    run_name: str
    cell: str
    items: list[str]              # the history the model read, raw IDs, oldest first
    target: str                   # the explained item (raw ID)
    probability: float            # the target's probability after the whole history
    score: float                  # its raw score (logit)
    rank: float                   # its 1-based rank among the candidates
    probability_without: np.ndarray  # (T,) its probability with item t removed
    score_without: np.ndarray        # (T,) its score with item t removed
    rank_without: np.ndarray         # (T,) its rank with item t removed
    gradient: np.ndarray             # (T,) gradient x input of its log-probability
    unknown_items: list[str] = field(default_factory=list)
    dropped_items: list[str] = field(default_factory=list)
    exclude_seen: bool = False

    @property
    def n_steps(self) -> int:
        return len(self.items)

    @property
    def occlusion(self) -> np.ndarray:
        """(T,) probability lost when item t is removed: positive = the item supports the recommendation."""
        return self.probability - self.probability_without

    @property
    def log_change(self) -> np.ndarray:
        """(T,) log-probability lost when item t is removed (the relative change used for shares)."""
        with np.errstate(divide="ignore"):
            return np.log(self.probability) - np.log(np.maximum(self.probability_without, 1e-300))

    def effect(self, method: str = "occlusion") -> np.ndarray:
        """(T,) signed influence by 'occlusion' (log-probability lost on removal) or 'gradient' (gradient x input)."""
        if method == "occlusion":
            return self.log_change
        if method == "gradient":
            return self.gradient
        raise SeqrecError(f"Influence is measured by 'occlusion' or 'gradient' (got {method!r}).")

    def shares(self, method: str = "occlusion") -> np.ndarray:
        """(T,) each item's share of the total absolute influence (sums to 1; all zero when nothing matters)."""
        a = np.abs(self.effect(method))
        total = a.sum()
        return a / total if total > 0 else np.zeros_like(a)

    def older_half_share(self, method: str = "occlusion") -> float:
        """Share of the total absolute influence held by the older half of the history (the middle item of an odd
        history counts as recent): how far back the model's memory reaches for this recommendation."""
        return float(self.shares(method)[: self.n_steps // 2].sum())

    def reach(self, method: str = "occlusion") -> int:
        """How many steps back the influence reaches: the distance from the end (1 = the latest item) of the oldest
        item whose absolute influence is at least REACH_FRACTION of the largest one (0 when nothing matters)."""
        a = np.abs(self.effect(method))
        if a.size == 0 or a.max() <= 0:
            return 0
        strong = np.flatnonzero(a >= REACH_FRACTION * a.max())
        return int(self.n_steps - strong[0])

    def ranking(self, method: str = "occlusion") -> np.ndarray:
        """Step indices from the most supportive item to the most opposing one (ties: more recent first)."""
        e = self.effect(method)
        order = np.lexsort((-np.arange(len(e)), -e))
        return order


def explain(run, history, target=None, exclude_seen: bool = False, with_gradient: bool = True) -> Influence:
    """Explain why `run` gives `target` (a raw item ID or code; default: its top recommendation) after `history`
    (raw item IDs or index codes, oldest first), by batched occlusion and by gradient x input (left NaN with
    with_gradient=False, for averages that only need the removal test)."""
    codes, known, unknown, dropped = encode_history(run, history)
    model = run.model
    logits = occlusion_logits(model, codes)
    n_cols = logits.shape[1]
    if target is None:
        top = logits[0].masked_fill(_mask(n_cols, codes, None, exclude_seen), -math.inf)
        if not torch.isfinite(top).any():
            raise SeqrecError("Every item is already in this history, so with 'exclude items already seen' there is "
                              "nothing left to recommend; turn that option off or shorten the history.")
        tgt = int(torch.argmax(top))
    else:
        tgt = target_code(run, target)
    mask = _mask(n_cols, codes, tgt, exclude_seen)
    masked = logits.masked_fill(mask, -math.inf)
    probs = torch.softmax(masked.double(), dim=1)[:, tgt].numpy()
    ranks = target_ranks(masked, torch.full((len(masked),), tgt, dtype=torch.int64)).numpy()
    scores = logits[:, tgt].double().numpy()
    grads = gradient_x_input(model, codes, tgt, mask) if with_gradient else np.full(len(codes), np.nan)
    return Influence(run_name=getattr(run, "name", ""), cell=run.config.model, items=known,
                     target=run.vocab.decode([tgt])[0], probability=float(probs[0]), score=float(scores[0]),
                     rank=float(ranks[0]), probability_without=probs[1:], score_without=scores[1:],
                     rank_without=ranks[1:], gradient=grads,
                     unknown_items=unknown, dropped_items=dropped, exclude_seen=exclude_seen)


def influence_table(inf: Influence, label: Label = str) -> list[dict]:
    """One row per history step for a table or a download: the item, and what removing it does to the target."""
    return [{"Step": t + 1, "Item": label(item), "Item ID": item,
             "Probability without it": float(inf.probability_without[t]),
             "Change (points)": round(100 * float(inf.occlusion[t]), 3),
             "Rank without it": inf.rank_without[t], "Gradient x input": float(inf.gradient[t])}
            for t, item in enumerate(inf.items)]


# ------------------------------------------------------------------------------------------------------------------
# The same explanation across runs (RNN vs LSTM vs GRU)
# ------------------------------------------------------------------------------------------------------------------

def shared_items(runs: Sequence, history: Sequence[str]) -> list[str]:
    """The items of `history` (raw IDs) that every run knows, in order, so the runs explain the same history."""
    known = [set(map(str, r.vocab.ids)) for r in runs]
    return [str(h) for h in history if all(str(h) in k for k in known)]


def explain_runs(runs: Sequence, history: Sequence[str], target: str | None = None,
                 exclude_seen: bool = False) -> list[Influence]:
    """One Influence per run over the items of `history` that every run knows. With no target, each run explains
    its own top recommendation; with one (a raw ID every run knows), all explain the same item."""
    if not runs:
        raise SeqrecError("There is no run to compare; train at least one.")
    common = shared_items(runs, history)
    if not common:
        raise SeqrecError("The runs share no item of this history; pick another user or other items.")
    return [explain(r, common, target, exclude_seen) for r in runs]


def memory_table(influences: Sequence[Influence]) -> list[dict]:
    """Per run: how far back the influence reaches, by both methods (rows for a table)."""
    return [{"Run": inf.run_name, "Model": inf.cell.upper(), "Explained item": inf.target,
             "Probability": inf.probability, "Older half (removal)": inf.older_half_share("occlusion"),
             "Older half (gradient)": inf.older_half_share("gradient"), "Reaches back (items)": inf.reach()}
            for inf in influences]


def average_profile(run, histories: Sequence, exclude_seen: bool = False, last: int = 20) -> np.ndarray:
    """(last,) mean share of the occlusion influence by distance from the end (index 0 = the latest item), over
    many histories, each explaining the run's own top recommendation: the run's typical memory span. Histories
    shorter than `last` contribute to the distances they have (the mean is over the histories that reach it)."""
    total, count = np.zeros(last), np.zeros(last)
    for h in histories:
        try:
            inf = explain(run, h, None, exclude_seen, with_gradient=False)
        except SeqrecError:  # nothing left to recommend (exclude_seen), or no item the run knows: skip that one
            continue
        s = inf.shares("occlusion")[::-1][:last]
        total[: len(s)] += s
        count[: len(s)] += 1
    with np.errstate(invalid="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def profile_sentence(profiles: dict[str, np.ndarray], recent: int = 3) -> str:
    """How much of each run's influence sits on the latest `recent` items on average: the bigger that share, the
    shorter the model's memory."""
    if not profiles:
        return ""
    held = {name: float(np.nansum(np.asarray(p, dtype=float)[:recent])) for name, p in profiles.items()
            if np.isfinite(np.asarray(p, dtype=float)).any()}  # all NaN: no sampled history could be explained
    if not held:
        return ("None of the sampled users' histories leaves an item to recommend (with 'exclude items already "
                "seen', their histories hold every item), so there is no average to show.")
    parts = [f"{share:.0%} for {name}" for name, share in sorted(held.items(), key=lambda kv: -kv[1])]
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return (f"On average the latest {recent} items hold {listed} of the influence; the smaller that share, the "
            f"further back the model looks.")


# ------------------------------------------------------------------------------------------------------------------
# Plain-language sentences
# ------------------------------------------------------------------------------------------------------------------

def _names(items: Sequence[str], label: Label) -> str:
    quoted = [f"“{label(i)}”" for i in items]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def _pct(p: float) -> str:
    return f"{100 * p:.1f}%" if p >= 0.001 else "under 0.1%"


def main_reasons(inf: Influence, max_items: int = 3) -> list[int]:
    """Steps that clearly support the recommendation: the strongest positive removal effects holding at least
    MAIN_SHARE of the positive influence (always the strongest one when it is not negligible), at most max_items."""
    e = inf.log_change
    pos = np.clip(e, 0, None)
    if pos.max(initial=0) < NEGLIGIBLE_LOGP:
        return []
    order = [int(t) for t in inf.ranking("occlusion") if e[t] > 0]
    share = pos / pos.sum()
    picked = [t for t in order if share[t] >= MAIN_SHARE and e[t] >= NEGLIGIBLE_LOGP][:max_items]
    return picked or order[:1]


def influence_sentence(inf: Influence, label: Label = str) -> str:
    """One or two plain sentences: which items the recommendation rests on, and how much the early items matter
    to this kind of network. Item names come from `label` and are quoted, never formatted."""
    model = inf.cell.upper()
    target = f"“{label(inf.target)}”"
    reasons = main_reasons(inf)
    if reasons:
        strongest = reasons[0]
        first = (f"{target} is recommended mostly because of {_names([inf.items[t] for t in reasons], label)}: "
                 f"without {'it' if len(reasons) == 1 else f'“{label(inf.items[strongest])}”'} its probability "
                 f"would drop from {_pct(inf.probability)} to {_pct(inf.probability_without[strongest])}.")
    else:
        first = (f"No single item drives {target}: removing any one of them changes its probability "
                 f"({_pct(inf.probability)}) by less than 5% of itself; the {model} recommends it from the history "
                 f"as a whole, or because it is simply a likely item.")
    against = int(np.argmin(inf.log_change)) if inf.n_steps else -1
    if against >= 0 and inf.log_change[against] <= -NEGLIGIBLE_LOGP:
        first += (f" “{label(inf.items[against])}” pulls the other way (without it the probability would rise to "
                  f"{_pct(inf.probability_without[against])}).")
    if inf.n_steps < 4:
        return first
    early = inf.older_half_share("occlusion")
    if early < EARLY_LITTLE:
        second = f"The early items barely matter to the {model} (the older half holds {early:.0%} of the influence)."
    elif early > EARLY_LOT:
        second = (f"The {model} still draws on the early items: the older half of the history holds {early:.0%} of "
                  f"the influence.")
    else:
        second = f"The older half of the history holds {early:.0%} of the influence; the recent items weigh more."
    return f"{first} {second}"


def agreement_sentence(inf: Influence, label: Label = str) -> str:
    """Do the two methods point at the same item? Removal is what really happens; the gradient is a local guess."""
    if inf.n_steps < 2:
        return "With a single item in the history, both methods can only point at that item."
    by_removal = int(inf.ranking("occlusion")[0])
    by_gradient = int(inf.ranking("gradient")[0])
    if by_removal == by_gradient:
        return f"Both methods agree: “{label(inf.items[by_removal])}” matters most."
    top3 = set(int(t) for t in inf.ranking("gradient")[:3])
    close = " (it is among the gradient's top three)" if by_removal in top3 else ""
    return (f"The two methods disagree: removing “{label(inf.items[by_removal])}” changes the most{close}, while "
            f"the gradient points at “{label(inf.items[by_gradient])}”. Trust the removal test: it is what "
            f"actually happens; the gradient is a quick local estimate.")


def compare_sentence(influences: Sequence[Influence]) -> str:
    """Which run's influence reaches furthest back into the history (by the older half's share of it)."""
    if not influences:
        return ""
    if len(influences) == 1 or influences[0].n_steps < 4:
        inf = influences[0]
        return (f"{inf.run_name} ({inf.cell.upper()}): {inf.older_half_share():.0%} of the influence comes from the "
                f"older half of the history.")
    ranked = sorted(influences, key=lambda i: -i.older_half_share())
    best, rest = ranked[0], ranked[1:]
    parts = [f"{i.older_half_share():.0%} for {i.run_name} ({i.cell.upper()})" for i in rest]
    others = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return (f"{best.run_name} ({best.cell.upper()}) remembers furthest back: {best.older_half_share():.0%} of its "
            f"influence comes from the older half of the history, against {others}.")
