"""In Chromium at tablet width (1024 px): every page a role can open fits the window.

The analytics pages are also checked for their charts (test_analytics.py); here every page
in the sidebar, for each role, must render without an error and with no text running past
the edge of the page.
"""

from __future__ import annotations

import pytest

from isv.ui.nav import pages_for
from tests.e2e.helpers import cut_off_text, open_app, sign_in, signed_in_window, visit

pytestmark = pytest.mark.e2e

TABLET = 1024
ROLES = ("vp", "sales_manager", "partnership_manager", "admin")


@pytest.mark.parametrize("role", ROLES)
def test_every_page_of_a_role_fits_a_tablet_window(server, browser, role):
    account = server.accounts[role]
    context, page = signed_in_window(browser, server.url, account.email, account.password,
                                     width=TABLET, height=800)
    try:
        for spec in pages_for(role):
            if spec.visible:
                visit(page, server.url, spec)
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
