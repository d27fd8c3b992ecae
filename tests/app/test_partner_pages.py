"""The partner's own page: create, edit, delete, touches, commission structures, its deals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from isv.auth import Viewer
from isv.db import session_scope
from isv.models import CommissionStructure, Opportunity, Partner, PartnerActivity
from isv.services import users
from isv.services.settings import local_today
from tests.app.conftest import LOGINS, messages, plain
from tests.factories import make_opportunity, make_partner, make_structure

DETAIL = "pages/partner_detail.py"
DIRECTORY = "pages/partners.py"


@pytest.fixture
def program(app_db):
    """Ledgerline (the partnership manager's, with a structure and a deal) and Tracepoint."""
    with session_scope() as s:
        pm = users.get_by_email(session=s, viewer=Viewer.system(),
                                email=LOGINS["partnership_manager"].email)
        own = make_partner(s, name="Ledgerline", domain="FinOps", owner_id=pm.id,
                           primary_contact_name="Lee Line",
                           primary_contact_email="lee@ledgerline.example")
        other = make_partner(s, name="Tracepoint", domain="Observability")
        structure = make_structure(s, own, structure_type="referral",
                                   commission_percentage=Decimal(10),
                                   effective_from=date(2025, 1, 1))
        make_opportunity(s, own, customer_name="Acme", stage="demo", probability=Decimal(25),
                         deal_value=Decimal("40000.00"))
        s.commit()
        return {"own": own.id, "other": other.id, "structure": structure.id, "pm": pm.id}


def _partner(partner_id) -> Partner | None:
    with session_scope() as s:
        return s.get(Partner, partner_id)


def open_partner(login, role, partner_id=None, **params):
    at = login(role)
    if partner_id is not None:
        at.query_params["id"] = str(partner_id)
    for name, value in params.items():
        at.query_params[name] = value
    at.switch_page(DETAIL).run()
    assert not at.exception, at.exception
    return at


def text(at) -> str:
    return "\n".join(messages(at.markdown)).replace("**", "")


def test_without_an_id_the_page_offers_a_picker_and_opens_the_choice(program, login):
    at = open_partner(login, "vp")
    at.selectbox(key="partner_picker").set_value(str(program["other"]))
    at.button(key="partner_picker_open").click().run()
    assert "Tracepoint" in messages(at.subheader)


def test_the_page_shows_profile_owner_contacts_health_and_pipeline(program, login):
    at = open_partner(login, "vp", program["own"])
    shown = text(at)
    assert f"Owner: {LOGINS['partnership_manager'].name}" in shown
    assert "Lee Line <lee@ledgerline.example>" in shown
    assert "Health: ○ Healthy" in shown
    metrics = {m.label: m for m in at.metric}
    assert metrics["Open pipeline"].value == "$40.0k"
    assert plain(metrics["Open pipeline"].proto.help).startswith("$40,000:")  # on hover
    assert plain(metrics["Weighted"].proto.help).startswith("$10,000:")


def test_a_new_partner_is_created_and_opened(program, login):
    at = open_partner(login, "sales_manager", new="1")
    at.text_input(key="p_name_new").set_value("Keyward")
    at.selectbox(key="p_domain_new").set_value("Security")
    at.button(key="p_submit_new").click().run()
    with session_scope() as s:
        created = s.scalar(select(Partner).where(Partner.name == "Keyward"))
    assert created is not None and created.domain == "Security"
    assert "Keyward" in messages(at.subheader)
    assert any("Added Keyward" in m for m in messages(at.success))


def test_a_bad_website_is_reported_next_to_it_and_nothing_is_added(program, login):
    at = open_partner(login, "sales_manager", new="1")
    at.text_input(key="p_name_new").set_value("Keyward")
    at.selectbox(key="p_domain_new").set_value("Security")
    at.text_input(key="p_website_new").set_value("keyward.example")
    at.button(key="p_submit_new").click().run()
    assert any(m == "Website: must start with http:// or https://" for m in messages(at.error))
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Partner)) == 2


def test_the_profile_is_edited_and_markup_is_kept_as_typed(program, login):
    at = open_partner(login, "vp", program["own"])
    k = str(program["own"])
    at.text_input(key=f"p_name_{k}").set_value("<i>Ledger</i>line")
    at.selectbox(key=f"p_health_{k}").set_value("at_risk")
    at.button(key=f"p_submit_{k}").click().run()
    partner = _partner(program["own"])
    assert partner.name == "<i>Ledger</i>line" and partner.relationship_health == "at_risk"
    assert "<i>Ledger</i>line" in messages(at.subheader)


