"""Data page: choose the sample or upload CSVs, map columns, filter, and look at the data."""
import streamlit as st

import seqrec
from studio.figures import charts as figures
from seqrec.data.dataset import SAMPLE_INTERACTIONS, SAMPLE_ITEMS, SAMPLE_NAME, column_values, content_fingerprint, \
    load_dataset, metadata_coverage, numeric_range
from studio import state
from studio.textsafe import md_escape
from studio.ui import friendly_errors

NONE = "(none)"


UPLOAD_LIMIT_MB = int(st.get_option("server.maxUploadSize"))  # set in .streamlit/config.toml


state.keep_widget_values()  # before any widget: restore settings dropped on a page switch
st.title(":material/table_chart: Data")
st.caption("Interactions are rows of *who* (user), *what* (item) and *when* (time). Upload your own log or use the "
           "bundled sample; the model learns each user's sequence in time order.")

if flash := st.session_state.pop("data_flash", None):
    st.success(flash, icon=":material/check_circle:")

source = st.radio("Source", ["Bundled sample", "Upload CSV files"], horizontal=True, key="data_source",
                  label_visibility="collapsed")

files, meta_file = [], None
if source == "Upload CSV files":
    up, meta = st.columns([3, 2])
    uploads = up.file_uploader("Interaction CSVs (several files with the same columns are appended, e.g. monthly "
                               "exports)", type=["csv", "tsv", "txt"], accept_multiple_files=True,
                               key="upload_interactions")
    meta_file = meta.file_uploader("Item metadata (optional): item_id plus title / category columns",
                                   type=["csv", "tsv", "txt"], key="upload_items")
    files = [(f.name, f.getvalue()) for f in uploads or []]
    st.caption(f":material/info: Up to {UPLOAD_LIMIT_MB:,} MB per file (this server's upload limit); for bigger "
               f"logs use the command line (`python -m seqrec train`), which reads files of any size.")
else:
    files = [("interactions.csv", str(SAMPLE_INTERACTIONS))]  # a path: not re-read and re-hashed on every rerun
    st.caption(f":material/inventory_2: **{SAMPLE_NAME}**: 3,000 shoppers and 300 products with titles and "
               f"categories, generated with a planted sequential pattern a recurrent network can learn.")

raw = None
if files:
    with friendly_errors("Reading the files"):
        raw = state.raw_table(files)  # kept in this session only: freed when the session closes
elif source == "Upload CSV files":
    st.info("Drop one or more CSV files above. Each needs a user, an item and a time column.",
            icon=":material/upload_file:")

