"""Import (spec/IMPORT.md): every rule, all or nothing, on SQLite and on PostgreSQL."""

from __future__ import annotations

import gc
import io
import random
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from isv import cli
from isv.auth import Viewer
from isv.db import session_scope
from isv.errors import Forbidden
from isv.models import (
    AuditEntry,
    CommissionStructure,
    Opportunity,
    Partner,
    PartnerActivity,
    QuarterlyGoal,
    StageHistory,
    User,
)
from isv.rules.defaults import DEFAULT_PROBABILITY
from isv.services import audit, importing, partners, users
from isv.services.settings import local_today
from tests.factories import make_opportunity, make_partner, make_structure, make_user, viewer_of

SYSTEM = Viewer.system("tests")
TODAY = local_today()
TOMORROW = (TODAY + timedelta(days=1)).isoformat()


def csv_bytes(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def load(session, entity: str, *lines: str, viewer: Viewer = SYSTEM, dry_run: bool = False,
         data: bytes | None = None, filename: str | None = None) -> importing.ImportReport:
    return importing.import_file(session=session, viewer=viewer, entity=entity,
                                data=data if data is not None else csv_bytes(*lines),
                                filename=filename or f"{entity}.csv", dry_run=dry_run)


def problems(report: importing.ImportReport) -> list[str]:
    return [str(e) for e in report.errors]


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def deal(session, external_id: str) -> Opportunity:
    return session.scalar(select(Opportunity).where(Opportunity.external_id == external_id))


def history(session, opp: Opportunity) -> list[tuple]:
    return [(h.from_stage, h.to_stage, h.changed_at, h.synthesized) for h in session.scalars(
        select(StageHistory).where(StageHistory.opportunity_id == opp.id)
        .order_by(StageHistory.changed_at, StageHistory.from_stage.is_not(None)))]


@pytest.fixture
def program(session):
    """Two people and a partner to refer to: owner@ owns Ledgerline."""
    owner = make_user(session, email="owner@example.com", role="partnership_manager")
    seller = make_user(session, email="seller@example.com", role="sales_manager")
    partner = make_partner(session, name="Ledgerline", domain="FinOps", owner_id=owner.id)
    return owner, seller, partner


# --- the file as a whole ---------------------------------------------------------------

def test_column_names_match_whatever_their_letter_case(session):
    report = load(session, "users", "EMAIL,First_Name,LAST_NAME,Role",
                  "ana@example.com,Ana,Lima,vp")
    assert report.written and report.entities[0].created == 1
    assert users.get_by_email(session=session, viewer=SYSTEM, email="ana@example.com").is_active


def test_a_byte_order_mark_before_the_header_is_accepted(session):
    data = "\ufeffemail,first_name,last_name,role\nbo@example.com,Bo,Berg,admin\n".encode()
    assert load(session, "users", data=data).written
    assert users.get_by_email(session=session, viewer=SYSTEM, email="bo@example.com")


def test_an_unknown_column_is_an_error_and_nothing_is_written(session):
    report = load(session, "users", "email,first_name,last_name,role,Nickname",
                  "cy@example.com,Cy,Cole,vp,Cyclone")
    assert problems(report) == ["row 1, column Nickname: unknown column; users has email, "
                                "first_name, last_name, role, is_active"]
    assert count(session, User) == 0


def test_a_missing_required_column_is_named(session):
    report = load(session, "partners", "name,website", "Keyward,https://keyward.example")
    assert problems(report) == ["row 1, column domain: required column is missing"]
    assert count(session, Partner) == 0


def test_a_file_that_is_not_utf8_is_refused_with_its_line(session):
    data = "name,domain\nKeyward,Security\nCaf\u00e9 Labs,FinOps\n".encode("latin-1")
    report = load(session, "partners", data=data)
    assert problems(report) == ["row 1, column (file): is not UTF-8 text (byte 0xe9 on line 3); "
                                "save it as CSV UTF-8"]


def test_a_file_separated_by_semicolons_is_explained(session):
    report = load(session, "partners", "name;domain", "Keyward;Security")
    assert problems(report) == ["row 1, column (file): the columns are separated by "
                                "semicolons; save the file as CSV with commas (CSV UTF-8 in "
                                "Excel)"]


def test_empty_lines_are_skipped_but_rows_keep_their_spreadsheet_numbers(session):
    report = load(session, "partners", "name,domain", "Keyward,Security", ",", "Tracepoint,Ops")
    assert problems(report) == ["row 4, column domain: 'Ops' is not one of FinOps, Security, "
                                "Observability, DevOps, Data/Backup"]


# --- defaults --------------------------------------------------------------------------------

def test_absent_optional_columns_get_their_defaults(session, program):
    owner, _, _ = program
    report = load(session, "partners", "name,domain", "Keyward,Security")
    assert report.written
    keyward = session.scalar(select(Partner).where(Partner.name == "Keyward"))
    assert keyward.relationship_health == "healthy" and keyward.owner_id is None

    assert load(session, "commissions", "partner,structure_type,commission_percentage,"
                "effective_from", "Keyward,referral,12.5,2026-01-01").written
    terms = session.scalar(select(CommissionStructure))
    assert (terms.min_deal_size, terms.is_lifetime, terms.max_deal_size) == (
        Decimal("0.00"), False, None)

    assert load(session, "goals", "user_email,year,quarter,revenue_target",
                "owner@example.com,2026,2,50000").written
    goal = session.scalar(select(QuarterlyGoal))
    assert (goal.goal_type, goal.current_progress) == ("revenue", Decimal("0.00"))


def test_a_deal_gets_its_stages_probability_and_is_created_now_by_default(session, program):
    before = datetime.now(UTC)
    assert load(session, "opportunities", "external_id,partner,customer_name,deal_value,stage",
                "CRM-1,Ledgerline,Globex,25000,poc").written
    opp = deal(session, "CRM-1")
    assert opp.probability == DEFAULT_PROBABILITY["poc"]
    assert before <= opp.created_at <= datetime.now(UTC)


# --- bad values ------------------------------------------------------------------------------

DEAL = "external_id,partner,customer_name,deal_value,stage"
BAD_VALUES = [
    ("opportunities", DEAL, "X,Ledgerline,Globex,-5,lead",
     "row 2, column deal_value: must be at least 0"),
    ("opportunities", DEAL, 'X,Ledgerline,Globex,"1,234.50",lead',
     "row 2, column deal_value: '1,234.50' is not an amount like 1234.50"),
    ("opportunities", DEAL + ",probability", "X,Ledgerline,Globex,5,lead,150",
     "row 2, column probability: must be at most 100"),
    ("opportunities", DEAL + ",expected_close_date", "X,Ledgerline,Globex,5,lead,31/03/2026",
     "row 2, column expected_close_date: '31/03/2026' is not a date like 2026-03-31"),
    ("opportunities", DEAL, "X,Ledgerline,Globex,5,won",
     "row 2, column stage: 'won' is not one of lead, demo, poc, proposal, closed_won, "
     "closed_lost"),
    ("opportunities", DEAL, "X,Ledgerline,Globex,5,closed_won",
     "row 2, column actual_close_date: is required for closed stages"),
    ("opportunities", DEAL + ",actual_close_date", "X,Ledgerline,Globex,5,demo,2026-01-05",
     "row 2, column actual_close_date: only closed deals have a close date"),
    ("opportunities", DEAL + ",actual_close_date,created_at",
     "X,Ledgerline,Globex,5,closed_lost,2026-01-05,2026-01-02T09:00:00",
     "row 2, column lost_reason: is required when a deal is lost"),
    ("opportunities", DEAL + ",actual_close_date,created_at",
     "X,Ledgerline,Globex,5,closed_won,2025-01-05,2025-02-01T09:00:00",
     "row 2, column actual_close_date: 2025-01-05 is before the deal was created (2025-02-01)"),
    ("opportunities", DEAL, "X,Nowhere Inc,Globex,5,lead",
     "row 2, column partner: no such partner among those you may add deals to"),
    ("opportunities", DEAL + ",owner_email", "X,Ledgerline,Globex,5,lead,nobody@example.com",
     "row 2, column owner_email: no user with email 'nobody@example.com'"),
    ("opportunities", DEAL + ",created_at", "X,Ledgerline,Globex,5,lead,2999-01-01T00:00:00",
     "row 2, column created_at: 2999-01-01 00:00 is in the future"),
    ("users", "email,first_name,last_name,role", "dee@example.com,Dee,Dunn,boss",
     "row 2, column role: 'boss' is not one of vp, sales_manager, partnership_manager, admin"),
    ("users", "email,first_name,last_name,role,is_active", "dee@example.com,Dee,Dunn,vp,maybe",
     "row 2, column is_active: 'maybe' is not true or false"),
    ("users", "email,first_name,last_name,role", "dee-at-example.com,Dee,Dunn,vp",
     "row 2, column email: 'dee-at-example.com' is not an email address"),
    ("partners", "name,domain", "Keyward,Retail",
     "row 2, column domain: 'Retail' is not one of FinOps, Security, Observability, DevOps, "
     "Data/Backup"),
    ("partners", "name,domain,website", "Keyward,Security,www.keyward.example",
     "row 2, column website: must start with http:// or https://"),
    ("partners", "name,domain,owner_email", "Keyward,Security,ghost@example.com",
     "row 2, column owner_email: no user with email 'ghost@example.com'"),
    ("commissions", "partner,structure_type,commission_percentage,effective_from,min_deal_size,"
     "max_deal_size", "Ledgerline,referral,10,2026-01-01,500,100",
     "row 2, column max_deal_size: 100.00 is below min_deal_size 500.00"),
    ("commissions", "partner,structure_type,commission_percentage,effective_from",
     "Ledgerline,referral,120,2026-01-01",
     "row 2, column commission_percentage: must be at most 100"),
    ("goals", "user_email,year,quarter,revenue_target", "owner@example.com,2026,5,1000",
     "row 2, column quarter: must be from 1 to 4"),
    ("goals", "user_email,year,quarter,revenue_target", "owner@example.com,next,1,1000",
     "row 2, column year: 'next' is not a whole number"),
    ("goals", "user_email,year,quarter,goal_type,revenue_target",
     "owner@example.com,2026,1,opportunities,2.5",
     "row 2, column revenue_target: must be a whole number of opportunities"),
    ("activities", "partner,activity_type,occurred_on", "Ledgerline,lunch,2026-01-05",
     "row 2, column activity_type: 'lunch' is not one of call, meeting, email, qbr, event, "
     "other"),
    ("activities", "partner,activity_type,occurred_on", f"Ledgerline,call,{TOMORROW}",
     f"row 2, column occurred_on: {TOMORROW} is in the future"),
    ("stage_history", "opportunity_external_id,to_stage,changed_at",
     "CRM-404,demo,2026-01-05T10:00:00",
     "row 2, column opportunity_external_id: no such opportunity among those you may change"),
]


@pytest.mark.parametrize(("entity", "header", "row", "expected"), BAD_VALUES)
def test_a_bad_value_is_reported_with_its_row_column_and_reason(session, program, entity,
                                                                header, row, expected):
    audit_before = count(session, AuditEntry)
    report = load(session, entity, header, row)
    assert problems(report) == [expected]
    assert not report.written
    assert count(session, AuditEntry) == audit_before


def test_a_stage_change_goes_from_one_stage_to_another(session, program):
    make_opportunity(session, program[2], external_id="CRM-7")
    report = load(session, "stage_history", "opportunity_external_id,from_stage,to_stage,"
                  "changed_at", "CRM-7,demo,demo,2026-01-05T10:00:00")
    assert problems(report) == ["row 2, column to_stage: is the same as from_stage; a stage "
                                "change goes from one stage to another"]


def test_every_problem_in_the_file_is_reported_not_only_the_first(session, program):
    report = load(session, "opportunities", DEAL + ",probability",
                  "A,Nowhere Inc,Globex,-5,lead,150",
                  "B,Ledgerline,Initech,100,lead,",
                  "C,Ledgerline,,10,closed_won,")
    assert problems(report) == [
        "row 2, column partner: no such partner among those you may add deals to",
        "row 2, column deal_value: must be at least 0",
        "row 2, column probability: must be at most 100",
        "row 4, column customer_name: is required",
        "row 4, column actual_close_date: is required for closed stages",
    ]
    assert count(session, Opportunity) == 0  # the good row B is not written either


def test_the_same_natural_key_twice_in_one_file_is_an_error(session, program):
    report = load(session, "partners", "name,domain", "Keyward,Security", "KEYWARD,FinOps")
    assert problems(report) == ["row 3, column name: same name as row 2; each may appear once"]
    report = load(session, "opportunities", DEAL, "CRM-1,Ledgerline,A,1,lead",
                  "CRM-1,Ledgerline,B,2,lead")
    assert problems(report) == ["row 3, column external_id: same external_id as row 2; each "
                                "may appear once"]


# --- upserts and idempotence ----------------------------------------------------------------

def test_a_row_updates_the_record_with_the_same_natural_key(session, program):
    owner, seller, ledgerline = program
    make_structure(session, ledgerline, structure_type="msp",
                   commission_percentage=Decimal("15"), effective_from=date(2026, 1, 1))
    assert load(session, "partners", "name,domain,relationship_health",
                "LEDGERLINE,FinOps,at_risk").entities[0].updated == 1
    assert ledgerline.relationship_health == "at_risk"
    assert ledgerline.name == "Ledgerline"  # found by name, whatever the case; not renamed

    assert load(session, "users", "email,first_name,last_name,role",
                "SELLER@example.com,Sal,Seller,vp").entities[0].updated == 1
    assert (seller.first_name, seller.role) == ("Sal", "vp")

    assert load(session, "commissions", "partner,structure_type,commission_percentage,"
                "effective_from,min_deal_size", "ledgerline,msp,17.5,2026-01-01,0.00"
                ).entities[0].updated == 1
    assert session.scalar(select(CommissionStructure.commission_percentage)) == Decimal("17.50")

    assert load(session, "goals", "user_email,year,quarter,revenue_target",
                "owner@example.com,2026,1,1000").entities[0].created == 1
    assert load(session, "goals", "user_email,year,quarter,goal_type,revenue_target",
                "owner@example.com,2026,1,revenue,2000").entities[0].updated == 1
    assert session.scalar(select(QuarterlyGoal.revenue_target)) == Decimal("2000.00")


def test_a_changed_deal_is_saved_through_the_opportunities_service(session, program):
    header = DEAL + ",owner_email"
    assert load(session, "opportunities", header, "CRM-1,Ledgerline,Globex,100,lead,").written
    opp = deal(session, "CRM-1")
    report = load(session, "opportunities", header,
                  "CRM-1,Ledgerline,Globex,250.50,demo,seller@example.com")
    assert (report.entities[0].updated, report.entities[0].created) == (1, 0)
    session.refresh(opp)
    assert (opp.deal_value, opp.stage, opp.probability, opp.version) == (
        Decimal("250.50"), "demo", Decimal("25.00"), 2)
    assert opp.assigned_user_id == program[1].id
    assert [(f, t) for f, t, _, _ in history(session, opp)] == [(None, "lead"), ("lead", "demo")]


def test_importing_the_same_files_twice_changes_nothing_the_second_time(session, program):
    files = [
        ("partners.csv", csv_bytes("name,domain,owner_email", "Keyward,Security,"
                                   "owner@example.com")),
        ("opportunities.csv", csv_bytes(
            DEAL + ",actual_close_date,lost_reason,created_at",
            "CRM-1,Keyward,Globex,100,closed_lost,2026-01-20,Price too high,"
            "2026-01-02T09:30:00+00:00")),
        ("stage_history.csv", csv_bytes(
            "opportunity_external_id,from_stage,to_stage,changed_at",
            "CRM-1,,lead,2026-01-02T09:30:00+00:00",
            "CRM-1,lead,closed_lost,2026-01-20T15:00:00+00:00")),
        ("activities.csv", csv_bytes("partner,activity_type,occurred_on,user_email,summary",
                                     "Keyward,call,2026-01-03,owner@example.com,Kick-off")),
    ]
    first = importing.import_all(session=session, viewer=SYSTEM, files=files)
    assert first.written
    counts = {m: count(session, m) for m in (Partner, Opportunity, StageHistory,
                                              PartnerActivity, AuditEntry)}
    second = importing.import_all(session=session, viewer=SYSTEM, files=files)
    assert [(r.created, r.updated, r.unchanged) for r in second.entities] == [(0, 0, 1)] * 2 + [
        (0, 0, 2), (0, 0, 1)]
    assert {m: count(session, m) for m in counts} == counts  # not even an audit entry


def test_a_file_without_external_ids_adds_its_deals_again_and_says_so(session, program):
    report = load(session, "opportunities", "partner,customer_name,deal_value,stage",
                  "Ledgerline,Globex,100,lead")
    assert report.entities[0].notices == [
        "1 row has no external_id: such rows are always added as new deals, so importing this "
        "file again would add them again."]
    load(session, "opportunities", "partner,customer_name,deal_value,stage",
         "Ledgerline,Globex,100,lead")
    assert count(session, Opportunity) == 2


def test_an_exported_deal_without_external_id_is_found_again_by_its_own_id(session, program):
    opp = make_opportunity(session, program[2], customer_name="Globex",
                           deal_value=Decimal("100.00"))
    report = load(session, "opportunities", DEAL, f"{opp.id},Ledgerline,Globex,100,lead")
    assert (report.entities[0].unchanged, count(session, Opportunity)) == (1, 1)
    assert opp.external_id is None


# --- stage history ---------------------------------------------------------------------------

def test_a_deal_arriving_without_history_gets_a_synthesized_row(session, program):
    assert load(session, "opportunities", DEAL + ",created_at",
                "CRM-1,Ledgerline,Globex,100,demo,2026-01-02T09:30:00+00:00").written
    opp = deal(session, "CRM-1")
    assert history(session, opp) == [
        (None, "demo", datetime(2026, 1, 2, 9, 30, tzinfo=UTC), True)]


def test_real_history_imported_later_replaces_the_synthesized_row(session, program):
    deals = csv_bytes(DEAL + ",created_at",
                      "CRM-1,Ledgerline,Globex,100,demo,2026-01-02T09:30:00+00:00")
    steps = csv_bytes("opportunity_external_id,from_stage,to_stage,changed_at,changed_by_email",
                      "CRM-1,,lead,2026-01-02T09:30:00+00:00,owner@example.com",
                      "CRM-1,lead,demo,2026-01-09T11:00:00+00:00,owner@example.com")
    load(session, "opportunities", data=deals)
    report = load(session, "stage_history", data=steps)
    assert report.entities[0].created == 2
    one_after_another = history(session, deal(session, "CRM-1"))
    assert one_after_another == [
        (None, "lead", datetime(2026, 1, 2, 9, 30, tzinfo=UTC), False),
        ("lead", "demo", datetime(2026, 1, 9, 11, 0, tzinfo=UTC), False)]

    # `import all` of the same two files ends the same way.
    session.execute(StageHistory.__table__.delete())
    session.execute(Opportunity.__table__.delete())
    assert importing.import_all(session=session, viewer=SYSTEM, files=[
        ("stage_history.csv", steps), ("opportunities.csv", deals)]).written
    assert history(session, deal(session, "CRM-1")) == one_after_another


def test_history_of_a_deal_that_has_real_history_is_added_to_it(session, program):
    opp = make_opportunity(session, program[2], external_id="CRM-9", stage="lead",
                           created_at=datetime(2026, 1, 2, 9, 0, tzinfo=UTC))
    assert load(session, "stage_history", "opportunity_external_id,from_stage,to_stage,"
                "changed_at", "CRM-9,lead,demo,2026-01-05T10:00:00+00:00").written
    assert [(f, t, s) for f, t, _, s in history(session, opp)] == [
        (None, "lead", False), ("lead", "demo", False)]


# --- import all, dry run -------------------------------------------------------------------

def test_import_all_loads_the_files_in_dependency_order_whatever_order_they_come_in(session):
    files = [
        ("activities.csv", csv_bytes("partner,activity_type,occurred_on,user_email",
                                     "Keyward,qbr,2026-01-03,pat@example.com")),
        ("goals.csv", csv_bytes("user_email,year,quarter,revenue_target",
                                "pat@example.com,2026,1,90000")),
        ("opportunities.csv", csv_bytes(DEAL + ",owner_email",
                                        "CRM-1,Keyward,Globex,100,lead,pat@example.com")),
        ("commissions.csv", csv_bytes("partner,structure_type,commission_percentage,"
                                      "effective_from", "Keyward,reseller,25,2026-01-01")),
        ("partners.csv", csv_bytes("name,domain,owner_email", "Keyward,Security,"
                                   "pat@example.com")),
        ("users.csv", csv_bytes("email,first_name,last_name,role",
                                "pat@example.com,Pat,Park,partnership_manager")),
    ]
    report = importing.import_all(session=session, viewer=SYSTEM, files=files)
    assert [r.entity for r in report.entities] == ["users", "partners", "commissions",
                                                   "opportunities", "goals", "activities"]
    assert report.written and all(r.created == 1 for r in report.entities)


def test_import_all_refuses_a_file_it_does_not_know_and_writes_nothing(session):
    report = importing.import_all(session=session, viewer=SYSTEM, files=[
        ("users.csv", csv_bytes("email,first_name,last_name,role", "a@example.com,A,B,vp")),
        ("oportunities.csv", csv_bytes("partner")),
    ])
    assert report.error_lines() == [
        "oportunities.csv: row 1, column (file): is not one of the files `import all` reads: "
        "users.csv, partners.csv, commissions.csv, opportunities.csv, stage_history.csv, "
        "goals.csv, activities.csv"]
    assert count(session, User) == 0


def test_import_all_is_one_transaction_a_late_problem_undoes_the_early_files(session):
    report = importing.import_all(session=session, viewer=SYSTEM, files=[
        ("users.csv", csv_bytes("email,first_name,last_name,role", "a@example.com,A,B,vp")),
        ("partners.csv", csv_bytes("name,domain", "Keyward,Security")),
        ("goals.csv", csv_bytes("user_email,year,quarter,revenue_target",
                                "a@example.com,2026,9,1")),
    ])
    assert report.error_lines() == ["goals.csv: row 2, column quarter: must be from 1 to 4"]
    assert (count(session, User), count(session, Partner)) == (0, 0)


def test_a_dry_run_reports_what_would_change_and_writes_nothing(session, program):
    load(session, "partners", "name,domain", "Keyward,Security")
    before = {m: count(session, m) for m in (Partner, AuditEntry)}
    report = load(session, "partners", "name,domain,relationship_health",
                  "Keyward,Security,at_risk", "Ledgerline,FinOps,", "Tracepoint,Observability,",
                  dry_run=True)
    part = report.entities[0]
    assert (part.created, part.updated, part.unchanged) == (1, 1, 1)
    assert report.ok and not report.written
    assert {m: count(session, m) for m in before} == before
    assert session.scalar(select(Partner.relationship_health)
                          .where(Partner.name == "Keyward")) == "healthy"


# --- scope ----------------------------------------------------------------------------------

def test_a_partnership_manager_imports_deals_only_for_their_own_partners(session, program):
    owner, _, _ = program
    make_partner(session, name="Keyward", domain="Security")
    report = load(session, "opportunities", DEAL, "CRM-1,Ledgerline,Globex,100,lead",
                  "CRM-2,Keyward,Initech,100,lead", viewer=viewer_of(owner))
    assert problems(report) == [
        "row 3, column partner: no such partner among those you may add deals to"]


def test_a_partnership_manager_may_not_change_someone_elses_partner(session, program):
    make_partner(session, name="Keyward", domain="Security")
    report = load(session, "partners", "name,domain,notes", "Ledgerline,FinOps,Ours",
                  "Keyward,Security,Mine now", viewer=viewer_of(program[0]))
    # Keyward is not theirs to see, so to them it is a new partner whose name is taken; the
    # refusal says no more than that.
    assert problems(report) == ["row 3, column name: cannot be used; choose another name or "
                                "ask a sales manager"]


def test_an_admin_may_import_users_but_not_partners(session):
    admin = viewer_of(make_user(session, role="admin"))
    assert load(session, "users", "email,first_name,last_name,role",
                "new@example.com,New,Person,sales_manager", viewer=admin).written
    with pytest.raises(Forbidden, match="may not import partners"):
        load(session, "partners", "name,domain", "Keyward,Security", viewer=admin)
    assert importing.importable_entities(admin) == ("users",)


def test_a_sales_manager_imports_only_their_own_goals(session, program):
    seller = viewer_of(program[1])
    report = load(session, "goals", "user_email,year,quarter,revenue_target",
                  "seller@example.com,2026,1,1000", "owner@example.com,2026,1,1000",
                  viewer=seller)
    assert problems(report) == [
        "row 3, column user_email: your role (sales_manager) may set only your own goals"]


def test_a_closed_deal_keeps_an_owner_who_has_left_but_an_open_deal_may_not(session, program):
    make_user(session, email="gone@example.com", is_active=False)
    header = DEAL + ",actual_close_date,owner_email,created_at"
    report = load(session, "opportunities", header,
                  "CRM-1,Ledgerline,Globex,100,closed_won,2026-01-05,gone@example.com,2025-12-01",
                  "CRM-2,Ledgerline,Initech,100,lead,,gone@example.com,2025-12-01")
    assert problems(report) == [
        "row 3, column owner_email: gone@example.com is deactivated"]


# --- the written records -----------------------------------------------------------------------

def test_imported_records_are_audited_like_those_made_on_screen(session, program):
    assert load(session, "opportunities", DEAL, "CRM-1,Ledgerline,Globex,100,lead").written
    opp = deal(session, "CRM-1")
    entry = session.scalar(select(AuditEntry).where(AuditEntry.entity_id == str(opp.id)))
    assert (entry.action, entry.actor_email) == ("create", "tests")
    assert entry.new_values["deal_value"] == "100.00"
    assert entry.new_values["partner_id"] == str(program[2].id)
    assert entry.new_values == audit.plain({
        name: getattr(opp, name) for name in entry.new_values})
    summary = session.scalar(select(AuditEntry).where(AuditEntry.action == "import"))
    assert summary.new_values == {"file": "opportunities.csv", "rows": 1, "created": 1,
                                  "updated": 0, "unchanged": 0}


def test_an_excel_workbook_imports_like_a_csv(session, program):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["External_ID", "Partner", "Customer_Name", "Deal_Value", "Stage",
                  "Actual_Close_Date", "Created_At", "Probability"])
    sheet.append([4711, "Ledgerline", "Globex", 1234.5, "closed_won",
                  datetime(2026, 1, 20), datetime(2026, 1, 2, 9, 30), 90])
    sheet.append([None] * 8)  # Excel keeps formatted empty rows
    data = io.BytesIO()
    book.save(data)
    report = load(session, "opportunities", data=data.getvalue(), filename="deals.xlsx")
    assert report.written, problems(report)
    opp = deal(session, "4711")
    assert (opp.deal_value, opp.actual_close_date, opp.probability) == (
        Decimal("1234.50"), date(2026, 1, 20), Decimal("90.00"))
    assert opp.created_at == datetime(2026, 1, 2, 9, 30, tzinfo=UTC)  # ISV_TIMEZONE is UTC