def test_deleting_needs_a_confirmation_and_takes_the_deals_with_it(program, login):
    at = open_partner(login, "vp", program["own"])
    k = str(program["own"])
    assert at.button(key=f"p_delete_{k}").disabled
    at.checkbox(key=f"p_delete_sure_{k}").check().run()
    at.button(key=f"p_delete_{k}").click().run()
    assert _partner(program["own"]) is None
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(Opportunity)) == 0
    assert any("Deleted Ledgerline" in m for m in messages(at.success))
    assert at.selectbox(key="partner_picker") is not None  # back to the picker


def test_a_touch_is_logged_and_listed(program, login):
    at = open_partner(login, "partnership_manager", program["own"])
    k = str(program["own"])
    at.selectbox(key=f"t_kind_{k}").set_value("qbr")
    at.text_area(key=f"t_summary_{k}").set_value("Quarterly review: expansion in EMEA")
    at.button(key=f"t_submit_{k}").click().run()
    with session_scope() as s:
        touch = s.scalar(select(PartnerActivity))
    assert touch.activity_type == "qbr" and touch.occurred_on == local_today()
    log = [t.value for t in at.dataframe if list(t.value.columns) == ["Date", "Type", "By",
                                                                     "Summary"]][0]
    assert log.iloc[0]["Type"] == "QBR"
    assert log.iloc[0]["By"] == LOGINS["partnership_manager"].name


def test_a_touch_in_the_future_is_refused_next_to_the_date(program, login):
    at = open_partner(login, "vp", program["own"])
    k = str(program["own"])
    at.date_input(key=f"t_day_{k}").set_value(date(2099, 1, 1))
    at.button(key=f"t_submit_{k}").click().run()
    assert any(m.startswith("Date:") and "future" in m for m in messages(at.error))


@pytest.mark.parametrize(("field", "value", "label"), [
    ("pct", "120", "Commission %"),
    ("max", "5", "Max deal size"),
])
def test_a_bad_structure_is_refused_next_to_its_field(program, login, field, value, label):
    at = open_partner(login, "vp", program["own"])
    prefix = f"s_add_{program['own']}"
    at.text_input(key=f"{prefix}_pct").set_value("12")
    at.text_input(key=f"{prefix}_min").set_value("1000")
    at.text_input(key=f"{prefix}_{field}").set_value(value)
    at.button(key=f"s_add_submit_{program['own']}").click().run()
    assert any(m.startswith(f"{label}:") for m in messages(at.error))
    with session_scope() as s:
        assert s.scalar(select(func.count()).select_from(CommissionStructure)) == 1


def test_a_structure_is_added_then_end_dated(program, login):
    at = open_partner(login, "vp", program["own"])
    prefix = f"s_add_{program['own']}"
    at.selectbox(key=f"{prefix}_type").set_value("msp")
    at.text_input(key=f"{prefix}_pct").set_value("15.5")
    at.checkbox(key=f"{prefix}_life").check()
    at.button(key=f"s_add_submit_{program['own']}").click().run()
    with session_scope() as s:
        msp = s.scalar(select(CommissionStructure)
                       .where(CommissionStructure.structure_type == "msp"))
    assert msp.commission_percentage == Decimal("15.50") and msp.is_lifetime

    structure = str(program["structure"])
    at.selectbox(key=f"s_pick_{program['own']}").set_value(structure).run()
    at.date_input(key=f"s_end_day_{structure}").set_value(date(2024, 12, 31))
    at.button(key=f"s_end_submit_{structure}").click().run()
    assert any(m.startswith("End it on:") for m in messages(at.error))  # before it starts
    at.date_input(key=f"s_end_day_{structure}").set_value(date(2025, 12, 31))
    at.button(key=f"s_end_submit_{structure}").click().run()
    with session_scope() as s:
        assert s.get(CommissionStructure, program["structure"]).effective_to == \
            date(2025, 12, 31)


def test_a_partnership_manager_cannot_open_someone_elses_partner(program, login):
    at = open_partner(login, "partnership_manager", program["other"])
    assert any("No such partner" in m for m in messages(at.error))
    assert at.selectbox(key="partner_picker").options == ["Ledgerline"]


def test_admin_reads_a_partner_without_edit_controls(program, login):
    at = open_partner(login, "admin", program["own"])
    assert "Ledgerline" in messages(at.subheader)
    assert not [b for b in at.button if (b.key or "").startswith(("p_submit_", "p_delete_",
                                                                  "t_submit_", "s_add_"))]


def test_the_directory_opens_the_selected_partner_and_links_a_new_partner(program, login):
    at = login("sales_manager", DIRECTORY)
    assert "New partner" in [link.label for link in at.get("page_link")]
    key = "partners_table"
    at.session_state[key] = {"selection": {"rows": [0], "columns": [], "cells": []}}
    at.run()
    assert not at.exception, at.exception
    with session_scope() as s:
        ledgerline = s.scalar(select(Partner.id).where(Partner.name == "Ledgerline"))
    assert at.query_params["id"] == str(ledgerline)
    assert "Ledgerline" in messages(at.title) + messages(at.header) + messages(at.subheader)
