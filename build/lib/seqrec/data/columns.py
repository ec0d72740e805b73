"""Column roles: which column of a file is the user, the item, the time (and optionally event type and rating),
guessed from common names (or, for a headerless file, from the values) and checked against the caller's choices."""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import pandas as pd

from seqrec.errors import SeqrecError

USER_NAMES = ["user_id", "userid", "user", "users", "uid", "user_key", "customer_id", "customerid", "customer",
              "client_id", "visitorid", "visitor_id", "visitor", "session_id", "sessionid", "session", "member_id",
              "account_id", "reviewerid", "reviewer_id", "person_id", "viewer_id", "listener_id", "player_id",
              "steamid", "steam_id", "shopper_id", "buyer_id", "cust_id", "member", "profile_id", "device_id"]
SESSION_NAMES = ["session_id", "sessionid", "session", "visit_id", "visitid", "ga_session_id"]
ITEM_NAMES = ["item_id", "itemid", "item", "items", "iid", "movieid", "movie_id", "movie", "product_id",
              "productid", "product", "sku", "asin", "article_id", "articleid", "track_id", "trackid", "song_id",
              "book_id", "isbn", "video_id", "content_id", "object_id", "track", "song", "book", "game_id",
              "artist_id", "recipe_id", "business_id", "course_id", "poi_id", "venue_id", "url", "page", "page_id",
              "stockcode", "stock_code", "product_code", "productcode", "item_code", "itemcode", "sku_id", "appid",
              "app_id", "parent_asin", "ean", "upc", "gtin", "article", "item_sku", "variant_id", "offer_id"]
TIME_NAMES = ["timestamp", "time", "ts", "datetime", "date", "event_time", "eventtime", "time_stamp",
              "created_at", "created", "event_date", "date_time", "unix_time", "unixtime", "epoch", "when",
              "occurred_at", "played_at", "watched_at", "viewed_at", "purchased_at", "order_date", "t",
              "invoicedate", "invoice_date", "eventdate", "event_timestamp", "timeframe", "date_added", "review_time",
              "unixreviewtime"]
EVENT_NAMES = ["event", "event_type", "eventtype", "action", "action_type", "type", "interaction",
               "interaction_type", "behavior", "behaviour", "event_name", "activity"]
RATING_NAMES = ["rating", "ratings", "score", "stars", "weight", "value", "rate", "overall", "review_score"]


def norm_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).strip().lower())


FILE_ORDER = "(file order)"  # a time "column" to choose when a file has none and its rows are already in order


@dataclass
class ColumnMap:
    """Which CSV column plays which role. user, item and time are required (time may be FILE_ORDER, chosen for a
    file whose rows are already in time order: each user's rows are then taken in the order they appear); event
    and rating are optional."""

    user: str
    item: str
    time: str
    event: str | None = None
    rating: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def find_columns(columns: list[str], candidates: list[str], taken: set[str]) -> list[str]:
    normed = {c: norm_name(c) for c in columns if c not in taken}
    order = [norm_name(x) for x in candidates]
    hits = [c for c in normed if normed[c] in order]
    hits.sort(key=lambda c: order.index(normed[c]))
    if not hits:  # looser: a column whose name ends in a candidate ("customer_user_id") or contains it
        for cand in order:
            hits += [c for c, n in normed.items() if len(cand) > 3 and (n.endswith(cand) or n.startswith(cand))
                     and c not in hits]
    return hits


def _epoch_band(v: pd.Series) -> bool:
    """Every value is an epoch time from 1990 to 2100 in one unit (seconds, milli-, micro- or nanoseconds)."""
    lo, hi = float(v.min()), float(v.max())
    return any(6.3e8 * f <= lo and hi < 4.1e9 * f for f in (1, 1e3, 1e6, 1e9))


def _content_roles(df: pd.DataFrame) -> dict:
    """For a headerless file: guess roles from the values (dates or epoch-like numbers = time, small-range numeric =
    rating). A column of date strings is the time before any number (9-digit item IDs look like 1970s epoch
    seconds); among epoch-like numeric columns, one whose values all fall in 1990-2100 wins, then the last one
    (u.data, ratings.dat and Amazon's ratings put the time last, after 10-digit ISBN-like item codes). Codes written
    with a leading zero are IDs, never times."""
    sample = df.head(2000)
    roles: dict = {}
    cols = list(df.columns)
    numeric = {c: pd.to_numeric(sample[c], errors="coerce") for c in cols}
    time_col = None
    for c in cols:
        if numeric[c].notna().all() or pd.to_datetime(sample[c].head(20), errors="coerce", format="mixed",
                                                      utc=True).notna().mean() < 0.5:  # (a quick look first)
            continue
        parsed = pd.to_datetime(sample[c], errors="coerce", format="mixed", utc=True)
        if parsed.notna().mean() > 0.9:
            time_col = c
            break
    if time_col is None:
        epochs = []
        for c in cols:
            v = numeric[c]
            if v.notna().all() and len(v) and v.min() > 1e8 and \
                    not sample[c].astype(str).str.match(r"\s*0\d").any():
                epochs.append((_epoch_band(v), cols.index(c), c))
        if epochs:
            time_col = max(epochs)[2]
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
            twins = [c for c in cols if c != chosen and norm_name(c) == norm_name(chosen)
                     and norm_name(c) in {norm_name(n) for n in cands}]
            if twins:
                out[role] = (chosen, twins[0])
    return out


