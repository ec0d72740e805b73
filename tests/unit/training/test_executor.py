"""Every training runs through an executor: a spawned worker process by default, a Ray task on a cluster, or the
calling thread, all behind one handle (consume / result / stop).

Same numbers as an in-process training for a fixed seed, progress events, Stop within about a second, a killed
worker becomes a failed job (and the next one still runs), the cores shared between running trainings, Ray (a real
local `ray.init` with 2 CPUs) training and stopping through the same interface, and no side effect on import."""
from __future__ import annotations

import os
import signal
import threading
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pytest
import torch

from seqrec import TrainConfig
from seqrec.data.split import ItemVocab, SplitData
from seqrec.errors import SeqrecError
from seqrec.service import jobs
from seqrec.service.journal import Journal
from seqrec.training.executors import DIED, LocalExecutor, ThreadExecutor, TrainingFailed
from seqrec.training.runner import train_run
from seqrec.training.worker import pack_split, unpack_split

QUICK = TrainConfig(embedding_dim=8, hidden_size=16, epochs=2, batch_size=32, patience=0, seed=7, ks=(5, 10))
LONG = TrainConfig(embedding_dim=8, hidden_size=16, epochs=1000, batch_size=8, patience=0, seed=7, ks=(5, 10),
                   max_minutes=2.0)


def make_split(n_users=300, n_items=60, length=12, seed=0) -> SplitData:
    rng = np.random.default_rng(seed)
    train = [rng.integers(1, n_items + 1, size=int(rng.integers(3, length))) for _ in range(n_users)]
    return SplitData(vocab=ItemVocab([f"i{i}" for i in range(n_items)]), users=np.arange(n_users), train=train,
                     valid_target=rng.integers(1, n_items + 1, size=n_users),
                     test_target=rng.integers(1, n_items + 1, size=n_users))


SPLIT = make_split()


def untimed(epochs):
    return [{k: v for k, v in e.items() if k != "elapsed"} for e in epochs]


class Recorder:
    def __init__(self):
        self.batches, self.epochs = [], []
        self.first_batch = threading.Event()

    def on_batch(self, info):
        self.batches.append(info)
        self.first_batch.set()

    def on_epoch(self, info):
        self.epochs.append(info)


@pytest.fixture(scope="module")
def local():
    return LocalExecutor()


def wait_for(condition, timeout=60.0):
    end = time.time() + timeout
    while not condition():
        assert time.time() < end, "timed out"
        time.sleep(0.02)


def test_the_compact_form_round_trips():
    packed = pack_split(SPLIT)
    assert packed["items"].dtype == np.int32 and set(packed) == {"n_items", "lengths", "items", "valid_target",
                                                                 "test_target"}
    back = unpack_split(packed)
    assert back.n_items == SPLIT.n_items and len(back.users) == len(SPLIT.users)
    assert all(np.array_equal(a, b) for a, b in zip(back.train, SPLIT.train, strict=True))


@pytest.mark.process
def test_a_worker_process_trains_the_same_run_as_in_process_with_progress(local):
    ref = train_run(SPLIT, QUICK, name="ref")
    rec = Recorder()
    handle = local.submit(SPLIT, QUICK, name="ref")
    run = handle.consume([rec])
    assert run.executor == "local" and run.summary()["executor"] == "local"
    assert run.metrics == ref.metrics and run.batch_losses == ref.batch_losses
    assert untimed(run.epochs) == untimed(ref.epochs)
    assert run.vocab is SPLIT.vocab, "the run gets the parent's vocabulary: raw IDs never travel"
    assert [e.epoch for e in rec.epochs] == [1, 2] and len(rec.batches) == len(ref.batch_losses)
    assert handle.threads_seen[0] == local.cores, "a lone training gets every core"
    assert QUICK.dropout is None and run.config.dropout == handle.config.dropout is not None, \
        "the automatic dropout, resolved once at submit, is the worker's and the run's"
    assert run.recommend(["i1", "i2"], k=3)["recommendations"] == ref.recommend(["i1", "i2"], k=3)["recommendations"]
    assert local.running == 0
    wait_for(lambda: local.idle == 1, 30)  # the worker is kept, warm, for the next training


