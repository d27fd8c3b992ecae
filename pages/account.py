"""Account: who you are, and your personal access tokens for scripts using the REST API."""

import streamlit as st

from isv import ui
from isv.services import users
from isv.ui import account

viewer = ui.page_viewer(__file__)

st.title("Account")
ui.show_flash()
account.start_token_form()

me = ui.run(users.get_user, user_id=viewer.id)
if me is None:
    st.stop()
account.profile(me)
account.new_token(viewer)
account.create_token_form(viewer)
account.tokens()
