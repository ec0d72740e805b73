"""Train page: settings form, a background training with live progress and a Stop button, and the finished run."""
import streamlit as st

from seqrec.config import MAX_SEEDS
from seqrec.evaluation.compare import baseline_verdict, best_baseline, run_vs_baselines
from seqrec.runs.bundle import config_from_file
from studio import live, state
from studio.figures import training as figures
from studio.figures.live import live_chart_svg
from studio.nav import PAGE
from studio.textsafe import md_escape
from studio.train_form import START_ERROR, config_form, start_from_form
from studio.ui import friendly_errors, show_hybrid, show_seed_series, show_verdict

state.keep_widget_values()  # before any widget: restore settings dropped on a page switch
st.title(":material/model_training: Train")
ds = state.current_dataset()
st.caption(f"Train a recurrent next-item model on **{md_escape(ds.name)}** ({ds.stats['users']:,} users, "
           f"{ds.stats['items']:,} items). Each user's last item is held out for the test, the one before it for "
           f"validation; training runs in the background, so you can keep using the app.")

with st.container(border=True):
    config_form()
    busy = state.training_active()
    b_go, b_seeds = st.columns([1, 3], vertical_alignment="bottom")
    b_seeds.number_input("Repeat with N seeds", min_value=1, max_value=MAX_SEEDS, key="tf_n_seeds",
                         help="Train the same settings N times (seed, seed + 1, ...) one after another and see the "
                              "mean and spread across seeds beside each run's 95% interval.")
    b_go.button("Train", type="primary", icon=":material/play_arrow:", disabled=busy, key="train_start",
                on_click=start_from_form,  # starts the job before this script runs: one rerun per press
                help="Only one training per session at a time." if busy else None)
    if st.session_state.get(START_ERROR):  # e.g. a config over the memory budget; shown once
        st.error(md_escape(st.session_state.pop(START_ERROR)), icon=":material/error:")

with st.expander("Start from a saved config (.json)", icon=":material/upload_file:"):
    st.caption("Upload a config downloaded from the Runs page (or a saved run's config.json) to train exactly those "
               "settings on the current data: the same data and seed give the same numbers.")
    uploaded_config = st.file_uploader("Config JSON", type=["json"], key="train_config_file")
    if uploaded_config is not None:
        with friendly_errors("Reading the config"):
            file_config, doc = config_from_file(uploaded_config, uploaded_config.name)
            st.json(file_config.to_dict(), expanded=False)
            source = doc.get("dataset")  # a hand-edited file may hold anything here: only an object is read
            if isinstance(source, dict) and source.get("fingerprint") not in (None, "", ds.fingerprint):
                st.info("This config's run was trained on other data, so the numbers will differ from it.",
                        icon=":material/info:")
            if st.button("Train with this config", key="train_from_config", icon=":material/play_arrow:",
                         disabled=state.training_active()):
                state.start_job(ds, file_config, doc.get("name"))
                st.rerun()


job = state.current_job()
if state.interrupted_note():
    st.warning(md_escape(state.interrupted_note()), icon=":material/restart_alt:")
if job is not None and job.is_active and st.session_state.get(state.TRAIN_CAP_NOTE):
    st.info(st.session_state[state.TRAIN_CAP_NOTE], icon=":material/timer:")  # the server's minutes cap
if job is not None and job.is_active:
    live.watch()  # progress every 1-5 s, the chart only when it changed (studio/live.py)
elif job is not None and job.snapshot().status == "failed":
    st.error(md_escape(job.snapshot().error), icon=":material/error:")

# ---- the latest finished run -----------------------------------------------------------------------------------
runs = state.runs()
if runs and not state.training_active():
    run = runs[-1]
    k = run.config.monitor_k
    st.subheader(f"Latest run: {md_escape(run.name)}")
    stopped = " (stopped by you; best weights kept)" if run.stopped_by_user else ""
    dropout = "auto" if run.config.dropout is None else f"{run.config.dropout:g}"  # a trained run records its value
    st.caption(f"{run.config.model.upper()} · {run.parameter_count:,} parameters · dropout {dropout} · "
               f"{run.epochs_run} epochs, best at epoch {run.best_epoch}{stopped} · {run.train_seconds:.1f} s · "
               f"{run.sequences_per_second:,.0f} sequences/s · data: {md_escape(run.dataset.get('name', '?'))}")
    _, best_base = best_baseline(run, f"recall@{k}")
    m = st.columns(4)
    for col, (key, label) in zip(m, [(f"recall@{k}", f"Test Recall@{k}"), (f"mrr@{k}", f"Test MRR@{k}"),
                                     (f"ndcg@{k}", f"Test NDCG@{k}"), (f"coverage@{k}", f"Coverage@{k}")], strict=True):
        value = run.metrics.get(key, 0.0)
        ref = best_base.get(key)
        col.metric(label, f"{value:.3f}", delta=None if ref is None else f"{value - ref:+.3f} vs best baseline")
    show_verdict(baseline_verdict(run, k))
    show_hybrid(run, k)
    series = state.seed_series_runs()
    if len(series) > 1 and any(r is run for r in series):
        show_seed_series(series, k)
    if run.order_check:
        st.markdown(f"**Does order matter?** {md_escape(run.order_check.get('sentence', ''))}")
    # The curves as a static SVG: a Plotly chart here cost each finishing page ~2 s of browser CPU (loading Plotly),
    # just as the next trainings start. The interactive chart is drawn only when its expander is opened.
    st.image(state.cached("final_svg", run, lambda: live_chart_svg(run.batch_losses, run.epochs, k, run.best_epoch)),
             width="stretch")
    interactive = st.expander("Interactive chart (hover for values)", icon=":material/query_stats:",
                              key="train_final_interactive", on_change="rerun")
    if interactive.open:
        interactive.plotly_chart(figures.training_progress(run.batch_losses, run.epochs, k, run.best_epoch),
                                 width="stretch", key="final_chart")
    left, right = st.columns([3, 2])
    with left:
        st.markdown("**Beside the baselines** (test set, same protocol)")
        table = run_vs_baselines(run, k)
        st.dataframe(table, hide_index=True, width="stretch",
                     column_config={c: st.column_config.NumberColumn(format="%.3f") for c in table.columns[1:4]})
    with right:
        st.markdown("**Next steps**")
        st.page_link(PAGE["recommend"], label="See its recommendations", icon=":material/recommend:")
        st.page_link(PAGE["compare"], label="Compare all runs", icon=":material/leaderboard:")
elif not runs and not state.training_active():
    st.info("Pick a preset and press **Train**. *Quick demo* takes a few seconds on the sample data.",
            icon=":material/lightbulb:")
