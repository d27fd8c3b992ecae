"""In Chromium: a chart bar and a KPI card open the opportunity grid on the deals they count,
and a copied analytics address shows the same view after a reload and on the next page.

The tests/app drill tests cover every chart and card; this one proves the browser side:
a real click on a plotly bar, a real link, the address bar.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from isv.analytics.periods import previous, quarter_containing
from isv.services.settings import local_today
from tests.e2e.helpers import open_signed_in

pytestmark = pytest.mark.e2e
SLOW = 60_000


def expect_grid_count(page: Page, count: int) -> None:
    """The grid's caption: 'Deals 1–50 of 123', or 'No deals match.'"""
    expect(page.get_by_role("heading", name="Opportunities", exact=True)).to_be_visible(
        timeout=SLOW)
    shown = "No deals match." if not count else re.compile(rf"^Deals 1–[\d,]+ of {count:,}")
    expect(page.get_by_text(shown)).to_be_visible(timeout=SLOW)


def test_a_bar_and_a_card_open_their_deals_and_an_analytics_link_reloads_to_the_same_view(
        server, context):
    vp = server.accounts["vp"]
    page = open_signed_in(context, server, vp)

    # A funnel bar: its label starts with the number of deals that reached the stage.
    funnel = page.get_by_test_id("stPlotlyChart").filter(has_text="Funnel")
    bar = funnel.locator("g.point").nth(1)
    expect(bar).to_be_visible(timeout=SLOW)
    figure = int(bar.text_content().split(" ")[0].replace(",", ""))
    assert figure > 0
    bar.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    box = bar.locator("path").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect_grid_count(page, figure)
    expect(page.get_by_text("reached Demo or further")).to_be_visible()
    assert "reached=demo" in page.url

    # A card's link: "N open deals" under the pipeline figure.
    page.go_back()
    link = page.get_by_role("link", name=re.compile(r"^See the [\d,]+ open deals$")).first
    expect(link).to_be_visible(timeout=SLOW)
    figure = int(re.search(r"See the ([\d,]+)", link.inner_text())[1].replace(",", ""))
    link.click()
    expect_grid_count(page, figure)

    # A copied analytics address: the same view after a reload, and on the next page.
    last = previous(quarter_containing(local_today()))
    page.goto(f"{server.url}/pipeline_analytics?period={last.label}&domain=Security")
    period = page.get_by_role("combobox", name="Period")
    expect(period).to_have_value(last.title, timeout=SLOW)
    expect(page.get_by_role("combobox", name="Domain")).to_have_value("Security")
    page.reload()
    expect(page.get_by_role("combobox", name="Period")).to_have_value(last.title, timeout=SLOW)
    page.get_by_test_id("stSidebarNavLink").filter(has_text="Executive dashboard").click()
    expect(page.get_by_role("heading", name="Executive dashboard")).to_be_visible()
    expect(page.get_by_role("combobox", name="Period")).to_have_value(last.title, timeout=SLOW)
    expect(page.get_by_role("combobox", name="Domain")).to_have_value("Security")
    expect(page).to_have_url(re.compile(rf"period={last.label}"))
