"""Writes the bad-input corpus next to this file: `python tests/data/bad/make_corpus.py`.

Each file is one malformed or hostile export an analyst might feed the app; `expected.json` says what each must
produce (the exact error sentence, or what must load). The files are committed; this script documents how the binary
ones were made and regenerates them byte for byte. The two very large cases (a 1 MB line, a file with its line breaks
lost) are not stored: `generate(name)` builds them, and the tests call it.
"""
from __future__ import annotations

import gzip
import io
import random
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEADER = "user_id,item_id,timestamp\n"
T0 = 1714557600  # 2024-05-01 10:00 UTC


def rows(users=("u1", "u2", "u3"), items=("a", "b", "c", "d"), step=60) -> list[tuple[str, str, str]]:
    """Every user sees every item once, a minute apart."""
    return [(u, it, str(T0 + 3600 * ui + step * j)) for ui, u in enumerate(users) for j, it in enumerate(items)]


def csv(body: list[tuple], header: str = HEADER, sep: str = ",", newline: str = "\n") -> str:
    return header.replace(",", sep).replace("\n", newline) + "".join(sep.join(r) + newline for r in body)


def with_times(times: list[str]) -> str:
    """The standard rows with their time column replaced (in file order)."""
    return csv([(u, i, t) for (u, i, _), t in zip(rows(), times)])


