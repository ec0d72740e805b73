"""Tune (seqrec.training.tune and `python -m seqrec tune`): equal-budget Optuna search per cell, selection on
validation, failed trials recorded, seeded sampling, Stop keeps what was found, the CLI's JSON and its bad input."""
import json
import os
import subprocess
import sys

import pytest

from seqrec import TrainConfig
from seqrec.config import SETTINGS
from seqrec.errors import SeqrecError
from seqrec.training import tune
from seqrec.training.executors import LocalExecutor, ThreadExecutor
from seqrec.training.tune import Tuner, parse_space, search_space

TINY = TrainConfig(epochs=2, patience=0, seed=1)
SPACE = {"hidden_size": (16, 48), "embedding_dim": (16, 32), "max_len": (20, 40), "batch_size": (64, 256)}


def tiny_tuner(split, **kw):
    args = dict(cells=["rnn", "gru"], budget_seconds=600, trials=3, seed=7, base=TINY, space=SPACE,
                executor=ThreadExecutor(), parallel=1)
    args.update(kw)
    return Tuner(split, **args)


def test_search_space_comes_from_the_config_metadata_and_can_be_narrowed():
    space = search_space()
    assert set(space) == {"embedding_dim", "hidden_size", "dropout", "lr", "batch_size", "max_len"}
    assert (space["lr"].lo, space["lr"].hi, space["lr"].log) == (1e-4, 3e-2, True)
    assert (space["dropout"].lo, space["dropout"].hi, space["dropout"].log) == (0.0, 0.6, False)
    for name, r in space.items():  # every default range lies inside what the field allows
        assert SETTINGS[name].problem(r.lo) is None and SETTINGS[name].problem(r.hi) is None
    narrowed = search_space({"lr": (1e-3, 1e-2), "hidden_size": 64})
    assert (narrowed["lr"].lo, narrowed["lr"].hi) == (1e-3, 1e-2)
    assert narrowed["hidden_size"].fixed and narrowed["hidden_size"].lo == 64
    assert parse_space(["lr=0.001:0.01", "hidden_size=64"]) == {"lr": (0.001, 0.01), "hidden_size": (64, 64)}


@pytest.mark.parametrize("narrow, words", [
    ({"layers": (1, 2)}, "cannot be searched"),
    ({"lr": (0, 0.01)}, "lr must be a number"),
    ({"hidden_size": (64, 16)}, "is empty"),
    ({"hidden_size": (16.5, 32)}, "whole numbers"),
    ({"dropout": (0.1, 0.95)}, "dropout must be a number"),
])
def test_a_bad_search_range_is_one_sentence(narrow, words):
    with pytest.raises(SeqrecError, match=words):
        search_space(narrow)


def test_bad_tuner_settings_are_refused(small_dataset):
    split = small_dataset.split
    for kw, words in [(dict(cells=["cnn"]), "Choose the cells"), (dict(budget_seconds=0), "time budget"),
                      (dict(trials=0), "number of trials"), (dict(metric="hit@20"), "metric to optimise"),
                      (dict(metric="recall@50"), "metric to optimise"), (dict(seed=-1), "seed")]:
        with pytest.raises(SeqrecError, match=words):
            tiny_tuner(split, **kw)


@pytest.fixture(scope="module")
def tiny_result(small_dataset):
    tuner = tiny_tuner(small_dataset.split)
    return tuner, tuner.run()


def test_each_cell_gets_its_trials_and_a_best_chosen_on_validation(tiny_result):
    tuner, result = tiny_result
    assert [t.cell for t in result.trials] == ["rnn"] * 3 + ["gru"] * 3
    assert set(result.best) == {"rnn", "gru"}
    for cell, best in result.best.items():
        done = [t for t in result.trials if t.cell == cell and t.value is not None and t.state != "pruned"]
        winner = max(done, key=lambda t: t.value)
        assert best.trial == winner.number and best.valid[result.metric] == pytest.approx(winner.value)
        for name, value in winner.params.items():  # the best config is that trial's config
            assert getattr(best.config, name) == pytest.approx(value)
        assert best.config.model == cell
        # the test metrics (computed once at the end) carry 95% intervals around them
        for key, (lo, hi) in best.intervals.items():
            assert lo <= best.metrics[key] + 1e-9 and best.metrics[key] <= hi + 1e-9
        assert best.run is not None and best.run.metrics == best.metrics and best.run.baselines
    # the first trial of each cell is the defaults (clipped to the space): a search never ends below them
    first = result.trials[0].params
    assert first["dropout"] == 0.5 and first["lr"] == 0.005 and first["hidden_size"] == 48
    # pruning is fed by the per-epoch validation metric
    study = result.studies["gru"]
    assert all(len(t.intermediate_values) >= 1 for t in study.trials if t.state.name == "COMPLETE")


