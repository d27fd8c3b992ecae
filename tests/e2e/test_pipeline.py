"""In Chromium: edit the opportunity grid, move a board card, and two people saving one deal."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from isv.ui.board_drag import HOLD_MS
from isv.ui.labels import stage_label
from tests.e2e.conftest import PATIENCE_MS
from tests.e2e.helpers import (
    click_grid_cell,
    open_signed_in,
    press_to_cell,
    type_into_cell_editor,
    wait_for_run,
)

pytestmark = pytest.mark.e2e
SLOW = 60_000  # ms: a first render on a busy two-core machine
CUSTOMER_COLUMN = 2  # in the grid: the row marker, "Open", then Customer



@pytest.fixture(autouse=True)
def patient(context):
    """Grid and board pages do real work on their first render; allow a busy machine time."""
    expect.set_options(timeout=SLOW)
    context.set_default_timeout(SLOW)
    yield
    expect.set_options(timeout=PATIENCE_MS)


def signed_in_page(context: BrowserContext, server, role: str, path: str = "/",
                   title: str | None = None) -> Page:
    """`path` (the landing page unless given), signed in by its cookie (so a reload signs in
    again); with `title`, once that page's heading shows and its first run has ended.

    Opened at the page's own address, as a shared link opens it: a test of the grid or the
    board does not draw the dashboard first.
    """
    page = open_signed_in(context, server, server.accounts[role], path)
    if title is not None:
        expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
        wait_for_run(page)
    return page


def grid_rows(page: Page) -> list[list[str]]:
    """The editor's cells, read from the grid's accessible table (the canvas has no text).

    That table holds the raw values: stage codes, plain numbers, the link's address.
    """
    table = page.get_by_test_id("stDataFrame").first.locator("table")
    # After a reload the cookie sign-in and the grid render first: slow on a loaded machine.
    expect(table.locator("tbody tr").first).to_be_attached(timeout=60_000)
    return [[cell.strip() for cell in row.locator("td").all_text_contents()]
            for row in table.locator("tbody tr").all()]


def header(page: Page) -> list[str]:
    table = page.get_by_test_id("stDataFrame").first.locator("table")
    expect(table.locator("thead th").first).to_be_attached(timeout=60_000)
    return [h.strip() for h in table.locator("thead th").all_text_contents()]


def cell(page: Page, row: int, column: str) -> str:
    names = header(page)
    return grid_rows(page)[row][names.index(column)]


def edit_first_row(page: Page, column: str, text: str) -> None:
    """Click the first row's Customer cell, walk right to `column`, type and confirm."""
    names = header(page)
    # The row marker column, then "Open": the Customer cell (grid column 2) starts about
    # 110 px in.
    click_grid_cell(page, page.get_by_test_id("stDataFrame").first, 130, 35 + 17,
                    CUSTOMER_COLUMN)
    for step in range(1, names.index(column) - names.index("Customer") + 1):
        press_to_cell(page, "ArrowRight", CUSTOMER_COLUMN + step)
    # Enter opens the cell's editor; the typed text replaces the value (a select box filters
    # its options by it); Enter again confirms and steps down to the next row.
    type_into_cell_editor(page, text)
    page.keyboard.press("Enter")


def open_first_row(page: Page) -> None:
    """Click the first row's Open button (the column after the row marker)."""
    grid = page.get_by_test_id("stDataFrame").first
    grid.scroll_into_view_if_needed()  # a click elsewhere (a download) may have scrolled
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 75, box["y"] + 35 + 17)


def save(page: Page) -> None:
    button = page.get_by_role("button", name="Save changes")
    expect(button).to_be_enabled()
    button.click()


def test_a_grid_edit_is_saved_survives_a_reload_and_writes_stage_history(server, context):
    page = signed_in_page(context, server, "sales_manager", "/opportunities", "Opportunities")
    customer = cell(page, 0, "Customer")
    before = cell(page, 0, "Stage")
    target = "proposal" if before != "proposal" else "demo"
    edit_first_row(page, "Stage", stage_label(target))
    save(page)
    expect(page.get_by_text("Saved: 1 changed.")).to_be_visible()

    page.reload()
    expect(page.get_by_role("heading", name="Opportunities", exact=True)).to_be_visible()
    # Sorted by last change, the deal just saved comes first.
    assert (cell(page, 0, "Customer"), cell(page, 0, "Stage")) == (customer, target)

    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    csv_text = open(download.value.path(), encoding="utf-8-sig").read()
    assert csv_text.splitlines()[0].startswith("Customer,Partner,Domain,Stage,Value")
    assert customer in csv_text

    open_first_row(page)  # the row's Open button: the deal's own page, in this tab
    expect(page.get_by_role("heading", name=customer)).to_be_visible()
    assert len(page.context.pages) == 1
    history = page.get_by_test_id("stDataFrame").first.locator("tbody tr").first
    expect(history).to_contain_text(stage_label(before))  # newest first: from → to
    expect(history).to_contain_text(stage_label(target))
    expect(history).to_contain_text(server.accounts["sales_manager"].name)


