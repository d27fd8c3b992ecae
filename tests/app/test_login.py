"""The login gate: refusals, the server-side lock, and sessions that end on the server."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from isv import auth
from isv.auth import Viewer
from isv.db import session_scope
from isv.models import UserSession
from isv.services import sessions, users
from isv.types import utcnow
from isv.ui import state
from isv.ui.nav import pages_for
from tests.app.conftest import LOGINS, messages, new_app, signed_in, submit_login

VP = LOGINS["vp"]
SALES = LOGINS["sales_manager"]


def test_wrong_password_shows_the_refusal_and_no_app(app_db):
    at = submit_login(new_app().run(), VP.email, "not-the-password")
    assert not at.exception
    assert auth.LOGIN_REFUSED in messages(at.error)
    assert not signed_in(at)


def test_unknown_email_gets_the_same_refusal(app_db):
    at = submit_login(new_app().run(), "nobody@example.com", "whatever-it-is")
    assert auth.LOGIN_REFUSED in messages(at.error)


def test_right_password_shows_the_app_and_starts_a_server_session(app_db):
    at = submit_login(new_app().run(), VP.email, VP.password)
    assert not at.exception
    assert signed_in(at)
    assert [t.value for t in at.title] == [pages_for("vp")[0].title]  # the first page
    assert at.session_state[state.VIEWER].email == VP.email
    with session_scope() as s:
        check = sessions.check_session(session=s,
                                       session_id=at.session_state[state.SESSION_ID])
    assert check.viewer is not None and check.viewer.email == VP.email


def test_empty_form_is_refused_without_counting_a_failure(app_db):
    at = submit_login(new_app().run(), "", "")
    assert "Enter your email and password." in messages(at.error)
    with session_scope() as s:
        assert users.get_by_email(session=s, viewer=Viewer.system(),
                                  email=VP.email).failed_login_count == 0


def test_five_failures_from_two_browsers_lock_the_account_for_a_third(app_db):
    first, second = new_app().run(), new_app().run()
    for _ in range(3):
        submit_login(first, VP.email, "wrong-password-1")
    for _ in range(2):
        submit_login(second, VP.email, "wrong-password-2")
    at = submit_login(new_app().run(), VP.email, VP.password)
    assert auth.LOGIN_REFUSED in messages(at.error)
    assert not signed_in(at)


def test_sign_out_ends_the_server_session(login):
    at = login("vp")
    session_id = at.session_state[state.SESSION_ID]
    at.sidebar.button(key="isv_logout").click().run()
    assert not signed_in(at)
    assert sessions.end_message("logout") in messages(at.info)
    with session_scope() as s:
        assert sessions.check_session(session=s, session_id=session_id).reason == "logout"


def test_deactivated_user_is_signed_out_on_the_next_rerun(login):
    at = login("sales_manager")
    with session_scope() as s:
        user = users.get_by_email(session=s, viewer=Viewer.system(), email=SALES.email)
        users.set_active(session=s, viewer=Viewer.system(), user_id=user.id, active=False)
        s.commit()
    at.run()
    assert not at.exception
    assert not signed_in(at)
    assert sessions.end_message("deactivated") in messages(at.warning)


def test_idle_session_is_signed_out_with_the_reason(login):
    at = login("vp")
    with session_scope() as s:
        s.execute(update(UserSession).values(last_seen_at=utcnow() - timedelta(minutes=31)))
        s.commit()
    at.run()
    assert not signed_in(at)
    assert sessions.end_message("idle") in messages(at.warning)


def test_session_older_than_the_absolute_limit_is_signed_out(login):
    at = login("vp")
    with session_scope() as s:
        s.execute(update(UserSession).values(created_at=utcnow() - timedelta(hours=13)))
        s.commit()
    at.run()
    assert not signed_in(at)
    assert sessions.end_message("expired") in messages(at.warning)


def test_a_fourth_login_ends_the_oldest_session(login):
    oldest = login("vp")
    for _ in range(3):
        login("vp")
    oldest.run()
    assert not signed_in(oldest)
    assert sessions.end_message("replaced") in messages(oldest.warning)
    with session_scope() as s:
        live = s.scalars(select(UserSession).where(UserSession.ended_at.is_(None))).all()
    assert len(live) == 3


def test_signing_in_again_after_sign_out_works(login):
    at = login("admin")
    at.sidebar.button(key="isv_logout").click().run()
    submit_login(at, LOGINS["admin"].email, LOGINS["admin"].password)
    assert signed_in(at)
