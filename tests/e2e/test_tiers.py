"""A real Chromium: a vp accepts a tier suggestion, and the directory shows the new tier."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from isv.analytics.tiers import tier_review
from isv.auth import Viewer
from isv.db import session_scope
from isv.services.tiers import tier_text
from tests.e2e.helpers import go_in_app, open_signed_in, wait_for_run

pytestmark = pytest.mark.e2e
SLOW = 30_000  # ms: the first run of a page on a fresh server imports a lot


def test_a_vp_accepts_a_tier_suggestion_and_sees_the_badge_in_the_directory(server, context):
    with session_scope(server.database_url) as session:
        review = tier_review(session=session, viewer=Viewer.system("tests"))
    assert review.suggestions, "the demo data should call for tier moves"
    first = review.suggestions[0]  # the form's suggestion until another is picked
    page = open_signed_in(context, server, server.accounts["vp"], "/partner_analytics")
    expect(page.get_by_role("heading", name="Tier review")).to_be_visible(timeout=SLOW)
    wait_for_run(page, timeout=SLOW)
    page.get_by_role("textbox", name="Note").fill("Accepted in the browser test")
    page.get_by_role("button", name="Accept", exact=True).click()
    expect(page.get_by_text(f"{first.partner}: {first.summary} accepted.")).to_be_visible(
        timeout=SLOW)

    go_in_app(page, "/partners", "Partners")
    search = page.get_by_role("textbox", name="Search")
    search.fill(first.partner)
    search.press("Enter")
    row = page.get_by_test_id("stDataFrame").first.locator("table tbody tr")
    expect(row).to_have_count(1, timeout=SLOW)
    cells = [c.strip() for c in row.locator("td").all_text_contents()]
    assert first.partner in cells and tier_text(first.move.to_tier) in cells, cells
