"""Users through the API: managed by a vp or an admin, read within scope."""

from __future__ import annotations

import pytest

from isv.db import session_scope
from isv.services import users
from isv.services.sessions import find_user_by_email
from tests.api.conftest import PASSWORD, SYSTEM

pytestmark = pytest.mark.postgres
API = "/api/v1"


def _id(email: str) -> str:
    with session_scope() as session:
        return str(users.get_by_email(session=session, viewer=SYSTEM, email=email).id)


def test_an_admin_adds_a_user_who_can_then_sign_in(api):
    answer = api.client.post(f"{API}/users", headers=api.headers("admin"),
                             json={"email": "new.hire@example.com", "first_name": "New",
                                   "last_name": "Hire", "role": "sales_manager",
                                   "password": PASSWORD})
    assert answer.status_code == 201, answer.text
    assert answer.json()["data"]["role"] == "sales_manager"
    assert api.login("new.hire@example.com").status_code == 200


@pytest.mark.parametrize("role", ["sales_manager", "partnership_manager"])
def test_only_a_vp_or_an_admin_manages_users(api, role):
    target = api.new_user("sales_manager")
    headers = api.headers(role)
    added = api.client.post(f"{API}/users", headers=headers,
                            json={"email": f"nope-{role}@example.com", "first_name": "N",
                                  "last_name": "O", "role": "sales_manager"})
    assert added.status_code == 403
    assert api.client.delete(f"{API}/users/{_id(target)}",
                             headers=headers).status_code in (403, 404)
    with session_scope() as session:
        assert users.get_by_email(session=session, viewer=SYSTEM, email=target).is_active
        assert find_user_by_email(session, f"nope-{role}@example.com") is None


def test_an_admin_may_not_grant_the_vp_role(api):
    target = api.new_user("sales_manager")
    answer = api.client.put(f"{API}/users/{_id(target)}", headers=api.headers("admin"),
                            json={"role": "vp"})
    assert answer.status_code == 422
    assert answer.json()["error"]["details"]["field"] == "role"


def test_deactivating_a_user_through_the_api_ends_their_api_sign_in(api):
    target = api.new_user("sales_manager")
    their = api.headers(target)
    answer = api.client.delete(f"{API}/users/{_id(target)}", headers=api.headers("vp"))
    assert answer.status_code == 200 and answer.json()["data"]["is_active"] is False
    assert api.client.get(f"{API}/auth/me", headers=their).status_code == 401


def test_a_partnership_manager_reads_only_the_people_their_work_names(api):
    stranger = api.new_user("sales_manager")
    headers = api.headers("partnership_manager")
    listed = {u["email"] for u in api.client.get(f"{API}/users", headers=headers).json()["data"]}
    assert api.emails["partnership_manager"] in listed and stranger not in listed
    assert api.client.get(f"{API}/users/{_id(stranger)}", headers=headers).status_code == 404
    everyone = {u["email"] for u in api.client.get(
        f"{API}/users", headers=api.headers("sales_manager")).json()["data"]}
    assert stranger in everyone
