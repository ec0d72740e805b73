"""Reading interaction files: path / bytes / upload -> text (encodings, binary and non-CSV files refused) -> a
DataFrame of strings (delimiter and header line sniffed).

Every problem a user can fix is raised as one SeqrecError whose message names the problem, where it is, and the fix.
"""
from __future__ import annotations

import bz2
import gzip
import io
import itertools
import lzma
import os
import re
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from seqrec.data.columns import EVENT_NAMES, ITEM_NAMES, RATING_NAMES, TIME_NAMES, USER_NAMES, norm_name
from seqrec.errors import SeqrecError

Source = str | os.PathLike | bytes | bytearray | io.IOBase

MAX_FILE_BYTES = 2 * 1024**3  # beyond this an in-app, in-memory trainer is the wrong tool
MAX_UNCOMPRESSED_BYTES = 2 * 1024**3  # what a compressed file (.gz, .bz2, .xz, .zip) may unpack to, all members
# One session's upload, all files together: 6,000,000 rows (2,000,000 users x 3) then took 1.7 GB to load
# and 7.2 GB on Compare; 4,800,000 rows load in a 1.5 GB peak and Compare stays under 1.8 GB (bench/memory_upload.py,
# RELIABILITY.md), so one upload fits beside the other sessions.
MAX_FILES = 20
MAX_TOTAL_ROWS = 5_000_000
MAX_RATIO = 200  # unpacked / packed above 64 MB: CSV exports compress 5-20x, a compression bomb ~1000x
RATIO_CHECK_BYTES = 64 * 1024**2
_CHUNK = 8 * 1024**2
COMPRESSED = {b"\x1f\x8b": ("gzip", gzip.GzipFile), b"BZh": ("bzip2", bz2.BZ2File), b"\xfd7zXZ": ("xz", lzma.LZMAFile)}
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


def human_size(n: int) -> str:
    """Bytes in words: 812 bytes, 3.4 KB, 45.8 MB, 1.2 GB."""
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= size:
            return f"{n / size:,.1f} {unit}"
    return f"{n} bytes"


def _bomb_check(size: int, packed: int, name: str) -> None:
    if size > MAX_UNCOMPRESSED_BYTES:
        raise SeqrecError(f"{name} unpacks to more than {MAX_UNCOMPRESSED_BYTES / 1024**3:.0f} GB, more than this tool "
                          f"handles; keep a sample of users (or a recent time window) and try again.")
    if size > RATIO_CHECK_BYTES and size > MAX_RATIO * max(packed, 1):
        raise SeqrecError(f"{name} unpacks to more than {MAX_RATIO} times its compressed size, which real CSV exports "
                          f"never do (it looks like a compression bomb); export the data again and try again.")


def _read_limited(stream, packed: int, name: str) -> bytes:
    """Read a decompressing stream in chunks, stopping as soon as the size or ratio limit is passed."""
    parts, size = [], 0
    while True:
        try:
            chunk = stream.read(_CHUNK)
        except (OSError, EOFError, lzma.LZMAError, zipfile.BadZipFile) as e:
            raise SeqrecError(f"{name} is a damaged compressed file ({str(e).strip().rstrip('.') or 'cut short'}); "
                              f"download or export it again.") from None
        if not chunk:
            return b"".join(parts)
        size += len(chunk)
        _bomb_check(size, packed, name)
        parts.append(chunk)


def _is_excel_zip(z: zipfile.ZipFile) -> bool:
    names = z.namelist()
    return "[Content_Types].xml" in names or any(n.startswith(("xl/", "word/", "ppt/")) for n in names)


