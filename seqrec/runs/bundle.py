"""Sharing runs as files: a run bundle (one zip with everything), the run's config JSON, and reading both back.

A bundle holds exactly these plain files, nothing else:

    manifest.json         format, version and a SHA-256 of every other file
    config.json           the TrainConfig
    vocab.json            the item vocabulary (raw item IDs, most popular first)
    weights.safetensors   the weights (plain tensors: loading runs no code, unlike a pickle)
    metrics.json          test / validation metrics, baselines, dataset, timings
    curves.json           per-epoch validation metrics and per-batch losses

Reading one is defensive: size limits before and while unpacking (zip bombs), plain file names only (no paths, so
nothing can be written elsewhere), exactly the expected files, checksums, and then the same checks as loading a
saved run folder (valid config, vocabulary, weights with the right shapes and finite values). Every problem is one
SeqrecError sentence.
"""
from __future__ import annotations

import hashlib
import io
import json
import re
import struct
import tempfile
import zipfile
import zlib
from dataclasses import fields as dataclass_fields
from pathlib import Path
from typing import BinaryIO

from seqrec.config import TrainConfig
from seqrec.errors import SeqrecError
from seqrec.runs.store import json_default
from seqrec.version import __version__

BUNDLE_FORMAT = "seqrec-bundle"
BUNDLE_VERSION = 1
CONFIG_FORMAT = "seqrec-config"
CONFIG_VERSION = 1
MANIFEST = "manifest.json"
MEMBERS = ("config.json", "vocab.json", "weights.safetensors", "metrics.json", "curves.json")
MB = 1 << 20
MAX_BUNDLE_BYTES = 512 * MB  # the zip itself
MAX_WEIGHTS_BYTES = 1024 * MB  # unpacked weights (hidden 1024, 200k items is ~0.8 GB)
MAX_JSON_BYTES = 64 * MB  # any unpacked JSON member
MAX_CONFIG_BYTES = 1 * MB  # a config JSON file
MAX_RATIO = 200  # unpacked / packed: weights barely compress, JSON ~10x; a zip bomb is ~1000x
METRIC_KEYS = ("name", "metrics", "baselines", "valid_metrics", "dataset", "epochs_run", "best_epoch",
               "train_seconds", "sequences_per_second", "stopped_by_user", "stop_reason", "created",
               "per_user", "order_check",  # optional: per-user ranks behind the intervals
               "executor", "threads",  # optional: where it trained and with how many CPU threads
               "hybrid")  # optional: the hybrid "network + Session kNN" of a run trained with it


# ------------------------------------------------------------------------------------------------------------------
# Writing
# ------------------------------------------------------------------------------------------------------------------

def _json_bytes(obj) -> bytes:
    return json.dumps(obj, indent=1, default=json_default).encode("utf-8")


def bundle_files(run) -> dict[str, bytes]:
    """name -> content of every member but the manifest (weights through save_run, so they match a saved run)."""
    # torch (through the run files) loads only when a bundle is made, so reading a config file stays light
    from seqrec.runs.files import save_run

    with tempfile.TemporaryDirectory(prefix="seqrec-bundle-") as tmp:
        folder = save_run(run, Path(tmp) / "run")
        files = {"config.json": (folder / "config.json").read_bytes(),
                 "vocab.json": (folder / "vocab.json").read_bytes(),
                 "weights.safetensors": (folder / "weights.safetensors").read_bytes()}
        saved = json.loads((folder / "run.json").read_bytes())
    summary = {**run.summary(), **{k: saved[k] for k in ("per_user",) if k in saved}}
    files["metrics.json"] = _json_bytes({**{k: summary.get(k) for k in METRIC_KEYS if k in summary},
                                         "created": run.created, "name": run.name})
    files["curves.json"] = _json_bytes({"epochs": run.epochs, "batch_losses": run.batch_losses})
    return files


