"""The data layer: reading real-world CSV exports, mapping columns, ordering by time, filters, statistics, and one
clear SeqrecError for every problem a user can fix."""
import gzip
import io
import zipfile

import pandas as pd
import pytest

from seqrec import (
    Filters,
    SeqrecError,
    dataset_stats,
    guess_columns,
    leave_last_out,
    load_interactions,
    load_item_metadata,
    read_table,
    read_tables,
)

HEADER = "user_id,item_id,timestamp\n"
ROWS = "u1,a,1\nu1,b,2\nu1,c,3\nu2,a,1\nu2,b,2\nu2,c,3\n"


def load(text, **kw):
    return load_interactions(text.encode("utf-8") if isinstance(text, str) else text, **kw)


def items_of(data, user):
    return data.df.loc[data.df["user"] == user, "item"].tolist()


def error_of(fn, *args, **kw) -> str:
    with pytest.raises(SeqrecError) as info:
        fn(*args, **kw)
    msg = str(info.value)
    assert "\n" not in msg and "Traceback" not in msg
    return msg


# ------------------------------------------------------------------------------------------------------------------
# Reading: delimiters, headers, encodings
# ------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("delim", [",", ";", "\t", "|"])
def test_delimiter_is_detected(delim):
    text = (HEADER + ROWS).replace(",", delim)
    df = read_table(text.encode())
    assert df.attrs["delimiter"] == delim
    assert list(df.columns) == ["user_id", "item_id", "timestamp"]
    data = load(text)
    assert items_of(data, "u1") == ["a", "b", "c"]


def test_delimiter_inside_quotes_does_not_split_fields():
    data = load(HEADER + '"u,1",a,1\n"u,1","b, the second",2\n"u,1",c,3\n' + "u2,a,1\nu2,b,2\nu2,c,3\n")
    assert items_of(data, "u,1") == ["a", "b, the second", "c"]


def test_windows_line_endings_and_utf8_bom_are_accepted():
    text = ("\ufeff" + HEADER + ROWS).replace("\n", "\r\n")
    data = load(text)
    assert data.columns.user == "user_id"  # the BOM is not glued to the first column name
    assert len(data) == 6


def test_header_is_detected_from_known_names_and_from_numeric_columns():
    assert read_table((HEADER + ROWS).encode()).attrs["has_header"] is True
    # unknown names, but the third column is numeric below a non-numeric first row
    df = read_table(b"a,b,c\nu1,i1,1700000000\nu1,i2,1700000001\n")
    assert df.attrs["has_header"] is True and list(df.columns) == ["a", "b", "c"]


def test_header_above_a_date_column_is_detected_and_can_be_mapped_explicitly():
    body = "u1,a,2024-01-01\nu1,b,2024-01-02\nu1,c,2024-01-03\nu2,a,2024-01-01\nu2,b,2024-01-02\nu2,c,2024-01-03\n"
    df = read_table(("buyer,thing,day\n" + body).encode())
    assert df.attrs["has_header"] is True
    assert list(df.columns) == ["buyer", "thing", "day"]
    data = load("buyer,thing,day\n" + body, user="buyer", item="thing", time="day")
    assert items_of(data, "u2") == ["a", "b", "c"] and data.time_is_datetime


def test_headerless_movielens_u_data_roles_are_guessed_from_content():
    # MovieLens 100k u.data: user \t item \t rating \t timestamp, no header
    text = ("196\t242\t3\t881250949\n186\t302\t3\t891717742\n196\t377\t1\t878887116\n"
            "186\t51\t2\t880606923\n196\t346\t1\t886397596\n186\t474\t4\t884182806\n")
    df = read_table(text.encode())
    assert df.attrs["has_header"] is False and len(df) == 6  # the first row is data, not names
    guess = guess_columns(df)
    assert (guess["user"], guess["item"], guess["time"], guess["rating"]) == \
           ("column_1", "column_2", "column_4", "column_3")
    data = load(text)
    assert items_of(data, "196") == ["377", "242", "346"]  # ordered by timestamp, not by file order
    assert data.time_is_datetime


