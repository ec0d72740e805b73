"""Seed series: "train these settings once per seed", the same plan for the CLI's `--seeds` and the Train page's
"repeat with N seeds" (the CLI trains them one after another in its process; the app queues one at a time)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from seqrec.config import TrainConfig
from seqrec.errors import SeqrecError
from seqrec.evaluation.uncertainty import check_seeds

SEED_RANGE = 2 ** 32  # seeds are 0 .. 2**32 - 1; a count starting near the top wraps around to 0


@dataclass(frozen=True)
class SeedTraining:
    """One training of a seed series: the config with its seed, and the run's name (None: the default name)."""

    seed: int
    config: TrainConfig
    name: str | None


def seed_series(config: TrainConfig, seeds: int | Sequence[int], name: str | None = None,
                what: str = "The seeds") -> list[SeedTraining]:
    """The trainings of a seed series: `seeds` is either a count n (the config's seed and the n - 1 after it) or
    the seeds themselves. Each is `config` with that seed, named "<name> (seed N)" when a name is given. Bad seeds
    (too many, repeated, out of range) are one SeqrecError sentence starting with `what` (the CLI: "--seeds")."""
    values = [(config.seed + i) % SEED_RANGE for i in range(seeds)] if isinstance(seeds, int) else list(seeds)
    try:
        values = check_seeds(values)
    except ValueError as e:
        raise SeqrecError(f"{what}: {e}.") from None
    return [SeedTraining(s, config.replace(seed=s), f"{name} (seed {s})" if name else None) for s in values]
