"""The two bundled samples: the synthetic teaching one and the real retail one, by name in the library
and the CLI (sample:<key>); an unknown name is one clear sentence."""
import json
import os
import subprocess
import sys

import pytest

from seqrec.errors import SeqrecError
from seqrec.service.dataset import DEFAULT_SAMPLE, SAMPLES, sample_dataset, sample_named


def test_both_samples_are_shipped_with_titles_and_the_synthetic_one_opens_first():
    assert set(SAMPLES) == {"synthetic", "retail"} and DEFAULT_SAMPLE == "synthetic"
    for s in SAMPLES.values():
        assert s.interactions.is_file() and s.items.is_file(), s
        assert s.interactions.stat().st_size < 5 * 1024**2  # the size limit for the repository
    assert sample_named("sample:retail") is sample_named("retail") is SAMPLES["retail"]


def test_the_real_sample_loads_with_product_names():
    ds = sample_dataset(key="retail")
    assert (ds.stats["users"], ds.stats["items"], ds.stats["interactions"]) == (2500, 2459, 97370)
    assert ds.name == SAMPLES["retail"].name
    assert ds.items.loc["85123A", "title"] == "White Hanging Heart T-Light Holder"


def test_an_unknown_sample_name_is_one_sentence_naming_the_choices():
    with pytest.raises(SeqrecError) as info:
        sample_named("sample:movies")
    assert str(info.value) == ("There is no bundled sample called 'movies'; use one of sample:synthetic, "
                               "sample:retail.")


def _cli(repo_root, *args):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    return subprocess.run([sys.executable, "-m", "seqrec", *args], cwd=repo_root, env=env, capture_output=True,
                          text=True, timeout=120)


def test_the_cli_takes_a_sample_by_name(repo_root):
    proc = _cli(repo_root, "stats", "sample:retail")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["users"] == 2500
    bad = _cli(repo_root, "train", "sample:nope", "--epochs", "1")
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.splitlines() == ["error: There is no bundled sample called 'nope'; use one of "
                                       "sample:synthetic, sample:retail."]
