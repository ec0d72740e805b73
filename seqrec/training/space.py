"""The Tune search space: which TrainConfig fields are searched and over what ranges (from the fields' metadata,
`Setting.search` and `Setting.log` in seqrec/config.py), narrowed by the user, and the metric a search maximises.

Free of torch and optuna, so the CLI checks a bad --space or --metric at once, before any data or model loads.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Sequence

from seqrec.config import SETTINGS
from seqrec.errors import SeqrecError

SEARCHABLE = tuple(name for name, s in SETTINGS.items() if s.search is not None)
METRICS = ("recall", "mrr", "ndcg")


@dataclass(frozen=True)
class Range:
    """What one field searches: [lo, hi] (lo == hi: fixed at that value), on a log scale or not."""

    lo: float
    hi: float
    log: bool = False
    integer: bool = False

    @property
    def fixed(self) -> bool:
        return self.lo == self.hi

    def clip(self, v):
        v = min(max(v, self.lo), self.hi)
        return int(round(v)) if self.integer else float(v)


def search_space(narrow: dict | None = None) -> dict[str, Range]:
    """The default ranges from the config's metadata, narrowed by `narrow` (field -> (lo, hi), or one value to fix
    it). Every range must lie inside what the field allows; a wrong name or range is one SeqrecError."""
    space = {}
    for name in SEARCHABLE:
        s = SETTINGS[name]
        space[name] = Range(s.search[0], s.search[1], s.log, s.integer)
    for name, value in (narrow or {}).items():
        if name not in space:
            raise SeqrecError(f"{name!r} cannot be searched; choose from {', '.join(SEARCHABLE)}.")
        s = SETTINGS[name]
        lo, hi = (value if isinstance(value, (tuple, list)) and len(value) == 2 else (value, value))
        cast = int if s.integer else float
        try:
            if isinstance(lo, bool) or isinstance(hi, bool) or (s.integer and (cast(lo) != lo or cast(hi) != hi)):
                raise ValueError
            lo, hi = cast(lo), cast(hi)
        except (TypeError, ValueError):
            raise SeqrecError(f"The search range of {name} must be {'whole ' if s.integer else ''}numbers "
                              f"(got {value!r}).") from None
        for v in (lo, hi):
            if (p := s.problem(v)) is not None:
                raise SeqrecError(f"Search range of {name}: {p}.")
        if lo > hi:
            raise SeqrecError(f"The search range of {name} is empty ({lo:g} > {hi:g}); give the lower bound first.")
        if s.log and lo <= 0:
            raise SeqrecError(f"{name} is searched on a log scale, so its range must be above 0 (got {lo:g}).")
        space[name] = Range(lo, hi, s.log, s.integer)
    return space


def parse_space(items: Sequence[str]) -> dict:
    """CLI form `NAME=LO:HI` or `NAME=VALUE` (fixed) -> the `narrow` dict of search_space()."""
    out = {}
    for item in items or ():
        m = re.fullmatch(r"\s*([a-z_]+)\s*=\s*([^:]+?)\s*(?::\s*(.+?)\s*)?", item)
        if not m:
            raise SeqrecError(f"Cannot read the search range {item!r}; write NAME=LO:HI (e.g. lr=0.001:0.01) or "
                              f"NAME=VALUE to fix it.")
        name, lo, hi = m.group(1), m.group(2), m.group(3) if m.group(3) is not None else m.group(2)
        try:
            lo, hi = float(lo), float(hi)
        except ValueError:
            raise SeqrecError(f"The search range {item!r} must hold numbers (e.g. lr=0.001:0.01).") from None
        if name in SETTINGS and SETTINGS[name].integer:
            lo, hi = (int(lo) if lo.is_integer() else lo), (int(hi) if hi.is_integer() else hi)
        out[name] = (lo, hi)
    return out


def check_metric(metric: str, ks: Sequence[int]) -> str:
    m = re.fullmatch(r"(recall|mrr|ndcg)@(\d+)", str(metric).strip().lower())
    if not m or int(m.group(2)) not in ks:
        raise SeqrecError(f"The metric to optimise must be one of {', '.join(f'{x}@{k}' for x in METRICS for k in ks)} "
                          f"(got {metric!r}).")
    return m.group(0)
