"""What the model learned: its item embeddings as a 2D map, the user's path through its hidden-state space, and each
item's nearest neighbours beside what actually follows it in the data.

* Item map: every item's learned vector (a row of the input embedding, or of the output layer, which scores the
  item as a next item) projected to 2D with scikit-learn's PCA (fast, faithful to the large distances) or t-SNE
  (keeps neighbourhoods, for up to 5,000 items). Both are seeded, so the same run gives the same map; the caller
  caches the result per run (a t-SNE takes seconds).
* Interest trajectory: the top layer's hidden state after every step of one history, projected by a PCA fitted on
  the states of a few hundred users, so the axes are the directions in which users' states differ most.
* Similar items: cosine similarity between item vectors, beside the transition counts of the training sequences
  (what users actually picked right after the item).

Nothing here draws: functions return numpy arrays or DataFrames; studio.figures.why turns them into figures.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from seqrec.data.split import pad_batch
from seqrec.errors import SeqrecError
from seqrec.inspect.influence import encode_history
from seqrec.model.baselines import ItemTransitions

TSNE_MAX_ITEMS = 5000
METHODS = ("pca", "tsne")
VECTORS = ("input", "output")

Label = Callable[[str], str]


# ------------------------------------------------------------------------------------------------------------------
# Item vectors and the 2D map
# ------------------------------------------------------------------------------------------------------------------

def item_vectors(run, which: str = "input") -> np.ndarray:
    """(n_items, D) float64 item vectors in vocabulary order (row i = item code i + 1; the padding row is left out).

    'input': the embedding the network reads items with; 'output': the output layer's weights, i.e. how the final
    hidden state scores each item as the next one."""
    if which not in VECTORS:
        raise SeqrecError(f"Item vectors are 'input' (embeddings) or 'output' (output layer), not {which!r}.")
    weight = run.model.embedding.weight if which == "input" else run.model.output.weight
    return weight[1:].detach().cpu().double().numpy()


def _pad_columns(xy: np.ndarray) -> np.ndarray:
    """Always two columns (a 1-dimensional projection gets a zero y), so figures need no special case."""
    return xy if xy.shape[1] >= 2 else np.hstack([xy, np.zeros((len(xy), 2 - xy.shape[1]))])


def project(vectors: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """(N, 2) coordinates of N vectors by seeded PCA or t-SNE (cosine distance, PCA start)."""
    # scikit-learn is heavy (~1 s to import) and only the maps need it: loaded on the first projection
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE  # lazy too, for the same reason

    n = len(vectors)
    if method not in METHODS:
        raise SeqrecError(f"The map can be drawn with 'pca' or 'tsne', not {method!r}.")
    if n < 3:
        raise SeqrecError(f"A map needs at least 3 items; this run knows {n}.")
    if method == "pca":
        k = min(2, n, vectors.shape[1])
        return _pad_columns(PCA(n_components=k, random_state=seed).fit_transform(vectors))
    if n > TSNE_MAX_ITEMS:
        raise SeqrecError(f"t-SNE is offered for up to {TSNE_MAX_ITEMS:,} items (this run has {n:,}, which would take "
                          f"minutes); use the PCA map instead.")
    if vectors.shape[1] < 2:
        return project(vectors, "pca", seed)
    perplexity = float(min(30.0, max(1.0, (n - 1) / 3)))
    return TSNE(n_components=2, perplexity=perplexity, init="pca", metric="cosine", random_state=seed,
                max_iter=500).fit_transform(vectors)


def item_popularity(split) -> np.ndarray:
    """(n_items,) how often each item occurs in the data (training parts plus the two held-out items per user), in
    vocabulary order."""
    counts = np.zeros(split.n_items + 1, dtype=np.int64)
    for seq in split.train:
        counts += np.bincount(seq, minlength=split.n_items + 1)
    counts += np.bincount(split.valid_target, minlength=split.n_items + 1)
    counts += np.bincount(split.test_target, minlength=split.n_items + 1)
    return counts[1:]


def item_map(run, method: str = "pca", which: str = "input", seed: int = 0,
             popularity: np.ndarray | None = None) -> pd.DataFrame:
    """One row per item of the run: item (raw ID), x, y, popularity (count in the data when given, else the
    inverse of its popularity rank). Compute once per (run, method, which) and cache it: t-SNE takes seconds."""
    ids = [str(i) for i in run.vocab.ids]
    xy = project(item_vectors(run, which), method, seed)
    if popularity is None:
        pop = 1.0 / np.arange(1, len(ids) + 1)  # the vocabulary is ordered most popular first
    else:
        pop = np.asarray(popularity, dtype=float)
        if len(pop) != len(ids):
            raise SeqrecError(f"The popularity counts cover {len(pop)} items but the run knows {len(ids)}; the run was "
                              f"trained on other data.")
    return pd.DataFrame({"item": ids, "x": xy[:, 0], "y": xy[:, 1], "popularity": pop})


def popularity_for_run(run, split) -> np.ndarray | None:
    """The split's item counts in the run's vocabulary order (None when the run knows items the data lacks)."""
    counts = dict(zip((str(i) for i in split.vocab.ids), item_popularity(split)))
    out = [counts.get(str(i)) for i in run.vocab.ids]
    return None if any(c is None for c in out) else np.asarray(out, dtype=float)


# ------------------------------------------------------------------------------------------------------------------
# Interest trajectory
# ------------------------------------------------------------------------------------------------------------------

@torch.no_grad()
def hidden_path(run, history) -> tuple[list[str], np.ndarray]:
    """(items read, (T, H) top-layer hidden state after each of them) for one history (raw IDs or codes)."""
    codes, known, _, _ = encode_history(run, history)
    model = run.model
    model.eval()
    dev = next(model.parameters()).device
    h = model.hidden_states(torch.as_tensor(codes, device=dev).view(1, -1))[0]
    return known, h.detach().cpu().double().numpy()


@torch.no_grad()
def hidden_states_of(run, histories: Sequence, batch_size: int = 256) -> np.ndarray:
    """(sum of lengths, H) every hidden state of many histories (raw IDs or codes), padding positions left out."""
    model = run.model
    model.eval()
    dev = next(model.parameters()).device
    encoded = []
    for h in histories:
        try:
            encoded.append(encode_history(run, h)[0])
        except SeqrecError:  # a history the run knows nothing of simply contributes no states
            continue
    out = []
    for start in range(0, len(encoded), batch_size):
        items, lengths = pad_batch(encoded[start:start + batch_size])
        h = model.hidden_states(torch.from_numpy(items).to(dev)).cpu().double().numpy()
        keep = np.arange(items.shape[1])[None, :] < lengths[:, None]
        out.append(h[keep])
    if not out:
        raise SeqrecError("None of the sampled histories is known to this run; the run was trained on other data.")
    return np.concatenate(out)


@dataclass
class StateSpace:
    """A 2D PCA of many users' hidden states: `project` places any state in it; `background` is a sample of the
    fitted states (to draw where users usually are)."""

    mean: np.ndarray        # (H,)
    components: np.ndarray  # (2, H)
    explained: np.ndarray   # (2,) share of the variance each axis explains
    background: np.ndarray  # (M, 2) projected sample of the fitted states
    n_users: int

    def project(self, states: np.ndarray) -> np.ndarray:
        return (np.asarray(states, dtype=np.float64) - self.mean) @ self.components.T


def sample_histories(split, n_users: int = 300, seed: int = 0) -> list[list[str]]:
    """Up to n_users users' full sequences (raw IDs), drawn with a fixed seed, for fitting the state space."""
    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(len(split.users), size=min(n_users, len(split.users)), replace=False))
    return [split.vocab.decode(split.full_sequence(int(u))) for u in picked]


