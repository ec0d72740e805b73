"""The Runs page's widget groups and run bookkeeping: which session runs are copies of a stored run, loading,
renaming and deleting them in step with the library, downloads, and importing a bundle. The library itself is
seqrec.runs.store and seqrec.runs.bundle; this module keeps the session's run list consistent with it."""
from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from seqrec.runs import bundle
from studio import state
from studio.tables import library_table
from studio.textsafe import md_escape as md
from studio.ui import friendly_errors

FLASH = "runs_flash"


def session_copies(run_id: str) -> list:
    """Runs of this session that came from (or were saved as) the stored run `run_id`."""
    return [r for r in state.runs() if getattr(r, "store_id", None) == run_id]


def done(message: str) -> None:
    """Keep a success sentence for the next run of the page, and rerun it (tables and pickers show the change)."""
    st.session_state[FLASH] = message
    st.rerun()


def pick(records, key: str):
    """A run picker over stored records; returns the chosen record."""
    ids = [r.id for r in records]
    if st.session_state.get(key) not in ids:
        st.session_state[key] = ids[0]
    by_id = {r.id: r for r in records}
    chosen = st.selectbox("Run", ids, key=key,
                          format_func=lambda i: f"{by_id[i].name} · {by_id[i].model.upper()} · "
                                                f"{by_id[i].created[:16].replace('T', ' ')}")
    return by_id[chosen]


@dataclass
class Library:
    """The run library as this session sees it: the store, the session's id in it, and where messages go."""

    store: object
    sid: str
    notes: object  # a container above the tabs: messages are seen whichever tab is open

    def show_table(self, records, show_owner: bool, key: str) -> None:
        loaded = {getattr(r, "store_id", None) for r in state.runs()}
        st.dataframe(library_table(records, self.sid, loaded, show_owner), hide_index=True, width="stretch", key=key,
                     column_config={"Test Recall": st.column_config.NumberColumn(format="%.3f"),
                                    "K": st.column_config.NumberColumn(width="small")})

    def load_button(self, rec, key: str, label: str) -> None:
        """Load the stored run into this session (a copy: every page can then use it)."""
        loaded = bool(session_copies(rec.id))
        if st.button("Loaded in this session" if loaded else label, key=key, disabled=loaded or not rec.available,
                     icon=":material/download_done:" if loaded else ":material/upload:", type="primary"):
            with self.notes, friendly_errors("Loading the run"):
                run = self.store.load(rec.id, self.sid)
                state.add_run(run)
                other = run.dataset.get("fingerprint") != state.current_dataset().fingerprint
                done(f"Loaded {md(run.name)}." + (
                    f" It was trained on other data ({md(run.dataset.get('name') or '?')}): Compare shows it in its "
                    f"own group, and Recommend and Inside use it once that data is loaded on the Data page." if other
                    else " It is now on every page."))

    def download_buttons(self, rec, key: str) -> None:
        """Bundle (zip with weights) and config JSON; the bundle is built only when clicked."""
        c = st.columns(2)
        c[0].download_button("Bundle .zip", data=lambda: bundle.bundle_bytes(self.store.load(rec.id, self.sid)),
                             file_name=bundle.bundle_filename(rec.name), mime="application/zip",
                             icon=":material/folder_zip:", key=f"{key}_bundle", disabled=not rec.available,
                             on_click="ignore",
                             help="Config, item vocabulary, weights (safetensors), metrics and curves in one zip: "
                                  "upload it on another seqrec studio to use the run there.")
        c[1].download_button("Config .json", data=bundle.config_bytes(rec),
                             file_name=bundle.config_filename(rec.name), mime="application/json",
                             icon=":material/settings:", key=f"{key}_config", on_click="ignore",
                             help="The training settings: `python -m seqrec train DATA.csv --config FILE` or the "
                                  "Train page reproduce the run (same data, same seed, same numbers).")

    def publish_toggle(self, rec) -> None:
        """Publish a private run, or take a published one out of the gallery."""
        if rec.published:
            if st.button("Take out of the gallery", key="runs_unpublish", icon=":material/lock:",
                         help="Other sessions will no longer see it (copies they loaded stay with them)."):
                with self.notes, friendly_errors("Unpublishing"):
                    self.store.publish(rec.id, self.sid, published=False)
                    done(f"{md(rec.name)} is private again.")
        elif st.button("Publish to the gallery", key="runs_publish", icon=":material/public:",
                       help="Every session can then see and load a copy of it; only you can change it."):
            with self.notes, friendly_errors("Publishing"):
                self.store.publish(rec.id, self.sid, published=True)
                done(f"{md(rec.name)} is in the gallery: every session can load a copy.")

    def rename_box(self, rec) -> None:
        """Rename the stored run and its copies in this session (kept unique among the session's runs)."""
        new_name = st.text_input("New name", value=rec.name, key=f"runs_new_name_{rec.id}", max_chars=100)
        if st.button("Rename", key="runs_rename", icon=":material/edit:"):
            with self.notes, friendly_errors("Renaming"):
                renamed = self.store.rename(rec.id, new_name, self.sid)
                taken = {r.name for r in state.runs() if getattr(r, "store_id", None) != rec.id}
                for copy in session_copies(rec.id):
                    copy.name = renamed.name if renamed.name not in taken else f"{renamed.name} ({rec.id[:6]})"
                done(f"Renamed to {md(renamed.name)}.")

    def delete_box(self, rec) -> None:
        """Delete the stored run (after a confirmation tick) and its copy in this session."""
        sure = st.checkbox("Yes, delete this run for good", key=f"runs_delete_sure_{rec.id}")
        if st.button("Delete", key="runs_delete", icon=":material/delete:", disabled=not sure,
                     help="Removes the saved run (and its copy in this session)."):
            with self.notes, friendly_errors("Deleting"):
                self.store.delete(rec.id, self.sid)
                st.session_state[state.RUNS] = [r for r in state.runs() if getattr(r, "store_id", None) != rec.id]
                done(f"Deleted {md(rec.name)}.")

    def import_box(self) -> None:
        """Upload a bundle: checked, saved to this workspace's runs and loaded in the session."""
        up = st.file_uploader("Run bundle", type=["zip"],
                              key=f"runs_import_file_{st.session_state.get('runs_imports', 0)}")
        if up is not None and st.button("Import", key="runs_import", type="primary", icon=":material/upload:"):
            with self.notes, friendly_errors("Importing the bundle"):
                run = bundle.read_bundle(up, name=up.name)
                self.store.save(run, self.sid)
                state.add_run(run)
                st.session_state["runs_imports"] = st.session_state.get("runs_imports", 0) + 1  # an empty uploader
                done(f"Imported {md(run.name)}: it is in your runs and loaded in this session.")
