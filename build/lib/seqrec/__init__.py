"""seqrec: next-item recommendation with RNN / LSTM / GRU models, honest full-ranking metrics and baselines.

The library knows nothing of Streamlit; the app and the CLI (`python -m seqrec`) are thin faces over it.
"""
import importlib

from seqrec.config import PRESETS, TrainConfig
from seqrec.data.columns import ColumnMap, guess_columns, resolve_columns
from seqrec.data.metadata import load_item_metadata
from seqrec.data.prepare import Filters, Interactions, load_interactions, prepare
from seqrec.data.read import read_table, read_tables
from seqrec.data.split import ItemVocab, SplitData, leave_last_out
from seqrec.data.stats import dataset_stats
from seqrec.errors import SeqrecError
from seqrec.version import __version__

# name -> module: these need torch, so they are imported on first use and the CLI's data commands, --help and error
# messages start without paying for `import torch`
_LAZY = {"Run": "seqrec.runs.run", "train_run": "seqrec.training.runner",
         "save_run": "seqrec.runs.files", "load_run": "seqrec.runs.files"}


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'seqrec' has no attribute {name!r}")

__all__ = ["SeqrecError", "TrainConfig", "PRESETS", "ColumnMap", "Filters", "Interactions", "load_interactions",
           "read_table", "read_tables", "guess_columns", "resolve_columns", "prepare", "dataset_stats",
           "load_item_metadata", "ItemVocab", "SplitData", "leave_last_out", "Run", "train_run", "save_run", "load_run",
           "__version__"]


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
