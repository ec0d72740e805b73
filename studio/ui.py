"""Small Streamlit helpers shared by the pages: friendly error display and consistent table formatting."""
from __future__ import annotations

from contextlib import contextmanager

import streamlit as st

from seqrec import SeqrecError
from seqrec.textsafe import md_escape


@contextmanager
def friendly_errors(action: str = "That action"):
    """Show a SeqrecError as its own sentence and anything unexpected as a short apology: never a traceback.
    Messages quote file names and values from the user's data, so they are shown as plain text, never markdown."""
    try:
        yield
    except SeqrecError as e:
        st.error(md_escape(e), icon=":material/error:")
    except Exception as e:  # noqa: BLE001 - the page must stay usable whatever happens
        st.error(md_escape(f"{action} failed unexpectedly ({type(e).__name__}: {e}). Your data and runs are "
                           f"unchanged; try again with other settings."), icon=":material/error:")


def recommendation_column_config(max_score: float | None = None) -> dict:
    """Column formats for a top-K table: a probability bar for the score, narrow rank column."""
    return {
        "Rank": st.column_config.NumberColumn("Rank", width="small", format="%d"),
        "Score": st.column_config.ProgressColumn("Probability", format="%.3f", min_value=0.0,
                                                 max_value=max(1e-9, float(max_score or 1.0))),
        "Item ID": st.column_config.TextColumn("ID", width="small"),
        "True next": st.column_config.TextColumn("True next", width="small"),
    }


def show_recommendations(table, height: int | None = None) -> None:
    """A top-K table with a score bar scaled to its best score."""
    st.dataframe(table, hide_index=True, width="stretch", column_order=[c for c in table.columns if c != "Item ID"],
                 column_config=recommendation_column_config(table["Score"].max() if len(table) else 1.0),
                 height=height or "auto")
