"""In Chromium: text people typed is shown as text on the pages that show it, and never runs.

A partner named with an HTML payload and a deal whose customer is a markdown link to
`javascript:`, with a script in its notes, as a careless or hostile import could leave them.
Each page that shows them must draw the characters as typed: no element made from them, no
handler fired, no `javascript:` link (AppTest cannot tell, since the browser does the drawing).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect

from isv.auth import Viewer
from isv.db import session_scope
from isv.services import opportunities, partners
from isv.services.settings import local_today
from tests.e2e.helpers import go_in_app, open_signed_in, wait_for_run

pytestmark = pytest.mark.e2e
SLOW = 60_000  # ms: a first render on a busy two-core machine
MARK = uuid.uuid4().hex[:6]
PARTNER = f'<img src=x onerror="window.isvRan=1">Inert {MARK}'
CUSTOMER = f"[Inert {MARK}](javascript:window.isvRan=2)"
NOTES = f"<script>window.isvRan=3</script>**Inert notes {MARK}**"


@pytest.fixture(scope="module")
def planted(server):
    """The payloads in the browser tests' database, removed afterwards."""
    system = Viewer.system("tests")
    with session_scope(server.database_url) as session:
        partner = partners.create_partner(session=session, viewer=system, name=PARTNER,
                                          domain="Security", notes=NOTES)
        deal = opportunities.create_opportunity(
            session=session, viewer=system, partner_id=partner.id, customer_name=CUSTOMER,
            deal_value="950000", stage="proposal", notes=NOTES,
            expected_close_date=local_today() + timedelta(days=20))
        ids = {"partner": str(partner.id), "deal": str(deal.id)}
        session.commit()
    yield ids
    with session_scope(server.database_url) as session:
        partners.delete_partner(session=session, viewer=system, partner_id=ids["partner"])
        session.commit()


def assert_inert(page: Page) -> None:
    assert page.evaluate("window.isvRan") is None
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("a[href^='javascript:' i]").count() == 0
    assert page.locator("script:text('isvRan')").count() == 0
    assert page.get_by_test_id("stException").count() == 0


def settled(page: Page, heading: str) -> None:
    expect(page.get_by_role("heading", name=heading, exact=True).first).to_be_visible(
        timeout=SLOW)
    wait_for_run(page, timeout=SLOW)


def test_typed_html_and_links_show_as_text_and_never_run_on_any_page(server, context, planted):
    account = server.accounts["vp"]
    # Signed in at the first address; each next page opened inside the app, as a person
    # following links does (what the page draws is the same either way).
    page = open_signed_in(context, server, account, f"/opportunities?q={MARK}")
    settled(page, "Opportunities")
    # The grid's accessible table (what a screen reader reads) holds the customer as typed.
    row = page.get_by_test_id("stDataFrame").first.locator("table tbody tr")
    expect(row).to_have_count(1, timeout=SLOW)
    assert CUSTOMER in [c.strip() for c in row.locator("td").all_text_contents()]
    assert_inert(page)

    go_in_app(page, f"/board?q={MARK}", "Pipeline board")
    card = page.locator("[class*='st-key-card_']").filter(has_text=f"Inert {MARK}")
    expect(card).to_have_count(1, timeout=SLOW)
    expect(card).to_contain_text(CUSTOMER)
    assert_inert(page)

    go_in_app(page, f"/opportunity_detail?id={planted['deal']}", "Opportunity detail")
    expect(page.get_by_role("heading", name=CUSTOMER)).to_be_visible(timeout=SLOW)
    expect(page.get_by_text(PARTNER).first).to_be_visible()
    expect(page).to_have_title(f"{CUSTOMER} · ISV Pipeline Tracker")  # the tab, as typed
    assert_inert(page)

    go_in_app(page, f"/partner_detail?id={planted['partner']}", "Partner detail")
    expect(page.get_by_text(PARTNER).first).to_be_visible(timeout=SLOW)
    expect(page).to_have_title(f"{PARTNER} · ISV Pipeline Tracker")
    assert_inert(page)

    go_in_app(page, "/partner_analytics", "Partner analytics")
    assert_inert(page)
