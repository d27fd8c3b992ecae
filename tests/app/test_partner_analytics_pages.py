"""Partner analytics and the team view in the app: who may open them, and what they show."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest

from isv.analytics.periods import quarter_containing
from isv.auth import Viewer
from isv.db import session_scope
from isv.services import users
from isv.services.settings import local_today
from tests.app.conftest import LOGINS, ROLES, rerun_before_and_after_a_new_deal
from tests.factories import make_goal, make_opportunity, make_partner, make_structure

PARTNERS = "pages/partner_analytics.py"
TEAM = "pages/team_view.py"
TEAM_ROLES = ("vp", "sales_manager", "admin")


def _user(session, role):
    return users.get_by_email(session=session, viewer=Viewer.system(), email=LOGINS[role].email)


@pytest.fixture
def program(app_db):
    """Two partners, one the partnership manager's, each alone in its domain; goals."""
    today = local_today()
    this = quarter_containing(today)
    at = datetime.combine(this.start, time(9), tzinfo=UTC)
    with session_scope() as s:
        pm, sales = _user(s, "partnership_manager"), _user(s, "sales_manager")
        own = make_partner(s, name="Ledgerline", domain="FinOps", owner_id=pm.id)
        other = make_partner(s, name="Trustlayer", domain="Security")
        make_structure(s, own, commission_percentage=Decimal("10"),
                       effective_from=this.start - timedelta(days=400))

        def deal(partner, stage, value, **more):
            more.setdefault("created_at", at)
            return make_opportunity(s, partner, stage=stage, deal_value=Decimal(value), **more)

        deal(own, "closed_won", "40000", actual_close_date=this.start, assigned_user_id=pm.id)
        deal(other, "closed_won", "25000", actual_close_date=this.start,
             assigned_user_id=sales.id)
        deal(own, "proposal", "20000", probability=Decimal("75"),
             expected_close_date=today + timedelta(days=1))
        deal(other, "demo", "60000", probability=Decimal("25"),
             expected_close_date=today + timedelta(days=1), assigned_user_id=sales.id)
        make_goal(s, pm, year=this.year, quarter=this.quarter, revenue_target=Decimal("80000"))
        make_goal(s, sales, year=this.year, quarter=this.quarter,
                  revenue_target=Decimal("20000"))
        s.commit()
    return this


def open_page(login, role, page):
    at = login(role, page)
    assert not at.exception, at.exception
    return at


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def table_with(at, column):
    return next(frame.value for frame in at.dataframe if column in frame.value.columns)


@pytest.mark.parametrize("role", ROLES)
def test_partner_analytics_opens_for_every_role(program, login, role):
    at = open_page(login, role, PARTNERS)
    assert [t.value for t in at.title] == ["Partner analytics"]
    assert len(at.metric) == 6


@pytest.mark.parametrize("role", TEAM_ROLES)
def test_team_view_opens_for_the_vp_sales_managers_and_admin(program, login, role):
    at = open_page(login, role, TEAM)
    assert [t.value for t in at.title] == ["Team view"]


def test_a_partnership_manager_cannot_reach_the_team_view(login):
    at = login("partnership_manager")
    with pytest.raises(ValueError):  # not registered for the role: no link, no URL
        at.switch_page(TEAM)


def test_the_vp_sees_partner_kpis_liability_and_coverage_flags_as_money_and_words(
        program, login):
    at = open_page(login, "vp", PARTNERS)
    assert metrics(at) == {
        "Pipeline": "$80.0k", "Won this period": "$65.0k", "Commission earned": "$4.0k",
        "Commission liability": "$1.5k",             # 20,000 × 75 % × 10 %
        "Domains covered": "2 of 5",
        "Concentrated partners": "2",                 # each is alone in its domain
    }
    partners = table_with(at, "Expected commission").set_index("Partner")
    assert partners.loc["Ledgerline", "Commission earned"] == 4000.0
    assert partners.loc["Trustlayer", "Unpaid won deals"] == 1
    summary = table_with(at, "Largest share").set_index("Domain")
    assert summary.loc["FinOps", "Flag"] == "⚠ Ledgerline holds more than 60\u00a0%"
    assert summary.loc["DevOps", "Flag"] == "⚠ No active partner"
    captions = " ".join(c.value for c in at.caption)
    assert "⚠ 1 open deal has no applicable commission structure" in captions


def test_a_partnership_manager_sees_only_their_partners_numbers(program, login):
    at = open_page(login, "partnership_manager", PARTNERS)
    cards = metrics(at)
    assert (cards["Pipeline"], cards["Won this period"]) == ("$20.0k", "$40.0k")
    assert list(table_with(at, "Expected commission")["Partner"]) == ["Ledgerline"]


def test_the_team_view_shows_each_persons_won_target_and_attainment(program, login):
    at = open_page(login, "vp", TEAM)
    assert metrics(at) == {"Open pipeline": "$80.0k", "Won this period": "$65.0k",
                           "Goal attainment": "65.0\u00a0%"}
    team = table_with(at, "Attainment").set_index("Person")
    pm = LOGINS["partnership_manager"].name
    assert (team.loc[pm, "Won"], team.loc[pm, "Target"], team.loc[pm, "Attainment"]) == (
        40000.0, 80000.0, 50.0)


@pytest.mark.parametrize(("page", "card"), [(PARTNERS, "Pipeline"), (TEAM, "Open pipeline")])
def test_a_rerun_with_no_data_change_runs_no_analytics_sql(program, login, app_db, page, card):
    at = open_page(login, "vp", page)
    rerun_before_and_after_a_new_deal(at, app_db, domain="DevOps",
                                      tables=("opportunities", "quarterly_goals"))
    assert metrics(at)[card] == "$1.1M"


def test_a_domain_filter_narrows_the_partners_but_not_the_coverage(program, login):
    at = open_page(login, "vp", PARTNERS)
    next(box for box in at.selectbox if box.label == "Domain").set_value("Security").run()
    assert not at.exception, at.exception
    assert list(table_with(at, "Expected commission")["Partner"]) == ["Trustlayer"]
    assert metrics(at)["Pipeline"] == "$60.0k"
    assert metrics(at)["Domains covered"] == "2 of 5"
    assert any("all deals · domain Security" in c.value for c in at.caption)
