"""The partner directory: scope, filters, and labels that do not rely on colour."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from isv.auth import Viewer
from isv.db import session_scope
from isv.models import PartnerActivity
from isv.services import users
from isv.services.settings import local_today
from tests.app.conftest import LOGINS
from tests.factories import make_opportunity, make_partner


@pytest.fixture
def partners(app_db):
    """Two partners owned by the partnership manager, one by nobody, one with markup in its name."""
    with session_scope() as s:
        pm = users.get_by_email(session=s, viewer=Viewer.system(),
                                email=LOGINS["partnership_manager"].email)
        until = local_today() + timedelta(days=30)
        own = make_partner(s, name="Ledgerline", domain="FinOps", owner_id=pm.id,
                           relationship_health="excellent", health_reason="New CTO is a fan",
                           health_until=until)
        make_partner(s, name="Keyward", domain="Security", owner_id=pm.id,
                     relationship_health="needs_attention", health_reason="Reorg",
                     health_until=until)
        other = make_partner(s, name="Tracepoint", domain="Observability",
                             relationship_health="at_risk", health_reason="Churn risk",
                             health_until=until)
        make_partner(s, name="<b>Bold</b> **Corp**", domain="DevOps")
        s.add(PartnerActivity(partner_id=own.id, user_id=pm.id, activity_type="call",
                              occurred_on=date(2026, 3, 2)))
        make_opportunity(s, own, stage="demo")
        make_opportunity(s, own, stage="lead")
        make_opportunity(s, other, stage="poc")
        s.commit()


def directory(at):
    return at.dataframe[0].value


def open_partners(login, role):
    at = login(role, "pages/partners.py")
    assert not at.exception
    return at


def test_partnership_manager_sees_only_their_own_partners(partners, login):
    table = directory(open_partners(login, "partnership_manager"))
    assert sorted(table["Partner"]) == ["Keyward", "Ledgerline"]


def test_vp_sees_every_partner_with_owner_touch_and_open_deals(partners, login):
    table = directory(open_partners(login, "vp")).set_index("Partner")
    assert len(table) == 4
    ledgerline = table.loc["Ledgerline"]
    assert ledgerline["Owner"] == "Pia P."  # "First L.": narrow enough for 1024 px
    assert ledgerline["Last touch"] == "2 Mar 2026"
    assert ledgerline["Open deals"] == 2
    assert table.loc["Tracepoint", "Last touch"] == "never"
    assert table.loc["Tracepoint", "Owner"] == "unassigned"


def test_health_is_a_symbol_and_a_word(partners, login):
    table = directory(open_partners(login, "vp")).set_index("Partner")
    assert table.loc["Ledgerline", "Health"] == "● Excellent, by hand"
    assert table.loc["Keyward", "Health"] == "▲ Needs attention, by hand"
    assert table.loc["Tracepoint", "Health"] == "✖ At risk, by hand"


def test_without_an_override_in_force_the_health_is_the_scores_label(partners, login):
    with session_scope() as s:
        make_partner(s, name="Expired", domain="DevOps", relationship_health="at_risk",
                     health_reason="Old news", health_until=local_today() - timedelta(days=1))
        s.commit()
    table = directory(open_partners(login, "vp")).set_index("Partner")
    # Added today with nothing else: base 50 and a fresh start on the cadence, +20.
    assert table.loc["Expired", "Score"] == 70
    assert table.loc["Expired", "Health"] == "○ Healthy"


def test_search_and_filters_narrow_the_list(partners, login):
    at = open_partners(login, "sales_manager")
    at.text_input(key="partners_search").set_value("ledger").run()
    assert list(directory(at)["Partner"]) == ["Ledgerline"]
    at.text_input(key="partners_search").set_value("").run()
    at.selectbox(key="partners_domain").set_value("Security").run()
    assert list(directory(at)["Partner"]) == ["Keyward"]
    at.selectbox(key="partners_domain").set_value(None).run()
    at.selectbox(key="partners_health").set_value("at_risk").run()
    assert list(directory(at)["Partner"]) == ["Tracepoint"]


def test_partner_names_are_shown_as_typed(partners, login):
    table = directory(open_partners(login, "admin"))
    assert "<b>Bold</b> **Corp**" in set(table["Partner"])
