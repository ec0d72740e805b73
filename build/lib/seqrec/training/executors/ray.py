"""The Ray executor (SEQREC_RAY_ADDRESS, or `train --ray ADDRESS`): the same worker code as a Ray task on a cluster.

The config's `cpus` CPUs per task (when 0: SEQREC_RAY_CPUS, default 2) as Ray resources and torch threads, and a GPU
when the cluster has one; progress and the stop flag go through a small actor (worker.Channel). Ray does all the
placing and scheduling. Ray itself is an optional dependency, imported only when this executor is made.
"""
from __future__ import annotations

from seqrec.errors import SeqrecError
from seqrec.runtime import ServerSettings
from seqrec.training import worker as _worker
from seqrec.training.executors.stream import DIED, StreamHandle
from seqrec.training.runner import prepare_training

RAY_MISSING = ("Ray is not installed, so SEQREC_RAY_ADDRESS / --ray cannot be used; install it with "
               "`pip install \"ray[default]\"` (or unset SEQREC_RAY_ADDRESS to train on this machine).")


def _import_ray():
    try:
        import ray  # optional dependency (pip install "ray[default]"): only the Ray executor needs it
    except ImportError:
        raise SeqrecError(RAY_MISSING) from None
    return ray


def _check_reachable(address: str | None, timeout: float = 5.0) -> None:
    """A host:port address (or ray://host:port) must answer a TCP connection within seconds: ray.init would
    otherwise retry an unreachable head for minutes. "auto" and other forms are left to Ray."""
    import socket  # standard library; only when a Ray address is given

    text = (address or "").strip()
    if text.startswith("ray://"):
        text = text[len("ray://"):]
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        return
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        raise SeqrecError(f"Could not connect to the Ray cluster at {address!r} (nothing answers there: "
                          f"{e.strerror or type(e).__name__}); start it with `ray start --head` or fix "
                          f"SEQREC_RAY_ADDRESS / --ray.") from None


class RayHandle(StreamHandle):
    executor = "ray"
    ack_grace = 10.0  # the task hears the flag at its next report (after a batch, at most every FLUSH_SECONDS)

    def __init__(self, owner: RayExecutor, split, config, name, opts):
        super().__init__(split, config, name)
        self._ray = owner.ray
        self.threads = cpus = owner.cpus_for(config)  # Ray's CPU resources for the task and its torch threads
        self.channel = owner.channel_cls.remote()
        self.ref = owner.task.options(num_cpus=cpus, num_gpus=owner.gpus_per_task(),
                                      max_retries=0).remote(_worker.pack_split(split), config.to_dict(), opts,
                                                            self.channel, cpus)
        self._task_done = False
        self._released = False
        self._error = ""

    def _receive(self, timeout):
        ray = self._ray
        try:
            msgs = ray.get(self.channel.drain.remote(), timeout=30)
        except Exception:
            msgs = []
        if any(m[0] == "finished" for m in msgs) or self._task_done:
            msgs = [m for m in msgs if m[0] != "finished"] + self._task_outcome()
        elif not msgs:
            ready, _ = ray.wait([self.ref], timeout=timeout)
            if ready:
                msgs = self._drain_quietly() + self._task_outcome()
        return msgs

    def _drain_quietly(self):
        try:
            return [m for m in self._ray.get(self.channel.drain.remote(), timeout=30) if m[0] != "finished"]
        except Exception:
            return []

    def _task_outcome(self) -> list:
        self._task_done = True
        try:
            payload = self._ray.get(self.ref)
        except Exception as e:
            if self.stop_requested and ("Cancel" in type(e).__name__):
                return []
            self._error = DIED.format(code=f"; Ray: {type(e).__name__}")
            return []
        return [("result", payload)] if payload is not None else []

    def _finished(self):
        if self._task_done:
            return True, self._error or DIED.format(code="")
        return False, ""

    def _signal_stop(self):
        try:
            self.channel.stop.remote()
        except Exception:
            pass

    def _kill(self):
        try:
            self._ray.cancel(self.ref, force=True)
        except Exception:
            pass
        self._release()

    def _release(self):
        if self._released:
            return
        self._released = True
        try:
            self._ray.kill(self.channel)
        except Exception:
            pass


class RayExecutor:
    """Trainings as Ray tasks on the cluster at `address` ("auto", "host:6379", "ray://host:10001"), or on the
    Ray this process is already connected to when ray.init() was called before."""

    name = "ray"

    def __init__(self, address: str | None = None, cpus: int | None = None, gpu: str = "auto"):
        ray = self.ray = _import_ray()
        _check_reachable(address)  # also when connected already: a named address that answers nothing is an error
        if not ray.is_initialized():
            try:
                ray.init(address=address or "auto", ignore_reinit_error=True, log_to_driver=False,
                         logging_level="ERROR")
            except Exception as e:
                raise SeqrecError(f"Could not connect to the Ray cluster at {address!r} ({type(e).__name__}: "
                                  f"{str(e).splitlines()[0] if str(e) else ''}); start it with `ray start --head` "
                                  f"or fix SEQREC_RAY_ADDRESS / --ray.") from None
        self.cpus = max(1, int(cpus or ServerSettings.read("ray_cpus")))  # per task when the config says 0
        self.gpu = gpu
        self.task = ray.remote(_worker.ray_main)
        self.channel_cls = ray.remote(num_cpus=0)(_worker.Channel)

    def cpus_for(self, config) -> int:
        """CPUs (Ray resources and torch threads) of one training's task: the config's `cpus`, else self.cpus. A
        request larger than any node of the cluster would wait forever in Ray's queue: refused with a sentence."""
        cpus = int(config.cpus or self.cpus)
        try:
            nodes = [n.get("Resources", {}).get("CPU", 0) for n in self.ray.nodes() if n.get("Alive")]
        except Exception:
            nodes = []
        if nodes and cpus > max(nodes):
            raise SeqrecError(f"The training asks for {cpus} CPUs per task (the CPU threads setting, or "
                              f"SEQREC_RAY_CPUS), but the largest machine of the Ray cluster has {max(nodes):g}; "
                              f"lower it to at most {max(nodes):g} (or 0 for the default of {self.cpus}).")
        return cpus

    def gpus_per_task(self) -> int:
        if self.gpu == "never":
            return 0
        try:
            return 1 if self.ray.cluster_resources().get("GPU", 0) >= 1 else 0
        except Exception:
            return 0

    def capacity(self, threads_each: int) -> int:
        """Tasks the cluster's CPUs hold at once (each takes self.cpus; `threads_each` is Ray's to place)."""
        try:
            cpus = float(self.ray.cluster_resources().get("CPU", 0))
        except Exception:
            return 1
        return max(1, int(cpus // max(1, self.cpus)))

    def keep_warm(self, n: int) -> None:
        pass  # Ray keeps its own workers

    def shutdown(self) -> None:
        pass  # the cluster is not ours to stop

    def submit(self, split, config, name=None, baselines=None, dataset=None, device=None,
               concurrent: int | None = None) -> RayHandle:
        """Prepare the training (as every executor does) and start it as a Ray task (`concurrent` is not needed:
        Ray gives each task its own CPUs)."""
        config = prepare_training(split, config)
        opts = dict(name=name, baselines=baselines, dataset=dataset, device=device)
        return RayHandle(self, split, config, name, opts)
