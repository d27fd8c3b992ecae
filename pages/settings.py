"""Settings: fiscal year, time zone, currency, probabilities, alerts, retention, health score
weights, partner tiers, deal registration, slide master."""

import streamlit as st

from isv import ui
from isv.ui import settings

viewer = ui.page_viewer(__file__)

st.title("Settings")
ui.show_flash()
settings.settings_form()
settings.slide_master_section()
