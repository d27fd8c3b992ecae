"""User management has a ceiling: an admin never creates, changes or resets a vp (review #3).

DESIGN.md makes admin the one who onboards staff, so an admin manages admins, sales and
partnership managers; only a vp (or the CLI) grants the vp role or touches a vp's account.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from isv import auth
from isv.auth import Viewer
from isv.db import session_scope
from isv.errors import ValidationError
from isv.models import AuditEntry, User
from isv.services import gdpr, importing, sessions, users
from tests.factories import make_user


def _refusals(session, user_id=None):
    stmt = select(AuditEntry).where(AuditEntry.action == "refused")
    if user_id is not None:
        stmt = stmt.where(AuditEntry.entity_id == str(user_id))
    return list(session.scalars(stmt))


def test_an_admin_may_not_create_a_vp_and_the_refusal_is_audited(session):
    admin = Viewer.of(make_user(session, role="admin"))
    with pytest.raises(ValidationError) as err:
        users.create_user(session=session, viewer=admin, email="mint@example.com",
                          first_name="M", last_name="V", role="vp", password="long enough")
    assert (err.value.field, err.value.reason) == ("role", "only a vp may grant the vp role")
    assert sessions.find_user_by_email(session, "mint@example.com") is None
    [entry] = _refusals(session)
    assert entry.actor_id == admin.id
    assert entry.new_values == {"attempt": "create", "role": "vp", "field": "role",
                                "reason": "only a vp may grant the vp role"}


@pytest.mark.parametrize(("call", "field", "reason"), [
    (lambda s, v, u: users.set_password(session=s, viewer=v, user_id=u.id,
                                        password="taken over"),
     "password", "only a vp may set the password of a vp"),
    (lambda s, v, u: users.set_active(session=s, viewer=v, user_id=u.id, active=False),
     "is_active", "only a vp may deactivate a vp"),
    (lambda s, v, u: users.update_user(session=s, viewer=v, user_id=u.id, role="admin"),
     "role", "only a vp may change a vp"),
    (lambda s, v, u: users.update_user(session=s, viewer=v, user_id=u.id, first_name="X"),
     "first_name", "only a vp may change a vp"),
    (lambda s, v, u: gdpr.anonymise_user(session=s, viewer=v, user_id=u.id),
     "anonymise", "only a vp may deactivate a vp"),
])
def test_an_admin_may_not_touch_a_vps_account(session, call, field, reason):
    make_user(session, role="vp")  # another vp, so the last-manager rule is not what refuses
    vp = make_user(session, role="vp", password="vp password")
    admin = Viewer.of(make_user(session, role="admin"))
    before = (vp.password_hash, vp.is_active, vp.role, vp.first_name)
    with pytest.raises(ValidationError) as err:
        call(session, admin, vp)
    assert (err.value.field, err.value.reason) == (field, reason)
    assert (vp.password_hash, vp.is_active, vp.role, vp.first_name) == before
    assert len(_refusals(session, vp.id)) == 1


def test_an_admin_may_not_promote_anyone_to_vp(session):
    admin = Viewer.of(make_user(session, role="admin"))
    user = make_user(session, role="sales_manager")
    with pytest.raises(ValidationError) as err:
        users.update_user(session=session, viewer=admin, user_id=user.id, role="vp")
    assert (err.value.field, err.value.reason) == ("role", "only a vp may grant the vp role")
    assert user.role == "sales_manager"
    assert len(_refusals(session, user.id)) == 1


@pytest.mark.parametrize("role", ["admin", "sales_manager", "partnership_manager"])
def test_an_admin_onboards_and_manages_staff_below_vp(session, role):
    admin = Viewer.of(make_user(session, role="admin"))
    user = users.create_user(session=session, viewer=admin, email=f"{role}@example.com",
                             first_name="N", last_name="M", role=role, password="long enough")
    users.set_password(session=session, viewer=admin, user_id=user.id, password="other enough")
    users.set_active(session=session, viewer=admin, user_id=user.id, active=False)
    assert not _refusals(session)


def test_a_vp_and_the_cli_manage_vps(session):
    vp = Viewer.of(make_user(session, role="vp"))
    made = users.create_user(session=session, viewer=vp, email="second@example.com",
                             first_name="S", last_name="V", role="vp", password="long enough")
    users.set_password(session=session, viewer=Viewer.system(), user_id=made.id,
                       password="other enough")
    users.update_user(session=session, viewer=vp, user_id=made.id, role="admin")
    users.update_user(session=session, viewer=vp, user_id=made.id, role="vp")
    assert made.role == "vp" and not _refusals(session)


def test_the_roles_offered_are_the_roles_the_viewer_may_grant():
    assert auth.manageable_roles(Viewer(None, "a", "admin")) == (
        "sales_manager", "partnership_manager", "admin")
    assert "vp" in auth.manageable_roles(Viewer(None, "v", "vp"))
    assert auth.manageable_roles(Viewer(None, "s", "sales_manager")) == ()


def test_the_refusal_stays_in_the_audit_log_though_its_transaction_rolls_back(committed_url):
    with session_scope(committed_url) as s:
        admin = Viewer.of(make_user(s, role="admin", email="reach-admin@example.com"))
        s.commit()
    with pytest.raises(ValidationError), session_scope(committed_url) as s:
        users.create_user(session=s, viewer=admin, email="mint@example.com", first_name="M",
                          last_name="V", role="vp", password="long enough")
    with session_scope(committed_url) as s:
        assert s.scalar(select(func.count()).select_from(User)
                        .where(User.email == "mint@example.com")) == 0
        [entry] = _refusals(s)
        assert entry.actor_id == admin.id and entry.new_values["role"] == "vp"


def test_an_admins_import_may_not_mint_or_change_a_vp(session):
    admin = Viewer.of(make_user(session, role="admin"))
    make_user(session, role="vp", email="boss@example.com")
    data = (b"email,first_name,last_name,role\n"
            b"mint@example.com,M,V,vp\n"
            b"boss@example.com,B,Renamed,vp\n")
    report = importing.import_file(session=session, viewer=admin, entity="users", data=data,
                                  filename="users.csv")
    assert [str(e) for e in report.errors] == [
        "row 2, column role: only a vp may grant the vp role",
        "row 3, column first_name: only a vp may change a vp"]
    assert sessions.find_user_by_email(session, "mint@example.com") is None
    assert sessions.find_user_by_email(session, "boss@example.com").last_name != "Renamed"