def test_headerless_movielens_dat_with_double_colons():
    text = ("1::10::5::978300760\n1::11::3::978302109\n1::12::3::978301968\n"
            "2::10::4::978300275\n2::13::5::978824291\n2::14::3::978302268\n")
    data = load(text)
    assert items_of(data, "1") == ["10", "12", "11"]
    assert items_of(data, "2") == ["10", "14", "13"]


def test_headerless_file_with_string_ids_and_dates():
    data = load("u1;a;2024-01-03\nu1;b;2024-01-01\nu1;c;2024-01-02\n"
                "u2;a;2024-01-01\nu2;b;2024-01-02\nu2;c;2024-01-03\n")
    assert items_of(data, "u1") == ["b", "c", "a"]


def test_headerless_click_log_takes_the_date_column_not_nine_digit_item_ids():
    # YooChoose clicks: session, ISO time, 9-digit item id (which would read as 1976 epoch seconds), category
    text = ("1,2014-04-07T10:51:09.277Z,214536502,0\n1,2014-04-07T10:54:09.868Z,214536500,0\n"
            "1,2014-04-07T10:52:09.868Z,214536506,0\n2,2014-04-07T13:56:37.614Z,214662742,0\n"
            "2,2014-04-07T13:57:19.373Z,214662742,0\n2,2014-04-07T13:58:37.446Z,214825110,0\n")
    guess = guess_columns(read_table(text.encode()))
    assert (guess["user"], guess["item"], guess["time"]) == ("column_1", "column_3", "column_2")
    data = load(text)
    assert items_of(data, "1") == ["214536502", "214536506", "214536500"] and data.time_is_datetime


@pytest.mark.parametrize("asins", [["0132793040", "0001055178", "0312987544"],  # leading zeros: codes
                                   ["1400501466", "1400532655", "1400599997"]])  # look like 2014 epoch seconds
def test_headerless_amazon_ratings_take_the_last_epoch_column_not_isbn_codes(asins):
    # Amazon's ratings-only files: user, item (ISBN-10 for books), rating, unix time (day granularity)
    rows = [("AKM1MP6P0OYPR", 0, "5.0", 1365811200), ("AKM1MP6P0OYPR", 1, "4.0", 1365724800),
            ("AKM1MP6P0OYPR", 2, "3.0", 1365897600), ("A2CX7LUOHB2NDG", 1, "5.0", 1341100800),
            ("A2CX7LUOHB2NDG", 2, "4.0", 1341014400), ("A2CX7LUOHB2NDG", 0, "2.0", 1341187200)]
    text = "".join(f"{u},{asins[i]},{r},{t}\n" for u, i, r, t in rows)
    guess = guess_columns(read_table(text.encode()))
    assert (guess["user"], guess["item"], guess["time"], guess["rating"]) == \
           ("column_1", "column_2", "column_4", "column_3")
    assert items_of(load(text), "AKM1MP6P0OYPR") == [asins[1], asins[0], asins[2]]


@pytest.mark.parametrize("header, expected", [
    ("userId,movieId,rating,timestamp", dict(user="userId", item="movieId", time="timestamp", rating="rating")),
    ("timestamp,visitorid,event,itemid,transactionid",
     dict(user="visitorid", item="itemid", time="timestamp", event="event")),
    ("session_id,product_id,event_time", dict(user="session_id", item="product_id", time="event_time")),
    ("event_time,event_type,product_id,category_id,brand,price,user_id,user_session",
     dict(user="user_id", item="product_id", time="event_time", event="event_type")),
    ("Customer ID,SKU,Created At", dict(user="Customer ID", item="SKU", time="Created At")),
])
def test_columns_are_guessed_from_common_names(header, expected):
    df = pd.DataFrame(columns=header.split(","))
    guess = guess_columns(df)
    for role in ("user", "item", "time", "event", "rating"):
        assert guess[role] == expected.get(role), role


