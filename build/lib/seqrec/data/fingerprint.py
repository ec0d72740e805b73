"""Content hashes of data and settings: the same rows give the same fingerprint, whichever files, column names or
filters produced them."""
from __future__ import annotations

import hashlib

import pandas as pd

from seqrec.data.prepare import Interactions


def content_fingerprint(*parts) -> str:
    """Short hash of file contents and settings: the same data and settings give the same dataset."""
    h = hashlib.sha1()
    for p in parts:
        h.update(p if isinstance(p, (bytes, bytearray)) else repr(p).encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def interactions_fingerprint(data: Interactions) -> str:
    """Content hash of the processed log (user, item, time[, event][, rating] rows): the same rows give the same
    fingerprint whichever files, column names or filters produced them, so the app, the command line and the run
    library agree on "the same dataset"."""
    return content_fingerprint(pd.util.hash_pandas_object(data.df, index=False).sum(), list(data.df.columns))
