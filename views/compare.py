"""Compare page: every run of the session beside the baselines, as a table, a bar chart and overlaid curves."""
import streamlit as st

from seqrec.evaluation import compare
from seqrec.runs.export import to_safe_csv
from studio.figures import training as figures
from studio.tables import comparison_for_display
from studio.textsafe import md_escape
from studio import state
from studio.ui import link_to_train, show_verdict

state.keep_widget_values()  # before any widget: restore settings dropped on a page switch
st.title(":material/leaderboard: Compare")
ds = state.current_dataset()
groups = compare.group_runs_by_dataset(state.runs(), ds)
group = groups[0]
mixed = compare.dataset_mix_warning(groups)
if mixed:  # metrics of runs on different data are not comparable: one dataset at a time
    st.warning(md_escape(mixed), icon=":material/warning:")
    if st.session_state.get("cmp_dataset") not in range(len(groups)):
        st.session_state["cmp_dataset"] = 0
    group = groups[st.selectbox("Dataset", range(len(groups)), key="cmp_dataset",
                                format_func=lambda i: f"{groups[i].label} · {len(groups[i].runs)} run(s)")]
if not group.is_current:
    st.info(f"These runs were trained on other data ({md_escape(group.label)}); their baselines are the ones "
            f"recorded with them. Load that data on the Data page to recompute everything.", icon=":material/info:")
runs = group.runs
st.caption("All runs of this session and the baselines, scored on the same held-out test items (each user's last "
           "interaction) with full ranking over every item.")

c = st.columns([1, 1, 3])
ks = compare.available_ks(runs)
if st.session_state.get("cmp_k") not in ks:
    st.session_state["cmp_k"] = max(ks)
k = c[0].selectbox("K", ks, key="cmp_k", help="Cut-off for the metrics: is the true next item in the top K?")
metric = c[1].selectbox("Metric", list(compare.METRIC_LABELS), key="cmp_metric",
                        format_func=compare.METRIC_LABELS.get,
                        help="Recall: share of users whose true next item is in the top K. MRR and NDCG also reward "
                             "ranking it high. Coverage: share of the catalogue ever recommended.")
metric_col = f"{compare.METRIC_LABELS[metric]}@{k}"

table = compare.comparison_table(runs, ds, k, baselines=None if group.is_current else compare.recorded_baselines(runs))
if not runs:
    st.info("Only the baselines so far: train a run to see how a recurrent network compares.",
            icon=":material/info:")
    link_to_train("Train a model")
else:
    for run in runs:
        show_verdict(compare.baseline_verdict(run, k, metric), with_icon=True)

st.dataframe(comparison_for_display(table), hide_index=True, width="stretch",
             column_config={**{col: st.column_config.NumberColumn(format="%.4f") for col in compare.metric_columns(k)},
                            "Parameters": st.column_config.NumberColumn(format="localized")})
st.download_button("Download as CSV", to_safe_csv(table), file_name="seqrec_comparison.csv",
                   mime="text/csv", icon=":material/download:", key="download_comparison")

st.plotly_chart(figures.metric_bars(table, metric_col), width="stretch", key="bars")
if runs:
    left, right = st.columns(2)
    left.plotly_chart(figures.validation_curves(runs, f"{metric}@{k}", metric_col), width="stretch", key="valid_curves")
    right.plotly_chart(figures.loss_curves(runs), width="stretch", key="loss_curves")
