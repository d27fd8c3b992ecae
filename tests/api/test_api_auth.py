"""API sign-in: tokens, rotation, reuse, revocation, the lockout shared with the UI."""

from __future__ import annotations

import time

import jwt
import pytest

from isv import auth
from isv.config import get_settings
from isv.db import session_scope
from isv.services import gdpr, sessions, users
from tests.api.conftest import PASSWORD, SYSTEM

pytestmark = pytest.mark.postgres


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _assert_error(answer, status: int, code: str) -> dict:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["success"] is False and body["error"]["code"] == code
    assert set(body["meta"]) == {"timestamp", "version"}
    return body["error"]


def test_a_login_gives_a_fifteen_minute_token_that_names_the_user(api):
    answer = api.login(api.emails["vp"])
    assert answer.status_code == 200
    tokens = answer.json()["data"]
    assert tokens["expires_in"] == 15 * 60 and tokens["token_type"] == "bearer"
    me = api.client.get("/api/v1/auth/me", headers=_bearer(tokens["access_token"]))
    assert me.json()["data"]["email"] == api.emails["vp"]
    assert me.json()["data"]["role"] == "vp"


def test_a_wrong_password_is_refused_without_saying_whether_the_account_exists(api):
    wrong = _assert_error(api.login(api.emails["vp"], "not-the-password"), 401,
                          "UNAUTHENTICATED")
    unknown = _assert_error(api.login("nobody@example.com", "x"), 401, "UNAUTHENTICATED")
    assert wrong["message"] == unknown["message"] == auth.LOGIN_REFUSED


def test_five_failed_api_logins_lock_the_account_on_the_sign_in_page_too(api):
    email = api.new_user()
    for _ in range(5):
        _assert_error(api.login(email, "wrong-password"), 401, "UNAUTHENTICATED")
    _assert_error(api.login(email), 401, "UNAUTHENTICATED")  # right password, locked
    with session_scope() as session:
        assert sessions.authenticate(session=session, email=email, password=PASSWORD) is None
        user = users.get_by_email(session=session, viewer=SYSTEM, email=email)
        assert user.locked_until is not None
        session.commit()


def test_failures_on_the_sign_in_page_lock_the_api_too(api):
    email = api.new_user()
    for _ in range(5):
        with session_scope() as session:
            sessions.authenticate(session=session, email=email, password="wrong-password")
            session.commit()
    _assert_error(api.login(email), 401, "UNAUTHENTICATED")


def test_a_refresh_token_is_used_once_and_gives_a_working_pair(api):
    first = api.login(api.emails["sales_manager"]).json()["data"]
    answer = api.client.post("/api/v1/auth/refresh",
                             json={"refresh_token": first["refresh_token"]})
    assert answer.status_code == 200
    second = answer.json()["data"]
    assert second["refresh_token"] != first["refresh_token"]
    me = api.client.get("/api/v1/auth/me", headers=_bearer(second["access_token"]))
    assert me.status_code == 200


def test_reusing_a_rotated_refresh_token_ends_the_whole_sign_in(api):
    first = api.login(api.emails["sales_manager"]).json()["data"]
    second = api.client.post("/api/v1/auth/refresh",
                             json={"refresh_token": first["refresh_token"]}).json()["data"]
    # Someone replays the first token: refused, and the family is revoked.
    _assert_error(api.client.post("/api/v1/auth/refresh",
                                  json={"refresh_token": first["refresh_token"]}),
                  401, "UNAUTHENTICATED")
    _assert_error(api.client.post("/api/v1/auth/refresh",
                                  json={"refresh_token": second["refresh_token"]}),
                  401, "UNAUTHENTICATED")
    _assert_error(api.client.get("/api/v1/auth/me", headers=_bearer(second["access_token"])),
                  401, "UNAUTHENTICATED")


