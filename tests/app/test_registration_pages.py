"""Deal registration in the app: the public form (no account), the partner page's links, and
approving or rejecting on the registrations page. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from isv.auth import Viewer
from isv.db import session_scope
from isv.models import (
    DealRegistration,
    Opportunity,
    Partner,
    RegistrationLink,
    StageHistory,
)
from isv.services import registrations, sessions
from isv.services.settings import local_today
from isv.types import utcnow
from tests.app.conftest import LOGINS, login_as, messages, new_app, plain, signed_in
from tests.factories import make_opportunity, make_partner

PUBLIC = "pages/register.py"
PAGE = "pages/registrations.py"


@pytest.fixture(autouse=True)
def _database(any_app_db):
    return any_app_db


@pytest.fixture
def partner():
    """Nimbus Cloud, owned by Pia (a partnership manager), with a live link; its secret."""
    with session_scope() as s:
        pia = sessions.find_user_by_email(s, LOGINS["partnership_manager"].email)
        nimbus = make_partner(s, name="Nimbus Cloud", owner_id=pia.id)
        made = registrations.create_link(session=s, viewer=Viewer.of(pia),
                                         partner_id=nimbus.id, days=30)
        done = {"id": nimbus.id, "secret": made.secret, "link_id": made.link.id,
                "pia": Viewer.of(pia)}
        s.commit()
        return done


def open_form(secret: str | None):
    at = new_app().run()
    at.switch_page(PUBLIC)
    if secret is not None:
        at.query_params["token"] = secret
    at.run()
    assert not at.exception, at.exception
    return at


def fill(at, *, customer="Acme, Inc.", email="buyer@acme.com", value="48000.50",
         close=None, notes="Wants dashboards"):
    at.text_input(key="reg_customer").set_value(customer)
    at.text_input(key="reg_email").set_value(email)
    at.text_input(key="reg_value").set_value(value)
    at.date_input(key="reg_close").set_value(close)
    at.text_area(key="reg_notes").set_value(notes)
    at.button(key="reg_submit").click().run()
    assert not at.exception, at.exception
    return at


def stored() -> list[DealRegistration]:
    with session_scope() as s:
        return list(s.scalars(select(DealRegistration)))


def test_the_link_opens_the_form_without_an_account_and_shows_nothing_else(partner):
    at = open_form(partner["secret"])
    assert not signed_in(at)
    assert [t.value for t in at.title] == ["Register a deal"]
    assert "Nimbus Cloud" in " ".join(plain(c.value) for c in at.caption)
    assert {t.key for t in at.text_input} == {"reg_customer", "reg_email", "reg_value"}
    assert len(at.sidebar.button) == 0 and not at.dataframe


def test_a_registration_sent_through_the_form_arrives_pending(partner):
    at = fill(open_form(partner["secret"]), close=local_today() + timedelta(days=45))
    assert any("your registration of Acme, Inc." in m for m in messages(at.success))
    [row] = stored()
    assert (row.customer_name, row.deal_value, row.status) == (
        "Acme, Inc.", Decimal("48000.50"), "pending")
    assert at.text_input(key="reg_customer").value == ""


def test_bad_input_is_refused_field_by_field_and_nothing_is_stored(partner):
    at = fill(open_form(partner["secret"]), customer="", email="not-an-email", value="lots",
              notes="x" * 10)
    shown = messages(at.error)
    assert "Customer: is required" in shown
    assert "Contact email: 'not-an-email' is not an email address" in shown
    assert "Value estimate: 'lots' is not an amount like 1234.50" in shown
    assert "Expected close: is required" in shown
    assert stored() == []


@pytest.mark.parametrize("how", ["revoked", "expired", "unknown", "missing"])
def test_a_dead_link_is_refused_and_shows_no_form(partner, how):
    secret = partner["secret"]
    with session_scope() as s:
        if how == "revoked":
            registrations.revoke_link(session=s, viewer=partner["pia"],
                                      link_id=partner["link_id"])
        elif how == "expired":
            s.get(RegistrationLink, partner["link_id"]).expires_at = utcnow() - timedelta(
                minutes=1)
        s.commit()
    at = open_form({"unknown": "made-up-token", "missing": None}.get(how, secret))
    [error] = messages(at.error)
    assert {"revoked": "was revoked", "expired": "expired on", "unknown": "not valid",
            "missing": "not valid"}[how] in error
    assert not at.text_input and not signed_in(at)


def register(secret: str, **overrides) -> DealRegistration:
    values = dict(customer_name="Acme Ltd", contact_email="buyer@acme.com",
                  deal_value="48000.50", expected_close_date=local_today() + timedelta(days=40))
    values.update(overrides)
    with session_scope() as s:
        done = registrations.submit_registration(session=s, secret=secret, **values)
        s.commit()
        return done


def open_page(role: str = "partnership_manager", **params):
    at = login_as(role, PAGE, **params)
    assert not at.exception, at.exception
    return at


def test_approving_creates_the_deal_with_its_history_row(partner):
    row = register(partner["secret"])
    at = open_page()
    at.button(key=f"reg_approve_{row.id}").click().run()
    assert not at.exception, at.exception
    assert any("Approved: Acme Ltd" in m for m in messages(at.success))
    with session_scope() as s:
        decided = s.get(DealRegistration, row.id)
        deal = s.get(Opportunity, decided.opportunity_id)
        assert (decided.status, deal.partner_id, deal.stage) == ("approved", partner["id"],
                                                                 "lead")
        assert [h.to_stage for h in s.scalars(select(StageHistory).where(
            StageHistory.opportunity_id == deal.id))] == ["lead"]
    links = [link.proto for link in at.get("page_link")]
    assert any(link.label == "Open the deal it created" and link.page == "opportunity_detail"
               and link.query_string == f"id={deal.id}" for link in links)


def test_rejecting_asks_for_a_reason_first(partner):
    row = register(partner["secret"])
    at = open_page()
    at.button(key=f"reg_reject_{row.id}").click().run()
    at.button(key=f"reg_reject_confirm_{row.id}").click().run()
    assert "Reason: is required" in messages(at.error)
    at.text_area(key=f"reg_reason_{row.id}").set_value("The customer is already ours")
    at.button(key=f"reg_reject_confirm_{row.id}").click().run()
    assert not at.exception, at.exception
    [decided] = stored()
    assert (decided.status, decided.reject_reason) == ("rejected",
                                                       "The customer is already ours")


def test_a_colliding_registration_links_to_the_deal(partner):
    with session_scope() as s:
        deal = make_opportunity(s, s.get(Partner, partner["id"]), customer_name="ACME Corp")
        deal_id = deal.id
        s.commit()
    row = register(partner["secret"])
    at = open_page("sales_manager", status="pending")
    assert any("Possible conflict" in m for m in messages(at.warning))
    links = [link.proto for link in at.get("page_link")]
    [link] = [link for link in links if link.page == "opportunity_detail"]
    assert link.query_string == f"id={deal_id}"
    assert plain(link.label).startswith("Deal: ACME Corp (Nimbus Cloud)")
    assert row.conflicts


def test_the_filters_live_in_the_address(partner):
    register(partner["secret"])
    at = open_page("sales_manager", status="rejected")
    assert at.selectbox(key="reg_status").value == "rejected"
    assert any("No registrations match" in m for m in messages(at.info))
    at.selectbox(key="reg_status").set_value("pending").run()
    assert at.query_params["status"] == "pending"
    at.selectbox(key="reg_partner").set_value(str(partner["id"])).run()
    assert at.query_params["partner"] == str(partner["id"])


def test_the_partner_page_makes_a_link_shown_once(partner):
    at = login_as("partnership_manager", "pages/partner_detail.py", id=str(partner["id"]))
    at.button(key="reg_link_make").click().run()
    assert not at.exception, at.exception
    [code] = [c.value for c in at.code if "token=" in c.value]
    assert "register?token=" in code
    secret = code.split("token=", 1)[1]
    with session_scope() as s:
        assert registrations.open_link(session=s, secret=secret).partner_name == "Nimbus Cloud"