def test_cells_are_ranked_on_the_test_users_with_paired_intervals(tiny_result):
    """With the same budget per cell, the ranking of the cells is reported with intervals: best first,
    the others with the paired interval of their difference from it (same test users), in the JSON and in words."""
    from seqrec.evaluation.intervals import paired_difference
    from studio.tune import ranking_sentence

    _, result = tiny_result
    ranking = result.ranking()
    key = result.metric
    assert [r["cell"] for r in ranking] == sorted(result.best, key=lambda c: -result.best[c].metrics[key])
    first, second = ranking
    assert "vs_first" not in first and first["ci95"] == result.best[first["cell"]].intervals[key]
    d = paired_difference(result.best[second["cell"]].per_user[key], result.best[first["cell"]].per_user[key])
    assert second["vs_first"]["difference"] == pytest.approx(d.estimate, abs=1e-6) and d.estimate <= 0
    assert second["vs_first"]["ci95"] == pytest.approx([d.lo, d.hi], abs=1e-6)
    assert second["vs_first"]["verdict"] in ("worse", "no clear difference")
    assert result.to_dict()["ranking"] == ranking
    words = ranking_sentence(result)
    assert words.startswith("Same budget for every cell") and first["cell"].upper() in words and "95% interval" in words


def test_the_result_is_one_json_object_without_test_metrics_of_other_trials(tiny_result):
    _, result = tiny_result
    d = json.loads(json.dumps(result.to_dict()))
    assert set(d) >= {"trials", "best", "budget_seconds"} and d["budget_seconds"] == 600
    assert set(d["best"]["gru"]) >= {"config", "valid", "metrics", "intervals"}
    assert all("metrics" not in t for t in d["trials"])  # selection on validation only


def test_seeded_search_samples_the_same_configs(small_dataset, tiny_result):
    _, first = tiny_result
    again = tiny_tuner(small_dataset.split, cells=["rnn"]).run()
    assert [t.params for t in again.trials] == [t.params for t in first.trials if t.cell == "rnn"]
    other = tiny_tuner(small_dataset.split, cells=["rnn"], seed=8).run()
    assert [t.params for t in other.trials][1:] != [t.params for t in again.trials][1:]


def test_a_failing_trial_is_recorded_and_the_search_goes_on(small_dataset, monkeypatch):
    import seqrec.training.runner as run_module

    real = run_module.check_training_memory

    def refuse_big(split, config, *a, **kw):
        if config.hidden_size > 32:
            raise SeqrecError(f"This training would need too much memory (hidden {config.hidden_size}).")
        return real(split, config, *a, **kw)

    monkeypatch.setattr(run_module, "check_training_memory", refuse_big)
    result = tiny_tuner(small_dataset.split, cells=["gru"], trials=4).run()
    assert len(result.trials) == 4
    failed = [t for t in result.trials if t.state == "failed"]
    assert failed and result.trials[0] in failed  # the defaults (hidden 48) are refused
    assert all("too much memory" in t.reason and t.value is None for t in failed)
    if any(t.params["hidden_size"] <= 32 for t in result.trials):
        assert "gru" in result.best and result.best["gru"].config.hidden_size <= 32


def test_stop_keeps_what_was_found(small_dataset):
    def stop_after_first(rec):
        if rec.state == "complete":
            tuner.stop()

    tuner = tiny_tuner(small_dataset.split, trials=5, on_trial=stop_after_first)
    result = tuner.run()
    assert result.stopped and len(result.trials) == 1 and set(result.best) == {"rnn"}


def test_the_time_budget_bounds_the_search(small_dataset):
    result = tiny_tuner(small_dataset.split, cells=["gru"], trials=None, budget_seconds=4,
                        base=TINY.replace(epochs=1000, patience=0)).run()
    assert result.seconds < 4 + tune.GRACE_SECONDS + 10  # a trial's own time limit ends it at the deadline
    assert result.trials and result.trials[0].reason.startswith("time limit")


