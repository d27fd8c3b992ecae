"""A real Chromium: a weekly status typed, reloaded, submitted, and read by the VP."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import COOKIE_NAME
from tests.e2e.helpers import email_box, open_app, sign_out_button, submit_login, wait_for_cookie

pytestmark = pytest.mark.e2e
FIRST_RUN = 30_000  # ms: the first run of a page on a fresh server imports a lot


def sign_in(page, account) -> None:
    expect(email_box(page)).to_be_visible(timeout=FIRST_RUN)
    submit_login(page, account.email, account.password)
    expect(sign_out_button(page)).to_be_visible(timeout=FIRST_RUN)


def test_a_typed_status_survives_a_reload_and_the_vp_sees_it_submitted(server, browser,
                                                                       context):
    sales = server.accounts["sales_manager"]
    tag = uuid.uuid4().hex[:8]
    done = f"Signed the Initech renewal ({tag})"
    blocker = f"Waiting on legal for the Globex MSA ({tag})"

    page = open_app(context, server.url, "/weekly_status")
    sign_in(page, sales)
    expect(page.get_by_role("heading", name="Weekly status")).to_be_visible()
    accomplishments = page.get_by_role("textbox", name="Accomplishments")
    accomplishments.fill(done)
    accomplishments.press("Tab")          # leaving the box saves the draft
    expect(page.get_by_text("Changes saved at")).to_be_visible()
    blockers = page.get_by_role("textbox", name="Blockers")
    blockers.fill(blocker)
    blockers.press("Tab")
    expect(page.get_by_role("button", name="Submit")).to_be_enabled()

    wait_for_cookie(context, COOKIE_NAME)  # the reload signs in again from it
    page.reload()
    expect(page.get_by_role("textbox", name="Accomplishments")).to_have_value(done)
    expect(page.get_by_role("textbox", name="Blockers")).to_have_value(blocker)

    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_text("Submitted your status for the week of")).to_be_visible()
    expect(page.get_by_role("textbox", name="Accomplishments")).to_be_disabled()

    vp = server.accounts["vp"]
    other = browser.new_context(viewport={"width": 1400, "height": 900})
    other.set_default_timeout(15_000)
    try:
        team = open_app(other, server.url, "/team_status")
        sign_in(team, vp)
        expect(team.get_by_role("heading", name="Team status")).to_be_visible()
        rolled_up = team.get_by_role("listitem").filter(has_text=blocker)
        expect(rolled_up).to_contain_text(sales.name)
        expect(team.get_by_text(f"{sales.name} — submitted")).to_be_visible()
    finally:
        other.close()
