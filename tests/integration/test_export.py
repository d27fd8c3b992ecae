"""Export (spec/IMPORT.md): the import columns, the viewer's records, and the round trip."""

from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime
from decimal import Decimal

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from isv import cli
from isv.auth import Viewer
from isv.db import get_engine, session_scope
from isv.demo import load_demo
from isv.errors import ValidationError
from isv.models import QuarterlyGoal, StageHistory
from isv.services import exporter, importing, opportunities, partners
from isv.services.cells import FORMULA_STARTS
from tests.conftest import fresh_migrated
from tests.factories import make_opportunity, make_partner, make_structure, make_user, viewer_of

SYSTEM = Viewer.system("tests")


def lines(session, entity: str, viewer: Viewer = SYSTEM) -> list[str]:
    return exporter.export_csv(session=session, viewer=viewer, entity=entity).splitlines()


def test_every_entity_has_the_columns_of_import_md_in_their_order(session):
    headers = {entity: lines(session, entity)[0] for entity in importing.ENTITIES}
    assert headers == {
        "users": "email,first_name,last_name,role,is_active",
        "partners": "name,domain,website,primary_contact_name,primary_contact_email,"
                    "relationship_health,owner_email,notes,health_reason,health_until,tier",
        "commissions": "partner,structure_type,commission_percentage,is_lifetime,"
                       "min_deal_size,max_deal_size,effective_from,effective_to,notes,tier",
        "opportunities": "external_id,partner,customer_name,customer_contact_email,deal_value,"
                         "stage,probability,expected_close_date,actual_close_date,owner_email,"
                         "lost_reason,notes,created_at",
        "stage_history": "opportunity_external_id,from_stage,to_stage,changed_at,"
                         "changed_by_email,notes",
        "goals": "user_email,year,quarter,goal_type,revenue_target,current_progress,notes",
        "activities": "partner,activity_type,occurred_on,user_email,summary",
    }


def test_money_has_two_decimals_dates_are_days_and_timestamps_iso_8601(session):
    owner = make_user(session, email="owner@example.com", role="partnership_manager")
    partner = make_partner(session, name="Ledgerline", owner_id=owner.id)
    make_structure(session, partner, commission_percentage=Decimal("12.5"),
                   max_deal_size=Decimal("50000"), effective_from=date(2026, 1, 1))
    make_opportunity(session, partner, external_id="CRM-1", customer_name="Globex, Inc.",
                     deal_value=Decimal("1234.5"), stage="demo", probability=Decimal("25"),
                     expected_close_date=date(2026, 3, 31), assigned_user_id=owner.id,
                     notes='Said "yes"\nin principle',
                     created_at=datetime(2026, 1, 2, 9, 30, tzinfo=UTC))
    assert lines(session, "commissions")[1] == (
        "Ledgerline,referral,12.50,false,0.00,50000.00,2026-01-01,,,")
    text = exporter.export_csv(session=session, viewer=SYSTEM, entity="opportunities")
    assert text.split("\n", 1)[1] == (
        'CRM-1,Ledgerline,"Globex, Inc.",,1234.50,demo,25.00,2026-03-31,,owner@example.com,,'
        '"Said ""yes""\nin principle",2026-01-02T09:30:00+00:00\n')


def test_a_deal_without_external_id_is_written_with_its_own_id_which_history_uses(session):
    opp = make_opportunity(session, make_partner(session, name="Keyward"),
                           created_at=datetime(2026, 1, 2, 9, 30, tzinfo=UTC))
    assert lines(session, "opportunities")[1].startswith(f"{opp.id},Keyward,")
    assert lines(session, "stage_history")[1:] == [
        f"{opp.id},,lead,2026-01-02T09:30:00+00:00,,"]


def test_the_order_is_stable_and_ignores_letter_case(session):
    for name in ("beta labs", "Alpha", "Gamma"):
        make_partner(session, name=name)
    assert [line.split(",")[0] for line in lines(session, "partners")[1:]] == [
        "Alpha", "beta labs", "Gamma"]


def test_a_partnership_manager_exports_only_what_they_may_see(session):
    pm = make_user(session, email="pm@example.com", role="partnership_manager")
    other = make_user(session, email="other@example.com", role="partnership_manager")
    own = make_partner(session, name="Own Partner", owner_id=pm.id)
    theirs = make_partner(session, name="Their Partner", owner_id=other.id)
    make_opportunity(session, own, external_id="MINE-1")
    make_opportunity(session, theirs, external_id="ASSIGNED-1", assigned_user_id=pm.id)
    make_opportunity(session, theirs, external_id="HIDDEN-1")
    session.add_all([QuarterlyGoal(user_id=u.id, year=2026, quarter=1,
                                   revenue_target=Decimal(1000)) for u in (pm, other)])
    viewer = viewer_of(pm)
    assert [line.split(",")[0] for line in lines(session, "partners", viewer)[1:]] == [
        "Own Partner"]
    assert sorted(line.split(",")[0] for line in lines(session, "opportunities", viewer)[1:]
                  ) == ["ASSIGNED-1", "MINE-1"]
    assert sorted(line.split(",")[0] for line in lines(session, "stage_history", viewer)[1:]
                  ) == ["ASSIGNED-1", "MINE-1"]
    assert [line.split(",")[0] for line in lines(session, "goals", viewer)[1:]] == [
        "pm@example.com"]
    assert len(lines(session, "goals", viewer_of(make_user(session, role="admin")))) == 3


