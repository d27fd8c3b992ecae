"""What `streamlit run serve.py` serves: the app (app.py) and the cookie routes (isv/web.py).

st.App is Streamlit's own way to add routes to its server; `streamlit run` finds `app` here
and serves it with the same flags and config as a plain script. The pages' modules load in
the background from the start, not under the first sign-in, and the dashboard those who see
every deal land on is computed (isv/ui/login.py, warm_server). Every run goes through
app.py's navigation, the first too (isv/ui/nav.py, navigation_only).
"""

import streamlit as st

from isv import web
from isv.ui.login import warm_server
from isv.ui.nav import navigation_only

navigation_only()
app = st.App("app.py", routes=web.routes())
warm_server(landing=True)