@pytest.mark.process  # two or more worker processes: 20-60 s on a busy 2-core machine
def test_a_warm_worker_is_reused_and_a_dead_one_replaced():
    ex = LocalExecutor(cores=2, warm=1)
    try:
        ex.prewarm()
        wait_for(lambda: ex.idle == 1, 60)
        spawned, warm_pid = ex.spawned, ex._idle[0].pid
        first = ex.submit(SPLIT, QUICK, name="a")
        assert first.result() is not None
        assert first.pid == warm_pid and ex.spawned == spawned, "the warm worker trained it: no process started"
        wait_for(lambda: ex.idle >= 1, 30)
        second = ex.submit(SPLIT, QUICK, name="b")
        run = second.result()
        assert second.pid == first.pid and run.executor == "local", "one process, reused (one training at a time)"
        wait_for(lambda: ex.idle >= 1, 30)
        idle_pid = ex._idle[0].pid
        os.kill(idle_pid, signal.SIGKILL)  # an idle worker dies (OOM killer, a native crash)
        wait_for(lambda: not ex._idle[0].alive, 10)
        third = ex.submit(SPLIT, QUICK, name="c")
        assert third.result() is not None and third.pid != idle_pid, "a dead worker is never handed a training"
    finally:
        ex.shutdown()


@pytest.mark.process
def test_stop_takes_effect_within_a_second_and_keeps_the_best_weights(local):
    rec = Recorder()
    handle = local.submit(SPLIT, LONG, name="long")
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("run", handle.consume([rec])))
    t.start()
    assert rec.first_batch.wait(60)
    wait_for(lambda: len(rec.epochs) >= 1)
    t0 = time.perf_counter()
    handle.stop()
    n = len(rec.batches)
    t.join(30)
    assert not t.is_alive()
    assert len(rec.batches) <= n + 2, "no more than the batch in flight after Stop"
    assert handle.stop_latency is not None and handle.stop_latency < 1.0, handle.stop_latency
    assert time.perf_counter() - t0 < 5.0  # the last validation, test evaluation and baselines included
    run = out["run"]
    assert run is not None and run.stopped_by_user and run.stop_reason == "stopped by user"


@pytest.mark.process  # two or more worker processes: 20-60 s on a busy 2-core machine
def test_a_killed_worker_is_a_failed_job_and_the_next_job_still_runs(local):
    queue = jobs.TrainingQueue(workers=1, executor=local)
    try:
        victim = queue.submit(jobs.TrainingJob(SPLIT, LONG, name="victim", baselines={}))
        wait_for(lambda: victim.snapshot().batch > 0)
        os.kill(victim.handle.pid, signal.SIGKILL)
        assert victim.wait(30)
        snap = victim.snapshot()
        assert snap.status == jobs.FAILED and "stopped unexpectedly" in snap.error and "SIGKILL" in snap.error, snap
        assert DIED.split("(")[0] in snap.error
        after = queue.submit(jobs.TrainingJob(SPLIT, QUICK, name="after", baselines={}))
        assert after.wait(120) and after.status == jobs.DONE and after.run.executor == "local"
    finally:
        queue.shutdown()


def test_the_thread_count_is_the_configs_or_a_share_of_the_cores_fixed_at_the_start():
    ex = LocalExecutor(cores=4)
    assert [ex.share(n) for n in (1, 2, 3, 4, 8)] == [4, 2, 1, 1, 1]
    assert ex.threads_for() == 4, "a lone training gets every core"
    assert ex.threads_for(concurrent=2) == 2 and ex.threads_for(concurrent=8) == 1, "the queue's crowd is counted"
    assert ex.threads_for(cpus=3) == 3 and ex.threads_for(cpus=3, concurrent=4) == 3, "the config's cpus wins"
    assert ex.threads_for(cpus=64) == 4, "capped at the machine's cores"


