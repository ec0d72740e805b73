"""What an upload can make the server compute is bounded. The baselines (Compare, Train,
Recommend) are scored on a seeded sample of users beyond BASELINE_MAX_USERS and the Compare page says so; the files
of one upload are capped in number and in rows, refused with one sentence. The peak memory of the audit's cases is
measured by bench/memory_upload.py (RELIABILITY.md), not asserted here."""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from seqrec import SeqrecError
from seqrec.data import read
from seqrec.evaluation import protocol
from seqrec.service.dataset import sample_dataset
from studio.nav import PAGE

ROOT = Path(__file__).resolve().parents[3]
CSV = b"user_id,item_id,timestamp\n" + b"".join(f"u{i // 3},i{i % 7},{i}\n".encode() for i in range(30))


def test_baselines_of_many_users_are_scored_on_a_bounded_seeded_sample(monkeypatch):
    ds = sample_dataset()  # 3,000 users; the bound is lowered so the sample path runs on small data
    monkeypatch.setattr(protocol, "BASELINE_MAX_USERS", 400)
    monkeypatch.setattr(protocol, "SESSION_KNN_MAX_USERS", 300)
    scored = []
    fitted = ds.fitted_baselines()
    for b in fitted.values():  # every route a baseline is scored by: dense scores or sparse ones
        for route in ("score_batch", "sparse_scores"):
            original = getattr(b, route)
            monkeypatch.setattr(b, route, lambda h, *a, _o=original: (scored.append(len(h)), _o(h, *a))[1])
    first = protocol.evaluate_baselines(ds.split, (10, 20), False, fitted=fitted)
    assert max(scored) <= 400 and 300 < sum(scored) <= 400 * (len(fitted) - 1) + 300  # never every user
    for name, m in first.items():
        want = 300 if name == "session_knn" else 400
        assert m["users_scored"] == want and 0 <= m["recall@20"] <= 1, (name, m)
        assert np.isfinite(first.ranks[name]).sum() <= want  # the others are NaN: not scored
    again = protocol.evaluate_baselines(ds.split, (10, 20), False, fitted=fitted)
    assert {n: m["recall@20"] for n, m in again.items()} == {n: m["recall@20"] for n, m in first.items()}  # seeded


def test_a_trained_model_is_scored_on_a_nested_seeded_sample_of_many_users(monkeypatch):
    """A Quick demo on a 300,000-user file must not spend minutes scoring every user after 30 s of training: the
    test metrics and the order check use a seeded sample, inside the baselines' sample, so paired intervals hold."""
    from seqrec import TrainConfig
    from seqrec.training.runner import train_run

    ds = sample_dataset()  # 3,000 users; the bounds are lowered so the sample path runs on small data
    monkeypatch.setattr(protocol, "MODEL_TEST_MAX_USERS", 500)
    monkeypatch.setattr(protocol, "BASELINE_MAX_USERS", 1200)
    baselines = protocol.evaluate_baselines(ds.split, (10, 20), False)
    scored = []
    original = protocol.score_model

    def counting(model, split, part, *a, **k):
        if part == "test":
            scored.append(len(k["users"]) if k.get("users") is not None else len(split.users))
        return original(model, split, part, *a, **k)

    monkeypatch.setattr(protocol, "score_model", counting)
    cfg = TrainConfig(model="gru", epochs=1, hidden_size=16, embedding_dim=16, batch_size=128, max_len=20, seed=0)
    run = train_run(ds.split, cfg, baselines=baselines)
    assert scored == [500]  # the test pass went through the network for the sample only
    assert run.metrics["users_scored"] == 500 and 0 <= run.metrics["recall@20"] <= 1
    assert np.isfinite(run.test_ranks).sum() == 500 and len(run.test_ranks) == len(ds.split.users)
    assert run.order_check["users_scored"] == 500
    model_users = np.isfinite(run.test_ranks)
    assert np.isfinite(baselines.ranks["item_knn"][model_users]).all()  # nested: inside the baselines' sample
    summary = run.uncertainty_summary()  # intervals on the users both scored
    assert summary["comparison"]["verdict"] in ("better", "no clear difference", "worse")
    low, high = summary["metrics_ci95"]["recall@20"]
    assert low <= run.metrics["recall@20"] <= high
    assert protocol.user_sample(3000, 500).tolist() == protocol.user_sample(3000, 500).tolist()  # seeded


def test_the_compare_page_says_when_baselines_are_sampled(monkeypatch, tmp_path):
    monkeypatch.setenv("SEQREC_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(protocol, "BASELINE_MAX_USERS", 400)
    ds = sample_dataset()
    ds._baselines.clear()  # computed again under the lowered bound (the sample is cached per process)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["dataset"] = ds
    at.run()
    at.switch_page(PAGE["compare"])
    at.run()
    assert not at.exception, at.exception
    assert any("fixed random sample of" in c.value and "400" in c.value for c in at.caption), \
        [c.value for c in at.caption]
    ds._baselines.clear()


def test_too_many_files_are_refused_with_one_sentence(monkeypatch):
    monkeypatch.setattr(read, "MAX_FILES", 3)
    with pytest.raises(SeqrecError, match="at most 3 can be loaded together"):
        read.read_tables([CSV] * 4, [f"m{i}.csv" for i in range(4)])
    assert len(read.read_tables([CSV] * 3, [f"m{i}.csv" for i in range(3)])) == 90


def test_too_many_rows_in_all_files_together_are_refused_before_reading_the_rest(monkeypatch):
    monkeypatch.setattr(read, "MAX_TOTAL_ROWS", 50)
    seen = []
    original = read.read_table
    monkeypatch.setattr(read, "read_table", lambda s, n=None: (seen.append(n), original(s, n))[1])
    with pytest.raises(SeqrecError, match="more than 50 rows together") as e:
        read.read_tables([CSV] * 3, ["a.csv", "b.csv", "c.csv"])
    assert "\n" not in str(e.value)
    assert seen == ["a.csv", "b.csv"]  # refused as soon as the total passed the cap
