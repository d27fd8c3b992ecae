"""Personal access tokens on the API: reads, read-only refused writes, expiry, revocation."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from isv.api import limits
from isv.api.app import create_app
from isv.auth import Viewer, token_hash
from isv.db import session_scope
from isv.models import AuditEntry, Partner, PersonalAccessToken
from isv.services import gdpr, personal_tokens, users
from isv.types import utcnow
from tests.api.conftest import SYSTEM, clear_caches

pytestmark = pytest.mark.postgres


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _assert_error(answer, status: int, code: str) -> dict:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["success"] is False and body["error"]["code"] == code
    return body["error"]


def _user(email: str):
    with session_scope() as session:
        return users.get_by_email(session=session, viewer=SYSTEM, email=email)


def _token(api, role_or_email: str, *, scope: str = "write", name: str = "nightly sync",
           days: int = 30) -> str:
    user = _user(api.emails.get(role_or_email, role_or_email))
    with session_scope() as session:
        made = personal_tokens.create_token(session=session, viewer=Viewer.of(user), name=name,
                                            scope=scope, expires_in_days=days)
        session.commit()
        return made.secret


def _partner_count(name: str) -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(Partner)
                              .where(Partner.name == name))


def test_a_personal_token_reads_as_its_owner(api):
    token = _token(api, "sales_manager", scope="read")
    me = api.client.get("/api/v1/auth/me", headers=_bearer(token))
    assert me.status_code == 200, me.text
    assert me.json()["data"]["email"] == api.emails["sales_manager"]
    listed = api.client.get("/api/v1/partners", headers=_bearer(token))
    assert listed.status_code == 200 and listed.json()["success"] is True


def test_a_read_only_token_is_refused_every_write_naming_its_scope_and_nothing_is_written(api):
    token = _token(api, "vp", scope="read", name="dashboard feed")
    body = {"name": "Readonly Refused Co", "domain": "FinOps"}
    error = _assert_error(api.client.post("/api/v1/partners", json=body,
                                          headers=_bearer(token)), 403, "FORBIDDEN")
    assert "read-only" in error["message"] and "dashboard feed" in error["message"]
    assert _partner_count("Readonly Refused Co") == 0
    # Every other write method too, whatever the route: one check in front of them all.
    some_id = "00000000-0000-0000-0000-000000000001"
    for method, path in (("PUT", f"/api/v1/partners/{some_id}"),
                         ("DELETE", f"/api/v1/opportunities/{some_id}"),
                         ("POST", "/api/v1/alerts/bulk/read"),
                         ("PUT", f"/api/v1/alerts/{some_id}/read")):
        answer = api.client.request(method, path, json={}, headers=_bearer(token))
        _assert_error(answer, 403, "FORBIDDEN")


def test_a_read_write_token_writes_as_its_owner(api):
    token = _token(api, "vp", scope="write", name="crm sync")
    answer = api.client.post("/api/v1/partners", json={"name": "Token Written Co",
                                                       "domain": "Security"},
                             headers=_bearer(token))
    assert answer.status_code == 201, answer.text
    assert _partner_count("Token Written Co") == 1


def test_a_read_only_token_may_use_the_commission_calculator_which_writes_nothing(api):
    token = _token(api, "vp", scope="read", name="quotes")
    answer = api.client.post("/api/v1/commissions/calculate",
                             json={"partner_id": "00000000-0000-0000-0000-000000000002",
                                   "deal_value": "1000.00"},
                             headers=_bearer(token))
    assert answer.status_code != 403, answer.text


def test_an_expired_token_is_refused_saying_it_expired(api):
    token = _token(api, "sales_manager", name="old script")
    with session_scope() as session:
        row = session.scalar(select(PersonalAccessToken).where(
            PersonalAccessToken.name == "old script"))
        row.expires_at = utcnow() - timedelta(minutes=1)
        session.commit()
    error = _assert_error(api.client.get("/api/v1/auth/me", headers=_bearer(token)), 401,
                          "UNAUTHENTICATED")
    assert "expired" in error["message"] and "old script" in error["message"]


def test_a_revoked_token_is_refused_on_its_next_call(api):
    email = api.new_user()
    token = _token(api, email, name="laptop")
    assert api.client.get("/api/v1/auth/me", headers=_bearer(token)).status_code == 200
    with session_scope() as session:
        mine = personal_tokens.list_tokens(session=session, viewer=Viewer.of(_user(email)))
        personal_tokens.revoke_token(session=session, viewer=Viewer.of(_user(email)),
                                     token_id=mine[0].id)
        session.commit()
    error = _assert_error(api.client.get("/api/v1/auth/me", headers=_bearer(token)), 401,
                          "UNAUTHENTICATED")
    assert "revoked" in error["message"]


def test_an_unknown_personal_token_is_refused(api):
    error = _assert_error(api.client.get("/api/v1/auth/me",
                                         headers=_bearer("isvpat_not-a-real-token")),
                          401, "UNAUTHENTICATED")
    assert "not valid" in error["message"]


def test_a_deactivated_users_tokens_stop_and_stay_revoked_after_reactivation(api):
    email = api.new_user()
    token = _token(api, email, name="cron")
    user = _user(email)
    with session_scope() as session:
        users.set_active(session=session, viewer=SYSTEM, user_id=user.id, active=False)
        session.commit()
    _assert_error(api.client.get("/api/v1/auth/me", headers=_bearer(token)), 401,
                  "UNAUTHENTICATED")
    with session_scope() as session:
        users.set_active(session=session, viewer=SYSTEM, user_id=user.id, active=True)
        session.commit()
    error = _assert_error(api.client.get("/api/v1/auth/me", headers=_bearer(token)), 401,
                          "UNAUTHENTICATED")
    assert "revoked" in error["message"]


def test_an_anonymised_users_tokens_stop(api):
    email = api.new_user()
    token = _token(api, email, name="exporter")
    with session_scope() as session:
        gdpr.anonymise_user(session=session, viewer=SYSTEM, user_id=_user(email).id)
        session.commit()
    _assert_error(api.client.get("/api/v1/auth/me", headers=_bearer(token)), 401,
                  "UNAUTHENTICATED")


def test_a_password_change_leaves_personal_tokens_working(api):
    email = api.new_user()
    token = _token(api, email, name="report pull")
    with session_scope() as session:
        users.set_password(session=session, viewer=SYSTEM, user_id=_user(email).id,
                           password="another-long-password")
        session.commit()
    assert api.client.get("/api/v1/auth/me", headers=_bearer(token)).status_code == 200


def test_logout_with_a_personal_token_is_refused_and_the_token_keeps_working(api):
    token = _token(api, "sales_manager", name="habitual logout")
    error = _assert_error(api.client.post("/api/v1/auth/logout", headers=_bearer(token)), 403,
                          "FORBIDDEN")
    assert "Account page" in error["message"]
    assert api.client.get("/api/v1/auth/me", headers=_bearer(token)).status_code == 200


def test_the_secret_is_stored_only_as_its_hash(api):
    token = _token(api, "admin", name="hash check")
    secret_part = token.removeprefix(personal_tokens.PREFIX)
    with session_scope() as session:
        rows = session.execute(text("SELECT * FROM personal_access_tokens")).all()
        audits = session.execute(text("SELECT * FROM audit_log")).all()
    stored = " ".join(str(value) for row in rows + audits for value in row)
    assert secret_part not in stored
    assert any(token_hash(token) in str(row) for row in rows)


def test_creating_and_revoking_are_audited_by_label_never_by_secret(api):
    email = api.new_user()
    token = _token(api, email, name="audited one", scope="read")
    viewer = Viewer.of(_user(email))
    with session_scope() as session:
        mine = personal_tokens.list_tokens(session=session, viewer=viewer)
        personal_tokens.revoke_token(session=session, viewer=viewer, token_id=mine[0].id)
        entries = session.scalars(select(AuditEntry).where(
            AuditEntry.entity_type == "personal_token",
            AuditEntry.entity_id == str(mine[0].id)).order_by(AuditEntry.at)).all()
        session.commit()
    assert [e.action for e in entries] == ["create", "revoke"]
    assert all(e.new_values["name"] == "audited one" and e.actor_email == email
               for e in entries)
    assert token not in str([e.new_values for e in entries])


def test_use_is_recorded_at_most_once_a_minute(api):
    token = _token(api, "sales_manager", name="busy script")
    api.client.get("/api/v1/auth/me", headers=_bearer(token))
    with session_scope() as session:
        first = session.scalar(select(PersonalAccessToken.last_used_at).where(
            PersonalAccessToken.name == "busy script"))
    assert first is not None
    api.client.get("/api/v1/auth/me", headers=_bearer(token))
    with session_scope() as session:
        again = session.scalar(select(PersonalAccessToken.last_used_at).where(
            PersonalAccessToken.name == "busy script"))
    assert again == first


def test_a_personal_token_is_rate_limited_on_its_own_whatever_the_address(api, monkeypatch):
    token = _token(api, "sales_manager", name="rate limited")
    monkeypatch.setenv("ISV_API_RATE_PER_MINUTE", "4")
    now = time.time()  # one window throughout: on a slow machine a minute may turn mid-test
    monkeypatch.setattr(limits, "clock", lambda: now)
    clear_caches()
    try:
        app = create_app()
        with TestClient(app, client=("10.0.0.1", 1)) as one, \
                TestClient(app, client=("10.0.0.2", 1)) as two:
            # Two addresses, two calls or so each: only the token's own count reaches 4.
            answers = [client.get("/api/v1/auth/me", headers=_bearer(token))
                       for client in (one, two, one, two, one)]
    finally:
        monkeypatch.undo()  # the module's other tests go on under the fixture's limits
        clear_caches()
    assert [a.status_code for a in answers] == [200] * 4 + [429]
    assert answers[-1].json()["error"]["code"] == "RATE_LIMITED"


# POSTs that sign in or only compute; every other write the schema lists must refuse.
NOT_WRITES = {("POST", "/api/v1/auth/login"), ("POST", "/api/v1/auth/refresh"),
              ("POST", "/api/v1/commissions/calculate")}


def test_every_write_in_the_schema_refuses_a_read_only_token_and_writes_nothing(api):
    token = _token(api, "vp", scope="read", name="schema walker")
    schema = api.client.get("/api/v1/openapi.json").json()
    writes = [(method.upper(), path) for path, operations in schema["paths"].items()
              for method in operations if method in ("post", "put", "patch", "delete")
              and (method.upper(), path) not in NOT_WRITES]
    assert len(writes) > 20
    with session_scope() as session:
        before = session.scalar(select(func.count()).select_from(AuditEntry))
    for method, path in writes:
        url = re.sub(r"\{week_?[sS]tart\}", "2026-11-30",
                     re.sub(r"\{id\}", "00000000-0000-0000-0000-000000000003", path))
        answer = api.client.request(method, url, json={}, headers=_bearer(token))
        assert answer.status_code == 403, (method, path, answer.text)
        assert "read-only" in answer.json()["error"]["message"] or path.endswith("/logout")
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == before
