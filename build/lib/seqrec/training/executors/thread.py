"""The thread executor: each training runs in the thread that consumes its handle (SEQREC_EXECUTOR=thread).

No process start and no copy of the data, so it suits tests, debugging and scripts; a crash in the training is a
crash of the caller, and Stop takes effect at the next batch boundary.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Sequence

import torch

from seqrec.errors import SeqrecError
from seqrec.training.executors.base import TrainingFailed
from seqrec.training.runner import prepare_training, train_run


class ThreadHandle:
    """A training that runs when consume() (or result()) is called, in the calling thread."""

    executor = "thread"

    def __init__(self, split, config, opts: dict, threads: int):
        self.split, self.config, self.name = split, config, opts.get("name")
        self.threads = threads
        self.pid = os.getpid()
        self._opts = opts
        self._stop = threading.Event()
        self._outcome: tuple | None = None  # ("run", Run) | ("error", TrainingFailed), once it ended

    def stop(self) -> None:
        self._stop.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    @property
    def stop_message(self) -> str:
        return ""  # an in-thread training always ends at a batch boundary, with its best weights

    def consume(self, callbacks: Sequence = ()):
        if self._outcome is None:
            self._outcome = self._train(list(callbacks))
        kind, value = self._outcome
        if kind == "error":
            raise value
        return value

    def result(self):
        return self.consume(())

    def _train(self, callbacks: list) -> tuple:
        """Train with this handle's thread count (the calling thread's own count is given back afterwards)."""
        before = torch.get_num_threads()
        if self.threads != before:
            torch.set_num_threads(self.threads)
        try:
            return "run", train_run(self.split, self.config, callbacks=callbacks, stop_event=self._stop,
                                    **self._opts)
        except TrainingFailed as e:
            return "error", e
        except SeqrecError as e:  # a sentence for the person, as a worker process reports it; anything else is a bug
            return "error", TrainingFailed(str(e))
        finally:
            if torch.get_num_threads() != before:
                torch.set_num_threads(before)


class ThreadExecutor:
    """Trainings in the calling thread, with the config's `cpus` torch threads when set (at most the machine's
    cores), else the calling thread's count."""

    name = "thread"

    def submit(self, split, config, name=None, baselines=None, dataset=None, device=None,
               concurrent: int | None = None) -> ThreadHandle:
        """Prepare the training now (a bad config is refused here); it runs when its handle is consumed."""
        config = prepare_training(split, config)
        threads = max(1, min(int(config.cpus), os.cpu_count() or 1)) if config.cpus else torch.get_num_threads()
        opts = dict(name=name, baselines=baselines, dataset=dataset, device=device)
        return ThreadHandle(split, config, opts, threads)

    def capacity(self, threads_each: int) -> int:
        return 1  # the calling thread runs one training at a time

    def keep_warm(self, n: int) -> None:
        pass

    def shutdown(self) -> None:
        pass
