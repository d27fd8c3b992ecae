"""A real Chromium: a new alert reaches the bell without a reload; mark all read empties it."""

from __future__ import annotations

import re
import time
import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import expect

from isv.auth import Viewer
from isv.db import get_engine, session_scope
from isv.models import Alert, Task
from isv.services import alerts, users
from isv.services.settings import local_today
from tests.e2e.conftest import QUICK_POLL_SECONDS
from tests.e2e.helpers import open_signed_in

pytestmark = pytest.mark.e2e


@pytest.fixture
def database_url(quick_poll_server) -> str:
    """The database of the server whose pages poll every few seconds."""
    yield quick_poll_server.database_url
    get_engine(quick_poll_server.database_url).dispose()


def bell(page):
    return page.get_by_test_id("stSidebar").get_by_role("button", name=re.compile("Alerts: "))


def add_an_alert_for(url: str, email: str) -> str:
    """An overdue task and its alert, as the alert job would have raised it."""
    title = f"Chase the signed order form ({uuid.uuid4().hex[:6]})"
    with session_scope(url) as session:
        user = users.get_by_email(session=session, viewer=Viewer.system(), email=email)
        task = Task(user_id=user.id, title=title, priority="high", status="pending",
                    due_date=local_today() - timedelta(days=2))
        session.add(task)
        session.flush()
        session.add(Alert(user_id=user.id, alert_type="task_overdue", entity_type="task",
                          entity_id=task.id, priority="high",
                          message=f"Overdue since {task.due_date} (2 days): {title}",
                          dedupe_key=f"task_overdue:{task.id}:{task.due_date}:{user.id}"))
        session.commit()
    return title


def unread(url: str, email: str) -> int:
    with session_scope(url) as session:
        user = users.get_by_email(session=session, viewer=Viewer.system(), email=email)
        return alerts.unread_count(session=session, viewer=Viewer.of(user))


def test_a_new_alert_reaches_the_bell_without_a_reload_and_mark_all_read_empties_it(
        quick_poll_server, context, database_url):
    server = quick_poll_server
    account = server.accounts["partnership_manager"]
    page = open_signed_in(context, server, account, "/alerts")
    expect(page.get_by_role("heading", name="Alerts")).to_be_visible()
    before = unread(database_url, account.email)
    expect(bell(page)).to_contain_text(f"Alerts: {before} unread" if before else
                                       "Alerts: none unread")

    title = add_an_alert_for(database_url, account.email)
    added_at = time.monotonic()

    # No reload, no click: at its next look for changed data the page redraws the bell and
    # the list (every QUICK_POLL_SECONDS on this server; every 30 s by default).
    expect(bell(page)).to_contain_text(f"Alerts: {before + 1} unread", timeout=30_000)
    assert time.monotonic() - added_at <= QUICK_POLL_SECONDS + 10
    expect(page.get_by_text(title)).to_be_visible()

    page.get_by_role("button", name="Mark all read").click()
    expect(page.get_by_text(re.compile(r"Marked \d+ alerts? read\."))).to_be_visible()
    expect(bell(page)).to_contain_text("Alerts: none unread")
    expect(page.get_by_text("No alerts match these filters.")).to_be_visible()
    assert unread(database_url, account.email) == 0
