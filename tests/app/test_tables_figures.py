"""What the pages show, built from library results without Streamlit: tables with names (studio.tables) and the
data and training figures (studio.figures.data, studio.figures.training)."""
from __future__ import annotations

import numpy as np
import pytest

from seqrec.evaluation.compare import comparison_table
from seqrec.runs import recommend
from seqrec.service.dataset import sample_dataset
from studio import tables
from studio.figures import data as data_figures
from studio.figures import training as figures


@pytest.fixture(scope="module")
def ds():
    return sample_dataset()


def test_user_history_marks_the_validation_and_held_out_items(ds):
    hist = tables.user_history(ds, ds.user_ids[0])
    assert list(hist["Role"].iloc[-2:]) == ["validation item", "held-out next item"]
    assert list(hist["#"]) == list(range(1, len(hist) + 1)) and hist["When"].str.len().min() > 0
    assert hist["Item"].iloc[0] == ds.item_title(hist["Item ID"].iloc[0])


def test_recommendations_table_names_items_and_marks_the_true_next_one(gru_run, ds):
    rec = recommend.recommend_for_user(gru_run, ds, ds.user_ids[0], k=10)
    table = tables.recommendations_table(ds, rec.recommendations, rec.held_out_item)
    assert list(table["Rank"]) == list(range(1, 11)) and list(table.columns) == ["Rank", "Item", "Category", "Score",
                                                                                 "Item ID", "True next"]
    assert (table["True next"] == "✅").sum() == int(rec.hit)
    assert "True next" not in tables.recommendations_table(ds, rec.recommendations)


def test_comparison_for_display_shows_dashes_for_baseline_settings(gru_run, ds):
    shown = tables.comparison_for_display(comparison_table([gru_run], ds, 20))
    assert shown.loc[1, "Hidden"] == "—" and "Kind" not in shown
    assert shown.loc[0, "Hidden"] == str(gru_run.config.hidden_size)


def test_figures_have_the_expected_traces(gru_run, ds):
    run = gru_run
    fig = figures.training_progress(run.batch_losses, run.epochs, 20, run.best_epoch)
    assert [t.name for t in fig.data] == ["loss (per batch)", "loss (smoothed)", "Recall@20 (validation)",
                                         "MRR@20 (validation)"]
    assert data_figures.popularity_long_tail(ds).layout.yaxis.type == "log"
    assert len(figures.thin(10_000)) <= 601 and figures.thin(10_000)[-1] == 9_999
    assert np.allclose(figures.smooth([2.0, 2.0, 2.0]), 2.0)
    for f in (data_figures.sequence_length_histogram, data_figures.interactions_over_time):
        assert len(f(ds).data) == 1
