"""The Streamlit app driven headlessly with AppTest: every page renders on the sample, uploads load or are refused
clearly, the Quick demo trains in the background and its run shows up on Train, Recommend and Compare."""
from __future__ import annotations

import json
import os
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from studio.nav import PAGE

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
SAMPLE = ROOT / "sample_data" / "interactions.csv"
PAGES = [PAGE["data"], PAGE["train"], PAGE["inside"], PAGE["recommend"], PAGE["compare"]]
TIMEOUT = 120


def new_app() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception
    return at


def open_page(at: AppTest, page: str) -> AppTest:
    at.switch_page(page)
    at.run()
    assert not at.exception, at.exception
    return at


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def sample_subset_csv(n_users: int = 400) -> bytes:
    """A smaller export of the sample with other column names, as a user would bring."""
    df = pd.read_csv(SAMPLE, dtype=str)
    keep = df["user_id"].drop_duplicates().head(n_users)
    df = df[df["user_id"].isin(keep)].rename(columns={"user_id": "customer_id", "item_id": "product_id",
                                                      "timestamp": "ts"})
    return df.to_csv(index=False).encode()


def train_quick_demo(at: AppTest, name: str = "") -> AppTest:
    """Press Train with the default (Quick demo) preset and wait for the background job, polling like the page."""
    open_page(at, PAGE["train"])
    assert at.selectbox(key="tf_preset").value == "Quick demo"
    if name:
        at.text_input(key="tf_name").set_value(name)
    at.button(key="train_start").click().run()
    assert not at.exception, at.exception
    job = at.session_state["job"]
    assert job.wait(TIMEOUT), "the Quick demo did not finish"
    at.run()  # AppTest does not fire run_every timers: poll by rerunning
    assert not at.exception, at.exception
    return at


@pytest.fixture(scope="module")
def trained():
    """One app session with one Quick demo GRU run on the sample (shared by the read-only tests below)."""
    at = new_app()
    return train_quick_demo(at, "quick gru")


# ---------------------------------------------------------------------------------------------------------------
# Rendering
# ---------------------------------------------------------------------------------------------------------------

def test_home_shows_dataset_runs_and_guided_path():
    at = new_app()
    assert "seqrec studio" in at.title[0].value
    assert metric(at, "Users") == "3,000" and metric(at, "Items") == "300"
    assert metric(at, "Runs this session") == "0"
    links = [el.proto.page for el in at.get("page_link")]
    for page in PAGES:
        assert Path(page).stem in links, (page, links)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_renders_on_the_sample_without_error(page):
    at = open_page(new_app(), page)
    assert not at.error, [e.value for e in at.error]
    assert at.title, "every page has a title"


def test_data_page_shows_stats_of_the_sample():
    at = open_page(new_app(), PAGE["data"])
    assert metric(at, "Users") == "3,000"
    assert metric(at, "Interactions") == f"{sum(1 for _ in SAMPLE.open()) - 1:,}"
    assert {m.label for m in at.metric} >= {"Median length", "Sparsity", "Time span"}
    assert len(at.get("plotly_chart")) == 3
    preview = at.dataframe[0].value
    assert "item name" in preview.columns and not preview["item name"].str.fullmatch(r"P\d+").all()


# ---------------------------------------------------------------------------------------------------------------
# Uploads
# ---------------------------------------------------------------------------------------------------------------

def upload(at: AppTest, files, meta=None) -> AppTest:
    at.radio(key="data_source").set_value("Upload CSV files").run()
    at.file_uploader(key="upload_interactions").set_value(files)
    if meta is not None:
        at.file_uploader(key="upload_items").set_value(meta)
    at.run()
    assert not at.exception, at.exception
    return at


