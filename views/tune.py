"""Tune page: the same search budget for each chosen cell, live trials and Optuna's figures, and the best per cell."""
import streamlit as st

from studio import state, tune
from studio.nav import PAGE
from studio.textsafe import md_escape
from studio.ui import friendly_errors

state.keep_widget_values()
st.title(":material/tune: Tune")
ds = state.current_dataset()
st.caption(f"Search the settings of each chosen cell on **{md_escape(ds.name)}** with the **same time budget**, "
           "so \"which cell is better\" is a fair question. Trials are chosen by Optuna (TPE, seeded; the defaults "
           "come first) and judged on validation only; weak trials are pruned early. Each cell's best trial is "
           "scored on the test users once, at the end, with a 95% interval.")

search = tune.current()
tune.init_form()
with st.container(border=True):
    settings = tune.settings_form()
    with st.expander("Search space", icon=":material/tune:"):
        st.caption("Narrow the ranges searched (the widest ones are the defaults, from the config's metadata).")
        space = tune.space_form()
    running = search is not None and search.running
    if st.button("Start search", type="primary", icon=":material/play_arrow:", disabled=running, key="tuning_start"):
        with friendly_errors("Starting the search"):
            tune.start(ds, settings, space)
            st.rerun()


def trials_and_figures(search, key: str):
    table = tune.trials_table(search)
    if table.empty:
        st.info("The first trial is running…", icon=":material/hourglass_top:")
        return
    st.dataframe(table, hide_index=True, width="stretch", key=f"tuning_table_{key}")
    cell = search.tuner.cell if search.running else None
    studied = list(search.tuner.studies)
    if not search.running and len(studied) > 1:
        cell = st.segmented_control("Figures for", studied, default=studied[-1], key="tuning_fig_cell",
                                    format_func=str.upper)
    history, parallel = tune.figures(search, cell or studied[-1])
    left, right = st.columns(2)
    if history is not None:
        left.plotly_chart(history, width="stretch", key=f"tuning_history_{key}")
    if parallel is not None:
        right.plotly_chart(parallel, width="stretch", key=f"tuning_parallel_{key}")


@st.fragment(run_every=1.0)
def live():
    search = tune.current()
    if search is None or not search.running:
        st.rerun()
    tuner = search.tuner
    share = min(1.0, search.elapsed / tuner.budget)
    st.progress(share, text=f"Searching **{(tuner.cell or '…').upper()}** · {search.elapsed:.0f} s of "
                            f"{tuner.budget:.0f} s · {len(tuner.records)} trials")
    if tuner.stopped:
        st.info("Stopping: the trials in flight end after their current batch…", icon=":material/hourglass_bottom:")
    elif st.button("Stop", icon=":material/stop_circle:", key="tuning_stop",
                   help="Ends the search now and keeps what was found."):
        tuner.stop()
    trials_and_figures(search, "live")


if search is not None and search.running:
    live()
elif search is not None and search.error:
    st.error(md_escape(search.error), icon=":material/error:")
elif search is not None and search.result is not None:
    result = search.result
    st.subheader("Best per cell" + (" (stopped early: what was found so far)" if result.stopped else ""))
    if not result.best:
        st.warning("No trial finished, so there is no best configuration yet; give the search more time.",
                   icon=":material/warning:")
    else:
        st.dataframe(tune.best_table(search), hide_index=True, width="stretch", key="tuning_best")
        if ranking := tune.ranking_sentence(result):
            st.caption(md_escape(ranking))
        for cell, best in result.best.items():
            c = st.columns([3, 1, 1])
            c[0].markdown(f"**{cell.upper()}**: valid {result.metric} {best.valid.get(result.metric, 0):.3f}, "
                          f"test {best.metrics.get(result.metric, 0):.3f}")
            if c[1].button("Keep this run", key=f"tuning_keep_{cell}", icon=":material/bookmark_add:",
                           disabled=cell in search.kept, help="Adds the run to your runs and the run library."):
                with friendly_errors("Keeping the run"):
                    st.toast(md_escape(f"Kept '{tune.keep_run(search, cell)}'."), icon=":material/check:")
                    st.rerun()
            if c[2].button("Copy to Train", key=f"tuning_copy_{cell}", icon=":material/content_copy:",
                           help="Fills the Train page's form with this configuration."):
                tune.copy_to_train(best.config)
                st.switch_page(PAGE["train"])
    with st.expander("All trials and figures", expanded=not result.best, icon=":material/table_rows:"):
        trials_and_figures(search, "done")
else:
    st.info("Choose the cells and a budget, then press **Start search**. The defaults are each cell's first "
            "trial, so a search never ends below them.", icon=":material/lightbulb:")