def fit_state_space(run, histories: Sequence, seed: int = 0, max_background: int = 2000) -> StateSpace:
    """PCA (2 axes) of every hidden state the run produces over `histories` (a few hundred users is plenty).
    Compute once per run and cache it."""
    from sklearn.decomposition import PCA  # heavy and only needed here: loaded on the first fit (see project)

    states = hidden_states_of(run, histories)
    if len(states) < 3:
        raise SeqrecError("Too few hidden states to fit the map of interests; sample more users.")
    pca = PCA(n_components=min(2, states.shape[1]), random_state=seed).fit(states)
    comps = pca.components_
    explained = pca.explained_variance_ratio_
    if comps.shape[0] < 2:
        comps = np.vstack([comps, np.zeros_like(comps)])
        explained = np.append(explained, 0.0)
    rng = np.random.default_rng(seed)
    sample = states if len(states) <= max_background else states[rng.choice(len(states), max_background,
                                                                             replace=False)]
    space = StateSpace(mean=pca.mean_, components=comps, explained=explained, background=np.zeros((0, 2)),
                       n_users=len(histories))
    space.background = space.project(sample)
    return space


def trajectory(run, history, space: StateSpace) -> pd.DataFrame:
    """One row per step of the history: step (1-based), item (raw ID), x, y of the state after reading it."""
    items, states = hidden_path(run, history)
    xy = space.project(states)
    return pd.DataFrame({"step": np.arange(1, len(items) + 1), "item": items, "x": xy[:, 0], "y": xy[:, 1]})


