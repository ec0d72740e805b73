"""The fast ingest path against plain references: the one-key sort in each of its branches, the
integer codes the split reuses, the second thread for big logs, the counted median and Arrow's coding of IDs.
Speed itself is measured in bench/bench_ingest.py, never asserted here."""
import dataclasses
import importlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from seqrec import Filters, leave_last_out, load_interactions
from seqrec.data.prepare import _factorize, _string_order, _user_time_order
from seqrec.data.read import _blank
from seqrec.data.split import user_sequences
from seqrec.data.times import _median_is

prepare_module = importlib.import_module("seqrec.data.prepare")  # the module (seqrec.data re-exports a function
# of the same name, which `import seqrec.data.prepare as ...` would give)


def reference_order(user_rank: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Stable sort by user, then time: ties keep their file order."""
    by_time = np.argsort(times, kind="stable")
    return by_time[np.argsort(user_rank[by_time], kind="stable")]


def check_order(user_rank, times):
    order, u, t = _user_time_order(np.asarray(user_rank), np.asarray(times, dtype=np.float64))
    expected = reference_order(np.asarray(user_rank), np.asarray(times, dtype=np.float64))
    assert order.tolist() == expected.tolist()
    assert u.tolist() == np.asarray(user_rank)[expected].tolist()
    assert np.asarray(times, dtype=np.float64)[expected].tobytes() == t.tobytes()  # bit for bit, -0.0 included


@pytest.mark.parametrize("seed", range(3))
def test_every_branch_of_the_one_key_sort_orders_like_the_stable_sort(seed):
    rng = np.random.default_rng(seed)
    n = 5000
    users = rng.integers(0, 40, n).astype(np.int32)
    check_order(users, 1_600_000_000 + rng.integers(0, 300, n))  # epoch seconds with many ties: times from the key
    check_order(users, rng.integers(-50, 50, n))  # whole numbers down to negative: times gathered
    check_order(users, 1_600_000_000 + rng.integers(0, 300, n) / 1000)  # milliseconds: ranks of the times
    check_order(users, rng.choice([-0.0, 0.0, 1.5, 2.25], n))  # fractions, and -0.0 tied with 0.0
    check_order(users, rng.integers(0, 3, n) * 1e17)  # whole but too far apart for one key: ranks of the times
    # too many users for one key: two stable sorts
    check_order(users.astype(np.int64) * 2**40, rng.integers(0, 300, n) / 7)


def frame_of(data) -> dict:
    return {c: data.df[c].tolist() for c in data.df.columns}


def split_of(split) -> tuple:
    return (list(split.users), [t.tolist() for t in split.train], split.valid_target.tolist(),
            split.test_target.tolist(), list(split.vocab.ids))


def messy_csv(rows: int = 4000, seed: int = 0) -> bytes:
    """Float-written user IDs, gaps, missing-value words, duplicates and tied times: every path of prepare."""
    rng = np.random.default_rng(seed)
    users = np.array([f"{17000 + k}.0" for k in rng.integers(0, 80, rows)], dtype=object)
    items = np.array([f"i{k}" for k in rng.zipf(1.4, rows) % 300], dtype=object)
    times = np.array([str(t) for t in 1_600_000_000 + rng.integers(0, 500, rows)], dtype=object)
    users[rng.random(rows) < 0.02] = ""
    items[rng.random(rows) < 0.01] = "NULL"
    times[rng.random(rows) < 0.01] = ""
    df = pd.DataFrame({"user_id": users, "item_id": items, "timestamp": times})
    return pd.concat([df, df.head(200)]).to_csv(index=False).encode()


@pytest.mark.parametrize("filters", [None, Filters(min_item_count=4), Filters(remove_repeats=True,
                                                                              max_events_per_user=20)])
def test_the_split_from_prepares_codes_equals_the_split_from_the_strings(filters):
    data = load_interactions(messy_csv(), filters=filters)
    assert data.coded is not None and data.coded.matches(data.df)
    from_strings = dataclasses.replace(data, coded=None)
    assert split_of(leave_last_out(data)) == split_of(leave_last_out(from_strings))
    users, seqs, vocab = user_sequences(data)
    users2, seqs2, vocab2 = user_sequences(from_strings)
    assert list(users) == list(users2) and list(vocab.ids) == list(vocab2.ids)
    assert [s.tolist() for s in seqs] == [s.tolist() for s in seqs2]


def test_a_replaced_frame_is_split_from_its_own_rows_not_from_stale_codes():
    data = load_interactions(messy_csv())
    first_user = data.df["user"].iloc[0]
    data.df = data.df[data.df["user"] != first_user].reset_index(drop=True)
    split = leave_last_out(data)
    assert first_user not in set(split.users)
    assert sum(len(t) + 2 for t in split.train) == len(data.df)


def test_big_logs_code_their_columns_in_a_second_thread_with_the_same_result(monkeypatch):
    raw = messy_csv(rows=6000, seed=3)
    monkeypatch.setattr(prepare_module, "PARALLEL_ROWS", 10**9)
    serial = load_interactions(raw, filters=Filters(min_item_count=2))
    monkeypatch.setattr(prepare_module, "PARALLEL_ROWS", 0)
    threaded = load_interactions(raw, filters=Filters(min_item_count=2))
    assert frame_of(threaded) == frame_of(serial)
    assert (threaded.notes, threaded.dropped_rows) == (serial.notes, serial.dropped_rows)
    assert serial.dropped_rows and any("whole numbers" in n for n in serial.notes)  # the messy paths were taken
    assert split_of(leave_last_out(threaded)) == split_of(leave_last_out(serial))


def test_an_error_in_the_second_thread_reaches_the_caller(monkeypatch):
    monkeypatch.setattr(prepare_module, "PARALLEL_ROWS", 0)

    def broken(values):
        raise RuntimeError("arrow broke")

    monkeypatch.setattr(prepare_module, "arrow_numbers", broken)
    with pytest.raises(RuntimeError, match="arrow broke"):
        load_interactions(messy_csv())


@pytest.mark.parametrize("seed", range(20))
def test_the_counted_median_decides_like_numpys_median(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 40))
    size = np.abs(rng.choice([1.0, 5.0, 1e8, 3e8, 1e11, 2e11, 1e14, 1e17], n) * rng.choice([1.0, 0.5, 2.0], n))
    for bound in (1e8, 1e11, 1e14, 1e17, 3e8, 2e11):
        for scale in (1.0, 1e3):
            assert _median_is(size, bound, scale) == (np.median(size) / scale >= bound), (size, bound, scale)
    # exactly half below the bound: the two middle values decide
    assert _median_is(np.array([1.0, 3.0]), 2.0) and not _median_is(np.array([1.0, 2.5]), 2.0)
    assert _median_is(np.zeros(0), 1e8) is False


def test_arrow_coding_of_ids_equals_pandas_factorize_across_chunks_and_gaps():
    chunks = [pa.array(["b", None, "a", "b"], pa.large_string()), pa.array(["c", "a", None], pa.large_string()),
              pa.array(["d", "b"], pa.large_string())]
    arrow = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(chunks)))
    as_objects = pd.Series(["b", None, "a", "b", "c", "a", None, "d", "b"], dtype=object)
    codes, uniques = _factorize(arrow)
    expected_codes, expected_uniques = pd.factorize(as_objects)
    assert codes.tolist() == expected_codes.tolist() and uniques.tolist() == list(expected_uniques)
    assert uniques.dtype == object
    codes, uniques = _factorize(as_objects)  # not Arrow-backed: pandas' way
    assert codes.tolist() == expected_codes.tolist() and uniques.tolist() == list(expected_uniques)


def test_blank_files_are_recognised_without_stripping_a_big_one():
    assert _blank(b"") and _blank(b" \n\t\r\n" * 100_000)
    assert not _blank(b"\n" * 70_000 + b"u,i,t\n") and not _blank(b"user,item,time\n" + b"x" * 100_000)


@pytest.mark.parametrize("values", [
    [f"u{k}" for k in np.random.default_rng(0).integers(0, 5000, 3000)],  # many ties: the sort must be stable
    ["b", "a", "é", "e", "Z", "ä", "😀", "z", "ab", ""] * 300,  # beyond ASCII: code point order
    ["b", "a\x00", "a", "c"] * 300,  # a NUL: NumPy's tie of "a" and "a\x00" is kept
    [3, 1, 2] * 500,  # not strings
])
def test_users_are_ranked_in_numpys_string_order(values):
    values = np.array(values, dtype=object)
    assert _string_order(values).tolist() == np.argsort(values.astype(str), kind="stable").tolist()