def test_explicit_columns_override_the_guess():
    text = "user_id,item_id,timestamp,other_item\nu1,a,1,x\nu1,b,2,y\nu1,c,3,z\nu2,a,1,x\nu2,b,2,y\nu2,c,3,w\n"
    assert items_of(load(text), "u2") == ["a", "b", "c"]
    data = load(text, item="other_item")
    assert data.columns.item == "other_item"
    assert items_of(data, "u2") == ["x", "y", "w"]
    # with no recognisable names at all, explicit choices are enough
    plain = "a,b,c\nu1,i1,5\nu1,i2,6\nu1,i3,7\nu2,i1,5\nu2,i2,6\nu2,i3,7\n"
    data = load(plain, user="a", item="b", time="c")
    assert items_of(data, "u1") == ["i1", "i2", "i3"] and not data.time_is_datetime


def test_ids_are_opaque_strings():
    data = load(HEADER + "007,007,1\n007,7,2\n007,07,3\n7,7.0,1\n7,007,2\n7,7,3\n")
    assert items_of(data, "007") == ["007", "7", "07"]
    assert items_of(data, "7") == ["7.0", "007", "7"]
    assert data.n_users == 2 and data.n_items == 4
    split = leave_last_out(data)
    assert sorted(split.vocab.ids.tolist()) == ["007", "07", "7", "7.0"]


@pytest.mark.parametrize("encode", [lambda t: t.encode("utf-16"),                        # BOM, little-endian
                                    lambda t: b"\xfe\xff" + t.encode("utf-16-be")])     # BOM, big-endian
def test_utf16_with_bom_is_accepted(encode):
    data = load_interactions(encode(HEADER + "u1,café,1\nu1,b,2\nu1,c,3\nu2,a,1\nu2,b,2\nu2,c,3\n"))
    assert items_of(data, "u1") == ["café", "b", "c"]


def test_non_ascii_utf8_ids_survive():
    data = load(HEADER + "ünï,日本,1\nünï,b,2\nünï,c,3\nu2,日本,1\nu2,b,2\nu2,c,3\n")
    assert items_of(data, "ünï") == ["日本", "b", "c"]


# ------------------------------------------------------------------------------------------------------------------
# Time ordering
# ------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("times, is_datetime", [
    (["1700000300", "1700000100", "1700000200"], True),                          # epoch seconds
    (["1700000300000", "1700000100000", "1700000200000"], True),                 # epoch milliseconds
    (["1700000000.75", "1700000000.25", "1700000000.5"], True),                  # float seconds
    (["2.5", "-1", "1e0"], False),                                               # plain ordering numbers
    (["2024-03-01", "2023-12-31", "2024-01-15"], True),                          # dates
    (["2024-01-01 10:00:00", "2024-01-01 08:00:00", "2024-01-01T09:00:00"], True),
    (["2024-01-01T12:00:00+02:00", "2024-01-01T07:30:00Z", "2024-01-01 09:00:00 UTC"], True),  # time zones
])
def test_timestamps_order_events(times, is_datetime):
    # file order is b, then the earliest (c), then the middle (a): expected time order c, a, b
    rows = [("u1", "b", times[0]), ("u1", "c", times[1]), ("u1", "a", times[2])]
    rows += [("u2", "a", times[1]), ("u2", "b", times[2]), ("u2", "c", times[0])]
    data = load(HEADER + "".join(f"{u},{i},{t}\n" for u, i, t in rows))
    assert items_of(data, "u1") == ["c", "a", "b"]
    assert items_of(data, "u2") == ["a", "b", "c"]
    assert data.time_is_datetime is is_datetime
    assert data.df["time"].dtype == "float64"


