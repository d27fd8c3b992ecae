"""Import in a real browser: choose a file, read the preview, confirm, see it imported."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import open_signed_in

pytestmark = pytest.mark.e2e


def test_a_file_chosen_in_the_browser_is_previewed_then_imported(server, context, tmp_path):
    account = server.accounts["vp"]
    page = open_signed_in(context, server, account, "/import_data")
    expect(page.get_by_role("heading", name="Import / export")).to_be_visible()

    page.get_by_role("combobox", name=re.compile("What to import")).click()
    page.get_by_role("option", name="Quarterly goals").click()
    # Upload only once the page has rerun for the new choice.
    expect(page.get_by_text(re.compile("same user_email, year, quarter and goal_type"))
           ).to_be_visible()
    bad = tmp_path / "goals.csv"
    bad.write_text(f"user_email,year,quarter,revenue_target\n{account.email},2099,7,5000\n")
    page.locator("input[type=file]").set_input_files(str(bad))
    # .first: while a rerun replaces the preview, the old copy may linger for a moment.
    expect(page.get_by_test_id("stMetric").filter(has_text="Problems")).to_contain_text("1")
    expect(page.get_by_text("1 problem in goals.csv.").first).to_be_visible()
    # The problems grid draws on a canvas; its accessible copy holds the text.
    expect(page.get_by_text("must be from 1 to 4").first).to_be_attached()
    expect(page.get_by_role("button", name=re.compile("Confirm"))).to_have_count(0)

    # 2099: far from the quarters other browser tests look at.
    good = tmp_path / "goals-fixed.csv"
    good.write_text(f"user_email,year,quarter,revenue_target\n{account.email},2099,1,5000\n")
    page.locator("input[type=file]").set_input_files(str(good))
    expect(page.get_by_test_id("stMetric").filter(has_text="To create")).to_contain_text("1")
    page.get_by_role("button", name=re.compile("Confirm: import goals-fixed.csv")).click()
    expect(page.get_by_text(
        "Imported goals-fixed.csv: goals: 1 created, 0 updated, 0 unchanged.")).to_be_visible()
