"""The Train page's live view of a running job, polled cheaply.

Every poll is a script run on the one server and a redraw in the watching browser, so the view is split by what it
shows. A training waiting in the queue shows one progress line with its place, polled every
`state.QUEUED_POLL_SECONDS` (its place changes only when a training ends) and no chart; when it starts, a full rerun
switches the page to the running view. A running training polls in two fragments: the progress line, numbers and
Stop button (small, every `state.poll_seconds()`: 1 s with a few trainings running, slower with many) and the live
chart (a static SVG, `studio.figures.live`: a Plotly figure cost the watching browser ~2 s of CPU to load and a few
tenths of a second per redraw; rebuilt only when the job's progress changed since the last build, and polled three
times less often). The finished run's interactive Plotly chart is drawn only on demand (views/train.py).
"""
from __future__ import annotations

import streamlit as st

from seqrec.service.jobs import QUEUED, queue_message
from studio import state
from studio.figures.live import live_chart_svg
from studio.textsafe import md_escape

_FIGURE = "_live_figure"  # (job id, progress key, figure) of the last chart built in this session


def watch() -> None:
    """The live view of this session's active job (call only while one is active)."""
    job = state.current_job()
    poll = state.poll_seconds(job)
    if job.status == QUEUED:
        st.fragment(_queued, run_every=poll)()
        st.caption("The live loss and validation chart appears here when your training starts.")
        return
    st.fragment(_progress, run_every=poll)()
    st.fragment(_chart, run_every=3 * poll)()


def _job_or_rerun():
    job = state.current_job()
    if job is None or not job.is_active:
        st.rerun()  # finished: a full rerun collects the run into the session's list
    return job


def _queued() -> None:
    job = _job_or_rerun()
    if job.status != QUEUED:
        st.rerun()  # it started: a full rerun draws the running view, polled at its own pace
    with st.container(border=True):
        st.progress(0.0, text=f"Waiting for a free training slot: {queue_message(job)}")
        if job.stop_requested:
            st.info("Withdrawing it from the queue…", icon=":material/hourglass_bottom:")
        elif st.button("Leave the queue", icon=":material/stop_circle:", key="train_stop",
                       help="Withdraws this training before it starts; nothing is trained or saved."):
            job.stop()


def _progress() -> None:
    job = _job_or_rerun()
    snap = job.snapshot(losses=False)
    k = job.config.monitor_k
    with st.container(border=True):
        head = f"Training **{md_escape(job.name)}** · epoch {max(snap.epoch, 1)} of up to {snap.epochs}"
        st.progress(snap.progress, text=head)
        c = st.columns([1, 1, 1, 1, 1.2])
        c[0].metric("Elapsed", f"{snap.elapsed:.1f} s")
        c[1].metric("Sequences / s", f"{snap.sequences_per_second:,.0f}")
        c[2].metric("Batches", f"{snap.n_losses:,}")
        best = max((e.get(f"recall@{k}", 0) for e in snap.epoch_metrics), default=None)
        c[3].metric(f"Best valid Recall@{k}", "—" if best is None else f"{best:.3f}")
        if job.stop_requested:
            c[4].info("Stopping after the current batch…", icon=":material/hourglass_bottom:")
        elif c[4].button("Stop", icon=":material/stop_circle:", key="train_stop",
                         help="Ends training after the current batch and keeps the best weights so far."):
            job.stop()


def _chart() -> None:
    job = _job_or_rerun()
    key = job.progress_key()
    kept = st.session_state.get(_FIGURE)
    if kept is None or kept[0] != id(job) or kept[1] != key:
        snap = job.snapshot()
        svg = live_chart_svg(snap.batch_losses, snap.epoch_metrics, job.config.monitor_k, snap.best_epoch)
        kept = st.session_state[_FIGURE] = (id(job), key, svg)
    st.image(kept[2], width="stretch")