def test_milliseconds_and_seconds_mean_the_same_instant():
    s = load(HEADER + "u1,a,1700000000\nu1,b,1700000001\nu1,c,1700000002\n"
             "u2,a,1700000000\nu2,b,1700000001\nu2,c,1700000002\n")
    ms = load(HEADER + "u1,a,1700000000000\nu1,b,1700000001000\nu1,c,1700000002000\n"
              "u2,a,1700000000000\nu2,b,1700000001000\nu2,c,1700000002000\n")
    assert s.df["time"].tolist() == ms.df["time"].tolist()


def test_ties_keep_file_order():
    data = load(HEADER + "u1,z,5\nu1,y,5\nu1,x,5\nu1,first,1\nu2,b,7\nu2,a,7\nu2,c,7\n")
    assert items_of(data, "u1") == ["first", "z", "y", "x"]
    assert items_of(data, "u2") == ["b", "a", "c"]


def test_several_files_are_appended_and_interleaved_by_time(tmp_path):
    jan = tmp_path / "jan.csv"
    feb = tmp_path / "feb.csv"
    jan.write_text(HEADER + "u1,a,10\nu1,b,30\nu2,a,10\nu2,b,30\n")
    feb.write_text(HEADER + "u1,c,20\nu1,d,40\nu2,d,30\nu2,c,20\n")
    df = read_tables([jan, feb])
    assert len(df) == 8 and list(df.columns) == ["user_id", "item_id", "timestamp"]
    data = load_interactions([jan, feb])
    assert items_of(data, "u1") == ["a", "c", "b", "d"]
    assert items_of(data, "u2") == ["a", "c", "b", "d"]  # the tie at 30 keeps the order of the files
    assert data.raw_rows == 8


def test_appending_files_with_different_columns_is_refused(tmp_path):
    a = tmp_path / "a.csv"
    b = tmp_path / "b.csv"
    a.write_text(HEADER + ROWS)
    b.write_text("user_id,movie_id,timestamp\n" + ROWS)
    msg = error_of(load_interactions, [a, b])
    assert "b.csv" in msg and "movie_id" in msg and "same columns" in msg


# ------------------------------------------------------------------------------------------------------------------
# Filters
# ------------------------------------------------------------------------------------------------------------------

FILTER_CSV = ("user_id,item_id,timestamp,event,rating\n"
              "x,a,1,view,5\nx,a,2,view,4\nx,b,3,cart,1\nx,a,4,view,5\nx,c,5,purchase,3\n"
              "y,a,5,view,2\ny,b,4,view,5\ny,c,3,cart,4\ny,d,2,view,5\ny,e,1,view,3\n"
              "z,a,1,view,4\nz,b,2,view,4\nz,q,3,view,1\n")


def test_default_filters_keep_users_with_three_events():
    data = load(FILTER_CSV + "w,a,1,view,5\nw,b,2,view,5\n")
    assert sorted(data.df["user"].unique()) == ["x", "y", "z"]
    assert data.raw_rows == 15


def test_min_user_interactions():
    data = load(FILTER_CSV, filters=Filters(min_user_interactions=5))
    assert sorted(data.df["user"].unique()) == ["x", "y"]


def test_min_item_count_drops_rare_items_then_short_users():
    data = load(FILTER_CSV, filters=Filters(min_item_count=2))
    assert "q" not in set(data.df["item"]) and "d" not in set(data.df["item"]) and "e" not in set(data.df["item"])
    assert items_of(data, "y") == ["c", "b", "a"]
    assert "z" not in set(data.df["user"])  # only a and b are left for z: 2 events, too few


def test_max_events_per_user_keeps_the_most_recent():
    data = load(FILTER_CSV, filters=Filters(max_events_per_user=3))
    assert items_of(data, "y") == ["c", "b", "a"]  # times 3, 4, 5 (the file lists y newest first)
    assert items_of(data, "x") == ["b", "a", "c"]


