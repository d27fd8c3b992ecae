"""The alert bell, the alerts page (filters, mark read, delete, links) and the System page."""

from __future__ import annotations

import subprocess
from datetime import UTC, date, datetime, timedelta

import pytest

from isv.auth import Viewer
from isv.db import session_scope
from isv.models import JobRun
from isv.services import alerts, jobs, users
from tests.app.conftest import LOGINS, messages
from tests.factories import make_task

TODAY = date(2026, 11, 18)
SCHEDULER = Viewer.system("scheduler")


def user_id(session, role: str):
    return users.get_by_email(session=session, viewer=Viewer.system(),
                              email=LOGINS[role].email).id


@pytest.fixture
def inbox(app_db):
    """The sales manager has two overdue-task alerts, the partnership manager one."""
    with session_scope() as s:
        sid = users.get_user(session=s, viewer=Viewer.system(), user_id=user_id(s, "sales_manager"))
        pia = users.get_user(session=s, viewer=Viewer.system(),
                             user_id=user_id(s, "partnership_manager"))
        make_task(s, sid, title="Send the **MSP** terms", due_date=TODAY - timedelta(days=3),
                  priority="high")
        make_task(s, sid, title="Book the QBR", due_date=TODAY - timedelta(days=1),
                  priority="low")
        make_task(s, pia, title="Call Tracepoint", due_date=TODAY - timedelta(days=2))
        alerts.task_overdue(session=s, today=TODAY)
        s.commit()


def bell(at) -> str:
    [button] = [b for b in at.sidebar.button if b.key == "alerts_bell"]
    return button.label


def open_alerts(login, role: str = "sales_manager"):
    at = login(role, "pages/alerts.py")
    assert not at.exception, at.exception
    return at


def shown(at) -> str:
    return "\n".join(messages(at.markdown))


def test_the_bell_in_the_sidebar_counts_the_viewers_unread_alerts(app_db, login):
    at = login("sales_manager")
    assert bell(at) == "Alerts: none unread"

    with session_scope() as s:
        make_task(s, users.get_user(session=s, viewer=Viewer.system(),
                                    user_id=user_id(s, "sales_manager")),
                  due_date=TODAY - timedelta(days=1))
        alerts.task_overdue(session=s, today=TODAY)
        s.commit()
    at.run()

    assert bell(at) == "Alerts: 1 unread"


def test_the_bell_opens_the_alerts_page(inbox, login):
    at = login("sales_manager")
    at.button(key="alerts_bell").click().run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Alerts"]


def test_the_page_lists_the_viewers_own_alerts_with_priority_in_words(inbox, login):
    at = open_alerts(login)
    text = shown(at)

    assert "Send the **MSP** terms" in text
    assert any(r"\*\*MSP\*\*" in m.value for m in at.markdown)  # escaped: not bold
    assert "Book the QBR" in text
    assert "Call Tracepoint" not in text
    assert "▲ High" in text and "▽ Low" in text
    assert "2 shown · 2 unread in all" in " ".join(c.value for c in at.caption)


def test_each_alert_links_to_what_it_is_about(inbox, login):
    at = open_alerts(login)
    links = at.get("page_link")
    assert len(links) == 2
    assert {link.proto.label for link in links} == {"Open your tasks"}
    assert all(link.proto.query_string.startswith("id=") for link in links)


def test_mark_all_read_empties_the_count_and_the_unread_list(inbox, login):
    at = open_alerts(login)
    at.button(key="alerts_all_read").click().run()

    assert "Marked 2 alerts read." in messages(at.success)
    assert bell(at) == "Alerts: none unread"
    assert "No alerts match these filters." in messages(at.info)
    assert at.button(key="alerts_all_read").disabled


def test_a_selection_is_marked_read_and_the_rest_stays_unread(inbox, login):
    at = open_alerts(login)
    at.checkbox[0].check().run()
    at.button(key="alerts_picked_read").click().run()

    assert "Marked 1 alert read." in messages(at.success)
    assert bell(at) == "Alerts: 1 unread"
    assert len(at.checkbox) == 1  # the unread list now holds the other one