def _guess_roles(df: pd.DataFrame) -> tuple[dict, dict]:
    """(first-choice column per role, ambiguous roles) from the column names, or the values for a headerless file."""
    guess, ambiguous, _ = _guess_with_reasons(df)
    return guess, ambiguous


def explain_columns(df: pd.DataFrame) -> dict:
    """role -> (guessed column or None, why it was taken, in words), for the page and the CLI to show."""
    guess, ambiguous, reasons = _guess_with_reasons(df)
    out = {}
    for role, col in guess.items():
        if role in ambiguous:
            a, b = ambiguous[role]
            out[role] = (None, f"both '{a}' and '{b}' could be it: pick one")
        elif col is None:
            out[role] = (None, "no column looks like it" if role in ("user", "item", "time") else "none found")
        else:
            out[role] = (col, reasons.get(role, "its name"))
    return out


MOSTLY_EMPTY = 0.5  # a user column emptier than this beside a session column is not the sequence key


def _empty_share(values: pd.Series) -> float:
    sample = values.iloc[: 200_000]
    return float(sample.isna().mean()) if len(sample) else 0.0


def _guess_with_reasons(df: pd.DataFrame) -> tuple[dict, dict, dict]:
    cols = list(df.columns)
    if not df.attrs.get("has_header", True):
        roles = _content_roles(df)
        if roles:
            why = {"user": "headerless file: the first ID-like column", "item": "headerless file: the next ID-like "
                   "column", "time": "headerless file: its values are epoch times or dates",
                   "rating": "headerless file: small numbers (0 to 10)"}
            return {**dict(user=None, item=None, time=None, event=None, rating=None), **roles}, {}, why
    taken: set[str] = set()
    out, reasons = {}, {}
    for role, cands in (("user", USER_NAMES), ("item", ITEM_NAMES), ("time", TIME_NAMES),
                        ("event", EVENT_NAMES), ("rating", RATING_NAMES)):
        hits = find_columns(cols, cands, taken)
        out[role] = hits[0] if hits else None
        if hits:
            taken.add(hits[0])
            exact = norm_name(hits[0]) in {norm_name(c) for c in cands}
            reasons[role] = (f"its name '{hits[0]}' is a usual {role} column name" if exact else
                             f"its name '{hits[0]}' contains a usual {role} column name")
    user = out["user"]
    if user is not None and norm_name(user) not in {norm_name(n) for n in SESSION_NAMES}:
        sessions = [c for c in find_columns(cols, SESSION_NAMES, set()) if c != user and c not in
                    (out["item"], out["time"])]
        share = _empty_share(df[user])
        if sessions and share > MOSTLY_EMPTY:
            out["user"] = sessions[0]
            reasons["user"] = (f"the user column '{user}' is {share:.0%} empty, so each session "
                               f"('{sessions[0]}') is a sequence")
    if out["time"] is None:  # unusual name: fall back to the values (an epoch-like or date column)
        by_content = _content_roles(df[[c for c in cols if c not in taken or c in (out["user"], out["item"])]])
        if by_content.get("time") and by_content["time"] not in taken:
            out["time"] = by_content["time"]
            reasons["time"] = f"its values ('{by_content['time']}') are epoch times or dates"
    return out, _ambiguous_roles(cols, out), reasons


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
        if given and given not in cols and not (role == "time" and given == FILE_ORDER):
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
        in_order = (f"; if each user's rows are already in time order, choose '{FILE_ORDER}' as the time column"
                    if not chosen["time"] else "")
        raise SeqrecError("Cannot map the columns: " + "; ".join(problems) + f"; the file's columns are {cols}"
                          + in_order + ".")
    for opt in ("event", "rating"):
        if chosen[opt] in req or chosen[opt] == "":
            chosen[opt] = None
    if chosen["event"] and chosen["event"] == chosen["rating"]:
        chosen["rating"] = None
    return ColumnMap(**chosen)
