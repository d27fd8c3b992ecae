"""A real Chromium: the directory's health score, and a partner page listing its parts."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from isv import display
from isv.auth import Viewer
from isv.db import session_scope
from isv.models import Partner
from isv.services import health
from tests.e2e.helpers import open_signed_in

pytestmark = pytest.mark.e2e
FIRST_RUN = 30_000  # ms: the first run of a page on a fresh server imports a lot


def test_the_vp_sees_a_partners_score_and_the_parts_that_add_up_to_it(server, context):
    with session_scope(server.database_url) as session:
        partner_id = session.scalars(select(Partner.id).order_by(Partner.name)).first()
        [score] = health.partner_scores(session=session, viewer=Viewer.system("tests"),
                                        partner_ids=[partner_id])
    vp = server.accounts["vp"]
    page = open_signed_in(context, server, vp, f"/partner_detail?id={partner_id}")

    metric = page.get_by_test_id("stMetric").filter(has_text="Health score")
    expect(metric).to_contain_text(f"{score.score} / 100", timeout=FIRST_RUN)
    page.get_by_text("Why this health score").click()
    why = page.get_by_test_id("stExpander").filter(has_text="Why this health score")
    expect(why.get_by_test_id("stDataFrame")).to_be_visible()
    # In the number language: a negative sum reads "−1" (a minus sign, not a hyphen).
    expect(why.get_by_text(f"The parts add up to {display.count(score.total)}")).to_be_visible()
