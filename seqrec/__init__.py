"""seqrec: next-item recommendation with RNN / LSTM / GRU models, honest full-ranking metrics and baselines.

The library knows nothing of Streamlit; the app and the CLI (`python -m seqrec`) are thin faces over it.
"""
__version__ = "0.1.0"

from seqrec.errors import SeqrecError  # noqa: E402
from seqrec.config import TrainConfig, PRESETS  # noqa: E402
from seqrec.data.prepare import (ColumnMap, Filters, Interactions, load_interactions, read_table, read_tables,  # noqa: E402
                   guess_columns, resolve_columns, prepare, dataset_stats, load_item_metadata)
from seqrec.data.split import ItemVocab, SplitData, leave_last_out  # noqa: E402

_LAZY = {"Run", "train_run", "save_run", "load_run"}  # need torch: imported on first use, so the CLI's data
# commands, --help and error messages start without paying for `import torch`


def __getattr__(name):
    if name in _LAZY:
        from seqrec.runs import run

        return getattr(run, name)
    raise AttributeError(f"module 'seqrec' has no attribute {name!r}")

__all__ = ["SeqrecError", "TrainConfig", "PRESETS", "ColumnMap", "Filters", "Interactions", "load_interactions",
           "read_table", "read_tables", "guess_columns", "resolve_columns", "prepare", "dataset_stats",
           "load_item_metadata", "ItemVocab", "SplitData", "leave_last_out", "Run", "train_run", "save_run", "load_run"]


def __dir__():
    return sorted(set(globals()) | _LAZY)
