"""The "Inside the network" page renders for RNN, LSTM and GRU runs, shows item names, and compares LSTM vs GRU.

The app is driven through app.py (its router and sidebar) with a small dataset and tiny 2-layer runs put into the
session, so the page sees exactly what it would see after training in the app.
"""
import json

import pytest
from apppage import open_app_page
from streamlit.testing.v1 import AppTest

from seqrec import TrainConfig, train_run
from studio import nav

PAGE = nav.PAGE["inside"]


@pytest.fixture(scope="module")
def page_runs(small_dataset):
    info = {"fingerprint": small_dataset.fingerprint}
    return {kind: train_run(small_dataset.split, TrainConfig(model=kind, embedding_dim=8, hidden_size=24, layers=2,
                                                             epochs=1, patience=0, batch_size=64, seed=3),
                            name=f"tiny {kind}", dataset=info)
            for kind in ("rnn", "lstm", "gru")}


def open_page(dataset, runs) -> AppTest:
    return open_app_page(PAGE, dataset, runs)


def chart_specs(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def heatmap_titles(at) -> list[str]:
    return [s["layout"]["title"]["text"] for s in chart_specs(at) if s["data"][0]["type"] == "heatmap"]


def all_markdown(at) -> str:
    return " ".join(m.value for m in at.markdown) + " ".join(m.value for m in at.caption) + \
        " ".join(i.value for i in at.info)


def test_rnn_run_shows_its_two_heatmaps_and_the_no_gates_note(small_dataset, page_runs):
    at = open_page(small_dataset, [page_runs["rnn"]])
    assert heatmap_titles(at) == ["Pre-activation — layer 1", "Hidden state — layer 1"]
    text = all_markdown(at)
    assert "Why are there no gates?" in text and "saturated" in text
    # without an LSTM and a GRU run the comparison explains what is missing instead of failing
    assert "needs one LSTM run and one GRU run" in text


def test_lstm_run_shows_every_gate_with_item_names_and_switches_layer(small_dataset, page_runs):
    ds = small_dataset
    at = open_page(ds, [page_runs["rnn"], page_runs["lstm"]])  # the newest run is preselected
    assert heatmap_titles(at)[:6] == [f"{g} — layer 1" for g in
                                      ("Input gate", "Forget gate", "Candidate", "Output gate", "Cell state",
                                       "Hidden state")]
    heat = chart_specs(at)[0]
    assert len(heat["data"][0]["y"]) == 20  # top 20 responsive units of 24 by default
    user = at.selectbox(key="inside_user").value
    first_item = ds.split.vocab.decode(ds.split.full_sequence(ds.user_ids.index(user)))[-30:][0]  # default: 30
    ticks = " ".join(heat["layout"]["xaxis"]["ticktext"])
    assert ds.item_title(first_item)[:10] in ticks and first_item not in ticks  # names, not IDs

    at.radio(key="inside_layer").set_value(1).run()
    at.radio(key="inside_units").set_value("All units").run()
    assert not at.exception
    assert heatmap_titles(at)[0] == "Input gate — layer 2"
    assert len(chart_specs(at)[0]["data"][0]["y"]) == 24


def test_gru_run_by_hand_and_side_by_side_with_lstm(small_dataset, page_runs):
    at = open_page(small_dataset, [page_runs["lstm"], page_runs["gru"]])
    assert [t for t in heatmap_titles(at)[:4]] == ["Reset gate — layer 1", "Update gate — layer 1",
                                                   "Candidate — layer 1", "Hidden state — layer 1"]
    assert "keep the old state" in all_markdown(at)
    assert any(s.value == "Same history, LSTM vs GRU" for s in at.subheader)
    titles = [s["layout"]["title"]["text"] for s in chart_specs(at)]
    assert "How much each item changed the hidden state (top layer)" in titles
    assert "Forget gate — layer 2" in titles and "Update gate — layer 2" in titles

    at.radio(key="inside_source").set_value("A history I build").run()
    assert not at.exception
    picked = at.multiselect(key="inside_items_tiny gru").value
    assert len(picked) == 5 and len(chart_specs(at)[0]["layout"]["xaxis"]["ticktext"]) == 5


def test_without_runs_the_page_offers_a_one_click_demo(small_dataset):
    at = open_page(small_dataset, [])
    assert any("no trained runs" in i.value for i in at.info)
    assert not at.get("plotly_chart")
    at.button(key="inside_demo").click().run()
    assert not at.exception
    assert sorted(r.config.model for r in at.session_state["runs"]) == ["gru", "lstm"]
    assert heatmap_titles(at)  # the new runs are traced straight away


def test_a_search_that_matches_no_user_is_a_sentence_not_a_traceback(small_dataset, page_runs):
    at = open_page(small_dataset, [page_runs["gru"]])
    at.text_input(key="inside_query").input("no such user").run()
    assert not at.exception
    assert any("No user ID contains that text" in w.value for w in at.warning)
