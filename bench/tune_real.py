"""Run a named list of training configurations on one data file, one at a time, and tabulate them.

    PYTHONPATH=. python bench/tune_real.py DATA.csv --configs default tied tied_plateau ... [--exclude-seen]
        [--base KEY=V ...] [--seeds 0 1 2] [--out results.jsonl]

Every configuration is TrainConfig overrides (CONFIGS below; --base applies to all). Per run it records test and
validation Recall@20 / MRR@20, epochs run, best epoch, seconds per epoch (training + validation), and the first
elapsed second at which validation Recall@20 and MRR@20 both reached item transitions' validation figures. Rows go
to --out (JSONL, appended) and a markdown table is printed at the end. Torch uses 2 threads.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch
from tune_defaults import parse_value

from seqrec import TrainConfig, leave_last_out, load_interactions
from seqrec.evaluation.protocol import evaluate_baselines, evaluate_model, fit_baselines
from seqrec.training.loop import train

CONFIGS: dict[str, dict] = {
    "default": {},
    "old_default": dict(dropout=0.5, lr=0.005, batch_size=64, max_len=200, tie_weights=False, layer_norm=False,
                        monitor="recall", lr_schedule="constant", warmup_steps=0, eval_every=1, patience=10),
    "tied": dict(tie_weights=True),
    "tied_d02": dict(tie_weights=True, dropout=0.2),
    "tied_d03": dict(tie_weights=True, dropout=0.3),
    "tied_plateau": dict(tie_weights=True, lr_schedule="plateau"),
    "tied_ndcg": dict(tie_weights=True, monitor="ndcg"),
    "tied_ln": dict(tie_weights=True, layer_norm=True),
    "d02": dict(dropout=0.2),
    "cand": dict(dropout=0.2, lr=0.01, loss="sampled", negatives=512, patience=5),
    "d02_lr01": dict(dropout=0.2, lr=0.01),
    "d02_sampled": dict(dropout=0.2, loss="sampled", negatives=512),
    "d02_lr01_sampled": dict(dropout=0.2, lr=0.01, loss="sampled", negatives=512),
    "d02_b128": dict(dropout=0.2, batch_size=128, lr=0.01),
    "d02_b256": dict(dropout=0.2, batch_size=256, lr=0.02),
    "tied_d02_b128": dict(tie_weights=True, dropout=0.2, batch_size=128, lr=0.01),
    "b128_lr01": dict(batch_size=128, lr=0.01),
    "tied_b128": dict(tie_weights=True, batch_size=128, lr=0.01),
    "tied_len50": dict(tie_weights=True, max_len=50),
    "tied_sampled": dict(tie_weights=True, loss="sampled", negatives=512),
    "ln": dict(layer_norm=True),
    "ndcg_plateau": dict(monitor="ndcg", lr_schedule="plateau"),
    # issue 15, round 2: the candidate defaults (dropout 0.2, lr 0.01) and the untried options on top of them
    "cand_full": dict(dropout=0.2, lr=0.01),
    "cand_ndcg": dict(dropout=0.2, lr=0.01, loss="sampled", negatives=512, monitor="ndcg"),
    "cand_plateau": dict(dropout=0.2, lr=0.01, loss="sampled", negatives=512, lr_schedule="plateau"),
    "cand_h256": dict(dropout=0.2, lr=0.01, loss="sampled", negatives=512, hidden_size=256),
    "cand_h64": dict(dropout=0.2, lr=0.01, loss="sampled", negatives=512, hidden_size=64),
    "cand_len50": dict(dropout=0.2, lr=0.01, loss="sampled", negatives=512, max_len=50),
    "cand_full_ndcg": dict(dropout=0.2, lr=0.01, monitor="ndcg"),
    "cand_full_plateau": dict(dropout=0.2, lr=0.01, lr_schedule="plateau"),
    "quick": "Quick demo", "balanced": "Balanced", "thorough": "Thorough",
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("data")
    p.add_argument("--configs", nargs="+", default=["default"])
    p.add_argument("--exclude-seen", action="store_true")
    p.add_argument("--min-item-count", type=int, default=1)
    p.add_argument("--base", nargs="*", default=[], help="KEY=V applied to every configuration")
    p.add_argument("--seeds", type=int, nargs="+", default=[42])
    p.add_argument("--out", default=None)
    a = p.parse_args()
    torch.set_num_threads(2)
    from seqrec import PRESETS, Filters

    data = load_interactions(a.data, filters=Filters(min_item_count=a.min_item_count))
    split = leave_last_out(data)
    fitted = fit_baselines(split)
    test_b = evaluate_baselines(split, (20,), a.exclude_seen, "test", fitted)
    valid_b = evaluate_baselines(split, (20,), a.exclude_seen, "valid", fitted)
    tv = valid_b["item_transitions"]
    base = {k: parse_value(v) for k, v in (kv.split("=", 1) for kv in a.base)}
    head = dict(data=os.path.basename(a.data), users=len(split.users), items=split.n_items,
                load_at_start=round(os.getloadavg()[0], 2))
    print(json.dumps({**head, "baselines_test": {n: {m: round(v[m], 4) for m in ("recall@20", "mrr@20")}
                                                  for n, v in test_b.items()},
                      "transitions_valid": {m: round(tv[m], 4) for m in ("recall@20", "mrr@20")}}), flush=True)
    rows = []
    for name in a.configs:
        over = CONFIGS[name]
        over = dict(PRESETS[over]) if isinstance(over, str) else dict(over)
        for seed in a.seeds:
            cfg = TrainConfig(**{**over, **base, "seed": seed, "exclude_seen": a.exclude_seen}).validate()
            load0 = os.getloadavg()[0]
            t0 = time.perf_counter()
            res = train(split, cfg)
            secs = time.perf_counter() - t0
            test = evaluate_model(res.model, split, "test", cfg)
            reach = next((e["elapsed"] for e in res.epochs if e["recall@20"] >= tv["recall@20"]
                          and e["mrr@20"] >= tv["mrr@20"]), None)
            r30 = next((e["elapsed"] for e in res.epochs if e["recall@20"] >= 0.30), None)
            row = dict(**head, config=name, seed=seed, overrides={**over, **base},
                       test_recall=round(test["recall@20"], 4), test_mrr=round(test["mrr@20"], 4),
                       valid_recall=round(res.best_valid.get("recall@20", 0), 4),
                       valid_mrr=round(res.best_valid.get("mrr@20", 0), 4), epochs=res.epochs_run,
                       best_epoch=res.best_epoch, s_per_epoch=round(secs / max(1, res.epochs_run), 2),
                       train_s=round(secs, 1), reach_transitions_valid_s=reach and round(reach, 1),
                       valid_r30_s=r30 and round(r30, 1), stop=res.stop_reason,
                       load=f"{load0:.1f}-{os.getloadavg()[0]:.1f}")
            rows.append(row)
            print(json.dumps(row), flush=True)
            if a.out:
                with open(a.out, "a") as f:
                    f.write(json.dumps(row) + "\n")
    print("\n| data | config | seed | test R@20 | test MRR@20 | valid R@20 | valid MRR@20 | epochs (best) | s/epoch "
          "| train s | valid >= transitions at s | load |\n|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['data']} | {r['config']} | {r['seed']} | {r['test_recall']:.3f} | {r['test_mrr']:.3f} | "
              f"{r['valid_recall']:.3f} | {r['valid_mrr']:.3f} | {r['epochs']} ({r['best_epoch']}) | "
              f"{r['s_per_epoch']} | {r['train_s']} | {r['reach_transitions_valid_s']} | {r['load']} |")


if __name__ == "__main__":
    main()
