"""Recommend page: top-K for a user, for a hand-built history, and the same history through every model."""
import streamlit as st

from seqrec.data.users import find_users
from seqrec.runs import recommend
from studio import state
from studio.tables import recommendations_table, user_history
from studio.textsafe import md_escape
from studio.ui import friendly_errors, link_to_train, note_unless_better, show_recommendations

state.keep_widget_values()  # before any widget: restore settings dropped on a page switch
st.title(":material/recommend: Recommend")
ds = state.current_dataset()
runs = state.runs_for_current_dataset()
sources = recommend.scoring_sources(runs, ds)
st.caption("What would each model recommend next? Runs trained in this session on the current data are listed "
           "first, then the five baselines (always available).")
if not runs:
    st.info("No trained run on this data yet, so only the baselines are listed. Train one in a few seconds:",
            icon=":material/info:")
    link_to_train("Train a model")

c = st.columns([3, 2, 2])
names = list(sources)
if st.session_state.get("rec_model") not in names:
    st.session_state["rec_model"] = names[0]
model_name = c[0].selectbox("Model", names, key="rec_model")
st.session_state.setdefault("rec_k", 10)
k = c[1].slider("How many recommendations (K)", 1, 50, key="rec_k")
exclude = c[2].toggle("Exclude items already seen", key="rec_exclude",
                      help="Never recommend an item that is already in the history.")
source = sources[model_name]
if any(source is r for r in runs):
    note_unless_better(source)
st.download_button(f"Top {k} for every user (CSV)", key="rec_all_users_csv", icon=":material/download:",
                   data=lambda: recommend.all_users_csv(source, ds, k, exclude),
                   file_name=f"seqrec_top{k}_all_users.csv",
                   mime="text/csv", on_click="ignore",
                   help="The chosen model's top K after each user's whole history (what to show them next): columns "
                        "user, rank, item, score (probability) and title. Built when you click.")

tab_user, tab_whatif, tab_side = st.tabs([":material/person: For a user", ":material/edit_note: What if",
                                          ":material/view_column: Side by side"])

with tab_user:
    find, pick = st.columns([1, 2])
    query = find.text_input("Find a user", key="rec_query", placeholder="part of a user ID",
                            help="Searches every user ID; the list shows up to 5,000 matches.")
    users = find_users(ds, query, limit=5000)
    if not users:
        find.warning("No user ID contains that text; showing all users.")
        users = find_users(ds, "", limit=5000)
    if st.session_state.get("rec_user") not in users:
        st.session_state["rec_user"] = users[0]
    user = pick.selectbox("User (type to search)", users, key="rec_user",
                          help=f"{len(users):,} of {ds.stats['users']:,} users listed; use Find a user to narrow.")
    hist = user_history(ds, user)
    with friendly_errors("Recommending"):
        rec = recommend.recommend_for_user(source, ds, user, k, exclude)
        left, right = st.columns(2)
        with left:
            st.markdown(f"**History of {md_escape(user)}** · {len(hist)} items, oldest first")
            st.dataframe(hist, hide_index=True, width="stretch", height=min(420, 38 + 35 * len(hist)),
                         column_order=["#", "Item", "Category", "When", "Role"],
                         column_config={"#": st.column_config.NumberColumn(width="small")})
        with right:
            st.markdown(f"**Top {k} from {md_escape(model_name)}** · from everything before the held-out item")
            show_recommendations(recommendations_table(ds, rec.recommendations, rec.held_out_item))
            (st.success if rec.hit else st.info)(md_escape(rec.sentence()), icon=":material/target:")

with tab_whatif:
    st.caption("Build a history by hand, oldest first: the order you pick items in is the order the network reads "
               "them. Add or remove items and watch the top-K change.")
    if "rec_history" not in st.session_state:
        st.session_state["rec_history"] = list(hist["Item ID"].iloc[-4:-1])
    all_items = ds.item_ids
    known, shown = set(all_items), all_items[:5000]
    st.session_state["rec_history"] = [i for i in st.session_state["rec_history"] if i in known]
    options = shown + [i for i in st.session_state["rec_history"] if i not in set(shown)]
    history = st.multiselect("History (type a title to search)", options, key="rec_history",
                             format_func=ds.item_label, placeholder="Pick items in the order they happened")
    if history:
        st.caption("Reads as: " + "  →  ".join(md_escape(ds.item_title(i)) for i in history))
        with friendly_errors("Recommending"):
            show_recommendations(recommendations_table(ds, recommend.recommend_history(source, ds, history, k,
                                                                                       exclude)))
    else:
        st.info("Pick at least one item to get recommendations.", icon=":material/touch_app:")

with tab_side:
    which = st.radio("History", ["The user's history", "The hand-built history"], horizontal=True,
                     key="rec_side_source")
    if which == "The user's history":
        side_history = list(hist["Item ID"].iloc[:-1])
        st.caption(f"{md_escape(user)}'s history before the held-out item ({len(side_history)} items).")
    else:
        side_history = list(st.session_state.get("rec_history", []))
    if not side_history:
        st.info("The history is empty: pick items in the *What if* tab.", icon=":material/touch_app:")
    else:
        with friendly_errors("Recommending"):
            tops = recommend.side_by_side(runs, ds, side_history, k, exclude)
            per_row = 4
            names_ = list(tops)
            for start in range(0, len(names_), per_row):
                cols = st.columns(per_row)
                for col, name in zip(cols, names_[start:start + per_row]):
                    with col.container(border=True):
                        st.markdown(f"**{md_escape(name)}**")
                        t = recommendations_table(ds, tops[name])[["Rank", "Item", "Score"]]
                        show_recommendations(t)
