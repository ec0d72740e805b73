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
from streamlit.runtime.state import get_session_state

import seqrec
from seqrec.config import cap_training_minutes
from seqrec.runs.run import default_run_name
from seqrec.service import jobs
from seqrec.service.dataset import Dataset, sample_dataset
from seqrec.service.library import open_store
from seqrec.service.seeds import seed_series
from studio.textsafe import md_escape

DATASET = "dataset"
RUNS = "runs"
JOB = "job"
TRAIN_CAP_NOTE = "train_cap_note"  # the sentence saying the server's minutes cap shortened the last training
SEED_SERIES = "seed_series"  # "repeat with N seeds": {"seeds", "todo" (SeedTrainings to start), "runs" (names)}


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
    _job_setup_once()
    collect_finished_job()


KEPT_PREFIXES = ("tf_", "f_", "rec_", "cmp_", "why_", "tune_")


def keep_widget_values() -> None:
    """Streamlit forgets a widget's value when its page is not shown. Called at the top of each page (before its
    widgets), this copies the form values to a plain session dict and restores the ones Streamlit dropped, so the
    user's settings survive page switches."""
    kept = dict(st.session_state.get("_kept_widget_values", {}))
    for key in list(st.session_state.keys()):
        if isinstance(key, str) and key.startswith(KEPT_PREFIXES) and not _read_only_widget(key):
            kept[key] = st.session_state[key]
    for key, value in kept.items():
        # Always written back, not only when missing: a value restored on a page without its widget (Train ->
        # Recommend -> Why this? -> Train) is otherwise ignored by the widget, which then starts at its minimum.
        # Before any widget of the run, so this never overrides a widget drawn in this run.
        st.session_state[key] = value
    st.session_state["_kept_widget_values"] = kept


_READ_ONLY_VALUES = {"trigger_value", "string_trigger_value", "file_uploader_state_value", "chat_input_value"}


def _read_only_widget(key: str) -> bool:
    """True for a button, download button, uploader or chat input: Streamlit refuses a value set for them (and
    there is no setting to keep). Streamlit has no public API for a key's widget type, hence the internals."""
    try:
        inner = get_session_state()._state
        widget_id = inner._key_id_mapper.get_id_from_key(key, None)
        meta = inner._new_widget_state.widget_metadata.get(widget_id) if widget_id else None
    except AttributeError:  # other Streamlit internals: keep the value (as before)
        return False
    return meta is not None and meta.value_type in _READ_ONLY_VALUES


def collect_finished_job():
    """If this session's job has ended and was not collected yet, add its run to the list; returns that run.
    The job saved the run to the library itself; only a job started without a saver is saved here."""
    job = st.session_state.get(JOB)
    if job is None or job.is_active or job.collected:
        return None
    job.collected = True
    if job.run is not None:
        add_run(job.run)
        if getattr(job, "saver", None) is None:
            save_to_store(job.run)
        elif job.save_error:
            _store_failed(job.run, job.save_error)
    _continue_seed_series(job.run)
    return job.run


def start_seed_series(dataset: Dataset, config: seqrec.TrainConfig, name: str | None, n: int) -> None:
    """Train `config` with seeds seed, seed + 1, ..., one after another (one training per session at a time): the
    first now, each next one when the previous is collected. n = 1 is a plain training."""
    st.session_state[SEED_SERIES] = None
    if n <= 1:
        start_job(dataset, config, name)
        return
    first, *rest = seed_series(config, n, name or default_run_name(config))
    start_job(dataset, first.config, first.name)
    st.session_state[SEED_SERIES] = {"seeds": [first.seed] + [t.seed for t in rest], "todo": rest, "runs": []}


def _continue_seed_series(run) -> None:
    """After a run of a seed series is collected: start the next seed (a stopped or failed run ends the series)."""
    series = st.session_state.get(SEED_SERIES)
    if not series:
        return
    if run is not None:
        series["runs"].append(run.name)
    if series["todo"] and run is not None and not run.stopped_by_user:
        nxt = series["todo"].pop(0)
        start_job(current_dataset(), nxt.config, nxt.name)
    else:
        series["todo"] = []


def seed_series_runs() -> list:
    """The finished runs of the latest completed seed series (empty while it is still training, or without one)."""
    series = st.session_state.get(SEED_SERIES)
    if not series or series["todo"] or training_active():
        return []
    by_name = {r.name: r for r in runs()}
    return [by_name[n] for n in series["runs"] if n in by_name]


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
    """Queue this session's training, owned by this browser session (a config over the memory budget raises). The
    job saves its finished run to this workspace's library itself, so a reload or a closed tab loses nothing."""
    config, capped = cap_training_minutes(config)  # the server-wide minutes cap (SEQREC_MAX_TRAIN_MINUTES)
    st.session_state[TRAIN_CAP_NOTE] = capped
    workspace = session_id()

    def saver(run):  # runs in the training's pool thread: no st.* calls here
        return run_store().save(run, workspace, name=run.name[:100])

    set_job(jobs.start_training(dataset, config, name=name, owner=browser_session(), workspace=workspace,
                                saver=saver))


