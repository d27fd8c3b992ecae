"""Tasks: my to-do list, linked to deals; overdue ones marked; unfinished ones roll over."""

import streamlit as st

from isv import ui
from isv.services import tasks
from isv.ui import tasks as task_ui

viewer = ui.page_viewer(__file__)

st.title("Tasks")
ui.show_flash()

filters, filter_tag = task_ui.filters()
task_ui.rollover(viewer)

rows = ui.run(tasks.list_tasks, filters=filters)
choices = ui.run(tasks.opportunity_choices)
if rows is None or choices is None:
    st.stop()
grid_key, rows = task_ui.drawn_rows(rows, filter_tag)
deal_labels = task_ui.deal_labels(rows, choices)
task_ui.grid(grid_key, rows, deal_labels)

add_tab, edit_tab = st.tabs(["Add a task", "Details, or delete"])
with add_tab:
    task_ui.add_form(choices, deal_labels)
with edit_tab:
    task_ui.edit_form(rows, deal_labels)
