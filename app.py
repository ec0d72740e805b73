"""seqrec studio: `streamlit run app.py`. This file is the router (page config, shared sidebar, navigation);
the pages live in views/ (listed in studio/nav.py) and all computation in the seqrec package."""
import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: idle OpenMP threads must not spin

import streamlit as st  # noqa: E402

from seqrec.runtime import configure_threads  # noqa: E402
from studio import state  # noqa: E402
from studio.nav import PAGE, STEPS  # noqa: E402

configure_threads()
st.set_page_config(page_title="seqrec studio", page_icon=":material/neurology:", layout="wide")

PAGES = [st.Page(PAGE["home"], title="Home", icon=":material/home:", default=True)] + [
    st.Page(page, title=title, icon=icon) for page, title, icon, _ in STEPS]

nav = st.navigation(PAGES)
state.keep_widget_values()
state.init_state()
TRAIN = next(p for p, (page, *_) in zip(PAGES[1:], STEPS) if page == PAGE["train"])
state.sidebar(poll=nav is not TRAIN)  # the Train page's live view polls the job itself (studio/live.py)
nav.run()
