"""The Data page's widget groups: choosing the files, mapping the columns, the filters, loading, and the current
data in numbers. The page lays these out; the library objects (Filters, the Dataset) are built here. The filter
widgets take their labels, help texts and limits from the Filters' Settings (seqrec/data/prepare.py), so they offer
exactly what the library accepts."""
from __future__ import annotations

import streamlit as st

import seqrec
from seqrec.data.columns import FILE_ORDER, explain_columns, norm_name
from seqrec.data.fingerprint import content_fingerprint
from seqrec.data.metadata import TITLE_NAMES, titles_from_table
from seqrec.data.prepare import FILTER_SETTINGS, Filters
from seqrec.data.read import MAX_UNCOMPRESSED_BYTES
from seqrec.service.dataset import (
    SAMPLES,
    column_values,
    load_dataset,
    metadata_coverage,
    numeric_range,
)
from studio.setting_widgets import number_input
from studio.textsafe import md_escape

NONE = "(none)"
SAMPLE, RETAIL, UPLOAD = "Synthetic sample (teaching)", "Real sample (retail shop)", "Upload CSV files"
SOURCES = {SAMPLE: "synthetic", RETAIL: "retail"}  # the Source radio's bundled samples: label -> SAMPLES key
ROLES = [("user", "User", "Who interacted: a user, customer or session id."),
         ("item", "Item", "What they interacted with: product, movie, song id."),
         ("time", "Time", f"When: a date/time or a number that orders each user's events; {FILE_ORDER} for a file "
                          "without one whose rows are already in time order."),
         ("event", "Event type (optional)", "e.g. view / cart / purchase, to filter by."),
         ("rating", "Rating (optional)", "A numeric rating, to keep only well-rated interactions.")]
OPERATORS = [">", ">=", "<", "<=", "=", "!="]
# Each filter widget's session key is f_<Filters field>. The number inputs and the switch start at the library's
# defaults (None: an empty box), the dates as empty text; the rating slider and the event-type picker start at the
# mapped column's values, and the row condition is built from a column, an operator and a number.
NUMBERS = ("min_user_interactions", "min_item_count", "max_events_per_user")
SESSIONS = ("session_gap_minutes", "min_session_length")
FILTER_DEFAULTS = {**{f"f_{name}": getattr(Filters(), name) for name in (*NUMBERS, "remove_repeats", *SESSIONS)},
                   "f_date_from": "", "f_date_to": "", "f_where_col": NONE, "f_where_op": ">", "f_where_value": 0.0}


def chosen_files(source: str):
    """(files as (name, bytes or path), item metadata upload or None) for the chosen source, with its caption."""
    if source in SOURCES:
        sample = SAMPLES[SOURCES[source]]
        st.caption(f":material/inventory_2: **{sample.name}**: {sample.about}. Command line: "
                   f"`python -m seqrec train sample:{sample.key}`.")
        return [(sample.interactions.name, str(sample.interactions))], None  # a path: not re-read per rerun
    up, meta = st.columns([3, 2])
    # no `type=`: any file name is accepted and the content decides (a refused file gets a sentence on the page)
    uploads = up.file_uploader("Interaction files: CSV, TSV or TXT, also compressed (.gz, .bz2, .xz, .zip); several "
                               "files with the same columns are appended, e.g. monthly exports",
                               accept_multiple_files=True, key="upload_interactions")
    meta_file = meta.file_uploader("Item metadata (optional): item_id plus title / category columns (MovieLens' "
                                   "u.item works too)", key="upload_items")
    limit_mb = int(st.get_option("server.maxUploadSize"))  # set in .streamlit/config.toml
    st.caption(f":material/info: Up to {limit_mb:,} MB per file as uploaded (compressed files count compressed; "
               f"they may unpack to at most {MAX_UNCOMPRESSED_BYTES / 1024**3:.0f} GB); for bigger logs use the "
               f"command line (`python -m seqrec train`).")
    return [(f.name, f.getvalue()) for f in uploads or []], meta_file


