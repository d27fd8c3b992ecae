"""In Chromium at tablet width (1024 px): every page a role can open fits the window.

The analytics pages are also checked for their charts (test_analytics.py); here every page
in the sidebar, for each role, must render without an error and with no text running past
the edge of the page.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from isv.ui.nav import PAGES, pages_for
from tests.e2e.conftest import COOKIE_NAME
from tests.e2e.helpers import cut_off_text, open_app, sign_in, wait_for_cookie

pytestmark = pytest.mark.e2e

TABLET = 1024
ROLES = ("vp", "sales_manager", "partnership_manager", "admin")


@pytest.mark.parametrize("role", ROLES)
def test_every_page_of_a_role_fits_a_tablet_window(server, browser, role):
    account = server.accounts[role]
    context = browser.new_context(viewport={"width": TABLET, "height": 800})
    context.set_default_timeout(60_000)
    try:
        page = open_app(context, server.url)
        sign_in(page, account.email, account.password)
        wait_for_cookie(context, COOKIE_NAME)
        for spec in pages_for(role):
            if not spec.visible:
                continue
            # The landing page lives at the root address, every other page at its own.
            page.goto(f"{server.url}/{'' if spec == PAGES[0] else spec.url_path}")
            expect(page.get_by_role("heading", name=spec.title, exact=True).first
                   ).to_be_visible(timeout=60_000)
            page.wait_for_timeout(500)
            expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=60_000)
            assert page.get_by_test_id("stException").count() == 0, spec.title
            assert cut_off_text(page) == [], spec.title
    finally:
        context.close()


def test_text_running_past_the_edge_is_caught(server, context):
    account = server.accounts["vp"]
    page = open_app(context, server.url)
    sign_in(page, account.email, account.password)
    assert cut_off_text(page) == []
    page.evaluate("""() => {
        const line = document.createElement('p');
        line.textContent = 'Quarterly partner revenue '.repeat(40);
        line.style.whiteSpace = 'nowrap';
        document.querySelector('[data-testid=stMainBlockContainer]').appendChild(line);
    }""")
    assert cut_off_text(page) == ["Quarterly partner revenue Quarterly part"]