@pytest.mark.process  # two or more worker processes: 20-60 s on a busy 2-core machine
def test_a_trainings_threads_are_fixed_when_it_starts_and_never_re_shared():
    ex = LocalExecutor(cores=4)
    try:
        a = ex.submit(SPLIT, LONG, name="a")
        ra, rb = Recorder(), Recorder()
        ta = threading.Thread(target=a.consume, args=([ra],))
        ta.start()
        assert ra.first_batch.wait(60)
        b = ex.submit(SPLIT, LONG, name="b")
        tb = threading.Thread(target=b.consume, args=([rb],))
        tb.start()
        assert rb.first_batch.wait(60)
        n = len(ra.batches)
        wait_for(lambda: len(ra.batches) > n + 3)  # a trains on while b runs
        b.stop()
        tb.join(30)
        n = len(ra.batches)
        wait_for(lambda: len(ra.batches) > n + 3)  # ... and after b ended
        a.stop()
        ta.join(30)
        assert (a.threads, b.threads) == (4, 2), "alone: every core; beside a: half of them"
        assert a.threads_seen == [4] and b.threads_seen == [2], "never changed during a training"
        assert ex.running == 0
    finally:
        ex.shutdown()


@pytest.mark.process
def test_the_same_config_and_seed_at_the_same_thread_count_gives_identical_runs(local):
    """A training's numbers depend on its thread count (float sums), so the count is fixed when it
    starts, recorded in the run, and two trainings of one config and seed at one count are identical."""
    config = QUICK.replace(cpus=2)
    first = local.submit(SPLIT, config, name="one").result()
    wait_for(lambda: local.idle >= 1, 30)
    second = local.submit(SPLIT, config, name="two").result()
    assert first.threads == second.threads == 2
    assert first.batch_losses == second.batch_losses and first.metrics == second.metrics
    assert untimed(first.epochs) == untimed(second.epochs)
    assert first.summary()["threads"] == 2 and first.summary()["executor"] == "local"
    alone = local.submit(SPLIT, QUICK, name="auto").result()
    assert alone.threads == local.cores, "cpus 0: a lone training gets every core, and says so"


@pytest.mark.process
def test_a_failure_in_the_worker_is_one_sentence(local):
    bad = TrainConfig(embedding_dim=8, hidden_size=8, epochs=1, lr=1.0, batch_size=8, seed=1, ks=(5,))
    tiny = make_split(n_users=5, n_items=4, length=4)
    tiny.train = [t[:0] for t in tiny.train]  # nobody has 2 training items: train() refuses with a sentence
    with pytest.raises(TrainingFailed, match="No user has a training history"):
        local.submit(tiny, bad).result()


@pytest.mark.process
def test_jobs_go_through_the_processs_executor_and_record_it(monkeypatch):
    monkeypatch.delenv("SEQREC_EXECUTOR", raising=False)  # the default: worker processes
    queue = jobs.TrainingQueue(workers=1)
    try:
        job = queue.submit(jobs.TrainingJob(SPLIT, QUICK, name="via-job", baselines={}))
        assert job.wait(120) and job.status == jobs.DONE, job.snapshot()
        assert job.handle.executor == "local" and job.run.executor == "local"
        assert job.snapshot().epoch_metrics and job.snapshot().batch_losses == job.run.batch_losses
    finally:
        queue.shutdown()


