"""Data stage: read files, map columns, parse times, filter and prepare, statistics, item metadata, the split, and the
app-facing Dataset.

The public names of the stage are re-exported here (`from seqrec.data import load_interactions, Filters`); inside
seqrec, modules import from the real homes below, so this file adds no import edges of its own.
"""
from seqrec.data.columns import ColumnMap, guess_columns, resolve_columns
from seqrec.data.metadata import load_item_metadata
from seqrec.data.prepare import Filters, Interactions, load_interactions, prepare
from seqrec.data.read import Source, read_table, read_tables
from seqrec.data.split import ItemVocab, SplitData, leave_last_out
from seqrec.data.stats import dataset_stats
from seqrec.data.times import parse_times

__all__ = ["ColumnMap", "guess_columns", "resolve_columns", "load_item_metadata", "Filters", "Interactions",
           "load_interactions", "prepare", "Source", "read_table", "read_tables", "ItemVocab", "SplitData",
           "leave_last_out", "dataset_stats", "parse_times"]
