"""System: the scheduler — which instance leads, how each job last ran — and the backups."""

import streamlit as st

from isv import display, ui
from isv.services import backups, jobs
from isv.ui import alerts as alert_ui

viewer = ui.page_viewer(__file__)

st.title("System")
st.subheader("Scheduler")
# A run whose process died (a killed one-off run) shows as interrupted, not "running".
ui.run(jobs.close_abandoned_runs)
alert_ui.leader_panel(ui.run(jobs.leader_status))

summaries = ui.run(jobs.job_summaries)
if summaries is not None:
    alert_ui.job_cards(summaries)

st.subheader("Recent runs")
runs = ui.run(jobs.recent_runs, limit=20)
if runs is not None:
    if runs:
        st.dataframe(alert_ui.runs_frame(runs), hide_index=True,
                     column_config=alert_ui.RUN_COLUMNS, placeholder=display.NONE,
                     height=ui.table_height(len(runs)))
    else:
        st.info("No job has run yet.", icon=":material/schedule:")

st.subheader("Backups")
found = ui.run(backups.kept)
if found is not None:
    where, files = found
    shown = ui.escape_md(str(where))
    if files:
        st.caption(f"{display.count(len(files))} checked backups in {shown}, newest first.")
        st.dataframe(alert_ui.backups_frame(files), hide_index=True, placeholder=display.NONE,
                     height=ui.table_height(len(files)))
    else:
        st.info(f"No backup in {shown} yet: the backup job writes one on its schedule.",
                icon=":material/backup:")