@pytest.mark.process
def test_the_pages_one_click_demo_runs_train_through_the_executor(local, small_dataset):
    """Every training the product starts goes through an executor, the Inside and Why pages' one-click demo runs
    included (they used to train inside the page's script run, in the server process)."""
    from seqrec.service.demo import quick_demo_runs

    submitted = []

    class Spy:
        def submit(self, split, config, **opts):
            submitted.append((config.model, opts["name"]))
            return local.submit(split, config, **opts)

    (run,) = quick_demo_runs(small_dataset, ("gru",), executor=Spy())
    assert submitted == [("gru", "GRU quick demo")]
    assert run.executor == "local" and run.threads >= 1 and run.dataset == small_dataset.run_info()
    assert run.metrics and run.baselines, "test metrics and the dataset's baselines, as before"


# ------------------------------------------------------------------------------------------------------------------
# Ray: a real local cluster (2 CPUs, loopback); CI installs ray, so these run there
# ------------------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ray_executor():
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install -r requirements-dev.txt installs it)")
    from seqrec.training.executors import RayExecutor

    started = False
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, _node_ip_address="127.0.0.1", log_to_driver=False,
                 logging_level="ERROR")
        started = True
    yield RayExecutor(cpus=1)
    if started:
        ray.shutdown()


@pytest.mark.ray  # a local Ray cluster: 20-60 s on a busy 2-core machine
def test_ray_trains_the_same_run_as_a_local_worker(ray_executor, local):
    rec = Recorder()
    config = QUICK.replace(cpus=1)  # the same thread count on both: the same numbers
    run = ray_executor.submit(SPLIT, config, name="on-ray").consume([rec])
    ref = local.submit(SPLIT, config, name="on-ray").result()
    assert run.executor == "ray" and run.summary()["executor"] == "ray"
    assert run.threads == ref.threads == 1
    assert run.metrics == ref.metrics and run.batch_losses == ref.batch_losses
    assert [e.epoch for e in rec.epochs] == [1, 2] and len(rec.batches) == len(run.batch_losses)


@pytest.mark.ray  # a local Ray cluster: 20-60 s on a busy 2-core machine
def test_ray_cpus_per_task_come_from_the_config(ray_executor):
    assert ray_executor.cpus == 1, "the fixture's default (SEQREC_RAY_CPUS when the config says 0)"
    handle = ray_executor.submit(SPLIT, QUICK.replace(cpus=2), name="two-cpus")
    run = handle.result()
    assert handle.threads == 2 and handle.threads_seen == [2] and run.threads == 2 and run.executor == "ray"
    assert ray_executor.submit(SPLIT, QUICK, name="default-cpus").result().threads == 1
    with pytest.raises(SeqrecError, match="asks for 3 CPUs per task .* largest machine of the Ray cluster has 2"):
        ray_executor.submit(SPLIT, QUICK.replace(cpus=3))  # would wait in Ray's queue forever


@pytest.mark.ray  # a local Ray cluster: 20-60 s on a busy 2-core machine
def test_ray_stop_and_jobs(ray_executor):
    queue = jobs.TrainingQueue(workers=1, executor=ray_executor)
    try:
        job = queue.submit(jobs.TrainingJob(SPLIT, LONG, name="ray-stop", baselines={}))
        wait_for(lambda: len(job.snapshot().epoch_metrics) >= 1, timeout=120)
        t0 = time.perf_counter()
        job.stop()
        assert job.wait(30)
        assert time.perf_counter() - t0 < 5.0
        assert job.status == jobs.STOPPED and job.run is not None and job.run.stopped_by_user
        assert job.run.executor == "ray"
    finally:
        queue.shutdown()


# ------------------------------------------------------------------------------------------------------------------
# The job saves its own run; a returning workspace finds its job; a restart is reported once
# ------------------------------------------------------------------------------------------------------------------

