"""Users service: the same rules for the Users page and the CLI."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from isv.auth import Viewer
from isv.errors import Forbidden, ValidationError
from isv.models import AuditEntry, User, UserSession
from isv.services import sessions, users
from tests.factories import make_user

SYSTEM = Viewer.system()


def _count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def test_unknown_role_is_refused_naming_the_field_and_nothing_is_written(session):
    before = _count(session, User)
    with pytest.raises(ValidationError) as err:
        users.create_user(session=session, viewer=SYSTEM, email="x@example.com",
                          first_name="X", last_name="Y", role="boss")
    assert err.value.field == "role"
    assert _count(session, User) == before


def test_duplicate_email_is_refused_case_insensitively(session):
    make_user(session, email="dup@example.com")
    with pytest.raises(ValidationError) as err:
        users.create_user(session=session, viewer=SYSTEM, email="DUP@example.com",
                          first_name="X", last_name="Y", role="vp")
    assert err.value.field == "email"


@pytest.mark.parametrize("role", ["sales_manager", "partnership_manager"])
def test_only_vp_and_admin_manage_users(session, role):
    actor = make_user(session, role=role)
    before = _count(session, AuditEntry)
    with pytest.raises(Forbidden):
        users.create_user(session=session, viewer=Viewer.of(actor), email="n@example.com",
                          first_name="N", last_name="M", role="vp")
    assert _count(session, AuditEntry) == before


def test_created_user_with_password_can_sign_in_and_creation_is_audited(session):
    admin = make_user(session, role="admin")
    user = users.create_user(session=session, viewer=Viewer.of(admin), email="new@example.com",
                             first_name="New", last_name="Person", role="partnership_manager",
                             password="long enough")
    assert sessions.authenticate(session=session, email="new@example.com",
                             password="long enough") is user
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "create")).one()
    assert entry.actor_id == admin.id and entry.new_values["role"] == "partnership_manager"


def test_short_password_is_refused(session):
    user = make_user(session)
    with pytest.raises(ValidationError) as err:
        users.set_password(session=session, viewer=SYSTEM, user_id=user.id, password="short")
    assert err.value.field == "password"


def test_setting_a_password_lifts_a_lockout_and_is_audited_without_the_password(session):
    user = make_user(session, email="l@example.com", password="old password")
    for _ in range(5):
        sessions.authenticate(session=session, email="l@example.com", password="bad")
    users.set_password(session=session, viewer=SYSTEM, user_id=user.id, password="new password")
    assert sessions.authenticate(session=session, email="l@example.com", password="new password")
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "set_password")).one()
    assert entry.new_values is None and entry.old_values is None


def test_vp_cannot_deactivate_themselves_but_can_deactivate_others(session):
    vp = make_user(session, role="vp")
    other = make_user(session)
    with pytest.raises(ValidationError):
        users.set_active(session=session, viewer=Viewer.of(vp), user_id=vp.id, active=False)
    users.set_active(session=session, viewer=Viewer.of(vp), user_id=other.id, active=False)
    assert other.is_active is False


def test_role_change_is_validated_and_audited(session):
    vp = make_user(session, role="vp")
    other = make_user(session, role="sales_manager")
    with pytest.raises(ValidationError) as err:
        users.update_user(session=session, viewer=Viewer.of(vp), user_id=other.id, role="king")
    assert err.value.field == "role"
    users.update_user(session=session, viewer=Viewer.of(vp), user_id=other.id, role="admin")
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "update")).one()
    assert entry.old_values == {"role": "sales_manager"} and entry.new_values == {"role": "admin"}


def test_the_last_active_user_manager_cannot_be_deactivated_or_demoted(session):
    for user in session.scalars(select(User).where(User.role.in_(("vp", "admin")))):
        user.is_active = False
    last = make_user(session, role="admin")
    with pytest.raises(ValidationError) as err:
        users.set_active(session=session, viewer=SYSTEM, user_id=last.id, active=False)
    assert err.value.field == "is_active"
    with pytest.raises(ValidationError) as err:
        users.update_user(session=session, viewer=SYSTEM, user_id=last.id, role="sales_manager")
    assert err.value.field == "role"
    make_user(session, role="vp")
    users.set_active(session=session, viewer=SYSTEM, user_id=last.id, active=False)
    assert last.is_active is False


# --- a password, role or active change ends the user's sessions (security review #2) ------

def _live(session, user):
    return session.scalar(select(func.count()).select_from(UserSession).where(
        UserSession.user_id == user.id, UserSession.ended_at.is_(None)))


def test_a_password_reset_ends_every_session_of_that_user_and_is_audited(session):
    user = make_user(session, password="old password")
    other = make_user(session, password="old password")
    for token in ("laptop", "phone"):
        sessions.start_session(session=session, user=user, token=token)
    sessions.start_session(session=session, user=other, token="theirs")

    users.set_password(session=session, viewer=SYSTEM, user_id=user.id, password="new password")

    for token in ("laptop", "phone"):
        check = sessions.check_session(session=session, token=token)
        assert check.viewer is None and check.reason == "password_changed"
    assert sessions.check_session(session=session, token="theirs").viewer is not None
    entry = session.scalars(select(AuditEntry).where(
        AuditEntry.action == "sessions_revoked", AuditEntry.entity_id == str(user.id))).one()
    assert entry.new_values == {"reason": "password_changed", "sessions": 2}
    assert "Your password was changed" in sessions.end_message("password_changed")


def test_an_old_cookie_never_starts_a_new_session_after_a_reset(session):
    user = make_user(session, password="old password")
    sessions.start_session(session=session, user=user, token="old-cookie")
    users.set_password(session=session, viewer=SYSTEM, user_id=user.id, password="new password")
    rows = _count(session, UserSession)

    row = sessions.start_session(session=session, user=user, token="old-cookie")

    assert row.ended_at is not None and _count(session, UserSession) == rows
    assert sessions.check_session(session=session, token="old-cookie").reason == "password_changed"


def test_changing_your_own_password_keeps_this_session_and_ends_the_others(session):
    vp = make_user(session, role="vp", password="old password")
    here = sessions.start_session(session=session, user=vp, token="here")
    sessions.start_session(session=session, user=vp, token="elsewhere")

    users.set_password(session=session, viewer=Viewer.of(vp), user_id=vp.id,
                       password="new password", current_session_id=here.id)

    assert sessions.check_session(session=session, token="here").viewer is not None
    assert sessions.check_session(session=session, token="elsewhere").reason == "password_changed"


def test_someone_elses_token_spares_nothing_of_the_user_being_reset(session):
    admin = make_user(session, role="admin")
    user = make_user(session, password="old password")
    theirs = sessions.start_session(session=session, user=user, token="theirs")
    users.set_password(session=session, viewer=Viewer.of(admin), user_id=user.id,
                       password="new password", current_session_id=theirs.id)
    assert sessions.check_session(session=session, token="theirs").reason == "password_changed"


def test_a_role_change_ends_the_users_sessions(session):
    vp = make_user(session, role="vp")
    user = make_user(session, role="sales_manager", password="old password")
    sessions.start_session(session=session, user=user, token="t")
    users.update_user(session=session, viewer=Viewer.of(vp), user_id=user.id,
                      role="partnership_manager")
    assert sessions.check_session(session=session, token="t").reason == "role_changed"
    assert _live(session, user) == 0


def test_a_name_change_keeps_the_users_sessions(session):
    vp = make_user(session, role="vp")
    user = make_user(session, password="old password")
    sessions.start_session(session=session, user=user, token="t")
    users.update_user(session=session, viewer=Viewer.of(vp), user_id=user.id, first_name="New")
    assert sessions.check_session(session=session, token="t").viewer is not None


def test_reactivation_does_not_bring_an_old_cookie_back(session):
    user = make_user(session, password="old password")
    sessions.start_session(session=session, user=user, token="t")
    users.set_active(session=session, viewer=SYSTEM, user_id=user.id, active=False)
    assert _live(session, user) == 0
    users.set_active(session=session, viewer=SYSTEM, user_id=user.id, active=True)
    assert sessions.check_session(session=session, token="t").reason == "deactivated"
