"""What a person does in the browser: open the app, sign in, read the navigation, sign out."""

from __future__ import annotations

import re
import time

from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from isv.auth import LOGIN_REFUSED, new_token
from isv.db import session_scope
from isv.services import sessions
from isv.ui.nav import PAGES, PageSpec
from isv.ui.tables import TABLE_MAX_ROWS
from tests.e2e.conftest import COOKIE_NAME, Account, Server


def open_app(context: BrowserContext, base: str, path: str = "/") -> Page:
    page = context.new_page()
    page.goto(base + path)
    return page


def email_box(page: Page):
    """The login form's Email box. Exactly that name: Playwright matches a part of a name by
    default, and the deal registration form has a "Contact email" box."""
    return page.get_by_role("textbox", name="Email", exact=True)


def sign_out_button(page: Page):
    return page.get_by_role("button", name="Sign out")


def submit_login(page: Page, email: str, password: str) -> None:
    email_box(page).fill(email)
    page.get_by_role("textbox", name="Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_in(page: Page, email: str, password: str) -> None:
    """Sign in through the form; done once the cookie is there too, as a new tab needs it.

    The page is drawn while the browser fetches the cookie route in the background: an
    address opened in the same moment could still find no cookie.
    """
    submit_login(page, email, password)
    expect(sign_out_button(page)).to_be_visible()
    wait_for_cookie(page.context, COOKIE_NAME, timeout=60)


def expect_refused(page: Page) -> None:
    expect(page.get_by_text(LOGIN_REFUSED)).to_be_visible()
    expect(sign_out_button(page)).to_have_count(0)


def expect_login_form(page: Page) -> None:
    expect(email_box(page)).to_be_visible()
    expect(sign_out_button(page)).to_have_count(0)


def nav_entries(page: Page, expected: list[str]) -> list[str]:
    """The page titles in the sidebar navigation, once as many as expected have appeared."""
    expect(sign_out_button(page)).to_be_visible()
    links = page.get_by_test_id("stSidebarNavLink")
    # Streamlit shows no navigation at all for a single page.
    expect(links).to_have_count(len(expected) if len(expected) > 1 else 0)
    # Each link reads "<icon name>\n\n<title>"; the title is the last line.
    return [text.split("\n")[-1].strip() for text in links.all_inner_texts()]


def wait_for_cookie(context: BrowserContext, name: str, timeout: float = 10) -> list[dict]:
    """The cookie is set by the server route the page sends the browser to after sign-in."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cookies = context.cookies()
        if any(cookie["name"] == name for cookie in cookies):
            return cookies
        time.sleep(0.1)
    raise AssertionError(f"cookie {name} was never set")


def wait_for_no_cookie(context: BrowserContext, name: str, timeout: float = 60) -> None:
    """Sign-out clears the cookie in the logout route the page sends the browser to."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(cookie["name"] != name for cookie in context.cookies()):
            return
        time.sleep(0.1)
    raise AssertionError(f"cookie {name} was never cleared")


# Text that sticks out of the page's main column and is not inside something that scrolls or
# clips it (a data grid, a truncated card line): what a reader would see cut off at the edge.
_CUT_OFF_TEXT = """
() => {
  // Text that sticks out of the page's main column and is not inside something that
  // scrolls or clips it (a data grid, a code block): a reader would see it cut off.
  const main = document.querySelector('[data-testid=stMainBlockContainer]');
  const limit = Math.min(main.getBoundingClientRect().right, window.innerWidth) + 1;
  const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
  const cut = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.textContent.trim()) continue;
    const range = document.createRange();
    range.selectNodeContents(node);
    const box = range.getBoundingClientRect();
    if (box.width === 0 || box.right <= limit) continue;
    let held = false;
    for (let a = node.parentElement; a && a !== main; a = a.parentElement) {
      const x = getComputedStyle(a).overflowX;
      if (x !== 'visible' && a.getBoundingClientRect().right <= limit) { held = true; break; }
    }
    if (!held) cut.push(node.textContent.trim().slice(0, 40));
  }
  return cut;
}
"""


def cut_off_text(page: Page) -> list[str]:
    """The start of every text on the page that runs past the main column's right edge."""
    return page.evaluate(_CUT_OFF_TEXT)


def open_signed_in(context: BrowserContext, server: Server, account: Account,
                   path: str = "/") -> Page:
    """`path` in a new tab of `context`, signed in from its first load.

    Signed in by a cookie for a server session started in the app's database, as a form
    login starts one. The form, its run and the cookie route cost two loads of the front end
    more and are tested on their own (test_browser.py, test_cookie.py); this is for tests
    about what comes after signing in.
    """
    token = new_token()
    with session_scope(server.database_url) as session:
        sessions.start_session(session=session, token=token,
                               user=sessions.find_user_by_email(session, account.email))
        session.commit()
    context.add_cookies([{"name": COOKIE_NAME, "value": token, "url": server.url,
                          "httpOnly": True, "sameSite": "Strict"}])
    page = open_app(context, server.url, path)
    # In the sidebar, collapsed or not: there is no Sign out button until signed in.
    expect(sign_out_button(page)).to_be_attached(timeout=60_000)
    return page


def signed_in_window(browser: Browser, server: Server, account: Account, *, width: int,
                     height: int = 900, path: str = "/") -> tuple[BrowserContext, Page]:
    """A fresh browser window of the given size, open on `path` (the landing page by
    default), signed in."""
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(60_000)
    return context, open_signed_in(context, server, account, path)


def wait_for_run(page: Page, timeout: float = 60_000) -> None:
    """Wait until the page's script run has ended: Streamlit marks its root element with
    the run's state, and shows a status widget while a run goes on."""
    expect(page.get_by_test_id("stApp")).to_have_attribute(
        "data-test-script-state", "notRunning", timeout=timeout)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=timeout)


