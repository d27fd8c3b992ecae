"""A real Chromium: a partner registers a deal through its link without an account, and the
partner's manager approves it into a deal."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from isv.auth import Viewer
from isv.db import session_scope
from isv.models import DealRegistration, Opportunity, Partner, StageHistory
from isv.services import registrations
from isv.services.settings import local_today
from tests.e2e.helpers import email_box, open_app, sign_out_button, submit_login, wait_for_run

pytestmark = pytest.mark.e2e
FIRST_RUN = 30_000  # ms: the first run of a page on a fresh server imports a lot
CUSTOMER = "Browser Registered Co"


def test_a_partner_registers_through_its_link_and_the_vp_approves_it(server, context):
    with session_scope(server.database_url) as session:
        partner = session.scalars(select(Partner).order_by(Partner.name)).first()
        partner_id, partner_name = partner.id, partner.name
        secret = registrations.create_link(session=session, viewer=Viewer.system("e2e"),
                                           partner_id=partner_id, days=30).secret
        session.commit()
    close = local_today() + timedelta(days=60)

    page = open_app(context, server.url, f"/register?token={secret}")
    expect(page.get_by_role("heading", name="Register a deal")).to_be_visible(timeout=FIRST_RUN)
    expect(page.get_by_text(f"For {partner_name}'s partner program")).to_be_visible()
    expect(email_box(page)).to_have_count(0)
    expect(sign_out_button(page)).to_have_count(0)
    page.get_by_role("textbox", name="Customer").fill(CUSTOMER)
    page.get_by_role("textbox", name="Contact email").fill("buyer@browser-registered.example")
    page.get_by_role("textbox", name="Value estimate").fill("61000.25")
    close_box = page.get_by_test_id("stDateInput").locator("input")
    close_box.fill(close.isoformat())
    close_box.press("Enter")
    page.get_by_role("textbox", name="Notes").fill("Wants the FinOps bundle")
    page.get_by_role("button", name="Register the deal").click()
    expect(page.get_by_text(f"your registration of {CUSTOMER}")).to_be_visible()
    with session_scope(server.database_url) as session:
        [row] = session.scalars(select(DealRegistration)
                                .where(DealRegistration.customer_name == CUSTOMER)).all()
        registration_id = row.id
        assert row.expected_close_date == close and str(row.deal_value) == "61000.25"

    vp = server.accounts["vp"]
    page.goto(f"{server.url}/registrations?status=pending&partner={partner_id}")
    expect(email_box(page)).to_be_visible(timeout=FIRST_RUN)
    submit_login(page, vp.email, vp.password)
    expect(sign_out_button(page)).to_be_visible(timeout=FIRST_RUN)
    card = page.locator(f".st-key-reg_card_{registration_id}")
    expect(card.get_by_text(CUSTOMER).first).to_be_visible(timeout=FIRST_RUN)
    card.get_by_role("button", name="Approve and create the deal").click()
    expect(page.get_by_text(f"Approved: {CUSTOMER} is now a deal of {partner_name}.")
           ).to_be_visible()
    wait_for_run(page)
    with session_scope(server.database_url) as session:
        row = session.get(DealRegistration, registration_id)
        deal = session.get(Opportunity, row.opportunity_id)
        assert (row.status, deal.customer_name, deal.partner_id) == (
            "approved", CUSTOMER, partner_id)
        assert [h.to_stage for h in session.scalars(select(StageHistory).where(
            StageHistory.opportunity_id == deal.id))] == ["lead"]