def files_key(files, raw) -> str:
    """Widget-key suffix of a set of files: new files get fresh column guesses and filter widgets."""
    return content_fingerprint(*[n for n, _ in files], list(raw.columns))


def column_roles(raw, files, key: str) -> dict:
    """The Columns box: one picker per role, preset with the guessed column; returns role -> column or None."""
    why = explain_columns(raw)
    guess = seqrec.guess_columns(raw)
    cols = [NONE] + list(raw.columns)
    with st.container(border=True):
        st.markdown(f"**Columns** · {len(raw):,} rows read from {len(files)} file{'s' * (len(files) > 1)}")
        picked = {}
        for col, (role, label, help_) in zip(st.columns(5), ROLES, strict=True):
            default = guess.get(role)
            options = cols + [FILE_ORDER] * (role == "time" and FILE_ORDER not in cols)
            picked[role] = col.selectbox(label, options, index=options.index(default) if default in options else 0,
                                         key=f"col_{role}_{key}", help=help_)
            col.caption(md_escape(_role_caption(role, picked[role] if picked[role] != NONE else None,
                                                *why.get(role, (None, "")))))
    return {role: (v if v != NONE else None) for role, v in picked.items()}


def _role_caption(role: str, chosen: str | None, taken: str | None, reason: str) -> str:
    """Under a column picker: why the guessed column was taken, or what the user's choice (or none) means."""
    if chosen and chosen == taken:
        return f"Taken: {reason}"
    if chosen == FILE_ORDER:
        return "Each user's rows in the order of the file"
    if chosen:
        return "Your choice"
    if role == "time":
        return f"{reason.capitalize()}; if the rows are in time order, pick {FILE_ORDER}"
    return reason.capitalize()


def title_column(raw, roles: dict, key: str) -> str | None:
    """Item titles from a column of the interaction file itself (e.g. Description beside StockCode), or None."""
    used = {v for v in roles.values() if v}
    options = [NONE] + [c for c in raw.columns if c not in used]
    names = {norm_name(n) for n in TITLE_NAMES}
    default = next((c for c in options[1:] if norm_name(c) in names), NONE)
    pick = st.selectbox("Item titles from this file's column (optional)", options, index=options.index(default),
                        key=f"col_title_{key}", help="A column of names for the items (e.g. Description), so "
                        "pages show names instead of codes. An uploaded item file takes precedence.")
    return None if pick == NONE else pick


def filter_choice(raw, roles: dict, key: str) -> Filters:
    """The Filters box: counts, length, repeats, a rating slider / event-type picker when those columns are mapped,
    a row condition, a date range and sessions; returns the Filters that loading uses."""
    for name, value in FILTER_DEFAULTS.items():
        st.session_state.setdefault(name, value)  # defaults live in the session, so they survive page switches
    with st.container(border=True):
        st.markdown("**Filters**")
        values = _counts_and_repeats()
        values["min_rating"] = _min_rating(raw, roles["rating"], key)
        values["event_types"] = _event_types(raw, roles["event"], key)
        values.update(_where_and_dates(raw))
        for col, name in zip(st.columns(len(SESSIONS)), SESSIONS, strict=True):
            values[name] = number_input(col, FILTER_SETTINGS[name], f"f_{name}")
    return Filters(**values)


def _counts_and_repeats() -> dict:
    """The number inputs of the users' and items' counts and the history length, and the repeats switch."""
    cols = st.columns(len(NUMBERS) + 1)
    values = {name: number_input(col, FILTER_SETTINGS[name], f"f_{name}")
              for col, name in zip(cols[:-1], NUMBERS, strict=True)}
    s = FILTER_SETTINGS["remove_repeats"]
    values["remove_repeats"] = cols[-1].checkbox(s.label, key="f_remove_repeats", help=s.help)
    return values


