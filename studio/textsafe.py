"""Showing untrusted text (item titles and IDs, user IDs, categories, run and file names) as plain text.

Uploaded files and typed run names can contain anything: `<script>`, `**bold**`, `[link](javascript:...)`,
Streamlit's `:red[...]` or `:material/...:` codes, `$math$`. Streamlit renders markdown in st.markdown / caption /
info / error / subheader / progress text, and plotly renders a subset of HTML (<b>, <br>, <a href>) in tick labels,
legend names, hover text and titles. Every such string goes through one of the two functions below before it is
interpolated; tables (st.dataframe) and widget options already show plain text and need nothing.
"""
from __future__ import annotations

import html
import re

_INLINE = frozenset("\\`*_[]<>|~$:&")  # emphasis, code, links, HTML, tables, strike, math, :directives:, entities
_BLOCK_START = re.compile(r"(\s*)([#+\-=>]|\d+(?=[.)]))")  # heading / list / quote markers at the start of a line


def md_escape(text) -> str:
    """`text` for Streamlit markdown, shown exactly as written: no emphasis, links, HTML, code, math, :red[...] or
    :material/...: codes, autolinked www./e-mail addresses, headings or lists. Characters that could start markup are
    backslash-escaped (CommonMark shows a backslash-escaped punctuation character as itself) and line breaks become
    spaces, so the text cannot open a new block. Harmless punctuation (digits' decimal points, '#' or '@' mid-line)
    is left alone, so sentences stay readable in tests and logs."""
    s = " ".join(str(text).splitlines()) if text is not None else ""
    out = []
    for i, ch in enumerate(s):
        if ch in _INLINE or (ch == "." and i + 1 < len(s) and s[i + 1].isalpha()):  # "www.x.com", "a@b.org"
            out.append("\\")
        out.append(ch)
    s = "".join(out)
    m = _BLOCK_START.match(s)
    if m:
        at = m.end(2) if m.group(2)[0].isdigit() else m.start(2)  # "1. x" -> "1\. x", "# x" -> "\# x"
        s = s[:at] + "\\" + s[at:]
    return s


def plot_escape(text) -> str:
    """`text` for plotly labels, legends, titles and hover text: &, < and > become entities, which plotly shows as
    the characters instead of reading them as tags."""
    return html.escape("" if text is None else str(text), quote=False)


def plot_escape_all(values) -> list[str]:
    """plot_escape for every value of a sequence (tick labels, hover texts)."""
    return [plot_escape(v) for v in values]
