"""Why this? Which history items a recommendation rests on, how far back each model remembers, and what the model
learned about items (a map of its item vectors, the user's path through its hidden states, similar items)."""
import streamlit as st

from seqrec.inspect import influence as inf_lib
from studio import state, why
from studio.copy import why_text
from studio.figures import why as wf
from studio.textsafe import md_escape
from studio.ui import chart, friendly_errors, note_unless_better, offer_quick_demo, pick_user_history

FROM_USER, BY_HAND = "A user from the data", "A history I build"
TOP_K = 10


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
                               format_func=lambda i: why.run_title(runs[i]))]
    note_unless_better(run)
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
    why.compare_runs(ds, runs, history, target, exclude)

with tab_path:
    why.interest_path(ds, run, history)

with tab_map:
    vectors = why.item_map(ds, run, explanation, recs)

with tab_sim:
    why.similar_items(ds, run, list(dict.fromkeys([target] + recs + list(reversed(explanation.items)))), vectors)
