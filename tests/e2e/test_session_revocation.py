"""A password reset signs the user out everywhere, at once (security review #2).

The reset goes through the service the CLI's `isv user set-password` and the Users page call,
behind the back of a browser that is signed in as that user.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from isv.auth import Viewer
from isv.db import session_scope
from isv.models import UserSession
from isv.services import sessions, users
from tests.e2e.conftest import COOKIE_NAME
from tests.e2e.helpers import (
    email_box,
    open_app,
    sign_out_button,
    submit_login,
    wait_for_cookie,
)

pytestmark = pytest.mark.e2e

CHANGED = sessions.end_message("password_changed")
# A cold server on a busy machine can take longer than the default for its first pages.
SLOW_MS = 60_000


def _expect_login_form(page) -> None:
    expect(email_box(page)).to_be_visible(timeout=SLOW_MS)
    expect(sign_out_button(page)).to_have_count(0)


def _sessions(database_url: str, email: str) -> tuple[int, int]:
    """(all, live) server sessions of the user."""
    with session_scope(database_url) as s:
        user = sessions.find_user_by_email(s, email)
        rows = select(func.count()).select_from(UserSession).where(
            UserSession.user_id == user.id)
        return s.scalar(rows), s.scalar(rows.where(UserSession.ended_at.is_(None)))


def test_a_password_reset_ends_the_open_browser_and_the_copied_cookie(server, browser, context):
    email, password = "reset.me@example.com", "before-reset-2026"
    with session_scope(server.database_url) as s:
        users.create_user(session=s, viewer=Viewer.system("e2e"), email=email,
                          first_name="Reset", last_name="Me", role="sales_manager",
                          password=password)
        s.commit()
    # A light page (the dashboard is the heaviest) keeps the test about sessions.
    page = open_app(context, server.url, "/tasks")
    expect(email_box(page)).to_be_visible(timeout=SLOW_MS)
    submit_login(page, email, password)
    expect(sign_out_button(page)).to_be_visible(timeout=SLOW_MS)
    cookies = wait_for_cookie(context, COOKIE_NAME)
    # Streamlit shows a status widget while the script runs: wait for the page to settle.
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=SLOW_MS)
    assert _sessions(server.database_url, email) == (1, 1)

    with session_scope(server.database_url) as s:
        user = sessions.find_user_by_email(s, email)
        users.set_password(session=s, viewer=Viewer.system("cli"), user_id=user.id,
                           password="after-reset-2026")
        s.commit()

    # (a) The next click in the open browser lands on the login form, saying why.
    page.get_by_test_id("stSidebarNavLink").filter(has_text="Alerts").click(timeout=SLOW_MS)
    expect(page.get_by_text(CHANGED)).to_be_visible(timeout=SLOW_MS)
    _expect_login_form(page)

    # (b) A fresh browser given the old cookie is not signed in, and no session is started.
    replay = browser.new_context()
    try:
        replay.add_cookies(cookies)
        again = open_app(replay, server.url, "/tasks")
        expect(again.get_by_text(CHANGED)).to_be_visible(timeout=SLOW_MS)
        _expect_login_form(again)
    finally:
        replay.close()
    assert _sessions(server.database_url, email) == (1, 0)
