"""Small Streamlit helpers shared by the pages: friendly error display, consistent table formatting, charts with
their explanation, a verdict box, the demo-run offer of an empty page and the user/history picker."""
from __future__ import annotations

from contextlib import contextmanager

import streamlit as st

from seqrec import SeqrecError
from seqrec.data.users import find_users, user_item_ids
from seqrec.evaluation.compare import BETTER, METRIC_LABELS, NO_CLEAR, WORSE, Verdict, baseline_verdict, hybrid_view
from seqrec.evaluation.uncertainty import seed_summary
from seqrec.service.demo import quick_demo_runs
from studio import state
from studio.nav import PAGE
from studio.textsafe import md_escape


@contextmanager
def friendly_errors(action: str = "That action"):
    """Show a SeqrecError as its own sentence and anything unexpected as a short apology: never a traceback.
    Messages quote file names and values from the user's data, so they are shown as plain text, never markdown."""
    try:
        yield
    except Exception as e:
        st.error(md_escape(error_sentence(action, e)), icon=":material/error:")


def error_sentence(action: str, e: Exception) -> str:
    """A SeqrecError's own sentence, or a short apology for anything unexpected (plain text, not markdown)."""
    if isinstance(e, SeqrecError):
        return str(e)
    return (f"{action} failed unexpectedly ({type(e).__name__}: {e}). Your data and runs are unchanged; try again "
            f"with other settings.")


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


def chart(fig, key: str) -> None:
    """A Plotly figure across the full width of its column."""
    st.plotly_chart(fig, width="stretch", key=key)


def chart_with_text(fig, key: str, text: str) -> None:
    """A chart with its plain-language explanation beside it."""
    c_fig, c_text = st.columns([4, 1])
    with c_fig:
        chart(fig, key)
    c_text.markdown(text)


VERDICT_BOXES = {BETTER: (st.success, ":material/emoji_events:"), NO_CLEAR: (st.info, ":material/balance:"),
                 WORSE: (st.warning, ":material/trending_down:")}


def show_verdict(verdict: Verdict, with_icon: bool = False) -> None:
    """A run's verdict against the best baseline (or another run): green when the 95% interval of the difference
    is above 0, blue when it contains 0 (no clear difference), amber when below 0 or nothing to compare with
    (decided by the outcome, never by the words of the sentence)."""
    box, icon = VERDICT_BOXES.get(verdict.outcome, (st.warning, ":material/info:"))
    if with_icon:
        box(md_escape(verdict.sentence), icon=icon)
    else:
        box(md_escape(verdict.sentence))


def show_hybrid(run, k: int) -> None:
    """Under a run trained with the hybrid: the hybrid's metrics, the weight validation chose and its own verdict
    against the best baseline (the network's row and verdict above stay as they are)."""
    view = hybrid_view(run)
    if view is None:
        return
    weight = float(run.hybrid.get("weight", 0.0))
    st.markdown(f"**{md_escape(view.name)}**: test Recall@{k} {view.metrics.get(f'recall@{k}', 0.0):.3f}, "
                f"MRR@{k} {view.metrics.get(f'mrr@{k}', 0.0):.3f}; blend {1 - weight:.0%} network, {weight:.0%} "
                f"{md_escape(view.name.split(' + ', 1)[-1])} (both chosen on the validation targets).")
    show_verdict(baseline_verdict(view, k))


def note_unless_better(run, k: int = 20) -> None:
    """Under a run chosen to recommend, trace or explain: when the paired interval does not put it above the best
    baseline, say so on this page too: the product tells the truth wherever a run is used."""
    verdict = baseline_verdict(run, k)
    if verdict.outcome != BETTER:
        st.caption(f":material/info: {md_escape(verdict.sentence)} A simple baseline recommends at least as well on "
                   f"this data; see Compare.")


def show_seed_series(series: list, k: int) -> None:
    """Mean and spread across the runs of a "repeat with N seeds" training, beside each run's own interval: the
    seed-to-seed spread and the sampling interval are different uncertainties, and an analyst needs both."""
    summary = seed_summary([r.config.seed for r in series], [r.metrics for r in series])
    cells = st.columns(2)
    for col, key in zip(cells, (f"recall@{k}", f"mrr@{k}")):
        label = f"{METRIC_LABELS[key.split('@')[0]]}@{k}"
        col.metric(f"{label} over {len(series)} seeds", f"{summary['mean'][key]:.3f} ± {summary['std'][key]:.3f}",
                   help="Mean ± standard deviation across the seeds (same data and settings).")
    intervals = [(r.config.seed, r.uncertainty_summary().get("metrics_ci95", {}).get(f"recall@{k}")) for r in series]
    st.caption(f"Seeds {', '.join(str(s) for s, _ in intervals)}. Each run's 95% interval of Recall@{k} "
               f"(sampling over users): " + "; ".join(f"seed {s}: {i[0]:.3f} to {i[1]:.3f}" if i else
                                                      f"seed {s}: unavailable" for s, i in intervals) + ".")


def link_to_train(label: str = "Go to Train") -> None:
    """The link an empty page offers: train a run first."""
    st.page_link(PAGE["train"], label=label, icon=":material/model_training:")


def _joined(words: list[str]) -> str:
    """["RNN", "LSTM", "GRU"] -> "RNN, LSTM and GRU"."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def offer_quick_demo(message: str, cells, key: str, have_runs) -> None:
    """The empty state of a page that needs trained runs: say so, offer one click that trains a small run per cell
    on the current data (seconds on the sample), and link to the Train page. Always ends the page run."""
    st.info(message, icon=":material/info:")
    c1, c2 = st.columns(2)
    label = "Train a quick demo " + _joined([c.upper() for c in cells])
    with_articles = _joined([("an " if c in ("rnn", "lstm") else "a ") + c.upper() for c in cells])
    if c1.button(label, icon=":material/bolt:", type="primary", key=key):
        with friendly_errors("Training the demo runs"), st.spinner(f"Training {with_articles} (Quick demo)..."):
            for demo in quick_demo_runs(state.current_dataset(), cells):
                state.add_run(demo)
        if have_runs():
            st.rerun()
    with c2:
        link_to_train()
    st.stop()


def pick_user_history(ds, key: str, slider_label: str, hold_out_last: bool = False):
    """Search box, user picker and a slider over the user's most recent items; returns (history, held-out item or
    None). With hold_out_last the user's last item is kept out of the history, as the Recommend page does."""
    query = st.text_input("Find a user", key=f"{key}_query", placeholder="part of a user ID")
    users = find_users(ds, query, limit=500)
    if not users:
        st.warning("No user ID contains that text; clear the search box.")
        st.stop()
    user = st.selectbox("User", users, key=f"{key}_user")
    full = []
    with friendly_errors("Reading the user's history"):
        full = user_item_ids(ds, user)
    held_out = full[-1] if hold_out_last and full else None
    items = full[:-1] if hold_out_last else full
    steps = st.slider(slider_label, 1, max(2, min(100, len(items))), min(30, len(items)),
                      key=f"{key}_steps_{user}") if len(items) > 1 else 1
    return items[-steps:], held_out
