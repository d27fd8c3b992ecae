"""My week pages: weekly status saved as typed, team status, tasks and goals, by role."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import update

from isv import display
from isv.auth import Viewer
from isv.dates import monday_of
from isv.db import session_scope
from isv.models import Task, WeeklyStatus
from isv.services import goals, status, users
from isv.services.settings import local_today
from isv.ui.autosave import box_key
from tests.app.conftest import LOGINS, login_as, messages
from tests.factories import make_opportunity, make_partner, make_task

WEEK = monday_of(local_today())


def user_of(role: str):
    with session_scope() as s:
        return users.get_by_email(session=s, viewer=Viewer.system(), email=LOGINS[role].email)


def viewer_of(role: str) -> Viewer:
    return Viewer.of(user_of(role))


def open_page(login, role: str, path: str):
    at = login(role, path)
    assert not at.exception, at.exception
    return at


def box(at, name: str, week: date = WEEK):
    """A weekly text box (isv.ui.autosave): AppTest knows it only as a custom element."""
    key = box_key(f"weekly_{week.isoformat()}_{name}")
    return next((e for e in at.get("bidi_component") if e.key == key), None)


def shown(at, name: str, week: date = WEEK) -> dict:
    """What the page sent the box: its text, whether it is disabled, its saved note."""
    return json.loads(box(at, name, week).proto.json)


def type_into(at, week: date = WEEK, **texts: str):
    """Run the page as after the browser's box sends its text (a moment after typing).

    AppTest.run() sends only the widgets it knows, so the box's state is added by hand; any
    button clicked before this call is sent in the same run.
    """
    states = at.main.root.get_widget_states()
    for name, text in texts.items():
        state = states.widgets.add()
        state.id = box(at, name, week).proto.id
        state.json_value = json.dumps({"value": text})
    return at._run(states)


def stored_status(role: str, week: date = WEEK):
    with session_scope() as s:
        return status.open_week(session=s, viewer=viewer_of(role), week_start_date=week)


# --- weekly status -----------------------------------------------------------------------

def test_typing_saves_the_draft_and_a_new_visit_shows_it(login):
    at = open_page(login, "sales_manager", "pages/weekly_status.py")
    assert shown(at, "accomplishments")["saved"] is None
    type_into(at, accomplishments="- Signed <b>Initech</b>")
    assert not at.exception
    assert any(text.startswith("✔ Changes saved at") for text in messages(at.caption))
    assert re.fullmatch(r"\d\d:\d\d:\d\d", shown(at, "accomplishments")["saved"])
    saved = stored_status("sales_manager")
    assert saved.saved and saved.accomplishments == "- Signed <b>Initech</b>"
    assert saved.state == "draft"

    again = login_as("sales_manager")                     # a reload: a new browser session
    again.switch_page("pages/weekly_status.py").run()
    assert shown(again, "accomplishments")["value"] == "- Signed <b>Initech</b>"


def test_a_draft_saved_on_an_earlier_day_says_which_day(login):
    at = open_page(login, "sales_manager", "pages/weekly_status.py")
    type_into(at, accomplishments="- Signed Initech")
    with session_scope() as s:
        s.execute(update(WeeklyStatus).values(
            updated_at=datetime(2026, 3, 2, 9, 30, tzinfo=UTC)))
        s.commit()

    again = login_as("sales_manager")
    again.switch_page("pages/weekly_status.py").run()
    assert shown(again, "accomplishments")["saved"] == "Mar 2, 09:30"


def test_the_week_is_kept_in_the_address_so_a_reload_opens_the_same_week(login):
    at = open_page(login, "sales_manager", "pages/weekly_status.py")
    last_week = WEEK - timedelta(weeks=1)
    at.date_input(key="weekly_week").set_value(last_week).run()
    assert at.query_params["week"] == last_week.isoformat()

    again = login_as("sales_manager")
    again.query_params["week"] = last_week.isoformat()
    again.switch_page("pages/weekly_status.py").run()
    assert again.date_input(key="weekly_week").value == last_week

    fresh = login_as("sales_manager")                     # out of range: this week instead
    fresh.query_params["week"] = "1815-06-18"
    fresh.switch_page("pages/weekly_status.py").run()
    assert not fresh.exception and fresh.date_input(key="weekly_week").value == WEEK


def test_an_empty_week_is_pre_filled_from_the_data_and_not_saved_until_changed(login):
    with session_scope() as s:
        pm = user_of("partnership_manager")
        make_task(s, pm, title="Refresh the battlecard", status="pending", rollover_count=2,
                  due_date=WEEK)
        s.commit()
    at = open_page(login, "partnership_manager", "pages/weekly_status.py")
    assert shown(at, "blockers")["value"] == "- Rolled over 2 times: Refresh the battlecard"
    assert any("Pre-filled from your week's data" in text for text in messages(at.info))
    assert not stored_status("partnership_manager").saved


def test_a_week_not_starting_on_monday_is_refused_next_to_the_week(login):
    at = open_page(login, "vp", "pages/weekly_status.py")
    wednesday = WEEK + timedelta(days=2)
    at.date_input(key="weekly_week").set_value(wednesday).run()
    assert messages(at.error) == [
        f"Week: {wednesday} is a Wednesday: weeks start on Monday (that week's Monday is "
        f"{WEEK})"]
    boxes = [e for e in at.get("bidi_component") if e.key.startswith("weekly_")]
    assert not boxes                                # no boxes for a week that is no week
    at.button(key="weekly_go_monday").click().run()
    assert at.date_input(key="weekly_week").value == WEEK
    assert box(at, "accomplishments") is not None and not at.error


def test_an_empty_submit_is_refused_next_to_accomplishments(login):
    at = open_page(login, "vp", "pages/weekly_status.py")
    at.button(key="weekly_submit").click()
    type_into(at, accomplishments="", upcoming_tasks="", blockers="")
    assert messages(at.error) == [
        "Accomplishments: is empty, and so are upcoming and blockers: write at least one "
        "before submitting"]
    assert stored_status("vp").state == "draft"


def test_submitting_makes_the_week_final(login):
    at = open_page(login, "sales_manager", "pages/weekly_status.py")
    at.button(key="weekly_submit").click()
    type_into(at, blockers="Legal review of the MSA")
    assert not at.exception
    assert messages(at.success)[0] == f"Submitted your status for the week of {display.day(WEEK)}."
    assert all(b.key != "weekly_submit" for b in at.button)
    assert shown(at, "blockers")["disabled"]
    assert shown(at, "blockers")["value"] == "Legal review of the MSA"
    assert stored_status("sales_manager").submitted


def test_typing_into_a_week_submitted_from_another_window_is_refused_in_the_box(login):
    at = open_page(login, "sales_manager", "pages/weekly_status.py")
    with session_scope() as s:
        status.submit(session=s, viewer=viewer_of("sales_manager"), week_start_date=WEEK,
                      accomplishments="Filed from the laptop")
        s.commit()
    type_into(at, accomplishments="Typed on the phone")
    assert not at.exception
    refused = shown(at, "accomplishments")
    assert refused["error"].startswith(f"Not saved: Week: your status for the week of "
                                       f"{display.day(WEEK)} "
                                       "was already submitted on ")
    assert (refused["value"], refused["disabled"]) == ("Filed from the laptop", True)
    assert shown(at, "blockers")["error"] == "Not saved"
    assert stored_status("sales_manager").accomplishments == "Filed from the laptop"


def test_history_lists_the_users_weeks(login):
    with session_scope() as s:
        viewer = viewer_of("sales_manager")
        status.submit(session=s, viewer=viewer, week_start_date=WEEK - timedelta(weeks=1),
                      accomplishments="Last week's work\nmore")
        s.commit()
    at = open_page(login, "sales_manager", "pages/weekly_status.py")
    history = at.dataframe[-1].value
    row = history.iloc[0]
    assert (row["Week"], row["Status"], row["Accomplishments"]) == (
        display.day(WEEK - timedelta(weeks=1)), "✔ Submitted", "Last week's work")


# --- team status ---------------------------------------------------------------------------

def test_team_status_shows_who_submitted_and_every_blocker(login):
    with session_scope() as s:
        status.submit(session=s, viewer=viewer_of("sales_manager"), week_start_date=WEEK,
                      blockers="- Legal *review*\n- Pricing", kpi_metrics={"Calls": 4})
        status.save_draft(session=s, viewer=viewer_of("partnership_manager"),
                          week_start_date=WEEK, blockers="not yet shared")
        s.commit()
    at = open_page(login, "vp", "pages/team_status.py")
    people = at.dataframe[0].value.set_index("Person")
    assert people.loc["Sid Sato", "Status"] == "✔ Submitted"
    assert people.loc["Pia Park", "Status"] == "✎ Draft, not submitted"
    assert people.loc["Vera Vale", "Status"] == "✖ Not started"
    text = "\n".join(messages(at.markdown))
    assert "- **Sid Sato**: Legal *review*\n- **Sid Sato**: Pricing" in text
    assert "not yet shared" not in text
    kpis = at.dataframe[1].value
    assert list(kpis.iloc[0]) == ["Sid Sato", "Calls", "4", "—", "new"]


@pytest.mark.parametrize("role", ["sales_manager", "admin"])
def test_sales_managers_and_admins_read_team_status(login, role):
    at = open_page(login, role, "pages/team_status.py")
    assert [t.value for t in at.title] == ["Team status"]
    assert len(at.dataframe[0].value) == 3        # vp, sales manager, partnership manager


# --- tasks ---------------------------------------------------------------------------------

def test_adding_a_task_puts_it_in_the_grid(login):
    at = open_page(login, "partnership_manager", "pages/tasks.py")
    at.text_input(key="task_add_title").set_value("Prepare the QBR deck")
    at.selectbox(key="task_add_priority").set_value("high")
    at.date_input(key="task_add_due").set_value(WEEK + timedelta(days=9))
    at.button(key="task_add_submit").click().run()
    assert not at.exception
    assert "Added “Prepare the QBR deck”." in messages(at.success)
    grid = at.dataframe[0].value
    assert list(grid["Title"]) == ["Prepare the QBR deck"]
    assert list(grid["Priority"]) == ["▲ High"]
    assert at.text_input(key="task_add_title").value == ""


def test_a_task_without_a_title_is_refused_next_to_the_title(login):
    at = open_page(login, "sales_manager", "pages/tasks.py")
    at.button(key="task_add_submit").click().run()
    assert messages(at.error) == ["Title: is required"]
    with session_scope() as s:
        assert s.query(Task).count() == 0


def test_overdue_and_rolled_over_tasks_are_marked_in_words(login):
    with session_scope() as s:
        sm = user_of("sales_manager")
        make_task(s, sm, title="Late one", due_date=local_today() - timedelta(days=3))
        make_task(s, sm, title="Stuck one", due_date=WEEK + timedelta(days=7), rollover_count=2)
        make_task(s, sm, title="On time", due_date=WEEK + timedelta(days=7))
        s.commit()
    at = open_page(login, "sales_manager", "pages/tasks.py")
    flags = dict(zip(at.dataframe[0].value["Title"], at.dataframe[0].value["Flags"],
                     strict=True))
    assert flags == {"Late one": "⚠ 3 days late", "Stuck one": "↻ 2× ⚑", "On time": ""}
    at.toggle(key="tasks_overdue").set_value(True).run()
    assert list(at.dataframe[0].value["Title"]) == ["Late one"]


def test_the_rollover_button_moves_last_weeks_tasks_into_this_week_once(login):
    last_week = WEEK - timedelta(days=5)              # last Wednesday
    with session_scope() as s:
        make_task(s, user_of("vp"), title="Carry me", due_date=last_week)
        make_task(s, user_of("sales_manager"), title="Not the vp's", due_date=last_week)
        s.commit()
    at = open_page(login, "vp", "pages/tasks.py")
    at.button(key="tasks_rollover").click().run()
    assert messages(at.success) == [f"Rolled 1 task into the week of {display.day(WEEK)}."]
    grid = at.dataframe[0].value
    assert list(grid["Title"]) == ["Carry me"]
    assert grid["Due"].iloc[0].date() == WEEK + timedelta(days=2)   # same weekday
    at.button(key="tasks_rollover").click().run()
    assert messages(at.success) == [
        f"Nothing to roll over: no unfinished task is due before {display.day(WEEK)}."]
    with session_scope() as s:
        assert s.query(Task).filter(Task.title == "Not the vp's").one().status == "pending"


def test_the_details_form_completes_a_task(login):
    with session_scope() as s:
        partner = make_partner(s, name="Ledgerline")
        deal = make_opportunity(s, partner, customer_name="Globex", stage="demo")
        task = make_task(s, user_of("sales_manager"), title="Call Globex",
                         opportunity_id=deal.id)
        task_id = task.id
        s.commit()
    at = open_page(login, "sales_manager", "pages/tasks.py")
    stem = f"task_edit_{task_id}"
    at.selectbox(key=f"{stem}_status").set_value("completed")
    at.button(key=f"{stem}_save").click().run()
    assert "Saved “Call Globex”." in messages(at.success)
    with session_scope() as s:
        done = s.get(Task, task_id)
        assert (done.status, done.completed_date, done.opportunity_id) == (
            "completed", local_today(), deal.id)


# --- goals ---------------------------------------------------------------------------------

def test_a_manager_sets_their_own_goal_and_sees_progress_from_the_data(login):
    with session_scope() as s:
        sm = user_of("sales_manager")
        make_opportunity(s, make_partner(s), stage="closed_won", probability=Decimal(100),
                         assigned_user_id=sm.id, actual_close_date=local_today(),
                         deal_value=Decimal("30000.00"))
        s.commit()
    at = open_page(login, "sales_manager", "pages/goals.py")
    at.text_input(key="goal_set_target").set_value("120000")
    at.button(key="goal_set_submit").click().run()
    assert not at.exception
    assert messages(at.success)[0].startswith("Saved: Sid Sato, Revenue $120,000 for")
    [metric] = at.metric
    assert metric.value == "$30,000"
    assert any(text.startswith("Pace line: ") for text in messages(at.caption))
    team = at.dataframe[-1].value
    assert list(team["Person"]) == ["Sid Sato"] and list(team["Progress"]) == ["$30,000"]
    assert "person" not in {w.label.lower() for w in at.selectbox}    # only their own


def test_a_negative_target_is_refused_next_to_the_target(login):
    at = open_page(login, "partnership_manager", "pages/goals.py")
    at.text_input(key="goal_set_target").set_value("-5")
    at.button(key="goal_set_submit").click().run()
    assert messages(at.error) == ["Target: must be at least 0"]
    assert not at.metric


def test_the_vp_sets_someone_elses_goal(login):
    at = open_page(login, "vp", "pages/goals.py")
    pm = user_of("partnership_manager")
    at.selectbox(key="goal_set_person").set_value(pm.id)
    at.selectbox(key="goal_set_type").set_value("partnerships").run()  # shows that goal
    at.text_input(key="goal_set_target").set_value("3")
    at.button(key="goal_set_submit").click().run()
    assert messages(at.success)[0].startswith("Saved: Pia Park, New partners 3")
    team = at.dataframe[-1].value
    assert list(team["Person"]) == ["Pia Park"] and list(team["Target"]) == ["3"]


def test_an_admin_reads_team_goals_and_sets_none(login):
    year, quarter = goals.current_quarter()
    with session_scope() as s:
        goals.set_goal(session=s, viewer=Viewer.system("tests"), year=year, quarter=quarter,
                       goal_type="revenue", target="5000", user_id=user_of("vp").id)
        s.commit()
    at = open_page(login, "admin", "pages/goals.py")
    assert list(at.dataframe[0].value["Person"]) == ["Vera Vale"]
    assert not at.text_input and not at.metric
    assert "Read only: the VP sets other people's goals." in messages(at.caption)
