"""Run folders on disk: saving a Run atomically and loading it back without ever executing code from the files.

A saved run is a folder of plain data: config.json, vocab.json, run.json (with `format_version`) and
weights.safetensors. Loading never executes code from the files (JSON and safetensors only; a pickle is recognised
and refused unopened), and anything tampered with is refused with a clear message. Saving is atomic: the files are
written into a hidden temporary sibling folder that is renamed into place once complete.
"""
from __future__ import annotations

import glob
import json
import math
import os
import re
import secrets
import shutil
import threading
import weakref
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes

from seqrec.config import TrainConfig
from seqrec.data.split import ItemVocab
from seqrec.errors import SeqrecError
from seqrec.model.recurrent import SeqRecModel
from seqrec.runs.run import Run
from seqrec.runtime import pick_device, pid_alive
from seqrec.version import __version__

FILES = ("config.json", "vocab.json", "run.json", "weights.safetensors")
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
    _write_bytes(path, safetensors_bytes({k: v.detach().cpu().contiguous() for k, v in run.model.state_dict().items()}))


def _write_run_files(run: Run, folder: Path) -> None:
    _write_bytes(folder / "config.json", json.dumps(run.config.to_dict(), indent=2).encode())
    _write_bytes(folder / "vocab.json", json.dumps([str(i) for i in run.vocab.ids]).encode())
    derived = ("config", "model", "parameters", "metrics_ci95", "baselines_ci95", "comparison", "by_history_length")
    meta = {k: v for k, v in run.summary().items() if k not in derived}  # intervals: recomputed from per_user
    meta.update(format=FORMAT, format_version=FORMAT_VERSION, version=__version__, batch_losses=run.batch_losses,
                epochs=run.epochs, created=run.created)
    if run.test_ranks is not None:
        meta["per_user"] = per_user_json(run)
    _write_bytes(folder / "run.json", json.dumps(meta, indent=1).encode())
    _write_weights(run, folder / "weights.safetensors")  # last: a folder without weights is never complete


# What run.json's "hybrid" holds as recorded (its intervals and comparisons are recomputed from the per-user ranks)
HYBRID_KEYS = ("name", "neighbours", "weight", "chosen_on", "chosen_by", "valid", "partners", "metrics")


# ---- per-user test results: optional in run.json, so runs saved before them still load ---------------
def per_user_json(run: Run) -> dict:
    """Each test user's target rank for the run and every baseline, as small whole numbers: a rank beyond the
    largest K (or a masked target) is stored as `cap` = largest K + 1 (a miss at every K the run reports), a user a
    baseline did not score as 0. Plus each user's history length (metrics by history length)."""
    cap = max(run.config.ks) + 1

    def encode(ranks):
        r = np.asarray(ranks, dtype=np.float64)
        return np.where(np.isnan(r), 0, np.minimum(np.nan_to_num(r, posinf=cap), cap)).astype(np.int64).tolist()

    lengths = run.history_lengths
    out = {"cap": cap, "ranks": {"model": encode(run.test_ranks), **{n: encode(r) for n, r in
                                                                     run.baseline_ranks.items()}},
           "history_length": [] if lengths is None else np.asarray(lengths, dtype=np.int64).tolist()}
    if run.hybrid_ranks is not None:
        out["hybrid"] = encode(run.hybrid_ranks)
    return out


def hybrid_ranks_from_json(doc, n_users: int, where: Path) -> np.ndarray | None:
    """The hybrid's per-user ranks from run.json's `per_user` (None when the run has none), checked like the rest."""
    if not isinstance(doc, dict) or doc.get("hybrid") is None:
        return None
    values, cap = doc["hybrid"], doc.get("cap")
    if not isinstance(values, list) or len(values) != n_users or \
            not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= cap for v in values):
        raise SeqrecError(f"{where} was edited or damaged: its per_user hybrid ranks must be whole numbers for the "
                          f"same users as the run's. Use the original saved run or train again.")
    r = np.asarray(values, dtype=np.float64)
    r[r == 0] = np.nan
    r[r == cap] = np.inf
    return r


