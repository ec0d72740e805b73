"""A trained run (config, vocabulary, weights, metrics, curves): training it end to end, saving, loading, recommending.

A saved run is a folder of plain data: config.json, vocab.json, run.json and weights.safetensors. Loading never
executes code from the files, and anything tampered with is refused with a clear message.
"""
from __future__ import annotations

import datetime as _dt
import json
import math
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from . import __version__
from .config import TrainConfig
from .data import Interactions
from .errors import SeqrecError
from .model import SeqRecModel
from .split import ItemVocab, SplitData, leave_last_out
from .train import Callback, build_model, evaluate_baselines, evaluate_model, model_scorer, pick_device, train

FILES = ("config.json", "vocab.json", "run.json", "weights.safetensors")


@dataclass
class Run:
    name: str
    config: TrainConfig
    vocab: ItemVocab
    model: SeqRecModel
    metrics: dict
    baselines: dict = field(default_factory=dict)
    valid_metrics: dict = field(default_factory=dict)
    dataset: dict = field(default_factory=dict)
    batch_losses: list = field(default_factory=list)
    epochs: list = field(default_factory=list)
    epochs_run: int = 0
    best_epoch: int = 0
    train_seconds: float = 0.0
    sequences_per_second: float = 0.0
    stopped_by_user: bool = False
    created: str = ""
    stop_reason: str = ""

    @property
    def parameter_count(self) -> int:
        return self.model.parameter_count()

    def summary(self) -> dict:
        """The JSON the CLI prints after training (metrics on the TEST targets)."""
        return {
            "model": self.config.model,
            "name": self.name,
            "config": self.config.to_dict(),
            "dataset": self.dataset,
            "metrics": self.metrics,
            "baselines": self.baselines,
            "valid_metrics": self.valid_metrics,
            "epochs_run": self.epochs_run,
            "best_epoch": self.best_epoch,
            "train_seconds": round(self.train_seconds, 3),
            "sequences_per_second": round(self.sequences_per_second, 1),
            "parameters": self.parameter_count,
            "stopped_by_user": self.stopped_by_user,
            "stop_reason": self.stop_reason,
        }

    # -- scoring ------------------------------------------------------------------------------------------------
    def score_histories(self, histories: list[np.ndarray]) -> torch.Tensor:
        """(B, n_items + 1) logits for the next item after each index history (column 0 is padding)."""
        self.model.eval()
        device = next(self.model.parameters()).device
        return model_scorer(self.model, self.config.max_len, device)(histories).cpu()

    def recommend(self, history: Sequence[str], k: int = 10, exclude_seen: bool = False) -> dict:
        """Top-k next items (raw IDs, probabilities) for a history of raw item IDs; unknown IDs are reported."""
        return recommend_from_scores(self.vocab, self.score_histories, history, k, exclude_seen)


def history_scores(score_batch, codes: np.ndarray, exclude_seen: bool = False) -> torch.Tensor:
    """(n_items + 1,) float32 scores for the item after one index history; the padding column (and, with
    exclude_seen, the history's own items) set to -inf."""
    scores = score_batch([codes])[0].to(torch.float32).clone()
    scores[0] = -math.inf
    if exclude_seen and len(codes):
        scores[torch.from_numpy(np.asarray(codes, dtype=np.int64))] = -math.inf
    return scores


def recommend_from_scores(vocab: ItemVocab, score_batch, history: Sequence[str], k: int = 10,
                          exclude_seen: bool = False) -> dict:
    """Shared by runs and baselines: encode the history, score, mask, softmax, take the top k."""
    codes, unknown = vocab.encode([str(h) for h in history])
    return top_k_items(vocab, history_scores(score_batch, codes, exclude_seen), k, unknown)


