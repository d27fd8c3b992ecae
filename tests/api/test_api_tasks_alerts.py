"""Tasks and alerts through the API: each person's own, as on their pages."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from isv.db import session_scope
from isv.models import Alert, Task
from isv.services import users
from isv.services.settings import local_today
from tests.api.conftest import SYSTEM

pytestmark = pytest.mark.postgres
API = "/api/v1"


def _alert(email: str, **extra) -> str:
    with session_scope() as session:
        user = users.get_by_email(session=session, viewer=SYSTEM, email=email)
        alert = Alert(user_id=user.id, alert_type="task_overdue", entity_type="task",
                      entity_id=uuid.uuid4(), message="Task is overdue", priority="high",
                      **extra)
        session.add(alert)
        session.flush()
        session.commit()
        return str(alert.id)


def test_a_task_is_created_changed_listed_and_deleted_by_its_owner(api):
    email = api.new_user("sales_manager")
    headers = api.headers(email)
    created = api.client.post(f"{API}/tasks", headers=headers,
                              json={"title": "Call Northwind", "priority": "high"})
    assert created.status_code == 201, created.text
    task = created.json()["data"]
    changed = api.client.put(f"{API}/tasks/{task['id']}", headers=headers,
                             json={"status": "completed"})
    assert changed.json()["data"]["status"] == "completed"
    assert changed.json()["data"]["completed_date"] == local_today().isoformat()
    assert changed.json()["data"]["title"] == "Call Northwind"
    listed = api.client.get(f"{API}/tasks", headers=headers).json()["data"]
    assert [t["title"] for t in listed] == ["Call Northwind"]
    assert api.client.delete(f"{API}/tasks/{task['id']}", headers=headers).status_code == 200
    assert api.client.get(f"{API}/tasks", headers=headers).json()["data"] == []


def test_someone_elses_task_is_not_found_and_stays_as_it_was(api):
    owner = api.headers(api.new_user("sales_manager"))
    task = api.client.post(f"{API}/tasks", headers=owner, json={"title": "Mine"}).json()["data"]
    other = api.headers(api.new_user("sales_manager"))
    assert api.client.put(f"{API}/tasks/{task['id']}", headers=other,
                          json={"title": "Yours"}).status_code == 404
    assert api.client.delete(f"{API}/tasks/{task['id']}", headers=other).status_code == 404
    with session_scope() as session:
        assert session.get(Task, uuid.UUID(task["id"])).title == "Mine"


def test_a_task_is_read_by_its_owner_as_its_list_row_shows_it(api):
    headers = api.headers(api.new_user("sales_manager"))
    yesterday = (local_today() - timedelta(days=1)).isoformat()
    created = api.client.post(f"{API}/tasks", headers=headers,
                              json={"title": "Send the QBR deck", "due_date": yesterday})
    task_id = created.json()["data"]["id"]
    answer = api.client.get(f"{API}/tasks/{task_id}", headers=headers)
    assert answer.status_code == 200, answer.text
    [row] = api.client.get(f"{API}/tasks", headers=headers).json()["data"]
    assert answer.json()["data"] == row
    assert (row["title"], row["days_overdue"]) == ("Send the QBR deck", 1)


def test_someone_elses_task_cannot_be_read_and_an_admin_reads_none(api):
    owner = api.headers(api.new_user("partnership_manager"))
    task = api.client.post(f"{API}/tasks", headers=owner, json={"title": "Mine"}).json()["data"]
    for role in ("vp", "sales_manager", "partnership_manager"):
        answer = api.client.get(f"{API}/tasks/{task['id']}", headers=api.headers(role))
        assert answer.status_code == 404, role
        assert answer.json()["error"]["code"] == "NOT_FOUND"
    refused = api.client.get(f"{API}/tasks/{task['id']}", headers=api.headers("admin"))
    assert refused.status_code == 403
    assert api.client.get(f"{API}/tasks/{uuid.uuid4()}", headers=owner).status_code == 404


def test_an_admin_keeps_no_tasks(api):
    answer = api.client.post(f"{API}/tasks", headers=api.headers("admin"), json={"title": "x"})
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "FORBIDDEN"


def test_a_bad_task_field_is_refused_naming_it(api):
    answer = api.client.post(f"{API}/tasks", headers=api.headers("sales_manager"),
                             json={"title": "x", "priority": "whenever"})
    assert answer.status_code == 422
    assert answer.json()["error"]["details"]["field"] == "priority"


def test_rollover_carries_last_weeks_unfinished_task_into_this_week_once(api):
    email = api.new_user("partnership_manager")
    headers = api.headers(email)
    last_week = (local_today() - timedelta(days=local_today().weekday() + 3)).isoformat()
    api.client.post(f"{API}/tasks", headers=headers, json={"title": "Old", "due_date":
                                                            last_week})
    first = api.client.post(f"{API}/tasks/rollover", headers=headers).json()["data"]
    again = api.client.post(f"{API}/tasks/rollover", headers=headers).json()["data"]
    assert (first["rolled"], again["rolled"]) == (1, 0)
    statuses = sorted(t["status"] for t in api.client.get(f"{API}/tasks",
                                                          headers=headers).json()["data"])
    assert statuses == ["pending", "rolled_over"]


def test_alerts_are_read_one_by_one_or_in_bulk_and_deleted(api):
    email = api.new_user("sales_manager")
    headers = api.headers(email)
    first, second, third = (_alert(email) for _ in range(3))
    listed = api.client.get(f"{API}/alerts", headers=headers).json()["data"]
    assert {a["id"] for a in listed} == {first, second, third}
    assert api.client.put(f"{API}/alerts/{first}/read",
                          headers=headers).json()["data"] == {"changed": 1}
    bulk = api.client.post(f"{API}/alerts/bulk/read", headers=headers,
                           json={"ids": [first, second]})
    assert bulk.json()["data"] == {"changed": 1}
    unread = api.client.get(f"{API}/alerts?read=false", headers=headers).json()["data"]
    assert [a["id"] for a in unread] == [third]
    assert api.client.post(f"{API}/alerts/bulk/read", headers=headers,
                           json={}).json()["data"] == {"changed": 1}
    assert api.client.delete(f"{API}/alerts/{third}", headers=headers).status_code == 200
    with session_scope() as session:
        assert session.get(Alert, uuid.UUID(third)) is None


def test_someone_elses_alert_is_not_found_and_stays_unread(api):
    alert = _alert(api.new_user("sales_manager"))
    other = api.headers(api.new_user("sales_manager"))
    assert api.client.put(f"{API}/alerts/{alert}/read", headers=other).status_code == 404
    assert api.client.delete(f"{API}/alerts/{alert}", headers=other).status_code == 404
    assert api.client.post(f"{API}/alerts/bulk/read", headers=other,
                           json={"ids": [alert]}).status_code == 404
    with session_scope() as session:
        row = session.scalar(select(Alert).where(Alert.id == uuid.UUID(alert)))
        assert row is not None and row.is_read is False
