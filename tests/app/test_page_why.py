"""The "Why this?" page renders for RNN, LSTM and GRU runs: influence bars with a sentence, the comparison across
runs, the item map, the interest path and similar items, with item names that never turn into markup.

The app is driven through app.py (router and sidebar) with a small dataset and tiny runs put into the session, so the
page sees exactly what it would see after training in the app.
"""
import base64
import io
import json

import numpy as np
import pandas as pd
import pytest
from apppage import open_app_page
from streamlit.testing.v1 import AppTest

from seqrec import TrainConfig, load_interactions, train_run
from seqrec.service.dataset import build_dataset
from studio import nav

PAGE = nav.PAGE["why"]
CELLS = ("rnn", "lstm", "gru")


@pytest.fixture(scope="module")
def page_runs(small_dataset):
    info = {"fingerprint": small_dataset.fingerprint}
    # separate output layers, so the map offers both sets of vectors (tied runs: test_a_tied_run_has_one_map)
    return {kind: train_run(small_dataset.split, TrainConfig(model=kind, embedding_dim=8, hidden_size=16, layers=2,
                                                             epochs=1, patience=0, batch_size=64, seed=3,
                                                             tie_weights=False),
                            name=f"tiny {kind}", dataset=info, baselines={})
            for kind in CELLS}


def test_a_tied_run_has_one_map_for_reading_and_scoring(small_dataset):
    run = train_run(small_dataset.split, TrainConfig(embedding_dim=8, hidden_size=16, epochs=1, patience=0, seed=3),
                    name="tiny tied", dataset={"fingerprint": small_dataset.fingerprint}, baselines={})
    assert run.config.tie_weights  # the default
    at = open_page(small_dataset, [run])
    assert not at.exception and "Map of the items the model learned" in titles(at)
    assert not [r for r in at.radio if r.key == "why_map_vectors"]
    assert any("output layer is its item embedding (tied)" in c.value for c in at.caption)


def open_page(dataset, runs) -> AppTest:
    return open_app_page(PAGE, dataset, runs)


