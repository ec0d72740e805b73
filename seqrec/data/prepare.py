"""Loading and validating interaction logs: CSV bytes -> a clean, time-ordered table of (user, item, time).

Every problem a user can fix is raised as one SeqrecError whose message names the problem, where it is, and the fix.
"""
from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass, field, asdict
from pathlib import Path
from typing import Sequence, Union

import numpy as np
import pandas as pd

from seqrec.errors import SeqrecError

Source = Union[str, os.PathLike, bytes, bytearray, io.IOBase]

MAX_FILE_BYTES = 2 * 1024**3  # beyond this an in-app, in-memory trainer is the wrong tool
DELIMITERS = [",", ";", "\t", "|"]

USER_NAMES = ["user_id", "userid", "user", "users", "uid", "user_key", "customer_id", "customerid", "customer",
              "client_id", "visitorid", "visitor_id", "visitor", "session_id", "sessionid", "session", "member_id",
              "account_id", "reviewerid", "reviewer_id", "person_id", "viewer_id", "listener_id", "player_id"]
ITEM_NAMES = ["item_id", "itemid", "item", "items", "iid", "movieid", "movie_id", "movie", "product_id",
              "productid", "product", "sku", "asin", "article_id", "articleid", "track_id", "trackid", "song_id",
              "book_id", "isbn", "video_id", "content_id", "object_id", "track", "song", "book", "game_id",
              "artist_id", "recipe_id", "business_id", "course_id", "poi_id", "venue_id", "url", "page", "page_id"]
TIME_NAMES = ["timestamp", "time", "ts", "datetime", "date", "event_time", "eventtime", "time_stamp",
              "created_at", "created", "event_date", "date_time", "unix_time", "unixtime", "epoch", "when",
              "occurred_at", "played_at", "watched_at", "viewed_at", "purchased_at", "order_date", "t"]
EVENT_NAMES = ["event", "event_type", "eventtype", "action", "action_type", "type", "interaction",
               "interaction_type", "behavior", "behaviour", "event_name"]
RATING_NAMES = ["rating", "ratings", "score", "stars", "weight", "value", "rate", "overall", "review_score"]


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).strip().lower())


@dataclass
class ColumnMap:
    """Which CSV column plays which role. user, item and time are required; event and rating are optional."""

    user: str
    item: str
    time: str
    event: str | None = None
    rating: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Filters:
    """What to keep. Defaults keep everything a leave-last-out split can use (3+ events per user)."""

    min_user_interactions: int = 3
    min_item_count: int = 1
    max_events_per_user: int | None = None
    remove_repeats: bool = False
    min_rating: float | None = None
    event_types: Sequence[str] | None = None

    def validate(self, training: bool = True) -> "Filters":
        """Training needs 3+ events per user; recommending after each history (training=False) needs only 1."""
        problems = []
        least = 3 if training else 1
        if not isinstance(self.min_user_interactions, int) or self.min_user_interactions < least:
            why = ", because each user needs a training, a validation and a test item" if training else ""
            problems.append(f"minimum interactions per user must be a whole number of at least {least}{why} "
                            f"(got {self.min_user_interactions!r})")
        if not isinstance(self.min_item_count, int) or self.min_item_count < 1:
            problems.append(f"minimum item count must be a whole number of at least 1 (got {self.min_item_count!r})")
        if self.max_events_per_user is not None and (not isinstance(self.max_events_per_user, int)
                                                     or self.max_events_per_user < 3):
            problems.append(f"maximum events per user must be empty or a whole number of at least 3 "
                            f"(got {self.max_events_per_user!r})")
        if problems:
            raise SeqrecError("Invalid data filters: " + "; ".join(problems) + ".")
        return self


@dataclass
class Interactions:
    """A validated, filtered log sorted by user then time (ties in file order).

    `df` has string columns `user`, `item`, a float column `time` (seconds since the epoch when the file held real
    dates, otherwise the file's own numbers), and optional `event` / `rating` columns.
    """

    df: pd.DataFrame
    columns: ColumnMap
    time_is_datetime: bool
    raw_rows: int
    notes: list[str] = field(default_factory=list)

    @property
    def n_users(self) -> int:
        return int(self.df["user"].nunique())

    @property
    def n_items(self) -> int:
        return int(self.df["item"].nunique())

    def __len__(self) -> int:
        return len(self.df)