def top_k_items(vocab: ItemVocab, scores: torch.Tensor, k: int, unknown: Sequence[str] = ()) -> dict:
    """The k best items (raw IDs, softmax probabilities) of one masked score vector from `history_scores`."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise SeqrecError(f"k must be a whole number of at least 1 (got {k!r}).")
    probs = torch.softmax(scores, dim=0)
    k = min(int(k), int(torch.isfinite(scores).sum()))
    vals, idx = probs.topk(k) if k > 0 else (torch.zeros(0), torch.zeros(0, dtype=torch.int64))
    return {"recommendations": [{"item": vocab.decode([i])[0], "score": round(float(v), 6)} for v, i in zip(vals, idx)],
            "unknown_items": list(unknown)}


def dataset_summary(data: Interactions) -> dict:
    return {"users": data.n_users, "items": data.n_items, "interactions": len(data)}


def train_run(data: Interactions | SplitData, config: TrainConfig, callbacks: Sequence[Callback] = (),
              stop_event: threading.Event | None = None, name: str | None = None, baselines: dict | None = None,
              device: str | None = None, dataset: dict | None = None) -> Run:
    """Split, train, evaluate on the test targets, and compute the baselines (unless given) with the same code."""
    config.validate()
    split = data if isinstance(data, SplitData) else leave_last_out(data)
    if dataset is None:
        dataset = dataset_summary(data) if isinstance(data, Interactions) else \
            {"users": len(split.users), "items": split.n_items,
             "interactions": int(sum(len(t) for t in split.train) + 2 * len(split.users))}
    result = train(split, config, callbacks, stop_event, device)
    test = evaluate_model(result.model, split, "test", config)
    if baselines is None:
        baselines = evaluate_baselines(split, config.ks, config.exclude_seen)
    return Run(name=name or default_run_name(config), config=config, vocab=split.vocab, model=result.model,
               metrics=test, baselines=baselines, valid_metrics=result.best_valid, dataset=dataset,
               batch_losses=result.batch_losses, epochs=result.epochs, epochs_run=result.epochs_run,
               best_epoch=result.best_epoch, train_seconds=result.train_seconds,
               sequences_per_second=result.sequences_per_second, stopped_by_user=result.stopped_by_user,
               stop_reason=result.stop_reason,
               created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))


def default_run_name(config: TrainConfig) -> str:
    return f"{config.model.upper()} h{config.hidden_size} x{config.layers}"


# ------------------------------------------------------------------------------------------------------------------
# Save / load
# ------------------------------------------------------------------------------------------------------------------

def save_run(run: Run, folder: str | Path) -> Path:
    from safetensors.torch import save_file

    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.json").write_text(json.dumps(run.config.to_dict(), indent=2))
        (folder / "vocab.json").write_text(json.dumps([str(i) for i in run.vocab.ids]))
        meta = {k: v for k, v in run.summary().items() if k not in ("config", "model", "parameters")}
        meta.update(format="seqrec-run", version=__version__, batch_losses=run.batch_losses, epochs=run.epochs,
                    created=run.created)
        (folder / "run.json").write_text(json.dumps(meta, indent=1))
        state = {k: v.detach().cpu().contiguous() for k, v in run.model.state_dict().items()}
        save_file(state, str(folder / "weights.safetensors"))
    except OSError as e:
        raise SeqrecError(f"Could not save the run to {folder}: {e.strerror or e}. Choose a writable folder.") from None
    return folder


def _read_json(folder: Path, name: str):
    try:
        return json.loads((folder / name).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError):
        raise SeqrecError(f"{folder / name} is damaged or was edited (it is not valid JSON); use the original saved "
                          f"run or train again.") from None


def load_run(folder: str | Path, device: str | None = None) -> Run:
    """Rebuild a run from its folder. Only JSON and safetensors (plain tensors) are read: no code is executed."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    if not folder.is_dir():
        raise SeqrecError(f"{folder} is not a saved run folder; pass the folder given to --save when training.")
    missing = [f for f in FILES if not (folder / f).is_file()]
    if missing:
        raise SeqrecError(f"{folder} is not a complete saved run (missing {', '.join(missing)}); pass the folder "
                          f"given to --save when training, or train again.")
    cfg_dict = _read_json(folder, "config.json")
    ids = _read_json(folder, "vocab.json")
    meta = _read_json(folder, "run.json")
    if not isinstance(cfg_dict, dict) or not isinstance(meta, dict):
        raise SeqrecError(f"The files in {folder} were edited or damaged (config.json and run.json must hold JSON "
                          f"objects); train again.")
    try:
        config = TrainConfig.from_dict(cfg_dict)
    except (TypeError, SeqrecError) as e:
        raise SeqrecError(f"The saved config in {folder} is invalid ({e}); train again.") from None
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids) or len(set(ids)) != len(ids):
        raise SeqrecError(f"{folder / 'vocab.json'} is damaged (it must be a list of distinct item IDs); train again.")
    try:
        state = load_file(str(folder / "weights.safetensors"))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise SeqrecError(f"{folder / 'weights.safetensors'} is damaged or not a safetensors file ({e}); train "
                          f"again.") from None
    model = build_model(len(ids), config)
    expected = model.state_dict()
    bad = sorted(set(expected) ^ set(state)) + sorted(k for k in expected if k in state and
                                                       tuple(state[k].shape) != tuple(expected[k].shape))
    if bad:
        raise SeqrecError(f"The weights in {folder} do not match its config and vocabulary (problem with "
                          f"{', '.join(bad[:3])}); the files were mixed up or edited. Train again.")
    if any(not torch.isfinite(v).all() for v in state.values() if v.is_floating_point()):
        raise SeqrecError(f"The weights in {folder} contain NaN or infinite values; train again.")
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})
    model.to(pick_device(device)).eval()
    try:
        return Run(name=str(meta.get("name", folder.name)), config=config, vocab=ItemVocab(ids), model=model,
                   metrics=meta.get("metrics", {}), baselines=meta.get("baselines", {}),
                   valid_metrics=meta.get("valid_metrics", {}), dataset=meta.get("dataset", {}),
                   batch_losses=meta.get("batch_losses", []), epochs=meta.get("epochs", []),
                   epochs_run=int(meta.get("epochs_run", 0)), best_epoch=int(meta.get("best_epoch", 0)),
                   train_seconds=float(meta.get("train_seconds", 0.0)),
                   sequences_per_second=float(meta.get("sequences_per_second", 0.0)),
                   stopped_by_user=bool(meta.get("stopped_by_user", False)), created=str(meta.get("created", "")),
                   stop_reason=str(meta.get("stop_reason", "")))
    except (TypeError, ValueError, OverflowError):  # e.g. "epochs_run": "two" typed into run.json
        raise SeqrecError(f"{folder / 'run.json'} was edited or damaged (a number field holds something else); use "
                          f"the original saved run or train again.") from None
