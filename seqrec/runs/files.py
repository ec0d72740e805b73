"""Run folders on disk: saving a Run atomically and loading it back without ever executing code from the files.

A saved run is a folder of plain data: config.json, vocab.json, run.json (with `format_version`) and
weights.safetensors. Loading never executes code from the files (JSON and safetensors only; a pickle is recognised
and refused unopened), and anything tampered with is refused with a clear message. Saving is atomic: the files are
written into a hidden temporary sibling folder that is renamed into place once complete.
"""
from __future__ import annotations

import glob
import json
import os
import secrets
import shutil
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save as safetensors_bytes

from seqrec import __version__
from seqrec.config import TrainConfig
from seqrec.data.split import ItemVocab
from seqrec.errors import SeqrecError
from seqrec.model.recurrent import SeqRecModel
from seqrec.runs.run import Run
from seqrec.training.loop import build_model, pick_device

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
