"""Compare page: every run of the session beside the baselines, as a table, a bar chart and overlaid curves."""
import streamlit as st

from seqrec.evaluation import compare
from seqrec.runs.export import to_safe_csv
from studio import state
from studio.figures import training as figures
from studio.figures.compare import history_length_bars
from studio.tables import comparison_for_display
from studio.textsafe import md_escape
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
           "interaction) with full ranking over every item. Whiskers and the low/high columns are 95% intervals "
           "(bootstrap over users); verdicts use the paired interval of the difference.")

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

table = compare.comparison_table(runs, ds, k, baselines=None if group.is_current else compare.recorded_baselines(runs),
                                 metric=metric)
if group.is_current:  # on a large upload the baselines are scored on a seeded sample of users: say so
    scored = sorted({m["users_scored"] for m in ds.baseline_metrics(sorted({k, *ks}), False).values()
                     if m.get("users_scored")})
    if scored:
        st.caption(f"With {len(ds.split.users):,} users, the baselines are scored on a fixed random sample of "
                   f"{', '.join(f'{n:,}' for n in scored)} users (the same sample every time), which keeps this page "
                   f"within the server's time and memory; their metrics are then estimates.")
sampled = sorted({r.metrics["users_scored"] for r in runs if r.metrics.get("users_scored")})
if sampled:  # a trained model's test pass uses a nested seeded sample of a large upload's users
    st.caption(f"The runs' test metrics are measured on a fixed random sample of "
               f"{', '.join(f'{n:,}' for n in sampled)} "
               "users (the same users for every run, all of them among the baselines' users).")
if not runs:
    st.info("Only the baselines so far: train a run to see how a recurrent network compares.",
            icon=":material/info:")
    link_to_train("Train a model")
else:
    for run in runs:
        show_verdict(compare.baseline_verdict(run, k, metric), with_icon=True)
        hybrid = compare.hybrid_view(run)
        if hybrid is not None:
            show_verdict(compare.baseline_verdict(hybrid, k, metric), with_icon=True)

st.dataframe(comparison_for_display(table), hide_index=True, width="stretch",
             column_config={**{col: st.column_config.NumberColumn(format="%.4f")
                               for col in (*compare.metric_columns(k), *compare.interval_columns(k, metric))},
                            "Parameters": st.column_config.NumberColumn(format="localized")})
st.download_button("Download as CSV", to_safe_csv(table), file_name="seqrec_comparison.csv",
                   mime="text/csv", icon=":material/download:", key="download_comparison")

st.plotly_chart(figures.metric_bars(table, metric_col), width="stretch", key="bars")
if runs:
    left, right = st.columns(2)
    left.plotly_chart(figures.validation_curves(runs, f"{metric}@{k}", metric_col), width="stretch", key="valid_curves")
    right.plotly_chart(figures.loss_curves(runs), width="stretch", key="loss_curves")

    paired = compare.paired_runs(runs)
    st.subheader("Run vs run, order and history length" if len(paired) >= 2 else "Order and history length")
    if len(paired) >= 2:
        for key, default in (("cmp_a", 0), ("cmp_b", 1)):
            if st.session_state.get(key) not in range(len(paired)):
                st.session_state[key] = default
        c = st.columns(2)
        a = c[0].selectbox("Run", range(len(paired)), key="cmp_a", format_func=lambda i: paired[i].name)
        b = c[1].selectbox("against", range(len(paired)), key="cmp_b", format_func=lambda i: paired[i].name)
        show_verdict(compare.run_vs_run_verdict(paired[a], paired[b], k, metric), with_icon=True)
    for run in runs:
        if run.order_check:
            st.markdown(f"**Does order matter?** {md_escape(run.name)}: "
                        f"{md_escape(run.order_check.get('sentence', ''))}")
    by_length = compare.history_length_table(runs, f"{metric}@{k}" if metric != "coverage" else f"recall@{k}")
    if len(by_length):
        label = metric_col if metric != "coverage" else f"Recall@{k}"
        st.plotly_chart(history_length_bars(by_length, by_length.columns[-1], label), width="stretch", key="by_len")
    elif not paired:
        st.caption("Intervals, the order check and metrics by history length need per-user results, which runs "
                   "saved before they were kept do not have: train again to see them.")