def column_count(page: Page, stage: str) -> int:
    """The count in a stage column's header ("Lead · 12 deals")."""
    label = stage_label(stage)
    header = page.get_by_test_id("stMarkdownContainer").filter(
        has_text=re.compile(rf"^{label} · \d+ deals?")).first
    return int(re.search(rf"{label} · (\d+)", header.inner_text()).group(1))


def board_column(page: Page, stage: str):
    return page.locator(f".st-key-board_col_{stage}")


def drag(page: Page, card, stage: str) -> None:
    """A person's drag: press on the card, move over the top of a column, let go."""
    expect(card).to_have_attribute("data-isv-drag", "ready")
    source, target = card.bounding_box(), board_column(page, stage).bounding_box()
    page.mouse.move(source["x"] + source["width"] / 2, source["y"] + 12)
    page.mouse.down()
    page.mouse.move(target["x"] + target["width"] / 2, target["y"] + 40, steps=12)
    page.mouse.move(target["x"] + target["width"] / 2, target["y"] + 60, steps=4)
    page.mouse.up()


def touch_drag(page: Page, card, stage: str, *, hold_ms: int = HOLD_MS + 600) -> None:
    """A finger's drag, through the browser's own touch input (so the page's touch-action
    and scrolling take part as on a tablet): rest on the card, slide to a column, let go."""
    cdp = page.context.new_cdp_session(page)
    source, target = card.bounding_box(), board_column(page, stage).bounding_box()
    x0, y0 = source["x"] + source["width"] / 2, source["y"] + 12
    x1, y1 = target["x"] + target["width"] / 2, target["y"] + 60

    def touch(kind: str, points: list[dict]) -> None:
        cdp.send("Input.dispatchTouchEvent", {"type": kind, "touchPoints": points})

    touch("touchStart", [{"x": x0, "y": y0}])
    page.wait_for_timeout(hold_ms)
    for step in range(1, 13):
        touch("touchMove", [{"x": x0 + (x1 - x0) * step / 12, "y": y0 + (y1 - y0) * step / 12}])
        page.wait_for_timeout(16)
    touch("touchEnd", [])
    cdp.detach()


@pytest.fixture
def tablet(browser):
    """A touch screen at tablet size: touch input, no mouse hover."""
    ctx = browser.new_context(viewport={"width": 1024, "height": 768}, has_touch=True)
    ctx.set_default_timeout(SLOW)
    yield ctx
    ctx.close()


def card_class(card) -> str:
    return next(c for c in card.get_attribute("class").split() if c.startswith("st-key-card_"))


def test_a_card_dragged_by_touch_on_a_tablet_lands_in_the_new_stage(server, tablet):
    # Once the page is idle: a run still drawing (the poll) replaces the cards under the
    # finger.
    page = signed_in_page(tablet, server, "sales_manager", "/board", "Pipeline board")
    assert page.evaluate("matchMedia('(hover: none)').matches")  # a touch screen, as a tablet
    card = board_column(page, "demo").locator("[class*='st-key-card_']").first
    expect(card).to_have_attribute("data-isv-drag", "ready")
    customer = card.get_by_test_id("stPageLink-NavLink").first.inner_text().strip()
    key = card_class(card)

    touch_drag(page, card, "poc")
    expect(page.get_by_text(f"Moved {customer} to PoC.")).to_be_visible()
    expect(board_column(page, "poc").locator(f".{key}")).to_have_count(1)
    page.reload()
    expect(page.get_by_role("heading", name="Pipeline board", exact=True)).to_be_visible()
    expect(board_column(page, "poc").locator(f".{key}")).to_have_count(1)
    expect(board_column(page, "demo").locator(f".{key}")).to_have_count(0)
    assert page.get_by_test_id("stException").count() == 0


