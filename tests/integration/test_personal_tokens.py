"""Personal access tokens: made with a label, scope and expiry; checked; revoked; audited."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from isv.auth import Viewer, token_hash
from isv.errors import Forbidden, NotFound, ValidationError
from isv.models import AuditEntry, PersonalAccessToken
from isv.services import personal_tokens, users
from isv.services.settings import local_today, local_zone
from isv.types import utcnow
from tests.factories import make_user

SYSTEM = Viewer.system("tests")


def _viewer(session, **overrides) -> Viewer:
    return Viewer.of(make_user(session, **overrides))


def _make(session, viewer, name="sync", scope="read", **expiry):
    expiry = expiry or {"expires_in_days": 30}
    return personal_tokens.create_token(session=session, viewer=viewer, name=name, scope=scope,
                                        **expiry)


def _audits(session, token_id) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(
        AuditEntry.entity_type == "personal_token", AuditEntry.entity_id == str(token_id))
        .order_by(AuditEntry.at, AuditEntry.id)))


def test_a_new_token_is_returned_once_and_stored_as_its_hash(session):
    viewer = _viewer(session)
    made = _make(session, viewer, name="  CRM sync  ", scope="write")
    assert made.secret.startswith("isvpat_") and len(made.secret) > 40
    row = session.get(PersonalAccessToken, made.token.id)
    assert (row.name, row.scope, row.user_id) == ("CRM sync", "write", viewer.id)
    assert row.token_hash == token_hash(made.secret) and made.secret not in row.token_hash
    assert row.expires_at - row.created_at == timedelta(days=30)
    [entry] = _audits(session, row.id)
    assert entry.action == "create" and entry.actor_id == viewer.id
    assert entry.new_values["name"] == "CRM sync" and entry.new_values["scope"] == "write"
    assert made.secret not in str(entry.new_values) and row.token_hash not in str(
        entry.new_values)


def test_two_tokens_never_share_a_secret(session):
    viewer = _viewer(session)
    assert _make(session, viewer, name="a").secret != _make(session, viewer, name="b").secret


@pytest.mark.parametrize(("fields", "field", "reason"), [
    ({"name": "   "}, "name", "is required"),
    ({"name": "x" * 101}, "name", "longer than 100"),
    ({"name": "tab\there"}, "name", "control characters"),
    ({"scope": "admin"}, "scope", "not one of read, write"),
    ({"expires_in_days": 0}, "expires", "1 to 365 days"),
    ({"expires_in_days": 366}, "expires", "1 to 365 days"),
    ({"expires_in_days": "soon"}, "expires", "not a number of days"),
])
def test_bad_input_is_refused_by_field_and_writes_nothing(session, fields, field, reason):
    viewer = _viewer(session)
    values = {"name": "ok", "scope": "read", "expires_in_days": 30, **fields}
    with pytest.raises(ValidationError) as refused:
        personal_tokens.create_token(session=session, viewer=viewer, **values)
    assert refused.value.field == field and reason in refused.value.reason
    assert personal_tokens.list_tokens(session=session, viewer=viewer) == []


def test_an_expiry_date_runs_through_that_whole_day_and_at_most_a_year_ahead(session):
    viewer = _viewer(session)
    today = local_today()
    last_day = today + timedelta(days=10)
    made = _make(session, viewer, expires_on=last_day)
    assert made.token.expires_at == datetime.combine(
        last_day + timedelta(days=1), datetime.min.time(), local_zone())
    for day, reason in ((today, "after today"), (today + timedelta(days=366), "within a year")):
        with pytest.raises(ValidationError, match=reason):
            _make(session, viewer, name=str(day), expires_on=day)
    with pytest.raises(ValidationError, match="a number of days or a date"):
        _make(session, viewer, name="both", expires_in_days=7, expires_on=last_day)
    with pytest.raises(ValidationError, match="a number of days or a date"):
        personal_tokens.create_token(session=session, viewer=viewer, name="neither",
                                     scope="read")


def test_a_live_tokens_name_is_taken_until_it_is_revoked(session):
    viewer = _viewer(session)
    first = _make(session, viewer, name="Backup")
    with pytest.raises(ValidationError, match="already have a live token"):
        _make(session, viewer, name="backup")
    personal_tokens.revoke_token(session=session, viewer=viewer, token_id=first.token.id)
    assert _make(session, viewer, name="Backup").token.name == "Backup"


def test_a_person_has_a_bounded_number_of_live_tokens(session, monkeypatch):
    viewer = _viewer(session)
    monkeypatch.setattr(personal_tokens, "MAX_LIVE", 2)
    _make(session, viewer, name="one")
    _make(session, viewer, name="two")
    with pytest.raises(ValidationError, match="the most allowed"):
        _make(session, viewer, name="three")
    assert len(personal_tokens.list_tokens(session=session, viewer=viewer)) == 2


def test_the_command_line_has_no_tokens_of_its_own(session):
    with pytest.raises(Forbidden):
        _make(session, SYSTEM)


def test_each_person_lists_only_their_own_tokens_newest_first(session):
    ann, bob = _viewer(session), _viewer(session)
    now = utcnow()
    personal_tokens.create_token(session=session, viewer=ann, name="older", scope="read",
                                 expires_in_days=7, now=now - timedelta(days=1))
    _make(session, ann, name="newer")
    _make(session, bob, name="bob's")
    assert [t.name for t in personal_tokens.list_tokens(session=session, viewer=ann)] == [
        "newer", "older"]


def test_revoking_is_audited_once_and_only_by_the_owner(session):
    ann, bob = _viewer(session), _viewer(session, role="vp")
    made = _make(session, ann, name="laptop")
    with pytest.raises(NotFound):
        personal_tokens.revoke_token(session=session, viewer=bob, token_id=made.token.id)
    personal_tokens.revoke_token(session=session, viewer=ann, token_id=made.token.id)
    personal_tokens.revoke_token(session=session, viewer=ann, token_id=made.token.id)
    assert [e.action for e in _audits(session, made.token.id)] == ["create", "revoke"]
    assert _audits(session, made.token.id)[1].new_values["name"] == "laptop"
    assert personal_tokens.status(made.token) == "revoked"


def test_a_check_signs_in_the_owner_and_records_use_at_most_once_a_minute(session):
    viewer = _viewer(session, role="partnership_manager")
    made = _make(session, viewer, scope="read")
    now = utcnow()
    check = personal_tokens.check_token(session=session, secret=made.secret, now=now)
    assert check.viewer == viewer and check.scope == "read" and check.name == "sync"
    assert made.token.last_used_at == now
    personal_tokens.check_token(session=session, secret=made.secret,
                                now=now + timedelta(seconds=30))
    assert made.token.last_used_at == now
    later = now + timedelta(seconds=61)
    personal_tokens.check_token(session=session, secret=made.secret, now=later)
    assert made.token.last_used_at == later


def test_a_check_refuses_unknown_expired_and_revoked_tokens_saying_why(session):
    viewer = _viewer(session)
    made = _make(session, viewer, name="short", expires_in_days=1)
    assert "not valid" in personal_tokens.check_token(session=session,
                                                      secret="isvpat_unknown").reason
    tomorrow = utcnow() + timedelta(days=1, seconds=1)
    expired = personal_tokens.check_token(session=session, secret=made.secret, now=tomorrow)
    assert expired.viewer is None and "expired" in expired.reason
    assert personal_tokens.status(made.token, tomorrow) == "expired"
    personal_tokens.revoke_token(session=session, viewer=viewer, token_id=made.token.id)
    revoked = personal_tokens.check_token(session=session, secret=made.secret)
    assert revoked.viewer is None and "revoked" in revoked.reason


def test_deactivation_revokes_the_tokens_and_reactivation_brings_none_back(session):
    user = make_user(session)
    made = _make(session, Viewer.of(user))
    users.set_active(session=session, viewer=SYSTEM, user_id=user.id, active=False)
    assert personal_tokens.check_token(session=session, secret=made.secret).viewer is None
    users.set_active(session=session, viewer=SYSTEM, user_id=user.id, active=True)
    session.refresh(made.token)
    assert made.token.revoke_reason == "deactivated"
    assert personal_tokens.check_token(session=session, secret=made.secret).viewer is None
    revoked = session.scalars(select(AuditEntry).where(
        AuditEntry.action == "sessions_revoked", AuditEntry.entity_id == str(user.id))).all()
    assert [e.new_values.get("personal_tokens") for e in revoked] == [1]


def test_a_password_or_role_change_leaves_tokens_working_with_the_new_role(session):
    user = make_user(session, role="sales_manager")
    made = _make(session, Viewer.of(user))
    users.set_password(session=session, viewer=SYSTEM, user_id=user.id,
                       password="a-new-long-password")
    users.update_user(session=session, viewer=SYSTEM, user_id=user.id,
                      role="partnership_manager")
    check = personal_tokens.check_token(session=session, secret=made.secret)
    assert check.viewer is not None and check.viewer.role == "partnership_manager"