def bundle_bytes(run) -> bytes:
    """The run as one zip (see the module docstring), ready for a download button or a file."""
    files = bundle_files(run)
    manifest = {"format": BUNDLE_FORMAT, "version": BUNDLE_VERSION, "seqrec": __version__, "name": run.name,
                "files": {n: hashlib.sha256(b).hexdigest() for n, b in files.items()}}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(MANIFEST, _json_bytes(manifest))
        for n, b in files.items():
            zf.writestr(n, b)
    return buf.getvalue()


def bundle_filename(name: str) -> str:
    """A safe file name for a run's download, e.g. 'GRU h64 x1' -> 'seqrec-run-GRU-h64-x1.zip'."""
    return f"seqrec-run-{_slug(name)}.zip"


def config_filename(name: str) -> str:
    return f"seqrec-config-{_slug(name)}.json"


def _slug(name: str) -> str:
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", str(name)).strip("-.")[:60]
    return s or "run"


def config_document(run) -> dict:
    """What `train --config` (and the app's training form) read back: the settings, plus the dataset it was trained
    on (so a rerun on other data is noticed). `run` is a Run or a run-library row (StoredRun), whose config is a
    dict."""
    config = run.config.to_dict() if hasattr(run.config, "to_dict") else dict(run.config)
    return {"format": CONFIG_FORMAT, "version": CONFIG_VERSION, "name": run.name, "config": config,
            "dataset": dict(run.dataset or {})}


def config_bytes(run) -> bytes:
    return _json_bytes(config_document(run))


# ------------------------------------------------------------------------------------------------------------------
# Reading a config
# ------------------------------------------------------------------------------------------------------------------