@pytest.mark.process
def test_trials_run_through_the_process_executor(small_dataset):
    result = tiny_tuner(small_dataset.split, cells=["gru"], trials=2, executor=LocalExecutor(), parallel=None).run()
    assert [t.state for t in result.trials] == ["complete", "complete"] and "gru" in result.best
    assert result.best["gru"].run.executor == "local"


# ---- the CLI --------------------------------------------------------------------------------------------------------

def seqrec_cli(repo_root, *args, timeout=300):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE", "SEQREC_EXECUTOR": "thread"}
    return subprocess.run([sys.executable, "-m", "seqrec", "tune", *map(str, args)], cwd=repo_root, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def small_csv(tmp_path_factory, sample_csv):
    import pandas as pd

    df = pd.read_csv(sample_csv, dtype=str)
    path = tmp_path_factory.mktemp("tune") / "small.csv"
    df[df.user_id.isin(df.user_id.unique()[:120])].to_csv(path, index=False)
    return path


@pytest.mark.slow  # a real `python -m seqrec tune` search: ~8 s on 2 cores
def test_cli_prints_trials_and_the_best_per_cell(repo_root, small_csv, tmp_path):
    p = seqrec_cli(repo_root, small_csv, "--models", "rnn", "gru", "--budget-minutes", "2", "--trials", "2",
                   "--max-epochs", "2", "--seed", "3", "--space", "hidden_size=16:32", "embedding_dim=16:24",
                   "max_len=20:30", "--save-best", tmp_path / "best")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert len(d["trials"]) == 4 and d["budget_seconds"] == 120 and set(d["best"]) == {"rnn", "gru"}
    for cell, best in d["best"].items():
        assert best["config"]["model"] == cell and 16 <= best["config"]["hidden_size"] <= 32
        assert 0 <= best["valid"]["recall@20"] <= 1 and 0 <= best["metrics"]["recall@20"] <= 1
        assert (tmp_path / "best" / cell / "config.json").exists()
    assert "gru trial 1:" in p.stderr  # progress on stderr


@pytest.mark.parametrize("args, words", [
    (["--budget-minutes", "0"], "--budget-minutes"),
    (["--budget-minutes", "1", "--trials", "0"], "--trials"),
    (["--budget-minutes", "1", "--models", "cnn"], "invalid choice"),
    (["--budget-minutes", "1", "--space", "lr=0:0.1"], "lr must be a number"),
    (["--budget-minutes", "1", "--space", "lr"], "NAME=LO:HI"),
    (["--budget-minutes", "1", "--metric", "hit@20"], "metric"),
    (["--trials", "2"], "budget-minutes"),
])
def test_cli_bad_input_is_exit_2_and_one_line(repo_root, small_csv, args, words):
    p = seqrec_cli(repo_root, small_csv, *args, timeout=120)
    assert p.returncode == 2 and p.stdout == ""
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], p.stderr
    assert "Traceback" not in p.stderr


def test_trials_in_flight_follow_the_executors_share_of_the_cores():
    assert tune.default_parallel(LocalExecutor(cores=2)) == 1  # 2 cores: one trial with both
    assert tune.default_parallel(LocalExecutor(cores=3)) == 1
    assert tune.default_parallel(LocalExecutor(cores=16)) == 8  # 2 threads each
    assert tune.default_parallel(ThreadExecutor()) == 1  # in the calling thread: one at a time


def test_a_pruned_trial_stops_early_is_recorded_and_never_chosen(small_dataset, monkeypatch):
    """Pruning forced from the second trial on (a pruner that says yes at the first report): the trial stops after
    its first epoch instead of its four, is recorded as pruned with its reason, Optuna sees it as pruned, and the
    best of the cell is the completed trial."""
    import optuna

    class PruneAllButFirst(optuna.pruners.BasePruner):
        def prune(self, study, trial):
            return trial.number >= 1

    monkeypatch.setattr(optuna.pruners, "MedianPruner", lambda **kw: PruneAllButFirst())
    base = TrainConfig(epochs=4, patience=0, seed=1)
    result = tiny_tuner(small_dataset.split, cells=["gru"], trials=3, base=base).run()
    first, *rest = result.trials
    assert first.state == "complete" and first.epochs == 4
    assert rest and all(t.state == "pruned" and t.epochs == 1 and "pruned at epoch 1" in t.reason for t in rest)
    states = [t.state for t in result.studies["gru"].trials]
    assert states == [optuna.trial.TrialState.COMPLETE] + [optuna.trial.TrialState.PRUNED] * len(rest)
    assert result.best["gru"].trial == first.number
