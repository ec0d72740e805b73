"""The bad-input corpus (tests/data/bad/, expectations in expected.json) answered the same way by the library, the
CLI and the app; odd but valid files load as a user would expect; untrusted text (item titles and IDs, user IDs,
categories, file and run names) is always shown as text, never as HTML or markdown; CSV downloads cannot run as
spreadsheet formulas."""
from __future__ import annotations

import csv
import html
import io
import json
import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import pandas as pd
import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from seqrec import SeqrecError, TrainConfig, load_interactions, load_item_metadata, read_table
from seqrec.cli import main as cli_main
from seqrec.runs.export import neutralise_formulas, to_safe_csv
from studio.textsafe import md_escape, plot_escape

ROOT = Path(__file__).resolve().parents[3]
BAD = ROOT / "tests" / "data" / "bad"
sys.path.insert(0, str(BAD))
from make_corpus import files as corpus_files  # noqa: E402
from make_corpus import generate  # noqa: E402

from studio.nav import PAGE  # noqa: E402

MANIFEST = json.loads((BAD / "expected.json").read_text(encoding="utf-8"))["cases"]
REFUSED = [n for n, c in MANIFEST.items() if "error" in c]
ACCEPTED = [n for n, c in MANIFEST.items() if "loads" in c]
ITEMS = {n for n, c in MANIFEST.items() if c.get("kind") == "items"}
APP = str(ROOT / "app.py")
TIMEOUT = 120
HOSTILE = ["<script>alert(1)</script>", "<b>bold</b>", "**stars**", "[x](javascript:alert(1))",
           '=HYPERLINK("http://x","click")', ":red[cat]", "<img src=x onerror=alert(1)>", "$x^2$", "# heading",
           "1. list", "www.example.com", "a@b.org", "`code`", "&lt;b&gt;", "line\nbreak", "~~strike~~", "| a | b |"]


