"""A trained run (config, vocabulary, weights, metrics, curves): training it end to end, saving, loading, recommending.

A saved run is a folder of plain data: config.json, vocab.json, run.json (with `format_version`) and
weights.safetensors. Loading never executes code from the files (JSON and safetensors only; a pickle is recognised
and refused unopened), and anything tampered with is refused with a clear message. Saving is atomic: the files are
written into a hidden temporary sibling folder that is renamed into place once complete.
"""
from __future__ import annotations

import datetime as _dt
import glob
import json
import math
import os
import secrets
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from seqrec import __version__
from seqrec.config import TrainConfig
from seqrec.data.prepare import Interactions
from seqrec.errors import SeqrecError
from seqrec.training.budget import check_training_memory
from seqrec.model.recurrent import SeqRecModel
from seqrec.data.split import ItemVocab, SplitData, leave_last_out
from seqrec.training.loop import Callback, build_model, evaluate_baselines, evaluate_model, model_scorer, pick_device, train

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
    check_training_memory(split, config)  # before any tensor: an over-budget config is refused, not crashed into
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

FORMAT = "seqrec-run"
FORMAT_VERSION = 1  # the layout of a saved run folder; raise it when the files change meaning
SAVING_MARK, OLD_MARK = ".saving-", ".replaced-"  # hidden siblings of a run folder while it is written or replaced
PICKLE_MAGIC = (b"\x80", b"PK\x03\x04")  # pickle protocol 2+, and torch.save's zip archive (pickles inside)


def _write_bytes(path: Path, data: bytes) -> None:
    """Write and fsync, so a file the rename publishes is really on disk."""
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _write_weights(run: Run, path: Path) -> None:
    """The weights as safetensors: plain tensors and a JSON header, nothing that can execute when read."""
    from safetensors.torch import save

    _write_bytes(path, save({k: v.detach().cpu().contiguous() for k, v in run.model.state_dict().items()}))


def _write_run_files(run: Run, folder: Path) -> None:
    _write_bytes(folder / "config.json", json.dumps(run.config.to_dict(), indent=2).encode())
    _write_bytes(folder / "vocab.json", json.dumps([str(i) for i in run.vocab.ids]).encode())
    meta = {k: v for k, v in run.summary().items() if k not in ("config", "model", "parameters")}
    meta.update(format=FORMAT, format_version=FORMAT_VERSION, version=__version__, batch_losses=run.batch_losses,
                epochs=run.epochs, created=run.created)
    _write_bytes(folder / "run.json", json.dumps(meta, indent=1).encode())
    _write_weights(run, folder / "weights.safetensors")  # last: a folder without weights is never complete


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # e.g. Windows cannot open folders; the rename is still atomic there
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _sibling_name(folder: Path, mark: str) -> Path:
    """A hidden sibling that names the process writing it: `.NAME.saving-PID-RANDOM`."""
    return folder.parent / f".{folder.name}{mark}{os.getpid()}-{secrets.token_hex(4)}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _siblings(folder: Path, mark: str) -> list[Path]:
    """Hidden siblings left by saves of processes that are gone (a live process's save is never touched)."""
    prefix = f".{folder.name}{mark}"
    try:
        found = sorted(folder.parent.glob(f"{glob.escape(prefix)}*"))
    except OSError:
        return []
    out = []
    for path in found:
        pid = path.name[len(prefix):].split("-", 1)[0]
        if not (pid.isdigit() and _pid_alive(int(pid))):
            out.append(path)
    return out


def _is_replaceable(folder: Path) -> bool:
    """Only an empty folder or a previous saved run may be replaced: never a folder holding anything else."""
    try:
        names = {p.name for p in folder.iterdir()}
    except OSError:
        return False
    return not names or ("run.json" in names and names <= set(FILES))


def recover_interrupted_save(folder: str | Path) -> None:
    """Finish what a save killed midway left: a half-written temporary folder is deleted; a previous run moved
    aside for replacement is moved back when the new one never arrived (else deleted)."""
    folder = Path(folder)
    for tmp in _siblings(folder, SAVING_MARK):
        shutil.rmtree(tmp, ignore_errors=True)
    for old in _siblings(folder, OLD_MARK):
        if not folder.exists():
            try:
                os.rename(old, folder)
                continue
            except OSError:
                pass
        shutil.rmtree(old, ignore_errors=True)


def save_run(run: Run, folder: str | Path) -> Path:
    """Write the run to `folder` atomically: every file goes into a hidden temporary sibling, which is renamed into
    place only once complete, so a save that dies midway leaves the previous run at `folder` (if any) intact and
    never a half-written one. An existing `folder` is replaced only if it is empty or a previous saved run."""
    folder = Path(folder)
    tmp = None
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        recover_interrupted_save(folder)
        if folder.exists() and not (folder.is_dir() and _is_replaceable(folder)):
            raise SeqrecError(f"Could not save the run to {folder}: it already exists and is not a saved run, so "
                              f"it was left untouched. Choose a new or empty folder.")
        tmp = _sibling_name(folder, SAVING_MARK)
        tmp.mkdir()
        _write_run_files(run, tmp)
        _fsync_dir(tmp)
        if folder.exists():  # two renames: the old run is only moved aside once the new one is complete
            old = _sibling_name(folder, OLD_MARK)
            os.rename(folder, old)
            try:
                os.rename(tmp, folder)
            except OSError:
                os.rename(old, folder)  # put the previous run back before reporting
                raise
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, folder)
        tmp = None
        _fsync_dir(folder.parent)
    except OSError as e:
        raise SeqrecError(f"Could not save the run to {folder}: {e.strerror or e}. Choose a writable folder.") from None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _read_json(folder: Path, name: str):
    try:
        return json.loads((folder / name).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError):
        raise SeqrecError(f"{folder / name} is damaged or was edited (it is not valid JSON); use the original saved "
                          f"run or train again.") from None


