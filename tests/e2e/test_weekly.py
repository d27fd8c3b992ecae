"""A real Chromium: a weekly status typed (never leaving the box), reloaded, submitted, and
read by the VP."""

from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import COOKIE_NAME, PATIENCE_MS
from tests.e2e.helpers import open_signed_in, wait_for_cookie

pytestmark = pytest.mark.e2e
SAVED = re.compile(r"^Saved \d\d:\d\d:\d\d$")


def saved_note(page, label: str):
    """The line under a weekly box that says when its text was last stored."""
    return (page.locator(".isv-autosave", has=page.get_by_role("textbox", name=label))
            .get_by_role("status"))


def type_at_the_end(page, label: str, text: str):
    box = page.get_by_role("textbox", name=label)
    box.click()
    page.keyboard.press("Control+End")
    page.keyboard.type(text)
    return box


def test_a_status_typed_without_leaving_the_box_survives_a_reload_and_the_vp_sees_it(
        server, browser, context):
    partner = server.accounts["partnership_manager"]
    tag = uuid.uuid4().hex[:8]
    done = f"Signed the Initech renewal ({tag})"
    blocker = f"Waiting on legal for the Globex MSA ({tag})"

    page = open_signed_in(context, server, partner, "/weekly_status")
    expect(page.get_by_role("heading", name="Weekly status")).to_be_visible()
    accomplishments = type_at_the_end(page, "Accomplishments", f"\n{done}")
    # Saved while the cursor is still in the box: no Tab, no click elsewhere.
    expect(saved_note(page, "Accomplishments")).to_have_text(SAVED)
    expect(accomplishments).to_be_focused()

    wait_for_cookie(context, COOKIE_NAME)  # the reload signs in again from it
    page.reload()
    accomplishments = page.get_by_role("textbox", name="Accomplishments")
    expect(accomplishments).to_have_value(re.compile(rf"\n{re.escape(done)}$"))

    blockers = type_at_the_end(page, "Blockers", f"\n{blocker}")
    expect(saved_note(page, "Blockers")).to_have_text(SAVED)
    expect(blockers).to_be_focused()
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_text("Submitted your status for the week of")).to_be_visible()
    expect(page.get_by_role("textbox", name="Accomplishments")).to_be_disabled()

    vp = server.accounts["vp"]
    other = browser.new_context(viewport={"width": 1400, "height": 900})
    other.set_default_timeout(PATIENCE_MS)
    try:
        team = open_signed_in(other, server, vp, "/team_status")
        expect(team.get_by_role("heading", name="Team status")).to_be_visible()
        rolled_up = team.get_by_role("listitem").filter(has_text=blocker)
        expect(rolled_up).to_contain_text(partner.name)
        team.get_by_text(f"{partner.name} — submitted").click()
        expect(team.get_by_text(done)).to_be_visible()
    finally:
        other.close()


def test_text_typed_a_moment_before_a_reload_is_kept_and_saved(server, context):
    sales = server.accounts["sales_manager"]
    upcoming_line = f"Book the Q1 QBRs ({uuid.uuid4().hex[:8]})"

    page = open_signed_in(context, server, sales, "/weekly_status")
    type_at_the_end(page, "Upcoming", f"\n{upcoming_line}")
    wait_for_cookie(context, COOKIE_NAME)
    page.reload()                         # at once: before the box has sent anything
    kept = re.compile(rf"\n{re.escape(upcoming_line)}$")
    expect(page.get_by_role("textbox", name="Upcoming")).to_have_value(kept)
    expect(saved_note(page, "Upcoming")).to_have_text(SAVED)

    page.reload()                         # now from the database
    expect(page.get_by_role("textbox", name="Upcoming")).to_have_value(kept)
