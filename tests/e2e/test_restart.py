"""In Chromium: the first person on a freshly started server is served as every later one."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.helpers import open_signed_in, wait_for_run

pytestmark = pytest.mark.e2e


def test_the_first_choice_in_the_first_session_after_a_restart_is_kept(fresh_server, context):
    # The server's first request, at a page's own address (a bookmark, a link in a mail).
    page = open_signed_in(context, fresh_server, fresh_server.accounts["vp"], "/import_data")
    expect(page.get_by_role("heading", name="Import / export")).to_be_visible()
    wait_for_run(page)

    box = page.get_by_role("combobox", name=re.compile("What to import"))
    box.click()
    page.get_by_role("option", name="Quarterly goals", exact=True).click()

    expect(page.get_by_text(re.compile("same user_email, year, quarter and goal_type"))
           ).to_be_visible()
    expect(box).to_have_value("Quarterly goals")
