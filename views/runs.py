"""Runs page: the run library - this workspace's saved runs, the shared gallery, downloads (bundle, config JSON) and
importing a bundle. The logic lives in seqrec.runs.store and seqrec.runs.bundle; this page only wires the widgets."""
import streamlit as st

from seqrec import SeqrecError
from seqrec.runs import bundle
from seqrec.runs.store import library_table
from studio.textsafe import md_escape as md
from studio import state
from studio.ui import friendly_errors

FLASH = "runs_flash"

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


def session_copies(run_id: str) -> list:
    """Runs of this session that came from (or were saved as) the stored run `run_id`."""
    return [r for r in state.runs() if getattr(r, "store_id", None) == run_id]


def done(message: str) -> None:
    st.session_state[FLASH] = message
    st.rerun()


def show_table(records, show_owner: bool, key: str) -> None:
    loaded = {getattr(r, "store_id", None) for r in state.runs()}
    st.dataframe(library_table(records, sid, loaded, show_owner), hide_index=True, width="stretch", key=key,
                 column_config={"Test Recall": st.column_config.NumberColumn(format="%.3f"),
                                "K": st.column_config.NumberColumn(width="small")})


def pick(records, key: str):
    ids = [r.id for r in records]
    if st.session_state.get(key) not in ids:
        st.session_state[key] = ids[0]
    by_id = {r.id: r for r in records}
    chosen = st.selectbox("Run", ids, key=key,
                          format_func=lambda i: f"{by_id[i].name} · {by_id[i].model.upper()} · "
                                                f"{by_id[i].created[:16].replace('T', ' ')}")
    return by_id[chosen]


def load_button(rec, key: str, label: str) -> None:
    """Load the stored run into this session (a copy: every page can then use it)."""
    loaded = bool(session_copies(rec.id))
    if st.button("Loaded in this session" if loaded else label, key=key, disabled=loaded or not rec.available,
                 icon=":material/download_done:" if loaded else ":material/upload:", type="primary"):
        with notes, friendly_errors("Loading the run"):
            run = store.load(rec.id, sid)
            state.add_run(run)
            ds = state.current_dataset()
            other = run.dataset.get("fingerprint") != ds.fingerprint
            done(f"Loaded {md(run.name)}." + (f" It was trained on other data ({md(run.dataset.get('name') or '?')}): "
                                             f"Compare shows it in its own group, and Recommend and Inside use it once "
                                             f"that data is loaded on the Data page." if other else
                                             " It is now on every page."))


def download_buttons(rec, key: str) -> None:
    """Bundle (zip with weights) and config JSON; the bundle is built only when clicked."""
    c = st.columns(2)
    c[0].download_button("Bundle .zip", data=lambda: bundle.bundle_bytes(store.load(rec.id, sid)),
                         file_name=bundle.bundle_filename(rec.name), mime="application/zip",
                         icon=":material/folder_zip:", key=f"{key}_bundle", disabled=not rec.available,
                         on_click="ignore",
                         help="Config, item vocabulary, weights (safetensors), metrics and curves in one zip: upload "
                              "it on another seqrec studio to use the run there.")
    c[1].download_button("Config .json", data=bundle.config_bytes(rec),
                         file_name=bundle.config_filename(rec.name), mime="application/json",
                         icon=":material/settings:", key=f"{key}_config", on_click="ignore",
                         help="The training settings: `python -m seqrec train DATA.csv --config FILE` or the Train "
                              "page reproduce the run (same data, same seed, same numbers).")


tab_mine, tab_gallery, tab_import = st.tabs([":material/person: Your runs", ":material/groups: Gallery",
                                             ":material/upload_file: Import a bundle"])

with tab_mine:
    if not mine:
        st.info("No saved runs in this workspace yet: every run you train is saved here when it finishes.",
                icon=":material/info:")
        st.page_link("views/train.py", label="Train a model", icon=":material/model_training:")
    else:
        show_table(mine, False, "runs_mine_table")
        rec = pick(mine, "runs_pick")
        with st.container(border=True):
            left, right = st.columns(2)
            with left:
                load_button(rec, "runs_load", "Load into this session")
                download_buttons(rec, "runs_dl")
                if rec.published:
                    if st.button("Take out of the gallery", key="runs_unpublish", icon=":material/lock:",
                                 help="Other sessions will no longer see it (copies they loaded stay with them)."):
                        with notes, friendly_errors("Unpublishing"):
                            store.publish(rec.id, sid, published=False)
                            done(f"{md(rec.name)} is private again.")
                elif st.button("Publish to the gallery", key="runs_publish", icon=":material/public:",
                               help="Every session can then see and load a copy of it; only you can change it."):
                    with notes, friendly_errors("Publishing"):
                        store.publish(rec.id, sid, published=True)
                        done(f"{md(rec.name)} is in the gallery: every session can load a copy.")
            with right:
                new_name = st.text_input("New name", value=rec.name, key=f"runs_new_name_{rec.id}", max_chars=100)
                if st.button("Rename", key="runs_rename", icon=":material/edit:"):
                    with notes, friendly_errors("Renaming"):
                        renamed = store.rename(rec.id, new_name, sid)
                        taken = {r.name for r in state.runs() if getattr(r, "store_id", None) != rec.id}
                        for copy in session_copies(rec.id):
                            copy.name = renamed.name if renamed.name not in taken else f"{renamed.name} ({rec.id[:6]})"
                        done(f"Renamed to {md(renamed.name)}.")
                sure = st.checkbox("Yes, delete this run for good", key=f"runs_delete_sure_{rec.id}")
                if st.button("Delete", key="runs_delete", icon=":material/delete:", disabled=not sure,
                             help="Removes the saved run (and its copy in this session)."):
                    with notes, friendly_errors("Deleting"):
                        store.delete(rec.id, sid)
                        st.session_state[state.RUNS] = [r for r in state.runs()
                                                        if getattr(r, "store_id", None) != rec.id]
                        done(f"Deleted {md(rec.name)}.")

with tab_gallery:
    st.caption("Runs published by any session (for instance prepared by the workshop instructor). Load a copy to use "
               "it on every page; only its owner can rename or delete it.")
    if not gallery:
        st.info("The gallery is empty. Publish one of your runs to share it with every session.",
                icon=":material/info:")
    else:
        show_table(gallery, True, "runs_gallery_table")
        grec = pick(gallery, "runs_gallery_pick")
        with st.container(border=True):
            load_button(grec, "runs_gallery_load", "Load a copy into this session")
            download_buttons(grec, "runs_gallery_dl")

with tab_import:
    st.caption("Upload a run bundle (.zip) downloaded from seqrec studio. It is checked before anything is used "
               "(only plain data is read, never code) and saved to your runs.")
    up = st.file_uploader("Run bundle", type=["zip"], key=f"runs_import_file_{st.session_state.get('runs_imports', 0)}")
    if up is not None and st.button("Import", key="runs_import", type="primary", icon=":material/upload:"):
        with notes, friendly_errors("Importing the bundle"):
            run = bundle.read_bundle(up, name=up.name)
            store.save(run, sid)
            state.add_run(run)
            st.session_state["runs_imports"] = st.session_state.get("runs_imports", 0) + 1  # an empty uploader
            done(f"Imported {md(run.name)}: it is in your runs and loaded in this session.")
