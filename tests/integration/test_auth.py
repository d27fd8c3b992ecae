"""Login throttling and server-side sessions hold across browser sessions and replicas."""

from __future__ import annotations

from datetime import timedelta

import bcrypt
import pytest
from sqlalchemy import func, select

from isv import auth
from isv.config import get_settings
from isv.models import AuditEntry
from isv.services import sessions
from isv.types import utcnow
from tests.factories import make_user


def _audits(session, action):
    return session.scalar(select(func.count()).select_from(AuditEntry)
                          .where(AuditEntry.action == action))


def test_right_password_signs_in_and_is_audited(session):
    user = make_user(session, email="ann@example.com", password="correct horse")
    assert sessions.authenticate(session=session, email="ANN@example.com ",
                             password="correct horse") is user
    assert user.last_login_at is not None
    assert _audits(session, "login_succeeded") == 1


def test_unknown_user_and_wrong_password_both_refused_and_audited(session):
    make_user(session, email="bob@example.com", password="correct horse")
    assert sessions.authenticate(session=session, email="nobody@example.com", password="x") is None
    assert sessions.authenticate(session=session, email="bob@example.com", password="wrong") is None
    assert _audits(session, "login_failed") == 2


def test_five_failures_lock_the_account_even_for_the_right_password(session):
    user = make_user(session, email="cy@example.com", password="correct horse")
    now = utcnow()
    for i in range(5):
        assert sessions.authenticate(session=session, email="cy@example.com", password="bad",
                                 now=now + timedelta(seconds=i)) is None
    assert user.locked_until is not None
    assert sessions.authenticate(session=session, email="cy@example.com", password="correct horse",
                             now=now + timedelta(minutes=14)) is None
    assert sessions.authenticate(session=session, email="cy@example.com", password="correct horse",
                             now=now + timedelta(minutes=16)) is user


def test_failures_spread_beyond_the_window_do_not_lock(session):
    user = make_user(session, email="di@example.com", password="correct horse")
    now = utcnow()
    for i in range(6):
        sessions.authenticate(session=session, email="di@example.com", password="bad",
                          now=now + timedelta(minutes=16 * i))
    assert user.locked_until is None


def test_deactivated_user_cannot_sign_in(session):
    make_user(session, email="ed@example.com", password="correct horse", is_active=False)
    assert sessions.authenticate(session=session, email="ed@example.com",
                             password="correct horse") is None


def test_a_live_session_returns_its_viewer(session):
    user = make_user(session, password="correct horse")
    sessions.start_session(session=session, user=user, token="t1")
    check = sessions.check_session(session=session, token="t1")
    assert check.viewer is not None and check.viewer.id == user.id


def test_logout_ends_the_session_for_good(session):
    user = make_user(session, password="correct horse")
    sessions.start_session(session=session, user=user, token="t1")
    sessions.end_session(session=session, token="t1")
    check = sessions.check_session(session=session, token="t1")
    assert check.viewer is None and check.reason == "logout"


def test_idle_and_absolute_limits_end_sessions(session):
    user = make_user(session, password="correct horse")
    start = utcnow()
    sessions.start_session(session=session, user=user, token="idle", now=start)
    assert sessions.check_session(session=session, token="idle",
                              now=start + timedelta(minutes=31)).reason == "idle"
    sessions.start_session(session=session, user=user, token="long", now=start)
    now = start
    for _ in range(50):  # active every 20 minutes, never idle
        now += timedelta(minutes=20)
        check = sessions.check_session(session=session, token="long", now=now)
        if check.viewer is None:
            break
    assert check.reason == "expired"
    assert now - start <= timedelta(hours=12, minutes=20)


def test_a_fourth_session_signs_out_the_oldest(session):
    user = make_user(session, password="correct horse")
    start = utcnow()
    for i in range(4):
        sessions.start_session(session=session, user=user, token=f"s{i}",
                           now=start + timedelta(seconds=i))
    assert sessions.check_session(session=session, token="s0").reason == "replaced"
    assert all(sessions.check_session(session=session, token=f"s{i}").viewer for i in (1, 2, 3))


def test_deactivation_signs_the_user_out_on_next_check(session):
    user = make_user(session, password="correct horse")
    sessions.start_session(session=session, user=user, token="t")
    user.is_active = False
    assert sessions.check_session(session=session, token="t").reason == "deactivated"


@pytest.fixture
def rounds_5(monkeypatch):
    """Configured bcrypt cost 5 (tests run at 4, so a stored cost-4 hash is "another cost")."""
    monkeypatch.setenv("ISV_BCRYPT_ROUNDS", "5")
    get_settings.cache_clear()
    yield 5
    get_settings.cache_clear()


def _cost4(password):
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()


def test_a_hash_of_another_cost_is_rehashed_at_the_configured_cost_on_sign_in(session, rounds_5):
    user = make_user(session, email="old@example.com")
    user.password_hash = _cost4("correct horse")
    assert sessions.authenticate(session=session, email="old@example.com", password="correct horse")
    assert auth.hash_cost(user.password_hash) == rounds_5
    assert auth.verify_password("correct horse", user.password_hash)


def test_a_refused_sign_in_leaves_the_stored_hash_alone(session, rounds_5):
    user = make_user(session, email="old@example.com")
    user.password_hash = stored = _cost4("correct horse")
    assert sessions.authenticate(session=session, email="old@example.com", password="wrong") is None
    assert user.password_hash == stored


def test_a_cheaper_stored_hash_also_spends_a_check_at_the_configured_cost(session, rounds_5,
                                                                         monkeypatch):
    checked = []
    real = auth.verify_password
    monkeypatch.setattr(sessions, "verify_password",
                        lambda password, hashed: checked.append(auth.hash_cost(hashed))
                        or real(password, hashed))
    user = make_user(session, email="old@example.com")
    user.password_hash = _cost4("correct horse")
    sessions.authenticate(session=session, email="old@example.com", password="wrong")
    sessions.authenticate(session=session, email="nobody@example.com", password="wrong")
    # The cheap hash, then a throwaway at the configured cost; the unknown email: the same.
    assert checked == [4, rounds_5, rounds_5]