def test_upload_with_other_column_names_is_guessed_and_loaded():
    at = open_page(new_app(), PAGE["data"])
    upload(at, ("shop.csv", sample_subset_csv(400), "text/csv"))
    selected = {sb.label: sb.value for sb in at.selectbox}
    assert selected["User"] == "customer_id" and selected["Item"] == "product_id" and selected["Time"] == "ts"
    at.button(key="load_data").click().run()
    assert not at.error, [e.value for e in at.error]
    assert metric(at, "Users") == "400"
    assert at.session_state["dataset"].name == "shop.csv"


def test_several_uploaded_files_are_appended():
    raw = sample_subset_csv(300).decode().splitlines()
    header, rows = raw[0], raw[1:]
    half = len(rows) // 2
    parts = [("jan.csv", "\n".join([header] + rows[:half]).encode(), "text/csv"),
             ("feb.csv", "\n".join([header] + rows[half:]).encode(), "text/csv")]
    at = open_page(new_app(), PAGE["data"])
    upload(at, parts)
    at.button(key="load_data").click().run()
    assert not at.error, [e.value for e in at.error]
    assert metric(at, "Interactions") == f"{len(rows):,}"
    assert metric(at, "Users") == "300"


def test_item_metadata_upload_names_items():
    meta = b"product_id,name,genre\nP0051,Shiny Thing,Gadgets\n"
    at = open_page(new_app(), PAGE["data"])
    upload(at, ("shop.csv", sample_subset_csv(200), "text/csv"), ("meta.csv", meta, "text/csv"))
    at.button(key="load_data").click().run()
    assert not at.error, [e.value for e in at.error]
    assert at.session_state["dataset"].item_label("P0051") == "Shiny Thing (Gadgets)"


@pytest.mark.parametrize("content, needle", [
    (b"\x00\x01\x02 not a csv at all", ""),  # unreadable at upload time
    (b"user_id,item_id,timestamp\nu1,a,yesterday\nu1,b,today\nu1,c,tomorrow\n", "time"),  # refused at load time
])
def test_bad_upload_shows_an_error_and_keeps_the_previous_data(content, needle):
    at = open_page(new_app(), PAGE["data"])
    before = at.session_state["dataset"]
    upload(at, ("broken.csv", content, "text/csv"))
    if not at.error:
        at.button(key="load_data").click().run()
    assert not at.exception
    assert at.error, "a bad file must be explained"
    assert needle in at.error[0].value.lower()
    assert "Traceback" not in at.error[0].value
    assert at.session_state["dataset"] is before
    assert metric(at, "Users") == "3,000"


# ---------------------------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------------------------

def test_quick_demo_training_produces_a_run_with_metrics(trained):
    at = trained
    runs = at.session_state["runs"]
    assert [r.name for r in runs] == ["quick gru"]
    assert at.subheader[0].value == "Latest run: quick gru"
    recall = float(metric(at, "Test Recall@20"))
    assert recall == pytest.approx(runs[0].metrics["recall@20"], abs=1e-3)
    assert recall > runs[0].baselines["item_transitions"]["recall@20"]  # the planted pattern is learnable
    # the verdict names the metric and the interval, and its box follows the outcome
    boxes = {kind: [b.value.replace("\\", "") for b in getattr(at, kind)] for kind in ("success", "info", "warning")}
    said = [(kind, v) for kind, vs in boxes.items() for v in vs if v.startswith("quick gru vs Item kNN on Recall@20: ")]
    assert len(said) == 1 and "(95% interval " in said[0][1]
    assert said[0][0] == {"better": "success", "no clear difference": "info", "worse": "warning"}[
        said[0][1].rsplit(": ", 1)[1]]
    home = AppTest.from_file(APP, default_timeout=TIMEOUT)
    home.session_state["runs"] = runs
    home.run()
    assert any("quick gru" in c.value for c in home.sidebar.caption), "the sidebar lists the session's runs"


