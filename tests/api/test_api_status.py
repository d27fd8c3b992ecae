"""Weekly status through the API: drafted from the data, saved, submitted, read by managers."""

from __future__ import annotations

from datetime import timedelta

import pytest

from isv.services.settings import local_today

pytestmark = pytest.mark.postgres
API = "/api/v1"


def _monday() -> str:
    today = local_today()
    return (today - timedelta(days=today.weekday())).isoformat()


def test_a_week_is_drafted_saved_then_submitted_and_the_team_sees_it(api):
    email = api.new_user("partnership_manager")
    headers = api.headers(email)
    monday = _monday()
    opened = api.client.get(f"{API}/status/weeks/{monday}", headers=headers).json()["data"]
    assert opened["saved"] is False and opened["state"] == "draft"
    saved = api.client.put(f"{API}/status/weeks/{monday}", headers=headers,
                           json={"accomplishments": "- QBR with Ledgerline",
                                 "kpi_metrics": {"Partner touches": 4}})
    assert saved.status_code == 200, saved.text
    assert saved.json()["data"]["saved"] is True
    submitted = api.client.put(f"{API}/status/weeks/{monday}", headers=headers,
                               json={"blockers": "- legal review", "submit": True})
    data = submitted.json()["data"]
    assert data["state"] == "submitted" and data["accomplishments"] == "- QBR with Ledgerline"
    assert data["kpi_metrics"] == [{"name": "Partner touches", "value": "4"}]
    history = api.client.get(f"{API}/status/weeks", headers=headers).json()["data"]
    assert [(h["week_start"], h["state"]) for h in history] == [(monday, "submitted")]
    team = api.client.get(f"{API}/status/team/{monday}", headers=api.headers("vp"))
    member = [m for m in team.json()["data"]["members"] if m["state"] == "submitted"
              and m["blockers"] == ["legal review"]]
    assert member, team.text


def test_an_empty_week_cannot_be_submitted_and_nothing_is_saved(api):
    headers = api.headers(api.new_user("sales_manager"))
    answer = api.client.post(f"{API}/status/weeks", headers=headers,
                             json={"week_start": _monday()})
    assert answer.status_code == 422
    assert answer.json()["error"]["details"]["field"] == "accomplishments"
    assert api.client.get(f"{API}/status/weeks", headers=headers).json()["data"] == []


def test_a_day_that_is_not_a_monday_is_refused_and_the_team_is_for_managers(api):
    headers = api.headers("sales_manager")
    tuesday = (local_today() - timedelta(days=local_today().weekday() - 1)).isoformat()
    answer = api.client.get(f"{API}/status/weeks/{tuesday}", headers=headers)
    assert answer.status_code == 422
    refused = api.client.get(f"{API}/status/team/{_monday()}",
                             headers=api.headers("partnership_manager"))
    assert refused.status_code == 403