def per_user_from_json(doc, where: Path) -> tuple[np.ndarray | None, dict, np.ndarray | None]:
    """(run ranks, baseline name -> ranks, history lengths) from run.json's `per_user`; (None, {}, None) when absent
    (a run saved before per-user results: its intervals are unavailable). Anything malformed is one sentence."""
    if doc is None:
        return None, {}, None
    bad = SeqrecError(f"{where} was edited or damaged: its per_user results must hold whole-number ranks of the "
                      f"same users for the run and each baseline. Use the original saved run or train again.")
    if not isinstance(doc, dict) or not isinstance(doc.get("ranks"), dict) or "model" not in doc["ranks"]:
        raise bad
    cap = doc.get("cap")
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 2 or len(doc["ranks"]) > MAX_BASELINES + 1:
        raise bad
    decoded = {}
    for name, values in doc["ranks"].items():
        if not isinstance(values, list) or len(values) > 100_000_000 or \
                not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= cap for v in values):
            raise bad
        r = np.asarray(values, dtype=np.float64)
        r[r == 0] = np.nan
        r[r == cap] = np.inf
        decoded[str(name)] = r
    n = len(decoded["model"])
    lengths = doc.get("history_length", [])
    if any(len(r) != n for r in decoded.values()) or not isinstance(lengths, list) or \
            (lengths and (len(lengths) != n or not all(isinstance(v, int) and v >= 0 for v in lengths))):
        raise bad
    model = decoded.pop("model")
    return model, decoded, (np.asarray(lengths, dtype=np.int64) if lengths else None)


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
        if not (pid.isdigit() and pid_alive(int(pid))):
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
    except (UnicodeDecodeError, json.JSONDecodeError, ValueError, RecursionError):  # RecursionError: `[` x 200,000
        raise SeqrecError(f"{folder / name} is damaged or was edited (it is not valid JSON, or nested too deeply); use "
                          f"the original saved run or train again.") from None


# ---- every field of a run's metadata (run.json; a bundle's metrics.json and curves.json) -----------------------------
RATE_RE = re.compile(r"(recall|mrr|ndcg|coverage)@([0-9]{1,4})")  # share-of-users / share-of-catalogue metrics: [0, 1]
MAX_META_ITEMS = 1_000_000  # batch losses and epochs a run may record (1000 epochs x 1000 batches)
MAX_NAMED_METRICS = 200
MAX_BASELINES = 20
EXECUTORS = ("local", "ray")  # where a run trained (Run.executor)
MAX_THREADS = 4096  # torch threads a run may record (TrainConfig.cpus allows 256; a large machine's automatic share)
MAX_ABS_WEIGHT = 1e6  # trained weights stay far below (|w| < 100); 1e37 makes every score infinite


def _finite(v) -> bool:
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:  # an integer beyond float range
        return False


def _metric_problem(d, what: str) -> str | None:
    """None for a dict of metric name -> finite number (rates in [0, 1]); else what is wrong with it."""
    if not isinstance(d, dict):
        return f"{what} must be an object of metric names and numbers (it holds {type(d).__name__})"
    if len(d) > MAX_NAMED_METRICS:
        return f"{what} holds {len(d):,} metrics, more than a run records"
    for k, v in d.items():
        if not _finite(v):
            return f"{what} {str(k)[:40]!r} must be a finite number (got {str(v)[:40]!r})"
        if RATE_RE.fullmatch(k) and not 0 <= v <= 1:
            return f"{what} {str(k)[:40]!r} must be between 0 and 1 (got {v!r})"
    return None


