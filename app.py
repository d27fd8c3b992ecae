"""ISV Pipeline Tracker: page config, the login gate, then the pages the viewer's role may use.

Pages are registered in isv/ui/nav.py (path, title, icon, section, roles); frame.start()
checks the login and the server session, draws the sidebar and calls st.navigation with
only the pages the viewer's role may use.
"""

import streamlit as st

from isv import logs
from isv.ui import frame

logs.configure()  # once per process; a no-op on every later rerun
st.set_page_config(page_title=frame.PAGE_TITLE, page_icon=frame.PAGE_ICON, layout="wide")
page = frame.start()
with frame.page_run(page.url_path or "home"):
    page.run()