def test_logout_stops_the_access_and_refresh_tokens_at_once(api):
    tokens = api.login(api.emails["sales_manager"]).json()["data"]
    headers = _bearer(tokens["access_token"])
    assert api.client.post("/api/v1/auth/logout", headers=headers).status_code == 200
    _assert_error(api.client.get("/api/v1/auth/me", headers=headers), 401, "UNAUTHENTICATED")
    _assert_error(api.client.post("/api/v1/auth/refresh",
                                  json={"refresh_token": tokens["refresh_token"]}),
                  401, "UNAUTHENTICATED")


def test_logout_ends_only_that_sign_in(api):
    email = api.new_user()
    kept, ended = api.headers(email), api.headers(email)
    api.client.post("/api/v1/auth/logout", headers=ended)
    assert api.client.get("/api/v1/auth/me", headers=kept).status_code == 200


def test_an_expired_access_token_is_refused_saying_it_expired(api):
    tokens = api.login(api.emails["vp"]).json()["data"]
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    claims["exp"] = int(time.time()) - 1
    stale = jwt.encode(claims, get_settings().api_key, algorithm="HS256")
    error = _assert_error(api.client.get("/api/v1/auth/me", headers=_bearer(stale)), 401,
                          "UNAUTHENTICATED")
    assert "expired" in error["message"]


def test_a_token_signed_with_another_key_is_refused(api):
    tokens = api.login(api.emails["vp"]).json()["data"]
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    forged = jwt.encode(claims, "x" * 40, algorithm="HS256")
    _assert_error(api.client.get("/api/v1/auth/me", headers=_bearer(forged)), 401,
                  "UNAUTHENTICATED")


def test_a_deactivated_users_token_stops_on_the_next_call(api):
    email = api.new_user()
    tokens = api.login(email).json()["data"]
    with session_scope() as session:
        user = users.get_by_email(session=session, viewer=SYSTEM, email=email)
        users.set_active(session=session, viewer=SYSTEM, user_id=user.id, active=False)
        session.commit()
    _assert_error(api.client.get("/api/v1/auth/me", headers=_bearer(tokens["access_token"])),
                  401, "UNAUTHENTICATED")
    _assert_error(api.client.post("/api/v1/auth/refresh",
                                  json={"refresh_token": tokens["refresh_token"]}),
                  401, "UNAUTHENTICATED")


def test_an_anonymised_users_token_stops_on_the_next_call(api):
    email = api.new_user()
    headers = api.headers(email)
    with session_scope() as session:
        user = users.get_by_email(session=session, viewer=SYSTEM, email=email)
        gdpr.anonymise_user(session=session, viewer=SYSTEM, user_id=user.id)
        session.commit()
    _assert_error(api.client.get("/api/v1/auth/me", headers=headers), 401, "UNAUTHENTICATED")


def test_a_password_change_ends_the_users_api_sign_ins(api):
    email = api.new_user()
    tokens = api.login(email).json()["data"]
    with session_scope() as session:
        user = users.get_by_email(session=session, viewer=SYSTEM, email=email)
        users.set_password(session=session, viewer=SYSTEM, user_id=user.id,
                           password="another-long-password")
        session.commit()
    _assert_error(api.client.post("/api/v1/auth/refresh",
                                  json={"refresh_token": tokens["refresh_token"]}),
                  401, "UNAUTHENTICATED")
    _assert_error(api.client.get("/api/v1/auth/me", headers=_bearer(tokens["access_token"])),
                  401, "UNAUTHENTICATED")


def test_a_call_without_a_token_is_refused_in_the_envelope(api):
    error = _assert_error(api.client.get("/api/v1/auth/me"), 401, "UNAUTHENTICATED")
    assert "Bearer" in error["message"]


def test_a_login_with_bad_fields_lists_every_bad_field(api):
    answer = api.client.post("/api/v1/auth/login", json={"email": 5})
    error = _assert_error(answer, 422, "VALIDATION_ERROR")
    fields = {e["field"] for e in error["details"]["errors"]}
    assert fields == {"email", "password"}


def test_unknown_paths_and_methods_answer_in_the_envelope(api):
    _assert_error(api.client.get("/api/v1/nothing-here"), 404, "NOT_FOUND")
    _assert_error(api.client.delete("/api/v1/auth/me"), 405, "METHOD_NOT_ALLOWED")