def _min_rating(raw, column: str | None, key: str) -> float | None:
    """A slider over the rating column's range; None (no filter) at its minimum, or without a rating column or with
    one constant rating (nothing to filter, and a slider cannot have min == max)."""
    if column is None or not (rng := numeric_range(raw, column)) or rng[0] >= rng[1]:
        return None
    s = FILTER_SETTINGS["min_rating"]
    st.session_state.setdefault(f"f_rating_{key}", rng[0])
    least = st.slider(s.label, rng[0], rng[1], key=f"f_rating_{key}", help=s.help)
    return least if least > rng[0] else None


def _event_types(raw, column: str | None, key: str) -> list | None:
    """The event types to keep, from the event column's values; None (no filter) while every type is kept."""
    if column is None:
        return None
    kinds = column_values(raw, column)
    s = FILTER_SETTINGS["event_types"]
    st.session_state.setdefault(f"f_events_{key}", kinds)
    kept = st.multiselect(s.label, kinds, key=f"f_events_{key}", help=s.help)
    return kept if len(kept) < len(kinds) else None


def _where_and_dates(raw) -> dict:
    """One row condition (column, operator, number) and the date range."""
    w = st.columns([2, 1, 1, 2, 2])
    where = FILTER_SETTINGS["where"]
    where_col = w[0].selectbox(where.label, [NONE] + list(raw.columns), key="f_where_col", help=where.help)
    op = w[1].selectbox("is", OPERATORS, key="f_where_op")
    value = w[2].number_input("than / to", key="f_where_value", format="%g")
    dates = {}
    for col, name, example in ((w[3], "date_from", "2011-01-01"), (w[4], "date_to", "2011-12-31")):
        s = FILTER_SETTINGS[name]
        dates[name] = col.text_input(s.label, key=f"f_{name}", placeholder=example, help=s.help).strip() or None
    return {"where": [f"{where_col}{op}{value:g}"] if where_col != NONE else None, **dates}


def load_chosen(files, roles: dict, filters: Filters, source: str, meta_file, raw=None, title: str | None = None):
    """Read, map, filter and split the chosen files (with the sample's or the uploaded item file, else titles from a
    column of the interaction file)."""
    sample = SAMPLES[SOURCES[source]] if source in SOURCES else None
    items = sample.items if sample else (meta_file.getvalue() if meta_file else None)
    if items is None and title and raw is not None and roles.get("item"):
        items = titles_from_table(raw, roles["item"], title)
    return load_dataset([b for _, b in files], [n for n, _ in files], roles, filters, items=items,
                        items_name=sample.items.name if sample else (meta_file.name if meta_file else None),
                        name=sample.name if sample else None)


def dataset_numbers(ds) -> None:
    """The current data's metric cards (users, items, interactions, lengths, sparsity, time span) and notes."""
    s = ds.stats
    for note in ds.interactions.notes:
        st.caption(f":material/filter_alt: {md_escape(note)}")
    if ds.interactions.dropped_rows:
        gone = ", ".join(f"{n:,} in '{c}'" for c, n in ds.interactions.dropped_rows.items())
        st.warning(md_escape(f"Rows with an empty user, item or time were left out ({gone}): a next-item model cannot "
                             f"place an event without all three."), icon=":material/rule:")
    m = st.columns(6)
    m[0].metric("Users", f"{s['users']:,}")
    m[1].metric("Items", f"{s['items']:,}")
    m[2].metric("Interactions", f"{s['interactions']:,}")
    lengths = s["sequence_length"]
    m[3].metric("Median length", f"{lengths['median']:g}",
                help=f"Median interactions per user: min {lengths['min']}, p90 {lengths['p90']:g}, "
                     f"max {lengths['max']}")
    m[4].metric("Sparsity", f"{s['sparsity']:.2%}", help="Share of user-item pairs with no interaction.")
    span, detail = ds.time_span_text()
    m[5].metric("Time span", span, help=detail)
    if ds.items is not None:
        st.caption(f":material/label: Item names known for {metadata_coverage(ds):.0%} of the items.")
