"""The Goals page's parts: the quarter, my goals with their pace, setting, team, removing.

Each save is one call to services/goals (set_goal or delete_goal); setting a goal sends only
what was edited against the goal as the form was drawn.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pandas as pd
import streamlit as st

from isv import display
from isv.analytics import breakdowns
from isv.analytics.periods import Period, quarter_options, quarter_range
from isv.auth import TEAM_WRITE, Viewer
from isv.models import GOAL_TYPES
from isv.services import goals
from isv.services.goals import GoalView
from isv.ui import edits, widgets
from isv.ui.labels import goal_type_label, stage_label
from isv.ui.tables import table_height

QUARTER_KEY = "goals_quarter"
GOAL_CHOSEN = "goal_set_chosen"  # (person, goal type, year, quarter) the form shows
GOAL_DRAWN = "goal_set_drawn"    # that goal's target and notes as the form was drawn from
# The telling columns first: at 1024 px the last ones scroll.
TEAM_COLUMNS = {
    "Person": st.column_config.TextColumn("Person"),
    "Goal": st.column_config.TextColumn("Goal"),
    "Of target": st.column_config.TextColumn("Of target"),
    "Against pace": st.column_config.TextColumn("Against pace"),
    "Progress": st.column_config.TextColumn("Progress", help="Worked out from the data"),
    "Target": st.column_config.TextColumn("Target"),
    "Pace today": st.column_config.TextColumn(
        "Pace today", help="Where progress should be today: target × days gone / days"),
}
DEAL_COLUMNS = {
    "Customer": st.column_config.TextColumn("Customer"),
    "Partner": st.column_config.TextColumn("Partner"),
    "Stage": st.column_config.TextColumn("Stage"),
    "Probability": st.column_config.TextColumn("Probability"),
    "Value": st.column_config.TextColumn("Value"),
    "Expected close": st.column_config.TextColumn("Expected close"),
    "Running total": st.column_config.TextColumn("Running total"),
}


def amount(goal: GoalView, value: Decimal) -> str:
    """Money for revenue goals, a count (pace to one decimal) for the others."""
    if not goal.is_count:
        return display.money(value)
    return display.count(value) if value == value.to_integral_value() else display.number(value)


def target_text(goal: GoalView) -> str:
    """A stored target as the Target input shows it: 250000.00, or 12 for a count."""
    return f"{goal.target:.0f}" if goal.is_count else str(goal.target)


def share(goal: GoalView) -> str:
    """Progress against the target; for revenue, goal attainment as every page shows it."""
    return display.percent(goal.share)


def against_pace(goal: GoalView) -> str:
    gap = goal.progress - goal.pace
    if gap >= 0:
        return f"▲ ahead by {amount(goal, gap)}"
    return f"▼ behind by {amount(goal, -gap)}"


def choose_quarter(today: date) -> tuple[int, int, Period]:
    """The quarter picker, the current quarter first chosen."""
    options = [(p.year, p.quarter) for p in quarter_options(today)]
    current = goals.current_quarter(today)
    year, quarter = st.selectbox(
        "Quarter", options, index=options.index(current), key=QUARTER_KEY,
        format_func=lambda yq: f"{quarter_range(*yq).title} ({quarter_range(*yq).span})")
    return year, quarter, quarter_range(year, quarter)


def my_goals(year: int, quarter: int, period: Period, today: date) -> list[GoalView] | None:
    """The viewer's goals, each with its progress, pace line and the deals that close a gap."""
    st.subheader("My goals")
    mine = widgets.run(goals.list_goals, year=year, quarter=quarter)
    if mine is not None and not mine:
        st.caption("No goals for this quarter yet: set one below.")
    for goal in mine or []:
        with st.container(border=True):
            st.markdown(f"**{goal_type_label(goal.goal_type)}** · target "
                        f"{widgets.escape_md(amount(goal, goal.target))}")
            title_col, bar_col = st.columns([1, 1.4], vertical_alignment="center")
            gap = goal.progress - goal.pace
            # Streamlit reads the direction from an ASCII sign; the arrow shows it too.
            title_col.metric(
                "Progress", amount(goal, goal.progress),
                delta=f"{'+' if gap >= 0 else display.MINUS}{amount(goal, abs(gap))} against pace",
                delta_color=("green" if gap > 0 else "red") if gap else "off",
                delta_arrow=("up" if gap > 0 else "down") if gap else "off")
            bar_col.progress(float(min(goal.share or Decimal(0), Decimal(1))),
                             text=f"{share(goal)} of the target")
            bar_col.caption(
                f"Pace line: {amount(goal, goal.pace)} by today (day {goal.elapsed_days} of "
                f"{goal.period.days}) — {against_pace(goal)}.")
            if goal.notes:
                bar_col.caption(widgets.escape_md(goal.notes))
            if goal.goal_type == "revenue" and goal.shortfall > 0 and period.end >= today:
                _closing_deals(goal)
    return mine


