"""The Team status page's parts: the week picker, who submitted, blockers, KPIs, statuses."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import streamlit as st

from isv import display
from isv.dates import monday_of
from isv.services.settings import local_today
from isv.services.status import TeamWeek, team_week
from isv.services.validate import MAX_DATE, MIN_DATE
from isv.ui import widgets
from isv.ui.labels import role_label, status_state_label
from isv.ui.tables import table_height

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


def choose_week() -> TeamWeek | None:
    """The week picker (this week first) and the team's week; None when refused."""
    if WEEK_KEY not in st.session_state:
        st.session_state[WEEK_KEY] = monday_of(local_today())
    errors = widgets.FieldErrors()
    week = st.date_input("Week starting (Monday)", key=WEEK_KEY, min_value=MIN_DATE,
                         max_value=MAX_DATE, format="YYYY-MM-DD")
    errors.slot("week_start_date", "Week")
    team = widgets.run(team_week, errors=errors, week_start_date=week)
    if team is None and isinstance(week, date) and week.weekday() != 0:
        st.button(f"Open the week of Monday {monday_of(week)}", on_click=go_to,
                  args=(monday_of(week),), key="team_go_monday")
    return team


def blockers_of(team: TeamWeek) -> list[tuple[str, str]]:
    """(person, blocker) of every submitted status."""
    return [(member.name, line) for member in team.submitted for line in member.blockers]


def counts(team: TeamWeek) -> None:
    done, waiting = team.submitted, team.not_submitted
    left, middle, right = st.columns(3)
    left.metric("Submitted", f"{len(done)} of {len(team.members)}")
    middle.metric("Not submitted", len(waiting))
    right.metric("Blockers", len(blockers_of(team)))


def who_submitted(team: TeamWeek) -> None:
    done, waiting = team.submitted, team.not_submitted
    st.subheader("Who submitted")
    st.dataframe(pd.DataFrame(
        [{"Person": m.name, "Role": role_label(m.role), "Status": status_state_label(m.state),
          "Submitted": display.moment(m.submitted_at, none="—"), "Blockers": len(m.blockers)}
         for m in [*done, *waiting]], columns=list(STATUS_COLUMNS)),
        hide_index=True, column_config=STATUS_COLUMNS, placeholder=display.NONE,
        height=table_height(len(team.members)))
    if waiting:
        st.caption("Not submitted: " + ", ".join(widgets.escape_md(m.name) for m in waiting))


def blockers(team: TeamWeek) -> None:
    st.subheader("Blockers")
    found = blockers_of(team)
    if found:
        st.markdown("\n".join(f"- **{widgets.escape_md(name)}**: {widgets.escape_md(line)}"
                              for name, line in found))
    else:
        st.caption("No blockers in the submitted statuses.")


def kpis(team: TeamWeek) -> None:
    st.subheader("KPI metrics against last week")
    rows = [{"Person": m.name, "Metric": metric.name, "This week": number(metric.this_week),
             "Last week": number(metric.last_week),
             "Change": change(metric.change, metric.this_week, metric.last_week)}
            for m in team.submitted for metric in m.metrics]
    if rows:
        st.dataframe(pd.DataFrame(rows, columns=list(KPI_COLUMNS)), hide_index=True,
                     column_config=KPI_COLUMNS, placeholder=display.NONE,
                     height=table_height(len(rows)))
    else:
        st.caption("No KPI metrics in the submitted statuses.")


def statuses(team: TeamWeek) -> None:
    st.subheader("Statuses")
    if not team.submitted:
        st.caption("Nobody has submitted a status for this week yet.")
    for member in team.submitted:
        with st.expander(f"{widgets.escape_md(member.name)} — submitted "
                         f"{widgets.escape_md(display.moment(member.submitted_at))}"):
            for title, text in (("Accomplishments", member.accomplishments),
                                ("Upcoming", member.upcoming_tasks)):
                st.markdown(f"**{title}**")
                st.markdown(widgets.escape_md(text) if text.strip() else "—")
            st.markdown("**Blockers**")
            st.markdown("\n".join(f"- {widgets.escape_md(line)}" for line in member.blockers)
                        or "—")