# Go to a path inside the app already open, as the browser's Back and Forward buttons do:
# Streamlit's front end reads the address on `popstate` and asks its session for that page.
_GO_TO = """
(path) => {
  window.history.pushState({}, '', path);
  window.dispatchEvent(new PopStateEvent('popstate'));
}
"""


def go_in_app(page: Page, path: str, title: str) -> None:
    """Go to `path` (with its query) inside the app already open, as Back and Forward do,
    and wait until the page titled `title` shows and its run has ended.

    One run of the page, without loading the whole front end again: for tests about what
    a page shows, not about opening it. The page shown before must have another heading:
    the new one is what says the new run has begun.
    """
    heading = page.get_by_role("heading", name=title, exact=True).first
    wait_for_run(page)  # the page before has finished: its run is not mistaken for this
    assert heading.count() == 0, f"already on {title!r}"
    page.evaluate(_GO_TO, path)
    expect(heading).to_be_visible(timeout=60_000)
    wait_for_run(page)


def visit(page: Page, base: str, spec: PageSpec, *, in_app: bool = False) -> None:
    """Open a page by its address and wait for its run to end; it must show no error and
    no text cut off at the edge.

    By default the browser loads the address anew (a new Streamlit session, signed in by
    the cookie). `in_app=True` goes to the address inside the app already open, as Back and
    Forward do (and as a sidebar click does): one run of the page, without loading the
    whole front end again, for tests that read many pages and are not about opening one.
    """
    # The landing page lives at the root address, every other page at its own.
    path = f"/{'' if spec == PAGES[0] else spec.url_path}"
    heading = page.get_by_role("heading", name=spec.title, exact=True).first
    if not in_app:
        page.goto(base + path)
        expect(heading).to_be_visible(timeout=60_000)
        wait_for_run(page)
    else:
        wait_for_run(page)
        # Already there (a tour starting on the landing page): its run has just ended.
        if heading.count() == 0:
            go_in_app(page, path, spec.title)
    assert page.get_by_test_id("stException").count() == 0, spec.title
    assert cut_off_text(page) == [], spec.title


# Every word of a board card whose letters sit on more than one line, and every card whose
# text is wider than the card itself.
_BROKEN_CARD_WORDS = """
() => {
  const broken = [];
  for (const card of document.querySelectorAll('[class*="st-key-card_"]')) {
    const walker = document.createTreeWalker(card, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const words = /\\S+/g;
      for (let m = words.exec(node.textContent); m; m = words.exec(node.textContent)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0)
                                .map((r) => Math.round(r.bottom)));
        if (lines.size > 1) broken.push(m[0]);
      }
    }
    if (card.scrollWidth > card.clientWidth + 1) broken.push(`too wide: ${card.innerText}`);
  }
  return broken;
}
"""


