"""Weekly status: my week, drafted from the data, saved as I type, submitted once."""

import streamlit as st

from isv import ui
from isv.ui import weekly

viewer = ui.page_viewer(__file__)

st.title("Weekly status")
ui.show_flash()
st.caption("Your draft is saved as you type, so reloading or leaving the page loses "
           "nothing. Submit it when it is ready; a submitted week cannot be changed.")

errors = ui.FieldErrors()
chosen = weekly.choose_week(errors)
if chosen is None:
    st.stop()
week, form = chosen

weekly.state_note(form)
weekly.remember_drawn(week, form)
weekly.text_boxes(viewer, week, form, errors)
weekly.kpi_table(week, form, errors)
weekly.save_state_and_submit(week, form, errors)
weekly.history()
