"""A seeded click-session log of the shape issue 15's held-back click log has (short sessions, ~40% of the next
clicks go back to an item clicked earlier in the session, nothing to exclude), for measuring the defaults there
without the real file (no download needed).

Shape: sessions are the sequences (the `session_id` column), 3-40 clicks each (mean ~8), ~8,000 items in ~120
categories with Zipf popularity. What a session does at each click:
- goes back to an item it clicked before (33%; with the chance returns of the other moves, ~40% of the next
  clicks repeat one): mostly the one or two before (comparing two products, a reload), sometimes older ones;
- else follows a link from the current item to one of its ~20 related items (70%; each item's own skewed list,
  as "customers also viewed");
- else browses its category by popularity, and now and then (10%) switches category.
Times: sessions start at random over 90 days; clicks 5-300 s apart.

Usage: python bench/click_sessions_like.py OUT.csv [--sessions 30000] [--items 8000] [--seed 0]
"""
from __future__ import annotations

import argparse

import numpy as np
import pandas as pd


def generate(sessions: int = 30_000, items: int = 8_000, seed: int = 0, categories: int = 120,
             repeat: float = 0.33) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cat_of = rng.choice(categories, size=items, p=_zipf(categories, 0.8))
    pop = _zipf(items, 0.9)[rng.permutation(items)]
    members = [np.flatnonzero(cat_of == c) for c in range(categories)]
    cat_p = np.array([pop[m].sum() for m in members])
    cat_p /= cat_p.sum()
    related = []  # each item's "also viewed" list: 20 items of its category, popular ones more often
    for i in range(items):
        m = members[cat_of[i]]
        k = min(20, len(m))
        related.append(rng.choice(m, size=k, replace=False, p=pop[m] / pop[m].sum()))
    link_p = _zipf(20, 1.0)
    lengths = np.clip(3 + rng.geometric(0.18, size=sessions) - 1, 3, 40)
    t0, span = 1_459_468_800, 90 * 86400  # 2016-04-01, three months
    rows = []
    for s in range(sessions):
        c = rng.choice(categories, p=cat_p)
        seq = [int(rng.choice(members[c], p=pop[members[c]] / pop[members[c]].sum()))]
        while len(seq) < lengths[s]:
            r = rng.random()
            if len(seq) >= 2 and r < repeat:
                back = min(len(seq), 1 + rng.geometric(0.55))  # 1 = the item just clicked (a reload)
                seq.append(seq[-back])
                continue
            if rng.random() < 0.7:
                rel = related[seq[-1]]
                seq.append(int(rel[rng.choice(len(rel), p=link_p[:len(rel)] / link_p[:len(rel)].sum())]))
                continue
            if rng.random() < 0.1:
                c = rng.choice(categories, p=cat_p)
            seq.append(int(rng.choice(members[c], p=pop[members[c]] / pop[members[c]].sum())))
        start = t0 + rng.uniform(0, span)
        times = start + np.cumsum(rng.uniform(5, 300, len(seq)))
        rows += [(s + 1, it + 1, int(t)) for it, t in zip(seq, times)]
    return pd.DataFrame(rows, columns=["session_id", "item_id", "timestamp"])


def _zipf(n: int, a: float) -> np.ndarray:
    p = 1.0 / np.arange(1, n + 1) ** a
    return p / p.sum()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--sessions", type=int, default=30_000)
    ap.add_argument("--items", type=int, default=8_000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    df = generate(a.sessions, a.items, a.seed)
    df.to_csv(a.out, index=False)
    seqs = df.groupby("session_id", sort=False)["item_id"].agg(list)
    targets = sum(len(q) - 1 for q in seqs)
    repeats = sum(q[k] in q[:k] for q in seqs for k in range(1, len(q)))
    print(f"{a.out}: {len(seqs):,} sessions, {df['item_id'].nunique():,} items, {len(df):,} clicks, "
          f"{repeats / targets:.0%} of next clicks repeat an earlier one")


if __name__ == "__main__":
    main()
