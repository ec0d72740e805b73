"""ServerSettings: every SEQREC_* environment variable the library reads, in one typed dataclass. A bad value is one
sentence naming the variable, the value and what is allowed (the CLI: exit 2, one line, at start), never a silent
fallback; a good value takes effect where it is used; the docs' table is the dataclass's; no other module reads the
environment."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from seqrec.config import SETTINGS, TrainConfig
from seqrec.errors import SeqrecError
from seqrec.runtime import MAX_TRAIN_MINUTES, ServerSettings, settings_table

REPO = Path(__file__).resolve().parents[2]
BAD = [  # (variable, value, what the sentence says is allowed): one of each kind and each limit
    ("SEQREC_WORKERS", "many", "a whole number from 1 to 64"),
    ("SEQREC_WORKERS", "0", "a whole number from 1 to 64"),
    ("SEQREC_WARM_WORKERS", "9", "a whole number from 0 to 8"),
    ("SEQREC_EXECUTOR", "gpu", "one of process, thread"),
    ("SEQREC_RAY_CPUS", "2.5", "a whole number from 1 to 1024"),
    ("SEQREC_MEMORY_BUDGET_MB", "lots", "a positive number of megabytes"),
    ("SEQREC_MEMORY_BUDGET_MB", "-5", "a positive number of megabytes"),
    ("SEQREC_MAX_TRAIN_MINUTES", "nan", "a number of minutes above 0 and at most 1440"),
    ("SEQREC_MAX_TRAIN_MINUTES", "2000", "a number of minutes above 0 and at most 1440"),
]


@pytest.mark.parametrize("env, value, allowed", BAD)
def test_a_bad_value_is_one_sentence_naming_it(env, value, allowed):
    with pytest.raises(SeqrecError) as e:
        ServerSettings.from_env({env: value})
    assert str(e.value).startswith(f"{env} must be {allowed} (got {value!r}); ")
    assert "remove it to use the default" in str(e.value)


@pytest.mark.parametrize("env, value, allowed", BAD)
def test_the_cli_stops_at_start_with_that_sentence(env, value, allowed, monkeypatch, capsys, sample_csv):
    from seqrec.cli import main

    monkeypatch.setenv(env, value)
    assert main(["stats", str(sample_csv)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1
    assert err.startswith(f"error: {env} must be {allowed} (got {value!r}); ")


def test_a_bad_value_stops_python_m_seqrec_with_one_line_and_no_traceback(sample_csv):
    env = {**os.environ, "SEQREC_WORKERS": "lots"}
    p = subprocess.run([sys.executable, "-m", "seqrec", "stats", str(sample_csv)], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and p.stdout == "" and "Traceback" not in p.stderr
    assert p.stderr.strip().splitlines() == [p.stderr.strip()] and "SEQREC_WORKERS must be" in p.stderr


def test_empty_or_unset_values_are_the_defaults_and_spaces_do_not_count():
    assert ServerSettings.from_env({}) == ServerSettings()
    assert ServerSettings.from_env({"SEQREC_WORKERS": "  ", "SEQREC_EXECUTOR": ""}) == ServerSettings()
    assert ServerSettings.from_env({"SEQREC_WORKERS": " 3 ", "SEQREC_EXECUTOR": "Thread"}).workers == 3


def test_good_values_take_effect_where_they_are_used(monkeypatch, tmp_path):
    from seqrec import runtime
    from seqrec.config import cap_training_minutes, server_minutes_cap
    from seqrec.runs.store import store_home
    from seqrec.service.executor import get_executor
    from seqrec.training.budget import MB, memory_budget_bytes
    from seqrec.training.executors import LocalExecutor, ThreadExecutor

    for env, value in {"SEQREC_WORKERS": "3", "SEQREC_WARM_WORKERS": "1", "SEQREC_EXECUTOR": "thread",
                       "SEQREC_RAY_CPUS": "3", "SEQREC_MEMORY_BUDGET_MB": "512",
                       "SEQREC_MAX_TRAIN_MINUTES": "2.5", "SEQREC_HOME": str(tmp_path / "lib")}.items():
        monkeypatch.setenv(env, value)
    assert runtime.worker_count() == 3 and runtime.threads_per_worker() == max(1, runtime.cores() // 3)
    assert LocalExecutor().warm == 1
    assert isinstance(get_executor(), ThreadExecutor)
    assert ServerSettings.read("ray_cpus") == 3  # RayExecutor's per-task default (tested with Ray in test_executor)
    assert memory_budget_bytes() == 512 * MB
    assert server_minutes_cap() == 2.5 and cap_training_minutes(TrainConfig(max_minutes=0))[0].max_minutes == 2.5
    assert store_home() == (tmp_path / "lib").absolute()
    assert ServerSettings.from_env() == ServerSettings(workers=3, warm_workers=1, executor="thread", ray_cpus=3,
                                                       memory_budget_mb=512.0, max_train_minutes=2.5,
                                                       home=str(tmp_path / "lib"))


def test_the_minutes_cap_allows_what_a_training_allows():
    assert MAX_TRAIN_MINUTES == SETTINGS["max_minutes"].hi


def test_the_docs_table_is_the_dataclasss():
    """RELIABILITY.md carries the table settings_table() prints; after a change to a field, paste it again
    (python -c "from seqrec.runtime import settings_table; print(settings_table())")."""
    assert settings_table() in (REPO / "RELIABILITY.md").read_text(encoding="utf-8")


def test_no_other_module_reads_the_environment():
    """Every SEQREC_* variable read anywhere in seqrec is a ServerSettings field, and only runtime.py reads the
    environment (writing OMP_WAIT_POLICY for torch, as the CLI and the workers do, is not reading a setting)."""
    known = {var.env for var in ServerSettings.variables().values()}
    readers, named = [], set()
    for path in sorted((REPO / "seqrec").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        named |= set(re.findall(r"SEQREC_[A-Z_]+", text))
        for n, line in enumerate(text.splitlines(), 1):
            if re.search(r"os\.environ(?!\.setdefault\(\"OMP_WAIT_POLICY\")|getenv", line) and \
                    path.name != "runtime.py":
                readers.append(f"{path.relative_to(REPO)}:{n}: {line.strip()}")
    assert readers == []
    assert named <= known, named - known
