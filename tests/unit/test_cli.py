"""`python -m seqrec` as a user runs it: one JSON object on stdout, and for any bad input exit code 2 with one
`error: ...` line on stderr and no traceback."""
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from seqrec import load_interactions
from seqrec.data.fingerprint import interactions_fingerprint

REQUIRED_METRICS = {"recall@10", "recall@20", "mrr@10", "mrr@20", "ndcg@10", "ndcg@20", "coverage@20"}
FAST_TRAIN = ["--model", "gru", "--epochs", "2", "--hidden-size", "16", "--embedding-dim", "16", "--batch-size",
              "128", "--lr", "0.01", "--seed", "3"]
GOOD_HEADER = b"user_id,item_id,timestamp\n"


def seqrec(repo_root, *args, threads=1, timeout=300):
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OMP_WAIT_POLICY": "PASSIVE"}
    return subprocess.run([sys.executable, "-m", "seqrec", *map(str, args)], cwd=repo_root, env=env,
                          capture_output=True, text=True, timeout=timeout)


def run_many(repo_root, commands: dict) -> dict:
    """Start the CLI for each command concurrently (each start pays for importing torch)."""
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures = {key: pool.submit(seqrec, repo_root, *args) for key, args in commands.items()}
        return {key: f.result() for key, f in futures.items()}


def one_json_object(stdout: str) -> dict:
    obj = json.loads(stdout)  # fails on anything before or after the one object
    assert isinstance(obj, dict)
    return obj


@pytest.fixture(scope="module")
def small_csv(sample_csv, tmp_path_factory):
    """About 500 shoppers of the sample: the CLI trains on it in a few seconds."""
    path = tmp_path_factory.mktemp("cli") / "small.csv"
    path.write_text("\n".join(sample_csv.read_text().splitlines()[:8001]) + "\n")
    return path


@pytest.fixture(scope="module")
def trained(repo_root, small_csv, tmp_path_factory):
    """One CLI training with --save (progress bar on: it must stay on stderr)."""
    run_dir = tmp_path_factory.mktemp("cli") / "run"
    proc = seqrec(repo_root, "train", small_csv, *FAST_TRAIN, "--save", run_dir, threads=2)
    assert proc.returncode == 0, proc.stderr
    return run_dir, one_json_object(proc.stdout), proc