def test_the_finished_run_shows_its_curves_at_once_and_the_interactive_chart_on_demand(trained):
    at = open_page(trained, PAGE["train"])
    assert any("dropout 0.2 ·" in c.value for c in at.caption), "the dropout the run trained with"
    assert at.get("image"), "the curves as a static image"
    assert not at.get("plotly_chart"), "no Plotly chart until asked for (it costs the browser ~2 s of CPU)"
    at.session_state["train_final_interactive"] = True  # open the expander
    at.run()
    try:
        charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
        assert len(charts) == 1 and len(charts[0]["data"]) == 4, "raw and smoothed loss, Recall@20, MRR@20"
    finally:
        at.session_state["train_final_interactive"] = False
        at.run()


def test_presets_fill_in_the_hyperparameters():
    at = open_page(new_app(), PAGE["train"])
    at.selectbox(key="tf_preset").set_value("Thorough").run()
    assert at.number_input(key="tf_layers").value == 2
    assert at.number_input(key="tf_epochs").value == 100
    at.selectbox(key="tf_preset").set_value("Quick demo").run()
    assert at.number_input(key="tf_layers").value == 1


def test_filters_that_remove_everything_are_refused_and_the_data_kept():
    at = open_page(new_app(), PAGE["data"])
    at.number_input(key="f_min_item_count").set_value(100_000).run()
    at.button(key="load_data").click().run()
    assert not at.exception
    assert at.error and "filter" in at.error[0].value.lower()
    assert metric(at, "Items") == "300"


def test_training_settings_survive_a_page_switch():
    at = open_page(new_app(), PAGE["train"])
    at.selectbox(key="tf_preset").set_value("Balanced").run()
    at.number_input(key="tf_hidden_size").set_value(96).run()
    open_page(at, PAGE["compare"])
    open_page(at, PAGE["train"])
    assert at.selectbox(key="tf_preset").value == "Balanced"
    assert at.number_input(key="tf_hidden_size").value == 96


def test_stop_ends_training_early_and_keeps_the_best_weights():
    at = open_page(new_app(), PAGE["train"])
    at.selectbox(key="tf_preset").set_value("Thorough").run()
    at.button(key="train_start").click().run()
    job = at.session_state["job"]
    assert at.button(key="train_start").disabled, "only one training per session"
    at.run()  # the progress fragment with its Stop button
    at.button(key="train_stop").click().run()
    assert job.stop_requested
    assert job.wait(TIMEOUT)
    at.run()
    run = at.session_state["runs"][-1]
    assert run.stopped_by_user and run.epochs_run < 100
    assert any("stopped by you" in c.value for c in at.caption)


@pytest.mark.slow  # a whole Quick demo training on the sample while the pages switch: ~12 s on 2 cores
def test_page_switch_during_training_neither_loses_nor_duplicates_it():
    at = new_app()
    open_page(at, PAGE["train"])
    at.button(key="train_start").click().run()
    job = at.session_state["job"]
    for page in [PAGE["compare"], PAGE["data"], PAGE["train"]]:
        open_page(at, page)
        assert at.session_state["job"] is job
    assert job.wait(TIMEOUT)
    at.run()
    open_page(at, PAGE["recommend"])
    open_page(at, PAGE["home"])
    assert len(at.session_state["runs"]) == 1
    assert metric(at, "Runs this session") == "1"


# ---------------------------------------------------------------------------------------------------------------
# Recommend and Compare
# ---------------------------------------------------------------------------------------------------------------

def rec_tables(at: AppTest) -> list[pd.DataFrame]:
    return [d.value for d in at.dataframe if "Score" in d.value.columns]


def test_recommend_shows_k_items_for_a_user_with_the_held_out_rank(trained):
    at = open_page(trained, PAGE["recommend"])
    assert at.selectbox(key="rec_model").value == "quick gru"
    at.slider(key="rec_k").set_value(7).run()
    user_table = next(t for t in rec_tables(at) if "True next" in t.columns)
    assert len(user_table) == 7 and list(user_table["Rank"]) == list(range(1, 8))
    assert not user_table["Item"].str.fullmatch(r"P\d+").any(), "items are shown by name"
    assert any("ranks #" in m.value for m in list(at.success) + list(at.info))
    history = next(d.value for d in at.dataframe if "Role" in d.value.columns)
    assert history["Role"].iloc[-1] == "held-out next item"


