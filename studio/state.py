"""Per-session state of the app: the current dataset, the session's runs and its training job.

Everything mutable lives in `st.session_state` (one per browser session). The only cached object is the bundled
sample dataset, which is derived purely from files shipped with the app (same content -> same object).
"""
from __future__ import annotations

import streamlit as st

import seqrec
from seqrec.dataset import Dataset, sample_dataset

DATASET = "dataset"
RUNS = "runs"
JOB = "job"


@st.cache_resource(show_spinner="Loading the bundled sample data...")
def _sample() -> Dataset:
    """The bundled sample, loaded once per process: pure content, identical for every session."""
    return sample_dataset()


def init_state() -> None:
    """Make sure this session has a dataset (the bundled sample on first use), a run list and a job slot, and
    move a training that finished since the last rerun into the run list (exactly once)."""
    if DATASET not in st.session_state:
        st.session_state[DATASET] = _sample()
    st.session_state.setdefault(RUNS, [])
    st.session_state.setdefault(JOB, None)
    collect_finished_job()


KEPT_PREFIXES = ("tf_", "f_", "rec_", "cmp_")


def keep_widget_values() -> None:
    """Streamlit forgets a widget's value when its page is not shown. Called at the top of each page (before its
    widgets), this copies the form values to a plain session dict and restores the ones Streamlit dropped, so the
    user's settings survive page switches."""
    kept = dict(st.session_state.get("_kept_widget_values", {}))
    for key in list(st.session_state.keys()):
        if isinstance(key, str) and key.startswith(KEPT_PREFIXES):
            kept[key] = st.session_state[key]
    for key, value in kept.items():
        if key not in st.session_state:
            st.session_state[key] = value
    st.session_state["_kept_widget_values"] = kept


def collect_finished_job():
    """If this session's job has ended and was not collected yet, add its run to the list; returns that run."""
    job = st.session_state.get(JOB)
    if job is None or job.is_active or job.collected:
        return None
    job.collected = True
    if job.run is not None:
        add_run(job.run)
    return job.run


def current_dataset() -> Dataset:
    """The dataset bundle of this session (`.interactions`, `.split`, `.stats`, `.items` or None, `.name`)."""
    init_state()
    return st.session_state[DATASET]


def set_dataset(ds: Dataset) -> None:
    """Replace this session's dataset. Runs trained on other data stay listed but are marked as such."""
    st.session_state[DATASET] = ds


def runs() -> list[seqrec.Run]:
    """The runs trained in this session, newest last."""
    init_state()
    return st.session_state[RUNS]


def runs_for_current_dataset() -> list[seqrec.Run]:
    """Runs whose vocabulary belongs to the current dataset (the ones that can score its users)."""
    fp = current_dataset().fingerprint
    return [r for r in runs() if r.dataset.get("fingerprint") == fp]


def add_run(run: seqrec.Run) -> None:
    """Append a finished run to this session's list (names are kept unique so pickers stay unambiguous)."""
    names = {r.name for r in runs()}
    base, n = run.name, 2
    while run.name in names:
        run.name = f"{base} ({n})"
        n += 1
    runs().append(run)


def current_job():
    """This session's training job (running or finished but not yet collected), or None."""
    init_state()
    return st.session_state[JOB]


def set_job(job) -> None:
    st.session_state[JOB] = job


def training_active() -> bool:
    """True while this session's training is queued or running (only one per session)."""
    job = current_job()
    return job is not None and job.is_active


@st.fragment(run_every=1.0)
def _sidebar_job_status() -> None:
    """Polls the running job from any page; when it ends, a full rerun collects the run and refreshes the pages."""
    job = current_job()
    if job is None or not job.is_active:
        st.rerun()
    snap = job.snapshot()
    st.progress(snap.progress, text=f":material/hourglass_top: Training **{job.name}** · {snap.progress:.0%}")


def sidebar() -> None:
    """The shared sidebar: the current dataset in numbers, the session's runs and any training in progress."""
    ds = current_dataset()
    with st.sidebar:
        st.markdown("##### :material/database: Current data")
        with st.container(border=True):
            st.markdown(f"**{ds.name}**")
            s = ds.stats
            st.caption(f"{s['users']:,} users · {s['items']:,} items · {s['interactions']:,} interactions"
                       + (" · item names loaded" if ds.items is not None else ""))
        st.markdown("##### :material/model_training: Runs")
        if training_active():
            _sidebar_job_status()
        rs = runs()
        if not rs and not training_active():
            st.caption("No runs yet. Train one on the Train page.")
        for r in rs:
            k = r.config.monitor_k
            st.caption(f":material/check_circle: **{r.name}** · Recall@{k} {r.metrics.get(f'recall@{k}', 0):.3f}")