def broken_card_words(page: Page) -> list[str]:
    """Words split over two lines in board cards (and cards whose text overflows them)."""
    return page.evaluate(_BROKEN_CARD_WORDS)


# Text inside `selector` that is wider than a box clipping it (an ellipsis, overflow hidden).
_CLIPPED_TEXT = """
(selector) => {
  const clipped = [];
  for (const root of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.textContent.trim()) continue;
      const range = document.createRange();
      range.selectNodeContents(node);
      const text = range.getBoundingClientRect();
      for (let a = node.parentElement; a && a !== document.body; a = a.parentElement) {
        const style = getComputedStyle(a);
        if (style.overflowX === 'visible' && style.textOverflow !== 'ellipsis') continue;
        const box = a.getBoundingClientRect();
        if (text.right > box.right + 1 || text.left < box.left - 1) {
          clipped.push(node.textContent.trim());
          break;
        }
      }
    }
  }
  return clipped;
}
"""


def clipped_text(page: Page, selector: str) -> list[str]:
    """Texts under `selector` that a clipping box cuts off (shown with '…' or not at all)."""
    return page.evaluate(_CLIPPED_TEXT, selector)


# Each visible result table: its rows, its height, and whether it scrolls inside itself.
_TABLES = """
() => [...document.querySelectorAll('[data-testid=stDataFrame]')]
  .filter((d) => d.offsetParent !== null && d.querySelector('table[aria-rowcount]'))
  .map((d) => {
    const scroller = d.querySelector('.dvn-scroller');
    return {rows: Number(d.querySelector('table').getAttribute('aria-rowcount')) - 1,
            height: d.getBoundingClientRect().height,
            scrolls: scroller.scrollHeight > scroller.clientHeight + 1};
  })
"""


# KPI cards (bordered boxes holding a metric) side by side in one row that differ in height.
_UNEVEN_CARD_ROWS = """
() => {
  const rows = new Map();
  for (const metric of document.querySelectorAll('[data-testid=stMetric]')) {
    const row = metric.closest('[data-testid=stHorizontalBlock]');
    const card = metric.closest(
      '[data-testid=stColumn] [data-testid=stVerticalBlock] [data-testid=stVerticalBlock]');
    if (!row || !card || card.offsetParent === null) continue;
    if (!rows.has(row)) rows.set(row, []);
    rows.get(row).push(Math.round(card.getBoundingClientRect().height));
  }
  return [...rows.values()].filter((h) => Math.max(...h) - Math.min(...h) > 1);
}
"""


def uneven_card_rows(page: Page) -> list[list[int]]:
    """The heights of each row of KPI cards whose cards are not all as tall as each other,
    once the layout has settled (a card still growing after its run ended reads uneven)."""
    last = page.evaluate(_UNEVEN_CARD_ROWS)
    for _ in range(20):
        if not last:
            return last
        page.wait_for_timeout(250)
        now = page.evaluate(_UNEVEN_CARD_ROWS)
        if now == last:
            return now
        last = now
    return last


def tables(page: Page) -> list[dict]:
    return page.evaluate(_TABLES)


def sidebar_collapsed(page: Page) -> bool:
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar).to_have_attribute("data-collapsed", re.compile("true|false"))
    return sidebar.get_attribute("data-collapsed") == "true"


# The data grid draws on a canvas; its accessible table says which cell is selected: the
# grid focuses that cell's element, `glide-cell-<column>-<row>` (columns counted from the
# row marker, 0). A cell editor, once open, takes the focus into the grid's overlay; a
# select box there highlights the option it would take (aria-activedescendant).
_FOCUSED_CELL = "(id) => document.activeElement && document.activeElement.id === id"
_EDITOR_HOLDS = """(text) => {
  const box = document.activeElement;
  if (!box || !box.closest('[id^=gdg-overlay]') || box.value !== text) return false;
  const option = box.getAttribute('aria-activedescendant');  // a select box's highlight
  return !option || (document.getElementById(option)?.textContent ?? '').includes(text);
}"""


