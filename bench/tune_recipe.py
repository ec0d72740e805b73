"""Issue 15, round 3: train one configuration on one file with 1 torch thread (OMP_WAIT_POLICY=PASSIVE), usually a
fixed number of epochs (patience=0, no time limit: the result does not depend on machine load), print the per-epoch
validation curve on stderr and one JSON row (test/validation Recall@20 and MRR@20 at the best validation epoch, epochs,
wall and CPU seconds, load average before/after) on stdout, appended to --out.

    python bench/tune_recipe.py DATA.csv NAME [--exclude-seen] [--seed S] KEY=V ... [--hack KEY=V ...]
    python bench/tune_recipe.py /tmp/ml.csv len50 --exclude-seen epochs=25 patience=0 max_len=50

KEY=V: TrainConfig fields (max_minutes defaults to 0 here). DATA may be sample:retail / sample:synthetic.
--hack: exploration-only monkeypatches, not library options: in_drop=P / out_drop=P (dropout on the input embedding /
after each recurrent layer instead of `dropout` on both); seen_mask=1 (full softmax that, like --exclude-seen at
evaluation, never ranks the items already in the prefix).
"""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import torch
from tune_defaults import parse_value  # bench/ is on the path when a bench script runs

from seqrec import Filters, TrainConfig, leave_last_out, load_interactions
from seqrec.evaluation.protocol import evaluate_model
from seqrec.model import recurrent
from seqrec.training import loop

torch.set_num_threads(1)
p = argparse.ArgumentParser()
p.add_argument("data")
p.add_argument("name")
p.add_argument("kv", nargs="*")
p.add_argument("--exclude-seen", action="store_true")
p.add_argument("--seed", type=int, default=0)
p.add_argument("--hack", nargs="*", default=[])
p.add_argument("--out", default="tune_recipe.jsonl")
a = p.parse_intermixed_args()
hack = {k: parse_value(v) for k, v in (h.split("=", 1) for h in a.hack)}
if "in_drop" in hack or "out_drop" in hack:
    pin, pout = hack.get("in_drop"), hack.get("out_drop")
    def hidden_states(self, items):
        p = self.config.dropout
        x = recurrent.seeded_dropout(self.embedding(items), p if pin is None else pin, self.training, self.generator)
        for cell in self.cells:
            x, _ = cell(x)
            x = recurrent.seeded_dropout(x, p if pout is None else pout, self.training, self.generator)
        return self.head(x)
    recurrent.SeqRecModel.hidden_states = hidden_states
if hack.get("seen_mask"):
    import torch.nn.functional as F
    def batch_loss_backward(model, seq, n_items, sampler=None):
        inp, targets = seq[:, :-1], seq[:, 1:]
        real = targets > 0
        B, T = inp.shape
        oh = torch.zeros(B, T, n_items + 1, dtype=torch.float32)
        oh.scatter_(2, inp.unsqueeze(2), 1.0)
        seen = oh.cumsum(1)[real] > 0  # (tokens, N+1)
        hidden = model.hidden_states(inp)[real]
        tg = targets[real]
        n = int(tg.numel())
        logits = model.output(hidden)
        seen[torch.arange(n), tg] = False
        seen[:, 0] = True
        logits = logits.masked_fill(seen, -1e9)
        loss = F.cross_entropy(logits, tg, reduction="sum")
        (loss / n).backward()
        return loss.detach() / n, n
    loop.batch_loss_backward = batch_loss_backward
data = a.data
if data.startswith("sample:"):
    from seqrec.data.samples import sample_named
    data = str(sample_named(data.split(":")[1]).interactions)
data = load_interactions(data, filters=Filters(min_item_count=1) if a.exclude_seen else Filters())
split = leave_last_out(data)
kv = {k: parse_value(v) for k, v in (x.split("=", 1) for x in a.kv)}
cfg = TrainConfig(**{"max_minutes": 0, **kv, "seed": a.seed, "exclude_seen": a.exclude_seen}).validate()
class CB:
    def on_epoch(self, info):
        v = info.valid
        print(f"ep {info.epoch} loss {info.train_loss:.3f} vR {v['recall@20']:.4f} vM {v['mrr@20']:.4f} "
              f"t {info.elapsed:.0f}", file=sys.stderr, flush=True)
l0 = os.getloadavg()
c0 = time.process_time()
t0 = time.perf_counter()
res = loop.train(split, cfg, [CB()])
secs = time.perf_counter() - t0
cpu = time.process_time() - c0
test = evaluate_model(res.model, split, "test", cfg)
r30 = next((e["elapsed"] for e in res.epochs if e["recall@20"] >= 0.30), None)
row = dict(data=os.path.basename(a.data), name=a.name, seed=a.seed, kv=kv, hack=hack, users=len(split.users),
           items=split.n_items,
           test_r=round(test["recall@20"], 4), test_m=round(test["mrr@20"], 4), test_n=round(test["ndcg@20"], 4),
           valid_r=round(res.best_valid["recall@20"], 4), valid_m=round(res.best_valid["mrr@20"], 4),
           epochs=res.epochs_run, best=res.best_epoch, secs=round(secs, 1), cpu_s=round(cpu, 1),
           s_ep=round(secs / res.epochs_run, 2),
           valid_r30_s=r30 and round(r30, 1), stop=res.stop_reason, load=f"{l0[0]:.1f}-{os.getloadavg()[0]:.1f}",
           curve=[(e["epoch"], round(e["recall@20"], 4), round(e["mrr@20"], 4), round(e["elapsed"], 1))
                  for e in res.epochs])
print(json.dumps({k: v for k, v in row.items() if k != "curve"}), flush=True)
with open(a.out, "a") as f:
    f.write(json.dumps(row) + "\n")