def test_train_prints_one_json_summary_and_saves(trained, small_csv):
    run_dir, out, proc = trained
    assert out["model"] == "gru"
    assert out["config"]["hidden_size"] == 16 and out["config"]["epochs"] == 2 and out["config"]["seed"] == 3
    # dropout was left automatic: the run records the value it took (the sample's shoppers rarely repeat an item)
    assert out["config"]["dropout"] == 0.5
    data = load_interactions(small_csv)
    assert out["dataset"] == {"users": data.n_users, "items": data.n_items, "interactions": len(data),
                              "name": "small.csv", "fingerprint": interactions_fingerprint(data)}
    assert REQUIRED_METRICS <= set(out["metrics"])
    assert all(0.0 <= v <= 1.0 for v in out["metrics"].values())
    assert list(out["baselines"]) == ["most_popular", "item_transitions", "repeat", "item_knn", "session_knn"]
    for name, m in out["baselines"].items():
        assert set(m) == set(out["metrics"]), name
    # intervals, the comparison with the best baseline, the order check and metrics by history length
    for key, (lo, hi) in out["metrics_ci95"].items():
        assert lo <= out["metrics"][key] <= hi, key
    assert set(out["metrics_ci95"]) == {f"{m}@{k}" for m in ("recall", "mrr", "ndcg") for k in (10, 20)}
    assert set(out["baselines_ci95"]) == set(out["baselines"])
    comp = out["comparison"]
    assert comp["baseline"] == max(out["baselines"], key=lambda n: out["baselines"][n]["recall@20"])
    assert comp["metric"] == "recall@20" and comp["ci95"][0] <= comp["difference"] <= comp["ci95"][1]
    assert comp["difference"] == pytest.approx(out["metrics"]["recall@20"] -
                                               out["baselines"][comp["baseline"]]["recall@20"], abs=1e-6)
    assert comp["verdict"] == ("better" if comp["ci95"][0] > 0 else "worse" if comp["ci95"][1] < 0 else
                               "no clear difference")
    # and on MRR and NDCG too, each against its own best baseline ("beats on both Recall@20 and MRR@20")
    assert set(out["comparisons"]) == {"recall@20", "mrr@20", "ndcg@20"} and out["comparisons"]["recall@20"] == comp
    mrr = out["comparisons"]["mrr@20"]
    assert mrr["baseline"] == max(out["baselines"], key=lambda n: out["baselines"][n]["mrr@20"])
    assert mrr["difference"] == pytest.approx(out["metrics"]["mrr@20"] - out["baselines"][mrr["baseline"]]["mrr@20"],
                                              abs=1e-6)
    assert mrr["ci95"][0] <= mrr["difference"] <= mrr["ci95"][1]
    assert set(out["order_check"]) >= {"recall@20", "mrr@20", "order_matters", "sentence"}
    assert out["order_check"]["recall@20"]["ci95"][0] <= out["order_check"]["recall@20"]["drop"]
    buckets = out["by_history_length"]
    assert set(buckets) <= {"1-5", "6-20", "21-50", "51+"} and sum(b["users"] for b in buckets.values()) == \
        out["dataset"]["users"]
    assert all(set(b) >= {"users", "model", "item_knn"} for b in buckets.values())
    assert out["epochs_run"] == 2
    assert out["train_seconds"] > 0 and out["sequences_per_second"] > 0
    assert sorted(p.name for p in run_dir.iterdir()) == ["config.json", "run.json", "vocab.json",
                                                          "weights.safetensors"]
    assert "Traceback" not in proc.stderr and "epoch 2/2" in proc.stderr  # progress went to stderr


@pytest.fixture(scope="module")
def after_training(repo_root, trained, small_csv):
    """Recommend / stats / evaluate on the trained run, started together."""
    run_dir, out, _ = trained
    return run_many(repo_root, {
        "recommend": ["recommend", run_dir, "--history", "P0051", "NO-SUCH-ITEM", "P0127", "--k", "5"],
        "all": ["recommend", run_dir, "--history", "P0051", "P0127", "--k", "1000"],
        "all_excluded": ["recommend", run_dir, "--history", "P0051", "P0127", "--k", "1000", "--exclude-seen"],
        "stats": ["stats", small_csv],
        "evaluate": ["evaluate", run_dir, small_csv],
    })


@pytest.mark.slow  # after_training: five real `python -m seqrec` processes, ~18 s on 2 cores
def test_recommend_gives_k_items_and_lists_unknown_ones(after_training):
    proc = after_training["recommend"]
    assert proc.returncode == 0, proc.stderr
    out = one_json_object(proc.stdout)
    assert len(out["recommendations"]) == 5
    assert all(set(r) == {"item", "score"} for r in out["recommendations"])
    assert out["unknown_items"] == ["NO-SUCH-ITEM"]


@pytest.mark.slow  # after_training: five real `python -m seqrec` processes, ~18 s on 2 cores
def test_recommend_exclude_seen_removes_history_items(after_training, small_csv):
    n_items = load_interactions(small_csv).n_items
    plain = [r["item"] for r in one_json_object(after_training["all"].stdout)["recommendations"]]
    masked = [r["item"] for r in one_json_object(after_training["all_excluded"].stdout)["recommendations"]]
    assert len(plain) == n_items and {"P0051", "P0127"} <= set(plain)
    assert len(masked) == n_items - 2 and not {"P0051", "P0127"} & set(masked)


