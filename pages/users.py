"""Users: who may sign in, in which role; add, change role, deactivate, set a password."""

import streamlit as st

from isv import auth, display, ui
from isv.services import users
from isv.ui import users as user_ui
from isv.ui.tables import USER_COLUMNS, users_frame

viewer = ui.page_viewer(__file__)
# Only the roles this viewer may grant (auth.manageable_roles): an admin never sees vp.
grantable = auth.manageable_roles(viewer)

st.title("Users")
ui.show_flash()
people = ui.run(users.list_users)
if people is None:
    st.stop()
st.dataframe(users_frame(people), hide_index=True, column_config=USER_COLUMNS,
             placeholder=display.NONE, height=ui.table_height(len(people)))

add_col, change_col = st.columns(2, gap="large")
with add_col:
    user_ui.add_form(grantable)
with change_col:
    person = user_ui.choose_user(people)
    user_ui.account_controls(viewer, grantable, person)
user_ui.personal_data(person)