def files() -> dict[str, bytes]:
    good = csv(rows())
    rnd = random.Random(5)
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as z:
        z.writestr(zipfile.ZipInfo("interactions.csv", date_time=(2024, 5, 1, 10, 0, 0)), good)  # fixed bytes
    xbuf = io.BytesIO()
    with zipfile.ZipFile(xbuf, "w") as z:  # what an .xlsx is: a zip of XML parts
        for part in ("[Content_Types].xml", "xl/workbook.xml", "xl/worksheets/sheet1.xml"):
            z.writestr(zipfile.ZipInfo(part, date_time=(2024, 5, 1, 10, 0, 0)), "<xml/>")
    epoch = [t for _, _, t in rows()]
    out = {
        # -- not a CSV at all -------------------------------------------------------------------------------------
        "empty.csv": "",
        "blank_lines.csv": " \n\n \t\r\n",
        "header_only.csv": HEADER,
        "binary_garbage.csv": bytes(rnd.randrange(256) for _ in range(2048)),
        "zip_archive.csv": zbuf.getvalue(),
        "excel_workbook.csv": xbuf.getvalue(),
        "gzip_file.csv": gzip.compress(good.encode(), mtime=0),
        "nul_bytes.csv": (HEADER + "u1,a,1\x00\x00\x00\nu1,b,2\n").encode(),
        "web_page.csv": "<!DOCTYPE html>\n<html><head><title>Export ready</title></head>\n"
                        "<body><a href=\"/download/interactions.csv\">Download</a></body></html>\n",
        "json_export.csv": '[{"user_id": "u1", "item_id": "a", "timestamp": 1714557600},\n'
                           ' {"user_id": "u1", "item_id": "b", "timestamp": 1714557660}]\n',
        # -- wrong shape ------------------------------------------------------------------------------------------
        "wrong_delimiter_colon.csv": csv(rows(), sep=":"),
        "wrong_delimiter_spaces.csv": csv(rows(), sep=" "),
        "single_column.csv": "user_id\nu1\nu2\nu3\n",
        "ragged_rows.csv": good.replace("u1,b,", "u1,b,extra,", 1),
        "unclosed_quote.csv": good.replace("u2,a,", 'u2,"a,', 1),
        "duplicate_header.csv": csv([r + (r[1],) for r in rows()], header="user_id,item_id,timestamp,item_id\n"),
        # -- columns ----------------------------------------------------------------------------------------------
        "missing_user_column.csv": csv([(i, t, "4") for _, i, t in rows()], header="item_id,timestamp,rating\n"),
        "missing_item_column.csv": csv([(u, t) for u, _, t in rows()], header="user_id,timestamp\n"),
        "missing_time_column.csv": csv([(u, i, "3.5") for u, i, _ in rows()], header="user_id,item_id,price\n"),
        "ambiguous_user_columns.csv": csv([(u, u.upper(), i, t) for u, i, t in rows()],
                                          header="user_id,User ID,item_id,timestamp\n"),
        # -- timestamps -------------------------------------------------------------------------------------------
        "time_mixed_epoch_and_dates.csv": with_times(epoch[:6] + [f"2024-05-0{d} 10:00:00" for d in range(1, 7)]),
        "time_unparseable.csv": with_times(epoch[:3] + ["yesterday"] + epoch[4:9] + ["soon", "n/a", "last week"]),
        "time_negative.csv": with_times(epoch[:5] + ["-1714557900"] + epoch[6:10] + ["-5", epoch[11]]),
        "time_far_future.csv": with_times(epoch[:7] + ["9999999999"] + epoch[8:]),
        "time_placeholder_dates.csv": with_times([f"2024-05-0{1 + i % 9} 10:00:00" for i in range(10)]
                                                 + ["9999-12-31", "9999-12-31 23:59:59"]),
        "time_empty.csv": with_times(epoch[:2] + [""] + epoch[3:]),
        # -- IDs and sequences ------------------------------------------------------------------------------------
        "empty_user_ids.csv": csv([("" if k in (4, 9) else u, i, t) for k, (u, i, t) in enumerate(rows())]),
        "empty_user_column.csv": csv([("", i, t) for _, i, t in rows()]),
        "empty_user_ids_leave_one_user.csv": csv([("" if u != "u1" else u, i, t) for u, i, t in rows()]),
        "nan_item_ids.csv": csv([(u, {2: "NaN", 6: "null", 7: ""}.get(k, i), t) for k, (u, i, t) in enumerate(rows())]),
        "every_user_once.csv": csv([(f"order{k}", i, t) for k, (_, i, t) in enumerate(rows())]),
        "two_events_per_user.csv": csv(rows(users=("u1", "u2", "u3", "u4"), items=("a", "b"))),
        "single_item.csv": csv(rows(items=("P1", "P1", "P1", "P1"))),
        "one_user.csv": csv(rows(users=("u1",))),
        # -- encodings --------------------------------------------------------------------------------------------
        "latin1.csv": csv(rows(items=("café", "b", "c", "d"))).encode("latin-1"),
        "windows1252_quotes.csv": csv(rows(items=("“quoted”", "b", "c", "d"))).replace("“", "\x93")
        .replace("”", "\x94").encode("latin-1"),
        # -- item metadata ----------------------------------------------------------------------------------------
        "items_no_title.csv": "item_id,price\na,3.50\nb,4.00\n",
        # -- odd but valid ----------------------------------------------------------------------------------------
        "utf8_bom_crlf.csv": "\ufeff" + csv(rows(), newline="\r\n"),
        "utf16_le_bom.csv": good.encode("utf-16"),
        "utf16_be_bom.csv": b"\xfe\xff" + good.encode("utf-16-be"),
        "utf16_le_no_bom.csv": good.encode("utf-16-le"),
        "cr_line_endings.csv": csv(rows(), newline="\r"),
        "excel_sep_line.csv": "sep=;\n" + csv([(u, i, t, "4,5") for u, i, t in rows()],
                                              header="user_id,item_id,timestamp,rating\n", sep=";"),
        "quoted_newlines.csv": 'user_id,item_id,timestamp,note\n' + "".join(
            f'{u},"{i}, the {i}",{t},"line one\nline two, ""quoted"""\n' for u, i, t in rows()),
        "duplicate_rows.csv": csv(rows() + [rows()[0], rows()[5], rows()[5]]),
        "injection_ids.csv": csv(rows(users=("=cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0", "u3"),
                                      items=("=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@A1")))
        .replace("=cmd|' /C calc'!A0,", "\"=cmd|' /C calc'!A0\",").replace('=HYPERLINK("http://x")',
                                                                           '"=HYPERLINK(""http://x"")"'),
        "html_ids.csv": csv(rows(users=("<b>u1</b>", "**u2**", "<script>alert(1)</script>", "[x](javascript:alert(1))"),
                                 items=("i1", "i2", "i3", "i4", "i5"))),
        "items_html.csv": "item_id,title,category\n"
                          "i1,<script>alert(1)</script>,<i>cat</i>\n"
                          "i2,<b>bold</b>,**cat**\n"
                          "i3,**stars**,:red[cat]\n"
                          "i4,[x](javascript:alert(1)),<img src=x onerror=alert(1)>\n"
                          'i5,"=HYPERLINK(""http://x"",""click"")",$x^2$\n',
    }
    return {name: data.encode("utf-8") if isinstance(data, str) else data for name, data in out.items()}


def generate(name: str) -> bytes:
    """The two large cases, built on demand instead of stored."""
    if name == "long_id_line.csv":  # one row whose item field is 1 MB (a quote gone wrong in a real export)
        body = rows()
        body[6] = (body[6][0], "x" * 1_000_000, body[6][2])
        return csv(body).encode()
    if name == "no_line_breaks.csv":  # every row on one line: the export lost its line breaks
        return (csv(rows(users=tuple(f"u{k}" for k in range(400)))).replace("\n", " ").encode())
    if name == "compression_bomb.csv":  # 80 MB of line breaks in an 80 KB gzip: a ratio of ~1000
        return gzip.compress(HEADER.encode() + b"\n" * (80 * 1024**2), compresslevel=9, mtime=0)
    raise KeyError(name)


if __name__ == "__main__":
    for name, data in files().items():
        (HERE / name).write_bytes(data)
    print(f"wrote {len(files())} files to {HERE}")
