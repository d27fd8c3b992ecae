"""In Chromium: every analytics page, for every role that may open it, at desktop and tablet width.

The VP shows these pages in reviews, often from a tablet: each must render without an error,
show its charts, and fit the window (no text runs past the edge of the page). At tablet
width each also passes test_tablet.py's checks, which tours every other page at that width.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import (
    ANALYTICS,
    TABLET,
    TABLET_TOUR_HEIGHT,
    assert_fits_a_tablet,
    signed_in_window,
    visit,
)

pytestmark = pytest.mark.e2e

DESKTOP = 1400
CASES = [(role, width) for role in ("vp", "sales_manager", "partnership_manager", "admin")
         for width in ((DESKTOP, TABLET) if role == "vp" else (TABLET,))]


@pytest.mark.parametrize(("role", "width"), CASES, ids=[f"{r}-{w}" for r, w in CASES])
def test_each_analytics_page_renders_its_charts_within_the_window(server, browser, role, width):
    account = server.accounts[role]
    context, page = signed_in_window(browser, server, account, width=width,
                                     height=TABLET_TOUR_HEIGHT if width == TABLET else 900)
    try:
        if width == TABLET:
            # The sidebar settles into its starting state once the first page is laid out.
            expect(page.get_by_test_id("stSidebar")).to_have_attribute("data-collapsed", "true")
        # Each page inside the app already open, as a sidebar click opens it.
        for spec in (s for s in ANALYTICS if role in s.roles):
            visit(page, server.url, spec, in_app=True)
            expect(page.get_by_test_id("stPlotlyChart").first).to_be_visible()
            if width == TABLET:
                assert_fits_a_tablet(page, spec.title)
    finally:
        context.close()