def test_remove_repeats_drops_only_immediate_repeats():
    data = load(FILTER_CSV, filters=Filters(remove_repeats=True))
    assert items_of(data, "x") == ["a", "b", "a", "c"]
    assert items_of(load(FILTER_CSV), "x") == ["a", "a", "b", "a", "c"]
    # the same item at the end of one user and the start of the next is not a repeat
    data = load(HEADER + "u1,b,1\nu1,c,2\nu1,a,3\nu2,a,1\nu2,b,2\nu2,b,3\nu2,c,4\n",
                filters=Filters(remove_repeats=True))
    assert items_of(data, "u1") == ["b", "c", "a"] and items_of(data, "u2") == ["a", "b", "c"]


def test_min_rating():
    data = load(FILTER_CSV, filters=Filters(min_rating=4))
    assert data.columns.rating == "rating"
    assert items_of(data, "x") == ["a", "a", "a"]
    assert items_of(data, "y") == ["d", "c", "b"]
    assert (data.df["rating"] >= 4).all()


def test_event_types():
    data = load(FILTER_CSV, filters=Filters(event_types=["view"]))
    assert set(data.df["event"]) == {"view"}
    assert items_of(data, "x") == ["a", "a", "a"]
    both = load(FILTER_CSV, filters=Filters(event_types=["view", "cart"]))
    assert items_of(both, "x") == ["a", "a", "b", "a"]


def test_filter_settings_are_validated_together():
    msg = error_of(Filters(min_user_interactions=1, min_item_count=0, max_events_per_user=2).validate)
    assert "minimum interactions per user" in msg and "at least 3" in msg
    assert "minimum item count" in msg and "maximum events per user" in msg


def test_filters_that_need_a_missing_column_say_so():
    msg = error_of(load, HEADER + ROWS, filters=Filters(min_rating=3))
    assert "rating" in msg and "no rating column" in msg
    msg = error_of(load, HEADER + ROWS, filters=Filters(event_types=["view"]))
    assert "event" in msg and "no event-type column" in msg


def test_nothing_left_after_filtering_says_which_filter():
    msg = error_of(load, FILTER_CSV, filters=Filters(event_types=["refund"]))
    assert "Nothing is left after filtering" in msg and "refund" in msg
    msg = error_of(load, FILTER_CSV, filters=Filters(min_user_interactions=50))
    assert "Nothing is left" in msg and "50" in msg and "lower the minimum" in msg
    msg = error_of(load, FILTER_CSV, filters=Filters(min_rating=6))
    assert "Nothing is left" in msg and "rating" in msg


def test_too_few_users():
    msg = error_of(load, HEADER + "u1,a,1\nu1,b,2\nu1,c,3\nu2,a,1\n")
    assert "Only 1 user" in msg and "at least 2 users" in msg


# ------------------------------------------------------------------------------------------------------------------
# Statistics and item metadata
# ------------------------------------------------------------------------------------------------------------------

def test_dataset_stats_on_a_tiny_hand_made_file():
    day = 86400
    t0 = 1704067200  # 2024-01-01 00:00 UTC
    rows = [("a", "x", 0), ("a", "y", 1), ("a", "z", 2), ("a", "x", 3),
            ("b", "y", 0), ("b", "z", 1), ("b", "w", 2),
            ("c", "x", 0), ("c", "y", 1), ("c", "z", 2), ("c", "w", 3), ("c", "v", 2 * day),
            ("d", "x", 5)]  # d has one event: filtered out
    data = load(HEADER + "".join(f"{u},{i},{t0 + t}\n" for u, i, t in rows))
    s = dataset_stats(data)
    assert (s["users"], s["items"], s["interactions"], s["rows_in_file"]) == (3, 5, 12, 13)
    sl = s["sequence_length"]
    assert (sl["min"], sl["median"], sl["mean"], sl["max"]) == (3, 4.0, 4.0, 5)
    assert sl["p90"] == pytest.approx(4.8)
    assert s["sparsity"] == pytest.approx(1 - 12 / 15)
    top = s["most_popular"]
    assert sorted(e["item"] for e in top[:3]) == ["x", "y", "z"] and all(e["count"] == 3 for e in top[:3])
    assert top[3] == {"item": "w", "count": 2} and top[4] == {"item": "v", "count": 1}
    span = s["time_span"]
    assert span["is_datetime"] is True
    assert span["start"].startswith("2024-01-01T00:00:00") and span["end"].startswith("2024-01-03T00:00:00")
    assert span["days"] == pytest.approx(2.0)
    assert s["columns"]["user"] == "user_id"


