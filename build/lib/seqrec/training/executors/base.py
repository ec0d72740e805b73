"""What every executor and every training handle offers, wherever the training runs.

    handle = executor.submit(split, config, name=..., baselines=..., dataset=..., device=..., concurrent=...)
    run = handle.consume([callback, ...])   # progress: the same on_batch / on_epoch callbacks as train()
    handle.stop()                           # from any thread; the training ends after its current batch

`consume` returns the finished Run or raises `TrainingFailed` with a sentence for the person; a training stopped
before any weights were kept returns None. `submit` prepares the training first (`prepare_training`: validated,
automatic settings resolved, memory checked), so a bad config is refused at once, and the settings it resolved are
the ones both the training and the returned run hold.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from seqrec.errors import SeqrecError

if TYPE_CHECKING:  # names for the annotations only
    from seqrec.config import TrainConfig
    from seqrec.data.split import SplitData
    from seqrec.runs.run import Run
    from seqrec.training.loop import Callback


class TrainingFailed(SeqrecError):
    """A training that ended without a run; str() is the sentence to show."""


@runtime_checkable
class TrainingHandle(Protocol):
    """One submitted training. `executor` names the executor that runs it ("thread", "local", "ray"); `threads` is
    the torch thread count it was given (fixed for its whole run); `split` is the data it trains on (a caller may
    drop it once the training ended, so the session's data is not kept alive by the handle)."""

    executor: str
    threads: int
    split: SplitData | None

    def consume(self, callbacks: Sequence[Callback] = ()) -> Run | None:
        """Feed every progress event to the callbacks and return result()."""

    def result(self) -> Run | None:
        """The finished Run; None when it was stopped before any weights were kept; TrainingFailed otherwise."""

    def stop(self) -> None:
        """Ask the training to end after its current batch (the best weights so far are kept)."""

    @property
    def stop_requested(self) -> bool:
        """Whether stop() was called."""

    @property
    def stop_message(self) -> str:
        """Why a training that returned no run ended (empty otherwise)."""


@runtime_checkable
class Executor(Protocol):
    """Where trainings run: `thread` (the calling thread), `local` (spawned worker processes on this machine) or
    `ray` (tasks on a Ray cluster)."""

    name: str

    def submit(self, split: SplitData, config: TrainConfig, name: str | None = None, baselines: dict | None = None,
               dataset: dict | None = None, device: str | None = None,
               concurrent: int | None = None) -> TrainingHandle:
        """Prepare and start one training. `concurrent`: how many trainings the caller expects to run at once with
        this one (the app's queue), so an executor sharing cores does not give the first of a crowd every core."""

    def capacity(self, threads_each: int) -> int:
        """How many trainings of at least `threads_each` torch threads it can run at once (at least 1)."""

    def keep_warm(self, n: int) -> None:
        """Keep `n` workers ready so a training starts at once (a no-op where there is nothing to warm)."""

    def shutdown(self) -> None:
        """Release idle resources (running trainings are not touched)."""