def run_meta_problem(meta: dict) -> tuple[str, str] | None:
    """(field, what is wrong) for the first field of a run's metadata that a run never writes, else None. Checks
    types, ranges and finiteness of every field the app and the CLI read (metrics, baselines, curves, timings), so
    a hand-edited file is refused on import and on load instead of breaking a page later."""
    if (p := _metric_problem(meta.get("metrics", {}), "the test metric")):
        return "metrics", p
    if (p := _metric_problem(meta.get("valid_metrics", {}), "the validation metric")):
        return "valid_metrics", p
    base = meta.get("baselines", {})
    if not isinstance(base, dict) or len(base) > MAX_BASELINES:
        return "baselines", "the baselines must be an object of baseline names and their metrics"
    for b, m in base.items():
        if (p := _metric_problem(m, f"baseline {str(b)[:40]!r}'s metric")):
            return "baselines", p
    hybrid = meta.get("hybrid", {})  # optional: runs trained without the hybrid (or before it) have none
    if not isinstance(hybrid, dict):
        return "hybrid", "the hybrid must be an object (name, weight, metrics)"
    if hybrid:
        if (p := _metric_problem(hybrid.get("metrics", {}), "the hybrid's test metric")):
            return "hybrid", p
        w = hybrid.get("weight")
        if not _finite(w) or not 0 <= w <= 1:
            return "hybrid", f"the hybrid's weight must be a number from 0 to 1 (got {str(w)[:40]!r})"
        if not isinstance(hybrid.get("name", ""), str) or len(hybrid.get("name", "")) > 200:
            return "hybrid", "the hybrid's name must be short text"
    ds = meta.get("dataset", {})
    if not isinstance(ds, dict) or len(ds) > MAX_NAMED_METRICS or \
            any(not (v is None or isinstance(v, (str, bool)) or _finite(v)) for v in ds.values()):
        return "dataset", "the dataset must be an object of plain values (name, fingerprint, counts)"
    for k in ("users", "items", "interactions"):
        v = ds.get(k, 0)
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            return "dataset", f"the dataset's {k} must be a whole number of at least 0 (got {str(v)[:40]!r})"
    for k in ("name", "fingerprint"):
        if not isinstance(ds.get(k, ""), str):
            return "dataset", f"the dataset's {k} must be text"
    for k in ("epochs_run", "best_epoch"):
        v = meta.get(k, 0)
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 1_000_000:
            return k, f"{k} must be a whole number of at least 0 (got {str(v)[:40]!r})"
    for k in ("train_seconds", "sequences_per_second"):
        v = meta.get(k, 0.0)
        if not _finite(v) or v < 0:
            return k, f"{k} must be a finite number of at least 0 (got {str(v)[:40]!r})"
    for k in ("name", "created", "stop_reason"):
        if not isinstance(meta.get(k, ""), str) or len(meta.get(k, "")) > 10_000:
            return k, f"{k} must be text"
    if not isinstance(meta.get("stopped_by_user", False), bool):
        return "stopped_by_user", "stopped_by_user must be true or false"
    where = meta.get("executor", "local")  # where it trained; runs saved before that field trained locally
    if where not in EXECUTORS:
        return "executor", f"executor must be {' or '.join(EXECUTORS)} (got {str(where)[:40]!r})"
    threads = meta.get("threads", 0)  # 0: not recorded (runs saved before threads were recorded)
    if isinstance(threads, bool) or not isinstance(threads, int) or not 0 <= threads <= MAX_THREADS:
        return "threads", f"threads must be a whole number from 0 to {MAX_THREADS} (got {str(threads)[:40]!r})"
    losses = meta.get("batch_losses", [])
    if not isinstance(losses, list) or len(losses) > MAX_META_ITEMS or not all(_finite(v) for v in losses):
        return "batch_losses", "batch_losses must be a list of finite numbers"
    epochs = meta.get("epochs", [])
    if not isinstance(epochs, list) or len(epochs) > MAX_META_ITEMS:
        return "epochs", "epochs must be a list of per-epoch objects"
    for i, e in enumerate(epochs):
        if not isinstance(e, dict):
            return "epochs", f"epoch entry {i + 1} must be an object with an epoch number and its metrics (got " \
                             f"{str(e)[:40]!r})"
        n = e.get("epoch")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            return "epochs", f"epoch entry {i + 1} needs a whole epoch number of at least 1 (got {str(n)[:40]!r})"
        if (p := _metric_problem({k: v for k, v in e.items() if k != "epoch"}, f"epoch {n}'s value")):
            return "epochs", p
    return None


def check_run_meta(meta: dict, where) -> None:
    """Raise one sentence for the first bad field; `where(field)` names the file that holds it."""
    found = run_meta_problem(meta)
    if found:
        field_name, problem = found
        raise SeqrecError(f"{where(field_name)} was edited or damaged: {problem}. Use the original saved run or "
                          f"train again.")


# ---- loaded weights are shared: one copy per process for the same saved files ------------------------------------
_SHARED: weakref.WeakValueDictionary[tuple, SeqRecModel] = weakref.WeakValueDictionary()
_SHARED_LOCK = threading.Lock()


def _files_signature(folder: Path) -> tuple:
    """The identity of a saved run's files: resolved folder plus size and modification time of each file."""
    sig = [str(folder.resolve())]
    for n in FILES:
        st_ = (folder / n).stat()
        sig += [st_.st_size, st_.st_mtime_ns]
    return tuple(sig)


