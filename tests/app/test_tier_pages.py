"""Partner tiers in the app: the Settings page's tiers, the tier review's accept and reject,
and the badge in the directory."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from isv.analytics.tiers import review_window
from isv.auth import Viewer
from isv.db import session_scope
from isv.models import AuditEntry, Partner, TierReview
from isv.services import users
from isv.services.settings import current_settings, local_today
from tests.app.conftest import LOGINS, messages
from tests.factories import make_opportunity, make_partner

ANALYTICS = "pages/partner_analytics.py"


def open_page(login, role, page):
    at = login(role, page)
    assert not at.exception, at.exception
    return at


@pytest.fixture
def silver(app_db):
    """Ledgerline, the partnership manager's, whose last four quarters earn Silver."""
    _, window = review_window(local_today())
    with session_scope() as s:
        pm = users.get_by_email(session=s, viewer=Viewer.system(),
                                email=LOGINS["partnership_manager"].email)
        partner = make_partner(s, name="Ledgerline", owner_id=pm.id)
        for _ in range(2):
            day = window.start + timedelta(days=10)
            make_opportunity(s, partner, stage="closed_won", probability=Decimal(100),
                             deal_value=Decimal("70000"), expected_close_date=day,
                             actual_close_date=day)
        make_opportunity(s, partner, stage="proposal", probability=Decimal(60),
                         deal_value=Decimal("55000"))
        s.commit()
        return partner.id


def tier_of(partner_id):
    with session_scope() as s:
        return s.get(Partner, partner_id).tier


def test_the_settings_page_shows_the_default_tiers(login):
    at = open_page(login, "vp", "pages/settings.py")
    assert [at.text_input(key=f"set_tier_{k}_name").value for k in range(5)] == [
        "Registered", "Silver", "Gold", "Platinum", ""]
    assert at.text_input(key="set_tier_2_min_won_revenue").value == "500000"
    assert at.text_input(key="set_tier_2_min_won_deals").value == "5"


def test_a_bad_tier_minimum_is_refused_next_to_its_input_and_nothing_is_saved(login):
    at = open_page(login, "vp", "pages/settings.py")
    at.text_input(key="set_tier_1_min_won_revenue").set_value("lots")
    at.button(key="set_submit").click().run()
    assert not at.exception, at.exception
    assert messages(at.error) == [
        "Tier 2 min. won revenue: 'lots' is not an amount like 250000"]
    assert current_settings().partner_tiers[1].min_won_revenue == Decimal("100000")


def test_tiers_out_of_order_are_refused_naming_the_tier(login):
    at = open_page(login, "vp", "pages/settings.py")
    at.text_input(key="set_tier_3_min_won_deals").set_value("3")
    at.button(key="set_submit").click().run()
    assert messages(at.error) == [
        "Tier 4 min. won deals: must be at least Gold's (5): tiers go up in order"]


def test_a_new_top_tier_is_added_in_the_first_empty_row(login):
    at = open_page(login, "vp", "pages/settings.py")
    at.text_input(key="set_tier_4_name").set_value("Diamond")
    at.text_input(key="set_tier_4_min_won_revenue").set_value("5000000")
    at.text_input(key="set_tier_4_min_won_deals").set_value("20")
    at.text_input(key="set_tier_4_min_open_pipeline").set_value("2000000")
    at.button(key="set_submit").click().run()
    assert not at.exception, at.exception
    assert messages(at.success) == ["Settings saved: Partner tiers."]
    assert [t.name for t in current_settings().partner_tiers][-1] == "Diamond"
    assert at.text_input(key="set_tier_4_name").value == "Diamond"


def test_a_vp_accepts_a_suggestion_with_a_note(login, silver):
    at = open_page(login, "vp", ANALYTICS)
    assert at.selectbox(key="tier_pick").value == str(silver)
    at.text_area(key="tier_note").set_value("Two strong wins")
    at.button(key="tier_accept").click().run()
    assert not at.exception, at.exception
    assert tier_of(silver) == "Silver"
    assert messages(at.success) == ["Ledgerline: Promote: no tier → Silver accepted."]
    with session_scope() as s:
        assert s.scalar(select(TierReview.note)) == "Two strong wins"
        assert s.scalar(select(func.count()).select_from(AuditEntry)
                        .where(AuditEntry.action == "tier_accept")) == 1
    assert [t.key for t in at.selectbox if t.key == "tier_pick"] == []  # nothing left


def test_a_sales_manager_rejects_and_the_tier_stays(login, silver):
    at = open_page(login, "sales_manager", ANALYTICS)
    at.text_area(key="tier_note").set_value("Renewal pending")
    at.button(key="tier_reject").click().run()
    assert not at.exception, at.exception
    assert tier_of(silver) is None
    with session_scope() as s:
        assert s.scalar(select(TierReview.decision)) == "rejected"


def test_a_decision_without_a_note_is_refused_next_to_the_note(login, silver):
    at = open_page(login, "vp", ANALYTICS)
    at.button(key="tier_accept").click().run()
    assert messages(at.error) == ["Note: is required"]
    assert tier_of(silver) is None


def test_a_partnership_manager_sees_the_suggestion_but_no_decision_form(login, silver):
    at = open_page(login, "partnership_manager", ANALYTICS)
    assert [t.key for t in at.selectbox if t.key == "tier_pick"] == []
    assert "A vp or sales manager accepts or rejects each suggestion." in messages(at.caption)


def test_the_directory_shows_the_tier_and_filters_on_it(login, silver):
    with session_scope() as s:
        s.get(Partner, silver).tier = "Silver"
        make_partner(s, name="Trustlayer")
        s.commit()
    at = open_page(login, "vp", "pages/partners.py")
    frame = at.dataframe[0].value
    assert dict(zip(frame["Partner"], frame["Tier"], strict=True)) == {
        "Ledgerline": "Silver", "Trustlayer": "No tier"}
    at.selectbox(key="partners_tier").set_value("Silver").run()
    assert list(at.dataframe[0].value["Partner"]) == ["Ledgerline"]