def unpack(data: bytes, name: str = "the file") -> tuple[list[tuple[str, bytes]], list[str]]:
    """Compressed bytes -> [(member name, plain bytes)] and notes: .gz, .bz2 and .xz hold one file, a .zip one or
    several CSVs (the content decides, whatever the file is called). Plain bytes come back as they are."""
    for magic, (kind, opener) in COMPRESSED.items():
        if data.startswith(magic):
            with opener(fileobj=io.BytesIO(data)) if kind == "gzip" else opener(io.BytesIO(data)) as f:
                plain = _read_limited(f, len(data), name)
            return [(name, plain)], [f"unpacked {name} ({kind}, {human_size(len(data))} -> "
                                     f"{human_size(len(plain))})"]
    if data.startswith(b"PK\x05\x06"):
        raise SeqrecError(f"{name} is a zip archive with no files in it; zip the CSV export itself and try again.")
    if not data.startswith(b"PK\x03\x04"):
        return [(name, data)], []
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise SeqrecError(f"{name} is a damaged zip archive; download or export it again.") from None
    with z:
        if _is_excel_zip(z):
            raise SeqrecError(f"{name} is an Excel workbook, not a CSV; open it and save/export it as 'CSV UTF-8' "
                              f"and try again.")
        members = [i for i in z.infolist() if not i.is_dir() and not i.filename.startswith("__MACOSX/")
                   and not os.path.basename(i.filename).startswith(".")]
        if not members:
            raise SeqrecError(f"{name} is a zip archive with no files in it; zip the CSV export itself and try again.")
        _bomb_check(sum(i.file_size for i in members), len(data), name)
        out = []
        for info in members:
            if info.flag_bits & 0x1:
                raise SeqrecError(f"{name} is a password-protected zip archive; unzip it yourself and upload the "
                                  f"CSV.")
            try:
                with z.open(info) as f:
                    out.append((f"{name}/{os.path.basename(info.filename)}", _read_limited(f, len(data), name)))
            except NotImplementedError:
                raise SeqrecError(f"{name} uses a zip compression method this tool cannot read; re-zip it with the "
                                  f"standard (deflate) method or unzip it first.") from None
    what = "1 file" if len(out) == 1 else f"{len(out)} files with the same columns, appended"
    return out, [f"unpacked {name} (zip, {what})"]


LEGACY_ENCODINGS = ("cp1252", "latin-1")


def decode_legacy(data: bytes) -> tuple[str, str]:
    """Bytes that are not UTF-8 -> (text, encoding). Windows-1252 (every Western European Excel export), else
    Latin-1 (which decodes any byte); a clearly non-Western text (Cyrillic, Greek, East Asian, ...) with enough
    non-ASCII bytes to be sure gets what charset-normalizer detects instead."""
    order = list(LEGACY_ENCODINGS)
    sample = data[:200_000]
    if sum(b > 127 for b in sample[:20_000]) >= 200:
        try:
            # charset-normalizer: imported only for the rare non-UTF-8 file (it costs ~50 ms to import)
            from charset_normalizer import from_bytes

            best = from_bytes(sample).best()
            guess = best.encoding if best is not None else None
        except Exception:  # not installed or confused: the Western fallbacks
            guess = None
        if guess and guess.replace("-", "_").lower() in NON_LATIN:
            order.insert(0, guess)
    for enc in order:
        try:
            return data.decode(enc), enc
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode("latin-1"), "latin-1"  # never reached: Latin-1 decodes every byte


NON_LATIN = {"cp1251", "windows_1251", "koi8_r", "koi8_u", "iso8859_5", "cp866", "mac_cyrillic", "cp1253", "iso8859_7",
             "cp1255", "iso8859_8", "cp1256", "iso8859_6", "cp874", "tis_620", "shift_jis", "cp932", "euc_jp",
             "iso2022_jp", "gb2312", "gbk", "gb18030", "big5", "big5hkscs", "cp950", "euc_kr", "cp949", "johab"}
# a guess outside these (a Central European or Baltic code page for a Western file, say) is not trusted: Western
# European exports are far more common, and Windows-1252 / Latin-1 read them right
ENCODING_NAMES = {"cp1252": "Windows-1252", "cp1251": "Windows-1251 (Cyrillic)", "cp1253": "Windows-1253 (Greek)",
                  "shift_jis": "Shift JIS", "cp932": "Shift JIS", "gb18030": "GB18030", "gb2312": "GB2312",
                  "big5": "Big5", "euc_kr": "EUC-KR", "koi8_r": "KOI8-R", "latin-1": "Latin-1", "latin_1": "Latin-1",
                  "iso8859_1": "Latin-1",
                  "iso8859_15": "Latin-9 (ISO-8859-15)", "cp1250": "Windows-1250", "mac_roman": "Mac Roman",
                  "cp850": "DOS code page 850", "cp437": "DOS code page 437"}


def decode_text(data: bytes, name: str = "the file", notes: list | None = None) -> str:
    """Bytes -> text. UTF-8 (with or without BOM) and BOM-marked UTF-16 are accepted; anything else is refused."""
    if data.startswith(b"PK\x03\x04"):
        raise SeqrecError(f"{name} is a zip archive inside a compressed file, not a CSV; unzip it and upload the CSV "
                          f"itself.")
    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise SeqrecError(f"{name} is an old Excel (.xls) workbook, not a CSV; save it as 'CSV UTF-8' and try again.")
    if data.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ")):
        raise SeqrecError(f"{name} is compressed twice (a compressed file inside a compressed file); decompress it "
                          f"once and try again.")
    if data.startswith(b"PAR1"):
        raise SeqrecError(f"{name} is a Parquet file (binary data), not a CSV; export the table as a CSV (UTF-8) and "
                          f"try again.")
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
        text, enc = decode_legacy(data)
        if notes is not None:
            notes.append(f"{name} is not UTF-8 (first on line {line}), so it was read as "
                         f"{ENCODING_NAMES.get(enc.lower(), enc)}; check that names with accents look right")
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
    if '"' not in line:
        return [c.strip() for c in line.split(delim)]
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
        counts = [len(_split_simple(line, d)) for line in lines]
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