if raw is not None:
    guess = seqrec.guess_columns(raw)
    key = content_fingerprint(*[n for n, _ in files], list(raw.columns))  # new files -> fresh guesses
    cols = [NONE] + list(raw.columns)
    with st.container(border=True):
        st.markdown(f"**Columns** · {len(raw):,} rows read from {len(files)} file{'s' * (len(files) > 1)}")
        c = st.columns(5)
        roles = {}
        for col, (role, label, help_) in zip(c, [
                ("user", "User", "Who interacted: a user, customer or session id."),
                ("item", "Item", "What they interacted with: product, movie, song id."),
                ("time", "Time", "When: a date/time or a number that orders each user's events."),
                ("event", "Event type (optional)", "e.g. view / cart / purchase, to filter by."),
                ("rating", "Rating (optional)", "A numeric rating, to keep only well-rated interactions.")]):
            default = guess.get(role)
            roles[role] = col.selectbox(label, cols, index=cols.index(default) if default in cols else 0,
                                        key=f"col_{role}_{key}", help=help_)
    for name, value in {"f_min_user": 3, "f_min_item": 1, "f_max_len": 0, "f_repeats": False}.items():
        st.session_state.setdefault(name, value)  # defaults live in the session, so they survive page switches
    with st.container(border=True):
        st.markdown("**Filters**")
        f = st.columns(4)
        min_user = f[0].number_input("Min interactions per user", 3, 10_000, key="f_min_user",
                                     help="Users with fewer events are dropped (3 is the least a train / "
                                          "validation / test split needs).")
        min_item = f[1].number_input("Min item count", 1, 100_000, key="f_min_item",
                                     help="Items seen fewer times are dropped: rare items are hard to learn.")
        max_len = f[2].number_input("Max sequence length (0 = no limit)", 0, 1_000_000, key="f_max_len",
                                    help="Keep only each user's most recent events.")
        repeats = f[3].checkbox("Remove immediate repeats", key="f_repeats",
                                help="Drop an event when the user's previous event was the same item.")
        min_rating, event_types = None, None
        if roles["rating"] != NONE and (rng := numeric_range(raw, roles["rating"])) and rng[0] < rng[1]:
            # (one constant rating: nothing to filter, and a slider cannot have min == max)
            st.session_state.setdefault(f"f_rating_{key}", rng[0])
            min_rating = st.slider("Minimum rating", rng[0], rng[1], key=f"f_rating_{key}",
                                   help="Keep only interactions rated at least this.")
        if roles["event"] != NONE:
            kinds = column_values(raw, roles["event"])
            st.session_state.setdefault(f"f_events_{key}", kinds)
            event_types = st.multiselect("Event types to keep", kinds, key=f"f_events_{key}")

    if st.button("Load this data", type="primary", icon=":material/download_done:", key="load_data"):
        with friendly_errors("Loading the data"):
            filters = seqrec.Filters(min_user_interactions=int(min_user), min_item_count=int(min_item),
                                     max_events_per_user=int(max_len) or None, remove_repeats=repeats,
                                     min_rating=min_rating if min_rating is not None and rng and
                                     min_rating > rng[0] else None,
                                     event_types=event_types if event_types is not None and
                                     len(event_types) < len(kinds) else None)
            mapping = {r: (v if v != NONE else None) for r, v in roles.items()}
            sample = source == "Bundled sample"
            items = SAMPLE_ITEMS if sample else (meta_file.getvalue() if meta_file else None)
            ds = load_dataset([b for _, b in files], [n for n, _ in files], mapping, filters, items=items,
                              items_name="items.csv" if sample else (meta_file.name if meta_file else None),
                              name=SAMPLE_NAME if sample else None)
            state.set_dataset(ds)
            st.session_state["data_flash"] = (f"Loaded **{md_escape(ds.name)}**: {ds.stats['users']:,} users, "
                                              f"{ds.stats['items']:,} items, {ds.stats['interactions']:,} "
                                              f"interactions.")
            st.rerun()  # redraw everything (the sidebar too) with the new data

# ---- the current dataset -------------------------------------------------------------------------------------
ds = state.current_dataset()
s = ds.stats
st.subheader(f"Current data: {md_escape(ds.name)}")
for note in ds.interactions.notes:
    st.caption(f":material/filter_alt: {md_escape(note)}")
m = st.columns(6)
m[0].metric("Users", f"{s['users']:,}")
m[1].metric("Items", f"{s['items']:,}")
m[2].metric("Interactions", f"{s['interactions']:,}")
m[3].metric("Median length", f"{s['sequence_length']['median']:g}",
            help=f"Median interactions per user: min {s['sequence_length']['min']}, p90 {s['sequence_length']['p90']:g}, "
                 f"max {s['sequence_length']['max']}")
m[4].metric("Sparsity", f"{s['sparsity']:.2%}", help="Share of user-item pairs with no interaction.")
span, detail = ds.time_span_text()
m[5].metric("Time span", span, help=detail)
if ds.items is not None:
    st.caption(f":material/label: Item names known for {metadata_coverage(ds):.0%} of the items.")

with st.expander("Preview (first 200 rows, cleaned and sorted by user and time)", expanded=False,
                 icon=":material/visibility:"):
    st.dataframe(ds.preview(200), hide_index=True, width="stretch", height=300)

c1, c2, c3 = st.columns(3)
c1.plotly_chart(figures.sequence_length_histogram(ds), width="stretch")
c2.plotly_chart(figures.popularity_long_tail(ds), width="stretch")
c3.plotly_chart(figures.interactions_over_time(ds), width="stretch")

st.page_link("views/train.py", label="Next: train a model on this data", icon=":material/arrow_forward:")