def _looks_like_pickle(path: Path) -> bool:
    """True for a file that starts like a pickle or a torch.save zip and is not a well-formed safetensors file
    (whose first 8 bytes are its JSON header's length, followed by '{')."""
    try:
        with open(path, "rb") as f:
            head = f.read(9)
        size = path.stat().st_size
    except OSError:
        return False
    if len(head) == 9 and head[8:9] == b"{" and int.from_bytes(head[:8], "little") <= size - 8:
        return False
    return head.startswith(PICKLE_MAGIC)


PICKLE_REFUSAL = ("it looks like a pickle or torch.save checkpoint, which seqrec never opens because loading one "
                  "can run any code")


def _check_run_folder(folder: Path) -> None:
    """A clear sentence for anything that is not a complete saved run folder (nothing is read or run yet)."""
    if folder.is_file():
        why = f" ({PICKLE_REFUSAL})" if _looks_like_pickle(folder) else ""
        raise SeqrecError(f"{folder} is a file, not a saved run folder{why}; pass the folder given to --save when "
                          f"training.")
    if not folder.is_dir():
        raise SeqrecError(f"{folder} is not a saved run folder; pass the folder given to --save when training.")
    missing = [f for f in FILES if not (folder / f).is_file()]
    if missing:
        raise SeqrecError(f"{folder} is not a complete saved run (missing {', '.join(missing)}); pass the folder "
                          f"given to --save when training, or train again.")


def _check_format(folder: Path, meta: dict) -> None:
    """Only run folders of this format version are read; runs saved before the field existed are version 1."""
    fmt, version = meta.get("format", FORMAT), meta.get("format_version", 1)
    if fmt != FORMAT:
        raise SeqrecError(f"{folder / 'run.json'} is not a seqrec run (its format is {str(fmt)[:40]!r}); pass a "
                          f"folder saved with --save.")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise SeqrecError(f"{folder} was saved in an unknown run format (format_version {str(version)[:20]!r}); "
                          f"this seqrec reads version {FORMAT_VERSION} only, so train the run again.")
    if version > FORMAT_VERSION:
        raise SeqrecError(f"{folder} was saved by a newer seqrec (run format version {version}; this one reads "
                          f"version {FORMAT_VERSION}); upgrade seqrec to load it, or train it again.")


def load_run(folder: str | Path, device: str | None = None) -> Run:
    """Rebuild a run from its folder. Only JSON and safetensors (plain tensors) are read: no code is executed."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    if not folder.exists():
        recover_interrupted_save(folder)  # a save killed between its two renames left the old run aside
    _check_run_folder(folder)
    meta = _read_json(folder, "run.json")
    if not isinstance(meta, dict):
        raise SeqrecError(f"The files in {folder} were edited or damaged (config.json and run.json must hold JSON "
                          f"objects); train again.")
    _check_format(folder, meta)
    cfg_dict = _read_json(folder, "config.json")
    ids = _read_json(folder, "vocab.json")
    if not isinstance(cfg_dict, dict):
        raise SeqrecError(f"The files in {folder} were edited or damaged (config.json and run.json must hold JSON "
                          f"objects); train again.")
    try:
        config = TrainConfig.from_dict(cfg_dict)
    except (TypeError, SeqrecError) as e:
        raise SeqrecError(f"The saved config in {folder} is invalid ({e}); train again.") from None
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids) or len(set(ids)) != len(ids):
        raise SeqrecError(f"{folder / 'vocab.json'} is damaged (it must be a list of distinct item IDs); train again.")
    weights = folder / "weights.safetensors"
    if _looks_like_pickle(weights):
        raise SeqrecError(f"{weights} is not a safetensors file: {PICKLE_REFUSAL}. Train again or use the original "
                          f"saved run.")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise SeqrecError(f"{weights} is damaged or not a safetensors file ({e}); train again.") from None
    with torch.device("meta"):  # shapes only: a vocabulary of millions of fake IDs allocates nothing here
        expected = {k: tuple(v.shape) for k, v in SeqRecModel(len(ids), config).state_dict().items()}
    bad = sorted(set(expected) ^ set(state)) + sorted(k for k in expected if k in state and
                                                       tuple(state[k].shape) != expected[k])
    if bad:
        raise SeqrecError(f"The weights in {folder} do not match its config and vocabulary (problem with "
                          f"{', '.join(bad[:3])}); the files were mixed up or edited. Train again.")
    if any(not torch.isfinite(v).all() for v in state.values() if v.is_floating_point()):
        raise SeqrecError(f"The weights in {folder} contain NaN or infinite values; train again.")
    model = build_model(len(ids), config)
    expected = model.state_dict()
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
