"""Goals through the API: one's own, the team's for managers, anyone's set by the vp."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from isv.db import session_scope
from isv.models import AuditEntry, QuarterlyGoal
from isv.services import users
from tests.api.conftest import SYSTEM

pytestmark = pytest.mark.postgres
API = "/api/v1"


def _id(email: str) -> str:
    with session_scope() as session:
        return str(users.get_by_email(session=session, viewer=SYSTEM, email=email).id)


def test_a_person_sets_their_goal_and_changes_only_its_target(api):
    email = api.new_user("partnership_manager")
    headers = api.headers(email)
    created = api.client.post(f"{API}/goals", headers=headers,
                              json={"year": 2026, "quarter": 2, "goal_type": "revenue",
                                    "target": "250000.00", "notes": "stretch"})
    assert created.status_code == 201, created.text
    goal = created.json()["data"]
    assert goal["target"] == "250000.00" and goal["progress"] == "0.00"
    changed = api.client.put(f"{API}/goals/{goal['id']}", headers=headers,
                             json={"target": "300000"}).json()["data"]
    assert changed["target"] == "300000.00" and changed["notes"] == "stretch"
    listed = api.client.get(f"{API}/goals?year=2026&quarter=2", headers=headers).json()["data"]
    assert [g["id"] for g in listed] == [goal["id"]]


def test_only_managers_read_the_team_and_only_the_vp_sets_others_goals(api):
    member = api.new_user("sales_manager")
    api.client.post(f"{API}/goals", headers=api.headers(member),
                    json={"year": 2026, "quarter": 3, "goal_type": "opportunities",
                          "target": "12"})
    team = api.client.get(f"{API}/goals/team?year=2026&quarter=3",
                          headers=api.headers("admin"))
    assert team.status_code == 200
    assert _id(member) in {g["user_id"] for g in team.json()["data"]}
    refused = api.client.get(f"{API}/goals/team?year=2026&quarter=3",
                             headers=api.headers("partnership_manager"))
    assert refused.status_code == 403
    by_vp = api.client.post(f"{API}/goals", headers=api.headers("vp"),
                            json={"year": 2026, "quarter": 3, "goal_type": "partnerships",
                                  "target": "2", "user_id": _id(member)})
    assert by_vp.status_code == 201
    by_peer = api.client.post(f"{API}/goals", headers=api.headers("sales_manager"),
                              json={"year": 2026, "quarter": 3, "goal_type": "revenue",
                                    "target": "1", "user_id": _id(member)})
    assert by_peer.status_code == 403


def _exists(goal_id: str) -> bool:
    with session_scope() as session:
        return session.get(QuarterlyGoal, uuid.UUID(goal_id)) is not None


def _audited_deletes(goal_id: str) -> list[str | None]:
    with session_scope() as session:
        return list(session.scalars(select(AuditEntry.actor_email).where(
            AuditEntry.entity_id == goal_id, AuditEntry.action == "delete")))


def test_a_person_removes_their_own_goal_and_the_removal_is_audited(api):
    email = api.new_user("partnership_manager")
    headers = api.headers(email)
    goal = api.client.post(f"{API}/goals", headers=headers,
                           json={"year": 2026, "quarter": 4, "goal_type": "revenue",
                                 "target": "1000"}).json()["data"]
    answer = api.client.delete(f"{API}/goals/{goal['id']}", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["data"] == {"deleted": goal["id"]}
    assert not _exists(goal["id"])
    assert _audited_deletes(goal["id"]) == [email]
    assert api.client.get(f"{API}/goals?year=2026&quarter=4",
                          headers=headers).json()["data"] == []
    assert api.client.delete(f"{API}/goals/{goal['id']}", headers=headers).status_code == 404


def test_only_the_vp_removes_someone_elses_goal_and_a_refusal_removes_nothing(api):
    member = api.new_user("sales_manager")
    goal = api.client.post(f"{API}/goals", headers=api.headers(member),
                           json={"year": 2026, "quarter": 4, "goal_type": "opportunities",
                                 "target": "3"}).json()["data"]
    refusals = {"partnership_manager": 404, "sales_manager": 403, "admin": 403}
    for role, status in refusals.items():
        answer = api.client.delete(f"{API}/goals/{goal['id']}", headers=api.headers(role))
        assert answer.status_code == status, role
    assert _exists(goal["id"]) and _audited_deletes(goal["id"]) == []
    assert api.client.delete(f"{API}/goals/{goal['id']}",
                             headers=api.headers("vp")).status_code == 200
    assert not _exists(goal["id"])
    assert _audited_deletes(goal["id"]) == [api.emails["vp"]]


def test_a_bad_quarter_is_refused_naming_it(api):
    answer = api.client.post(f"{API}/goals", headers=api.headers("vp"),
                             json={"year": 2026, "quarter": 5, "goal_type": "revenue",
                                   "target": "1"})
    assert answer.status_code == 422
    assert answer.json()["error"]["details"]["field"] == "quarter"
