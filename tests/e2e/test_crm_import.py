"""Another CRM's export in a real browser: mapped, checked, saved by name, imported."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from isv.db import session_scope
from isv.models import ImportMapping, Partner
from tests.crm_exports import export_csv, salesforce_row
from tests.e2e.helpers import open_signed_in, wait_for_run

pytestmark = pytest.mark.e2e


def test_a_salesforce_export_is_mapped_checked_and_imported(server, context, tmp_path):
    account = server.accounts["vp"]
    with session_scope(server.database_url) as s:
        partner = s.scalars(select(Partner.name).order_by(Partner.name)).first()
    page = open_signed_in(context, server, account, "/import_data")
    expect(page.get_by_role("heading", name="Import / export")).to_be_visible()

    page.get_by_role("combobox", name=re.compile("What to import")).click()
    page.get_by_role("option", name="Opportunities", exact=True).click()
    page.get_by_role("combobox", name=re.compile("^File")).click()
    page.get_by_role("option", name="From Salesforce").click()
    expect(page.get_by_text(re.compile("The file is read as the tool exports it"))
           ).to_be_visible()

    def row(number: int, stage: str) -> dict[str, str]:
        return salesforce_row(**{"Opportunity ID": f"e2e-{number}", "Stage": stage,
                                 "Partner Account": partner,
                                 "Opportunity Owner": account.email})

    bad = tmp_path / "salesforce.csv"
    bad.write_bytes(export_csv("salesforce", [row(1, "Prospecting"), row(2, "Discovery")]))
    page.locator("input[type=file]").set_input_files(str(bad))
    expect(page.get_by_role("heading", name="Columns")).to_be_visible()
    expect(page.get_by_role("heading", name="Stages")).to_be_visible()
    expect(page.get_by_test_id("stMetric").filter(has_text="Problems")).to_contain_text("1")
    expect(page.get_by_text(re.compile("Salesforce stage 'Discovery'")).first).to_be_attached()
    expect(page.get_by_role("button", name=re.compile("Confirm"))).to_have_count(0)

    good = tmp_path / "salesforce-fixed.csv"
    good.write_bytes(export_csv("salesforce", [row(1, "Prospecting"), row(2, "Closed Won")]))
    page.locator("input[type=file]").set_input_files(str(good))
    expect(page.get_by_test_id("stMetric").filter(has_text="To create")).to_contain_text("2")
    # Until the run has ended the first file's form can still be on the page beside the new.
    wait_for_run(page)

    page.get_by_label("Save this mapping as").fill("Salesforce e2e")
    page.get_by_role("button", name="Save mapping").click()
    expect(page.get_by_text(re.compile("Saved as “Salesforce e2e”"))).to_be_visible()
    with session_scope(server.database_url) as s:
        assert s.scalar(select(ImportMapping.name)) == "Salesforce e2e"

    page.get_by_role("button", name=re.compile("Confirm: import salesforce-fixed.csv")).click()
    expect(page.get_by_text("Imported salesforce-fixed.csv: opportunities: 2 created, "
                            "0 updated, 0 unchanged.")).to_be_visible()
