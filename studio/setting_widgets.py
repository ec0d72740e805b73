"""Widgets generated from a config field's Setting (seqrec/config.py): the Train form, the Data page's filters and
the Tune page take their labels, help texts, limits, steps and formats from here, so a widget offers exactly what the
library's validate() accepts."""
from __future__ import annotations

import re

from seqrec.config import Setting


def limits(s: Setting) -> tuple[float | None, float | None]:
    """The number input's (min, max): the setting's bounds (None: unbounded on that side). A widget's minimum is
    inclusive, so an open lower bound (lr > 0) starts at the smallest positive value the field's format shows
    (lr: 0.000001)."""
    lo = s.lo
    if s.open_below:
        lo = s.lo + 10.0 ** -int(re.fullmatch(r"%\.(\d+)f", s.fmt).group(1))
    cast = int if s.integer else float  # Streamlit wants min, max, step and value of one type
    return tuple(None if b is None else cast(b) for b in (lo, s.hi))


def number_input(container, s: Setting, key: str, label: str | None = None):
    """One number input for an "int" or "float" setting. A setting that may be None (automatic, or off) is an empty
    box showing what None means ("auto", "no limit") until the user types a number; emptying it sets None again."""
    lo, hi = limits(s)
    step = int(s.step) if s.integer else float(s.step)
    empty = {"value": None, "placeholder": "auto" if s.auto else s.off} if s.auto or s.off else {}
    return container.number_input(label or s.label, min_value=lo, max_value=hi, step=step, format=s.fmt,
                                  help=s.help, key=key, **empty)