# ---- warm workers, a returning session's job, trainings a server restart lost ----------------------------------------
INTERRUPTED_NOTE = "interrupted_note"


def _job_setup_once() -> None:
    """Once per browser session: worker processes warm (the first Train starts at once), the job journal in the
    run library, the job this workspace started before a reload or in a closed tab (running or just finished),
    and one message about trainings a server restart interrupted."""
    if st.session_state.get("_job_setup"):
        return
    st.session_state["_job_setup"] = True
    try:
        jobs.warm_up()
    except Exception:
        pass
    workspace = session_id()
    try:
        jobs.set_journal(run_store().home / "jobs")
        lost = jobs.interrupted_jobs(workspace)
    except (seqrec.SeqrecError, OSError):
        lost = []
    if lost:
        st.session_state[INTERRUPTED_NOTE] = jobs.interrupted_message(lost)
        st.toast(md_escape(st.session_state[INTERRUPTED_NOTE]), icon=":material/restart_alt:")
    if st.session_state.get(JOB) is None:
        job = jobs.job_for_workspace(workspace)
        if job is not None:
            if job.is_active:
                job.owner = browser_session() or job.owner  # the reaper follows the job to this session
            elif job.run is not None and any(r is job.run for r in st.session_state.get(RUNS, [])):
                job.collected = True
            else:
                job.collected = False  # this session shows (and lists) the run it finished meanwhile
            st.session_state[JOB] = job


def interrupted_note() -> str:
    """The sentence about trainings a server restart lost (shown until the session ends), or ''."""
    return st.session_state.get(INTERRUPTED_NOTE, "")


QUEUED_POLL_SECONDS = 5.0


def poll_seconds(job=None) -> float:
    """How often a page polls its job. Each poll is a script run on the one server and a redraw in the browser, so
    a training waiting in the queue polls every `QUEUED_POLL_SECONDS` (its place changes only when a training ends;
    the page switches to the running view when it starts), a running one every second while a few run, slower when
    many do (at most every 5 s)."""
    if job is not None and job.status == jobs.QUEUED:
        return QUEUED_POLL_SECONDS
    running = sum(1 for j in jobs.active_jobs() if j.status == jobs.RUNNING)
    return max(1.0, min(5.0, running / 2))


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


def _sidebar_job_status(poll: bool) -> None:
    job = current_job()
    if not poll:  # the page polls the job itself (the Train page's live view): one poller per page is enough
        st.caption(f":material/hourglass_top: **{md_escape(job.name)}**: its progress is on this page.")
        return
    st.fragment(_sidebar_job_poll, run_every=2 * poll_seconds(job))(job.status)


def _sidebar_job_poll(drawn_as: str) -> None:
    """Polls the job from any page; when it ends, a full rerun collects the run and refreshes the pages, and when a
    queued one starts, a full rerun sets the running pace of every poll on the page."""
    job = current_job()
    if job is None or not job.is_active or job.status != drawn_as:
        st.rerun()
    _sidebar_job_line(job)


def _sidebar_job_line(job) -> None:
    snap = job.snapshot(losses=False)
    if snap.status == jobs.QUEUED:
        st.progress(0.0, text=f":material/hourglass_empty: **{md_escape(job.name)}** is waiting: "
                              f"{jobs.queue_message(job)}")
        return
    st.progress(snap.progress,
                text=f":material/hourglass_top: Training **{md_escape(job.name)}** · {snap.progress:.0%}")


def sidebar(poll: bool = True) -> None:
    """The shared sidebar: the current dataset in numbers, the session's runs and any training in progress (polled
    unless `poll` is False: on a page that polls the job itself, each poll being a script run and a redraw)."""
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
            _sidebar_job_status(poll)
        rs = runs()
        if not rs and not training_active():
            st.caption("No runs yet. Train one on the Train page.")
        for r in rs:
            k = r.config.monitor_k
            st.caption(f":material/check_circle: **{md_escape(r.name)}** · "
                       f"Recall@{k} {r.metrics.get(f'recall@{k}', 0):.3f}")


# ---- the run library (seqrec.runs.store): runs that outlive the tab --------------------------------------------------
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
        _store_failed(run, str(e))


def _store_failed(run: seqrec.Run, e: str) -> None:
    """Say once (toast) and on the Runs page that a run could not be kept in the library."""
    st.session_state[STORE_NOTE] = f"'{run.name}' could not be saved to the run library: {e}"
    if not st.session_state.get(STORE_WARNED):  # said once on any page; the Runs page repeats the details
        st.session_state[STORE_WARNED] = True
        st.toast(md_escape(f"Runs are not being saved (they stay in this session only): {e}"),
                 icon=":material/warning:")