def test_a_board_card_moves_to_closed_lost_through_the_menu_with_its_reason(server, context):
    page = signed_in_page(context, server, "sales_manager", "/board", "Pipeline board")
    count_before = column_count(page, "lead")

    page.get_by_role("button", name=re.compile("Move")).first.click()
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("heading", name="Move deal")).to_be_visible()
    expect(dialog.get_by_role("textbox")).to_have_count(0)  # no reason asked for yet
    dialog.get_by_role("combobox", name=re.compile("To stage")).click()
    page.get_by_role("option", name="Closed lost").click()
    dialog.get_by_role("button", name="Move").click()

    expect(dialog.get_by_role("heading", name="Close as lost")).to_be_visible()
    dialog.get_by_role("button", name="Close as lost").click()
    expect(dialog.get_by_text("Lost reason: is required when a deal is lost")).to_be_visible()
    dialog.get_by_role("textbox", name="Lost reason").fill("Chose to build in-house")
    dialog.get_by_role("button", name="Close as lost").click()
    expect(page.get_by_text(re.compile(r"Moved .+ to Closed lost\."))).to_be_visible()
    expect(page.get_by_test_id("stMarkdownContainer").filter(
        has_text=re.compile(rf"^Lead · {count_before - 1} deals?")).first).to_be_visible()


def test_a_card_dragged_to_another_column_is_there_after_a_reload(server, context):
    page = signed_in_page(context, server, "sales_manager", "/board", "Pipeline board")
    card = board_column(page, "demo").locator("[class*='st-key-card_']").first
    expect(card).to_have_attribute("data-isv-drag", "ready")
    customer = card.get_by_test_id("stPageLink-NavLink").first.inner_text().strip()
    card_class = next(c for c in card.get_attribute("class").split()
                      if c.startswith("st-key-card_"))

    drag(page, card, "poc")
    expect(page.get_by_text(f"Moved {customer} to PoC.")).to_be_visible()
    expect(board_column(page, "poc").locator(f".{card_class}")).to_have_count(1)

    page.reload()
    expect(page.get_by_role("heading", name="Pipeline board", exact=True)).to_be_visible()
    expect(board_column(page, "poc").locator(f".{card_class}")).to_have_count(1)
    expect(board_column(page, "demo").locator(f".{card_class}")).to_have_count(0)


def test_a_card_dropped_on_closed_lost_stays_put_when_the_reason_is_cancelled(
        server, context):
    page = signed_in_page(context, server, "sales_manager", "/board", "Pipeline board")
    page.get_by_text("Show closed stages").click()
    expect(board_column(page, "closed_lost")).to_be_visible()
    card = board_column(page, "proposal").locator("[class*='st-key-card_']").first
    card_class = next(c for c in card.get_attribute("class").split()
                      if c.startswith("st-key-card_"))
    drag(page, card, "closed_lost")
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("textbox", name="Lost reason")).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    expect(board_column(page, "proposal").locator(f".{card_class}")).to_have_count(1)
    expect(board_column(page, "closed_lost").locator(f".{card_class}")).to_have_count(0)


def test_two_people_saving_one_deal_the_second_is_refused_and_nothing_is_overwritten(
        server, browser):
    first_ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    second_ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    for ctx in (first_ctx, second_ctx):
        ctx.set_default_timeout(SLOW)
    try:
        first = signed_in_page(first_ctx, server, "vp", "/opportunities", "Opportunities")
        second = signed_in_page(second_ctx, server, "sales_manager", "/opportunities",
                                "Opportunities")
        customer = cell(first, 0, "Customer")
        assert cell(second, 0, "Customer") == customer  # the same deal on both screens

        edit_first_row(first, "Value", "11111")
        edit_first_row(second, "Value", "22222")
        save(first)
        expect(first.get_by_text("Saved: 1 changed.")).to_be_visible()
        save(second)
        expect(second.get_by_text(re.compile(r"Nothing was saved: 1 problem"))).to_be_visible()
        vp_name = server.accounts["vp"].name
        expect(second.get_by_test_id("stDataFrame").filter(
            has_text=f"Changed by {vp_name} at")).to_be_visible()

        second.get_by_role("button", name="Discard edits and reload").click()
        expect(second.get_by_text("Edits that were not saved")).to_be_visible()
        assert cell(second, 0, "Customer") == customer
        assert cell(second, 0, "Value") == "11111"  # the first save stands
    finally:
        first_ctx.close()
        second_ctx.close()