def _fresh_database(db_url: str, tmp_path, request) -> str:
    kind = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    return fresh_migrated(request, kind, tmp_path / "target.db")


def test_export_then_import_into_an_empty_database_then_export_gives_identical_files(
        session, db_url, tmp_path, request):
    load_demo(session=session, opportunities=150)
    first = {e: exporter.export_csv(session=session, viewer=SYSTEM, entity=e)
             for e in importing.ENTITIES}
    workbook = exporter.export_xlsx(session=session, viewer=SYSTEM, entity="opportunities")
    target = _fresh_database(db_url, tmp_path, request)
    try:
        files = [(f"{e}.csv", first[e].encode()) for e in importing.ENTITIES]
        with session_scope(target) as other:
            report = importing.import_all(session=other, viewer=SYSTEM, files=files)
            assert report.written, report.error_lines()[:5]
            other.commit()
        with session_scope(target) as other:
            second = {e: exporter.export_csv(session=other, viewer=SYSTEM, entity=e)
                      for e in importing.ENTITIES}
            again = importing.import_all(session=other, viewer=SYSTEM, files=files)
            from_excel = importing.import_file(session=other, viewer=SYSTEM,
                                              entity="opportunities", data=workbook,
                                              filename="opportunities.xlsx")
        for entity in importing.ENTITIES:
            assert second[entity] == first[entity], entity
        with session_scope(target) as other:
            # Each deal got a synthesized first row, then its real history replaced it.
            assert other.scalar(select(func.count()).select_from(StageHistory)
                                .where(StageHistory.synthesized.is_(True))) == 0
        assert first["opportunities"].count("\n") == 151
        assert all(r.created == r.updated == 0 for r in again.entities)
        assert (from_excel.entities[0].unchanged, from_excel.ok) == (150, True)
    finally:
        get_engine(target).dispose()


# --- formulas: no CSV cell a spreadsheet evaluates, and every text back as it was -----------

LEADS = st.sampled_from([*FORMULA_STARTS, "'", "''", "'=", "'-", ""])
TEXTS = st.builds(lambda lead, rest: lead + rest, LEADS,
                  st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")),
                          min_size=1, max_size=12))
NUMBER = re.compile(r"-?\d+(\.\d+)?")


def evaluated(text: str) -> list[str]:
    """The cells of a CSV text that a spreadsheet would read as a formula (not a number)."""
    return [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row
            if cell.startswith(FORMULA_STARTS) and not NUMBER.fullmatch(cell)]


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(name=TEXTS, contact=TEXTS, notes=TEXTS, customer=TEXTS, lost=TEXTS, external=TEXTS)
def test_text_that_starts_a_formula_is_exported_as_text_and_imports_back_unchanged(
        session, name, contact, notes, customer, lost, external):
    savepoint = session.begin_nested()
    try:
        try:
            partner = partners.create_partner(session=session, viewer=SYSTEM, name=name,
                                              domain="FinOps", primary_contact_name=contact,
                                              notes=notes)
            opportunities.create_opportunity(
                session=session, viewer=SYSTEM, partner_id=partner.id, customer_name=customer,
                deal_value=Decimal("5.00"), stage="closed_lost", lost_reason=lost,
                actual_close_date=date(2026, 1, 5), notes=notes, external_id=external,
                created_at=datetime(2026, 1, 2, 9, 30, tzinfo=UTC))
        except ValidationError:
            assume(False)  # text the services refuse (blank once stripped) is never stored
        files = {e: exporter.export_csv(session=session, viewer=SYSTEM, entity=e)
                 for e in ("partners", "opportunities", "stage_history")}
        assert [evaluated(text) for text in files.values()] == [[], [], []]
        again = importing.import_all(session=session, viewer=SYSTEM, dry_run=True,
                                    files=[(f"{e}.csv", t.encode()) for e, t in files.items()])
        assert again.ok, again.error_lines()
        assert [(r.created, r.updated, r.unchanged) for r in again.entities] == [
            (0, 0, 1), (0, 0, 1), (0, 0, 1)]
    finally:
        savepoint.rollback()


def test_only_text_columns_are_guarded_a_negative_amount_stays_a_number():
    table = (["user_email", "year", "quarter", "goal_type", "revenue_target",
              "current_progress", "notes"],
             [["-a@example.com", "2026", "1", "revenue", "-5.00", "-1.50", "=SUM(A1:A9)"]])
    assert exporter.table_to_csv("goals", table).splitlines()[1] == (
        "'-a@example.com,2026,1,revenue,-5.00,-1.50,'=SUM(A1:A9)")
    assert table[1][0][0] == "-a@example.com"  # the workbook made from it next stays unguarded