def read_config(source: str | Path | bytes | BinaryIO, name: str | None = None) -> tuple[dict, dict]:
    """(config fields, document) from a config JSON: a run's config download (`config_bytes`), or a bare
    TrainConfig dict such as a saved run's config.json. The fields are validated as a whole TrainConfig; the caller
    may still override some before building it."""
    label = name or (str(source) if isinstance(source, (str, Path)) else "The config file")
    raw = _read_limited(source, MAX_CONFIG_BYTES, label, "config file")
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        raise SeqrecError(f"{label} is not valid JSON (or is nested too deeply); download the run's config again (or "
                          f"use a saved run's config.json).") from None
    if not isinstance(doc, dict):
        raise SeqrecError(f"{label} must hold a JSON object of settings, such as a downloaded run config.")
    if "format" in doc or isinstance(doc.get("config"), dict):
        if doc.get("format", CONFIG_FORMAT) != CONFIG_FORMAT or not isinstance(doc.get("config"), dict):
            raise SeqrecError(f"{label} is not a seqrec run config (it needs \"format\": \"{CONFIG_FORMAT}\" and a "
                              f"\"config\" object); download it again.")
        if not isinstance(doc.get("version", CONFIG_VERSION), int) or doc.get("version", 1) > CONFIG_VERSION:
            raise SeqrecError(f"{label} was written by a newer version of seqrec (config version "
                              f"{doc.get('version')!r}); update seqrec to read it.")
        fields = dict(doc["config"])
    else:
        fields, doc = dict(doc), {"config": doc}
    if not isinstance(doc.get("name"), str) or not doc["name"].strip():
        doc.pop("name", None)  # a name is optional; anything but text is ignored
    else:
        doc["name"] = " ".join(doc["name"].split())[:100]
    known = {f.name for f in dataclass_fields(TrainConfig)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise SeqrecError(f"{label} has settings seqrec does not know ({', '.join(map(str, unknown[:5]))}); fix their "
                          f"names (known: {', '.join(sorted(known))}) or download the config again.")
    try:
        TrainConfig.from_dict(fields)
    except SeqrecError as e:
        raise SeqrecError(f"{label} holds invalid settings: {_lower_first(str(e))}") from None
    except TypeError as e:
        raise SeqrecError(f"{label} holds invalid settings ({e}); download the config again.") from None
    return fields, doc


def config_from_file(source, name: str | None = None) -> tuple[TrainConfig, dict]:
    """(validated TrainConfig, document) from a config JSON, for starting a run from it as it is."""
    fields, doc = read_config(source, name)
    return TrainConfig.from_dict(fields), doc


def _lower_first(s: str) -> str:
    return s[:1].lower() + s[1:] if s else s


# ------------------------------------------------------------------------------------------------------------------
# Reading a bundle
# ------------------------------------------------------------------------------------------------------------------

def _read_limited(source, limit: int, label: str, what: str) -> bytes:
    """The bytes of a path / bytes / file-like, refusing more than `limit` without reading it all."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, Path)):
        p = Path(source)
        try:
            if not p.is_file():
                raise SeqrecError(f"{p} does not exist or is not a file; check the path.")
            if p.stat().st_size > limit:
                raise SeqrecError(f"{label} is {_size(p.stat().st_size)}, larger than the {_size(limit)} a {what} may "
                                  f"have; it is not a seqrec {what}.")
            data = p.read_bytes()
        except OSError as e:
            raise SeqrecError(f"Could not read {p} ({e.strerror or e}); check the path and its permissions.") from None
    elif hasattr(source, "read"):
        if hasattr(source, "seek"):
            try:
                source.seek(0)
            except (OSError, ValueError):
                pass
        data = source.read(limit + 1)
    else:
        raise SeqrecError(f"Cannot read a {what} from {type(source).__name__}; give a path, bytes or an upload.")
    if len(data) > limit:
        raise SeqrecError(f"{label} is larger than the {_size(limit)} a {what} may have; it is not a seqrec {what}.")
    return data


def _size(n: int) -> str:
    return f"{n / MB:,.0f} MB" if n >= MB else f"{n / 1024:,.0f} KB" if n >= 1024 else f"{n} bytes"


def _bad_name(n: str) -> bool:
    return ("/" in n or "\\" in n or ":" in n or n.startswith(".") or n != n.strip() or not n
            or any(ord(c) < 32 for c in n))


def _member_limit(n: str) -> int:
    return MAX_WEIGHTS_BYTES if n.endswith(".safetensors") else MAX_JSON_BYTES


def read_bundle_files(source, name: str | None = None) -> dict[str, bytes]:
    """Unpack and check a bundle's members in memory (never onto disk under their own names)."""
    label = name or (str(source) if isinstance(source, (str, Path)) else "The uploaded bundle")
    data = _read_limited(source, MAX_BUNDLE_BYTES, label, "run bundle")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, OSError):
        raise SeqrecError(f"{label} is not a run bundle (not a zip file); download the run's bundle again.") from None
    with zf:
        infos = zf.infolist()
        names = [i.filename for i in infos]
        if any(n.endswith((".pkl", ".pt", ".pth")) for n in names):
            raise SeqrecError(f"{label} looks like a torch.save or pickle checkpoint, which seqrec never opens because "
                              f"loading one can run any code; use a run bundle made by seqrec instead.")
        if len(infos) > 2 * (len(MEMBERS) + 1):
            raise SeqrecError(f"{label} holds {len(infos)} files; a run bundle holds exactly "
                              f"{len(MEMBERS) + 1}. Download it again.")
        bad = [n for n in names if _bad_name(n)]
        if bad:
            raise SeqrecError(f"{label} contains a file with a folder or unsafe name ({bad[0]!r}); a run bundle holds "
                              f"only plain files, so it was not made by seqrec and is refused.")
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise SeqrecError(f"{label} contains {dupes[0]} twice; it was tampered with. Download it again.")
        expected = {MANIFEST, *MEMBERS}
        missing, extra = sorted(expected - set(names)), sorted(set(names) - expected)
        if missing:
            raise SeqrecError(f"{label} is not a complete run bundle (missing {', '.join(missing)}); download it "
                              f"again.")
        if extra:
            raise SeqrecError(f"{label} contains unexpected files ({', '.join(extra[:3])}); a run bundle holds only "
                              f"{', '.join((MANIFEST, *MEMBERS))}, so it is refused.")
        out = {}
        for info in infos:
            out[info.filename] = _read_member(zf, info, label)
    _check_manifest(out, label)
    return out


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, label: str) -> bytes:
    n, limit = info.filename, _member_limit(info.filename)
    if info.flag_bits & 0x1:
        raise SeqrecError(f"{label} has an encrypted file ({n}); run bundles are never encrypted, so it is refused.")
    if info.file_size > limit:
        raise SeqrecError(f"{label}: {n} would unpack to {_size(info.file_size)}, more than the {_size(limit)} "
                          f"allowed; it is not a seqrec bundle.")
    if info.file_size > MB and info.file_size > MAX_RATIO * max(info.compress_size, 1):
        raise SeqrecError(f"{label}: {n} is compressed {info.file_size // max(info.compress_size, 1):,} to 1, like "
                          f"a zip bomb; a run bundle never is, so it is refused.")
    try:
        with zf.open(info) as f:
            content = f.read(limit + 1)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as e:
        raise SeqrecError(f"{label} is damaged ({n} cannot be unpacked: {e}); download it again.") from None
    if len(content) > limit:
        raise SeqrecError(f"{label}: {n} unpacks to more than the {_size(limit)} allowed; it is not a seqrec "
                          f"bundle.")
    return content


