"""Why this? Which history items a recommendation rests on, how far back each model remembers, and what the model
learned about items (a map of its item vectors, the user's path through its hidden states, similar items)."""
import numpy as np
import streamlit as st

from seqrec.inspect import embedding_map as em
from seqrec.inspect import influence as inf_lib
from studio.figures import why as wf
from studio.copy import why_text
from studio.textsafe import md_escape
from studio import state
from studio.ui import friendly_errors, offer_quick_demo, pick_user_history

FROM_USER, BY_HAND = "A user from the data", "A history I build"
OWN_TOP, SAME_ITEM = "Each model's own top recommendation", "The item explained above, for every model"
TOP_K = 10
PROFILE_USERS = 100
STATE_USERS = 300
SEED = 0


def chart(fig, key):
    st.plotly_chart(fig, width="stretch", key=key)


def cached(kind: str, run, compute, *params):
    """Per-session cache keyed by run identity (the run object itself, not its name, which can change): a page
    rerun reuses projections and profiles instead of recomputing them."""
    store = st.session_state.setdefault("_why_cache", {})
    key = (kind, id(run), *params)
    hit = store.get(key)
    if hit is None or hit[0] is not run:
        hit = store[key] = (run, compute())
    return hit[1]


def run_title(r) -> str:
    return f"{r.name} · {r.config.model.upper()}"


st.title(":material/psychology_alt: Why this recommendation?")
st.caption("Pick a run and a history: see which items a recommendation rests on, how far back each kind of network "
           "remembers, and what the model learned about the items.")

ds = state.current_dataset()
runs = state.runs_for_current_dataset()
label = ds.item_label

if not runs:
    offer_quick_demo("There is no trained run on the current data yet. Train one on the Train page, or train a small "
                     "RNN, LSTM and GRU right here (a few seconds each on the sample) to compare how far back they "
                     "remember.", ("rnn", "lstm", "gru"), "whybtn_demo", state.runs_for_current_dataset)

# -- what to explain -------------------------------------------------------------------------------------------------
next_item = None
with st.container(border=True):
    c_run, c_src, c_hist = st.columns([2, 2, 3])
    run = runs[c_run.selectbox("Run", range(len(runs)), index=len(runs) - 1, key="why_run",
                               format_func=lambda i: run_title(runs[i]))]
    exclude = c_run.toggle("Exclude items already seen", key="why_exclude",
                           help="Explain the best item the user has not interacted with yet.")
    source = c_src.radio("History", [FROM_USER, BY_HAND], key="why_source")
    with c_hist:
        if source == FROM_USER:  # everything before the held-out item, as Recommend does
            history, next_item = pick_user_history(ds, "why", "Most recent items to explain", hold_out_last=True)
        else:
            options = ds.item_ids[:5000]
            history = st.multiselect("Items in order (oldest first)", options, default=options[:5],
                                     format_func=label, key=f"why_items_{run.name}")

if not history:
    st.info("Add at least one item to the history to see why the model recommends what it does.",
            icon=":material/info:")
    st.stop()

recs = None
with friendly_errors("Recommending"):
    recs = [r["item"] for r in run.recommend(history, k=TOP_K, exclude_seen=exclude)["recommendations"]]
if recs == []:  # exclude-seen with a history that holds every item the run knows
    st.info("Every item this run knows is already in the history, so with 'Exclude items already seen' there is "
            "nothing left to recommend; turn that option off or use a shorter history.", icon=":material/info:")
if not recs:
    st.stop()
targets = recs + ([next_item] if next_item is not None and next_item not in recs else [])


def target_title(item: str) -> str:
    rank = f"#{recs.index(item) + 1} recommendation" if item in recs else "not in the top 10"
    actual = " · what the user actually picked next" if item == next_item else ""
    return f"{label(item)} ({rank}{actual})"


target = st.selectbox("Explain this item", targets, key=f"why_target_{run.name}", format_func=target_title,
                      help="The run's top recommendations for this history, and (for a user from the data) the item "
                           "they actually picked next.")

explanation = None
with friendly_errors("Explaining the recommendation"):
    explanation = inf_lib.explain(run, history, target, exclude)
if explanation is None:
    st.stop()
if explanation.unknown_items:
    st.caption(f":material/warning: Skipped {len(explanation.unknown_items)} item(s) this run never saw: "
               + md_escape(", ".join(label(i) for i in explanation.unknown_items[:5])))
if explanation.dropped_items:
    st.caption(f":material/warning: The run reads only the last {run.config.max_len} items; the "
               f"{len(explanation.dropped_items)} oldest are left out.")

st.info(md_escape(inf_lib.influence_sentence(explanation, label)), icon=":material/lightbulb:")

tab_why, tab_cmp, tab_path, tab_map, tab_sim = st.tabs(
    [":material/bar_chart: Why this item", ":material/compare_arrows: RNN vs LSTM vs GRU",
     ":material/timeline: Interest path", ":material/scatter_plot: Item map", ":material/hub: Similar items"])

with tab_why:
    c_fig, c_text = st.columns([4, 1])
    with c_fig:
        chart(wf.influence_bars(explanation, label), "why_influence")
    c_text.markdown(why_text("influence"))
    c_text.markdown(why_text("gradient"))
    c_text.caption(md_escape(inf_lib.agreement_sentence(explanation, label)))