@pytest.mark.process
def test_the_job_saves_its_run_itself_and_its_workspace_finds_it(local):
    queue = jobs.TrainingQueue(workers=1, executor=local)
    saved = []
    try:
        job = queue.submit(jobs.TrainingJob(SPLIT, QUICK, name="kept", baselines={}, workspace="ws-a",
                                            saver=lambda run: saved.append(run) or "record-1"))
        assert queue.for_workspace("ws-a") is job, "a reloaded page finds the running job"
        assert job.wait(120) and job.status == jobs.DONE
        assert saved == [job.run] and job.saved == "record-1", "saved by the job, with nobody watching"
        assert queue.for_workspace("ws-a") is job and queue.for_workspace("ws-b") is None
        assert job.split is None and job.handle.split is None, "a finished job does not keep the session's data alive"
    finally:
        queue.shutdown()


@pytest.mark.process
def test_a_failed_save_is_a_sentence_not_a_failed_training(local):
    from seqrec.errors import SeqrecError

    def broken(run):
        raise SeqrecError("the disk is full")

    queue = jobs.TrainingQueue(workers=1, executor=local)
    try:
        job = queue.submit(jobs.TrainingJob(SPLIT, QUICK, name="unsaved", baselines={}, workspace="ws-c",
                                            saver=broken))
        assert job.wait(120) and job.status == jobs.DONE and job.run is not None
        assert job.save_error == "the disk is full"
    finally:
        queue.shutdown()


def test_jobs_a_server_restart_lost_are_reported_once(tmp_path):
    import json

    journal = Journal(tmp_path)
    old = dict(workspace="ws-r", name="lost one", pid=2**22 + 17, server="0" * 16, started="2026-11-30 10:00")
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "other.json").write_text(json.dumps({**old, "workspace": "ws-other"}))
    mine = dict(old, server=journal.token, pid=os.getpid(), name="running here")
    (tmp_path / "mine.json").write_text(json.dumps(mine))
    lost = journal.interrupted("ws-r")
    assert [r["name"] for r in lost] == ["lost one"], "this server's own jobs are not lost"
    sentence = jobs.interrupted_message(lost)
    assert "interrupted by a server restart" in sentence and "'lost one'" in sentence
    assert journal.interrupted("ws-r") == [], "told once"
    assert (tmp_path / "other.json").exists(), "another workspace's record waits for that workspace"


@pytest.mark.process
def test_a_running_job_is_journaled_until_it_ends(tmp_path, local):
    queue = jobs.TrainingQueue(workers=1, executor=local, journal=Journal(tmp_path))
    try:
        job = queue.submit(jobs.TrainingJob(SPLIT, LONG, name="journaled", baselines={}, workspace="ws-j"))
        assert len(list(tmp_path.glob("*.json"))) == 1, "recorded while queued or running"
        wait_for(lambda: job.snapshot().batch > 0)
        job.stop()
        assert job.wait(60)
        assert list(tmp_path.glob("*.json")) == [], "an ended job leaves no record"
    finally:
        queue.shutdown()


@pytest.mark.ray
def test_an_unreachable_ray_address_is_one_sentence_at_once():
    pytest.importorskip("ray", reason="ray is not installed (pip install -r requirements-dev.txt installs it)")
    from seqrec.training.executors import RayExecutor

    t0 = time.perf_counter()
    with pytest.raises(SeqrecError, match="Could not connect to the Ray cluster at '127.0.0.1:1'"):
        RayExecutor("127.0.0.1:1")
    assert time.perf_counter() - t0 < 30, "refused at once, not after Ray's minutes of retries"


# ------------------------------------------------------------------------------------------------------------------
# One protocol: the thread executor, the process's executor, preparation at submit, no side effect on import
# ------------------------------------------------------------------------------------------------------------------

def test_importing_the_executors_leaves_multiprocessing_untouched(repo_root):
    import subprocess
    import sys

    code = ("import multiprocessing.spawn as s; f = s.get_preparation_data\n"
            "import seqrec.training.executors, seqrec.training.executors.local, seqrec.training.tune\n"
            "import seqrec.service.jobs, seqrec.service.demo, seqrec.cli\n"
            "from seqrec.service.executor import get_executor\n"
            "get_executor()\n"  # making the local executor starts no worker, so nothing is patched yet either
            "assert s.get_preparation_data is f, s.get_preparation_data\n")
    p = subprocess.run([sys.executable, "-c", code], cwd=repo_root, capture_output=True, text=True, timeout=120,
                       env={**os.environ, "SEQREC_EXECUTOR": "process"})
    assert p.returncode == 0, p.stderr


