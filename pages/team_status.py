"""Team status: for one week, who submitted, every blocker, and each person's KPIs against
last week."""

from datetime import date
from decimal import Decimal

import pandas as pd
import streamlit as st

from isv import display, ui
from isv.dates import local_today, monday_of
from isv.services.status import team_week
from isv.services.validate import MAX_DATE, MIN_DATE
from isv.ui.labels import role_label, status_state_label

viewer = ui.page_viewer(__file__)

WEEK_KEY = "team_week"
STATUS_COLUMNS = {
    "Person": st.column_config.TextColumn("Person"),
    "Role": st.column_config.TextColumn("Role"),
    "Status": st.column_config.TextColumn("Status"),
    "Submitted": st.column_config.TextColumn("Submitted"),
    "Blockers": st.column_config.NumberColumn("Blockers", format=display.TABLE_COUNT_FORMAT),
}
KPI_COLUMNS = {
    "Person": st.column_config.TextColumn("Person"),
    "Metric": st.column_config.TextColumn("Metric"),
    "This week": st.column_config.TextColumn("This week"),
    "Last week": st.column_config.TextColumn("Last week"),
    "Change": st.column_config.TextColumn("Change", help="▲ up, ▼ down, = the same"),
}


def number(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return f"{value.normalize():,f}"


def change(value: Decimal | None, this: Decimal | None, last: Decimal | None) -> str:
    # A symbol and a sign, never colour alone.
    if this is None:
        return "not reported"
    if last is None:
        return "new"
    if value > 0:
        return f"▲ +{number(value)}"
    if value < 0:
        return f"▼ −{number(-value)}"
    return "= 0"


def go_to(week: date) -> None:
    st.session_state[WEEK_KEY] = week


st.title("Team status")
if WEEK_KEY not in st.session_state:
    st.session_state[WEEK_KEY] = monday_of(local_today())
errors = ui.FieldErrors()
week = st.date_input("Week starting (Monday)", key=WEEK_KEY, min_value=MIN_DATE,
                     max_value=MAX_DATE, format="YYYY-MM-DD")
errors.slot("week_start_date", "Week")
team = ui.run(team_week, errors=errors, week_start_date=week)
if team is None:
    if isinstance(week, date) and week.weekday() != 0:
        st.button(f"Open the week of Monday {monday_of(week)}", on_click=go_to,
                  args=(monday_of(week),), key="team_go_monday")
    st.stop()

done, waiting = team.submitted, team.not_submitted
blockers = [(member.name, line) for member in done for line in member.blockers]
left, middle, right = st.columns(3)
left.metric("Submitted", f"{len(done)} of {len(team.members)}")
middle.metric("Not submitted", len(waiting))
right.metric("Blockers", len(blockers))

st.subheader("Who submitted")
st.dataframe(pd.DataFrame(
    [{"Person": m.name, "Role": role_label(m.role), "Status": status_state_label(m.state),
      "Submitted": display.moment(m.submitted_at, none="—"), "Blockers": len(m.blockers)}
     for m in [*done, *waiting]], columns=list(STATUS_COLUMNS)),
    hide_index=True, column_config=STATUS_COLUMNS, placeholder=display.NONE,
    height=ui.table_height(len(team.members)))
if waiting:
    st.caption("Not submitted: " + ", ".join(ui.escape_md(m.name) for m in waiting))

st.subheader("Blockers")
if blockers:
    st.markdown("\n".join(f"- **{ui.escape_md(name)}**: {ui.escape_md(line)}"
                          for name, line in blockers))
else:
    st.caption("No blockers in the submitted statuses.")

st.subheader("KPI metrics against last week")
kpis = [{"Person": m.name, "Metric": metric.name, "This week": number(metric.this_week),
         "Last week": number(metric.last_week),
         "Change": change(metric.change, metric.this_week, metric.last_week)}
        for m in done for metric in m.metrics]
if kpis:
    st.dataframe(pd.DataFrame(kpis, columns=list(KPI_COLUMNS)), hide_index=True,
                 column_config=KPI_COLUMNS, placeholder=display.NONE,
                 height=ui.table_height(len(kpis)))
else:
    st.caption("No KPI metrics in the submitted statuses.")

st.subheader("Statuses")
if not done:
    st.caption("Nobody has submitted a status for this week yet.")
for member in done:
    with st.expander(f"{ui.escape_md(member.name)} — submitted "
                     f"{ui.escape_md(display.moment(member.submitted_at))}"):
        for title, text in (("Accomplishments", member.accomplishments),
                            ("Upcoming", member.upcoming_tasks)):
            st.markdown(f"**{title}**")
            st.markdown(ui.escape_md(text) if text.strip() else "—")
        st.markdown("**Blockers**")
        st.markdown("\n".join(f"- {ui.escape_md(line)}" for line in member.blockers) or "—")
