"""Inside the network: every gate of a trained RNN / LSTM / GRU over one history, with plain-language notes."""
import streamlit as st

from seqrec.inspect.gates import responsive_units, trace_history
from studio import state
from studio.copy import RNN_NOTE, cell_intro, gate_text, view_text
from studio.figures import gates as gf
from studio.inside import TOP_N, lstm_vs_gru
from studio.textsafe import md_escape
from studio.ui import chart_with_text, friendly_errors, note_unless_better, offer_quick_demo, pick_user_history

FROM_USER, BY_HAND = "A user from the data", "A history I build"

st.title(":material/neurology: Inside the network")
st.caption("Pick a trained run and a history, and see what every gate of the recurrent network does with each "
           "item, step by step. The values are recomputed from the run's own weights, exactly as it scores.")

ds = state.current_dataset()
runs = state.runs()
label = ds.item_label

if not runs:
    offer_quick_demo("There are no trained runs in this session yet. Train one on the Train page, or train a small "
                     "GRU and LSTM on the current data right here (a few seconds on the sample).", ("gru", "lstm"),
                     "inside_demo", state.runs)

# -- what to trace ---------------------------------------------------------------------------------------------------
with st.container(border=True):
    c_run, c_src, c_hist = st.columns([2, 2, 3])
    run = runs[c_run.selectbox("Run", range(len(runs)), index=len(runs) - 1, key="inside_run",
                               format_func=lambda i: f"{runs[i].name} · {runs[i].config.model.upper()}")]
    note_unless_better(run)
    source = c_src.radio("History", [FROM_USER, BY_HAND], key="inside_source")
    with c_hist:
        if source == FROM_USER:
            history, _ = pick_user_history(ds, "inside", "Most recent items to trace")
        else:
            options = [str(i) for i in run.vocab.ids]
            history = st.multiselect("Items in order (oldest first)", options, default=options[:5],
                                     format_func=label, key=f"inside_items_{run.name}")

if not history:
    st.info("Add at least one item to the history to see inside the network.", icon=":material/info:")
    st.stop()

trace = None
with friendly_errors("Tracing the history"):
    trace = trace_history(run, history)
if trace is None:
    st.stop()
if trace.unknown_items:
    st.caption(f":material/warning: Skipped {len(trace.unknown_items)} item(s) this run never saw: "
               + ", ".join(md_escape(label(i)) for i in trace.unknown_items[:5]))
if trace.dropped_items:
    st.caption(f":material/warning: The run reads only the last {run.config.max_len} items; the "
               f"{len(trace.dropped_items)} oldest are not shown.")

st.markdown(cell_intro(trace.cell))
if trace.cell == "rnn":
    st.info(RNN_NOTE, icon=":material/lightbulb:")

c_layer, c_units = st.columns(2) if trace.n_layers > 1 else (None, st.container())
layer = 0
if trace.n_layers > 1:
    layer = c_layer.radio("Layer", list(range(trace.n_layers)), format_func=lambda k: f"Layer {k + 1}",
                          horizontal=True, key="inside_layer", help="Layer 1 reads the items; each next layer reads "
                          "the hidden state of the one below.")
show_top = c_units.radio("Units", [f"Top {TOP_N} most responsive", "All units"], horizontal=True,
                         key="inside_units", help=view_text("top_units")).startswith("Top")
units = responsive_units(trace.gate("hidden", layer), TOP_N) if show_top else None

tab_heat, tab_mean, tab_sat, tab_change, tab_compare = st.tabs(
    ["Heatmaps", "Average per step", "Saturation", "State change", "LSTM vs GRU"])

with tab_heat:
    st.caption(view_text("heatmap") + (" " + view_text("top_units") if show_top else ""))
    for gate in trace.gate_names:
        chart_with_text(gf.gate_heatmap(trace, gate, layer, units, label), f"inside_heat_{gate}",
                        gate_text(trace.cell, gate))

with tab_mean:
    chart_with_text(gf.gate_means_chart(trace, layer, label), "inside_means", view_text("means"))

with tab_sat:
    chart_with_text(gf.saturation_histograms(trace, layer), "inside_saturation", view_text("saturation"))

with tab_change:
    chart_with_text(gf.hidden_change_bars(trace, layer, label), "inside_change", view_text("change"))

with tab_compare:
    st.subheader("Same history, LSTM vs GRU")
    st.caption(view_text("compare"))
    lstm_vs_gru(runs, history, label)