@pytest.mark.slow  # after_training: five real `python -m seqrec` processes, ~18 s on 2 cores
def test_stats_prints_dataset_numbers(after_training, small_csv):
    proc = after_training["stats"]
    assert proc.returncode == 0, proc.stderr
    out = one_json_object(proc.stdout)
    data = load_interactions(small_csv)
    assert (out["users"], out["items"], out["interactions"]) == (data.n_users, data.n_items, len(data))
    assert out["sequence_length"]["min"] >= 3


@pytest.mark.slow  # after_training: five real `python -m seqrec` processes, ~18 s on 2 cores
def test_evaluate_on_the_training_file_reproduces_the_training_metrics(after_training, trained):
    proc = after_training["evaluate"]
    assert proc.returncode == 0, proc.stderr
    out = one_json_object(proc.stdout)
    assert out["metrics"] == trained[1]["metrics"]
    assert out["baselines"] == trained[1]["baselines"]
    assert out["metrics_ci95"] == trained[1]["metrics_ci95"] and out["comparison"] == trained[1]["comparison"]


def test_train_with_several_seeds_trains_each_through_the_executor(small_csv, monkeypatch, capsys):
    """Every training the CLI starts goes through the process's executor, each of --seeds included."""
    from seqrec.cli import main
    from seqrec.service import executor as executor_module
    from seqrec.training.executors import ThreadExecutor

    class Recording:  # trains in this process (fast), recording what was submitted to it
        name = "local"

        def __init__(self):
            self.submitted = []

        def submit(self, split, config, **opts):
            self.submitted.append((config.seed, opts.get("name"), sorted(opts.get("baselines") or {})))
            return ThreadExecutor().submit(split, config, **opts)

    rec = Recording()
    monkeypatch.setattr(executor_module, "get_executor", lambda ray_address=None: rec)
    args = [a for a in FAST_TRAIN if a not in ("--seed", "3")]
    assert main(["train", str(small_csv), *args, "--epochs", "1", "--seeds", "4", "5", "--quiet", "--name", "s",
                 "--cpus", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(seed, name) for seed, name, _ in rec.submitted] == [(4, "s (seed 4)"), (5, "s (seed 5)")]
    assert all(b for _, _, b in rec.submitted), "the baselines are scored once and passed to every seed's training"
    assert out["executor"] == "local" and out["config"]["cpus"] == 1 and out["threads"] >= 1
    assert [p["seed"] for p in out["seeds"]["per_seed"]] == [4, 5]


@pytest.mark.process
def test_train_with_several_seeds_reports_mean_and_spread(repo_root, small_csv, tmp_path, worker_processes):
    args = [a for a in FAST_TRAIN if a not in ("--seed", "3")]
    proc = seqrec(repo_root, "train", small_csv, *args, "--epochs", "1", "--seeds", "0", "1", "--quiet",
                  "--save", tmp_path / "run", "--cpus", "1", threads=2)
    assert proc.returncode == 0, proc.stderr
    out = one_json_object(proc.stdout)
    seeds = out["seeds"]
    assert seeds["values"] == [0, 1] and [p["seed"] for p in seeds["per_seed"]] == [0, 1]
    # each seed trained in a worker process with the config's 1 thread (in this process it would have had 2)
    assert out["executor"] == "local" and out["threads"] == 1 and [p["threads"] for p in seeds["per_seed"]] == [1, 1]
    saved = json.loads((tmp_path / "run" / "run.json").read_text())
    assert (saved["executor"], saved["threads"]) == ("local", 1)
    assert out["config"]["seed"] == 0 and out["metrics"] == seeds["per_seed"][0]["metrics"]
    r = [p["metrics"]["recall@20"] for p in seeds["per_seed"]]
    assert seeds["mean"]["recall@20"] == pytest.approx(sum(r) / 2, abs=1e-6)
    assert seeds["std"]["recall@20"] == pytest.approx(abs(r[0] - r[1]) / 2 ** 0.5, abs=1e-6)
    assert "metrics_ci95" in out and "comparison" in out
    assert json.loads((tmp_path / "run" / "config.json").read_text())["seed"] == 0
    for bad, words in ((["--seeds", "1", "1"], "each seed must be different"),
                       (["--seeds", "1", "--seed", "2"], "either --seed")):
        proc = seqrec(repo_root, "train", small_csv, *bad)
        assert proc.returncode == 2 and proc.stderr.startswith("error: ") and words in proc.stderr
        assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1


# ------------------------------------------------------------------------------------------------------------------
# Bad input: exit 2, one `error:` line, no traceback
# ------------------------------------------------------------------------------------------------------------------

def _bad_files(folder):
    files = {
        "empty.csv": b"",
        "blank.csv": b" \n\n  \n",
        "header_only.csv": GOOD_HEADER,
        "no_time.csv": b"user_id,item_id\nu1,a\nu1,b\nu1,c\nu2,a\nu2,b\nu2,c\n",
        "latin1.csv": GOOD_HEADER + b",caf\xe9,1\n,b,2\n,c,3\n,a,1\n,b,2\n,c,3\n",  # decoded; no users
        "zipped.csv": b"PK\x03\x04" + bytes(200),
        "too_many.csv": GOOD_HEADER + b"u1,a,1\nu1,b,2\nu1,c,3,4\nu2,a,1\nu2,b,2\nu2,c,3\n",
        "bad_time.csv": GOOD_HEADER + b"u1,a,1\nu1,b,later\nu1,c,3\nu2,a,1\nu2,b,2\nu2,c,3\n",
        "empty_user.csv": GOOD_HEADER + b"u1,a,1\n,b,2\nu1,c,3\nu2,a,1\nu2,b,2\nu2,c,3\n",
        "one_user.csv": GOOD_HEADER + b"u1,a,1\nu1,b,2\nu1,c,3\n",
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)


# case -> (arguments, words the error line must contain); "{bad}" is the folder of bad files, "{run}" a tampered run
BAD_INPUTS = {
    "empty file": (["train", "{bad}/empty.csv"], ["empty.csv", "empty"]),
    "whitespace file": (["stats", "{bad}/blank.csv"], ["blank.csv", "empty"]),
    "header only": (["train", "{bad}/header_only.csv"], ["no data rows"]),
    "no time column": (["train", "{bad}/no_time.csv"], ["no time column", "--time-col"]),
    "unknown column": (["stats", "{good}", "--time-col", "when"], ["'when' is not in the file"]),
    "latin-1": (["train", "{bad}/latin1.csv"], ["user column 'user_id' is empty on every row"]),
    "zip": (["train", "{bad}/zipped.csv"], ["zip archive"]),
    "too many fields": (["train", "{bad}/too_many.csv"], ["line 4", "4 fields"]),
    "bad timestamps": (["train", "{bad}/bad_time.csv"], ["'later'", "line 3", "1 value(s)"]),
    "empty user": (["stats", "{bad}/empty_user.csv"], ["at least 2 users", "1 of 6 rows", "empty 'user_id'"]),
    "too few users": (["stats", "{bad}/one_user.csv"], ["at least 2 users"]),
    "missing file": (["train", "{bad}/nope.csv"], ["File not found", "nope.csv"]),
    "hidden size 0": (["train", "{good}", "--hidden-size", "0"], ["hidden size", "(got 0)"]),
    "dropout 1.5": (["train", "{good}", "--dropout", "1.5", "--lr", "-1"], ["dropout", "1.5", "lr"]),
    "epochs abc": (["train", "{good}", "--epochs", "abc"], ["--epochs", "'abc'", "--help"]),
    "dropout abc": (["train", "{good}", "--dropout", "abc"], ["--dropout", "number or auto", "'abc'"]),
    "bad model": (["train", "{good}", "--model", "transformer"], ["--model", "transformer"]),
    "bad filter": (["stats", "{good}", "--min-user-interactions", "1"], ["at least 3"]),
    "bad device": (["train", "{good}", "--device", "banana", "--epochs", "1"], ["device", "banana"]),
    "negative cpus": (["train", "{good}", "--cpus", "-1"], ["cpus must be a whole number between 0 and 256",
                                                             "(got -1)"]),
    "no data given": (["train"], ["required"]),
    "unknown command": (["fly"], ["invalid choice", "fly"]),
    "tampered run": (["recommend", "{run}", "--history", "P0051"], ["weights.safetensors", "damaged"]),
    "not a run dir": (["recommend", "{bad}", "--history", "P0051"], ["not a complete saved run"]),
    "bad k": (["recommend", "{clean_run}", "--history", "P0051", "--k", "0"], ["k must be"]),
}


@pytest.fixture(scope="module")
def bad_results(repo_root, trained, small_csv, tmp_path_factory):
    bad = tmp_path_factory.mktemp("bad")
    _bad_files(bad)
    run_dir = trained[0]
    tampered = tmp_path_factory.mktemp("tampered") / "run"
    shutil.copytree(run_dir, tampered)
    w = tampered / "weights.safetensors"
    w.write_bytes(w.read_bytes()[:100])
    fill = dict(bad=bad, good=small_csv, run=tampered, clean_run=run_dir)
    commands = {case: [a.format(**fill) for a in args] for case, (args, _) in BAD_INPUTS.items()}
    return run_many(repo_root, commands)


@pytest.mark.parametrize("case", list(BAD_INPUTS))
@pytest.mark.slow  # one real `python -m seqrec` per case, ~25 s on 2 cores (the corpus runs in-process in
# tests/unit/data/test_bad_inputs.py in the fast tier)
def test_bad_input_exits_2_with_one_error_line(bad_results, case):
    proc = bad_results[case]
    assert proc.returncode == 2, (case, proc.returncode, proc.stderr)
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    for w in BAD_INPUTS[case][1]:
        assert w in lines[0], (case, lines[0])


# ------------------------------------------------------------------------------------------------------------------
# --help
# ------------------------------------------------------------------------------------------------------------------

HELP_MENTIONS = {
    None: ["train", "evaluate", "recommend", "stats", "gates"],
    # every flag `train --help` listed before its settings options were generated from TrainConfig
    "train": ["--model", "--hidden-size", "--embedding-dim", "--layers", "--dropout", "--lr", "--weight-decay",
              "--epochs", "--batch-size", "--max-len", "--grad-clip", "--patience", "--max-minutes", "--cpus", "--loss",
              "--negatives", "--seed", "--k", "--exclude-seen", "--config", "--save", "--store", "--publish",
              "--name", "--device", "--quiet", "--user-col", "--item-col", "--time-col", "--event-col",
              "--rating-col", "--min-user-interactions", "--min-item-count", "--max-events-per-user",
              "--remove-repeats", "--event-types", "--min-rating", "default"],
    "evaluate": ["RUN_DIR", "DATA.csv", "--exclude-seen", "--user-col"],
    "recommend": ["RUN_DIR", "--history", "--k", "--exclude-seen"],
    "stats": ["DATA.csv", "--time-col", "--min-user-interactions", "--min-item-count"],
    "gates": ["RUN_DIR", "--history", "--top-units"],
}


@pytest.fixture(scope="module")
def help_results(repo_root):
    return run_many(repo_root, {cmd: ([cmd] if cmd else []) + ["--help"] for cmd in HELP_MENTIONS})


@pytest.mark.parametrize("command", list(HELP_MENTIONS))
def test_help_documents_the_options(help_results, command):
    proc = help_results[command]
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage:")
    for option in HELP_MENTIONS[command]:
        assert option in proc.stdout, (command, option)
