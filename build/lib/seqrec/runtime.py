"""What this machine and process allow: the server's settings from the environment (ServerSettings), cores, how many
trainings run at once, torch threads per training, and the machine's memory.

Imports nothing of seqrec but its error type, so every stage (the training queue, the memory budget, the run library,
the app's start-up) can ask it without pulling in the others.

Every SEQREC_* environment variable the library reads is one field of ServerSettings, with its name, type, default,
limits and help line in the field's metadata (as seqrec.config's `Setting` describes TrainConfig). A bad value is one
SeqrecError sentence naming the variable, the value and what is allowed, never a silent fallback; the CLI and the app
check them all at start-up (`ServerSettings.from_env()`), and each reader asks for its own (`ServerSettings.read`).
"""
from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from seqrec.errors import SeqrecError

if TYPE_CHECKING:  # the annotation only: torch loads in the functions that use it, so the CLI starts without it
    import torch

MAX_WORKERS = 4  # concurrent trainings at most by default: each holds its own model, batch and Adam state
MAX_TRAIN_MINUTES = 1440.0  # the longest training TrainConfig allows (its max_minutes); tests check the two agree


@dataclass(frozen=True)
class EnvVar:
    """One environment variable: its name, what kind of value it holds and the limits of that value, the default in
    words (for the docs and the error sentence) and a help line."""

    env: str
    kind: str  # "int", "float", "choice" or "text"
    help: str
    default_text: str
    lo: float | None = None
    hi: float | None = None
    open_below: bool = False  # lo itself is not allowed (a number above lo)
    unit: str = ""  # what a number counts, e.g. "megabytes"
    choices: tuple[str, ...] = ()

    def allowed(self) -> str:
        """What a value must be, in words, e.g. `a whole number from 1 to 64`, `a positive number of megabytes`."""
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "text":
            return "any text"
        if self.kind == "int":
            return f"a whole number from {self.lo:g} to {self.hi:g}"
        unit = f" of {self.unit}" if self.unit else ""
        if self.open_below and self.lo == 0 and self.hi is None:
            return f"a positive number{unit}"
        below = f"above {self.lo:g}" if self.open_below else f"at least {self.lo:g}"
        return f"a number{unit} {below}" + (f" and at most {self.hi:g}" if self.hi is not None else "")

    def parse(self, raw: str, default: Any) -> Any:
        """The value of `raw` (surrounding spaces ignored; empty: the default), or SeqrecError saying what is wrong."""
        text = raw.strip()
        if not text:
            return default
        value = self._convert(text)
        if value is None or not self._within(value):
            raise SeqrecError(f"{self.env} must be {self.allowed()} (got {raw!r}); fix the environment setting or "
                              f"remove it to use the default ({self.default_text}).")
        return value

    def _convert(self, text: str) -> Any:
        if self.kind == "text":
            return text
        if self.kind == "choice":
            return text.lower() if text.lower() in self.choices else None
        try:
            return int(text) if self.kind == "int" else float(text)
        except ValueError:
            return None

    def _within(self, value: Any) -> bool:
        if self.kind in ("text", "choice"):
            return True
        if not math.isfinite(value) or (self.hi is not None and value > self.hi):
            return False
        return value > self.lo if self.open_below else value >= self.lo


def _env(default: Any, **meta: Any) -> Any:
    """A ServerSettings field read from one environment variable (see EnvVar for the metadata)."""
    return field(default=default, metadata={"env": EnvVar(**meta)})