def test_item_metadata_from_the_sample_and_from_other_names(sample_items_csv):
    meta = load_item_metadata(sample_items_csv)
    assert meta.index.name == "item" and {"title", "category"} <= set(meta.columns)
    assert len(meta) == 300
    assert meta.loc["P0001", "title"] == "Covered Litter Box"
    assert meta.loc["P0001", "category"] == "Pet Supplies"
    movies = load_item_metadata(b"movieId,title,genres\n1,Toy Story (1995),Animation|Children\n007,GoldenEye,Action\n")
    assert movies.loc["1", "title"] == "Toy Story (1995)" and movies.loc["1", "category"] == "Animation|Children"
    assert movies.loc["007", "title"] == "GoldenEye" and "7" not in movies.index


def test_item_metadata_without_usable_columns_is_refused():
    msg = error_of(load_item_metadata, b"foo,bar\n1,2\n")
    assert "item id column" in msg and "item_id" in msg
    msg = error_of(load_item_metadata, b"item_id,price\nP1,3\n")
    assert "title" in msg and "price" in msg


# ------------------------------------------------------------------------------------------------------------------
# Every CSV problem -> one clear sentence
# ------------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("content", [b"", b"   \n\n \t \r\n"])
def test_empty_file(tmp_path, content):
    p = tmp_path / "empty.csv"
    p.write_bytes(content)
    msg = error_of(load_interactions, p)
    assert "empty.csv" in msg and "is empty" in msg and "header" in msg


@pytest.mark.parametrize("content", [HEADER, HEADER + "\n\n", HEADER.rstrip("\n")])
def test_header_only(content):
    msg = error_of(load, content)
    assert "header" in msg and "no data rows" in msg


def test_missing_time_column_names_the_columns_and_the_fix():
    msg = error_of(load, "user_id,item_id\nu1,a\nu1,b\nu1,c\nu2,a\nu2,b\nu2,c\n")
    assert "no time column" in msg and "--time-col" in msg and "timestamp" in msg
    assert "['user_id', 'item_id']" in msg
    assert "time_id" not in msg


def test_unknown_explicit_column():
    msg = error_of(load, HEADER + ROWS, time="when", user="customer")
    assert "'when' is not in the file" in msg and "'customer' is not in the file" in msg
    assert "user_id" in msg and "timestamp" in msg  # lists what the file does have


def test_same_column_for_two_roles_is_refused():
    msg = error_of(load, HEADER + ROWS, item="user_id")
    assert "three different columns" in msg


def test_unparseable_timestamps_give_count_example_and_line():
    text = HEADER + "u1,a,2024-01-01\nu1,b,yesterday\nu1,c,2024-01-03\nu2,a,soon\nu2,b,2024-01-01\nu2,c,2024-01-02\n"
    msg = error_of(load, text)
    assert "'timestamp'" in msg and "2 value(s)" in msg and "'yesterday'" in msg and "line 3" in msg
    assert "epoch seconds" in msg  # says what would work
    msg = error_of(load, HEADER + "u1,a,1\nu1,b,2\nu1,c,3\nu2,a,1\nu2,b,x7\nu2,c,3\n")
    assert "1 value(s)" in msg and "'x7'" in msg and "line 6" in msg


def test_empty_time_values_drop_their_rows_and_are_counted():
    data = load(HEADER + "u1,a,1\nu1,b,\nu1,c,3\nu1,d,4\nu2,a,1\nu2,b,2\nu2,c,3\n")
    assert items_of(data, "u1") == ["a", "c", "d"] and data.dropped_rows == {"timestamp": 1}
    assert "dropped 1 of 7 rows with a missing value: 1 with an empty time ('timestamp')" in data.notes


