"""Reliability: the training queue shared by many sessions (queue position, closed sessions, isolation)."""
from __future__ import annotations

import os
import threading

import numpy as np
import pytest
import torch

from seqrec import SeqrecError, runtime
from seqrec.data.split import ItemVocab, SplitData
from seqrec.service import jobs
from tests.helpers import TINY


def synthetic_split(n_items: int, n_users: int, length: int) -> SplitData:
    rng = np.random.default_rng(0)
    return SplitData(vocab=ItemVocab([f"i{i}" for i in range(n_items)]), users=np.arange(n_users),
                     train=[rng.integers(1, n_items + 1, size=length) for _ in range(n_users)],
                     valid_target=rng.integers(1, n_items + 1, size=n_users),
                     test_target=rng.integers(1, n_items + 1, size=n_users))


# ------------------------------------------------------------------------------------------------------------------
# The training queue
# ------------------------------------------------------------------------------------------------------------------

def test_pool_size_follows_the_cores_and_the_setting(monkeypatch):
    assert [runtime.default_workers(c) for c in (1, 2, 3, 8, 64)] == [1, 2, 3, 4, 4]
    monkeypatch.setenv("SEQREC_WORKERS", "3")
    assert runtime.worker_count() == 3
    monkeypatch.setenv("SEQREC_WORKERS", "many")
    assert runtime.worker_count() == runtime.default_workers()
    assert runtime.threads_per_worker(1) == runtime.cores() == (os.cpu_count() or 1)


def test_pool_workers_use_their_share_of_the_cores_whatever_the_main_thread_set():
    torch.set_num_threads(1)
    seen = jobs.get_pool().submit(torch.get_num_threads).result(30)
    assert seen == runtime.threads_per_worker(jobs.get_pool()._max_workers)


class Gate:
    """Stands in for train_run: blocks until opened, so tests control when slots free up."""

    def __init__(self):
        self.open = threading.Event()
        self.started = []

    def __call__(self, split, config, callbacks=(), stop_event=None, name=None, **kw):
        self.started.append(name)
        while not self.open.wait(0.01):
            if stop_event is not None and stop_event.is_set():
                break
        raise SeqrecError(f"{name} ended")


@pytest.fixture()
def one_slot(monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    gate = Gate()
    monkeypatch.setenv("SEQREC_EXECUTOR", "thread")  # issue 13: the Gate stands in for an in-thread training
    monkeypatch.setattr(jobs, "train_run", gate)
    pool = ThreadPoolExecutor(max_workers=1)
    yield gate, pool
    gate.open.set()
    pool.shutdown(wait=True)


def queue(pool, name, owner=None):
    split = synthetic_split(20, 10, 5)
    return jobs.submit(jobs.TrainingJob(split, TINY, name=name, baselines={}, owner=owner), pool)


def wait_for(condition, timeout=10.0):
    import time
    end = time.time() + timeout
    while not condition():
        assert time.time() < end, "timed out"
        time.sleep(0.01)


def test_waiting_jobs_know_how_many_are_ahead(one_slot):
    gate, pool = one_slot
    a, b, c, d = (queue(pool, n) for n in "abcd")
    wait_for(lambda: gate.started == ["a"])
    assert [jobs.queue_position(j) for j in (a, b, c, d)] == [None, 0, 1, 2]
    assert jobs.queue_message(d) == "2 trainings ahead of yours; 1 of 1 training slot busy."
    assert jobs.queue_message(b) == "Yours is next; 1 of 1 training slot busy."
    c.stop()  # withdrawn at once: it never takes a slot, and the ones behind it move up
    assert c.status == jobs.STOPPED and jobs.queue_position(d) == 1
    gate.open.set()
    assert all(j.wait(10) for j in (a, b, d))
    assert gate.started == ["a", "b", "d"]
    assert not [j for j in jobs.active_jobs() if j in (a, b, c, d)], "finished jobs are forgotten"


def test_jobs_of_closed_sessions_are_stopped_and_free_their_slot(one_slot):
    gate, pool = one_slot
    running = queue(pool, "gone-running", owner="s1")
    wait_for(lambda: gate.started == ["gone-running"])
    waiting = queue(pool, "gone-waiting", owner="s1")
    mine = queue(pool, "alive", owner="s2")
    script = queue(pool, "no-owner")
    reaped = jobs.reap_orphans(lambda owner: owner != "s1")
    assert set(reaped) == {running, waiting}
    assert waiting.status == jobs.STOPPED and "session" in waiting.snapshot().error
    assert running.wait(10), "the running job of a closed session ends after its current batch"
    wait_for(lambda: "alive" in gate.started)
    assert jobs.queue_position(script) == 0 and not mine.stop_requested and not script.stop_requested
    gate.open.set()
    assert mine.wait(10) and script.wait(10)
    assert gate.started == ["gone-running", "alive", "no-owner"]


def test_a_queued_job_whose_session_closed_is_skipped_when_its_turn_comes(one_slot, monkeypatch):
    gate, pool = one_slot
    first = queue(pool, "first")
    wait_for(lambda: gate.started == ["first"])
    orphan = queue(pool, "orphan", owner="closed")
    monkeypatch.setattr(jobs, "_SESSION_CHECK", lambda owner: owner != "closed")
    gate.open.set()
    assert first.wait(10) and orphan.wait(10)
    assert gate.started == ["first"] and orphan.status == jobs.STOPPED