@dataclass(frozen=True)
class ServerSettings:
    """Every SEQREC_* environment variable the library reads, typed and checked. None: chosen automatically (see
    each field's default_text). `from_env()` reads and checks them all (the CLI and the app at start-up);
    `read(name)` reads one (each place that uses a setting), with the same checks and the same sentence."""

    workers: int | None = _env(
        None, env="SEQREC_WORKERS", kind="int", lo=1, hi=64, default_text=f"one per core, at most {MAX_WORKERS}",
        help="Trainings that run at once on this server; the others wait in the queue, first come first served.")
    warm_workers: int | None = _env(
        None, env="SEQREC_WARM_WORKERS", kind="int", lo=0, hi=8,
        default_text="the app: one per training slot, at most 2; the CLI: none",
        help="Idle worker processes kept ready with torch loaded, so a training starts at once.")
    executor: str = _env(
        "process", env="SEQREC_EXECUTOR", kind="choice", choices=("process", "thread"), default_text="process",
        help="Where a training runs without Ray: `process` (a spawned worker process, a few kept warm) or `thread` "
             "(inside the calling process: tests, debugging).")
    ray_address: str = _env(
        "", env="SEQREC_RAY_ADDRESS", kind="text", default_text="unset: train on this machine",
        help="Train as tasks on this Ray cluster (`auto`, `HOST:6379`, `ray://HOST:10001`); needs "
             "`pip install \"ray[default]\"`. The CLI's `train --ray` overrides it.")
    ray_cpus: int = _env(
        2, env="SEQREC_RAY_CPUS", kind="int", lo=1, hi=1024, default_text="2",
        help="CPUs (Ray resources and torch threads) of each training's Ray task when its CPU threads setting is 0.")
    memory_budget_mb: float | None = _env(
        None, env="SEQREC_MEMORY_BUDGET_MB", kind="float", lo=0, open_below=True, unit="megabytes",
        default_text="half the machine's memory shared by the trainings at once, at most 4096",
        help="Memory one training may use; a training estimated above it is refused with a suggestion.")
    max_train_minutes: float = _env(
        30.0, env="SEQREC_MAX_TRAIN_MINUTES", kind="float", lo=0, hi=MAX_TRAIN_MINUTES, open_below=True,
        unit="minutes", default_text="30",
        help="Minutes one training of the app may run; a longer or unlimited time limit is lowered to it.")
    home: str = _env(
        "", env="SEQREC_HOME", kind="text", default_text="`.seqrec/` in the folder the process started in",
        help="Folder of the run library (its SQLite index and run files) and of the app's job journal.")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ServerSettings:
        """All settings from the environment; the first bad value raises its SeqrecError sentence."""
        env = os.environ if environ is None else environ
        return cls(**{f.name: cls.read(f.name, env) for f in fields(cls)})

    @classmethod
    def read(cls, name: str, environ: Mapping[str, str] | None = None) -> Any:
        """One setting from the environment (each reader asks for its own, so a script that never trains on Ray
        is not refused for a bad SEQREC_RAY_CPUS; the CLI and the app check every one at start-up)."""
        f = _FIELDS[name]
        env = os.environ if environ is None else environ
        return f.metadata["env"].parse(env.get(f.metadata["env"].env, ""), f.default)

    @classmethod
    def variables(cls) -> dict[str, EnvVar]:
        """field name -> its environment variable, in the order of the fields."""
        return {f.name: f.metadata["env"] for f in fields(cls)}


_FIELDS = {f.name: f for f in fields(ServerSettings)}


def settings_table() -> str:
    """The environment variables as a Markdown table (RELIABILITY.md carries it; a test checks it is current)."""
    rows = ["| Variable | Allowed | Default | What it does |", "|---|---|---|---|"]
    for var in ServerSettings.variables().values():
        rows.append(f"| `{var.env}` | {var.allowed()} | {var.default_text} | {var.help} |")
    return "\n".join(rows)


def cores() -> int:
    """CPU cores of this machine (1 when unknown)."""
    return os.cpu_count() or 1


def default_workers(cores_: int | None = None) -> int:
    """One training per core, at most MAX_WORKERS. Measured (RELIABILITY.md): on 2 cores two 1-thread trainings
    finish together in about the time of one, while a second torch thread speeds a single small training by under
    10%; memory grows with every concurrent training, hence the cap."""
    return max(1, min(MAX_WORKERS, cores_ or cores()))


def worker_count() -> int:
    """How many trainings may run at once in this process: SEQREC_WORKERS (1 to 64), else default_workers()."""
    return ServerSettings.read("workers") or default_workers()


def threads_per_worker(workers: int | None = None) -> int:
    """Torch intra-op threads per training: the cores shared equally by the concurrent trainings."""
    return max(1, cores() // (workers or worker_count()))


def configure_threads(workers: int | None = None) -> int:
    """Give each concurrent training an equal share of the cores, so parallel trainings don't oversubscribe the
    CPU (with OpenMP spin-waiting that makes every step many times slower). Returns the torch thread count.

    torch.set_num_threads is process-wide for threads started later, but a thread that already ran a parallel op
    keeps the count it had (measured, RELIABILITY.md); so the pool's workers also set it themselves when they start."""
    import torch  # only the process that trains pays for it (the store and the settings do not need it)

    n = threads_per_worker(workers)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def machine_memory_bytes() -> int | None:
    """Physical memory, or the container's limit when that is lower (cgroup v2 / v1); None when unknown."""
    sizes = []
    try:
        sizes.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        pass
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            with open(path) as f:
                text = f.read().strip()
            if text.isdigit() and int(text) < (1 << 60):
                sizes.append(int(text))
        except OSError:
            pass
    return min(sizes) if sizes else None


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (one we may not signal counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def pick_device(device: str | None = None) -> torch.device:
    """A GPU when one is present, else the CPU (or what the caller names, checked so a typo is one clear message)."""
    import torch  # only the process that trains pays for it (the store and the settings do not need it)

    if device:
        try:
            dev = torch.device(device)
        except (RuntimeError, TypeError, ValueError):
            raise SeqrecError(f"Unknown device {device!r}; use cpu or cuda (or leave it out to pick one "
                              f"automatically).") from None
        if dev.type == "cuda" and (not torch.cuda.is_available() or (dev.index or 0) >= torch.cuda.device_count()):
            raise SeqrecError(f"Device {device!r} is not available on this machine (no such CUDA GPU); use cpu or "
                              f"leave the device out.")
        if dev.type not in ("cpu", "cuda", "mps"):
            raise SeqrecError(f"Device {device!r} is not supported; use cpu or cuda (or leave it out).")
        if dev.type == "mps" and not torch.backends.mps.is_available():
            raise SeqrecError(f"Device {device!r} is not available on this machine; use cpu or leave it out.")
        return dev
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")