def test_rows_with_empty_user_or_item_are_dropped_and_counted_per_column():
    data = load(HEADER + "u1,a,1\n,b,2\nu1,c,3\nu1,d,4\nu2,a,1\nu2,,2\nu2,c,3\nu2,d,4\nNULL,a,5\n")
    assert data.dropped_rows == {"user_id": 2, "item_id": 1}
    assert items_of(data, "u2") == ["a", "c", "d"] and data.raw_rows == 9
    assert dataset_stats(data)["dropped_rows"] == {"user_id": 2, "item_id": 1}


def test_a_file_with_too_little_left_after_the_gaps_is_refused_with_both_reasons():
    msg = error_of(load, HEADER + "u1,a,1\nu1,b,\nu1,c,3\nu2,a,1\nu2,b,2\nu2,c,3\n")
    assert msg.startswith("Only 1 user has enough interactions") and "1 of 6 rows had already been dropped" in msg
    assert "'timestamp'" in msg


def test_a_column_empty_on_every_row_is_refused():
    msg = error_of(load, HEADER + "".join(f"u{i % 2},,{i}\n" for i in range(6)))
    assert "item column 'item_id' is empty on every row" in msg


def test_latin1_bytes_load_with_a_notice_naming_the_encoding(tmp_path):
    p = tmp_path / "latin.csv"
    p.write_bytes(b"user_id,item_id,timestamp\nu1,caf\xe9,1\nu1,b,2\nu1,c,3\nu2,a,1\nu2,b,2\nu2,\xa3c,3\n")
    data = load_interactions(p)
    assert items_of(data, "u1") == ["café", "b", "c"] and items_of(data, "u2")[-1] == "£c"
    note = next(n for n in data.notes if "not UTF-8" in n)
    assert "latin.csv" in note and "line 2" in note and ("Windows-1252" in note or "Latin-1" in note)


def _zip_bytes(names):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n in names:
            z.writestr(n, "<xml/>")
    return buf.getvalue()


@pytest.mark.parametrize("content, words", [
    (_zip_bytes(["interactions.csv"]), ["one column"]),
    (_zip_bytes(["[Content_Types].xml", "xl/workbook.xml", "xl/worksheets/sheet1.xml"]), ["Excel", "CSV UTF-8"]),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100), ["old Excel", "CSV UTF-8"]),
    (gzip.compress(gzip.compress((HEADER + ROWS).encode())), ["compressed twice", "decompress"]),
    (b"PAR1" + bytes(range(256)), ["binary", "CSV"]),
    (b"user_id,item_id,timestamp\nu1,a,1\x00\x00\x00\n", ["binary data", "NUL"]),
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), ["not UTF-8", "not a text file"]),
])
def test_binary_files_are_refused(content, words):
    msg = error_of(load, content)
    for w in words:
        assert w in msg


def test_row_with_too_many_fields_names_the_line():
    msg = error_of(load, HEADER + "u1,a,1\nu1,b,2,9,9\nu1,c,3\nu2,a,1\nu2,b,2\nu2,c,3\n")
    assert "malformed" in msg and "line 3" in msg and "5 fields" in msg and "header has 3" in msg


def test_unbalanced_quote_is_one_sentence():
    msg = error_of(load, HEADER + 'u1,"a,1\nu1,b,2\nu1,c,3\nu2,a,1\nu2,b,2\nu2,c,3\n')
    assert "malformed" in msg and "never closed" in msg and "line 2" in msg


def test_single_column_file():
    msg = error_of(load, "hello\nworld\nagain\n")
    assert "only one column" in msg and "user, item and time" in msg


def test_missing_path_and_folder(tmp_path):
    msg = error_of(load_interactions, tmp_path / "nope.csv")
    assert "File not found" in msg and "nope.csv" in msg
    msg = error_of(load_interactions, tmp_path)
    assert "is a folder" in msg