def _refuse_non_csv_text(text: str, name: str, first_len: int | None = None, breaks: int | None = None) -> None:
    """Text that is plainly not a CSV (a saved web page, JSON, one endless line) gets its own sentence, because the
    generic CSV messages ("only one column") would send the user looking in the wrong place. `text` may be only the
    start of the file when the length of its first line and its number of line breaks are given."""
    head = text[:1000].lstrip()[:200].lower()  # slices, never a copy of a big file
    if head.startswith(("<!doctype html", "<html", "<?xml", "<head", "<body")):
        raise SeqrecError(f"{name} is a web page (HTML/XML), not a CSV; download the CSV file itself rather than the "
                          f"page that links to it, and try again.")
    if re.match(r'(\{\s*"|\[\s*[\{\["\]])', head):
        raise SeqrecError(f"{name} is JSON, not a CSV; export the data as a CSV with one row per interaction (user, "
                          f"item and time columns) and try again.")
    if first_len is None:
        first_break = text.find("\n")
        first_len = len(text) if first_break == -1 else first_break
    if first_len > MAX_LINE_CHARS and (text.count("\n") if breaks is None else breaks) <= 1:
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
        counts = {line.strip().count(ch) for line in lines}
        if len(counts) == 1 and counts.pop() >= 1:
            what = "spaces" if ch == " " else f"'{ch}'"
            return (f"{name} has only one column because its fields are separated by {what}, which is not a supported "
                    f"delimiter; re-export it with commas (or semicolons, tabs or '|') between the user, item and "
                    f"time columns.")
    return (f"{name} has only one column; it needs at least user, item and time columns separated by commas, "
            f"semicolons, tabs or '|'.")


def _blank(data: bytes) -> bool:
    """`not data.strip()` without copying a big file: only a file whose first 64 KB are blank is stripped whole."""
    return not data[:HEAD].strip() and not data.strip()


def read_table(source: Source, name: str | None = None) -> pd.DataFrame:
    """Read one CSV (plain, or compressed as .gz/.bz2/.xz/.zip, whatever the file is called) into a DataFrame of
    strings (IDs stay opaque: "007" and "7" differ). df.attrs["notes"] lists what was done on the way (unpacked,
    decoded from a legacy encoding)."""
    name = name or source_name(source)
    data = read_bytes(source)
    if _blank(data):
        raise SeqrecError(f"{name} is empty; choose a CSV with a header line and one row per interaction "
                          f"(user, item, time).")
    members, notes = unpack(data, name)
    del data
    frames = []
    for member, raw in members:
        if _blank(raw):
            raise SeqrecError(f"{member} is empty; choose a CSV with a header line and one row per interaction "
                              f"(user, item, time).")
        frames.append(_parse_csv(raw, member, notes))
    first = list(frames[0].columns)
    for f, (member, _) in zip(frames[1:], members[1:]):
        if list(f.columns) != first:
            raise SeqrecError(f"{member} has columns {list(f.columns)} but {members[0][0]} has {first}; only files "
                              f"with the same columns can be appended.")
    df = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    df.attrs.update(frames[0].attrs)
    df.attrs["notes"] = notes
    return df


HEAD = 65536  # what the sniffing of delimiter and header looks at


