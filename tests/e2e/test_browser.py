"""A real Chromium against `streamlit run app.py`: login, navigation by role, cookies."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from isv.ui.nav import PAGES, not_for_role, pages_for
from tests.e2e.conftest import COOKIE_NAME
from tests.e2e.helpers import (
    expect_login_form,
    expect_refused,
    go_in_app,
    nav_entries,
    open_app,
    open_signed_in,
    sign_in,
    sign_out_button,
    submit_login,
    wait_for_cookie,
)

pytestmark = pytest.mark.e2e

ROLES = ("vp", "sales_manager", "partnership_manager", "admin")


@pytest.mark.parametrize("role", ROLES)
def test_each_role_sees_exactly_its_navigation(server, context, role):
    account = server.accounts[role]
    # The sidebar is the same on every page: read on the lightest one every role has.
    page = open_signed_in(context, server, account, "/account")
    titles = [spec.title for spec in pages_for(role) if spec.visible]
    assert nav_entries(page, titles) == (titles if len(titles) > 1 else [])
    expect(page).to_have_title("Account · ISV Pipeline Tracker")  # the tab names the page
    # The sidebar names who is signed in (a page's content may name them too).
    expect(page.get_by_test_id("stSidebarUserContent").get_by_text(account.name, exact=True)
           ).to_be_visible()
    # A link someone shared to a page this role may not use says who may, and shows nothing
    # of the page.
    barred = next((spec for spec in PAGES if role not in spec.roles), None)
    if barred is not None:
        go_in_app(page, f"/{barred.url_path}", barred.title)
        expect(page.get_by_text(not_for_role(barred, role))).to_be_visible()
        expect(page.get_by_test_id("stDataFrame")).to_have_count(0)


def test_six_wrong_passwords_from_six_browsers_lock_the_account(server, browser):
    account = server.lockable[0]
    for attempt in range(6):
        ctx = browser.new_context()
        page = open_app(ctx, server.url)
        submit_login(page, account.email, f"wrong-password-{attempt}")
        expect_refused(page)
        ctx.close()
    ctx = browser.new_context()
    page = open_app(ctx, server.url)
    submit_login(page, account.email, account.password)
    expect_refused(page)
    ctx.close()


def test_cookie_signs_in_a_new_browser_without_a_password(server, browser, context):
    account = server.accounts["sales_manager"]
    # Signed in at a light page's address: what is tested is the cookie, not the dashboard.
    page = open_app(context, server.url, "/account")
    sign_in(page, account.email, account.password)
    cookies = wait_for_cookie(context, COOKIE_NAME)

    other = browser.new_context()
    try:
        other.add_cookies(cookies)
        again = open_app(other, server.url, "/account")
        expect(sign_out_button(again)).to_be_visible()
        expect(again.get_by_test_id("stSidebarUserContent")
               .get_by_text(account.name, exact=True)).to_be_visible()
    finally:
        other.close()
    page.reload()  # the first browser is still signed in too
    expect(sign_out_button(page)).to_be_visible()


def test_after_sign_out_the_old_cookie_signs_nobody_in(server, browser, context):
    account = server.lockable[1]
    page = open_app(context, server.url, "/account")
    sign_in(page, account.email, account.password)
    cookies = wait_for_cookie(context, COOKIE_NAME)
    sign_out_button(page).click()
    expect_login_form(page)
    expect(page.get_by_text("You signed out.")).to_be_visible()

    replay = browser.new_context()
    try:
        replay.add_cookies(cookies)
        again = open_app(replay, server.url)
        expect_login_form(again)
    finally:
        replay.close()


@pytest.mark.parametrize(("width", "height"), [(1400, 900), (1024, 768)])
def test_partner_directory_fits_the_screen(server, browser, width, height):
    account = server.accounts["vp"]
    ctx = browser.new_context(viewport={"width": width, "height": height})
    try:
        # A deep link: the login form shows at /partners, and the page opens after login.
        page = open_app(ctx, server.url, "/partners")
        sign_in(page, account.email, account.password)
        expect(page.get_by_role("heading", name="Partners", exact=True)).to_be_visible()
        grid = page.get_by_test_id("stDataFrame").first
        expect(grid).to_be_visible()
        expect(page.get_by_text("partners", exact=False).last).to_be_visible()
        expect(grid.locator("canvas").first).to_be_visible()
        page.wait_for_timeout(500)  # the grid paints its canvas just after it appears
        box = grid.bounding_box()
        assert box is not None and box["x"] + box["width"] <= width
        # Kept for a human to look at after layout changes.
        page.screenshot(path=f"/tmp/isv-partners-{width}x{height}.png")
    finally:
        ctx.close()
