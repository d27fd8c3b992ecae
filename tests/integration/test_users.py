"""Users service: the same rules for the Users page and the CLI."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from isv import auth
from isv.auth import Viewer
from isv.errors import Forbidden, ValidationError
from isv.models import AuditEntry, User
from isv.services import users
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
    assert auth.authenticate(session=session, email="new@example.com",
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
        auth.authenticate(session=session, email="l@example.com", password="bad")
    users.set_password(session=session, viewer=SYSTEM, user_id=user.id, password="new password")
    assert auth.authenticate(session=session, email="l@example.com", password="new password")
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
