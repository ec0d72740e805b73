"""Derive the bundled real-data sample from the UCI Online Retail log (a UK gift shop, 2010-12-01 to 2011-12-09).

    python sample_data/make_online_retail.py [PATH/online_retail.csv.gz]

Reproducible (seeded) and committed: the output files are what the app and the CLI load as the "retail" sample.
Steps, each a choice a shop analyst would make:
1. keep lines with a customer (a quarter are guest checkouts), drop cancellations (invoice "C...", quantity <= 0);
2. products only (codes of five digits: no postage, fees or manual lines); one event per (invoice, product): a basket line, whatever its quantity; all lines of an invoice share its minute;
3. customers with at least 5 such events, a seeded random 2,500 of them, each cut to their most recent 60 events
   (keeps the file small and the Quick demo fast; most customers have fewer);
4. products bought at least 5 times in what is left (rarer ones cannot be learned from 2,500 customers).
Items get the product's most frequent description as a title, in title case.

Source: UCI Machine Learning Repository, "Online Retail" (dataset 352), donated by Dr Daqing Chen, London South Bank
University. Licence: CC BY 4.0. Chen, Sain and Guo, Journal of Database Marketing and Customer Strategy Management
19(3), 197-208, 2012. doi:10.1057/dbm.2012.17.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
DEFAULT_SOURCE = HERE.parent.parent / "shared" / "datasets" / "online-retail" / "online_retail.csv.gz"
SEED = 20101201
CUSTOMERS = 2500
MIN_EVENTS = 5
RECENT_EVENTS = 60
MIN_ITEM_COUNT = 5


def load_raw(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    df = df[(df["CustomerID"] != "") & ~df["InvoiceNo"].str.startswith("C")]
    df = df[pd.to_numeric(df["Quantity"], errors="coerce") > 0]
    df = df[df["StockCode"].str.match(r"\d{5}")]  # products only: no postage (POST), fees, manual entries
    df = df.drop_duplicates(["InvoiceNo", "StockCode"])  # one basket line per product
    df = df.assign(user_id=df["CustomerID"].str.replace(r"\.0$", "", regex=True),
                   item_id=df["StockCode"].str.upper(),
                   ts=pd.to_datetime(df["InvoiceDate"]).astype("datetime64[s]").astype("int64"))
    return df.reset_index(drop=True)


def derive(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(SEED)
    counts = df.groupby("user_id").size()
    eligible = np.sort(counts[counts >= MIN_EVENTS].index.to_numpy())
    chosen = set(rng.choice(eligible, size=min(CUSTOMERS, len(eligible)), replace=False))
    d = df[df["user_id"].isin(chosen)].copy()
    d["order"] = np.arange(len(d))  # within a basket (same minute), keep the invoice's line order
    d = d.drop_duplicates(["user_id", "item_id", "ts"])  # two invoices in the same minute: one event
    d = d.sort_values(["user_id", "ts", "order"], kind="stable")
    d = d.groupby("user_id", sort=False).tail(RECENT_EVENTS)
    item_counts = d["item_id"].value_counts()
    d = d[d["item_id"].isin(item_counts[item_counts >= MIN_ITEM_COUNT].index)]
    d = d[d.groupby("user_id")["user_id"].transform("size") >= 3]  # a train/validation/test split needs 3
    inter = d[["user_id", "item_id", "ts"]].rename(columns={"ts": "timestamp"})
    titles = (df[df["item_id"].isin(set(inter["item_id"]))].groupby("item_id")["Description"]
              .agg(lambda s: s[s.str.strip() != ""].value_counts().index[0] if (s.str.strip() != "").any() else ""))
    items = pd.DataFrame({"item_id": titles.index, "title": titles.str.strip().str.title().to_numpy()})
    return inter, items.sort_values("item_id")


def main(argv: list[str]) -> None:
    source = Path(argv[0]) if argv else DEFAULT_SOURCE
    inter, items = derive(load_raw(source))
    inter.to_csv(HERE / "online_retail.csv", index=False)
    items.to_csv(HERE / "online_retail_items.csv", index=False)
    print(f"{len(inter):,} events, {inter['user_id'].nunique():,} customers, {inter['item_id'].nunique():,} products")


if __name__ == "__main__":
    main(sys.argv[1:])
