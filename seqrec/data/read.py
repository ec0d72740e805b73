"""Reading interaction files: path / bytes / upload -> text (encodings, binary and non-CSV files refused) -> a
DataFrame of strings (delimiter and header line sniffed).

Every problem a user can fix is raised as one SeqrecError whose message names the problem, where it is, and the fix.
"""
from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Sequence, Union

import numpy as np
import pandas as pd

from seqrec.data.columns import EVENT_NAMES, ITEM_NAMES, RATING_NAMES, TIME_NAMES, USER_NAMES, norm_name
from seqrec.errors import SeqrecError

Source = Union[str, os.PathLike, bytes, bytearray, io.IOBase]

MAX_FILE_BYTES = 2 * 1024**3  # beyond this an in-app, in-memory trainer is the wrong tool
DELIMITERS = [",", ";", "\t", "|"]


def source_name(source) -> str:
    """The name a message gives a source: a path's file name, an upload's name, else "the file"."""
    if isinstance(source, (str, os.PathLike)):
        return os.path.basename(os.fspath(source))
    return getattr(source, "name", None) or "the file"


def read_bytes(source: Source) -> bytes:
    """Raw bytes of a path, bytes object or file-like (e.g. a Streamlit UploadedFile)."""
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise SeqrecError(f"File not found: {os.fspath(source)}; check the path and try again.")
        if path.is_dir():
            raise SeqrecError(f"{os.fspath(source)} is a folder, not a CSV file; give the path of the CSV file itself.")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise SeqrecError(f"{path.name} is {path.stat().st_size / 1024**3:.1f} GB, more than the 2 GB this tool "
                              f"handles; keep a sample of users (or a recent time window) and try again.")
        try:
            data = path.read_bytes()
        except OSError as e:
            raise SeqrecError(f"Could not read {path.name} ({e.strerror or e}); check the file's "
                              f"permissions.") from None
    elif hasattr(source, "read"):
        if hasattr(source, "seek"):
            try:
                source.seek(0)
            except Exception:
                pass
        data = source.read()
        if isinstance(data, str):
            data = data.encode("utf-8")
    else:
        raise SeqrecError(f"Cannot read interactions from a {type(source).__name__}; give a CSV file path or bytes.")
    if len(data) > MAX_FILE_BYTES:
        raise SeqrecError(f"{source_name(source)} is more than 2 GB; keep a sample of users (or a recent time window) "
                          f"and try again.")
    return data


def decode_text(data: bytes, name: str = "the file") -> str:
    """Bytes -> text. UTF-8 (with or without BOM) and BOM-marked UTF-16 are accepted; anything else is refused."""
    if data.startswith(b"PK\x03\x04"):
        raise SeqrecError(f"{name} is a zip archive or an Excel workbook, not a CSV; open it and save/export it as "
                          f"'CSV UTF-8', or unzip it first.")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise SeqrecError(f"{name} is an old Excel (.xls) workbook, not a CSV; save it as 'CSV UTF-8' and try again.")
    if data.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"PAR1")):
        raise SeqrecError(f"{name} is a compressed or binary file, not a CSV; decompress or export it as a plain "
                          f"UTF-8 CSV and try again.")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise SeqrecError(f"{name} claims to be UTF-16 text but is damaged; re-export it as 'CSV UTF-8'.") from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    utf16 = _utf16_without_bom(data)
    if utf16:
        try:
            return data.decode(utf16)
        except UnicodeDecodeError:
            pass  # not UTF-16 after all: the checks below say what it is
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        if _looks_binary(data):
            raise SeqrecError(f"{name} is not a text file (it holds binary data, not UTF-8 text); export the data as "
                              f"a CSV file (UTF-8) and try again.") from None
        line = data[: e.start].count(b"\n") + 1
        bad = data[e.start: e.start + 1].hex()
        raise SeqrecError(f"{name} is not UTF-8 text (byte 0x{bad} on line {line} cannot be decoded); it was "
                          f"probably saved as Latin-1/Windows-1252, so re-save it as 'CSV UTF-8' and try "
                          f"again.") from None
    if "\x00" in text[:65536]:
        raise SeqrecError(f"{name} contains binary data (NUL bytes), so it is not a CSV text file; export the data "
                          f"as a UTF-8 CSV and try again.")
    return text


