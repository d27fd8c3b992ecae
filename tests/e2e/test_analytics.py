"""In Chromium: every analytics page, for every role that may open it, at desktop and tablet width.

The VP shows these pages in reviews, often from a tablet: each must render without an error,
show its charts, and fit the window (no text runs past the edge of the page).
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from isv.ui.nav import PAGES
from tests.e2e.conftest import COOKIE_NAME
from tests.e2e.helpers import cut_off_text, open_app, sign_in, wait_for_cookie

pytestmark = pytest.mark.e2e

ANALYTICS = [page for page in PAGES if page.section == "Analytics" and page.visible]
DESKTOP, TABLET = 1400, 1024
CASES = [(role, width) for role in ("vp", "sales_manager", "partnership_manager", "admin")
         for width in ((DESKTOP, TABLET) if role == "vp" else (TABLET,))]


def _settled(page: Page) -> None:
    """Wait until the script run is over (Streamlit shows a status widget while it runs)."""
    page.wait_for_timeout(500)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=60_000)


@pytest.mark.parametrize(("role", "width"), CASES, ids=[f"{r}-{w}" for r, w in CASES])
def test_each_analytics_page_renders_its_charts_within_the_window(server, browser, role, width):
    account = server.accounts[role]
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.set_default_timeout(60_000)
    try:
        page = open_app(context, server.url)
        sign_in(page, account.email, account.password)
        wait_for_cookie(context, COOKIE_NAME)
        for spec in ANALYTICS:
            if role not in spec.roles:
                continue
            # The landing page lives at the root address, every other page at its own.
            path = "" if spec == PAGES[0] else spec.url_path
            page.goto(f"{server.url}/{path}")
            expect(page.get_by_role("heading", name=spec.title, exact=True)).to_be_visible(
                timeout=60_000)
            _settled(page)
            assert page.get_by_test_id("stException").count() == 0, spec.title
            expect(page.get_by_test_id("stPlotlyChart").first).to_be_visible()
            assert cut_off_text(page) == [], spec.title
    finally:
        context.close()
