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
from seqrec.service.sessions import SessionReaper
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
    for bad in ("many", "0", "65", "2.5"):  # never a silent fallback: the setting's sentence
        monkeypatch.setenv("SEQREC_WORKERS", bad)
        words = f"SEQREC_WORKERS must be a whole number from 1 to 64 \\(got '{bad}'\\)"
        with pytest.raises(SeqrecError, match=words):
            runtime.worker_count()
    monkeypatch.delenv("SEQREC_WORKERS")
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
    """A queue of one slot of its own (its own reaper too), training in the calling thread through a Gate."""
    import seqrec.training.executors.thread as thread_executor

    gate = Gate()
    monkeypatch.setattr(thread_executor, "train_run", gate)
    q = jobs.TrainingQueue(workers=1, executor=thread_executor.ThreadExecutor(), reaper=SessionReaper())
    yield gate, q
    gate.open.set()
    q.shutdown()


def queue(q, name, owner=None):
    split = synthetic_split(20, 10, 5)
    return q.submit(jobs.TrainingJob(split, TINY, name=name, baselines={}, owner=owner))


def wait_for(condition, timeout=10.0):
    import time
    end = time.time() + timeout
    while not condition():
        assert time.time() < end, "timed out"
        time.sleep(0.01)


def test_waiting_jobs_know_how_many_are_ahead(one_slot):
    gate, q = one_slot
    a, b, c, d = (queue(q, n) for n in "abcd")
    wait_for(lambda: gate.started == ["a"])
    assert [jobs.queue_position(j) for j in (a, b, c, d)] == [None, 0, 1, 2]
    assert jobs.queue_message(d) == "2 trainings ahead of yours; 1 of 1 training slot busy."
    assert jobs.queue_message(b) == "Yours is next; 1 of 1 training slot busy."
    c.stop()  # withdrawn at once: it never takes a slot, and the ones behind it move up
    assert c.status == jobs.STOPPED and jobs.queue_position(d) == 1
    gate.open.set()
    assert all(j.wait(10) for j in (a, b, d))
    assert gate.started == ["a", "b", "d"]
    assert not [j for j in q.active() if j in (a, b, c, d)], "finished jobs are forgotten"
    assert not [j for j in q.reaper.tracked() if j in (a, b, c, d)], "... by the reaper too"


def test_jobs_of_closed_sessions_are_stopped_and_free_their_slot(one_slot):
    gate, q = one_slot
    running = queue(q, "gone-running", owner="s1")
    wait_for(lambda: gate.started == ["gone-running"])
    waiting = queue(q, "gone-waiting", owner="s1")
    mine = queue(q, "alive", owner="s2")
    script = queue(q, "no-owner")
    reaped = q.reaper.reap(lambda owner: owner != "s1")
    assert set(reaped) == {running, waiting}
    assert waiting.status == jobs.STOPPED and "session" in waiting.snapshot().error
    assert running.wait(10), "the running job of a closed session ends after its current batch"
    wait_for(lambda: "alive" in gate.started)
    assert jobs.queue_position(script) == 0 and not mine.stop_requested and not script.stop_requested
    gate.open.set()
    assert mine.wait(10) and script.wait(10)
    assert gate.started == ["gone-running", "alive", "no-owner"]


def test_a_queued_job_whose_session_closed_is_skipped_when_its_turn_comes(one_slot):
    gate, q = one_slot
    first = queue(q, "first")
    wait_for(lambda: gate.started == ["first"])
    orphan = queue(q, "orphan", owner="closed")
    q.reaper.check = lambda owner: owner != "closed"  # not reaped yet: its turn comes first
    gate.open.set()
    assert first.wait(10) and orphan.wait(10)
    assert gate.started == ["first"] and orphan.status == jobs.STOPPED


def test_the_reaper_thread_stops_the_work_of_gone_sessions_and_ends_with_its_check():
    """One reaper for trainings and tunes: anything with an owner, is_active, stop_requested and stop(reason)."""

    class Work:
        def __init__(self, owner):
            self.owner, self.is_active, self.stop_requested, self.reason = owner, True, False, ""

        def stop(self, reason):
            self.stop_requested, self.is_active, self.reason = True, False, reason

    alive = {"a": True, "b": True}
    reaper = SessionReaper(every=0.02)
    a, b, script = Work("a"), Work("b"), Work(None)
    for w in (a, b, script):
        reaper.track(w)
    reaper.set_check(lambda owner: alive[owner])
    alive["b"] = False
    wait_for(lambda: b.stop_requested)
    assert "session that asked for it was closed" in b.reason and not a.stop_requested
    assert not script.stop_requested and b not in reaper.tracked(), "ended work is dropped"
    reaper.set_check(None)
    wait_for(lambda: not reaper._thread.is_alive(), 2)


def test_a_failing_session_check_keeps_the_work():
    def broken(owner):
        raise RuntimeError("no runtime")

    assert SessionReaper(check=broken).alive("x") and SessionReaper().alive("x")
