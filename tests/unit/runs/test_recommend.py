"""Recommending on the current dataset (seqrec.runs.recommend) and the user look-ups behind it
(seqrec.data.users): the held-out item's rank, exclude-seen masking, the same history through every model."""
from __future__ import annotations

import math

import pytest

import seqrec
from seqrec.data import users
from seqrec.runs import recommend
from seqrec.service.dataset import sample_dataset


@pytest.fixture(scope="module")
def ds():
    return sample_dataset()


def test_user_recommendation_ranks_the_held_out_item(gru_run, ds):
    user = ds.user_ids[0]
    rec = recommend.recommend_for_user(gru_run, ds, user, k=10)
    assert len(rec.recommendations) == 10
    assert rec.held_out_item == ds.split.vocab.decode([ds.split.test_target[0]])[0]
    assert 1 <= rec.held_out_rank <= 300
    in_top = rec.held_out_item in {r["item"] for r in rec.recommendations}
    assert in_top == rec.hit == (rec.held_out_rank <= 10)
    assert f"#{int(rec.held_out_rank)}" in rec.sentence()
    assert users.user_item_ids(ds, user)[-1] == rec.held_out_item
    with pytest.raises(seqrec.SeqrecError, match="not in the current data"):
        users.user_index(ds, "nobody")


def test_user_events_and_search(ds):
    user = ds.user_ids[0]
    ids, times = users.user_events(ds, user)
    assert ids == users.user_item_ids(ds, user) and len(times) == len(ids)
    assert list(times) == sorted(times), "oldest first"
    assert users.user_item_ids(ds, user, last=2) == ids[-2:]
    assert users.find_users(ds, "", limit=3) == [str(u) for u in ds.split.users[:3]]
    assert all(user.lower() in u.lower() for u in users.find_users(ds, user))


def test_exclude_seen_masks_the_history_and_the_held_out_rank(gru_run, ds):
    history = ds.item_ids[:3]
    recs = recommend.recommend_history(gru_run, ds, history, k=20, exclude_seen=True)
    assert len(recs) == 20 and not {r["item"] for r in recs} & set(history)
    codes, _ = ds.split.vocab.encode(history)
    assert math.isinf(recommend.held_out_rank(gru_run.score_histories, gru_run.vocab, codes, history[0],
                                              exclude_seen=True))


def test_side_by_side_has_every_run_and_all_five_baselines(gru_run, ds):
    tops = recommend.side_by_side([gru_run], ds, ds.item_ids[5:8], k=4)
    assert list(tops) == [gru_run.name, "MostPopular", "Item-to-item transitions", "Repeat own items", "Item kNN",
                          "Session kNN (V-SKNN)"]
    assert [r["item"] for r in tops["Repeat own items"]][:3] == sorted(ds.item_ids[5:8], key=ds.item_ids[5:8].index,
                                                                       reverse=True), "own items, latest first"
    assert all(len(t) == 4 for t in tops.values())
    other = recommend.side_by_side([gru_run], ds, ds.item_ids[100:102], k=4)
    # MostPopular ignores the history; the network does not
    assert [r["item"] for r in tops["MostPopular"]] == [r["item"] for r in other["MostPopular"]]
    assert [r["item"] for r in tops[gru_run.name]] != [r["item"] for r in other[gru_run.name]]