def test_partners_and_touches_go_through_their_services_rules(session, program):
    """The owner rules of the partners service apply to an imported owner too."""
    make_user(session, email="admin@example.com", role="admin")
    report = load(session, "partners", "name,domain,owner_email",
                  "Keyward,Security,admin@example.com")
    assert problems(report) == [
        "row 2, column owner_email: admin@example.com is admin; an owner must be one of "
        f"{', '.join(partners.OWNER_ROLES)}"]


# --- the command line: a large file with a few bad rows ------------------------------------

@pytest.fixture
def cli_url(fresh_url):
    """A migrated database of its own that `isv` commits to."""
    url = fresh_url
    with session_scope() as session:
        owner = users.create_user(session=session, viewer=SYSTEM, email="owner@example.com",
                                  first_name="Olga", last_name="Owner",
                                  role="partnership_manager")
        for name in ("Ledgerline", "Keyward", "Tracepoint"):
            partners.create_partner(session=session, viewer=SYSTEM, name=name,
                                    domain="FinOps", owner_id=owner.id)
        session.commit()
    return url


BAD_ROWS = {  # row number → (what is wrong, the line the CLI prints)
    17: ("deal_value", "-100", "row 17, column deal_value: must be at least 0"),
    101: ("partner", "Nowhere Inc",
          "row 101, column partner: no such partner among those you may add deals to"),
    202: ("probability", "150", "row 202, column probability: must be at most 100"),
    303: ("expected_close_date", "2026-02-30",
          "row 303, column expected_close_date: '2026-02-30' is not a date like 2026-03-31"),
    404: ("stage", "closed_won", "row 404, column actual_close_date: is required for closed "
                                 "stages"),
    505: ("owner_email", "ghost@example.com",
          "row 505, column owner_email: no user with email 'ghost@example.com'"),
    606: ("stage", "signed", "row 606, column stage: 'signed' is not one of lead, demo, poc, "
                             "proposal, closed_won, closed_lost"),
    707: ("customer_name", "", "row 707, column customer_name: is required"),
    808: ("deal_value", "12.345", "row 808, column deal_value: has more than two decimals"),
    909: ("external_id", "CRM-0000005",
          "row 909, column external_id: same external_id as row 6; each may appear once"),
}


