"""The real Online Retail log cut into sessions, for measuring the models on real short sessions.

    python bench/online_retail_sessions.py ../shared/datasets/online-retail/online_retail.csv.gz OUT.csv

Each invoice is one session (the `session_id` column): its lines in the order the shop's export lists them, which is
the order they were put in the basket; a product listed twice in one invoice stays twice (a real repeat). Every
invoice counts, with or without a customer ID; cancellations (invoice numbers starting with C) and lines with no
positive quantity are dropped. Times: the invoice's time plus one second per line, so the basket order is explicit.
`--max-sessions N` keeps a seeded random subset of the invoices (the held-back click log has 11,665 sessions).
UCI "Online Retail" (dataset 352), CC BY 4.0 (see sample_data/README.md for the attribution).
"""
from __future__ import annotations

import argparse

import numpy as np
import pandas as pd


def sessions(raw: pd.DataFrame, max_sessions: int | None = None, seed: int = 0) -> pd.DataFrame:
    df = raw[~raw["InvoiceNo"].str.startswith("C")]
    df = df[pd.to_numeric(df["Quantity"], errors="coerce") > 0]
    df = df[df["StockCode"].str.strip() != ""]
    if max_sessions:
        invoices = df["InvoiceNo"].unique()
        if len(invoices) > max_sessions:
            keep = np.random.default_rng(seed).choice(invoices, max_sessions, replace=False)
            df = df[df["InvoiceNo"].isin(keep)]
    line = df.groupby("InvoiceNo", sort=False).cumcount()
    start = pd.to_datetime(df["InvoiceDate"]).astype("datetime64[s]").astype("int64")
    return pd.DataFrame({"session_id": df["InvoiceNo"].to_numpy(), "item_id": df["StockCode"].to_numpy(),
                         "timestamp": (start + line).to_numpy()})


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("source")
    p.add_argument("out")
    p.add_argument("--max-sessions", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    out = sessions(pd.read_csv(a.source, dtype=str, keep_default_na=False), a.max_sessions, a.seed)
    out.to_csv(a.out, index=False)
    lengths = out.groupby("session_id").size()
    rep = out.duplicated(["session_id", "item_id"]).mean()
    print(f"{len(out):,} events, {len(lengths):,} sessions (mean length {lengths.mean():.1f}, median "
          f"{lengths.median():.0f}), {out.item_id.nunique():,} items; {rep:.1%} of events repeat an item of their "
          f"session")


if __name__ == "__main__":
    main()
