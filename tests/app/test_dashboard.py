"""The executive dashboard: the landing page, its cards, filters, charts' data and caching."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest
from streamlit.proto.Metric_pb2 import Metric

from isv import display
from isv.analytics.periods import previous, quarter_containing
from isv.auth import Viewer
from isv.db import session_scope
from isv.services import users
from isv.services.settings import local_today
from tests.app.conftest import LOGINS, ROLES, messages, rerun_before_and_after_a_new_deal
from tests.factories import make_goal, make_opportunity, make_partner, make_structure

NBSP = display.NBSP


def _user(session, role):
    return users.get_by_email(session=session, viewer=Viewer.system(), email=LOGINS[role].email)


@pytest.fixture
def program(app_db):
    """Two partners (one the partnership manager's), deals this quarter and last, goals."""
    today = local_today()
    this, last = quarter_containing(today), previous(quarter_containing(today))
    at = datetime.combine(last.start, time(9), tzinfo=UTC)
    with session_scope() as s:
        pm, sales = _user(s, "partnership_manager"), _user(s, "sales_manager")
        own = make_partner(s, name="Ledgerline", domain="FinOps", owner_id=pm.id)
        other = make_partner(s, name="Trustlayer", domain="Security")
        make_structure(s, own, commission_percentage=Decimal("10"),
                       effective_from=last.start - timedelta(days=400))

        def deal(partner, stage, value, **more):
            more.setdefault("created_at", at)
            if stage == "closed_lost":
                more["lost_reason"] = "Price too high"
            return make_opportunity(s, partner, stage=stage, deal_value=Decimal(value), **more)

        deal(own, "closed_won", "40000", actual_close_date=this.start, assigned_user_id=pm.id)
        deal(own, "closed_won", "10000", actual_close_date=last.start, assigned_user_id=pm.id)
        deal(other, "closed_won", "25000", actual_close_date=this.start,
             customer_name="Unpaid Corp", assigned_user_id=sales.id)
        deal(other, "closed_lost", "5000", actual_close_date=this.start)
        deal(own, "proposal", "20000", probability=Decimal("75"),
             expected_close_date=today - timedelta(days=3), customer_name="Late Ltd")
        deal(other, "demo", "60000", probability=Decimal("25"),
             expected_close_date=this.end, assigned_user_id=sales.id)
        make_goal(s, pm, year=this.year, quarter=this.quarter, revenue_target=Decimal("80000"))
        make_goal(s, sales, year=this.year, quarter=this.quarter,
                  revenue_target=Decimal("20000"))
        s.commit()
    return this, last


def metrics(at) -> dict[str, tuple[str, str | None]]:
    return {m.label: (m.value, m.delta or None) for m in at.metric}


def selectbox(at, label):
    return next(box for box in at.selectbox if box.label == label)


@pytest.mark.parametrize("role", ROLES)
def test_the_dashboard_is_every_roles_landing_page(login, role):
    at = login(role)
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Executive dashboard"]
    assert len(at.metric) == 9


def test_the_vp_sees_this_quarters_kpis_with_the_change_against_the_last(program, login):
    this, last = program
    cards = metrics(login("vp"))
    assert cards["Pipeline"] == ("$80.0k", None)                  # 20,000 + 60,000 open
    assert cards["Weighted pipeline"] == ("$30.0k", None)         # 15,000 + 15,000
    assert cards["Won this period"] == ("$65.0k", "+$55.0k")      # 65,000 vs 10,000
    assert cards["Win rate"] == (f"66.7{NBSP}%", f"−33.3{NBSP}pts")  # 2 of 3, vs 1 of 1
    assert cards["Goal attainment"][0] == f"65.0{NBSP}%"          # 65,000 / 100,000
    assert cards["Commission earned"] == ("$4.0k", "+$3.0k")      # 10% of 40,000 only
    due = Decimal(60000) + (20000 if local_today() - timedelta(days=3) in this else 0)
    assert cards["Coverage"][0] == f"{display.number(due / 35000, places=2)}×"


def test_a_fall_written_with_the_true_minus_points_down_in_red(program, login):
    at = login("vp")
    card = next(m for m in at.metric if m.label == "Win rate")
    assert card.delta == f"−33.3{NBSP}pts"
    assert (Metric.MetricDirection.Name(card.proto.direction),
            Metric.MetricColor.Name(card.proto.color)) == ("DOWN", "RED")
    rise = next(m for m in at.metric if m.label == "Won this period")
    assert Metric.MetricDirection.Name(rise.proto.direction) == "UP"


def test_a_partnership_manager_sees_only_their_partners_and_their_own_target(program, login):
    cards = metrics(login("partnership_manager"))
    assert cards["Pipeline"][0] == "$20.0k"
    assert cards["Won this period"][0] == "$40.0k"
    assert cards["Goal attainment"][0] == f"50.0{NBSP}%"          # 40,000 / 80,000


def test_choosing_a_domain_narrows_the_numbers_and_the_partner_list(program, login):
    at = login("vp")
    selectbox(at, "Domain").set_value("Security").run()
    assert not at.exception, at.exception
    cards = metrics(at)
    assert cards["Pipeline"][0] == "$60.0k"
    assert cards["Won this period"][0] == "$25.0k"
    assert selectbox(at, "Partner").options == ["All partners", "Trustlayer"]


def test_choosing_last_quarter_shows_its_results(program, login):
    this, last = program
    at = login("vp")
    selectbox(at, "Period").set_value(last.label).run()
    assert not at.exception, at.exception
    assert metrics(at)["Won this period"][0] == "$10.0k"


def test_every_chart_offers_its_numbers_as_a_table(program, login):
    at = login("vp")
    labels = [e.label for e in at.expander]
    assert labels == ["Data: Revenue by quarter", "Data: Funnel", "Data: Open pipeline by domain",
                      "Data: Top partners"]
    funnel = at.expander[1].dataframe[0].value
    assert list(funnel["Stage"]) == ["Lead", "Demo", "PoC", "Proposal", "Closed won"]


def test_slipped_deals_and_won_deals_without_a_commission_structure_are_listed(program, login):
    at = login("vp")
    tables = [frame.value for frame in at.dataframe]
    slipped = next(t for t in tables if "Days late" in t)
    assert list(slipped["Customer"]) == ["Late Ltd"]
    assert list(slipped["Days late"]) == [3]
    unpaid = next(t for t in tables if list(t.columns) == ["Customer", "Partner", "Value",
                                                          "Closed"])
    assert list(unpaid["Customer"]) == ["Unpaid Corp"]
    assert any("without an applicable structure" in c.value for c in at.caption)


def test_the_team_table_shows_each_persons_pipeline_won_and_attainment(program, login):
    at = login("vp")
    team = next(f.value for f in at.dataframe if "Attainment" in f.value)
    row = team.set_index("Person").loc[LOGINS["partnership_manager"].name]
    # Attainment is shown as a number of percent, to one decimal (display.TABLE_PERCENT_FORMAT).
    assert (row["Won"], row["Target"], row["Attainment"]) == (40000.0, 80000.0, 50.0)


def test_an_empty_program_shows_dashes_not_errors(login):
    at = login("vp")
    assert not at.exception, at.exception
    cards = metrics(at)
    assert cards["Win rate"][0] == display.NONE
    assert cards["Pipeline"][0] == "$0"


def test_coverage_says_why_it_is_a_dash(login):
    at = login("vp")
    assert metrics(at)["Coverage"][0] == display.NONE
    assert "no revenue target" in [c.value for c in at.caption]
    this = quarter_containing(local_today())
    with session_scope() as s:
        vp = _user(s, "vp")
        make_opportunity(s, make_partner(s), stage="closed_won", deal_value=Decimal("50000"),
                         actual_close_date=this.start, assigned_user_id=vp.id)
        make_goal(s, vp, year=this.year, quarter=this.quarter, revenue_target=Decimal("30000"))
        s.commit()
    at = login("vp")
    assert metrics(at)["Coverage"][0] == display.NONE
    assert "target met · nothing left to cover" in [c.value for c in at.caption]


def test_a_rerun_with_no_data_change_runs_no_analytics_sql(program, login, app_db):
    at = login("vp")
    rerun_before_and_after_a_new_deal(at, app_db, domain="Security",
                                      tables=("opportunities", "quarterly_goals"))
    assert metrics(at)["Pipeline"][0] == "$1.1M"


def test_a_partner_name_with_markup_reads_as_typed_in_the_scope_line(program, login):
    with session_scope() as s:
        bold = make_partner(s, name="<b>Bold</b> **Corp**", domain="DevOps").id
        s.commit()
    at = login("vp")
    selectbox(at, "Partner").set_value(str(bold)).run()
    assert not at.exception, at.exception
    assert any("partner <b>Bold</b> **Corp**" in text for text in messages(at.caption))
