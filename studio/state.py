"""Per-session state of the app: the current dataset, the session's runs and its training job.

Everything mutable lives in `st.session_state` (one per browser session). The only cached object is the bundled
sample dataset, which is derived purely from files shipped with the app (same content -> same object).
"""
from __future__ import annotations

import hashlib
import re
import secrets

import streamlit as st
from streamlit import runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

import seqrec
from seqrec.training import jobs
from seqrec.data.dataset import Dataset, sample_dataset
from seqrec.runs.store import open_store
from studio.textsafe import md_escape

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
    jobs.set_session_check(streamlit_session_exists)  # idempotent: lets the reaper free closed sessions' slots
    session_id()
    collect_finished_job()


KEPT_PREFIXES = ("tf_", "f_", "rec_", "cmp_", "why_")


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
        save_to_store(job.run)
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


def browser_session() -> str | None:
    """Streamlit's id of this browser session (the owner of its training job); None outside a Streamlit run."""
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else None


def streamlit_session_exists(session_id: str) -> bool:
    """Whether a browser session is connected, or disconnected but still kept for a reconnect (Streamlit keeps it
    about two minutes). The reaper stops the training jobs of sessions for which this turns False."""
    if not runtime.exists():  # AppTest and scripts: no server, no sessions to lose
        return True
    rt = runtime.get_instance()
    if rt.is_active_session(session_id):
        return True
    manager = getattr(rt, "_session_mgr", None)  # no public API for sessions kept for a reconnect
    return manager is None or manager.get_session_info(session_id) is not None


def start_job(dataset: Dataset, config: seqrec.TrainConfig, name: str | None) -> None:
    """Queue this session's training, owned by this browser session (a config over the memory budget raises)."""
    set_job(jobs.start_training(dataset, config, name=name, owner=browser_session()))


def raw_table(files: list[tuple[str, bytes | str]]):
    """The raw table of the chosen files, read once and kept in this session only (not in a process-wide cache),
    so a closed session's uploads are freed with it. Keyed by names and content."""
    h = hashlib.sha1()
    for name, data in files:
        h.update(name.encode("utf-8", "replace") + b"\0")
        h.update(data if isinstance(data, bytes) else data.encode("utf-8", "replace"))
        h.update(b"\0")
    key = h.hexdigest()
    kept = st.session_state.get("_raw_table")
    if kept is None or kept[0] != key:
        st.session_state.pop("_raw_table", None)  # the old table goes before the new one is read
        with st.spinner("Reading the files..."):
            table = seqrec.read_tables([b for _, b in files], [n for n, _ in files])
        st.session_state["_raw_table"] = (key, table)
        kept = st.session_state["_raw_table"]
    return kept[1]


def cached(kind: str, owner, compute, *params):
    """Per-session cache keyed by the identity of `owner` (a run or a dataset: the object itself, not its name,
    which can change), so a page rerun reuses projections and profiles instead of recomputing them."""
    store = st.session_state.setdefault("_why_cache", {})
    key = (kind, id(owner), *params)
    hit = store.get(key)
    if hit is None or hit[0] is not owner:
        hit = store[key] = (owner, compute())
    return hit[1]


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
    if snap.status == jobs.QUEUED:
        st.progress(0.0, text=f":material/hourglass_empty: **{md_escape(job.name)}** is waiting: "
                              f"{jobs.queue_message(job)}")
        return
    st.progress(snap.progress,
                text=f":material/hourglass_top: Training **{md_escape(job.name)}** · {snap.progress:.0%}")


def sidebar() -> None:
    """The shared sidebar: the current dataset in numbers, the session's runs and any training in progress."""
    ds = current_dataset()
    with st.sidebar:
        st.markdown("##### :material/database: Current data")
        with st.container(border=True):
            st.markdown(f"**{md_escape(ds.name)}**")
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
            st.caption(f":material/check_circle: **{md_escape(r.name)}** · "
                       f"Recall@{k} {r.metrics.get(f'recall@{k}', 0):.3f}")


# ---- the run library (seqrec.runs.store): runs that outlive the tab ---------------------------------------------------
SESSION_ID = "seqrec_session_id"
STORE_NOTE = "store_note"
STORE_WARNED = "store_warned"
WORKSPACE_PARAM = "workspace"


def session_id() -> str:
    """This session's private id in the run library (its runs are visible to it alone unless published). Kept in
    session_state and mirrored in the page address (?workspace=...), so a reload or a bookmark finds the same
    private runs again."""
    sid = st.session_state.get(SESSION_ID)
    if not sid:
        param = st.query_params.get(WORKSPACE_PARAM, "")
        sid = param if re.fullmatch(r"[0-9a-f]{32}", param or "") else secrets.token_hex(16)
        st.session_state[SESSION_ID] = sid
    if st.query_params.get(WORKSPACE_PARAM) != sid:
        st.query_params[WORKSPACE_PARAM] = sid
    return sid


def run_store():
    """The run library under SEQREC_HOME, shared by every session of this process (short connections per call)."""
    return open_store()


def save_to_store(run: seqrec.Run) -> None:
    """Keep a finished run in the library, private to this session. A failure (disk full, read-only folder) keeps
    the run in the session and leaves one sentence for the Runs page."""
    try:
        run_store().save(run, session_id(), name=run.name[:100])
    except seqrec.SeqrecError as e:
        st.session_state[STORE_NOTE] = f"'{run.name}' could not be saved to the run library: {e}"
        if not st.session_state.get(STORE_WARNED):  # said once on any page; the Runs page repeats the details
            st.session_state[STORE_WARNED] = True
            st.toast(md_escape(f"Runs are not being saved (they stay in this session only): {e}"),
                     icon=":material/warning:")