def _thousand_deals(bad: bool) -> str:
    rng = random.Random(11)
    columns = ["external_id", "partner", "customer_name", "deal_value", "stage", "probability",
               "expected_close_date", "owner_email"]
    lines = [",".join(columns)]
    for number in range(2, 1002):
        row = {"external_id": f"CRM-{number - 1:07d}",
               "partner": rng.choice(("Ledgerline", "keyward", "TRACEPOINT")),
               "customer_name": f"Customer {number}", "deal_value": f"{rng.randint(1, 9)}000",
               "stage": rng.choice(("lead", "demo", "poc", "proposal")), "probability": "",
               "expected_close_date": "2026-09-30", "owner_email": "owner@example.com"}
        if bad and number in BAD_ROWS:
            column, value, _ = BAD_ROWS[number]
            row[column] = value
        lines.append(",".join(row[c] for c in columns))
    return "\n".join(lines) + "\n"


def test_a_thousand_deals_with_ten_bad_rows_are_all_reported_and_none_imported(cli_url,
                                                                               tmp_path):
    path = tmp_path / "opportunities.csv"
    path.write_text(_thousand_deals(bad=True))
    result = CliRunner().invoke(cli.main, ["import", "opportunities", str(path)])
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert lines == [line for _, _, line in BAD_ROWS.values()] + [
        "Error: 10 problems; nothing was imported"]
    with session_scope() as session:
        assert (count(session, Opportunity), count(session, StageHistory)) == (0, 0)


