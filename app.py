"""seqrec studio: `streamlit run app.py`. This file is the router (page config, shared sidebar, navigation);
the pages live in views/ (listed in studio/nav.py) and all computation in the seqrec package."""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: idle OpenMP threads must not spin

import streamlit as st

from seqrec.errors import SeqrecError
from seqrec.runtime import ServerSettings, configure_threads
from studio import state
from studio.nav import PAGE, STEPS
from studio.textsafe import md_escape

st.set_page_config(page_title="seqrec studio", page_icon=":material/neurology:", layout="wide")
try:
    ServerSettings.from_env()  # every SEQREC_* variable checked at start: a bad one is its sentence, not a traceback
except SeqrecError as e:
    st.error(md_escape(str(e)), icon=":material/error:")
    st.stop()
configure_threads()

PAGES = [st.Page(PAGE["home"], title="Home", icon=":material/home:", default=True)] + [
    st.Page(page, title=title, icon=icon) for page, title, icon, _ in STEPS]

nav = st.navigation(PAGES)
state.keep_widget_values()
state.init_state()
TRAIN = next(p for p, (page, *_) in zip(PAGES[1:], STEPS) if page == PAGE["train"])
state.sidebar(poll=nav is not TRAIN)  # the Train page's live view polls the job itself (studio/live.py)
nav.run()
