"""In Chromium at tablet width (1024 px): every page a role can open fits the window.

Every page in the sidebar, for each role, must render without an error, with no text
running past the edge of the page, no KPI delta cut short, KPI cards in a row equally tall
and every table as tall as its rows: here every page outside the Analytics section, there
(test_analytics.py, which also looks for their charts) the analytics pages. The sidebar
starts collapsed, the grid shows what a deal is worked by without scrolling sideways, and
board cards never break a word.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from isv.ui.nav import PAGES, pages_for
from tests.e2e.helpers import (
    ANALYTICS,
    KPI_DELTAS,
    ROW_PX,
    TABLET,
    TABLET_TOUR_HEIGHT,
    assert_fits_a_tablet,
    broken_card_words,
    click_grid_cell,
    clipped_text,
    cut_off_text,
    open_signed_in,
    press_to_cell,
    sidebar_collapsed,
    signed_in_window,
    visit,
    wait_for_run,
)

pytestmark = pytest.mark.e2e

ROLES = ("vp", "sales_manager", "partnership_manager", "admin")


def spec(path: str):
    return next(p for p in PAGES if p.path == path)


# Where the windows below first open when the page under test comes after: the lightest
# page to draw (the dashboard, the landing page, draws nine cards and four charts).
ACCOUNT = f"/{spec('pages/account.py').url_path}"


@pytest.fixture(scope="module")
def tablet_window(server, browser):
    """One sales manager's signed-in tablet window for the tests that only open pages by
    their address and read them: each opening is a new session, signed in by the cookie."""
    account = server.accounts["sales_manager"]
    context, page = signed_in_window(browser, server, account, width=TABLET, height=768,
                                     path=ACCOUNT)
    yield page
    context.close()


@pytest.mark.parametrize("role", ROLES)
def test_every_page_of_a_role_fits_a_tablet_window(server, browser, role):
    # The analytics pages are toured at this width by test_analytics.py, for each role,
    # with these same checks: each page is drawn once per role at tablet width.
    tour = [p for p in pages_for(role) if p.visible and p not in ANALYTICS]
    account = server.accounts[role]
    context, page = signed_in_window(browser, server, account, width=TABLET,
                                     height=TABLET_TOUR_HEIGHT, path=f"/{tour[0].url_path}")
    try:
        # The sidebar settles into its starting state once the first page is laid out (on a
        # loaded machine it read "open" for a moment).
        expect(page.get_by_test_id("stSidebar")).to_have_attribute("data-collapsed", "true")
        # Each page inside the app already open, as a sidebar click opens it.
        for page_spec in tour:
            visit(page, server.url, page_spec, in_app=True)
            assert_fits_a_tablet(page, page_spec.title)
    finally:
        context.close()


@pytest.mark.parametrize(("width", "collapsed"), [(TABLET, True), (1400, False)])
def test_the_sidebar_starts_collapsed_on_a_tablet_and_open_on_a_wide_screen(
        server, browser, width, collapsed):
    account = server.accounts["sales_manager"]
    context, page = signed_in_window(browser, server, account, width=width, height=768,
                                     path=ACCOUNT)
    try:
        # The sidebar settles into its starting state once the first page is laid out.
        expect(page.get_by_test_id("stSidebar")).to_have_attribute(
            "data-collapsed", str(collapsed).lower())
        assert sidebar_collapsed(page) is collapsed
        visit(page, server.url, spec("pages/board.py"))
        assert sidebar_collapsed(page) is collapsed
    finally:
        context.close()


def test_a_sidebar_opened_on_a_tablet_stays_open(server, browser):
    account = server.accounts["sales_manager"]
    context, page = signed_in_window(browser, server, account, width=TABLET, height=768,
                                     path=ACCOUNT)
    try:
        expect(page.get_by_test_id("stSidebar")).to_have_attribute("data-collapsed", "true")
        page.get_by_test_id("stExpandSidebarButton").click()
        expect(page.get_by_test_id("stSidebar")).to_have_attribute("data-collapsed", "false")
        visit(page, server.url, spec("pages/dashboard.py"))
        # The run has ended; the browser may still be loading the cards' code and drawing.
        expect(page.get_by_test_id("stMetricDeltaDescription").first).to_be_visible()
        assert not sidebar_collapsed(page)  # the person's choice, kept by Streamlit
        # Narrow KPI cards beside the open sidebar: the deltas wrap, never "vs Q3 2…".
        assert clipped_text(page, KPI_DELTAS) == []
    finally:
        context.close()


def test_the_grid_shows_customer_to_owner_without_scrolling_sideways(server, tablet_window):
    page = tablet_window
    visit(page, server.url, spec("pages/opportunities.py"))
    grid = page.get_by_test_id("stDataFrame").first
    scroller = grid.locator(".dvn-scroller")
    # The grid measures its columns once drawn: then there is more to the right.
    page.wait_for_function("s => s.scrollWidth > s.clientWidth", arg=scroller.element_handle())
    # The row marker and "Open" columns, then the first row's Customer cell (column 2).
    click_grid_cell(page, grid, 150, ROW_PX + ROW_PX / 2, 2)
    for column in range(3, 7):  # Stage, Value, Expected close, Owner
        press_to_cell(page, "ArrowRight", column)
    # The grid scrolls a selected cell into view: Owner is already in full view.
    assert scroller.evaluate("s => s.scrollLeft") == 0
    press_to_cell(page, "ArrowRight", 7)  # Partner, the column after: out of view until now
    page.wait_for_function("s => s.scrollLeft > 0", arg=scroller.element_handle())


@pytest.mark.parametrize("closed", [False, True], ids=["open stages", "all six stages"])
def test_board_cards_never_break_a_word(server, tablet_window, closed):
    page = tablet_window
    visit(page, server.url, spec("pages/board.py"))
    if closed:
        page.get_by_text("Show closed stages").click()
        expect(page.locator(".st-key-board_col_closed_lost")).to_be_visible()
        wait_for_run(page)
    assert page.locator("[class*='st-key-card_']").count() > 0
    assert broken_card_words(page) == []


def test_text_running_past_the_edge_is_caught(server, context):
    account = server.accounts["vp"]
    page = open_signed_in(context, server, account, ACCOUNT)
    wait_for_run(page)
    assert cut_off_text(page) == []
    page.evaluate("""() => {
        const line = document.createElement('p');
        line.textContent = 'Quarterly partner revenue '.repeat(40);
        line.style.whiteSpace = 'nowrap';
        document.querySelector('[data-testid=stMainBlockContainer]').appendChild(line);
    }""")
    assert cut_off_text(page) == ["Quarterly partner revenue Quarterly part"]


def test_a_word_broken_in_a_board_card_is_caught(server, tablet_window):
    page = tablet_window
    visit(page, server.url, spec("pages/board.py"))
    assert broken_card_words(page) == []
    page.evaluate("""() => {
        const card = document.querySelector('[class*="st-key-card_"]');
        const line = document.createElement('p');
        line.textContent = 'Supercalifragilistic';
        line.style.cssText = 'width: 40px; word-break: break-all';
        card.appendChild(line);
    }""")
    assert "Supercalifragilistic" in broken_card_words(page)