def test_a_thousand_good_deals_are_checked_by_a_dry_run_then_imported(cli_url, tmp_path):
    path = tmp_path / "opportunities.csv"
    path.write_text(_thousand_deals(bad=False))
    dry = CliRunner().invoke(cli.main, ["import", "opportunities", str(path), "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert dry.stdout.splitlines() == ["Dry run: nothing was written. The import would do this:",
                                       "opportunities: 1,000 created, 0 updated, 0 unchanged"]
    with session_scope() as session:
        assert count(session, Opportunity) == 0
    done = CliRunner().invoke(cli.main, ["import", "opportunities", str(path)])
    assert done.exit_code == 0, done.output
    assert done.stdout.strip() == "opportunities: 1,000 created, 0 updated, 0 unchanged"
    with session_scope() as session:
        assert count(session, Opportunity) == 1000
        assert count(session, StageHistory) == 1000


def test_import_all_reads_the_entity_files_of_a_folder(cli_url, tmp_path):
    (tmp_path / "users.csv").write_text("email,first_name,last_name,role\n"
                                        "sam@example.com,Sam,Stone,sales_manager\n")
    (tmp_path / "goals.csv").write_text("user_email,year,quarter,revenue_target\n"
                                        "sam@example.com,2026,3,120000\n")
    result = CliRunner().invoke(cli.main, ["import", "all", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == ["users: 1 created, 0 updated, 0 unchanged",
                                          "goals: 1 created, 0 updated, 0 unchanged"]
    refused = CliRunner().invoke(cli.main, ["import", "all", str(tmp_path / "users.csv")])
    assert refused.exit_code == 1
    assert "is not a folder" in refused.stderr


def test_an_import_makes_full_garbage_collections_rarer_only_while_it_runs(session, program):
    before = gc.get_threshold()
    during = []

    def progress(what: str, done: int, total: int) -> None:
        during.append(gc.get_threshold())
        if what.startswith("Writing"):
            raise KeyboardInterrupt  # the person closes the page mid-import

    with pytest.raises(KeyboardInterrupt):
        importing.import_file(session=session, viewer=SYSTEM, entity="opportunities",
                             data=csv_bytes(DEAL, "CRM-1,Ledgerline,Globex,100,lead"),
                             filename="opportunities.csv", progress=progress)
    assert during and set(during) == {(before[0], before[1], before[2] * 10)}
    assert gc.get_threshold() == before
    assert count(session, Opportunity) == 0
