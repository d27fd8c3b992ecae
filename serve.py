"""What `streamlit run serve.py` serves: the app (app.py) and the cookie routes (isv/web.py).

st.App is Streamlit's own way to add routes to its server; `streamlit run` finds `app` here
and serves it with the same flags and config as a plain script.
"""

import streamlit as st

from isv import web

app = st.App("app.py", routes=web.routes())
