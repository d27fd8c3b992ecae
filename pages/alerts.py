"""Alerts: deals closing or slipped, quiet partners, goal milestones, overdue tasks."""

import streamlit as st

from isv import ui
from isv.ui import alerts as alert_ui

viewer = ui.page_viewer(__file__)

st.title("Alerts")
ui.show_flash()
alert_ui.live_inbox(viewer, alert_ui.filters())