with tab_cmp:
    st.caption(why_text("compare"))
    if len(runs) < 2:
        st.info("This needs at least two runs on the current data, ideally an RNN, an LSTM and a GRU; train the "
                "missing ones on the Train page.", icon=":material/info:")
        st.page_link("views/train.py", label="Go to Train", icon=":material/model_training:")
    else:
        newest = {}
        for i, r in enumerate(runs):
            newest[r.config.model] = i  # the newest run of each cell type is preselected
        picked = st.multiselect("Runs to compare", range(len(runs)), default=sorted(newest.values()),
                                format_func=lambda i: run_title(runs[i]), key="why_cmp_runs")
        mode = st.radio("Explain", [OWN_TOP, SAME_ITEM], horizontal=True, key="why_cmp_mode")
        chosen = [runs[i] for i in picked]
        if len(chosen) < 1:
            st.info("Pick at least one run.", icon=":material/touch_app:")
        else:
            influences = None
            with friendly_errors("Explaining with every run"):
                influences = inf_lib.explain_runs(chosen, history, target if mode == SAME_ITEM else None, exclude)
            if influences:
                st.markdown(md_escape(inf_lib.compare_sentence(influences)))
                chart(wf.compare_influence(influences, label), "why_cmp_lines")
                table = inf_lib.memory_table(influences)
                for row in table:
                    row["Explained item"] = label(row["Explained item"])
                st.dataframe(table, hide_index=True, width="stretch", column_config={
                    "Probability": st.column_config.NumberColumn(format="%.3f"),
                    "Older half (removal)": st.column_config.ProgressColumn(format="%.2f", min_value=0.0,
                                                                            max_value=1.0),
                    "Older half (gradient)": st.column_config.ProgressColumn(format="%.2f", min_value=0.0,
                                                                             max_value=1.0)})
                st.caption(why_text("profile"))
                histories = cached("profile_histories", ds, lambda: [h[-20:] for h in em.sample_histories(
                    ds.split, PROFILE_USERS, SEED)])
                with friendly_errors("Averaging over users"), st.spinner("Averaging over users..."):
                    profiles = {run_title(r): cached("profile", r, lambda r=r: inf_lib.average_profile(
                        r, histories, exclude), exclude) for r in chosen}
                    chart(wf.memory_profile_chart(profiles), "why_cmp_profile")
                    st.markdown(md_escape(inf_lib.profile_sentence(profiles)))

with tab_path:
    st.caption(why_text("trajectory"))
    with friendly_errors("Drawing the interest path"), st.spinner("Fitting the map of interests..."):
        space = cached("state_space", run, lambda: em.fit_state_space(
            run, em.sample_histories(ds.split, STATE_USERS, SEED), SEED))
        path = em.trajectory(run, history, space)
        chart(wf.trajectory_figure(path, space, label), "why_path")
        moves = em.drift(path)
        if len(path) > 1:
            big = int(np.argmax(moves))
            st.caption(md_escape(f"The biggest jump comes with item {big + 1}, {label(path['item'].iloc[big])}."))

with tab_map:
    st.caption(why_text("map"))
    c1, c2, c3 = st.columns(3)
    methods = ["pca", "tsne"] if len(run.vocab) <= em.TSNE_MAX_ITEMS else ["pca"]  # t-SNE would take minutes
    method = c1.radio("Projection", methods, horizontal=True, key="why_map_method",
                      format_func=lambda m: {"pca": "PCA", "tsne": "t-SNE"}[m],
                      help=f"t-SNE is offered for up to {em.TSNE_MAX_ITEMS:,} items.")
    has_categories = ds.items is not None and bool((ds.items["category"].astype(str).str.strip() != "").any())
    color_by = c2.radio("Colour by", ["category", "popularity"] if has_categories else ["popularity"],
                        horizontal=True, key="why_map_color")
    which = c3.radio("Item vectors", ["output", "input"], horizontal=True, key="why_map_vectors",
                     format_func=lambda w: {"input": "Input embedding", "output": "Output layer"}[w],
                     help="Input: how the network reads an item. Output: how it scores an item as the next one.")
    with friendly_errors("Drawing the item map"), st.spinner("Projecting the item vectors..."):
        points = cached("item_map", run, lambda: em.item_map(run, method, which, SEED,
                                                             em.popularity_for_run(run, ds.split)), method, which)
        chart(wf.item_map_figure(points, label, ds.item_category, color_by, explanation.items, recs),
              "why_map")

with tab_sim:
    st.caption(why_text("similar"))
    c1, c2 = st.columns([3, 1])
    options = list(dict.fromkeys([target] + recs + list(reversed(explanation.items))))
    item = c1.selectbox("Item", options, key=f"why_sim_item_{run.name}", format_func=label,
                        help="The explained item, the recommendations and the history (latest first).")
    k = c2.slider("How many", 3, 20, 10, key="why_sim_k")
    with friendly_errors("Finding similar items"):
        neighbours = em.nearest_items(run, item, k, which)
        followers = em.next_items(ds.fitted_baselines()["item_transitions"], ds.split.vocab, item, k)
        chart(wf.similar_items_figure(neighbours, followers, item, label), "why_similar")
        st.markdown(md_escape(em.overlap_sentence(neighbours, followers, item, label)))
