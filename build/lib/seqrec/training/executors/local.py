"""The local executor: each training in a *spawned* worker process on this machine (the default executor).

Never forked: the app's threads and locks stay in the app. One training per process at a time; a few workers are
kept warm (torch already imported) and reused, so a training starts at once instead of paying a process start and a
torch import (5-10 s on a busy machine). The split travels once, as integer arrays (worker.pack_split); messages come
back over a one-way pipe, so a worker that dies (SIGKILL, the OOM killer, a native crash) is an end-of-file here,
which becomes a failed training with a clear sentence while the server and the other trainings carry on; its memory
goes with the process.

Threads: a training's torch thread count is fixed when it starts and never changed during it (float sums inside
torch depend on the count, so a training re-shared mid-run could never be repeated exactly), and the Run records it
(`run.threads`). It is the config's `cpus` when set (capped at the machine's cores), else an equal share of the
cores among the trainings expected to run at once: those running now plus this one, or more when the caller knows
of others about to start (`concurrent`: the app's queue). A lone training gets every core.
"""
from __future__ import annotations

import multiprocessing
import multiprocessing.spawn
import os
import signal
import threading
import time

from seqrec.runtime import ServerSettings
from seqrec.training import worker as _worker
from seqrec.training.executors.stream import DIED, StreamHandle
from seqrec.training.runner import prepare_training

WORKER_NAME = "seqrec-train"  # the name of every worker process (and the sign _preparation_data looks for)
MAX_WARM = 8


def _signal_name(code) -> str:
    if code is None:
        return ""
    if code < 0:
        try:
            return f"; signal {signal.Signals(-code).name}"
        except ValueError:
            return f"; signal {-code}"
    return f"; exit code {code}"


def _without_parent_main(stdlib):
    """multiprocessing's start-up data for a spawned child, without the parent's __main__ for our workers: inside
    Streamlit, __main__ is the page script being run (app.py), which the child would otherwise execute again. The
    worker's target lives in seqrec.training.worker, importable by name, so the child needs no main module. Other
    children (anyone else's multiprocessing) get the standard data."""

    def preparation_data(name):
        data = stdlib(name)
        if str(name).startswith(WORKER_NAME):
            data.pop("init_main_from_path", None)
            data.pop("init_main_from_name", None)
        return data

    preparation_data.seqrec_spawn_fix = True
    return preparation_data


def install_spawn_fix() -> None:
    """Put _without_parent_main in multiprocessing's path, once, when the first worker is spawned (never on import:
    a process that only imports seqrec keeps the standard function). Installing it again is a no-op."""
    current = multiprocessing.spawn.get_preparation_data
    if not getattr(current, "seqrec_spawn_fix", False):
        multiprocessing.spawn.get_preparation_data = _without_parent_main(current)


class _Worker:
    """One spawned worker process (worker.serve): tasks go down `tasks`, messages come up `conn` (only the child
    writes it, so its death is an end-of-file here), `stop` is shared with it for its lifetime."""

    def __init__(self, ctx):
        install_spawn_fix()
        self.stop = ctx.Event()
        task_reader, self.tasks = ctx.Pipe(duplex=False)
        self.conn, writer = ctx.Pipe(duplex=False)
        self.process = ctx.Process(target=_worker.serve, name=WORKER_NAME,
                                   args=(task_reader, writer, self.stop), daemon=True)
        try:
            self.process.start()
        finally:
            task_reader.close()  # the child's ends: only it reads tasks and writes messages
            writer.close()
        self.pid = self.process.pid
        self.trainings = 0

    def send(self, task) -> None:
        self.tasks.send(task)

    def wait_between_tasks(self, timeout: float) -> bool:
        """After a training: True once the worker says it is idle again (ready for the next task); False when it
        retired, died or did not answer in time (then it is ended)."""
        end = time.monotonic() + timeout
        try:
            while time.monotonic() < end:
                if self.conn.poll(max(0.0, end - time.monotonic())):
                    kind = self.conn.recv()[0]
                    if kind == "idle":
                        return True
                    if kind == "retire":
                        break
                    # "ready" or a late progress message of the finished training: skipped
        except (EOFError, OSError):
            pass
        self.end()
        return False

    def end(self, wait: float = 5.0) -> None:
        for conn in (self.tasks, self.conn):
            try:
                conn.close()
            except OSError:
                pass
        if self.process.is_alive():
            self.process.join(min(wait, 0.5))  # an idle worker exits on its own once its task pipe closes
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(wait)
            if self.process.is_alive():
                self.process.kill()
                self.process.join(wait)

    @property
    def alive(self) -> bool:
        return self.process.is_alive()


