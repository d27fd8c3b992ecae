"""Nothing leaves the machine: every request the browser makes goes to the app itself.

A favicon or font from a public host fails offline (console errors) and breaks under the
production Content-Security-Policy, so the pages a person opens first are walked with every
request recorded.
"""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from playwright.sync_api import expect

from isv.ui.nav import PAGES
from tests.e2e.helpers import open_app, sign_in, visit

pytestmark = pytest.mark.e2e

FIRST_PAGES = ("pages/dashboard.py", "pages/opportunities.py", "pages/board.py",
               "pages/partners.py")


def test_no_request_leaves_the_machine(server, context):
    app_host = urlparse(server.url).hostname
    outside: list[str] = []

    def record(request) -> None:
        url = urlparse(request.url)
        if url.scheme in ("http", "https", "ws", "wss") and url.hostname != app_host:
            outside.append(request.url)

    context.on("request", record)
    account = server.accounts["vp"]
    page = open_app(context, server.url)
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    # The chart and table that warm the browser up under the form are never seen.
    page.wait_for_load_state("networkidle")
    expect(page.get_by_test_id("stPlotlyChart")).to_be_hidden()
    expect(page.get_by_test_id("stDataFrame")).to_be_hidden()
    sign_in(page, account.email, account.password)
    # From the landing page on, as a person clicks through: each page's run, its charts and
    # grids, and whatever they fetch.
    for spec in (p for p in PAGES if p.path in FIRST_PAGES):
        visit(page, server.url, spec, in_app=True)
        page.wait_for_load_state("networkidle")

    # The tab's icon is the app's own file, not a Material symbol from a font host.
    icon = page.locator("link[rel*='icon']").first.get_attribute("href")
    assert urlparse(icon).hostname in (None, app_host), icon
    assert outside == []