def _plain_utf8(data: bytes) -> bytes | None:
    """The bytes to hand the CSV parser unchanged (a UTF-8 BOM cut off), or None when the file needs the careful
    path: a UTF-16 or legacy encoding, NUL bytes, MovieLens '::' separators or an Excel `sep=` line. The parser
    itself checks that every value is valid UTF-8 (and the careful path takes over when one is not), so a big file is
    never decoded to Python text and encoded back."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    head = body[:HEAD]
    if b"\x00" in head or b"::" in head or head[:4].lower() == b"sep=" or _utf16_without_bom(head):
        return None
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start < len(head) - 4:  # not just a character cut at the end of the sample
            return None
    return body


def _parse_csv(data: bytes, name: str, notes: list) -> pd.DataFrame:
    """Plain bytes of one CSV -> DataFrame of strings (delimiter and header sniffed)."""
    plain = _plain_utf8(data)
    if plain is not None:
        head = plain[:HEAD].decode("utf-8", "ignore")
        first_break = plain.find(b"\n")
        first_len = len(plain) if first_break == -1 else first_break
        _refuse_non_csv_text(head, name, first_len, plain.count(b"\n") if first_len > MAX_LINE_CHARS else 0)
        try:
            return _parse_text(head, len(plain), plain, name)
        except _NotFast:
            pass  # not valid UTF-8 after all, or malformed: the careful path decodes it and names the problem
    text = decode_text(data, name, notes)
    _refuse_non_csv_text(text, name)
    if "::" in text[:4096] and text[:4096].count("::") >= 2 * max(1, text[:4096].count("\n")):
        text = text.replace("::", "\t")  # MovieLens .dat style
    text, declared = _strip_excel_sep_line(text)
    return _parse_text(text[:HEAD], len(text), None, name, text, declared)


class _NotFast(Exception):
    """The fast path cannot read these bytes as they are."""


def _parse_text(head: str, size: int, plain: bytes | None, name: str, text: str | None = None,
                declared: str | None = None) -> pd.DataFrame:
    """Sniff delimiter and header on `head`, then parse `plain` bytes (fast path) or the decoded `text`."""
    # strip 50, not 3,000
    sample_lines = list(itertools.islice((line for line in head.splitlines() if line.strip()), 50))
    if len(sample_lines) and size > HEAD:
        sample_lines = sample_lines[:-1] if len(sample_lines) > 1 else sample_lines  # last may be cut
    if not sample_lines:
        raise SeqrecError(f"{name} is empty; choose a CSV with a header line and one row per interaction "
                          f"(user, item, time).")
    delim = declared or sniff_delimiter(sample_lines)
    rows = [_split_simple(line, delim) for line in sample_lines]
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
    kw = dict(sep=delim, header=0 if has_header else None, dtype=str, keep_default_na=False, na_values=[""])
    if plain is not None:
        try:
            # pyarrow is the engine below anyway; imported here so that without it the careful path still works
            import pyarrow as pa

            # Arrow reads the bytes in place (no copy through a Python file object, no GIL): ~25 ms less a million rows
            df = pd.read_csv(pa.BufferReader(pa.py_buffer(plain)), engine="pyarrow", **kw)
        except Exception:
            raise _NotFast() from None
        return _finish(df, name, has_header, delim, b" " in plain or (delim != "\t" and b"\t" in plain))
    buf = io.BytesIO(text.encode("utf-8"))
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
            raise SeqrecError(f"{name} is empty; choose a CSV with a header line and one row per "
                              f"interaction.") from None
    return _finish(df, name, has_header, delim, " " in text or (delim != "\t" and "\t" in text))


def _finish(df: pd.DataFrame, name: str, has_header: bool, delim: str, spaces: bool) -> pd.DataFrame:
    """Column names, the last checks, and values stripped of surrounding spaces (skipped when the file has none)."""
    if not has_header:
        df.columns = [f"column_{i + 1}" for i in range(df.shape[1])]
    df.columns = [str(c).strip() for c in df.columns]
    if len(df) == 0:
        raise SeqrecError(f"{name} has a header line but no data rows; add one row per interaction.")
    dupes = sorted({c for c in df.columns if list(df.columns).count(c) > 1})
    if dupes:
        raise SeqrecError(f"{name} has duplicate column names {dupes}; rename them so each column is unique.")
    if spaces:
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
    if len(sources) > MAX_FILES:
        raise SeqrecError(f"{len(sources)} files were given; at most {MAX_FILES} can be loaded together. Combine "
                          f"them into fewer files (e.g. one per month or quarter).")
    frames, rows = [], 0
    for s, n in zip(sources, names):
        frames.append(read_table(s, n))
        rows += len(frames[-1])
        if rows > MAX_TOTAL_ROWS:  # refused before the next file is read: one session cannot exhaust the server
            raise SeqrecError(f"The files hold more than {MAX_TOTAL_ROWS:,} rows together (the limit for one "
                              f"session, so the server's memory suffices for everyone); keep fewer or shorter "
                              f"files, or keep only the most recent months.")
    first = list(frames[0].columns)
    for f, s, n in zip(frames[1:], sources[1:], names[1:]):
        if list(f.columns) != first:
            raise SeqrecError(f"{n or source_name(s)} has columns {list(f.columns)} but the first file has {first}; "
                              f"only files with the same columns can be appended.")
    if len(frames) == 1:
        return frames[0]
    out = pd.concat(frames, ignore_index=True)
    out.attrs.update(frames[0].attrs)
    out.attrs["notes"] = [n for f in frames for n in f.attrs.get("notes", [])]
    return out