def test_the_export_tab_and_the_cli_write_text_that_starts_a_formula_as_text(cli_url,
                                                                            tmp_path):
    with session_scope() as session:
        partners.create_partner(session=session, viewer=SYSTEM, name="@Cmd", domain="FinOps",
                                notes='=HYPERLINK("http://evil.example","click")')
        session.commit()
    shown = CliRunner().invoke(cli.main, ["export", "partners"])
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.splitlines()[1] == (
        '''\'@Cmd,FinOps,,,,healthy,,"'=HYPERLINK(""http://evil.example"",""click"")",,,''')
    path = tmp_path / "partners.csv"
    path.write_text(shown.stdout)
    again = CliRunner().invoke(cli.main, ["import", "partners", str(path), "--dry-run"])
    assert again.stdout.splitlines()[-1] == "partners: 0 created, 0 updated, 2 unchanged"


# --- any on-screen table -------------------------------------------------------------------

def test_a_table_downloads_as_csv_that_excel_reads_with_accents():
    frame = pd.DataFrame({"Partner": ["Café Labs"], "Value": [Decimal("1234.50")]})
    data = exporter.frame_to_csv(frame)
    assert data.startswith("\ufeff".encode())
    assert data.decode("utf-8-sig") == "Partner,Value\nCafé Labs,1234.50\n"


def test_a_table_downloads_as_csv_where_text_never_becomes_a_formula():
    frame = pd.DataFrame({
        "Customer": ["=cmd|' /C calc'!A0", "-2+3", "+1", "@SUM(1)", "\tTab", "'quoted", "Plain",
                     None],
        "Value": [Decimal("-5.00"), Decimal("2"), Decimal("0"), Decimal("1"), Decimal("1"),
                  Decimal("1"), Decimal("1"), Decimal("1")],
        "Close": [date(2026, 1, 2)] * 8,
        "Count": [-3, 1, 1, 1, 1, 1, 1, 1],
    })
    text = exporter.frame_to_csv(frame).decode("utf-8-sig")
    assert evaluated(text) == []
    assert text.splitlines()[:3] == ["Customer,Value,Close,Count",
                                     "'=cmd|' /C calc'!A0,-5.00,2026-01-02,-3",
                                     "'-2+3,2,2026-01-02,1"]
    assert [row[0] for row in csv.reader(io.StringIO(text))][3:] == [
        "'+1", "'@SUM(1)", "'\tTab", "''quoted", "Plain", ""]


def test_a_table_downloads_as_a_workbook_where_text_never_becomes_a_formula():
    frame = pd.DataFrame({
        "Note": ["=HYPERLINK(\"http://evil.example\")", None],
        "Value": [Decimal("10.50"), Decimal("2")],
        "Seen": [pd.Timestamp("2026-01-02 09:30", tz="UTC"), pd.NaT],
    })
    sheet = openpyxl.load_workbook(io.BytesIO(exporter.frame_to_xlsx(frame))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == ("Note", "Value", "Seen")
    assert rows[1] == ('=HYPERLINK("http://evil.example")', 10.5, datetime(2026, 1, 2, 9, 30))
    assert sheet["A2"].data_type == "s"
    assert rows[2] == (None, 2, None)


# --- the command line ------------------------------------------------------------------------

def test_isv_export_writes_csv_to_stdout_or_a_file_and_a_workbook_for_xlsx(cli_url, tmp_path):
    shown = CliRunner().invoke(cli.main, ["export", "partners"])
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.splitlines()[1] == "Ledgerline,FinOps,,,,healthy,owner@example.com,,,,"

    target = tmp_path / "partners.csv"
    saved = CliRunner().invoke(cli.main, ["export", "partners", str(target)])
    assert saved.exit_code == 0, saved.output
    assert target.read_text() == shown.stdout

    book = tmp_path / "users.xlsx"
    assert CliRunner().invoke(cli.main, ["export", "users", str(book)]).exit_code == 0
    rows = list(openpyxl.load_workbook(book).active.iter_rows(values_only=True))
    assert rows == [("email", "first_name", "last_name", "role", "is_active"),
                    ("owner@example.com", "Olga", "Owner", "partnership_manager", "true")]

    unknown = CliRunner().invoke(cli.main, ["export", "deals"])
    assert unknown.exit_code == 1
    assert "'deals' is not one of" in unknown.stderr


@pytest.mark.parametrize(("command", "phrase"), [
    ("import", "nothing is written"), ("export", "in the import format")])
def test_import_and_export_explain_themselves(command, phrase):
    result = CliRunner().invoke(cli.main, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout
    assert phrase in " ".join(result.stdout.split())