class LocalHandle(StreamHandle):
    executor = "local"

    def __init__(self, owner: LocalExecutor, split, config, name, opts, concurrent=None):
        super().__init__(split, config, name)
        self._owner = owner
        self._eof = False
        self._released = False
        worker = self.worker = owner._take_worker()
        worker.stop.clear()
        self._conn = worker.conn
        self.process = worker.process
        self.pid = worker.pid
        self.threads = owner._started(self, config.cpus, concurrent)  # fixed now, for the whole training
        try:
            worker.send((_worker.pack_split(split), config.to_dict(), {**opts, "threads": self.threads}))
        except BaseException:
            self._outcome = ("error", DIED.format(code=""))
            self._kill()
            raise

    def _receive(self, timeout):
        out = []
        try:
            if self._conn.poll(timeout):
                out.append(self._conn.recv())
                while self._conn.poll(0):
                    out.append(self._conn.recv())
        except (EOFError, OSError):
            self._eof = True
        return [m for m in out if m[0] not in ("ready", "idle", "retire")]

    def _finished(self):
        if self._eof or not self.process.is_alive():
            self.process.join(2)
            return True, DIED.format(code=_signal_name(self.process.exitcode))
        return False, ""

    def _signal_stop(self):
        with self._lock:
            if not self._released:  # a finished handle must not stop the next training of its (reused) worker
                self.worker.stop.set()

    def _kill(self):
        with self._lock:
            self._released = True
        self.worker.end(wait=2.0)
        self._owner._ended(self, reusable=False)

    def _release(self):
        with self._lock:
            if self._released:
                return
            self._released = True
        healthy = self._outcome is not None and self._outcome[0] in ("result", "error") and not self._eof
        self._owner._ended(self, reusable=healthy)


