"""Typed text at every service entry point: a control character is refused by field.

PostgreSQL refuses NUL in any text, so before these checks a NUL in a search reached the
driver and came back as a DataError quoting the SQL; SQLite stored it silently. Each case
runs on both databases and must be refused by field before any query is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from isv import cli
from isv.auth import Viewer
from isv.errors import ValidationError
from isv.models import AuditEntry
from isv.services import commissions, goals, partners, sessions, status, tasks, users
from isv.services import opportunities as opps
from isv.services.opportunities import OpportunityFilters
from isv.services.tasks import TaskFilters
from tests.factories import make_opportunity, make_partner, make_user, viewer_of
from tests.integration.conftest import statements
from tests.integration.test_import import DEAL, load, problems

NUL = "Ac\x00me"
SYSTEM = Viewer.system("tests")


def _me(session):
    return viewer_of(make_user(session, role="vp"))


ENTRY_POINTS: dict[str, tuple[str, Callable]] = {
    "opportunity search": ("search", lambda s: opps.list_opportunities(
        session=s, viewer=_me(s), filters=OpportunityFilters(text=NUL))),
    "lost reason filter": ("lost_reason", lambda s: opps.list_opportunities(
        session=s, viewer=_me(s), filters=OpportunityFilters(lost_reason=NUL))),
    "partner directory search": ("search", lambda s: partners.list_directory(
        session=s, viewer=_me(s), search=NUL)),
    "task search": ("search", lambda s: tasks.list_tasks(
        session=s, viewer=_me(s), filters=TaskFilters(text=NUL))),
    "user look-up by email": ("email", lambda s: users.get_by_email(
        session=s, viewer=SYSTEM, email="a\x00@example.com")),
    "new user's name": ("first_name", lambda s: users.create_user(
        session=s, viewer=SYSTEM, email="new@example.com", first_name=NUL, last_name="Doe",
        role="sales_manager")),
    "partner name": ("name", lambda s: partners.create_partner(
        session=s, viewer=SYSTEM, name=NUL, domain="FinOps")),
    "partner notes": ("notes", lambda s: partners.create_partner(
        session=s, viewer=SYSTEM, name="Ledgerline", domain="FinOps", notes=NUL)),
    "touch summary": ("summary", lambda s: partners.log_touch(
        session=s, viewer=SYSTEM, partner_id=make_partner(s).id, activity_type="call",
        occurred_on=date(2026, 1, 5), summary=NUL)),
    "deal customer": ("customer_name", lambda s: opps.create_opportunity(
        session=s, viewer=SYSTEM, partner_id=make_partner(s).id, customer_name=NUL,
        deal_value="100")),
    "stage note": ("note", lambda s: opps.move_stage(
        session=s, viewer=SYSTEM, opportunity_id=make_opportunity(s, make_partner(s)).id,
        to_stage="demo", note=NUL)),
    "task description": ("description", lambda s: tasks.create_task(
        session=s, viewer=_me(s), title="Call", description=NUL)),
    "goal notes": ("notes", lambda s: goals.set_goal(
        session=s, viewer=_me(s), year=2026, quarter=1, goal_type="revenue", target="100",
        notes=NUL)),
    "commission notes": ("notes", lambda s: commissions.create_structure(
        session=s, viewer=SYSTEM, partner_id=make_partner(s).id, structure_type="referral",
        commission_percentage="10", effective_from="2026-01-01", notes=NUL)),
    "weekly status": ("blockers", lambda s: status.save_draft(
        session=s, viewer=_me(s), week_start_date="2026-03-09", blockers=NUL)),
    "weekly metric name": ("kpi_metrics", lambda s: status.save_draft(
        session=s, viewer=_me(s), week_start_date="2026-03-09", kpi_metrics=[(NUL, 1)])),
}


@pytest.mark.parametrize("case", list(ENTRY_POINTS))
def test_a_nul_byte_is_refused_by_field(session, case):
    field, call = ENTRY_POINTS[case]
    with pytest.raises(ValidationError) as err:
        call(session)
    assert (err.value.field, err.value.reason) == (field, "must not contain control characters")


def test_a_search_with_a_nul_sends_no_sql(session):
    me = _me(session)
    count = statements(session, lambda: pytest.raises(
        ValidationError, opps.list_opportunities, session=session, viewer=me,
        filters=OpportunityFilters(text=NUL)))
    assert count == 0


def test_notes_keep_tabs_and_line_breaks_as_typed(session):
    partner = partners.create_partner(session=session, viewer=SYSTEM, name="Ledgerline",
                                      domain="FinOps", notes="first\tcolumn\r\nsecond line\n")
    session.expire_all()
    assert partners.get_partner(session=session, viewer=SYSTEM,
                                partner_id=partner.id).notes == "first\tcolumn\r\nsecond line"


@pytest.mark.parametrize("name", ["Ledger\tline", "Ledger\nline", "Ledger\x1b[2Jline"])
def test_a_one_line_field_refuses_tabs_line_breaks_and_escapes(session, name):
    with pytest.raises(ValidationError, match="name: must not contain control characters"):
        partners.create_partner(session=session, viewer=SYSTEM, name=name, domain="FinOps")


def test_a_login_with_a_nul_in_the_email_is_refused_and_recorded_legibly(session):
    assert sessions.authenticate(session=session, email="pia\x00@example.com",
                             password="whatever-it-is") is None
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "login_failed")
                            .order_by(AuditEntry.at.desc())).first()
    assert entry.actor_email == "pia\ufffd@example.com"


# --- dates: YYYY-MM-DD only, on every way in ------------------------------------------------

@pytest.mark.parametrize("column, written, reason", [
    ("expected_close_date", "20261231", "'20261231' is not a date like 2026-03-31"),
    ("expected_close_date", "2026-W53-1", "'2026-W53-1' is not a date like 2026-03-31"),
    ("created_at", "20260301T093000", "'20260301T093000' is not a time like "
                                      "2026-03-01T09:30:00"),
])
def test_the_importer_refuses_dates_not_written_yyyy_mm_dd_by_row_and_column(
        session, column, written, reason):
    make_partner(session, name="Ledgerline")
    report = load(session, "opportunities", f"{DEAL},{column}",
                  f"X,Ledgerline,Globex,5,lead,{written}")
    assert problems(report) == [f"row 2, column {column}: {reason}"]


@pytest.mark.parametrize("written", ["20261231", "2026-W53-1"])
def test_the_command_line_refuses_dates_not_written_yyyy_mm_dd(written):
    result = CliRunner().invoke(cli.main, ["report", "kpis", "--period", "2026Q4",
                                           "--as-of", written])
    assert result.exit_code == 1
    assert f"as-of: {written!r} is not a date like 2026-03-31" in result.output
