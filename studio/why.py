"""Widget groups of the Why this? page: the RNN vs LSTM vs GRU comparison, the interest path, the item map and
similar items. Projections and profiles are kept per run for the session (studio.state.cached)."""
from __future__ import annotations

import numpy as np
import streamlit as st

from seqrec.inspect import embedding_map as em
from seqrec.inspect import influence as inf_lib
from studio.copy import why_text
from studio.figures import why as wf
from studio.state import cached
from studio.textsafe import md_escape
from studio.ui import chart, friendly_errors, link_to_train

OWN_TOP, SAME_ITEM = "Each model's own top recommendation", "The item explained above, for every model"
PROFILE_USERS = 100
STATE_USERS = 300
SEED = 0
FRACTION = dict(format="%.2f", min_value=0.0, max_value=1.0)


def run_title(r) -> str:
    return f"{r.name} · {r.config.model.upper()}"


def _picked_runs(runs) -> list:
    """Runs chosen for the comparison; the newest run of each cell type is preselected."""
    newest = {}
    for i, r in enumerate(runs):
        newest[r.config.model] = i
    picked = st.multiselect("Runs to compare", range(len(runs)), default=sorted(newest.values()),
                            format_func=lambda i: run_title(runs[i]), key="why_cmp_runs")
    return [runs[i] for i in picked]


def _memory_table(influences, label) -> None:
    table = inf_lib.memory_table(influences)
    for row in table:
        row["Explained item"] = label(row["Explained item"])
    st.dataframe(table, hide_index=True, width="stretch", column_config={
        "Probability": st.column_config.NumberColumn(format="%.3f"),
        "Older half (removal)": st.column_config.ProgressColumn(**FRACTION),
        "Older half (gradient)": st.column_config.ProgressColumn(**FRACTION)})


def _average_profiles(ds, chosen, exclude) -> None:
    """How far back each chosen run's influence reaches on average over PROFILE_USERS users of the data."""
    st.caption(why_text("profile"))
    histories = cached("profile_histories", ds, lambda: [h[-20:] for h in em.sample_histories(
        ds.split, PROFILE_USERS, SEED)])
    with friendly_errors("Averaging over users"), st.spinner("Averaging over users..."):
        profiles = {run_title(r): cached("profile", r, lambda r=r: inf_lib.average_profile(
            r, histories, exclude), exclude) for r in chosen}
        chart(wf.memory_profile_chart(profiles), "why_cmp_profile")
        st.markdown(md_escape(inf_lib.profile_sentence(profiles)))


def compare_runs(ds, runs, history, target, exclude) -> None:
    """The same history explained by several runs (ideally an RNN, an LSTM and a GRU), for this user and on
    average."""
    st.caption(why_text("compare"))
    if len(runs) < 2:
        st.info("This needs at least two runs on the current data, ideally an RNN, an LSTM and a GRU; train the "
                "missing ones on the Train page.", icon=":material/info:")
        link_to_train()
        return
    chosen = _picked_runs(runs)
    mode = st.radio("Explain", [OWN_TOP, SAME_ITEM], horizontal=True, key="why_cmp_mode")
    if len(chosen) < 1:
        st.info("Pick at least one run.", icon=":material/touch_app:")
        return
    influences = None
    with friendly_errors("Explaining with every run"):
        influences = inf_lib.explain_runs(chosen, history, target if mode == SAME_ITEM else None, exclude)
    if influences:
        label = ds.item_label
        st.markdown(md_escape(inf_lib.compare_sentence(influences)))
        chart(wf.compare_influence(influences, label), "why_cmp_lines")
        _memory_table(influences, label)
        _average_profiles(ds, chosen, exclude)


def interest_path(ds, run, history) -> None:
    """The history's path through the run's hidden states, on a PCA fitted on STATE_USERS users."""
    st.caption(why_text("trajectory"))
    label = ds.item_label
    with friendly_errors("Drawing the interest path"), st.spinner("Fitting the map of interests..."):
        space = cached("state_space", run, lambda: em.fit_state_space(
            run, em.sample_histories(ds.split, STATE_USERS, SEED), SEED))
        path = em.trajectory(run, history, space)
        chart(wf.trajectory_figure(path, space, label), "why_path")
        moves = em.drift(path)
        if len(path) > 1:
            big = int(np.argmax(moves))
            st.caption(md_escape(f"The biggest jump comes with item {big + 1}, {label(path['item'].iloc[big])}."))


def item_map(ds, run, explanation, recs) -> str:
    """The 2D map of the run's item vectors, history and recommendations highlighted; returns which vectors
    ("input" or "output") were chosen, so Similar items uses the same ones."""
    st.caption(why_text("map"))
    c1, c2, c3 = st.columns(3)
    methods = ["pca", "tsne"] if len(run.vocab) <= em.TSNE_MAX_ITEMS else ["pca"]  # t-SNE would take minutes
    method = c1.radio("Projection", methods, horizontal=True, key="why_map_method",
                      format_func=lambda m: {"pca": "PCA", "tsne": "t-SNE"}[m],
                      help=f"t-SNE is offered for up to {em.TSNE_MAX_ITEMS:,} items.")
    has_categories = ds.items is not None and bool((ds.items["category"].astype(str).str.strip() != "").any())
    color_by = c2.radio("Colour by", ["category", "popularity"] if has_categories else ["popularity"],
                        horizontal=True, key="why_map_color")
    if run.config.tie_weights:  # one set of vectors reads and scores the items
        which = "input"
        c3.caption(":material/link: This run's output layer is its item embedding (tied), so one map shows both how "
                   "the network reads an item and how it scores it as the next one.")
    else:
        which = c3.radio("Item vectors", ["output", "input"], horizontal=True, key="why_map_vectors",
                         format_func=lambda w: {"input": "Input embedding", "output": "Output layer"}[w],
                         help="Input: how the network reads an item. Output: how it scores an item as the next one.")
    with friendly_errors("Drawing the item map"), st.spinner("Projecting the item vectors..."):
        points = cached("item_map", run, lambda: em.item_map(run, method, which, SEED,
                                                             em.popularity_for_run(run, ds.split)), method, which)
        chart(wf.item_map_figure(points, ds.item_label, ds.item_category, color_by, explanation.items, recs),
              "why_map")
    return which


def similar_items(ds, run, options, which) -> None:
    """An item's nearest neighbours in the run's item vectors beside what users really picked right after it."""
    st.caption(why_text("similar"))
    label = ds.item_label
    c1, c2 = st.columns([3, 1])
    item = c1.selectbox("Item", options, key=f"why_sim_item_{run.name}", format_func=label,
                        help="The explained item, the recommendations and the history (latest first).")
    k = c2.slider("How many", 3, 20, 10, key="why_sim_k")
    with friendly_errors("Finding similar items"):
        neighbours = em.nearest_items(run, item, k, which)
        followers = em.next_items(ds.fitted_baselines()["item_transitions"], ds.split.vocab, item, k)
        chart(wf.similar_items_figure(neighbours, followers, item, label), "why_similar")
        st.markdown(md_escape(em.overlap_sentence(neighbours, followers, item, label)))
