"""`isv import opportunities FILE --from TOOL`: another CRM's export through the importer."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from isv.auth import Viewer
from isv.db import session_scope
from isv.errors import ValidationError
from isv.models import AuditEntry, Opportunity, StageHistory
from isv.services import crm_import
from isv.services.crm_mapping import CrmMapping
from tests.crm_exports import ROWS, export_csv, export_xlsx, hubspot_row, salesforce_row
from tests.integration.test_cli import assert_refused, isv


def assert_rejected(result, *words: str) -> None:
    """Exit 1; the problems listed on stderr, then one `Error:` line with every word."""
    assert result.exit_code == 1, result.output
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: ")
    for word in words:
        assert word in last


def deals() -> list[Opportunity]:
    with session_scope() as s:
        found = list(s.scalars(select(Opportunity).order_by(Opportunity.external_id)))
        s.expunge_all()
        return found


@pytest.mark.parametrize("tool", ["salesforce", "hubspot", "pipedrive"])
def test_each_tools_export_imports_with_its_standard_columns_and_stages(cli_url, tmp_path,
                                                                        tool):
    path = tmp_path / f"{tool}.csv"
    path.write_bytes(export_csv(tool, [ROWS[tool]()]))
    result = isv("import", "opportunities", str(path), "--from", tool)
    assert result.exit_code == 0, result.output
    assert "opportunities: 1 created" in result.stdout
    [deal] = deals()
    assert deal.stage == "lead"
    assert deal.external_id.startswith(f"{tool}:")
    assert deal.assigned_user_id is not None
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(StageHistory)) == 1


def test_a_salesforce_export_keeps_amount_dates_and_probability(cli_url, tmp_path):
    path = tmp_path / "sf.csv"
    path.write_bytes(export_csv("salesforce", [salesforce_row(
        Stage="Closed Won", **{"Close Date": "2/1/2026", "Probability (%)": "100%"})]))
    assert isv("import", "opportunities", str(path), "--from", "salesforce").exit_code == 0
    [deal] = deals()
    assert deal.deal_value == Decimal("1234.50")
    assert deal.stage == "closed_won"
    assert str(deal.actual_close_date) == "2026-02-01"
    assert str(deal.expected_close_date) == "2026-02-01"
    assert deal.customer_name == "Acme Corp"


def test_importing_the_same_export_twice_changes_nothing_the_second_time(cli_url, tmp_path):
    path = tmp_path / "hs.csv"
    path.write_bytes(export_csv("hubspot", [hubspot_row()]))
    assert isv("import", "opportunities", str(path), "--from", "hubspot").exit_code == 0
    again = isv("import", "opportunities", str(path), "--from", "hubspot")
    assert again.exit_code == 0, again.output
    assert "0 created, 0 updated, 1 unchanged" in again.stdout
    assert len(deals()) == 1


def test_an_xlsx_export_with_typed_dates_and_numbers_imports(cli_url, tmp_path):
    path = tmp_path / "hs.xlsx"
    path.write_bytes(export_xlsx("hubspot", [hubspot_row(
        Amount=25000.5, **{"Close Date": datetime(2026, 3, 31),
                           "Create Date": datetime(2026, 1, 15, 9, 30)})]))
    result = isv("import", "opportunities", str(path), "--from", "hubspot")
    assert result.exit_code == 0, result.output
    [deal] = deals()
    assert deal.deal_value == Decimal("25000.50")
    assert str(deal.expected_close_date) == "2026-03-31"


def test_an_unknown_stage_is_refused_by_row_naming_it_and_nothing_is_written(cli_url,
                                                                             tmp_path):
    path = tmp_path / "sf.csv"
    path.write_bytes(export_csv("salesforce", [
        salesforce_row(), salesforce_row(**{"Opportunity ID": "2", "Stage": "Discovery",
                                            "Amount": "lots"})]))
    result = isv("import", "opportunities", str(path), "--from", "salesforce")
    assert_rejected(result, "2 problems", "nothing was imported")
    assert "row 3, column deal_value: 'lots' is not an amount" in result.stderr
    assert "row 3, column stage: Salesforce stage 'Discovery'" in result.stderr
    assert deals() == []


def test_a_stage_map_file_maps_the_teams_own_stages(cli_url, tmp_path):
    export = tmp_path / "sf.csv"
    export.write_bytes(export_csv("salesforce", [salesforce_row(Stage="Discovery")]))
    stages = tmp_path / "stages.json"
    stages.write_text(json.dumps({"discovery": "demo"}))
    result = isv("import", "opportunities", str(export), "--from", "salesforce",
                 "--stage-map", str(stages))
    assert result.exit_code == 0, result.output
    assert [d.stage for d in deals()] == ["demo"]


def test_a_bad_stage_map_is_refused_naming_the_entry(cli_url, tmp_path):
    export = tmp_path / "sf.csv"
    export.write_bytes(export_csv("salesforce", [salesforce_row()]))
    stages = tmp_path / "stages.csv"
    stages.write_text("their_stage,our_stage\nDiscovery,won\n")
    assert_refused(isv("import", "opportunities", str(export), "--from", "salesforce",
                       "--stage-map", str(stages)), "stage-map:", "row 2", "'won'")
    assert deals() == []


def test_a_dry_run_reports_and_writes_nothing(cli_url, tmp_path):
    path = tmp_path / "pd.csv"
    path.write_bytes(export_csv("pipedrive", [ROWS["pipedrive"]()]))
    result = isv("import", "opportunities", str(path), "--from", "pipedrive", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Dry run" in result.stdout and "1 created" in result.stdout
    assert deals() == []


def test_without_a_partner_column_one_partner_is_named_for_every_row(cli_url, tmp_path):
    row = hubspot_row()
    del row["Partner"]
    path = tmp_path / "hs.csv"
    header = [h for h in row]
    path.write_text(",".join(header) + "\n" + ",".join(row[h] for h in header) + "\n")
    refused = isv("import", "opportunities", str(path), "--from", "hubspot")
    assert_rejected(refused, "1 problem")
    assert "column partner: no column of the file is mapped to it" in refused.stderr
    named = isv("import", "opportunities", str(path), "--from", "hubspot",
                "--partner", "LEDGERLINE")
    assert named.exit_code == 0, named.output
    assert len(deals()) == 1


def test_from_goes_with_opportunities_only(cli_url, tmp_path):
    path = tmp_path / "partners.csv"
    path.write_text("name,domain\n")
    assert_refused(isv("import", "partners", str(path), "--from", "hubspot"), "from:",
                   "opportunities")
    assert_refused(isv("import", "opportunities", str(path), "--from", "zoho"), "from:")
    assert_refused(isv("import", "opportunities", str(path), "--partner", "Ledgerline"),
                   "partner:", "only goes with --from")

def test_a_mapping_saved_by_name_is_listed_and_saving_it_unchanged_writes_nothing(cli_url):

    vp = Viewer.system("tests")
    mapping = CrmMapping(tool="hubspot", columns={"deal_value": "Amount", "stage": None},
                         stages={"Discovery": "demo"}, partner="Ledgerline")
    with session_scope() as s:
        assert crm_import.save_mapping(session=s, viewer=vp, name=" Ours ", mapping=mapping)
        s.commit()
    with session_scope() as s:
        audited = s.scalar(select(func.count()).select_from(AuditEntry))
        assert not crm_import.save_mapping(session=s, viewer=vp, name="Ours", mapping=mapping)
        [saved] = crm_import.saved_mappings(session=s, viewer=vp, tool="hubspot")
        assert (saved.name, saved.columns, saved.stages, saved.partner) == (
            "Ours", {"deal_value": "Amount"}, {"Discovery": "demo"}, "Ledgerline")
        assert crm_import.saved_mappings(session=s, viewer=vp, tool="salesforce") == []
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == audited
        mapping.stages["Discovery"] = "poc"
        assert crm_import.save_mapping(session=s, viewer=vp, name="Ours", mapping=mapping)
        s.commit()
    with session_scope() as s:
        [saved] = crm_import.saved_mappings(session=s, viewer=vp, tool="hubspot")
        assert saved.stages == {"Discovery": "poc"}


def test_a_mapping_with_a_bad_stage_or_no_name_is_refused_by_field(cli_url):

    vp = Viewer.system("tests")
    bad = CrmMapping(tool="hubspot", columns={}, stages={"Discovery": "won"})
    with session_scope() as s, pytest.raises(ValidationError) as refused:
        crm_import.save_mapping(session=s, viewer=vp, name="x", mapping=bad)
    assert refused.value.field == "stages" and "'won'" in refused.value.reason
    with session_scope() as s, pytest.raises(ValidationError) as refused:
        crm_import.save_mapping(session=s, viewer=vp, name="  ", mapping=CrmMapping(
            tool="hubspot", columns={}, stages={}))
    assert refused.value.field == "mapping_name"
