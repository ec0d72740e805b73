"""Data page: choose the sample or upload CSVs, map columns, filter, and look at the data."""
import streamlit as st

from studio import data_form as form
from studio import state
from studio.figures import data as figures
from studio.nav import PAGE
from studio.textsafe import md_escape
from studio.ui import friendly_errors

state.keep_widget_values()  # before any widget: restore settings dropped on a page switch
st.title(":material/table_chart: Data")
st.caption("Interactions are rows of *who* (user), *what* (item) and *when* (time). Upload your own log or use a "
           "bundled sample: the synthetic one teaches (clear patterns, the network wins big), the real retail one "
           "shows a real shop's noise; the model learns each user's sequence in time order.")

if flash := st.session_state.pop("data_flash", None):
    st.success(flash, icon=":material/check_circle:")

source = st.radio("Source", [*form.SOURCES, form.UPLOAD], horizontal=True, key="data_source",
                  label_visibility="collapsed")
files, meta_file = form.chosen_files(source)

raw = None
if files:
    with friendly_errors("Reading the files"):
        raw = state.raw_table(files)  # kept in this session only: freed when the session closes
elif source == form.UPLOAD:
    st.info("Drop one or more CSV files above (any name; compressed .gz/.bz2/.xz/.zip too). Each needs a user, an "
            "item and a time column.", icon=":material/upload_file:")

if raw is not None:
    key = form.files_key(files, raw)  # new files -> fresh guesses
    for note in raw.attrs.get("notes", []):  # unpacked an archive, decoded a legacy encoding
        st.info(md_escape(note[0].upper() + note[1:] + "."), icon=":material/info:")
    roles = form.column_roles(raw, files, key)
    title = form.title_column(raw, roles, key) if source == form.UPLOAD else None
    filters = form.filter_choice(raw, roles, key)
    if st.button("Load this data", type="primary", icon=":material/download_done:", key="load_data"):
        with friendly_errors("Loading the data"):
            ds = form.load_chosen(files, roles, filters, source, meta_file, raw, title)
            state.set_dataset(ds)
            st.session_state["data_flash"] = (f"Loaded **{md_escape(ds.name)}**: {ds.stats['users']:,} users, "
                                              f"{ds.stats['items']:,} items, {ds.stats['interactions']:,} "
                                              f"interactions.")
            st.rerun()  # redraw everything (the sidebar too) with the new data

# ---- the current dataset -------------------------------------------------------------------------------------
ds = state.current_dataset()
st.subheader(f"Current data: {md_escape(ds.name)}")
form.dataset_numbers(ds)

with st.expander("Preview (first 200 rows, cleaned and sorted by user and time)", expanded=False,
                 icon=":material/visibility:"):
    st.dataframe(ds.preview(200), hide_index=True, width="stretch", height=300)

c1, c2, c3 = st.columns(3)
c1.plotly_chart(figures.sequence_length_histogram(ds), width="stretch")
c2.plotly_chart(figures.popularity_long_tail(ds), width="stretch")
c3.plotly_chart(figures.interactions_over_time(ds), width="stretch")

st.page_link(PAGE["train"], label="Next: train a model on this data", icon=":material/arrow_forward:")