def test_the_spawn_fix_drops_the_parents_main_for_workers_only():
    from seqrec.training.executors.local import WORKER_NAME, _without_parent_main

    fixed = _without_parent_main(lambda name: {"init_main_from_path": "app.py", "sys_path": ["x"]})
    assert fixed(WORKER_NAME) == {"sys_path": ["x"]}, "a worker does not run the page script again"
    assert fixed("someone-else") == {"init_main_from_path": "app.py", "sys_path": ["x"]}


def test_the_thread_executor_gives_the_same_handle_and_the_same_run_as_train_run():
    ref = train_run(SPLIT, QUICK, name="ref")
    rec = Recorder()
    handle = ThreadExecutor().submit(SPLIT, QUICK, name="ref")
    assert handle.config.dropout is not None, "automatic settings resolved at submit"
    run = handle.consume([rec])
    assert run.metrics == ref.metrics and run.batch_losses == ref.batch_losses
    assert [e.epoch for e in rec.epochs] == [1, 2] and len(rec.batches) == len(ref.batch_losses)
    assert handle.executor == "thread" and run.executor == "local" and handle.result() is run


def test_the_thread_executor_stops_after_a_batch_and_fails_with_a_sentence():
    handle = ThreadExecutor().submit(SPLIT, LONG, name="long")

    class StopAtOnce:
        def on_batch(self, info):
            handle.stop()

    run = handle.consume([StopAtOnce()])
    assert handle.stop_requested and run.stopped_by_user and len(run.batch_losses) == 1
    tiny = make_split(n_users=5, n_items=4, length=4)
    tiny.train = [t[:0] for t in tiny.train]
    with pytest.raises(TrainingFailed, match="No user has a training history"):
        ThreadExecutor().submit(tiny, QUICK).result()


def test_the_thread_executor_gives_the_config_its_cpus_and_the_caller_its_threads_back():
    before = torch.get_num_threads()
    run = ThreadExecutor().submit(SPLIT, QUICK.replace(epochs=1, cpus=2)).result()
    assert run.threads == min(2, os.cpu_count() or 1) and torch.get_num_threads() == before


@pytest.mark.parametrize("make", [ThreadExecutor, lambda: LocalExecutor(cores=2)], ids=["thread", "local"])
def test_every_executor_refuses_a_bad_or_over_budget_config_at_submit(make, monkeypatch):
    executor = make()
    with pytest.raises(SeqrecError, match="hidden size must be"):
        executor.submit(SPLIT, QUICK.replace(hidden_size=0))
    monkeypatch.setenv("SEQREC_MEMORY_BUDGET_MB", "1")
    with pytest.raises(SeqrecError, match="more than the 1 MB allowed per training"):
        executor.submit(SPLIT, QUICK)
    assert getattr(executor, "spawned", 0) == 0, "refused before any worker process started"


def test_get_executor_always_returns_one_kept_per_kind(monkeypatch):
    from seqrec.service.executor import get_executor

    monkeypatch.setenv("SEQREC_EXECUTOR", "thread")
    assert isinstance(get_executor(), ThreadExecutor) and get_executor() is get_executor()
    monkeypatch.setenv("SEQREC_EXECUTOR", "process")
    assert isinstance(get_executor(), LocalExecutor) and get_executor() is get_executor()


def test_trials_in_flight_follow_each_executors_capacity():
    assert [LocalExecutor(cores=c).capacity(2) for c in (1, 2, 3, 4, 16)] == [1, 1, 1, 2, 8]
    assert ThreadExecutor().capacity(2) == 1
