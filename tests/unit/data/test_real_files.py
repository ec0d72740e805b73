"""Real files as they come, every case on a small generated file: any file name, compressed exports with
bomb guards, partial gaps dropped and counted, legacy encodings, more schemas (and why each column was taken),
numeric / date filters, sessions cut from user logs, and the same through the CLI and the Data page."""
from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import zipfile
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pandas as pd
import pytest

import seqrec.data.read as read_module
from seqrec import Filters, SeqrecError, dataset_stats, leave_last_out, load_interactions, load_item_metadata
from seqrec.cli import main as cli_main
from seqrec.data.columns import explain_columns, guess_columns
from seqrec.data.metadata import guess_title_column, titles_from_table
from seqrec.data.read import read_table

ROOT = Path(__file__).resolve().parents[3]
GOOD = "user_id,item_id,timestamp\n" + "".join(f"u{u},i{(u * 3 + k) % 7},{1700000000 + 60 * k}\n"
                                               for u in range(4) for k in range(5))


def error_of(fn, *args, **kw) -> str:
    with pytest.raises(SeqrecError) as info:
        fn(*args, **kw)
    msg = str(info.value)
    assert "\n" not in msg and "Traceback" not in msg and len(msg) < 400
    return msg


def zip_of(members: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for n, text in members.items():
            z.writestr(n, text)
    return buf.getvalue()


def retail_csv(rows: int = 400, seed: int = 0) -> str:
    """An Online-Retail-shaped export: InvoiceNo, StockCode, Description, Quantity (negative = cancellation),
    InvoiceDate, UnitPrice, CustomerID written as 17850.0 and empty for guest checkouts, Country."""
    rng = np.random.default_rng(seed)
    lines = ["InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country"]
    for r in range(rows):
        cust = "" if r % 5 == 4 else f"{17850 + r % 12}.0"
        code = ["85123A", "71053", "84406B", "22423", "POST", "47566"][int(rng.integers(0, 6))]
        qty = -1 if r % 17 == 3 else int(rng.integers(1, 12))
        day = 1 + r // 40
        lines.append(f"{536365 + r // 3},{code},{code} £ DESCRIPTION,{qty},2010-12-{day:02d} {8 + r % 10:02d}:"
                     f"{r % 60:02d}:00,2.55,{cust},United Kingdom")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------------------------
# 1-2. Any file name; compressed exports
# ------------------------------------------------------------------------------------------------------------------

def test_any_file_name_the_content_decides(tmp_path):
    p = tmp_path / "u.data"  # MovieLens' raw file: no extension, headerless, tab-separated
    p.write_text("".join(f"{u}\t{10 + (u + k) % 6}\t{3 + k % 2}\t{881250949 + k}\n" for u in range(1, 5)
                         for k in range(4)))
    data = load_interactions(p)
    assert (data.columns.user, data.columns.item, data.columns.time) == ("column_1", "column_2", "column_4")
    assert data.n_users == 4 and len(data) == 16


@pytest.mark.parametrize("kind, pack", [("gzip", gzip.compress), ("bzip2", bz2.compress), ("xz", lzma.compress)])
def test_compressed_files_are_unpacked_whatever_their_name(kind, pack):
    for name in ("log.csv." + {"gzip": "gz", "bzip2": "bz2", "xz": "xz"}[kind], "export.csv", "data"):
        data = load_interactions([pack(GOOD.encode())], names=[name])
        assert len(data) == 20 and data.notes[0].startswith(f"unpacked {name} ({kind}, ")


def test_zip_with_one_csv_and_with_several_of_the_same_columns():
    one = load_interactions([zip_of({"export/interactions.csv": GOOD})], names=["x.zip"])
    assert len(one) == 20 and one.notes == ["unpacked x.zip (zip, 1 file)"]
    head, body = GOOD.split("\n", 1)
    lines = body.splitlines()
    two = load_interactions([zip_of({"jan.csv": head + "\n" + "\n".join(lines[:10]) + "\n",
                                     "feb.csv": head + "\n" + "\n".join(lines[10:]) + "\n",
                                     "__MACOSX/._jan.csv": "junk", ".DS_Store": "junk"})], names=["months.zip"])
    assert len(two) == 20 and two.notes == ["unpacked months.zip (zip, 2 files with the same columns, appended)"]


def test_zip_problems_get_their_sentence():
    msg = error_of(load_interactions, [zip_of({"a.csv": GOOD, "b.csv": "user,item\nu1,i1\n"})], names=["m.zip"])
    assert msg.startswith("m.zip/b.csv has columns ['user', 'item'] but m.zip/a.csv has")
    assert error_of(load_interactions, [zip_of({})], names=["e.zip"]) == \
        "e.zip is a zip archive with no files in it; zip the CSV export itself and try again."
    assert "no files" in error_of(load_interactions, [zip_of({"__MACOSX/._a.csv": "x"})], names=["m.zip"])
    assert "damaged" in error_of(load_interactions, [gzip.compress(GOOD.encode())[:-30]], names=["cut.gz"])


def test_bomb_guards_ratio_and_stated_uncompressed_limit(monkeypatch):
    bomb = gzip.compress(b"user_id,item_id,timestamp\n" + b"\n" * (70 * 1024**2), compresslevel=9)
    msg = error_of(load_interactions, [bomb], names=["bomb.gz"])
    assert msg.startswith("bomb.gz unpacks to more than 200 times its compressed size")
    monkeypatch.setattr(read_module, "MAX_UNCOMPRESSED_BYTES", 100)
    msg = error_of(load_interactions, [gzip.compress(GOOD.encode())], names=["big.gz"])
    assert msg.startswith("big.gz unpacks to more than")
    msg = error_of(load_interactions, [zip_of({"a.csv": GOOD})], names=["big.zip"])
    assert msg.startswith("big.zip unpacks to more than")


def test_excel_workbook_and_double_compression_are_refused():
    xlsx = zip_of({"[Content_Types].xml": "<x/>", "xl/workbook.xml": "<x/>"})
    assert "Excel workbook" in error_of(load_interactions, [xlsx], names=["book.csv"])
    assert "compressed twice" in error_of(load_interactions, [gzip.compress(gzip.compress(GOOD.encode()))],
                                          names=["twice.gz"])


# ------------------------------------------------------------------------------------------------------------------
# 4. Legacy encodings and u.item
# ------------------------------------------------------------------------------------------------------------------

def test_windows_1252_names_with_pound_signs_and_accents_show_correctly():
    text = retail_csv(60).replace("United Kingdom", "Café “Ü”")
    data = read_table(text.encode("cp1252"), "retail.csv")
    assert data["Description"].iloc[0].endswith("£ DESCRIPTION") and data["Country"].iloc[0] == "Café “Ü”"
    assert data.attrs["notes"] == ["retail.csv is not UTF-8 (first on line 2), so it was read as Windows-1252; "
                                   "check that names with accents look right"]


def test_a_cyrillic_file_is_detected_not_read_as_western():
    text = "user,item,time\n" + "".join(f"u{k % 3},Книга номер {k},{1700000000 + k}\n" for k in range(60))
    df = read_table(text.encode("cp1251"), "ru.csv")
    assert df["item"].iloc[0] == "Книга номер 0" and "Windows-1251" in df.attrs["notes"][0]


def test_u_item_style_metadata_loads_with_title_guessed_from_values():
    rows = ["1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|0|0|1",
            "2|GoldenEye (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?GoldenEye%20(1995)|0|1|0",
            "3|Café Über, Le (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Cafe|1|0|0"]
    meta = load_item_metadata(("\n".join(rows) + "\n").encode("latin-1"), "u.item")
    assert meta["title"].to_dict() == {"1": "Toy Story (1995)", "2": "GoldenEye (1995)", "3": "Café Über, Le (1995)"}
    assert "Latin-1" in meta.attrs["notes"][0] or "Windows-1252" in meta.attrs["notes"][0]


def test_titles_from_a_column_of_the_interaction_file():
    df = read_table(retail_csv(60).encode())
    assert guess_title_column(df, exclude={"StockCode"}) == "Description"
    meta = titles_from_table(df, "StockCode", "Description")
    assert meta.loc["85123A", "title"] == "85123A £ DESCRIPTION" and meta.index.is_unique


# ------------------------------------------------------------------------------------------------------------------
# 3 and 5. Gaps and column roles from real schemas
# ------------------------------------------------------------------------------------------------------------------

def test_online_retail_shape_loads_without_options():
    data = load_interactions(retail_csv().encode())
    assert (data.columns.user, data.columns.item, data.columns.time) == ("CustomerID", "StockCode", "InvoiceDate")
    assert data.dropped_rows == {"CustomerID": 80}
    assert set(data.df["user"]) == {str(17850 + k) for k in range(12)}  # '17850.0' is the user '17850'
    assert any("read as whole numbers ('17850')" in n for n in data.notes)
    why = explain_columns(read_table(retail_csv().encode()))
    assert why["item"] == ("StockCode", "its name 'StockCode' is a usual item column name")


@pytest.mark.parametrize("header, roles", [
    ("steamid,appid,timestamp", ("steamid", "appid", "timestamp")),
    ("customer_id,sku,created_at", ("customer_id", "sku", "created_at")),
    ("reviewerID,asin,unixReviewTime", ("reviewerID", "asin", "unixReviewTime")),
    ("buyer_id,product_code,order_date", ("buyer_id", "product_code", "order_date")),
])
def test_more_schemas_map_automatically(header, roles):
    body = "".join(f"{7656119800000 + u},{(u + k) % 5 + 10},{1700000000 + 3600 * k}\n" for u in range(3)
                   for k in range(4))
    g = guess_columns(read_table((header + "\n" + body).encode()))
    assert (g["user"], g["item"], g["time"]) == roles


def test_mostly_empty_user_column_beside_a_session_column_falls_back_to_the_session():
    lines = ["sessionId;userId;itemId;timeframe;eventdate"]
    for s in range(1, 7):
        for k in range(3):
            lines.append(f"{s};{'33' if s == 1 else ''};{100 + (s + k) % 5};{k * 1000};2016-05-0{1 + k}")
    df = read_table(("\n".join(lines) + "\n").encode())
    assert guess_columns(df)["user"] == "sessionId"
    col, why = explain_columns(df)["user"]
    assert col == "sessionId" and "'userId' is 83% empty" in why
    data = load_interactions(("\n".join(lines) + "\n").encode())
    assert data.n_users == 6 and data.dropped_rows == {}


STEAM = "steamid,appid,playtime_forever\n" + "".join(f"{7656119800000 + u},{[10, 40, 70, 20, 50][(u + k) % 5]},{k}\n"
                                                        for k in range(4) for u in range(3))


def test_a_file_without_time_column_is_refused_with_the_file_order_way_out():
    msg = error_of(load_interactions, STEAM.encode())
    assert "no time column was found" in msg and "--time-col" in msg
    assert "if each user's rows are already in time order, choose '(file order)' as the time column" in msg


def test_file_order_takes_each_users_rows_as_they_appear_and_says_so():
    data = load_interactions(STEAM.encode(), time="(file order)")
    assert data.columns.time == "(file order)" and not data.time_is_datetime
    assert any(n.startswith("no time column: each user's rows are taken in the order of the file") for n in data.notes)
    df = data.df
    for u in range(3):  # each user's items exactly as the file lists them (not sorted by any other column)
        expected = [str([10, 40, 70, 20, 50][(u + k) % 5]) for k in range(4)]
        assert df[df["user"].astype(str) == str(7656119800000 + u)]["item"].astype(str).tolist() == expected
    split = leave_last_out(data)
    assert split.vocab.decode([split.test_target[0]]) == ["20"]  # user 0's last row is held out for the test
    stats = dataset_stats(data)
    assert stats["columns"]["time"] == "(file order)" and stats["interactions"] == 12
    for kw, words in (({"date_from": "2011-01-01"}, "a date range was given but the file has no time column"),
                      ({"session_gap_minutes": 30}, "a session gap was given but the file has no time column")):
        msg = error_of(load_interactions, STEAM.encode(), time="(file order)", filters=Filters(**kw))
        assert words in msg and "choose a time column" in msg


def test_cli_file_order_option_and_its_note(tmp_path, capsys):
    path = tmp_path / "steam.csv"
    path.write_text(STEAM)
    assert cli_main(["stats", str(path)]) == 2
    assert "(file order)" in capsys.readouterr().err
    assert cli_main(["stats", str(path), "--time-col", "(file order)"]) == 0
    out, err = capsys.readouterr()
    assert "note: no time column: each user's rows are taken in the order of the file." in err
    assert json.loads(out)["columns"]["time"] == "(file order)"


# ------------------------------------------------------------------------------------------------------------------
# 6. Filters
# ------------------------------------------------------------------------------------------------------------------

def test_numeric_condition_on_any_column_drops_cancellations():
    data = load_interactions(retail_csv().encode(), filters=Filters(where=["Quantity>0"]))
    all_rows = load_interactions(retail_csv().encode())
    assert len(data) < len(all_rows) and any(n.startswith("kept rows where Quantity>0 (") for n in data.notes)
    raw = read_table(retail_csv().encode())
    assert (pd.to_numeric(raw["Quantity"]) > 0).sum() < len(raw)


@pytest.mark.parametrize("cond, words", [("Quantity >> 0", "not of the form"), ("Nope>0", "names the column 'Nope'"),
                                         ("Country>0", "holds none")])
def test_bad_conditions_get_a_sentence(cond, words):
    assert words in error_of(load_interactions, retail_csv().encode(), filters=Filters(where=[cond]))


def test_date_range_keeps_whole_days_and_needs_dates():
    data = load_interactions(retail_csv().encode(), filters=Filters(date_from="2010-12-02", date_to="2010-12-05",
                                                                    min_user_interactions=1), training=False)
    days = pd.to_datetime(data.df["time"], unit="s", utc=True).dt.day
    assert days.min() == 2 and days.max() == 5
    assert "not a date" in error_of(Filters(date_from="soon").validate)
    assert "holds plain numbers" in error_of(load_interactions, b"user,item,time\nu1,a,1\nu1,b,2\nu1,c,3\n",
                                             filters=Filters(date_to="2020-01-01"))


def test_event_type_filter_still_works():
    text = "user_id,item_id,timestamp,event\n" + "".join(
        f"u{u},i{k},{k},{'view' if k % 2 else 'buy'}\n" for u in range(3) for k in range(8))
    data = load_interactions(text.encode(), filters=Filters(event_types=["view"]))
    assert set(data.df["event"]) == {"view"} and len(data) == 12


# ------------------------------------------------------------------------------------------------------------------
# 7. Sessions
# ------------------------------------------------------------------------------------------------------------------

def session_log() -> bytes:
    t0 = 1700000000
    rows = []
    for u in range(3):  # per user: a session of 3, a lone click 2 h later, a last session of 2 a day later
        rows += [(u, "a", t0), (u, "b", t0 + 60), (u, "c", t0 + 120), (u, "x", t0 + 7200),
                 (u, "d", t0 + 86400), (u, f"e{u}", t0 + 86460)]
    return ("user_id,item_id,timestamp\n" + "".join(f"u{u},{i},{t}\n" for u, i, t in rows)).encode()


def test_sessions_cut_after_inactivity_and_short_ones_dropped():
    data = load_interactions(session_log(), filters=Filters(session_gap_minutes=30, min_session_length=2))
    assert data.df.loc[data.df["user"] == "u1", "item"].tolist() == ["a", "b", "c", "d", "e1"]
    assert data.sessions == 6 and dataset_stats(data)["sessions"] == 6
    assert "cut histories into 9 sessions at gaps over 30 minutes; kept the 6 with at least 2 events" in data.notes
    split = leave_last_out(data)  # the last item of each user's last session is the test target
    assert split.vocab.decode(split.test_target) == ["e0", "e1", "e2"]
    assert split.vocab.decode(split.valid_target) == ["d", "d", "d"]


def test_session_options_are_checked():
    assert "needs a session gap" in error_of(Filters(min_session_length=2).validate)
    assert "session gap" in error_of(Filters(session_gap_minutes=-5).validate)
    msg = error_of(load_interactions, b"user,item,time\nu1,a,1\nu1,b,2\nu1,c,3\nu2,a,1\nu2,b,2\nu2,c,3\n",
                   filters=Filters(session_gap_minutes=30))
    assert "plain ordering numbers" in msg


# ------------------------------------------------------------------------------------------------------------------
# CLI
# ------------------------------------------------------------------------------------------------------------------

def test_cli_stats_on_a_compressed_retail_export_with_one_option(tmp_path, capsys):
    p = tmp_path / "online_retail.csv.gz"
    p.write_bytes(gzip.compress(retail_csv().encode()))
    assert cli_main(["stats", str(p), "--where", "Quantity>0"]) == 0
    out, err = capsys.readouterr()
    stats = json.loads(out)
    assert stats["dropped_rows"] == {"CustomerID": 80} and stats["columns"]["item"] == "StockCode"
    assert "note: dropped 80 of 400 rows with a missing value: 80 with an empty user ('CustomerID')." in err
    assert any(n.startswith("kept rows where Quantity>0") for n in stats["filters_applied"])
    assert cli_main(["stats", str(p)]) == 0  # no option at all works too
    capsys.readouterr()


def test_cli_sessions_and_date_flags(tmp_path, capsys):
    p = tmp_path / "log"
    p.write_bytes(session_log())
    assert cli_main(["stats", str(p), "--session-gap-minutes", "30", "--min-session-length", "2"]) == 0
    assert json.loads(capsys.readouterr().out)["sessions"] == 6
    assert cli_main(["stats", str(p), "--date-from", "2023-11-15"]) == 0
    capsys.readouterr()
    assert cli_main(["stats", str(p), "--where", "timestamp >> 3"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: Invalid data filters: the condition") and len(err.splitlines()) == 1


@pytest.mark.slow
def test_cli_train_json_has_dropped_rows(tmp_path, capsys):
    p = tmp_path / "gaps.csv"
    p.write_text(GOOD + ",i1,1700000000\nu1,,1700000001\n")
    assert cli_main(["train", str(p), "--epochs", "1", "--quiet", "--embedding-dim", "8", "--hidden-size", "8"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dropped_rows"] == {"user_id": 1, "item_id": 1}


# ------------------------------------------------------------------------------------------------------------------
# Data page
# ------------------------------------------------------------------------------------------------------------------

def data_page_with_upload(name: str, content: bytes, mime: str):
    """The app's Data page with `content` chosen in the interaction uploader; also returns the name of the data in
    use before (the bundled sample)."""
    from streamlit.testing.v1 import AppTest

    from studio.nav import PAGE

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page(PAGE["data"])
    at.run()
    before = at.session_state["dataset"].name
    at.radio(key="data_source").set_value("Upload CSV files").run()
    at.file_uploader(key="upload_interactions").set_value((name, content, mime)).run()
    return at, before


@pytest.mark.slow
def test_data_page_loads_a_gzipped_retail_export_with_one_option():
    at, _ = data_page_with_upload("online_retail.csv.gz", gzip.compress(retail_csv().encode()), "application/gzip")
    assert not at.error and not at.exception
    infos = [i.value for i in at.info]
    assert any(i.startswith("Unpacked online") and "(gzip, " in i for i in infos), infos
    captions = " ".join(c.value for c in at.caption)
    assert "StockCode" in captions and "usual item column name" in captions
    assert next(s for s in at.selectbox if s.label.startswith("Item titles from")).value == "Description"
    at.selectbox(key="f_where_col").set_value("Quantity").run()  # the one option: Quantity > 0
    at.button(key="load_data").click().run()
    assert not at.error and not at.exception, [e.value for e in at.error]
    ds = at.session_state["dataset"]
    assert ds.interactions.dropped_rows == {"CustomerID": 80}
    assert ds.item_title("85123A") == "85123A £ DESCRIPTION"
    assert any("empty user, item or time were left out" in w.value for w in at.warning)


@pytest.mark.slow
def test_data_page_file_order_for_a_file_without_time_column():
    at, before = data_page_with_upload("steam_games.csv", STEAM.encode(), "text/csv")
    time_box = next(s for s in at.selectbox if s.label == "Time")
    assert time_box.value == "(none)" and "(file order)" in time_box.options
    assert any("if the rows are in time order, pick (file order)" in c.value for c in at.caption)
    at.button(key="load_data").click().run()  # refused: one sentence, and the data in use is kept
    assert any("choose '(file order)' as the time column" in e.value for e in at.error)
    assert at.session_state["dataset"].name == before and not at.exception
    next(s for s in at.selectbox if s.label == "Time").set_value("(file order)").run()
    at.button(key="load_data").click().run()
    assert not at.error and not at.exception, [e.value for e in at.error]
    ds = at.session_state["dataset"]
    assert ds.interactions.columns.time == "(file order)" and ds.stats["interactions"] == 12
    assert any("each user's rows are taken in the order of the file" in c.value for c in at.caption)
    assert any(m.value == "file order" for m in at.metric)