class LocalExecutor:
    """Each training in a spawned worker process with a fixed number of torch threads: the config's `cpus` (at most
    `cores`), else an equal share of `cores` among the trainings expected at once when it starts. `warm` idle workers
    (torch imported; default SEQREC_WARM_WORKERS, else none) are kept ready so a training starts at once; a worker is
    reused for later trainings (one at a time), retired when its memory grew (worker.RECYCLE_MB) and replaced when it
    dies."""

    name = "local"

    def __init__(self, cores: int | None = None, warm: int | None = None):
        self.ctx = multiprocessing.get_context("spawn")
        self.cores = max(1, int(cores or os.cpu_count() or 1))
        if warm is None:
            warm = ServerSettings.read("warm_workers") or 0
        self.warm = max(0, min(MAX_WARM, int(warm)))
        self._lock = threading.Lock()
        self._running: list[LocalHandle] = []
        self._idle: list[_Worker] = []
        self._starting = 0
        self.spawned = 0  # worker processes started so far (a reused worker is not counted again)

    # -- the warm pool ----------------------------------------------------------------------------------------------
    def _spawn(self) -> _Worker:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # inherited by the child before its torch loads
        w = _Worker(self.ctx)
        with self._lock:
            self.spawned += 1
        return w

    def _take_worker(self) -> _Worker:
        """An idle warm worker when there is one (a dead one is dropped), else a new one (which reads its task
        once torch has loaded). Workers come back to the idle list after their training (see _recycle)."""
        worker = None
        with self._lock:
            while self._idle and worker is None:
                w = self._idle.pop(0)
                if w.alive:
                    worker = w
                else:
                    threading.Thread(target=w.end, daemon=True).start()
        if worker is None:
            worker = self._spawn()
        worker.trainings += 1
        return worker

    def keep_warm(self, n: int) -> None:
        """Keep `n` idle workers ready from now on (the app: SEQREC_WARM_WORKERS, default one per training slot up
        to 2; the CLI keeps none) and start them in the background."""
        self.warm = max(0, min(MAX_WARM, int(n)))
        self.prewarm()

    def prewarm(self) -> None:
        """Start worker processes in the background until `warm` are idle or starting (returns at once)."""
        with self._lock:
            missing = self.warm - len(self._idle) - self._starting
            self._starting += max(0, missing)
        for _ in range(max(0, missing)):
            threading.Thread(target=self._warm_one, name="seqrec-warm-worker", daemon=True).start()

    def _warm_one(self) -> None:
        try:
            w = self._spawn()
        except Exception:
            with self._lock:
                self._starting -= 1
            return
        with self._lock:
            self._starting -= 1
            self._idle.append(w)

    @property
    def idle(self) -> int:
        with self._lock:
            return len(self._idle)

    def shutdown(self) -> None:
        """End the idle workers (running trainings are not touched)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for w in idle:
            w.end()

    # -- cores shared by the trainings: each one's thread count is fixed when it starts ------------------------------
    def share(self, running: int | None = None) -> int:
        """Torch threads for each training when `running` train at once (a lone training gets every core)."""
        n = len(self._running) if running is None else running
        return max(1, self.cores // max(1, n))

    def threads_for(self, cpus: int = 0, concurrent: int | None = None) -> int:
        """The thread count a training submitted now gets: `cpus` when set (at most `cores`), else the share of
        the cores among max(running now + this one, `concurrent`)."""
        if cpus:
            return max(1, min(int(cpus), self.cores))
        return self.share(max(len(self._running) + 1, int(concurrent or 0)))

    def capacity(self, threads_each: int) -> int:
        """Trainings at once while each still gets `threads_each` threads (one on 2 cores for 2 threads each)."""
        n = 1
        while self.share(n + 1) >= threads_each:
            n += 1
        return n

    def _started(self, handle, cpus: int = 0, concurrent: int | None = None) -> int:
        with self._lock:
            threads = self.threads_for(cpus, concurrent)
            self._running.append(handle)
            return threads

    def _ended(self, handle, reusable: bool = False) -> None:
        with self._lock:
            if handle in self._running:
                self._running.remove(handle)
        # the worker cleans up (gc, memory back to the system) and says it is idle: off the caller's thread
        threading.Thread(target=self._recycle, args=(handle.worker, reusable), name="seqrec-recycle-worker",
                         daemon=True).start()

    def _recycle(self, worker: _Worker, reusable: bool) -> None:
        if reusable and worker.wait_between_tasks(60.0):
            with self._lock:
                if len(self._idle) < max(self.warm, 1):  # reused by the next training; extra ones end
                    self._idle.append(worker)
                    return
            worker.end()
            return
        if not reusable:
            worker.end(wait=2.0)
        self.prewarm()  # a retired or dead worker is replaced

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._running)

    def submit(self, split, config, name=None, baselines=None, dataset=None, device=None,
               concurrent: int | None = None) -> LocalHandle:
        """Prepare the training (refused here when its config is bad or over the memory budget) and start it in a
        worker process. `concurrent`: how many trainings the caller expects to run at once with this one (the app's
        queue: its busy slots plus the waiting jobs), so the first of a crowd does not take every core for its whole
        run; None: those running now plus this one."""
        config = prepare_training(split, config)  # once, here: the worker and this process's run hold the same values
        opts = dict(name=name, baselines=baselines, dataset=dataset, device=device)
        return LocalHandle(self, split, config, name, opts, concurrent)