def _utf16_without_bom(data: bytes) -> str | None:
    """'utf-16-le' / 'utf-16-be' when the bytes are plainly UTF-16 text saved without a byte-order mark (every other
    byte zero, as in ASCII text written by some Windows tools), else None."""
    head = data[:4096]
    if len(head) < 8:
        return None
    head = head[: len(head) // 2 * 2]
    even, odd = head[0::2], head[1::2]
    if odd.count(0) > 0.9 * len(odd) and even.count(0) < 0.05 * len(even):
        return "utf-16-le"
    if even.count(0) > 0.9 * len(even) and odd.count(0) < 0.05 * len(odd):
        return "utf-16-be"
    return None


def _looks_binary(data: bytes) -> bool:
    """True when the start of the bytes is mostly not text: NUL bytes or many control characters."""
    head = data[:8192]
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return b"\x00" in head or control > 0.05 * max(1, len(head))


def _split_simple(line: str, delim: str) -> list[str]:
    """Split one line on delim, honouring double quotes (enough for sniffing)."""
    out, cur, q = [], [], False
    for ch in line:
        if ch == '"':
            q = not q
        elif ch == delim and not q:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return [c.strip() for c in out]


def sniff_delimiter(lines: list[str]) -> str:
    """The delimiter (, ; tab |) that splits the sample lines into the same number (>1) of fields most often."""
    best, best_score = ",", (-1, -1)
    for d in DELIMITERS:
        counts = [len(_split_simple(l, d)) for l in lines]
        if not counts:
            continue
        values, freq = np.unique(counts, return_counts=True)
        mode = int(values[np.argmax(freq)])
        agree = int(freq.max())
        if mode < 2:
            continue
        score = (agree, mode)
        if score > best_score:
            best, best_score = d, score
    return best


def _looks_numeric(v: str) -> bool:
    try:
        float(v)
        return True
    except ValueError:
        return False


def detect_header(first: list[str], rest: list[list[str]]) -> bool:
    """True when the first row holds column names rather than data."""
    names = {norm_name(n) for n in USER_NAMES + ITEM_NAMES + TIME_NAMES + EVENT_NAMES + RATING_NAMES}
    if any(norm_name(c) in names for c in first):
        return True
    if not rest:
        return any(c and not _looks_numeric(c) for c in first)
    # A column numeric in the data but not in the first row means the first row is a header.
    for j, c in enumerate(first):
        col = [r[j] for r in rest if j < len(r) and r[j] != ""]
        if col and c != "" and not _looks_numeric(c) and all(_looks_numeric(v) for v in col):
            return True
    # A column of dates in the data whose first-row value is not a date ("day" above 2024-05-01) is a header too.
    for j, c in enumerate(first):
        col = [r[j] for r in rest if j < len(r) and r[j] != ""]
        if col and c != "" and not _looks_numeric(c) and not _looks_like_date(c) and all(map(_looks_like_date, col)):
            return True
    return False


def _looks_like_date(v: str) -> bool:
    """True for a value pandas reads as a date/time (only used on the few sample rows that header sniffing sees)."""
    if _looks_numeric(v) or sum(ch.isdigit() for ch in v) < 4:  # a date has a year; "M1" or "t10" are IDs
        return False
    return bool(pd.notna(pd.to_datetime(pd.Series([v]), errors="coerce", format="mixed", utc=True).iloc[0]))


MAX_LINE_CHARS = 10_000  # a whole file on one line this long has lost its line breaks


def _refuse_non_csv_text(text: str, name: str) -> None:
    """Text that is plainly not a CSV (a saved web page, JSON, one endless line) gets its own sentence, because the
    generic CSV messages ("only one column") would send the user looking in the wrong place."""
    head = text[:1000].lstrip()[:200].lower()  # slices, never a copy of a big file
    if head.startswith(("<!doctype html", "<html", "<?xml", "<head", "<body")):
        raise SeqrecError(f"{name} is a web page (HTML/XML), not a CSV; download the CSV file itself rather than the "
                          f"page that links to it, and try again.")
    if re.match(r'(\{\s*"|\[\s*[\{\["\]])', head):
        raise SeqrecError(f"{name} is JSON, not a CSV; export the data as a CSV with one row per interaction (user, "
                          f"item and time columns) and try again.")
    first_break = text.find("\n")
    first_len = len(text) if first_break == -1 else first_break
    if first_len > MAX_LINE_CHARS and text.count("\n") <= 1:
        raise SeqrecError(f"{name} is one single line of {first_len:,} characters with no line breaks; each "
                          f"interaction must be on its own line, so check the export's line-ending setting and try "
                          f"again.")


def _strip_excel_sep_line(text: str) -> tuple[str, str | None]:
    """Excel's optional first line `sep=;` names the delimiter: use it and drop the line."""
    m = re.match(r"sep=(.)\r?\n", text)
    if m:
        return text[m.end():], m.group(1)
    return text, None


UNSUPPORTED_DELIMITERS = [" ", ":", "^", "~", "#", "/", "!", "&", "*", "+", "="]


def _one_column_message(lines: list[str], name: str) -> str:
    """Why a file reads as a single column: name the character that does separate its fields, when one does."""
    for ch in UNSUPPORTED_DELIMITERS:
        counts = {l.strip().count(ch) for l in lines}
        if len(counts) == 1 and counts.pop() >= 1:
            what = "spaces" if ch == " " else f"'{ch}'"
            return (f"{name} has only one column because its fields are separated by {what}, which is not a supported "
                    f"delimiter; re-export it with commas (or semicolons, tabs or '|') between the user, item and "
                    f"time columns.")
    return (f"{name} has only one column; it needs at least user, item and time columns separated by commas, "
            f"semicolons, tabs or '|'.")


def read_table(source: Source, name: str | None = None) -> pd.DataFrame:
    """Read one CSV into a DataFrame of strings (IDs stay opaque: "007" and "7" differ)."""
    name = name or source_name(source)
    data = read_bytes(source)
    if not data.strip():
        raise SeqrecError(f"{name} is empty; choose a CSV with a header line and one row per interaction "
                          f"(user, item, time).")
    text = decode_text(data, name)
    _refuse_non_csv_text(text, name)
    if "::" in text[:4096] and text[:4096].count("::") >= 2 * max(1, text[:4096].count("\n")):
        text = text.replace("::", "\t")  # MovieLens .dat style
    text, declared = _strip_excel_sep_line(text)
    sample_lines = [l for l in text[:65536].splitlines() if l.strip()][:50]
    if len(sample_lines) and len(text) > 65536:
        sample_lines = sample_lines[:-1] if len(sample_lines) > 1 else sample_lines  # last may be cut
    delim = declared or sniff_delimiter(sample_lines)
    rows = [_split_simple(l, delim) for l in sample_lines]
    if len(rows[0]) < 2:
        raise SeqrecError(_one_column_message(sample_lines, name))
    has_header = detect_header(rows[0], rows[1:])
    if has_header and len(sample_lines) == 1:
        raise SeqrecError(f"{name} has a header line but no data rows; add one row per interaction.")
    if has_header:
        header = [c.strip() for c in rows[0]]
        dupes = sorted({c for c in header if header.count(c) > 1})
        if dupes:
            raise SeqrecError(f"{name} has duplicate column names {dupes} in its header line; rename them so each "
                              f"column is unique and try again.")
    buf = io.BytesIO(text.encode("utf-8"))
    kw = dict(sep=delim, header=0 if has_header else None, dtype=str, keep_default_na=False, na_values=[""])
    try:
        df = pd.read_csv(buf, engine="pyarrow", **kw)
    except Exception:
        buf.seek(0)
        try:
            df = pd.read_csv(buf, engine="c", skipinitialspace=True, skip_blank_lines=True, **kw)
        except pd.errors.ParserError as e:
            msg = str(e)
            m = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", msg)
            if m:
                raise SeqrecError(f"{name} is malformed: line {m.group(2)} has {m.group(3)} fields but the header has "
                                  f"{m.group(1)}; fix that line (a stray '{delim}' or a missing quote) and try "
                                  f"again.") from None
            q = re.search(r"EOF inside string starting at row (\d+)", msg)
            if q:
                raise SeqrecError(f"{name} is malformed: a double quote (\") opened near line {int(q.group(1)) + 1} is "
                                  f"never closed; close or remove the stray quote and try again.") from None
            raise SeqrecError(f"{name} is not a well-formed CSV ({msg.strip().splitlines()[-1]}); fix the file and "
                              f"try again.") from None
        except pd.errors.EmptyDataError:
            raise SeqrecError(f"{name} is empty; choose a CSV with a header line and one row per interaction.") from None
    if not has_header:
        df.columns = [f"column_{i + 1}" for i in range(df.shape[1])]
    df.columns = [str(c).strip() for c in df.columns]
    if len(df) == 0:
        raise SeqrecError(f"{name} has a header line but no data rows; add one row per interaction.")
    dupes = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
    if dupes:
        raise SeqrecError(f"{name} has duplicate column names {dupes}; rename them so each column is unique.")
    for c in df.columns:
        df[c] = df[c].str.strip()
    df.attrs["has_header"] = has_header
    df.attrs["delimiter"] = delim
    return df


def read_tables(sources: Sequence[Source], names: Sequence[str] | None = None) -> pd.DataFrame:
    """Read several CSV exports with the same columns and append them (e.g. monthly files)."""
    if not sources:
        raise SeqrecError("No file was given; choose at least one interaction CSV.")
    names = list(names) if names else [None] * len(sources)
    frames = [read_table(s, n) for s, n in zip(sources, names)]
    first = list(frames[0].columns)
    for f, s, n in zip(frames[1:], sources[1:], names[1:]):
        if list(f.columns) != first:
            raise SeqrecError(f"{n or source_name(s)} has columns {list(f.columns)} but the first file has {first}; "
                              f"only files with the same columns can be appended.")
    if len(frames) == 1:
        return frames[0]
    out = pd.concat(frames, ignore_index=True)
    out.attrs.update(frames[0].attrs)
    return out