def test_one_alert_is_deleted_with_its_own_button(inbox, login):
    at = open_alerts(login)
    first = at.checkbox[0].key.removeprefix("alerts_pick_")
    at.button(key=f"alerts_delete_{first}").click().run()

    assert "Deleted 1 alert." in messages(at.success)
    at.selectbox(key="alerts_read").set_value("all").run()
    assert len(at.checkbox) == 1


def test_filters_narrow_by_priority_and_read_state(inbox, login):
    at = open_alerts(login)
    at.selectbox(key="alerts_priority").set_value("high").run()
    assert "Send the **MSP** terms" in shown(at) and "Book the QBR" not in shown(at)

    at.selectbox(key="alerts_priority").set_value(None).run()
    at.selectbox(key="alerts_read").set_value("read").run()
    assert "No alerts match these filters." in messages(at.info)


@pytest.mark.parametrize("role", ["vp", "admin"])
def test_the_system_page_says_when_no_scheduler_has_run(app_db, login, role):
    at = login(role, "pages/system.py")
    assert not at.exception
    assert any("No scheduler has run" in w for w in messages(at.warning))


def test_the_system_page_shows_each_jobs_last_run_and_the_leader(app_db, login):
    started = datetime.now(UTC) - timedelta(minutes=3)
    with session_scope() as s:
        jobs.claim_leadership(session=s, viewer=SCHEDULER, instance_id="app-1:4242:beef",
                              hostname="app-1", pid=4242)
        run_id = jobs.start_run(session=s, viewer=SCHEDULER, job_name="alerts",
                                instance_id="app-1:4242:beef", now=started)
        jobs.finish_run(session=s, viewer=SCHEDULER, run_id=run_id, outcome="ok",
                        duration_ms=1234, counts={"conditions": 7, "alerts": 3})
        failed = jobs.start_run(session=s, viewer=SCHEDULER, job_name="rollover",
                                instance_id="app-1:4242:beef", now=started)
        jobs.finish_run(session=s, viewer=SCHEDULER, run_id=failed, outcome="failed",
                        duration_ms=20, error="OperationalError: database is locked")
        s.commit()

    at = login("vp", "pages/system.py")
    assert not at.exception

    [leader] = messages(at.success)
    assert "app-1:4242:beef" in leader and "✔ running" in leader
    text = "\n".join(messages(at.markdown))
    assert "**Alert rules** — ✔ ok" in text
    assert "took 1.2 s" in text and "Counts: conditions 7, alerts 3" in text
    assert "**Weekly task rollover** — ✖ failed" in text
    assert "Error: OperationalError: database is locked" in text
    # Every job has its card, its schedule in words, and no markdown escape shows.
    assert "**Retention purge (old audit entries and read alerts)** — never run" in text
    assert "Runs every 15 minutes (UTC)" in text
    assert "Runs Mondays at 00:05 (UTC)" in text and "Runs daily at 03:30 (UTC)" in text
    raw = "\n".join(m.value for m in at.markdown if "Runs " in m.value)
    assert "\\*" not in raw and "`" not in raw
    recent = at.dataframe[0].value
    assert list(recent["Outcome"]).count("✔ ok") == 1 and len(recent) == 2


def test_the_system_page_shows_a_run_whose_process_is_gone_as_interrupted(app_db, login):
    gone = subprocess.Popen(["true"])
    gone.wait()
    started = datetime.now(UTC) - timedelta(minutes=1)
    with session_scope() as s:
        s.add(JobRun(job_name="alerts", instance_id=f"{jobs.this_host()}:{gone.pid}:once",
                     started_at=started, outcome="running", hostname=jobs.this_host(),
                     pid=gone.pid, heartbeat_at=started))
        s.commit()

    at = login("admin", "pages/system.py")
    assert not at.exception
    text = "\n".join(messages(at.markdown))
    assert "**Alert rules** — ✖ failed" in text
    assert f"Error: interrupted: the process running the job ({jobs.this_host()} pid " \
           f"{gone.pid}) stopped" in text