def drift(path: pd.DataFrame) -> np.ndarray:
    """(T,) distance each step moved the projected state (the first step from the first point itself: 0)."""
    xy = path[["x", "y"]].to_numpy()
    return np.r_[0.0, np.linalg.norm(np.diff(xy, axis=0), axis=1)] if len(xy) else np.zeros(0)


# ------------------------------------------------------------------------------------------------------------------
# Similar items
# ------------------------------------------------------------------------------------------------------------------

def nearest_items(run, item: str, k: int = 10, which: str = "input") -> pd.DataFrame:
    """The k items whose vectors point most nearly the same way as `item`'s (cosine similarity), most similar first;
    the item itself is never listed. Ties keep the vocabulary's popularity order."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise SeqrecError(f"The number of neighbours must be a whole number of at least 1 (got {k!r}).")
    codes, unknown = run.vocab.encode([str(item)])
    if unknown:
        raise SeqrecError(f"The item {str(item)!r} is not known to this run; pick an item from the data it was "
                          f"trained on.")
    vectors = item_vectors(run, which)
    norms = np.linalg.norm(vectors, axis=1)
    unit = vectors / np.where(norms > 0, norms, 1.0)[:, None]
    row = int(codes[0]) - 1
    sims = unit @ unit[row]
    sims[row] = -np.inf
    order = np.argsort(-sims, kind="stable")[: min(int(k), len(sims) - 1)]
    return pd.DataFrame({"item": [str(run.vocab.ids[i]) for i in order], "similarity": sims[order]})


def next_items(transitions, vocab, item: str, k: int = 10) -> pd.DataFrame:
    """The items most often picked right after `item` in the training sequences, with counts and shares, most
    frequent first (ties: more popular first). `transitions` is a fitted baselines.ItemTransitions over `vocab`'s
    codes (the app's dataset keeps one fitted)."""
    codes, unknown = vocab.encode([str(item)])
    if unknown:
        return pd.DataFrame({"item": [], "count": [], "share": []})
    c = int(codes[0])
    start, end = transitions.row_starts_[c], transitions.row_starts_[c + 1]
    nxt, counts = transitions.next_items_[start:end], transitions.next_counts_[start:end].astype(np.int64)
    order = np.lexsort((nxt, -counts))[: int(k)]  # codes are in popularity order, so a lower code is more popular
    total = counts.sum()
    return pd.DataFrame({"item": vocab.decode(nxt[order]), "count": counts[order],
                         "share": counts[order] / total if total else counts[order] * 0.0})


def fit_transitions(split):
    """Transition counts of the split's training sequences (what ItemTransitions recommends from)."""
    return ItemTransitions().fit(split.train, split.n_items)


def overlap_sentence(neighbours: pd.DataFrame, followers: pd.DataFrame, item: str, label: Label = str) -> str:
    """How many of the model's nearest neighbours are also among the items that really follow `item`."""
    name = f"“{label(item)}”"
    if followers.empty:
        return (f"Nobody picked anything right after {name} in the training data, so only the model's neighbours "
                f"can be shown.")
    both = [i for i in neighbours["item"] if i in set(followers["item"])]
    if not both:
        return (f"None of the model's {len(neighbours)} nearest neighbours of {name} is among the items most often "
                f"picked right after it: the model groups items by more than what directly follows (for example "
                f"items bought in the same project, a few steps apart).")
    verb = "is" if len(both) == 1 else "are"
    return (f"{len(both)} of the model's {len(neighbours)} nearest neighbours of {name} {verb} also among the "
            f"{len(followers)} items most often picked right after it (e.g. “{label(both[0])}”): the model has "
            f"learned from the data which items go together.")
