"""Widget groups of the Inside the network page that are more than layout: the LSTM vs GRU comparison."""
from __future__ import annotations

import streamlit as st

from seqrec import SeqrecError
from seqrec.inspect.gates import responsive_units, shared_history, trace_history
from studio.copy import gate_text
from studio.figures import gates as gf
from studio.ui import chart, friendly_errors, link_to_train

TOP_N = 20
KEEP_GATE = {"lstm": "forget", "gru": "update"}  # the gate that decides how much of the past each cell keeps


def lstm_vs_gru(runs, history, label) -> None:
    """The same history through an LSTM and a GRU run of this session: hidden-state change side by side, then
    each one's keep gate and average gates (asks for the missing cell type when there is none)."""
    lstms = [r for r in runs if r.config.model == "lstm"]
    grus = [r for r in runs if r.config.model == "gru"]
    if not lstms or not grus:
        st.info("This needs one LSTM run and one GRU run in this session; train the missing one on the Train page "
                "(or use the quick demo button when there are no runs).", icon=":material/info:")
        link_to_train()
        return
    c1, c2 = st.columns(2)
    pair = [lstms[c1.selectbox("LSTM run", range(len(lstms)), key="inside_cmp_lstm",
                               format_func=lambda i: lstms[i].name)],
            grus[c2.selectbox("GRU run", range(len(grus)), key="inside_cmp_gru",
                              format_func=lambda i: grus[i].name)]]
    common = shared_history(pair, history)
    traces = None
    with friendly_errors("Tracing both runs"):
        if not common:
            raise SeqrecError("The two runs share no item of this history; pick another user or other items.")
        traces = [trace_history(r, common) for r in pair]
    if not traces:
        return
    chart(gf.compare_hidden_change(traces, [r.name for r in pair], label), "inside_cmp_change")
    for col, t in zip((c1, c2), traces):
        with col:
            chart(gf.gate_heatmap(t, KEEP_GATE[t.cell], t.n_layers - 1,
                                  responsive_units(t.gate("hidden", -1), TOP_N), label), f"inside_cmp_keep_{t.cell}")
            st.caption(gate_text(t.cell, KEEP_GATE[t.cell]))
            chart(gf.gate_means_chart(t, t.n_layers - 1, label), f"inside_cmp_means_{t.cell}")
