"""The bundled samples, by name: `python -m seqrec train sample:retail` and the Data page's Source choices.

Kept free of heavy imports (no pandas, no torch) so the CLI can resolve a name before it loads anything.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from seqrec.errors import SeqrecError


def _sample_dir() -> Path:
    """sample_data/ of the checkout this package runs from, or the copy `pip install` put under the prefix."""
    checkout = Path(__file__).resolve().parents[2] / "sample_data"
    installed = Path(sys.prefix) / "share" / "seqrec" / "sample_data"
    return installed if not checkout.is_dir() and installed.is_dir() else checkout


SAMPLE_DIR = _sample_dir()


@dataclass(frozen=True)
class Sample:
    """A bundled sample: `python -m seqrec train sample:<key>`, and one choice of the Data page's Source."""

    key: str
    name: str  # the dataset's name on the pages
    interactions: Path
    items: Path
    about: str  # one sentence for the Data page and the CLI's help


SAMPLES: dict[str, Sample] = {
    "synthetic": Sample("synthetic", "Synthetic teaching sample (online shop)", SAMPLE_DIR / "interactions.csv",
                        SAMPLE_DIR / "items.csv", "3,000 made-up shoppers and 300 products, generated with planted "
                        "short- and long-range patterns, so the gates have something clear to show"),
    "retail": Sample("retail", "Real retail sample (UK gift shop, 2010-2011)", SAMPLE_DIR / "online_retail.csv",
                     SAMPLE_DIR / "online_retail_items.csv", "2,500 real customers, 2,459 products and 97,370 "
                     "purchases of a UK online gift shop (UCI Online Retail, CC BY 4.0): noisy like real logs, where "
                     "the network beats a count table only narrowly, if at all"),
}
DEFAULT_SAMPLE = "synthetic"  # opens first: see docs/experiments/defaults-on-real-data.md
SAMPLE_PREFIX = "sample:"  # the CLI names a bundled sample as sample:<key>
SAMPLE_INTERACTIONS = SAMPLES[DEFAULT_SAMPLE].interactions
SAMPLE_ITEMS = SAMPLES[DEFAULT_SAMPLE].items
SAMPLE_NAME = SAMPLES[DEFAULT_SAMPLE].name


def sample_named(name: str) -> Sample:
    """The bundled sample `sample:<key>` (or `<key>`); one sentence naming the choices when there is none."""
    key = name[len(SAMPLE_PREFIX):] if name.startswith(SAMPLE_PREFIX) else name
    if key not in SAMPLES:
        raise SeqrecError(f"There is no bundled sample called {key!r}; use one of "
                          f"{', '.join(SAMPLE_PREFIX + k for k in SAMPLES)}.")
    return SAMPLES[key]
