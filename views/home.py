"""Home: what the app does, the current data and runs, and the guided path through the pages."""
import streamlit as st

from studio import state
from studio.nav import STEPS
from studio.textsafe import md_escape

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
PER_ROW = 4  # cards wide enough for their text on a laptop screen
cols = [col for start in range(0, len(STEPS), PER_ROW) for col in st.columns(PER_ROW)]
for i, (col, (page, title, icon, text)) in enumerate(zip(cols, STEPS), start=1):
    with col.container(border=True, height=195):
        st.markdown(f"{icon} **{i}. {title}**")
        st.caption(text)
        st.page_link(page, label="Open", icon=":material/arrow_forward:")
