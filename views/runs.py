"""Runs page: the run library - this workspace's saved runs, the shared gallery, downloads (bundle, config JSON) and
importing a bundle. The logic lives in seqrec.runs.store and seqrec.runs.bundle, the session bookkeeping in
studio/library.py; this page only lays out."""
import streamlit as st

from seqrec import SeqrecError
from studio import state
from studio.library import FLASH, Library, pick
from studio.textsafe import md_escape as md
from studio.ui import link_to_train

state.keep_widget_values()  # before any widget: restore settings dropped on a page switch
st.title(":material/bookmarks: Runs")
sid = state.session_id()
st.caption("Every run you train is saved here automatically and survives closing the tab or restarting the app. "
           "Your runs are private to this workspace (its code is in the page address: bookmark it to come back, and "
           "share it only with people who may change your runs). Publish a run to put it in the gallery, where every "
           "session can load a copy but only you can change it.")


notes = st.container()  # messages go here, above the tabs, so they are seen whichever tab is open
note = st.session_state.pop(state.STORE_NOTE, None)
if note:
    notes.warning(md(note), icon=":material/warning:")
flash = st.session_state.pop(FLASH, None)
if flash:
    notes.success(flash, icon=":material/check_circle:")

try:
    store = state.run_store()
    mine, gallery = store.list(sid, "mine"), store.list(sid, "gallery")  # here: a library damaged later is one sentence
except SeqrecError as e:
    st.error(md(str(e)), icon=":material/error:")
    st.stop()
library = Library(store, sid, notes)

tab_mine, tab_gallery, tab_import = st.tabs([":material/person: Your runs", ":material/groups: Gallery",
                                             ":material/upload_file: Import a bundle"])

with tab_mine:
    if not mine:
        st.info("No saved runs in this workspace yet: every run you train is saved here when it finishes.",
                icon=":material/info:")
        link_to_train("Train a model")
    else:
        library.show_table(mine, False, "runs_mine_table")
        rec = pick(mine, "runs_pick")
        with st.container(border=True):
            left, right = st.columns(2)
            with left:
                library.load_button(rec, "runs_load", "Load into this session")
                library.download_buttons(rec, "runs_dl")
                library.publish_toggle(rec)
            with right:
                library.rename_box(rec)
                library.delete_box(rec)

with tab_gallery:
    st.caption("Runs published by any session (for instance prepared by the workshop instructor). Load a copy to use "
               "it on every page; only its owner can rename or delete it.")
    if not gallery:
        st.info("The gallery is empty. Publish one of your runs to share it with every session.",
                icon=":material/info:")
    else:
        library.show_table(gallery, True, "runs_gallery_table")
        grec = pick(gallery, "runs_gallery_pick")
        with st.container(border=True):
            library.load_button(grec, "runs_gallery_load", "Load a copy into this session")
            library.download_buttons(grec, "runs_gallery_dl")

with tab_import:
    st.caption("Upload a run bundle (.zip) downloaded from seqrec studio. It is checked before anything is used "
               "(only plain data is read, never code) and saved to your runs.")
    library.import_box()