def _closing_deals(goal: GoalView) -> None:
    deals = widgets.run(breakdowns.closing_deals, goal_id=goal.id)
    if deals:
        st.markdown(f"Open deals most likely to close the "
                    f"{widgets.escape_md(display.money(goal.shortfall))} gap")
        st.dataframe(pd.DataFrame(
            [{"Customer": d.customer_name, "Partner": d.partner_name,
              "Stage": stage_label(d.stage),
              "Probability": display.percentage(d.probability),
              "Value": display.money(d.deal_value),
              "Expected close": display.day(d.expected_close_date)
              + (" ⚠ slipped" if d.slipped else ""),
              "Running total": display.money(d.cumulative_value)} for d in deals],
            columns=list(DEAL_COLUMNS)), hide_index=True, column_config=DEAL_COLUMNS,
                     placeholder=display.NONE, height=table_height(len(deals)))
        if deals[-1].cumulative_value < goal.shortfall:
            st.caption("Even all of these together do not cover the gap.")
    elif deals is not None:
        st.caption("No open deals are expected to close by the quarter's end.")


def set_goal_form(viewer: Viewer, year: int, quarter: int, period: Period,
                  mine: list[GoalView] | None) -> None:
    """Set a goal, or change one: the form starts from what is stored for the chosen goal."""
    st.subheader("Set a goal")
    people = widgets.run(goals.goal_people) or []
    names = dict(people)
    set_errors = widgets.FieldErrors()
    # Person and goal outside the form: choosing them shows that goal's target and notes,
    # so a change starts from what is stored and sends only what was edited.
    if viewer.can(TEAM_WRITE):
        person = st.selectbox("Person", list(names), format_func=names.get,
                              index=list(names).index(viewer.id) if viewer.id in names
                              else 0, key="goal_set_person")
        set_errors.slot("user_id", "Person")
    else:
        person = viewer.id
    goal_type = st.selectbox("Goal", GOAL_TYPES, format_func=goal_type_label,
                             key="goal_set_type")
    set_errors.slot("goal_type", "Goal")
    theirs = (mine if person == viewer.id
              else widgets.run(goals.list_goals, year=year, quarter=quarter,
                               user_id=person)) or []
    existing = next((g for g in theirs if g.goal_type == goal_type), None)
    chosen = (person, goal_type, year, quarter)
    if st.session_state.get(GOAL_CHOSEN) != chosen or "goal_set_target" not in st.session_state:
        # Another goal chosen (or the form opened): start from what is stored for it.
        drawn = {"target": target_text(existing) if existing else "",
                 "notes": (existing.notes or "") if existing else ""}
        st.session_state.update({GOAL_CHOSEN: chosen, GOAL_DRAWN: drawn,
                                 "goal_set_target": drawn["target"],
                                 "goal_set_notes": drawn["notes"]})
    drawn = st.session_state[GOAL_DRAWN]
    if existing is not None:
        st.caption(f"Changes the {goal_type_label(goal_type).lower()} goal already set for "
                   f"{widgets.escape_md(existing.user_name)} in {period.title}.")
    with st.form("goal_set"):
        target = st.text_input(
            "Target", key="goal_set_target", placeholder="250000 or 12",
            help="Revenue in dollars (won deals assigned to the person); a whole number for "
                 "new opportunities (assigned to them) and new partners (owned by them).")
        set_errors.slot("target", "Target")
        notes = st.text_input("Notes (optional)", key="goal_set_notes")
        set_errors.slot("notes", "Notes")
        set_errors.slot("quarter", "Quarter")
        submitted = st.form_submit_button(f"Save goal for {period.title}", type="primary",
                                          key="goal_set_submit")
    if submitted:
        typed = {"target": target, "notes": notes}
        changes = edits.changed(drawn, typed) if existing is not None else typed
        if not changes:
            st.info("Nothing changed.")
        else:
            saved = widgets.run(goals.set_goal, errors=set_errors, year=year, quarter=quarter,
                                goal_type=goal_type, user_id=person, **changes)
            if saved is not None:
                widgets.flash(f"Saved: {saved.user_name}, {goal_type_label(saved.goal_type)} "
                              f"{amount(saved, saved.target)} for {period.title}.")
                st.session_state.pop(GOAL_CHOSEN, None)
                st.rerun()


def team_goals(viewer: Viewer, year: int, quarter: int,
               period: Period) -> list[GoalView] | None:
    """Everyone's goals in one table."""
    st.subheader("Team goals")
    team = widgets.run(goals.team_goals, year=year, quarter=quarter)
    if team:
        st.dataframe(pd.DataFrame(
            [{"Person": g.user_name, "Goal": goal_type_label(g.goal_type),
              "Target": amount(g, g.target), "Progress": amount(g, g.progress),
              "Pace today": amount(g, g.pace), "Of target": share(g),
              "Against pace": against_pace(g)} for g in team],
            columns=list(TEAM_COLUMNS)), hide_index=True, column_config=TEAM_COLUMNS,
                     placeholder=display.NONE, height=table_height(len(team)))
        if not viewer.can(TEAM_WRITE):
            st.caption("Read only: the VP sets other people's goals.")
    elif team is not None:
        st.caption(f"Nobody has goals for {period.title} yet.")
    return team


def remove_goal(removable: list[GoalView]) -> None:
    """Remove one of `removable`, chosen by person, goal and target."""
    if not removable:
        return
    with st.expander("Remove a goal"):
        by_id = {g.id: g for g in removable}
        chosen = st.selectbox(
            "Goal", list(by_id), key="goal_remove_choice",
            format_func=lambda i: f"{by_id[i].user_name}: "
                                  f"{goal_type_label(by_id[i].goal_type)} "
                                  f"{amount(by_id[i], by_id[i].target)}")
        if st.button("Remove goal", key="goal_remove", icon=":material/delete:"):
            if widgets.run(goals.delete_goal, goal_id=chosen) is not None:
                widgets.flash("Removed the goal.")
                st.rerun()
