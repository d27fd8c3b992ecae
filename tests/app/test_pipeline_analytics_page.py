"""The pipeline analytics page: every role, its charts with their tables, money, caching."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest

from isv.analytics.periods import quarter_containing
from isv.auth import Viewer
from isv.db import session_scope
from isv.services import users
from isv.services.settings import local_today
from tests.app.conftest import LOGINS, ROLES, rerun_before_and_after_a_new_deal
from tests.factories import make_opportunity, make_partner

PAGE = "pages/pipeline_analytics.py"
TABLES = ["Data: Sales velocity", "Data: Forecast by close month", "Data: Time in stage",
          "Data: Win/loss by partner", "Data: Lost reasons"]


@pytest.fixture
def program(app_db):
    """Ledgerline (the partnership manager's) won $40k; Trustlayer lost $5k, has a late deal."""
    today = local_today()
    this = quarter_containing(today)
    created = datetime.combine(this.start - timedelta(days=20), time(9), tzinfo=UTC)
    with session_scope() as s:
        pm = users.get_by_email(session=s, viewer=Viewer.system(),
                                email=LOGINS["partnership_manager"].email)
        own = make_partner(s, name="Ledgerline", domain="FinOps", owner_id=pm.id)
        other = make_partner(s, name="Trustlayer", domain="Security")
        make_opportunity(s, own, stage="closed_won", deal_value=Decimal(40000),
                         actual_close_date=this.start, created_at=created)
        make_opportunity(s, own, stage="proposal", deal_value=Decimal(20000),
                         probability=Decimal(75), expected_close_date=today + timedelta(days=40),
                         created_at=created)
        make_opportunity(s, other, stage="closed_lost", deal_value=Decimal(5000),
                         actual_close_date=this.start, lost_reason="Price too high",
                         created_at=created)
        make_opportunity(s, other, stage="demo", deal_value=Decimal(60000),
                         probability=Decimal(25), expected_close_date=today - timedelta(days=3),
                         created_at=created)
        s.commit()


def open_page(login, role):
    at = login(role, PAGE)
    assert not at.exception, at.exception
    return at


def figures(at) -> dict[str, dict]:
    """Each chart's plotly figure, by its title."""
    out = {}
    for element in at.get("plotly_chart"):
        spec = json.loads(element.proto.spec)
        out[spec["layout"]["title"]["text"]] = spec
    return out


def bar_texts(figure) -> list[str]:
    return [text for trace in figure["data"] for text in trace.get("text") or () if text]


def table(at, label):
    expander = next(e for e in at.expander if e.label == label)
    return expander.dataframe[0].value


@pytest.mark.parametrize("role", ROLES)
def test_every_role_sees_the_page_with_five_charts_and_their_tables(program, login, role):
    at = open_page(login, role)
    assert [t.value for t in at.title] == ["Pipeline analytics"]
    assert [e.label for e in at.expander] == TABLES
    assert len(figures(at)) == 5
    assert [m.label for m in at.metric] == ["Sales velocity", "Open deals", "Win rate",
                                            "Cycle days"]


def test_the_vp_reads_money_on_the_charts_and_in_the_tables(program, login):
    at = open_page(login, "vp")
    charts = figures(at)
    win_loss = charts["Won and lost by partner"]
    notes = [a["text"] for a in win_loss["layout"]["annotations"]]
    assert notes == ["<b>0.0\u00a0%</b> won · 0 of 1 · $5.0k",
                     "<b>100.0\u00a0%</b> won · 1 of 1 · $40.0k"]
    forecast = charts["Forecast by close month"]
    # Open value and count above each bar; weighted inside: 60k × 25 % and 20k × 75 %.
    assert {"$60.0k<br>1 deal", "$20.0k<br>1 deal", "<b>$15.0k</b>"} <= set(bar_texts(forecast))
    assert bar_texts(charts["Why deals were lost"]) == ["1 deal · 100.0\u00a0% · $5.0k"]
    rows = table(at, "Data: Win/loss by partner").set_index("Partner")
    assert (rows.loc["Ledgerline", "Won"], rows.loc["Trustlayer", "Lost"]) == (40000.0, 5000.0)
    assert rows.loc["Ledgerline", "Win rate"] == 100.0  # shown as 100.0 %
    # 2 open deals × 1 of 2 won × $40,000 ÷ 20 days from creation to close
    assert {m.label: m.value for m in at.metric}["Sales velocity"] == "$2.0k/day"


def test_overdue_deals_are_a_bucket_of_their_own(program, login):
    at = open_page(login, "vp")
    forecast = table(at, "Data: Forecast by close month").set_index("Close month")
    assert (forecast.loc["Overdue", "Deals"], forecast.loc["Overdue", "Value"]) == (1, 60000.0)
    assert any("$60,000" in c.value for c in at.caption)


def test_a_partnership_manager_sees_only_their_partners(program, login):
    at = open_page(login, "partnership_manager")
    assert list(table(at, "Data: Win/loss by partner")["Partner"]) == ["Ledgerline"]
    assert table(at, "Data: Lost reasons").empty
    assert {m.label: m.value for m in at.metric}["Open deals"] == "1"


def test_an_empty_program_shows_dashes_and_empty_charts_not_errors(login):
    at = open_page(login, "vp")
    assert {m.label: m.value for m in at.metric}["Sales velocity"] == "—"
    assert len(figures(at)) == 5


def test_a_rerun_with_no_data_change_runs_no_analytics_sql(program, login, app_db):
    at = open_page(login, "vp")
    rerun_before_and_after_a_new_deal(at, app_db, domain="Security",
                                      tables=("opportunit",))
    assert {m.label: m.value for m in at.metric}["Open deals"] == "3"


def test_a_lost_reason_with_markup_reads_as_typed_on_the_chart(program, login):
    this = quarter_containing(local_today())
    with session_scope() as s:
        partner = make_partner(s, name="Archivist", domain="Data/Backup")
        make_opportunity(s, partner, stage="closed_lost", deal_value=Decimal(1000),
                         actual_close_date=this.start, lost_reason="<b>Budget</b> cut")
        s.commit()
    at = open_page(login, "vp")
    reasons = figures(at)["Why deals were lost"]["data"][0]["y"]
    assert "&lt;b&gt;Budget&lt;/b&gt; cut" in reasons
    assert "<b>Budget</b> cut" in list(table(at, "Data: Lost reasons")["Reason"])