# ----------------------------------------------------------------------------------------------------------------
# Reading bytes
# ----------------------------------------------------------------------------------------------------------------

def _name_of(source) -> str:
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
        raise SeqrecError(f"{_name_of(source)} is more than 2 GB; keep a sample of users (or a recent time window) "
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
    names = {_norm(n) for n in USER_NAMES + ITEM_NAMES + TIME_NAMES + EVENT_NAMES + RATING_NAMES}
    if any(_norm(c) in names for c in first):
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
MAX_ID_CHARS = 10_000  # longer "IDs" are a broken delimiter or quote swallowing the rest of the file


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
    name = name or _name_of(source)
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
            raise SeqrecError(f"{n or _name_of(s)} has columns {list(f.columns)} but the first file has {first}; "
                              f"only files with the same columns can be appended.")
    if len(frames) == 1:
        return frames[0]
    out = pd.concat(frames, ignore_index=True)
    out.attrs.update(frames[0].attrs)
    return out


# ----------------------------------------------------------------------------------------------------------------
# Column roles
# ----------------------------------------------------------------------------------------------------------------

def _find(columns: list[str], candidates: list[str], taken: set[str]) -> list[str]:
    normed = {c: _norm(c) for c in columns if c not in taken}
    order = [_norm(x) for x in candidates]
    hits = [c for c in normed if normed[c] in order]
    hits.sort(key=lambda c: order.index(normed[c]))
    if not hits:  # looser: a column whose name ends in a candidate ("customer_user_id") or contains it
        for cand in order:
            hits += [c for c, n in normed.items() if len(cand) > 3 and (n.endswith(cand) or n.startswith(cand))
                     and c not in hits]
    return hits


def _content_roles(df: pd.DataFrame) -> dict:
    """For a headerless file: guess roles from the values (epoch-like column = time, small-range numeric = rating)."""
    sample = df.head(2000)
    roles: dict = {}
    cols = list(df.columns)
    numeric = {c: pd.to_numeric(sample[c], errors="coerce") for c in cols}
    time_col = None
    for c in cols:
        v = numeric[c]
        if v.notna().all() and len(v) and v.min() > 1e8:
            time_col = c
            break
    if time_col is None:
        for c in cols:
            parsed = pd.to_datetime(sample[c], errors="coerce", format="mixed", utc=True) \
                if not numeric[c].notna().all() else None
            if parsed is not None and parsed.notna().mean() > 0.9:
                time_col = c
                break
    rest = [c for c in cols if c != time_col]
    rating_col = None
    if len(rest) > 2:
        for c in rest[2:]:
            v = numeric[c]
            if v.notna().all() and v.min() >= 0 and v.max() <= 10:
                rating_col = c
                break
    if time_col is not None and len(rest) >= 2:
        roles = dict(user=rest[0], item=rest[1], time=time_col, rating=rating_col)
    return roles


def guess_columns(df: pd.DataFrame) -> dict:
    """Best guess of each role's column from common names (None where nothing fits). A role two columns claim
    equally ('user_id' and 'User ID') is left None, so the user picks one instead of us picking silently."""
    guess, ambiguous = _guess_roles(df)
    return {role: (None if role in ambiguous else col) for role, col in guess.items()}


def _ambiguous_roles(cols: list[str], guess: dict) -> dict:
    """role -> (guessed column, its twin) where another column has the same name up to case and punctuation."""
    names = {"user": USER_NAMES, "item": ITEM_NAMES, "time": TIME_NAMES}
    out = {}
    for role, cands in names.items():
        chosen = guess.get(role)
        if chosen:
            twins = [c for c in cols if c != chosen and _norm(c) == _norm(chosen)
                     and _norm(c) in {_norm(n) for n in cands}]
            if twins:
                out[role] = (chosen, twins[0])
    return out


def _guess_roles(df: pd.DataFrame) -> tuple[dict, dict]:
    """(first-choice column per role, ambiguous roles) from the column names, or the values for a headerless file."""
    cols = list(df.columns)
    if not df.attrs.get("has_header", True):
        roles = _content_roles(df)
        if roles:
            return {**dict(user=None, item=None, time=None, event=None, rating=None), **roles}, {}
    taken: set[str] = set()
    out = {}
    for role, cands in (("user", USER_NAMES), ("item", ITEM_NAMES), ("time", TIME_NAMES),
                        ("event", EVENT_NAMES), ("rating", RATING_NAMES)):
        hits = _find(cols, cands, taken)
        out[role] = hits[0] if hits else None
        if hits:
            taken.add(hits[0])
    if out["time"] is None:  # unusual name: fall back to the values (an epoch-like or date column)
        by_content = _content_roles(df[[c for c in cols if c not in taken or c in (out["user"], out["item"])]])
        if by_content.get("time") and by_content["time"] not in taken:
            out["time"] = by_content["time"]
    return out, _ambiguous_roles(cols, out)


def resolve_columns(df: pd.DataFrame, user: str | None = None, item: str | None = None, time: str | None = None,
                    event: str | None = None, rating: str | None = None) -> ColumnMap:
    """Merge the caller's choices with the guesses; raise one message listing every missing/unknown column."""
    guess, ambiguous = _guess_roles(df)
    chosen = dict(user=user or guess["user"], item=item or guess["item"], time=time or guess["time"],
                  event=event if event is not None else guess["event"],
                  rating=rating if rating is not None else guess["rating"])
    cols = list(df.columns)
    problems = []
    for role, given in (("user", user), ("item", item), ("time", time), ("event", event), ("rating", rating)):
        if given and given not in cols:
            problems.append(f"the {role} column '{given}' is not in the file")
    given_by_caller = {"user": user, "item": item, "time": time}
    for role, flag in (("user", "--user-col"), ("item", "--item-col"), ("time", "--time-col")):
        if not given_by_caller[role] and role in ambiguous:
            a, b = ambiguous[role]
            problems.append(f"the {role} column is ambiguous: both '{a}' and '{b}' could be it (pick one in the "
                            f"column choice, or with {flag} on the command line)")
        elif not chosen[role]:
            example = "timestamp" if role == "time" else f"{role}_id"
            problems.append(f"no {role} column was found (name it e.g. '{example}', or pick it in the column "
                            f"choice, or with {flag} on the command line)")
    req = [chosen["user"], chosen["item"], chosen["time"]]
    if not problems and len(set(req)) < 3:
        problems.append(f"user, item and time must be three different columns (got {req})")
    if problems:
        raise SeqrecError("Cannot map the columns: " + "; ".join(problems) + f"; the file's columns are {cols}.")
    for opt in ("event", "rating"):
        if chosen[opt] in req or chosen[opt] == "":
            chosen[opt] = None
    if chosen["event"] and chosen["event"] == chosen["rating"]:
        chosen["rating"] = None
    return ColumnMap(**chosen)


# ----------------------------------------------------------------------------------------------------------------
# Timestamps
# ----------------------------------------------------------------------------------------------------------------

EPOCH = pd.Timestamp("1970-01-01", tz="UTC")
LATEST_YEAR = 2100  # later "times" are placeholders (9999-12-31) or a wrong unit, never real events
_LATEST_SECONDS = (pd.Timestamp(f"{LATEST_YEAR}-01-01", tz="UTC") - EPOCH).total_seconds()
_SECONDS_PER_YEAR = 365.2425 * 86400
RELATIVE_WORDS = {"now", "today", "yesterday", "tomorrow"}  # pandas would read some as the current date
MISSING_ID_TOKENS = ["nan", "NaN", "NAN", "null", "NULL", "Null", "none", "None", "NONE", "N/A", "n/a", "#N/A",
                     "<NA>", "NaT"]  # what exports write for a missing value; never a real user or item ID


def _example(value, limit: int = 40) -> str:
    """A value quoted for a message, shortened: a 1 MB cell must not become a 1 MB error message."""
    text = str(value)
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def _sentence(problem: tuple[str, str]) -> str:
    """(what is wrong, how to fix it) -> one sentence."""
    what, fix = problem
    return f"{what[0].upper()}{what[1:]}; {fix}."


def parse_times(values: pd.Series, column: str, row_offset: int = 2) -> tuple[np.ndarray, bool]:
    """Timestamps -> float seconds. Integers/floats are epoch seconds, milliseconds, microseconds or nanoseconds
    (or plain ordering numbers); strings are dates. Returns (seconds, is_datetime)."""
    secs, is_dt, problem = _parse_times(values, column, row_offset)
    if problem:
        raise SeqrecError(_sentence(problem))
    return secs, is_dt


def _to_numbers(s: pd.Series) -> pd.Series:
    """pd.to_numeric(s, errors="coerce"), fast for the usual all-numeric column: Arrow's cast reads a million
    strings in ~10 ms where pandas takes ~250 ms. Anything Arrow refuses (a blank, a word) goes the pandas way."""
    try:
        import pyarrow as pa
        import pyarrow.compute as pc

        numbers = pc.cast(pa.array(s), pa.float64()).to_numpy(zero_copy_only=False)
        return pd.Series(numbers, index=s.index)
    except Exception:  # not Arrow-backed strings, or a value that is not a plain number
        return pd.to_numeric(s, errors="coerce")


def _parse_times(values: pd.Series, column: str, row_offset: int):
    """(seconds, is_datetime, None) or (None, False, (what, fix)) so prepare can report it beside other problems."""
    s = values.astype("str")
    missing = values.isna().to_numpy()
    if missing.any():
        line = int(np.flatnonzero(missing)[0]) + row_offset
        return None, False, (f"the time column '{column}' has {int(missing.sum()):,} empty value(s) (first on line "
                             f"{line})", "fill them in or delete those rows")
    num = _to_numbers(s)
    is_num = num.notna().to_numpy()
    if is_num.all():
        return _epoch_seconds(num.to_numpy(dtype="float64"), s, column, row_offset)
    text_rows = np.flatnonzero(~is_num)
    dates = _parse_dates(s.iloc[text_rows])
    bad = text_rows[dates.isna().to_numpy()]
    if len(bad):
        return None, False, (f"the time column '{column}' has {len(bad):,} value(s) that are neither numbers nor "
                             f"dates, e.g. {_example(s.iloc[bad[0]])} on line {bad[0] + row_offset}",
                             "use epoch seconds/milliseconds or dates like 2024-05-01 13:45:00, or choose the right "
                             "time column")
    if is_num.any():
        first_num, first_date = int(np.flatnonzero(is_num)[0]), int(text_rows[0])
        return None, False, (f"the time column '{column}' mixes numbers and dates: {int(is_num.sum()):,} value(s) are "
                             f"numbers (e.g. {_example(s.iloc[first_num])} on line {first_num + row_offset}) and "
                             f"{len(text_rows):,} are dates (e.g. {_example(s.iloc[first_date])} on line "
                             f"{first_date + row_offset})", "export every time in one format (all dates or all "
                             "epoch seconds) and try again")
    secs = (dates - EPOCH).dt.total_seconds().to_numpy(dtype="float64")
    return _refuse_far_future(secs, s, column, row_offset)


def _parse_dates(s: pd.Series) -> pd.Series:
    """Date strings -> UTC timestamps (NaT where unreadable); 'today' and friends are not dates in a log."""
    dt = pd.to_datetime(s, errors="coerce", utc=True, format="ISO8601")
    if dt.isna().any():
        dt = dt.where(dt.notna(), pd.to_datetime(s, errors="coerce", utc=True, format="mixed"))
    return dt.where(~s.str.strip().str.lower().isin(RELATIVE_WORDS).to_numpy())


def _epoch_seconds(v: np.ndarray, s: pd.Series, column: str, row_offset: int):
    """Numbers -> seconds. The unit comes from the typical (median) magnitude, so one wrong value cannot rescale
    the whole column; it is refused instead."""
    if not np.isfinite(v).all():
        line = int(np.flatnonzero(~np.isfinite(v))[0]) + row_offset
        return None, False, (f"the time column '{column}' holds infinite numbers (first on line {line})",
                             "use epoch seconds or dates")
    typical = float(np.median(np.abs(v))) if len(v) else 0.0
    scale = 1e9 if typical >= 1e17 else 1e6 if typical >= 1e14 else 1e3 if typical >= 1e11 else 1.0
    secs = v / scale
    if typical / scale < 1e8:
        return secs, False, None  # plain ordering numbers (any sign): they only order each user's events
    negative = np.flatnonzero(secs < 0)
    if len(negative):
        i = int(negative[0])
        return None, False, (f"the time column '{column}' has {len(negative):,} negative value(s) among epoch "
                             f"timestamps, e.g. {_example(s.iloc[i])} on line {i + row_offset}",
                             "an epoch time cannot be before 1970, so fix or delete those rows and try again")
    return _refuse_far_future(secs, s, column, row_offset)


def _refuse_far_future(secs: np.ndarray, s: pd.Series, column: str, row_offset: int):
    late = np.flatnonzero(secs >= _LATEST_SECONDS)
    if len(late):
        i = int(late[0])
        year = int(1970 + secs[i] / _SECONDS_PER_YEAR)
        return None, False, (f"the time column '{column}' has {len(late):,} value(s) after the year {LATEST_YEAR}, "
                             f"e.g. {_example(s.iloc[i])} on line {i + row_offset} (the year {year})",
                             "placeholders like 9999-12-31 or a wrong unit are the usual cause, so fix or delete "
                             "those rows and try again")
    return secs, True, None


# ----------------------------------------------------------------------------------------------------------------
# Building the clean table
# ----------------------------------------------------------------------------------------------------------------

def _id_problem(values: pd.Series, role: str, column: str, row_offset: int) -> tuple[str, str] | None:
    """Empty, NaN/null or absurdly long user/item IDs, as (what, fix); None when the column is fine."""
    tokens = values.isin(MISSING_ID_TOKENS).to_numpy()
    missing = values.isna().to_numpy() | tokens
    if missing.any():
        line = int(np.flatnonzero(missing)[0]) + row_offset
        if tokens.any():
            words = ", ".join(repr(t) for t in pd.unique(values[tokens])[:3])
            what = (f"the {role} column '{column}' has {int(missing.sum()):,} empty or missing value(s) such as "
                    f"{words} (first on line {line})")
        else:
            what = f"the {role} column '{column}' has {int(missing.sum()):,} empty value(s) (first on line {line})"
        return what, "fill them in or delete those rows"
    lengths = values.astype("str").str.len().to_numpy()
    too_long = np.flatnonzero(lengths > MAX_ID_CHARS)
    if len(too_long):
        i = int(too_long[0])
        return (f"the {role} column '{column}' has {len(too_long):,} value(s) longer than {MAX_ID_CHARS:,} characters "
                f"(on line {i + row_offset}: {int(lengths[i]):,} characters)",
                "no ID is that long, so check the delimiter and the quotes on that line")
    return None


def _problems_message(problems: list[tuple[str, str]], name: str) -> str:
    """One sentence for one problem or several (each named, then one fix)."""
    if len(problems) == 1:
        what, fix = problems[0]
        return f"In {name}, {what}; {fix}."
    return (f"{name} has {len(problems)} problems: " + "; ".join(what for what, _ in problems)
            + "; fix these rows or choose other columns, then try again.")


def _user_time_order(out: pd.DataFrame) -> np.ndarray:
    """Row positions sorted by user, then time, ties in file order (rows are in file order): what a stable
    sort_values(["user", "time", "_row"]) gives, on integer codes, which is faster on a million string IDs."""
    users = pd.factorize(out["user"], sort=True)[0]
    users = users.astype(np.uint16) if len(users) and users.max() < 2**16 else users  # radix sort for < 65,536 users
    by_time = np.argsort(out["time"].to_numpy(), kind="stable")
    return by_time[np.argsort(users[by_time], kind="stable")]


def _drop_exact_duplicates(out: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Rows identical in every mapped column (same user, item and time) are one event logged twice: keep the first."""
    dup = out.duplicated(subset=[c for c in out.columns if c != "_row"]).to_numpy()
    return (out[~dup], int(dup.sum())) if dup.any() else (out, 0)


def _require_sequences(out: pd.DataFrame, name: str) -> None:
    """Refuse data that can never train, whatever the filters: one item (nothing to rank) or users who all have
    fewer events than a train / validation / test split needs."""
    items = out["item"].unique()
    if len(items) < 2:
        raise SeqrecError(f"{name} has only one distinct item ({_example(items[0])}), so there is nothing to rank; a "
                          f"recommender needs at least 2 different items (ideally hundreds), so check that the item "
                          f"column is the right one.")
    longest = int(out["user"].value_counts().max())
    if longest < 3:
        have = "only one interaction per user" if longest == 1 else f"at most {longest} interactions per user"
        raise SeqrecError(f"{name} has {have}, but a next-item model needs at least 3 per user (one to learn from, "
                          f"one to validate, one to test); check that the user column identifies a person or a "
                          f"session, not an order or a single row.")


def prepare(df: pd.DataFrame, columns: ColumnMap, filters: Filters | None = None, name: str = "the file",
            training: bool = True) -> Interactions:
    """Validate the mapped columns, parse times, sort per user by time (ties in file order) and apply filters.
    All problems with the raw values are collected and reported together. training=False (histories to recommend
    after, not a split) accepts users with fewer than 3 events."""
    filters = (filters or Filters()).validate(training)
    raw_rows = len(df)
    row_offset = 2 if df.attrs.get("has_header", True) else 1
    problems = []
    for role in ("user", "item"):
        col = getattr(columns, role)
        problem = _id_problem(df[col], role, col, row_offset)
        if problem:
            problems.append(problem)
    times, is_dt, time_problem = _parse_times(df[columns.time], columns.time, row_offset)
    if time_problem:
        problems.append(time_problem)
    rating = None
    if columns.rating:
        raw_rating = df[columns.rating]
        if df.attrs.get("delimiter", ",") != ",":  # e.g. ';' files from European spreadsheets write 4,5 for 4.5
            raw_rating = raw_rating.str.replace(",", ".", regex=False)
        rating = pd.to_numeric(raw_rating, errors="coerce")
        if filters.min_rating is not None:
            bad = rating.isna() & df[columns.rating].notna()
            if bad.any():
                i = int(np.flatnonzero(bad.to_numpy())[0])
                problems.append((f"the rating column '{columns.rating}' has {int(bad.sum()):,} non-numeric value(s), "
                                 f"e.g. {_example(df[columns.rating].iloc[i])} on line {i + row_offset}, so it "
                                 f"cannot be filtered by a minimum rating", "fix those rows or remove the rating "
                                 "filter"))
    elif filters.min_rating is not None:
        problems.append(("a minimum rating was asked for but no rating column is mapped",
                         "choose the rating column or remove the rating filter"))
    if filters.event_types and not columns.event:
        problems.append(("event types to keep were given but no event-type column is mapped",
                         "choose the event-type column or remove the event filter"))
    if problems:
        raise SeqrecError(_problems_message(problems, name))
    out = pd.DataFrame({"user": df[columns.user].astype("str").array,  # .array: no round trip through Python
                        "item": df[columns.item].astype("str").array,  # strings (1M IDs: ~0.15 s saved)
                        "time": times})
    if columns.event:
        out["event"] = df[columns.event].astype("str").fillna("").to_numpy()
    if rating is not None:
        out["rating"] = rating.to_numpy()
    out["_row"] = np.arange(len(out))
    notes = []
    out, n_dupes = _drop_exact_duplicates(out)
    if n_dupes:
        notes.append(f"removed {n_dupes:,} exact duplicate row(s) (same user, item and time as an earlier row)")
    if training:
        _require_sequences(out, name)
    if filters.event_types:
        keep = set(map(str, filters.event_types))
        out = out[out["event"].isin(keep)]
        notes.append(f"kept event types {sorted(keep)}")
        _require_rows(out, f"no row has an event type in {sorted(keep)}; check the event filter")
    if filters.min_rating is not None:
        out = out[out["rating"] >= filters.min_rating]
        notes.append(f"kept ratings >= {filters.min_rating:g}")
        _require_rows(out, f"no row has a rating of at least {filters.min_rating:g}; lower the rating filter")
    out = out.iloc[_user_time_order(out)]
    if filters.remove_repeats:
        same = (out["user"].to_numpy()[1:] == out["user"].to_numpy()[:-1]) & \
               (out["item"].to_numpy()[1:] == out["item"].to_numpy()[:-1])
        out = out[np.concatenate([[True], ~same])]
    if filters.max_events_per_user:
        pos_from_end = out.groupby("user", sort=False).cumcount(ascending=False)
        out = out[pos_from_end.to_numpy() < filters.max_events_per_user]
    if filters.min_item_count > 1:
        counts = out["item"].map(out["item"].value_counts())
        out = out[counts.to_numpy() >= filters.min_item_count]
        _require_rows(out, f"no item occurs at least {filters.min_item_count} times; lower the minimum item count")
    sizes = out.groupby("user", sort=False)["item"].transform("size")
    out = out[sizes.to_numpy() >= filters.min_user_interactions]
    _require_rows(out, f"no user has at least {filters.min_user_interactions} interactions after filtering; "
                       f"lower the minimum interactions per user or the minimum item count")
    n_users = out["user"].nunique()
    if training and n_users < 2:
        raise SeqrecError(f"Only {n_users} user has enough interactions after filtering; at least 2 users (ideally "
                          f"hundreds) are needed to train and evaluate, so add data or relax the filters.")
    if training and out["item"].nunique() < 2:
        raise SeqrecError("Only one item is left after filtering, so there is nothing to rank; relax the filters "
                          "(minimum item count, event types or minimum rating).")
    out = out.drop(columns="_row").reset_index(drop=True)
    return Interactions(out, columns, is_dt, raw_rows, notes)


def _require_rows(df: pd.DataFrame, why: str):
    if len(df) == 0:
        raise SeqrecError(f"Nothing is left after filtering: {why}.")


def load_interactions(sources: Source | Sequence[Source], user: str | None = None, item: str | None = None,
                      time: str | None = None, event: str | None = None, rating: str | None = None,
                      filters: Filters | None = None, names: Sequence[str] | None = None,
                      training: bool = True) -> Interactions:
    """The whole data layer in one call: read (one or several files), map columns, validate, sort and filter."""
    if not isinstance(sources, (list, tuple)):
        sources = [sources]
    df = read_tables(sources, names)
    cols = resolve_columns(df, user, item, time, event, rating)
    name = (names[0] if names else None) or _name_of(sources[0])
    return prepare(df, cols, filters, name, training)


# ----------------------------------------------------------------------------------------------------------------
# Statistics
# ----------------------------------------------------------------------------------------------------------------

def dataset_stats(data: Interactions, top_n: int = 10) -> dict:
    """Users, items, interactions, sequence-length distribution, sparsity, most popular items and time span."""
    df = data.df
    lengths = df.groupby("user", sort=False).size().to_numpy()
    item_counts = df["item"].value_counts()
    n_users, n_items, n = len(lengths), len(item_counts), len(df)
    pop = item_counts.head(top_n)
    tmin, tmax = float(df["time"].min()), float(df["time"].max())
    span = dict(start=tmin, end=tmax, is_datetime=data.time_is_datetime)
    if data.time_is_datetime:
        span["start"] = pd.Timestamp(tmin, unit="s", tz="UTC").isoformat()
        span["end"] = pd.Timestamp(tmax, unit="s", tz="UTC").isoformat()
        span["days"] = round((tmax - tmin) / 86400, 2)
    return {
        "users": n_users,
        "items": n_items,
        "interactions": n,
        "rows_in_file": data.raw_rows,
        "sequence_length": {
            "min": int(lengths.min()), "median": float(np.median(lengths)), "mean": round(float(lengths.mean()), 2),
            "p90": float(np.percentile(lengths, 90)), "max": int(lengths.max()),
        },
        "sparsity": round(1.0 - n / (n_users * n_items), 6),
        "most_popular": [{"item": str(k), "count": int(v)} for k, v in pop.items()],
        "time_span": span,
        "columns": data.columns.to_dict(),
        "filters_applied": data.notes,
    }


# ----------------------------------------------------------------------------------------------------------------
# Item metadata (titles and categories)
# ----------------------------------------------------------------------------------------------------------------

TITLE_NAMES = ["title", "name", "item_name", "product_name", "movie_title", "label", "display_name", "track_name",
               "song", "book_title"]
CATEGORY_NAMES = ["category", "genre", "genres", "categories", "department", "type", "class", "section", "artist"]


def load_item_metadata(source: Source, name: str | None = None) -> pd.DataFrame:
    """Item metadata CSV -> DataFrame indexed by item id (string) with `title` and `category` columns."""
    name = name or _name_of(source)
    df = read_table(source, name)
    cols = list(df.columns)
    item = _find(cols, ITEM_NAMES + ["id"], set())
    if not item:
        raise SeqrecError(f"{name} has no item id column (looked for names like item_id, movieId, product_id), so "
                          f"rename its id column to item_id; its columns are {cols}.")
    title = _find(cols, TITLE_NAMES, {item[0]})
    cat = _find(cols, CATEGORY_NAMES, {item[0]} | set(title[:1]))
    if not title and not cat:
        raise SeqrecError(f"{name} has no title or category column (looked for title, name, category, genre), so "
                          f"add a 'title' column; its columns are {cols}.")
    out = pd.DataFrame({"item": df[item[0]].astype("str")})
    out["title"] = df[title[0]].astype("str").fillna("") if title else out["item"]
    out["category"] = df[cat[0]].astype("str").fillna("") if cat else ""
    out = out.drop_duplicates("item").set_index("item")
    return out
