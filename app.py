"""seqrec studio: `streamlit run app.py`. This file is the router (page config, shared sidebar, navigation) and
the Home page; the other pages live in pages/ and all computation in the seqrec package."""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: idle OpenMP threads must not spin

import streamlit as st  # noqa: E402

from seqrec.jobs import configure_threads  # noqa: E402
from seqrec.textsafe import md_escape  # noqa: E402
from studio import state  # noqa: E402

configure_threads()
st.set_page_config(page_title="seqrec studio", page_icon=":material/neurology:", layout="wide")

STEPS = [
    ("pages/data.py", "Data", ":material/table_chart:", "Load the bundled sample or your own CSVs, map the columns, "
     "filter and look at the data."),
    ("pages/train.py", "Train", ":material/model_training:", "Pick RNN, LSTM or GRU and a preset, then watch the loss "
     "and validation metrics live."),
    ("pages/inside.py", "Inside the network", ":material/neurology:", "See what the recurrent network does with a "
     "sequence, step by step."),
    ("pages/recommend.py", "Recommend", ":material/recommend:", "Top-K next items for a user or a history you build "
     "by hand, across all runs."),
    ("pages/why.py", "Why this?", ":material/psychology_alt:", "Which history items a recommendation rests on, how "
     "far back each model remembers, and a map of what it learned."),
    ("pages/compare.py", "Compare", ":material/leaderboard:", "All runs and the baselines in one table and chart: "
     "does the network beat them?"),
    ("pages/runs.py", "Runs", ":material/bookmarks:", "Saved runs: reload, rename, publish to the workshop gallery, "
     "export or import a bundle."),
]


def home():
    """Home: what the app does, the current data and runs, and the guided path through the pages."""
    st.title(":material/neurology: seqrec studio")
    st.markdown("Train recurrent neural networks (RNN, LSTM, GRU) that predict the **next item** a user will "
                "interact with, from nothing more than a log of who did what when. Compare them honestly against "
                "simple baselines and explore their recommendations, all on your laptop's CPU.")
    ds = state.current_dataset()
    s = ds.stats
    runs = state.runs()
    st.markdown(f":material/database: Current data: **{md_escape(ds.name)}**"
                + (" · item names loaded" if ds.items is not None else ""))
    c = st.columns(4)
    c[0].metric("Users", f"{s['users']:,}", border=True)
    c[1].metric("Items", f"{s['items']:,}", border=True)
    c[2].metric("Interactions", f"{s['interactions']:,}", border=True)
    c[3].metric("Runs this session", len(runs), border=True)
    if runs:
        with st.container(border=True):
            st.markdown("**Runs in this session**")
            k = runs[-1].config.monitor_k
            st.dataframe([{"Run": r.name, "Model": r.config.model.upper(), "Epochs": r.epochs_run,
                           f"Recall@{k}": r.metrics.get(f"recall@{k}"), f"MRR@{k}": r.metrics.get(f"mrr@{k}"),
                           "Training time (s)": round(r.train_seconds, 1)} for r in runs],
                         hide_index=True, width="stretch")
    st.subheader("Guided path")
    st.caption(f"The sample data is already loaded, so you can start anywhere. {len(STEPS)} steps, a few minutes.")
    cols = st.columns(len(STEPS))
    for i, (col, (page, title, icon, text)) in enumerate(zip(cols, STEPS), start=1):
        with col.container(border=True, height=190):
            st.markdown(f"{icon} **{i}. {title}**")
            st.caption(text)
            st.page_link(page, label="Open", icon=":material/arrow_forward:")


PAGES = [st.Page(home, title="Home", icon=":material/home:", default=True)] + [
    st.Page(page, title=title, icon=icon) for page, title, icon, _ in STEPS]

nav = st.navigation(PAGES)
state.keep_widget_values()
state.init_state()
state.sidebar()
nav.run()