def shown(markdown: str) -> str:
    """What a CommonMark renderer shows for text without markup: a backslash before ASCII punctuation disappears."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    """Name -> path of every corpus file; the two very large ones are generated into a temporary folder."""
    tmp = tmp_path_factory.mktemp("bad")
    paths = {}
    for name, case in MANIFEST.items():
        if case.get("generated"):
            (tmp / name).write_bytes(generate(name))
            paths[name] = tmp / name
        else:
            paths[name] = BAD / name
    return paths


def load(path: Path, name: str):
    return load_item_metadata(path) if name in ITEMS else load_interactions(path)


# ------------------------------------------------------------------------------------------------------------------
# The corpus itself
# ------------------------------------------------------------------------------------------------------------------

def test_corpus_has_every_case_of_the_issue_and_matches_its_generator():
    stored = {p.name for p in BAD.iterdir() if p.suffix == ".csv"}
    generated = {n for n, c in MANIFEST.items() if c.get("generated")}
    assert stored | generated == set(MANIFEST), "every file has an expectation and every expectation a file"
    assert len(REFUSED) >= 30
    assert {n: d for n, d in corpus_files().items()} == {n: (BAD / n).read_bytes() for n in stored}, \
        "the stored files are exactly what make_corpus.py writes"
    assert all((BAD / n).stat().st_size < 20_000 for n in stored)
    covers = " ".join(c["covers"] for c in MANIFEST.values()).lower()
    for case in ["empty file", "header only", "binary garbage", "wrong delimiter", "missing user", "missing item",
                 "missing time", "ambiguous", "mixed", "unparseable", "negative", "far-future", "nan", "empty user",
                 "every user with one", "a single item", "extremely long line", "quoted fields with line breaks",
                 "utf-8 bom", "utf-16", "latin-1", "csv-injection", "html / script", "duplicate rows",
                 "gzip-compressed", "zip archive holding one csv", "excel workbook", "compression bomb",
                 "dropped and counted", "notice naming the encoding"]:
        assert case in covers, case


# ------------------------------------------------------------------------------------------------------------------
# Library
# ------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", REFUSED)
def test_library_refuses_with_the_exact_sentence(corpus, name):
    with pytest.raises(SeqrecError) as info:
        load(corpus[name], name)
    msg = str(info.value)
    assert msg == MANIFEST[name]["error"]
    assert "\n" not in msg and len(msg) < 400
    assert not re.search(r"Traceback|pyarrow|ParserError|Errno|dtype|Timestamp\(|\bNone\b", msg), msg


@pytest.mark.parametrize("name", ACCEPTED)
def test_odd_but_valid_files_load_as_expected(corpus, name):
    want = MANIFEST[name]["loads"]
    if name in ITEMS:
        meta = load_item_metadata(corpus[name])
        assert meta["title"].to_dict() == want["titles"]
        assert meta["category"].to_dict() == want["categories"]
        return
    data = load_interactions(corpus[name])
    assert (data.n_users, data.n_items, len(data)) == (want["users"], want["items"], want["interactions"])
    assert {k: v for k, v in data.columns.to_dict().items() if v} == want["columns"]
    for user, items in want["sequences"].items():
        assert data.df.loc[data.df["user"] == user, "item"].tolist() == items, user
    assert data.notes == want["notes"]
    assert data.raw_rows == want.get("raw_rows", want["interactions"])
    assert data.dropped_rows == want.get("dropped_rows", {})
    if "ratings" in want:
        assert sorted(data.df["rating"].unique()) == want["ratings"]
    if "raw_cell" in want:
        cell = want["raw_cell"]
        assert read_table(corpus[name])[cell["column"]].iloc[cell["row"]] == cell["value"]


def test_duplicate_rows_are_dropped_only_when_every_column_matches():
    text = ("user_id,item_id,timestamp,event\nu1,a,1,view\nu1,a,1,view\nu1,a,1,cart\nu1,b,2,view\n"
            "u2,a,1,view\nu2,b,2,view\nu2,c,3,view\nu2,c,4,view\n")
    data = load_interactions(text.encode())
    assert data.df.loc[data.df["user"] == "u1", "event"].tolist() == ["view", "cart", "view"]
    assert data.df.loc[data.df["user"] == "u2", "item"].tolist() == ["a", "b", "c", "c"]  # a real repeat, kept
    assert data.notes == ["removed 1 exact duplicate row(s) (same user, item and time as an earlier row)"]


def test_plain_ordering_numbers_may_be_negative_but_epoch_times_may_not():
    rows = "u1,a,-3\nu1,b,-2\nu1,c,5\nu2,a,-1\nu2,b,0\nu2,c,1\n"
    data = load_interactions(("user_id,item_id,timestamp\n" + rows).encode())
    assert not data.time_is_datetime and len(data) == 6
    epoch_ms = "u1,a,1714557600000\nu1,b,1714557660000\nu1,c,99999999999999\nu2,a,1714557600000\n" \
               "u2,b,1714557660000\nu2,c,1714557720000\n"
    with pytest.raises(SeqrecError, match=r"1 value\(s\) after the year 2100, e.g. '99999999999999' on line 4"):
        load_interactions(("user_id,item_id,timestamp\n" + epoch_ms).encode())  # one bad value, unit kept


# ------------------------------------------------------------------------------------------------------------------
# CLI: exit 2, exactly one line `error: <sentence>`, no traceback
# ------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [n for n in REFUSED if n not in ITEMS])
def test_cli_stats_and_train_exit_2_with_the_sentence(corpus, name, capsys):
    for args in (["stats", str(corpus[name])], ["train", str(corpus[name]), "--epochs", "1", "--quiet"]):
        assert cli_main(args) == 2, args
        out, err = capsys.readouterr()
        assert out == ""
        assert err == f"error: {MANIFEST[name]['error']}\n"


@pytest.mark.parametrize("name", [n for n in ACCEPTED if n not in ITEMS])
def test_cli_stats_reads_odd_but_valid_files(corpus, name, capsys):
    assert cli_main(["stats", str(corpus[name])]) == 0
    stats = json.loads(capsys.readouterr().out)
    want = MANIFEST[name]["loads"]
    assert (stats["users"], stats["items"], stats["interactions"]) == (want["users"], want["items"],
                                                                       want["interactions"])
    assert stats["filters_applied"] == want["notes"]
    assert stats["dropped_rows"] == want.get("dropped_rows", {})


def test_cli_as_a_real_process(corpus):
    cases = {"empty.csv": ["stats"], "binary_garbage.csv": ["stats"], "time_negative.csv": ["train", "--epochs", "1"],
             "long_id_line.csv": ["train", "--epochs", "1"], "utf16_le_no_bom.csv": ["stats"]}
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    def run(name):
        cmd = [sys.executable, "-m", "seqrec", cases[name][0], str(corpus[name]), *cases[name][1:]]
        return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    with ThreadPoolExecutor(max_workers=2) as pool:
        procs = dict(zip(cases, pool.map(run, cases)))
    for name, proc in procs.items():
        if name in REFUSED:
            assert proc.returncode == 2, (name, proc.stderr)
            assert proc.stdout == "" and "Traceback" not in proc.stderr
            assert proc.stderr.splitlines() == [f"error: {MANIFEST[name]['error']}"]
        else:
            assert proc.returncode == 0, proc.stderr
            assert json.loads(proc.stdout)["interactions"] == MANIFEST[name]["loads"]["interactions"]


# ------------------------------------------------------------------------------------------------------------------
# App: the Data page shows the sentence in st.error and keeps the data it had
# ------------------------------------------------------------------------------------------------------------------

def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def data_page() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    at.switch_page(PAGE["data"])
    at.run()
    at.radio(key="data_source").set_value("Upload CSV files").run()
    assert not at.exception, at.exception
    return at


def upload(at: AppTest, files, meta=None, load: bool = True) -> AppTest:
    """Put files in the uploaders and, when the page accepted them, press 'Load this data'."""
    at.file_uploader(key="upload_interactions").set_value(files)
    at.file_uploader(key="upload_items").set_value(meta)
    at.run()
    if load and not at.error:
        at.button(key="load_data").click().run()
    assert not at.exception, at.exception
    return at


@pytest.fixture(scope="module")
def refusing_page():
    """One app session that is handed every bad file in turn, like a user trying exports one after another."""
    return data_page()


@pytest.mark.parametrize("name", REFUSED)
def test_data_page_shows_the_sentence_and_keeps_the_previous_data(refusing_page, corpus, name):
    at = refusing_page
    before = at.session_state["dataset"]
    data = corpus[name].read_bytes()
    if name in ITEMS:
        upload(at, ("utf8_bom_crlf.csv", corpus["utf8_bom_crlf.csv"].read_bytes(), "text/csv"),
               (name, data, "text/csv"))
    else:
        upload(at, (name, data, "text/csv"))
    errors = [e.value for e in at.error]
    assert errors == [md_escape(MANIFEST[name]["error"])]
    assert plain(errors[0]) == MANIFEST[name]["error"]  # shown as written: file names and values are not markup
    assert at.session_state["dataset"] is before
    assert metric(at, "Users") == f"{before.stats['users']:,}"


@pytest.fixture(scope="module")
def loading_page():
    return data_page()


@pytest.mark.parametrize("name", [n for n in ACCEPTED if n not in ITEMS])
def test_data_page_loads_odd_but_valid_files(loading_page, corpus, name):
    at = upload(loading_page, (name, corpus[name].read_bytes(), "text/csv"))
    assert not at.error, [e.value for e in at.error]
    want = MANIFEST[name]["loads"]
    ds = at.session_state["dataset"]
    assert ds.name == name
    assert metric(at, "Users") == str(want["users"]) and metric(at, "Interactions") == str(want["interactions"])
    notes = [shown(c.value).removeprefix(":material/filter_alt: ") for c in at.caption
             if c.value.startswith(":material/filter_alt:")]
    assert notes == want["notes"]  # said so on the page


# ------------------------------------------------------------------------------------------------------------------
# Text-safe rendering
# ------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", HOSTILE)
def test_md_escape_leaves_no_markup_and_shows_the_text(text):
    escaped = md_escape(text)
    assert shown(escaped) == " ".join(text.splitlines())
    unescaped = re.sub(r"\\.", "", escaped)  # what is left after removing every escaped character
    assert not re.search(r"[<>*_`\[\]|~$&:]", unescaped), escaped
    assert not re.match(r"\s*([#+\-=>]|\d+[.)])", escaped), escaped  # no heading, list or quote
    assert not re.search(r"www\.\w|@\w+\.\w", escaped)  # no autolinked address


@pytest.mark.parametrize("text", HOSTILE)
def test_plot_escape_shows_the_text_and_no_tag(text):
    escaped = plot_escape(text)
    assert "<" not in escaped and ">" not in escaped
    assert html.unescape(escaped) == text


@pytest.fixture(scope="module")
def hostile_dataset(corpus):
    from seqrec.service.dataset import load_dataset

    return load_dataset([corpus["html_ids.csv"]], ["html_ids.csv"], items=corpus["items_html.csv"],
                        items_name="items_html.csv")


@pytest.fixture(scope="module")
def hostile_runs(hostile_dataset):
    """A tiny GRU and LSTM on the hostile data, one named like a formula with HTML and markdown in it."""
    from seqrec import train_run

    cfg = TrainConfig(embedding_dim=8, hidden_size=8, epochs=1, batch_size=8, seed=1)
    return [train_run(hostile_dataset.split, cfg.replace(model=m), name=n)
            for m, n in (("gru", '=HYPERLINK("x","<b>run</b>")'), ("lstm", "**lstm** [l](javascript:x)"))]


def _strings(obj) -> str:
    return json.dumps(obj.to_plotly_json() if hasattr(obj, "to_plotly_json") else obj, default=str)


def test_figures_show_titles_and_names_escaped(hostile_dataset, hostile_runs):
    from seqrec.evaluation.compare import comparison_table
    from seqrec.inspect.gates import trace_history
    from studio.figures import data as data_figures
    from studio.figures import gates as gate_figures
    from studio.figures import training as figures

    ds = hostile_dataset
    labels = [ds.item_label(i) for i in ds.item_ids]
    assert "<script>alert(1)</script> (<i>cat</i>)" in labels
    pop = data_figures.popularity_long_tail(ds)
    assert sorted(pop.data[0].text) == sorted(plot_escape(x) for x in labels)
    table = comparison_table(hostile_runs, ds, 10)
    figs = [pop, figures.metric_bars(table, "Recall@10"), figures.validation_curves(hostile_runs, "recall@10"),
            figures.loss_curves(hostile_runs)]
    assert list(figs[1].data[0].y).count(plot_escape(hostile_runs[0].name)) == 1
    assert [t.name for t in figs[2].data] == [plot_escape(r.name) for r in hostile_runs]
    traces = [trace_history(r, ds.item_ids[:5]) for r in hostile_runs]
    label = ds.item_label
    figs += [gate_figures.gate_heatmap(traces[0], "update", 0, None, label),
             gate_figures.gate_means_chart(traces[1], 0, label), gate_figures.hidden_change_bars(traces[0], 0, label),
             gate_figures.compare_hidden_change(traces, [r.name for r in hostile_runs], label)]
    assert any("&lt;script&gt;" in str(t) for t in figs[4].layout.xaxis.ticktext)
    for fig in figs:
        text = _strings(fig)
        for raw in ("<script>", "<b>", "<i>", "<img", "<b>run</b>"):
            assert raw not in text, (raw, fig.layout.title.text)
    for t in figs[-1].data:
        assert "javascript" not in t.hovertemplate and "HYPERLINK" not in t.hovertemplate  # names are data


def plain(markdown: str) -> str:
    """The text a markdown element shows, after checking that nothing in it is markup except the page's own bold:
    no unescaped HTML, link, code, math, strike-through, directive or autolink is left once escapes are removed."""
    bare = re.sub(r"\\.", "", markdown)
    assert not re.search(r"[<>\[\]`$~|&]|:\w+\[|javascript:|www\.\w", bare), markdown
    assert not re.search(r"\*\*(shop|bold|stars|cat|u2)\*\*", bare), markdown
    return shown(markdown)


def chart_text(at: AppTest) -> str:
    """Every plotly chart of the page as decoded JSON text (the spec escapes < and & as \\u003c, \\u0026)."""
    return " ".join(json.dumps(json.loads(c.proto.spec), ensure_ascii=False) for c in at.get("plotly_chart"))


def train_quick_demo(at: AppTest, name: str) -> AppTest:
    at.switch_page(PAGE["train"])
    at.run()
    at.text_input(key="tf_name").set_value(name)
    at.button(key="train_start").click().run()
    assert not at.exception, at.exception
    job = at.session_state["job"]
    assert job.wait(TIMEOUT), "the Quick demo did not finish"
    at.run()
    assert not at.exception, at.exception
    return at


def test_pages_show_hostile_titles_ids_and_names_as_text(corpus, monkeypatch):
    downloads = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def spy(self, path_or_data, mimetype, kind, filename=None):
        downloads[filename] = path_or_data
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", spy)
    file_name = "**shop** <b>x</b> [l](javascript:x).csv"
    run_name = '=HYPERLINK("http://x","<b>run</b>") **bold**'
    at = upload(data_page(), (file_name, corpus["html_ids.csv"].read_bytes(), "text/csv"),
                ("items_html.csv", corpus["items_html.csv"].read_bytes(), "text/csv"))
    assert not at.error, [e.value for e in at.error]

    # Data: the file name in the heading and the flash; titles and IDs in the preview table and the chart
    heading = next(s.value for s in at.subheader if s.value.startswith("Current data"))
    assert plain(heading) == f"Current data: {file_name}"
    assert [plain(s.value) for s in at.success] == [f"Loaded **{file_name}**: 4 users, 5 items, 20 interactions."]
    preview = at.dataframe[0].value
    assert set(preview["item name"]) == {"<script>alert(1)</script> (<i>cat</i>)", "<b>bold</b> (**cat**)",
                                         "**stars** (:red[cat])", "[x](javascript:alert(1)) (<img src=x "
                                         "onerror=alert(1)>)", '=HYPERLINK("http://x","click") ($x^2$)'}
    assert "<script>alert(1)</script>" in set(preview["user"])
    specs = chart_text(at)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in specs and "<script>" not in specs

    # Home and sidebar: the file name
    at.switch_page(PAGE["home"])
    at.run()
    assert f"**{file_name}**" in [plain(m.value) for m in at.sidebar.markdown]
    assert any(plain(m.value).startswith(f":material/database: Current data: **{file_name}**") for m in at.markdown)

    # Train: the run name in the heading and the verdict
    train_quick_demo(at, run_name)
    assert plain(at.subheader[0].value) == f"Latest run: {run_name}"
    verdicts = [plain(v.value) for v in list(at.success) + list(at.warning) + list(at.info)
                if " vs " in plain(v.value)]  # better / worse / no clear difference: green, amber, blue
    # the network's verdict, then the hybrid's (on by default), named as a model, never from the data
    assert verdicts and verdicts[0].startswith(run_name), verdicts
    assert all(v.startswith(run_name) or v.startswith("GRU + ") for v in verdicts), verdicts

    # Recommend: user IDs in headings, titles in tables and sentences
    at.switch_page(PAGE["recommend"])
    at.run()
    assert not at.exception, at.exception
    assert at.selectbox(key="rec_model").value == run_name  # widget options are plain text already
    user = at.selectbox(key="rec_user").value
    assert any(m.value.startswith("**History of ") and plain(m.value).startswith(f"**History of {user}**")
               for m in at.markdown)
    history = next(d.value for d in at.dataframe if "Role" in d.value.columns)
    titles = {"<script>alert(1)</script>", "<b>bold</b>", "**stars**", "[x](javascript:alert(1))",
              '=HYPERLINK("http://x","click")'}
    assert set(history["Item"]) <= titles and len(set(history["Item"])) == 5
    sentence = plain(next(s.value for s in list(at.success) + list(at.info) if "true next item" in s.value))
    assert any(sentence.startswith(f"The true next item, {t} (") for t in titles), sentence
    assert f"**{run_name}**" in [plain(m.value) for m in at.markdown if m.value.startswith("**")], "side by side"
    reads = plain(next(c.value for c in at.caption if c.value.startswith("Reads as: ")))
    assert set(reads.removeprefix("Reads as: ").split("  →  ")) <= titles

    # Compare: the verdict, the chart and the CSV download
    at.switch_page(PAGE["compare"])
    at.run()
    assert not at.exception, at.exception
    assert any(plain(v.value).startswith(run_name) for v in list(at.success) + list(at.warning) + list(at.info))
    table = next(d.value for d in at.dataframe if "Recall@20" in d.value.columns)
    assert table["Name"].iloc[0] == run_name
    specs = chart_text(at)
    assert plot_escape(run_name).replace('"', '\\"') in specs and "<b>run</b>" not in specs
    exported = list(csv.reader(io.StringIO(downloads["seqrec_comparison.csv"].decode(), newline="")))
    assert exported[1][0] == "'" + run_name


# ------------------------------------------------------------------------------------------------------------------
# Spreadsheet-safe CSV export
# ------------------------------------------------------------------------------------------------------------------

def test_exported_csv_neutralises_formulas_and_keeps_numbers():
    df = pd.DataFrame({"title": ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)", "\tx", "\r=1", "plain", "-5"],
                       "score": [-0.5, 1.0, -2.0, 0.0, 3.5, -1e-9, 2.0, -5.0],
                       "count": [-1, 2, 3, 4, 5, 6, 7, 8]})
    rows = list(csv.reader(io.StringIO(to_safe_csv(df).decode("utf-8"), newline="")))
    assert rows[0] == ["title", "score", "count"]
    assert [r[0] for r in rows[1:]] == ["'=HYPERLINK(\"http://x\")", "'+1+1", "'-2+3", "'@SUM(A1)", "'\tx", "'\r=1",
                                        "plain", "-5"]  # "-5" is a number to a spreadsheet, not a formula
    assert [float(r[1]) for r in rows[1:]] == df["score"].tolist()  # negative numbers are not mangled
    assert [int(r[2]) for r in rows[1:]] == df["count"].tolist()
    assert neutralise_formulas(pd.DataFrame({"=x": ["a"]})).columns.tolist() == ["'=x"]
    assert df["title"].iloc[0] == '=HYPERLINK("http://x")', "the caller's table is not changed"


def test_exported_csv_handles_string_dtypes_and_missing_values():
    df = pd.DataFrame({"id": pd.array(["=1+1", None, "ok"], dtype="string"), "cat": pd.Categorical(["@x", "y", "@x"])})
    rows = list(csv.reader(io.StringIO(to_safe_csv(df).decode())))
    assert rows[1:] == [["'=1+1", "'@x"], ["", "y"], ["ok", "'@x"]]
