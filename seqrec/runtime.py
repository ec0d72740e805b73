"""What this machine and process allow: cores, how many trainings run at once, torch threads per training, and the
machine's memory.

Imports nothing of seqrec but its error type, so every stage (the training queue, the memory budget, the app's start-up) can ask
it without pulling in the others. Settings come from the environment: SEQREC_WORKERS (trainings at once).
"""
from __future__ import annotations

import os

import torch

from seqrec.errors import SeqrecError

WORKERS_ENV = "SEQREC_WORKERS"
MAX_WORKERS = 4  # concurrent trainings at most by default: each holds its own model, batch and Adam state


def cores() -> int:
    """CPU cores of this machine (1 when unknown)."""
    return os.cpu_count() or 1


def default_workers(cores_: int | None = None) -> int:
    """One training per core, at most MAX_WORKERS. Measured (RELIABILITY.md): on 2 cores two 1-thread trainings
    finish together in about the time of one, while a second torch thread speeds a single small training by under
    10%; memory grows with every concurrent training, hence the cap."""
    return max(1, min(MAX_WORKERS, cores_ or cores()))


def worker_count() -> int:
    """How many trainings may run at once in this process (env SEQREC_WORKERS, 1 to 64; default_workers() when
    unset or not a number)."""
    raw = os.environ.get(WORKERS_ENV, "").strip()
    try:
        return max(1, min(64, int(raw))) if raw else default_workers()
    except ValueError:
        return default_workers()


def threads_per_worker(workers: int | None = None) -> int:
    """Torch intra-op threads per training: the cores shared equally by the concurrent trainings."""
    return max(1, cores() // (workers or worker_count()))


def configure_threads(workers: int | None = None) -> int:
    """Give each concurrent training an equal share of the cores, so parallel trainings don't oversubscribe the
    CPU (with OpenMP spin-waiting that makes every step many times slower). Returns the torch thread count.

    torch.set_num_threads is process-wide for threads started later, but a thread that already ran a parallel op
    keeps the count it had (measured, RELIABILITY.md); so the pool's workers also set it themselves when they start."""
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

