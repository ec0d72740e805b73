"""The Data page's widget groups: choosing the files, mapping the columns, the filters, loading, and the current
data in numbers. The page lays these out; the library objects (Filters, the Dataset) are built here."""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

import seqrec
from seqrec.data.dataset import SAMPLE_INTERACTIONS, SAMPLE_ITEMS, SAMPLE_NAME, column_values, content_fingerprint, \
    load_dataset, metadata_coverage, numeric_range
from studio.textsafe import md_escape

NONE = "(none)"
SAMPLE, UPLOAD = "Bundled sample", "Upload CSV files"
ROLES = [("user", "User", "Who interacted: a user, customer or session id."),
         ("item", "Item", "What they interacted with: product, movie, song id."),
         ("time", "Time", "When: a date/time or a number that orders each user's events."),
         ("event", "Event type (optional)", "e.g. view / cart / purchase, to filter by."),
         ("rating", "Rating (optional)", "A numeric rating, to keep only well-rated interactions.")]
FILTER_DEFAULTS = {"f_min_user": 3, "f_min_item": 1, "f_max_len": 0, "f_repeats": False}
TYPES = ["csv", "tsv", "txt"]


def chosen_files(source: str):
    """(files as (name, bytes or path), item metadata upload or None) for the chosen source, with its caption."""
    if source != UPLOAD:
        st.caption(f":material/inventory_2: **{SAMPLE_NAME}**: 3,000 shoppers and 300 products with titles and "
                   f"categories, generated with a planted sequential pattern a recurrent network can learn.")
        return [("interactions.csv", str(SAMPLE_INTERACTIONS))], None  # a path: not re-read and re-hashed per rerun
    up, meta = st.columns([3, 2])
    uploads = up.file_uploader("Interaction CSVs (several files with the same columns are appended, e.g. monthly "
                               "exports)", type=TYPES, accept_multiple_files=True, key="upload_interactions")
    meta_file = meta.file_uploader("Item metadata (optional): item_id plus title / category columns", type=TYPES,
                                   key="upload_items")
    limit_mb = int(st.get_option("server.maxUploadSize"))  # set in .streamlit/config.toml
    st.caption(f":material/info: Up to {limit_mb:,} MB per file (this server's upload limit); for bigger "
               f"logs use the command line (`python -m seqrec train`), which reads files of any size.")
    return [(f.name, f.getvalue()) for f in uploads or []], meta_file


def files_key(files, raw) -> str:
    """Widget-key suffix of a set of files: new files get fresh column guesses and filter widgets."""
    return content_fingerprint(*[n for n, _ in files], list(raw.columns))


def column_roles(raw, files, key: str) -> dict:
    """The Columns box: one picker per role, preset with the guessed column; returns role -> column or None."""
    guess = seqrec.guess_columns(raw)
    cols = [NONE] + list(raw.columns)
    with st.container(border=True):
        st.markdown(f"**Columns** · {len(raw):,} rows read from {len(files)} file{'s' * (len(files) > 1)}")
        picked = {}
        for col, (role, label, help_) in zip(st.columns(5), ROLES):
            default = guess.get(role)
            picked[role] = col.selectbox(label, cols, index=cols.index(default) if default in cols else 0,
                                         key=f"col_{role}_{key}", help=help_)
    return {role: (v if v != NONE else None) for role, v in picked.items()}


@dataclass
class FilterChoice:
    """What the Filters box is set to; `filters()` is the seqrec.Filters that loading uses."""

    min_user: int
    min_item: int
    max_len: int
    repeats: bool
    min_rating: float | None = None  # only when above the column's minimum (otherwise it filters nothing)
    event_types: list | None = None  # only when some kinds are left out

    def filters(self) -> seqrec.Filters:
        return seqrec.Filters(min_user_interactions=int(self.min_user), min_item_count=int(self.min_item),
                              max_events_per_user=int(self.max_len) or None, remove_repeats=self.repeats,
                              min_rating=self.min_rating, event_types=self.event_types)


def filter_choice(raw, roles: dict, key: str) -> FilterChoice:
    """The Filters box: counts, length, repeats, and a rating slider / event-type picker when those columns are
    mapped."""
    for name, value in FILTER_DEFAULTS.items():
        st.session_state.setdefault(name, value)  # defaults live in the session, so they survive page switches
    with st.container(border=True):
        st.markdown("**Filters**")
        f = st.columns(4)
        choice = FilterChoice(
            f[0].number_input("Min interactions per user", 3, 10_000, key="f_min_user",
                              help="Users with fewer events are dropped (3 is the least a train / validation / test "
                                   "split needs)."),
            f[1].number_input("Min item count", 1, 100_000, key="f_min_item",
                              help="Items seen fewer times are dropped: rare items are hard to learn."),
            f[2].number_input("Max sequence length (0 = no limit)", 0, 1_000_000, key="f_max_len",
                              help="Keep only each user's most recent events."),
            f[3].checkbox("Remove immediate repeats", key="f_repeats",
                          help="Drop an event when the user's previous event was the same item."))
        if roles["rating"] is not None and (rng := numeric_range(raw, roles["rating"])) and rng[0] < rng[1]:
            # (one constant rating: nothing to filter, and a slider cannot have min == max)
            st.session_state.setdefault(f"f_rating_{key}", rng[0])
            least = st.slider("Minimum rating", rng[0], rng[1], key=f"f_rating_{key}",
                              help="Keep only interactions rated at least this.")
            choice.min_rating = least if least > rng[0] else None
        if roles["event"] is not None:
            kinds = column_values(raw, roles["event"])
            st.session_state.setdefault(f"f_events_{key}", kinds)
            kept = st.multiselect("Event types to keep", kinds, key=f"f_events_{key}")
            choice.event_types = kept if len(kept) < len(kinds) else None
    return choice


def load_chosen(files, roles: dict, choice: FilterChoice, source: str, meta_file):
    """Read, map, filter and split the chosen files (with the sample's or the uploaded item file)."""
    sample = source == SAMPLE
    items = SAMPLE_ITEMS if sample else (meta_file.getvalue() if meta_file else None)
    return load_dataset([b for _, b in files], [n for n, _ in files], roles, choice.filters(), items=items,
                        items_name="items.csv" if sample else (meta_file.name if meta_file else None),
                        name=SAMPLE_NAME if sample else None)


def dataset_numbers(ds) -> None:
    """The current data's metric cards (users, items, interactions, lengths, sparsity, time span) and notes."""
    s = ds.stats
    for note in ds.interactions.notes:
        st.caption(f":material/filter_alt: {md_escape(note)}")
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