def _json_member(files: dict[str, bytes], n: str, label: str, kind: type):
    try:
        v = json.loads(files[n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: JSON nested thousands deep
        raise SeqrecError(f"{label}: {n} is not valid JSON (or is nested too deeply); the bundle was edited or "
                          f"damaged. Download it again.") from None
    if not isinstance(v, kind):
        raise SeqrecError(f"{label}: {n} must hold a JSON {'object' if kind is dict else 'list'}; the bundle was "
                          f"edited or damaged. Download it again.")
    return v


def _check_manifest(files: dict[str, bytes], label: str) -> None:
    m = _json_member(files, MANIFEST, label, dict)
    if m.get("format") != BUNDLE_FORMAT:
        raise SeqrecError(f"{label} is not a seqrec run bundle (its manifest says format {m.get('format')!r}).")
    if not isinstance(m.get("version"), int) or m["version"] > BUNDLE_VERSION:
        raise SeqrecError(f"{label} was made by a newer version of seqrec (bundle version {m.get('version')!r}); "
                          f"update seqrec to open it.")
    sums = m.get("files")
    if not isinstance(sums, dict):
        raise SeqrecError(f"{label}: its manifest has no checksums; the bundle was edited. Download it again.")
    for n in MEMBERS:
        if sums.get(n) != hashlib.sha256(files[n]).hexdigest():
            raise SeqrecError(f"{label}: {n} was changed after the bundle was made (its checksum does not match); "
                              f"download the bundle again.")


def _weights_header(raw: bytes, label: str) -> dict:
    """The safetensors JSON header (tensor name -> dtype, shape), read without touching the tensors."""
    try:
        (n,) = struct.unpack("<Q", raw[:8])
        if n > len(raw) - 8 or n > 100 * MB:
            raise ValueError("header longer than the file")
        header = json.loads(raw[8:8 + n].decode("utf-8"))
        if not isinstance(header, dict):
            raise ValueError("header is not an object")
    except RecursionError:
        raise SeqrecError(f"{label}: weights.safetensors has a header nested too deeply, so it is not a safetensors "
                          f"file; download the bundle again.") from None
    except (struct.error, ValueError, UnicodeDecodeError) as e:
        raise SeqrecError(f"{label}: weights.safetensors is not a safetensors file ({e}); download the bundle "
                          f"again.") from None
    return header


_DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}


def _declared_tensor_bytes(header: dict) -> int | None:
    """The unpacked size the safetensors header declares for its tensors (None when a header entry is malformed)."""
    total = 0
    for name, t in header.items():
        if name == "__metadata__":
            continue
        shape = t.get("shape") if isinstance(t, dict) else None
        if t is None or not isinstance(shape, list) or t.get("dtype") not in _DTYPE_BYTES or \
                not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            return None
        n = _DTYPE_BYTES[t["dtype"]]
        for d in shape:
            n *= d
        total += n
    return total


def _check_shapes_before_building(files: dict[str, bytes], label: str) -> None:
    """The vocabulary and config must match the embedding's shape before a model is built from them, so a
    vocabulary of millions of fake IDs cannot make us allocate a huge model."""
    cfg = _json_member(files, "config.json", label, dict)
    vocab = _json_member(files, "vocab.json", label, list)
    header = _weights_header(files["weights.safetensors"], label)
    declared = _declared_tensor_bytes(header)
    if declared is None or declared > MAX_WEIGHTS_BYTES:
        what = "tensors it cannot describe" if declared is None else f"{_size(declared)} of tensors"
        raise SeqrecError(f"{label}: weights.safetensors declares {what}, more than the {_size(MAX_WEIGHTS_BYTES)} "
                          f"a run's weights may have once unpacked; it is refused before reading them.")
    emb = header.get("embedding.weight")
    shape = emb.get("shape") if isinstance(emb, dict) else None
    want = [len(vocab) + 1, cfg.get("embedding_dim")]
    if shape != want:
        raise SeqrecError(f"{label}: the weights do not match its vocabulary and config (embedding shape {shape}, "
                          f"expected {want}); the files were mixed up or edited. Download the bundle again.")


def read_bundle(source, name: str | None = None, device: str | None = None):
    """Load a bundle as a Run: every check above, then the same loader as a saved run folder (no code runs)."""
    # torch (through the run files) loads only when a bundle is read, so reading a config file stays light
    from seqrec.runs import files as run_files

    label = name or (str(source) if isinstance(source, (str, Path)) else "The uploaded bundle")
    files = read_bundle_files(source, label)
    _check_shapes_before_building(files, label)
    metrics = _json_member(files, "metrics.json", label, dict)
    curves = _json_member(files, "curves.json", label, dict)
    meta = {k: metrics[k] for k in METRIC_KEYS if k in metrics}
    meta.update(format="seqrec-run", format_version=run_files.FORMAT_VERSION, version=__version__,
                epochs=curves.get("epochs", []),
                batch_losses=curves.get("batch_losses", []))
    # every field, with the member that holds it named: a bad one never reaches a page (or the gallery)
    run_files.check_run_meta(meta, lambda f: f"{label}: " + ("curves.json" if f in ("epochs", "batch_losses")
                                                                else "metrics.json"))
    with tempfile.TemporaryDirectory(prefix="seqrec-import-") as tmp:
        folder = Path(tmp)
        for n in ("config.json", "vocab.json", "weights.safetensors"):  # fixed names: nothing else is written
            (folder / n).write_bytes(files.pop(n))  # popped: the weights' bytes are freed before their tensors load
        (folder / "run.json").write_bytes(_json_bytes(meta))
        files.clear()  # so at most one copy of the weights is in memory at any time
        try:
            run = run_files.load_run(folder, device=device)
        except SeqrecError as e:
            msg = str(e).replace(f"{folder}{'/'}", "the bundle's ").replace(str(folder), "the bundle")
            raise SeqrecError(f"{label} cannot be loaded: {_lower_first(msg)}") from None
    if not isinstance(run.epochs, list) or not isinstance(run.batch_losses, list):
        raise SeqrecError(f"{label}: curves.json is damaged (epochs and batch_losses must be lists); download the "
                          f"bundle again.")
    # the importer cannot rename before saving, so an empty or overlong name must not make the import fail
    run.name = " ".join(str(run.name or "").split())[:100].strip() or "imported run"
    return run


def looks_like_bundle(path: str | Path) -> bool:
    """True for a zip whose top level holds a bundle manifest (a torch.save checkpoint is a zip too, but not this)."""
    p = Path(path)
    if not (p.is_file() and zipfile.is_zipfile(p)):
        return False
    try:
        with zipfile.ZipFile(p) as zf:
            return MANIFEST in zf.namelist()
    except (zipfile.BadZipFile, OSError, ValueError):
        return False