def shared_model_count() -> int:
    """How many distinct shared weight sets are alive in this process (for tests and diagnostics)."""
    return len(_SHARED)


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


def load_run(folder: str | Path, device: str | None = None, shared: bool = False) -> Run:
    """Rebuild a run from its folder. Only JSON and safetensors (plain tensors) are read: no code is executed.
    shared=True (the run library): runs loaded from the same unchanged files share one read-only model per
    process (each caller still gets its own Run with its own name and lists)."""
    folder = Path(folder)
    if not folder.exists():
        recover_interrupted_save(folder)  # a save killed between its two renames left the old run aside
    _check_run_folder(folder)
    meta = _read_json(folder, "run.json")
    if not isinstance(meta, dict):
        raise SeqrecError(f"The files in {folder} were edited or damaged (config.json and run.json must hold JSON "
                          f"objects); train again.")
    _check_format(folder, meta)
    check_run_meta(meta, lambda _field: str(folder / "run.json"))
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
    key = None
    if shared:
        try:
            key = (_files_signature(folder), str(pick_device(device)))
        except OSError:
            key = None
        with _SHARED_LOCK:
            model = _SHARED.get(key) if key else None
        if model is not None:
            return _run_from_meta(folder, meta, config, ids, model)
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
    big = max((float(v.abs().max()) for v in state.values() if v.is_floating_point() and v.numel()), default=0.0)
    if big > MAX_ABS_WEIGHT:
        raise SeqrecError(f"The weights in {folder} hold values as large as {big:.1e}, which no trained run has "
                          f"(every score would overflow to infinity); the files were edited. Train again.")
    with torch.device("meta"):  # no second copy: the loaded tensors become the model's parameters (assign)
        model = SeqRecModel(len(ids), config)
    dtypes = {k: v.dtype for k, v in model.state_dict().items()}
    model.load_state_dict({k: v.to(dtypes[k]) for k, v in state.items()}, assign=True)
    model.to(pick_device(device)).eval()
    if shared:
        for p in model.parameters():
            p.requires_grad_(False)  # read-only by convention: nothing trains a loaded run
        if key:
            with _SHARED_LOCK:
                _SHARED[key] = model
    return _run_from_meta(folder, meta, config, ids, model)


def _run_from_meta(folder: Path, meta: dict, config: TrainConfig, ids: list, model: SeqRecModel) -> Run:
    ranks, baseline_ranks, lengths = per_user_from_json(meta.get("per_user"), folder / "run.json")
    hybrid = meta.get("hybrid") if isinstance(meta.get("hybrid"), dict) else {}
    hybrid = {k: v for k, v in hybrid.items() if k in HYBRID_KEYS}
    hybrid_ranks = hybrid_ranks_from_json(meta.get("per_user"), len(ranks), folder / "run.json") \
        if ranks is not None and hybrid else None
    order = meta.get("order_check", {})
    try:
        return Run(test_ranks=ranks, baseline_ranks=baseline_ranks, history_lengths=lengths, hybrid=hybrid,
                   hybrid_ranks=hybrid_ranks,
                   order_check=order if isinstance(order, dict) else {},
                   name=str(meta.get("name", folder.name)), config=config, vocab=ItemVocab(ids), model=model,
                   metrics=meta.get("metrics", {}), baselines=meta.get("baselines", {}),
                   valid_metrics=meta.get("valid_metrics", {}), dataset=meta.get("dataset", {}),
                   batch_losses=meta.get("batch_losses", []), epochs=meta.get("epochs", []),
                   epochs_run=int(meta.get("epochs_run", 0)), best_epoch=int(meta.get("best_epoch", 0)),
                   train_seconds=float(meta.get("train_seconds", 0.0)),
                   sequences_per_second=float(meta.get("sequences_per_second", 0.0)),
                   stopped_by_user=bool(meta.get("stopped_by_user", False)), created=str(meta.get("created", "")),
                   stop_reason=str(meta.get("stop_reason", "")), executor=str(meta.get("executor", "local")),
                   threads=int(meta.get("threads", 0)))
    except (TypeError, ValueError, OverflowError):  # e.g. "epochs_run": "two" typed into run.json
        raise SeqrecError(f"{folder / 'run.json'} was edited or damaged (a number field holds something else); use "
                          f"the original saved run or train again.") from None
