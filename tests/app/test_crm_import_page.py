"""The Import page's mapping step for a Salesforce, HubSpot or Pipedrive export, on both
databases."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from isv.db import session_scope
from isv.models import AuditEntry, ImportMapping, Opportunity
from isv.ui.crm import NO_COLUMN, source_label
from tests.app.conftest import login_as, messages
from tests.crm_exports import STANDARD, export_csv, export_xlsx, hubspot_row, salesforce_row
from tests.factories import make_partner


@pytest.fixture
def page(any_app_db):
    with session_scope() as s:
        make_partner(s, name="Ledgerline")
        s.commit()

    def open_as(role: str, tool: str, name: str, data: bytes):
        at = login_as(role, "pages/import_data.py")
        at.selectbox(key="import_entity").set_value("opportunities").run()
        at.selectbox(key="import_source").set_value(tool).run()
        at.file_uploader(key="import_file_0").set_value((name, data, "text/csv")).run()
        assert not at.exception, at.exception
        return at
    return open_as


def column_selects(at) -> dict[str, object]:
    """Our field → the select that names its column, from the selects' keys."""
    return {_field(s.key): s for s in at.selectbox if s.key and s.key.startswith("crm_col_")}


def _field(key: str) -> str:
    # crm_col_<token>_<field>: the token has no underscore, fields may have some.
    return key.split("_", 3)[3]


def mapped(at) -> dict[str, str]:
    return {f: s.value for f, s in column_selects(at).items() if s.value != NO_COLUMN}


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def problems(at) -> list[str]:
    frames = [d.value for d in at.dataframe if "Problem" in d.value.columns]
    return [f"row {r.Row}, column {r.Column}: {r.Problem}"
            for frame in frames for r in frame.itertuples()]


def deals() -> int:
    with session_scope() as s:
        return s.scalar(select(func.count()).select_from(Opportunity))


def vera_row(row: dict[str, str], owner: str) -> dict[str, str]:
    return {**row, owner: "Vera Vale"}


def test_the_sources_are_offered_for_opportunities_only(page):
    at = page("vp", "salesforce", "sf.csv", export_csv("salesforce", [salesforce_row()]))
    assert at.selectbox(key="import_source").options == [
        source_label(s) for s in ("ours", "salesforce", "hubspot", "pipedrive")]
    at.selectbox(key="import_entity").set_value("partners").run()
    assert not [s for s in at.selectbox if s.key == "import_source"]


def test_a_salesforce_export_is_mapped_without_edits_previewed_and_imported(page):
    rows = [vera_row(salesforce_row(**{"Opportunity ID": str(n)}), "Opportunity Owner")
            for n in (1, 2)]
    at = page("vp", "salesforce", "sf.csv", export_csv("salesforce", rows))
    assert mapped(at) == STANDARD["salesforce"]
    assert metrics(at) == {"To create": "2", "To update": "0", "Unchanged": "0",
                           "Problems": "0"}
    assert deals() == 0
    at.button(key="import_confirm").click().run()
    assert not at.exception, at.exception
    assert messages(at.success) == [
        "Imported sf.csv: opportunities: 2 created, 0 updated, 0 unchanged."]
    assert deals() == 2


def test_a_hubspot_workbook_is_mapped_without_edits(page):
    data = export_xlsx("hubspot", [vera_row(hubspot_row(), "Deal owner")])
    at = page("sales_manager", "hubspot", "deals.xlsx", data)
    assert mapped(at) == STANDARD["hubspot"]
    assert metrics(at)["To create"] == "1"
    assert problems(at) == []


def test_an_unknown_stage_is_listed_by_row_naming_the_stage_and_nothing_can_be_confirmed(
        page):
    rows = [vera_row(salesforce_row(), "Opportunity Owner"),
            vera_row(salesforce_row(Stage="Discovery", **{"Opportunity ID": "2"}),
                     "Opportunity Owner")]
    at = page("vp", "salesforce", "sf.csv", export_csv("salesforce", rows))
    assert problems(at) == [
        "row 3, column stage: Salesforce stage 'Discovery' is not in the stage map; add it "
        "with one of lead, demo, poc, proposal, closed_won, closed_lost"]
    [frame] = [d.value for d in at.dataframe if "Problem" in d.value.columns]
    assert list(frame["File's column"]) == ["Stage"]
    assert not [b for b in at.button if b.key == "import_confirm"]


def test_changing_a_column_checks_the_file_again(page):
    at = page("vp", "salesforce", "sf.csv",
              export_csv("salesforce", [vera_row(salesforce_row(), "Opportunity Owner")]))
    column_selects(at)["deal_value"].set_value(NO_COLUMN).run()
    assert not at.exception, at.exception
    assert problems(at) == ["row 1, column deal_value: no column of the file is mapped to it "
                            "(Salesforce names it: Amount)"]


def test_without_a_partner_column_one_partner_is_chosen_for_every_row(page):
    row = vera_row(hubspot_row(), "Deal owner")
    at = page("vp", "hubspot", "hs.csv", export_csv("hubspot", [row]))
    column_selects(at)["partner"].set_value(NO_COLUMN).run()
    assert "no column of the file is mapped to it" in problems(at)[0]
    at.selectbox(key=next(s.key for s in at.selectbox
                          if s.key.startswith("crm_partner_"))).set_value("Ledgerline").run()
    assert not at.exception, at.exception
    assert problems(at) == []
    assert metrics(at)["To create"] == "1"


def test_a_mapping_is_saved_by_name_and_saving_it_unchanged_writes_nothing(page):
    at = page("vp", "hubspot", "hs.csv",
              export_csv("hubspot", [vera_row(hubspot_row(), "Deal owner")]))
    name_key = next(t.key for t in at.text_input if t.key.startswith("crm_save_name_"))
    at.text_input(key=name_key).set_value("HubSpot deals").run()
    save = next(b.key for b in at.button if b.key.startswith("crm_save_"))
    at.button(key=save).click().run()
    assert not at.exception, at.exception
    assert "Saved as “HubSpot deals”" in messages(at.success)[0]
    with session_scope() as s:
        [saved] = s.scalars(select(ImportMapping)).all()
        assert (saved.tool, saved.name, saved.columns["deal_value"]) == (
            "hubspot", "HubSpot deals", "Amount")
        audited = s.scalar(select(func.count()).select_from(AuditEntry))
    at.button(key=save).click().run()
    assert "already saved with this mapping; nothing was written" in messages(at.info)[-1]
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == audited


def test_a_saved_mapping_brings_back_its_columns_and_stages(page):
    with session_scope() as s:
        s.add(ImportMapping(tool="salesforce", name="Our org", partner=None,
                            columns={"deal_value": "Expected Revenue"},
                            stages={"Discovery": "demo"}))
        s.commit()
    header_row = {**vera_row(salesforce_row(Stage="Discovery"), "Opportunity Owner")}
    at = page("vp", "salesforce", "sf.csv", export_csv("salesforce", [header_row]))
    assert "Discovery" in problems(at)[0]
    at.selectbox(key="crm_saved_salesforce").set_value("Our org").run()
    assert not at.exception, at.exception
    assert mapped(at)["deal_value"] == "Amount"  # the file has no Expected Revenue column
    assert problems(at) == []
    at.button(key="import_confirm").click().run()
    with session_scope() as s:
        assert s.scalar(select(Opportunity.stage)) == "demo"
