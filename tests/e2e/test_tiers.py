"""A real Chromium: a vp accepts a tier suggestion, and the directory shows the new tier."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from isv.analytics.tiers import tier_review
from isv.auth import Viewer
from isv.db import session_scope
from isv.services.tiers import tier_text
from tests.e2e.conftest import COOKIE_NAME
from tests.e2e.helpers import (
    email_box,
    open_app,
    sign_out_button,
    submit_login,
    wait_for_cookie,
    wait_for_run,
)

pytestmark = pytest.mark.e2e
SLOW = 30_000  # ms: the first run of a page on a fresh server imports a lot


def test_a_vp_accepts_a_tier_suggestion_and_sees_the_badge_in_the_directory(server, context):
    with session_scope(server.database_url) as session:
        review = tier_review(session=session, viewer=Viewer.system("tests"))
    assert review.suggestions, "the demo data should call for tier moves"
    first = review.suggestions[0]  # the form's suggestion until another is picked
    vp = server.accounts["vp"]
    page = open_app(context, server.url)
    expect(email_box(page)).to_be_visible(timeout=SLOW)
    submit_login(page, vp.email, vp.password)
    expect(sign_out_button(page)).to_be_visible(timeout=SLOW)
    wait_for_cookie(context, COOKIE_NAME)  # set in the background; the next address needs it

    page.goto(f"{server.url}/partner_analytics")
    expect(page.get_by_role("heading", name="Tier review")).to_be_visible(timeout=SLOW)
    wait_for_run(page, timeout=SLOW)
    page.get_by_role("textbox", name="Note").fill("Accepted in the browser test")
    page.get_by_role("button", name="Accept", exact=True).click()
    expect(page.get_by_text(f"{first.partner}: {first.summary} accepted.")).to_be_visible(
        timeout=SLOW)

    page.goto(f"{server.url}/partners")
    search = page.get_by_role("textbox", name="Search")
    expect(search).to_be_visible(timeout=SLOW)
    search.fill(first.partner)
    search.press("Enter")
    row = page.get_by_test_id("stDataFrame").first.locator("table tbody tr")
    expect(row).to_have_count(1, timeout=SLOW)
    cells = [c.strip() for c in row.locator("td").all_text_contents()]
    assert first.partner in cells and tier_text(first.move.to_tier) in cells, cells
