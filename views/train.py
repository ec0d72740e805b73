"""Train page: settings form, a background training with live progress and a Stop button, and the finished run."""
import streamlit as st

from studio.figures import training as figures
from seqrec.runs.bundle import config_from_file
from seqrec.evaluation.compare import baseline_verdict, best_baseline, run_vs_baselines
from seqrec.training.jobs import QUEUED, queue_message
from studio.textsafe import md_escape
from studio import state
from studio.train_form import config_form
from studio.nav import PAGE
from studio.ui import friendly_errors, show_verdict

state.keep_widget_values()  # before any widget: restore settings dropped on a page switch
st.title(":material/model_training: Train")
ds = state.current_dataset()
st.caption(f"Train a recurrent next-item model on **{md_escape(ds.name)}** ({ds.stats['users']:,} users, "
           f"{ds.stats['items']:,} items). Each user's last item is held out for the test, the one before it for "
           f"validation; training runs in the background, so you can keep using the app.")

with st.container(border=True):
    config, run_name = config_form()
    busy = state.training_active()
    go = st.button("Train", type="primary", icon=":material/play_arrow:", disabled=busy, key="train_start",
                   help="Only one training per session at a time." if busy else None)
    if go and not state.training_active():
        with friendly_errors("Starting the training"):
            state.start_job(ds, config.validate(), run_name or None)  # refuses an over-budget config here
            st.rerun()

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


@st.fragment(run_every=1.0)
def live_progress():
    """Polls the running job every second: progress, speed, live chart and the Stop button."""
    job = state.current_job()
    if job is None or not job.is_active:
        st.rerun()  # finished: a full rerun collects the run into the session's list
    snap = job.snapshot()
    k = job.config.monitor_k
    with st.container(border=True):
        head = f"Waiting for a free training slot: {queue_message(job)}" if snap.status == QUEUED else \
            f"Training **{md_escape(job.name)}** · epoch {max(snap.epoch, 1)} of up to {snap.epochs}"
        st.progress(snap.progress, text=head)
        c = st.columns([1, 1, 1, 1, 1.2])
        c[0].metric("Elapsed", f"{snap.elapsed:.1f} s")
        c[1].metric("Throughput", f"{snap.sequences_per_second:,.0f} seq/s")
        c[2].metric("Batches", f"{len(snap.batch_losses):,}")
        best = max((e.get(f"recall@{k}", 0) for e in snap.epoch_metrics), default=None)
        c[3].metric(f"Best valid Recall@{k}", "—" if best is None else f"{best:.3f}")
        if job.stop_requested:
            c[4].info("Stopping after the current batch…", icon=":material/hourglass_bottom:")
        elif c[4].button("Stop", icon=":material/stop_circle:", key="train_stop",
                         help="Ends training after the current batch and keeps the best weights so far."):
            job.stop()
        st.plotly_chart(figures.training_progress(snap.batch_losses, snap.epoch_metrics, k, snap.best_epoch),
                        width="stretch", key="live_chart")


job = state.current_job()
if job is not None and job.is_active:
    live_progress()
elif job is not None and job.snapshot().status == "failed":
    st.error(md_escape(job.snapshot().error), icon=":material/error:")

# ---- the latest finished run -----------------------------------------------------------------------------------
runs = state.runs()
if runs and not state.training_active():
    run = runs[-1]
    k = run.config.monitor_k
    st.subheader(f"Latest run: {md_escape(run.name)}")
    stopped = " (stopped by you; best weights kept)" if run.stopped_by_user else ""
    st.caption(f"{run.config.model.upper()} · {run.parameter_count:,} parameters · {run.epochs_run} epochs, best at "
               f"epoch {run.best_epoch}{stopped} · {run.train_seconds:.1f} s · "
               f"{run.sequences_per_second:,.0f} sequences/s · data: {md_escape(run.dataset.get('name', '?'))}")
    _, best_base = best_baseline(run, f"recall@{k}")
    m = st.columns(4)
    for col, (key, label) in zip(m, [(f"recall@{k}", f"Test Recall@{k}"), (f"mrr@{k}", f"Test MRR@{k}"),
                                     (f"ndcg@{k}", f"Test NDCG@{k}"), (f"coverage@{k}", f"Coverage@{k}")]):
        value = run.metrics.get(key, 0.0)
        ref = best_base.get(key)
        col.metric(label, f"{value:.3f}", delta=None if ref is None else f"{value - ref:+.3f} vs best baseline")
    show_verdict(baseline_verdict(run, k))
    st.plotly_chart(figures.training_progress(run.batch_losses, run.epochs, k, run.best_epoch), width="stretch",
                    key="final_chart")
    left, right = st.columns([3, 2])
    with left:
        st.markdown("**Beside the baselines** (test set, same protocol)")
        table = run_vs_baselines(run, k)
        st.dataframe(table, hide_index=True, width="stretch",
                     column_config={c: st.column_config.NumberColumn(format="%.3f") for c in table.columns[1:]})
    with right:
        st.markdown("**Next steps**")
        st.page_link(PAGE["recommend"], label="See its recommendations", icon=":material/recommend:")
        st.page_link(PAGE["compare"], label="Compare all runs", icon=":material/leaderboard:")
elif not runs and not state.training_active():
    st.info("Pick a preset and press **Train**. *Quick demo* takes a few seconds on the sample data.",
            icon=":material/lightbulb:")