def grid_cell_id(column: int, row: int = 0) -> str:
    return f"glide-cell-{column}-{row}"


def click_grid_cell(page: Page, grid: Locator, dx: float, dy: float, column: int,
                    row: int = 0, attempts: int = 3) -> None:
    """Click `grid` at (dx, dy) from its top left corner and return once the grid has
    selected that cell.

    A run that draws the grid anew in the same moment can swallow a click, and one that adds
    a line above it moves it: each try measures the grid again and clicks again, never
    assuming a click landed after a fixed pause.
    """
    cell_id = grid_cell_id(column, row)
    for _ in range(attempts):
        grid.scroll_into_view_if_needed()
        box = grid.bounding_box()
        page.mouse.click(box["x"] + dx, box["y"] + dy)
        try:
            page.wait_for_function(_FOCUSED_CELL, arg=cell_id, timeout=10_000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"the grid never selected {cell_id} after {attempts} clicks")


def press_to_cell(page: Page, key: str, column: int, row: int = 0) -> None:
    """Press `key` in the grid and wait until the selection has moved to that cell."""
    page.keyboard.press(key)
    page.wait_for_function(_FOCUSED_CELL, arg=grid_cell_id(column, row))


def type_into_cell_editor(page: Page, text: str) -> None:
    """Open the selected cell's editor (Enter), replace its text with `text` and return once
    the editor holds it (a select box has then filtered its options down to it)."""
    page.keyboard.press("Enter")
    page.wait_for_function("() => !!document.activeElement"
                           " && !!document.activeElement.closest('[id^=gdg-overlay]')")
    page.keyboard.press("ControlOrMeta+A")
    page.keyboard.type(text, delay=50)
    page.wait_for_function(_EDITOR_HOLDS, arg=text)


# The tablet checks: test_analytics.py tours the analytics pages of each role at tablet
# width with them, test_tablet.py every other page, so each page is drawn once per role at
# that width, in a window of the same size.
TABLET, TABLET_TOUR_HEIGHT = 1024, 800
ANALYTICS = [page for page in PAGES if page.section == "Analytics" and page.visible]
ROW_PX = 35  # a table row, and its header
KPI_DELTAS = "[data-testid=stMetricDelta], [data-testid=stMetricDeltaDescription]"


def open_data_tables(page) -> None:
    """Open every chart's "Data: …" expander, so its table is drawn and can be measured;
    return once each shows its table and no table's size changes between two looks."""
    expanders = page.get_by_test_id("stExpander").filter(
        has=page.locator("summary", has_text="Data:"))
    # All at once: clicked one by one, each click waits for the one before to stop moving
    # the page (0.75 s each); what is measured here is the tables, not the clicking.
    expanders.locator("summary").evaluate_all("summaries => summaries.forEach(s => s.click())")
    for n in range(expanders.count()):
        grid = expanders.nth(n).get_by_test_id("stDataFrame")
        expect(grid).to_be_visible()
        expect(grid.locator("table[aria-rowcount]")).to_be_attached()
    if expanders.count():
        settled_tables(page)


def settled_tables(page, timeout: float = 10) -> list[dict]:
    """The page's tables once two looks 0.2 s apart measure them the same (a grid sizes
    itself a moment after it is drawn)."""
    deadline = time.monotonic() + timeout
    last = tables(page)
    while time.monotonic() < deadline:
        page.wait_for_timeout(200)
        now = tables(page)
        if now == last:
            break
        last = now
    return last


def tables_that_do_not_fit(page) -> list[dict]:
    """Tables that scroll inside a box though short, or sit in a box taller than their rows
    (one extra row allowed: an editable table's "add row" line)."""
    return [t for t in tables(page) if t["rows"] <= TABLE_MAX_ROWS
            and (t["scrolls"] or t["height"] > (t["rows"] + 2) * ROW_PX + 8)]


def assert_fits_a_tablet(page: Page, title: str) -> None:
    """The page open in a tablet window: no KPI delta cut short, KPI cards in a row equally
    tall, and every table, its "Data: …" expander opened, as tall as its rows."""
    assert clipped_text(page, KPI_DELTAS) == [], title
    assert uneven_card_rows(page) == [], title
    open_data_tables(page)
    assert tables_that_do_not_fit(page) == [], title
