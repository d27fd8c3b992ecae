"""Goals: quarterly targets, progress the data decides, the pace line, deals that close a gap."""

import streamlit as st

from isv import ui
from isv.auth import OWN_WORK, TEAM_READ, TEAM_WRITE
from isv.services.settings import local_today
from isv.ui import goals

viewer = ui.page_viewer(__file__)

st.title("Goals")
ui.show_flash()
today = local_today()
year, quarter, period = goals.choose_quarter(today)
mine = None

if viewer.can(OWN_WORK):
    mine = goals.my_goals(year, quarter, period, today)
    goals.set_goal_form(viewer, year, quarter, period, mine)

team = None
if viewer.can(TEAM_READ):
    team = goals.team_goals(viewer, year, quarter, period)

if viewer.can(OWN_WORK):
    goals.remove_goal((team if viewer.can(TEAM_WRITE) else mine) or [])
