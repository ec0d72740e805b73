"""A seeded, MovieLens-100K-shaped synthetic log for tuning defaults and benchmarking (no download needed).

Shape: ~943 users, ~1,682 items, ~100k events, 20+ events per user, heavy-tailed user activity and item
popularity. Structure that real rating logs show and that a sequential model can use:
- taste: users and items have latent genre vectors; users pick items they like, without repeats;
- listing order: like MovieLens' rating pages, raters walk a genre's list (most popular first) and rate the
  films they know, so the next item depends on where in which list the user is, not only on the last item;
- searches: a quarter of the events are films looked up directly (popularity x taste), breaking the lists.

Usage: python bench/movielens_like.py OUT.csv [--users 943] [--items 1682] [--seed 0]
"""
from __future__ import annotations

import argparse

import numpy as np
import pandas as pd


def generate(users: int = 943, items: int = 1682, seed: int = 0, genres: int = 18) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    item_genre = rng.dirichlet(np.full(genres, 0.15), size=items)  # mostly 1-2 genres per item
    main_genre = item_genre.argmax(1)
    pop_logit = -0.7 * np.log(rng.permutation(np.arange(1, items + 1)))  # Zipf-like popularity
    # The site lists films by genre, most popular first: raters walk these lists and rate what they know.
    listing = np.lexsort((-pop_logit, main_genre))
    position = np.empty(items, dtype=int)
    position[listing] = np.arange(items)
    genre_start = {g: int(np.flatnonzero(main_genre[listing] == g)[0]) for g in np.unique(main_genre)}
    lengths = np.clip((20 + rng.pareto(1.15, size=users) * 30).astype(int), 20, 737)
    t0, span = 874_724_710, 215 * 86400  # 1997-09-20, seven months
    rows = []
    for u in range(users):
        taste = rng.dirichlet(np.full(genres, 0.3))
        know = 1 / (1 + np.exp(-(0.5 * pop_logit + np.log(item_genre @ taste + 1e-6) * 1.5 + 3.0)))
        n = lengths[u]
        seen = np.zeros(items, dtype=bool)
        seq = []
        while len(seq) < n:
            if rng.random() < 0.25:  # a search: any film, by popularity and taste
                logits = pop_logit + np.log(know) * 2
                logits[seen] = -np.inf
                it = int(np.argmax(logits + rng.gumbel(size=items)))
                seen[it] = True
                seq.append(it)
                continue
            g = rng.choice(genres, p=taste)  # browse one genre's list from the top
            if g not in genre_start:
                continue
            pos = genre_start[g]
            while pos < items and main_genre[listing[pos]] == g and len(seq) < n:
                it = int(listing[pos])
                if not seen[it] and rng.random() < know[it]:
                    seen[it] = True
                    seq.append(it)
                pos += 1 + int(rng.integers(0, 3))
        start = rng.uniform(0, 0.95)
        times = t0 + (start + np.sort(rng.uniform(0, rng.exponential(0.05), len(seq)))) * span
        rows += [(u + 1, it + 1, int(rng.integers(1, 6)), int(t)) for it, t in zip(seq, times)]
    return pd.DataFrame(rows, columns=["userId", "movieId", "rating", "timestamp"])


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--users", type=int, default=943)
    p.add_argument("--items", type=int, default=1682)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    df = generate(a.users, a.items, a.seed)
    df.to_csv(a.out, index=False)
    print(f"{a.out}: {df.userId.nunique()} users, {df.movieId.nunique()} items, {len(df)} events")