def test_recommend_user_search_reaches_any_user_and_explains_no_match(trained):
    at = open_page(trained, PAGE["recommend"])
    last_user = str(at.session_state["dataset"].split.users[-1])
    at.text_input(key="rec_query").set_value(last_user).run()
    assert at.selectbox(key="rec_user").options == [last_user]
    assert at.selectbox(key="rec_user").value == last_user
    history = next(d.value for d in at.dataframe if "Role" in d.value.columns)
    assert len(history) >= 3
    at.text_input(key="rec_query").set_value("no-such-user-xyz").run()
    assert not at.exception
    assert any("No user ID contains" in w.value for w in at.warning)
    at.text_input(key="rec_query").set_value("").run()


def test_recommend_for_a_hand_built_history_and_side_by_side(trained):
    at = open_page(trained, PAGE["recommend"])
    at.slider(key="rec_k").set_value(5).run()
    items = at.session_state["dataset"].item_ids
    at.multiselect(key="rec_history").set_value(items[10:13]).run()
    what_if = [t for t in rec_tables(at) if "True next" not in t.columns and "Category" in t.columns]
    assert len(what_if) == 1 and len(what_if[0]) == 5
    at.toggle(key="rec_exclude").set_value(True).run()
    what_if = [t for t in rec_tables(at) if "True next" not in t.columns and "Category" in t.columns][0]
    assert not set(what_if["Item ID"]) & set(items[10:13]), "seen items are excluded"
    at.radio(key="rec_side_source").set_value("The hand-built history").run()
    side = [t for t in rec_tables(at) if list(t.columns) == ["Rank", "Item", "Score"]]
    assert len(side) == 6 and all(len(t) == 5 for t in side)  # the run and the five baselines


def test_compare_lists_runs_and_baselines(trained):
    at = open_page(trained, PAGE["compare"])
    table = next(d.value for d in at.dataframe if "Recall@20" in d.value.columns)
    # the run, its hybrid row right below it (on by default), then the baselines
    assert list(table["Name"])[0] == "quick gru" and list(table["Name"])[1].startswith("GRU + ")
    assert list(table["Name"])[2:] == ["MostPopular", "Item-to-item transitions", "Repeat own items", "Item kNN",
                                       "Session kNN (V-SKNN)"]
    assert table.loc[0, "Parameters"] > 0 and table.loc[0, "Model"] == "GRU" and table.loc[1, "Model"] == "GRU + kNN"
    assert (table["Recall@20 95% low"] < table["Recall@20"]).all() and \
        (table["Recall@20"] < table["Recall@20 95% high"]).all()
    boxes = [b.value.replace("\\", "") for b in (*at.success, *at.info, *at.warning)]  # text, markdown-escaped
    assert any(v.startswith("quick gru vs Item kNN on Recall@20: ") and "(95% interval " in v for v in boxes)
    assert len(at.get("download_button")) == 1
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    assert len(charts) == 4  # bars with error bars, validation and loss curves, recall by history length
    bars = charts[0]["data"][0]
    assert bars["error_x"]["type"] == "data"
    assert "whiskers: 95% interval" in charts[0]["layout"]["xaxis"]["title"]["text"]
    assert "by history length" in charts[3]["layout"]["title"]["text"] and len(charts[3]["data"]) == 6
    assert any(m.value.replace("\\", "").startswith("**Does order matter?** quick gru: Shuffling") for m in at.markdown)
    at.selectbox(key="cmp_metric").set_value("mrr").run()
    boxes = [b.value.replace("\\", "") for b in (*at.success, *at.info, *at.warning)]
    assert any("on MRR@20: " in v and "95% interval" in v for v in boxes)


def test_sessions_do_not_share_runs(trained):
    assert len(trained.session_state["runs"]) >= 1
    other = new_app()
    assert other.session_state["runs"] == []
    assert metric(other, "Runs this session") == "0"
