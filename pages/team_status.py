"""Team status: for one week, who submitted, every blocker, and each person's KPIs against
last week."""

import streamlit as st

from isv import ui
from isv.ui import team_status

viewer = ui.page_viewer(__file__)

st.title("Team status")
team = team_status.choose_week()
if team is None:
    st.stop()
team_status.counts(team)
team_status.who_submitted(team)
team_status.blockers(team)
team_status.kpis(team)
team_status.statuses(team)
