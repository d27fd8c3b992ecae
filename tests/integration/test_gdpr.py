"""One person's data: exported whole, or anonymised with every relation and KPI kept."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from isv import cli
from isv.analytics import kpis as kpi
from isv.analytics.periods import parse_period
from isv.auth import Viewer
from isv.db import session_scope
from isv.errors import Forbidden, ValidationError
from isv.models import AuditEntry, Opportunity, User, UserSession, WeeklyStatus
from isv.services import gdpr, personal_tokens, sessions, users
from tests.factories import (
    make_goal,
    make_opportunity,
    make_partner,
    make_task,
    make_user,
    viewer_of,
)
from tests.integration.test_cli import assert_refused

SYSTEM = Viewer.system("tests")


@pytest.fixture
def nia(session):
    """A partnership manager with a login, a session, a partner, deals, a task, a goal and a
    weekly status; and an admin who manages users."""
    admin = make_user(session, role="admin", email="ada@example.com")
    person = users.create_user(session=session, viewer=SYSTEM, email="nia.novak@example.com",
                               first_name="Nia", last_name="Novak",
                               role="partnership_manager", password="nia-password-1")
    assert sessions.authenticate(session=session, email="nia.novak@example.com",
                             password="nia-password-1") is not None
    sessions.start_session(session=session, user=person, token="nia-browser")
    partner = make_partner(session, owner_id=person.id, name="Nimbus Ops")
    make_opportunity(session, partner, assigned_user_id=person.id, stage="closed_won",
                     probability=Decimal(100), actual_close_date=date(2026, 8, 3),
                     deal_value=Decimal("25000.00"))
    make_opportunity(session, partner, assigned_user_id=person.id, stage="poc",
                     probability=Decimal(40), deal_value=Decimal("12000.50"))
    make_task(session, person, title="Call Nimbus about the renewal")
    make_goal(session, person, year=2026, quarter=3)
    session.add(WeeklyStatus(user_id=person.id, week_start_date=date(2026, 11, 23),
                             accomplishments="Closed Nimbus; my daughter was ill Tuesday",
                             blockers="waiting on legal", kpi_metrics={"deals": 2},
                             state="submitted"))
    session.flush()
    return admin, person


def test_the_export_holds_everything_about_the_person_and_no_secret(session, nia):
    admin, person = nia

    secret = personal_tokens.create_token(session=session, viewer=viewer_of(person),
                                          name="Nia's CRM sync", scope="read",
                                          expires_in_days=30).secret
    data = gdpr.export_user(session=session, viewer=viewer_of(admin), user_id=person.id)
    text = gdpr.to_json(data)

    assert data["profile"]["email"] == "nia.novak@example.com"
    assert data["profile"]["has_password"] is True
    assert "password_hash" not in data["profile"] and "$2b$" not in text
    assert "nia-browser" not in text and "token_hash" not in text
    assert len(data["sessions"]) == 1 and data["sessions"][0]["ended_at"] is None
    assert [t["name"] for t in data["personal_tokens"]] == ["Nia's CRM sync"]
    assert secret.removeprefix("isvpat_") not in text
    assert {"create", "login_succeeded"} <= {e["action"] for e in data["audit_entries"]}
    assert [t["title"] for t in data["tasks"]] == ["Call Nimbus about the renewal"]
    assert data["weekly_statuses"][0]["blockers"] == "waiting on legal"
    assert [(g["year"], g["quarter"]) for g in data["goals"]] == [(2026, 3)]
    assert [p["name"] for p in data["owned_partners"]] == ["Nimbus Ops"]
    assert {o["stage"] for o in data["assigned_opportunities"]} == {"closed_won", "poc"}
    assert json.loads(text)["profile"]["id"] == str(person.id)


def test_an_export_is_audited_and_only_vp_and_admin_may_export(session, nia):
    admin, person = nia
    manager = make_user(session, role="sales_manager")
    with pytest.raises(Forbidden):
        gdpr.export_user(session=session, viewer=viewer_of(manager), user_id=person.id)

    gdpr.export_user(session=session, viewer=viewer_of(admin), user_id=person.id)

    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "export_personal_data"))
    assert entry.actor_id == admin.id and entry.entity_id == str(person.id)


def kpis_of(session, person) -> dict:
    result = kpi.compute_kpis(session=session, viewer=SYSTEM, period=parse_period("2026"),
                              as_of=date(2026, 11, 27),
                              filters=kpi.Filters(owner_ids=(person.id,)))
    # The scope names the owner, whose name is exactly what changes.
    return {key: value for key, value in kpi.to_dict(result).items() if key != "scope"}


def test_anonymising_replaces_the_identity_and_keeps_relations_and_kpis(session, nia):
    admin, person = nia
    before = kpis_of(session, person)

    gdpr.anonymise_user(session=session, viewer=viewer_of(admin), user_id=person.id)

    session.expire_all()
    user = session.get(User, person.id)
    assert user.email == gdpr.placeholder(person.id)["email"]
    assert "Nia" not in user.full_name and "Novak" not in user.full_name
    assert not user.is_active and user.password_hash is None
    assert sessions.authenticate(session=session, email="nia.novak@example.com",
                             password="nia-password-1") is None
    assert sessions.check_session(session=session, token="nia-browser").viewer is None
    assert session.scalar(select(UserSession.end_reason)
                          .where(UserSession.user_id == person.id)) == "deactivated"
    assert kpis_of(session, person) == before
    assert len(session.scalars(select(Opportunity)
                               .where(Opportunity.assigned_user_id == person.id)).all()) == 2
    status = session.scalar(select(WeeklyStatus).where(WeeklyStatus.user_id == person.id))
    assert status.accomplishments is None and status.blockers is None
    assert status.kpi_metrics == {"deals": 2} and status.state == "submitted"


def test_after_anonymising_the_audit_log_no_longer_names_the_person(session, nia):
    admin, person = nia
    gdpr.anonymise_user(session=session, viewer=viewer_of(admin), user_id=person.id)

    session.expire_all()
    trail = session.scalars(select(AuditEntry)).all()
    text = json.dumps([[e.actor_email, e.old_values, e.new_values] for e in trail]).lower()
    assert "nia" not in text.replace("anonymised", "") and "novak" not in text
    assert any(e.action == "anonymise" and e.actor_id == admin.id for e in trail)
    assert any(e.action == "login_succeeded" and e.actor_id == person.id for e in trail)


def test_the_placeholder_is_stable_and_a_second_anonymisation_is_refused(session, nia):
    admin, person = nia
    gdpr.anonymise_user(session=session, viewer=viewer_of(admin), user_id=person.id)
    with pytest.raises(Exception, match="already anonymised"):
        gdpr.anonymise_user(session=session, viewer=viewer_of(admin), user_id=person.id)
    assert gdpr.placeholder(person.id) == gdpr.placeholder(person.id)
    assert session.get(User, person.id).email == gdpr.placeholder(person.id)["email"]


def test_an_anonymised_account_cannot_be_reactivated_renamed_or_given_a_password(session, nia):
    admin, person = nia
    admin_viewer = viewer_of(admin)
    gdpr.anonymise_user(session=session, viewer=admin_viewer, user_id=person.id)
    attempts = {
        "is_active": lambda: users.set_active(session=session, viewer=admin_viewer,
                                              user_id=person.id, active=True),
        "password": lambda: users.set_password(session=session, viewer=admin_viewer,
                                               user_id=person.id, password="a-new-password-1"),
        "email": lambda: users.update_user(session=session, viewer=admin_viewer,
                                           user_id=person.id, first_name="Nia"),
    }
    for field, attempt in attempts.items():
        with pytest.raises(ValidationError) as refused:
            attempt()
        assert refused.value.field == field
    session.refresh(person)
    assert (person.is_active, person.password_hash, person.first_name) == (
        False, None, gdpr.PLACEHOLDER_FIRST)


def test_the_last_active_vp_or_admin_and_oneself_cannot_be_anonymised(session, nia):
    admin, _ = nia
    with pytest.raises(Exception, match="yourself"):
        gdpr.anonymise_user(session=session, viewer=viewer_of(admin), user_id=admin.id)
    with pytest.raises(Exception, match="last active vp or admin"):
        gdpr.anonymise_user(session=session, viewer=SYSTEM, user_id=admin.id)
    assert session.get(User, admin.id).email == "ada@example.com"


def test_a_sales_manager_may_not_anonymise(session, nia):
    _, person = nia
    manager = make_user(session, role="sales_manager")
    with pytest.raises(Forbidden):
        gdpr.anonymise_user(session=session, viewer=viewer_of(manager), user_id=person.id)


# --- the commands -------------------------------------------------------------------------

def isv(*args: str, input: str | None = None):
    return CliRunner().invoke(cli.main, list(args), input=input)


@pytest.fixture
def two_users(fresh_url):
    for email, role in (("boss@example.com", "vp"), ("kim@example.com", "sales_manager")):
        isv("user", "add", "--email", email, "--role", role, "--first", "Kim", "--last", "Lee")


def test_user_export_writes_the_json_file(two_users, tmp_path):
    result = isv("user", "export", "kim@example.com", str(tmp_path / "kim.json"))

    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "kim.json").read_text())
    assert data["profile"]["email"] == "kim@example.com"


def test_user_anonymise_asks_first_and_refuses_the_last_vp(two_users):
    declined = isv("user", "anonymise", "kim@example.com", input="n\n")
    assert declined.exit_code == 1
    assert declined.stderr.strip().splitlines()[-1] == "Error: aborted"
    assert_refused(isv("user", "anonymise", "boss@example.com", "--yes"), "last active vp")

    result = isv("user", "anonymise", "kim@example.com", input="y\n")

    assert result.exit_code == 0, result.output
    with session_scope() as s:
        assert s.scalar(select(User).where(User.email == "kim@example.com")) is None
        assert s.scalar(select(User).where(User.email.like("anonymised-%"))) is not None
    assert_refused(isv("user", "export", "kim@example.com", "x.json"), "email:", "kim@")