def specs(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def values(array) -> list:
    """A plotly JSON array as a list (numeric arrays arrive base64-encoded as {"bdata", "dtype"})."""
    if isinstance(array, dict) and "bdata" in array:
        return np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"]).tolist()
    return list(array)


def titles(at) -> list[str]:
    return [s["layout"]["title"]["text"] for s in specs(at)]


def texts(at) -> str:
    return " ".join(x.value for x in [*at.markdown, *at.caption, *at.info, *at.warning])


@pytest.mark.parametrize("cell", CELLS)
def test_each_cell_type_gets_every_view_with_a_sentence(small_dataset, page_runs, cell):
    ds = small_dataset
    at = open_page(ds, [page_runs[cell]])
    shown = titles(at)
    assert shown[0].startswith("Why ") and f"({cell.upper()}, probability" in shown[0]
    assert "How the model's picture of the user drifts" in shown
    assert "Map of the items the model learned" in shown
    assert any(t.startswith("Items like ") for t in shown)
    sentence = at.info[0].value
    top = at.selectbox(key=f"why_target_tiny {cell}").value
    assert ds.item_title(top) in sentence.replace("\\", "")  # the explained item, by name
    assert "recommended mostly because of" in sentence or "No single item drives" in sentence
    bars = specs(at)[0]
    user = at.selectbox(key="why_user").value
    history = ds.split.vocab.decode(ds.split.full_sequence(ds.user_ids.index(user)))[:-1][-30:]
    assert len(values(bars["data"][0]["x"])) == len(history)  # one bar per history item (the last 30 by default)
    assert ds.item_title(history[-1])[:10] in " ".join(bars["layout"]["xaxis2"]["ticktext"])
    # with a single run the comparison says what is missing instead of failing
    assert "needs at least two runs" in texts(at)


def test_three_runs_are_compared_on_the_same_history_and_options_switch_cleanly(small_dataset, page_runs):
    at = open_page(small_dataset, [page_runs[c] for c in CELLS])
    shown = titles(at)
    assert "Same history, each model: where does the influence sit?" in shown
    assert "Typical memory span: influence by distance, averaged over users" in shown
    compare = specs(at)[shown.index("Same history, each model: where does the influence sit?")]
    assert len(compare["data"]) == 3 and all("older half" in t["name"] for t in compare["data"])
    assert "remembers furthest back" in texts(at)
    table = at.dataframe[0].value
    assert sorted(table["Model"]) == ["GRU", "LSTM", "RNN"]

    at.radio(key="why_cmp_mode").set_value("The item explained above, for every model").run()
    assert not at.exception
    assert len(set(at.dataframe[0].value["Explained item"])) == 1  # every run explains the same item
    at.radio(key="why_map_method").set_value("tsne").run()
    at.radio(key="why_map_color").set_value("popularity").run()
    at.radio(key="why_map_vectors").set_value("input").run()
    assert not at.exception
    item_map = specs(at)[titles(at).index("Map of the items the model learned")]
    assert [t.get("name") for t in item_map["data"]][-2:] == ["history (numbered, oldest first)", "recommended"]
    at.slider(key="why_sim_k").set_value(5).run()
    similar = [s for s in specs(at) if s["layout"]["title"]["text"].startswith("Items like ")][0]
    assert len(values(similar["data"][0]["y"])) == 5


def test_a_hand_built_history_and_another_target(small_dataset, page_runs):
    ds = small_dataset
    at = open_page(ds, [page_runs["lstm"]])
    at.radio(key="why_source").set_value("A history I build").run()
    assert not at.exception
    picked = at.multiselect(key="why_items_tiny lstm").value
    assert len(picked) == 5 and len(values(specs(at)[0]["data"][0]["x"])) == 5
    recs = [r["item"] for r in page_runs["lstm"].recommend(picked, k=10)["recommendations"]]
    target = at.selectbox(key="why_target_tiny lstm")
    assert target.value == recs[0] and "(#1 recommendation)" in target.options[0]
    target.set_value(recs[1]).run()
    assert not at.exception
    assert titles(at)[0].startswith(f"Why {ds.item_title(recs[1])[:20]}")
    assert "rank #2)" in titles(at)[0]


def test_projections_are_cached_per_run_across_reruns(small_dataset, page_runs):
    at = open_page(small_dataset, [page_runs["gru"]])
    cache = at.session_state["_why_cache"]
    before = {k: v[1] for k, v in cache.items()}
    assert {k[0] for k in before} >= {"state_space", "item_map"}
    at.slider(key="why_sim_k").set_value(4).run()  # any rerun
    users = at.selectbox(key="why_user").options
    at.selectbox(key="why_user").set_value(users[3]).run()  # another user: new explanation, same projections
    assert not at.exception
    after = at.session_state["_why_cache"]
    assert all(after[k][1] is v for k, v in before.items())  # the same objects: nothing was recomputed
    assert at.selectbox(key="why_target_tiny gru").value in small_dataset.item_ids


def test_item_titles_with_markup_are_shown_as_plain_text(small_dataset, page_runs):
    ds = small_dataset
    evil = ds.items.copy()
    top = page_runs["gru"].recommend(ds.split.vocab.decode(ds.split.full_sequence(0))[:-1][-30:],
                                     k=1)["recommendations"][0]["item"]
    evil.loc[top, "title"] = "<b>Boom</b> [click](https://evil.example) :red[x]"
    hostile = build_dataset(ds.interactions, evil, name="hostile", fingerprint=ds.fingerprint)
    at = open_page(hostile, [page_runs["gru"]])
    raw = " ".join(json.dumps(s) for s in specs(at))
    assert "<b>Boom" not in raw and "&lt;b&gt;Boom" in raw
    sentence = at.info[0].value
    assert "\\[click\\]" in sentence and "\\<b\\>" in sentence and "\\:red\\[x\\]" in sentence


def test_without_runs_the_page_offers_a_one_click_demo(small_dataset):
    at = open_page(small_dataset, [])
    assert any("no trained run on the current data" in i.value for i in at.info)
    assert not at.get("plotly_chart")
    at.button(key="whybtn_demo").click().run()
    assert not at.exception
    assert sorted(r.config.model for r in at.session_state["runs"]) == ["gru", "lstm", "rnn"]
    assert titles(at)[0].startswith("Why ")


def test_a_search_that_matches_no_user_is_a_sentence_not_a_traceback(small_dataset, page_runs):
    at = open_page(small_dataset, [page_runs["gru"]])
    at.text_input(key="why_query").input("no such user").run()
    assert not at.exception
    assert any("No user ID contains that text" in w.value for w in at.warning)


@pytest.fixture(scope="module")
def tiny_catalogue():
    """Four items, no item metadata: many users have seen every item, and a map has more dimensions than points."""
    rows = [(f"u{u:02d}", f"i{(u + t) % 4}", t) for u in range(20) for t in range(8)]
    raw = pd.DataFrame(rows, columns=["user", "item", "time"]).to_csv(index=False).encode()
    ds = build_dataset(load_interactions(io.BytesIO(raw), names=["tiny.csv"]), None, name="tiny", fingerprint="tiny")
    runs = [train_run(ds.split, TrainConfig(model=kind, embedding_dim=4, hidden_size=4, layers=2, epochs=1,
                                            batch_size=16, seed=1), name=f"tiny {kind}",
                      dataset={"fingerprint": "tiny"}, baselines={}) for kind in ("rnn", "gru")]
    return ds, runs


def test_a_history_holding_every_item_with_exclude_seen_says_why_nothing_is_shown(tiny_catalogue):
    ds, runs = tiny_catalogue
    at = open_page(ds, runs)
    assert len(at.get("plotly_chart")) == 6, "every view works on a 4-item catalogue without metadata"
    at.toggle(key="why_exclude").set_value(True).run()  # the user's history holds all four items
    assert not at.exception
    assert not at.get("plotly_chart")
    assert any("nothing left to recommend" in i.value for i in at.info), texts(at)


def test_exclude_seen_with_a_short_history_still_averages_the_memory_profile(tiny_catalogue):
    ds, runs = tiny_catalogue
    at = open_page(ds, runs)
    at.radio(key="why_source").set_value("A history I build").run()
    at.multiselect(key="why_items_tiny gru").set_value([ds.item_ids[0]]).run()
    at.toggle(key="why_exclude").set_value(True).run()  # the sampled users' histories hold every item
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    assert "Typical memory span: influence by distance, averaged over users" in titles(at)
    # every sampled user here has seen all four items, so no average exists, and the page says so (not "0%")
    assert any("no average to show" in m.value for m in at.markdown), texts(at)


def test_tsne_is_not_offered_for_a_catalogue_over_its_limit(small_dataset, page_runs, monkeypatch):
    from seqrec.inspect import embedding_map

    at = open_page(small_dataset, [page_runs["gru"]])
    assert at.radio(key="why_map_method").options == ["PCA", "t-SNE"]
    monkeypatch.setattr(embedding_map, "TSNE_MAX_ITEMS", 100)  # the small sample has ~300 items
    at.run()
    assert not at.exception and not at.error
    assert at.radio(key="why_map_method").options == ["PCA"]
    assert any(t.startswith("Map of the items") for t in titles(at))
