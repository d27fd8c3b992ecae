"""Goal attainment has one meaning (KPIS.md): a person's won deals against their own target.

One partnership manager's figure is read off every place that shows it: the dashboard card
and team row, the team view's card and row, Goals (theirs and the VP's team table) and
`isv report kpis --owner`. Deals of their partners that are assigned to someone else are in
their scope but not in their goal, which is what once made the dashboard card disagree.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from decimal import Decimal

import pytest
from click.testing import CliRunner

from isv import cli, display
from isv.analytics.periods import quarter_containing
from isv.auth import Viewer
from isv.db import session_scope
from isv.services import users
from isv.services.settings import local_today
from tests.app.conftest import LOGINS
from tests.factories import make_goal, make_opportunity, make_partner

# Won this quarter, assigned to the partnership manager: 40,000 at their partner and 10,000
# at another partner; 30,000 won at their partner but assigned to the sales manager.
EXPECTED = Decimal(50000) / Decimal(80000)       # 62.5 %; the old card said 100.0 %
SHOWN = display.percent(EXPECTED)


def _user(session, role):
    return users.get_by_email(session=session, viewer=Viewer.system(), email=LOGINS[role].email)


@pytest.fixture
def program(app_db):
    this = quarter_containing(local_today())
    at = datetime.combine(this.start, time(9), tzinfo=UTC)
    with session_scope() as s:
        pm, sales = _user(s, "partnership_manager"), _user(s, "sales_manager")
        own = make_partner(s, name="Ledgerline", domain="FinOps", owner_id=pm.id)
        other = make_partner(s, name="Trustlayer", domain="Security")

        def won(partner, value, owner):
            make_opportunity(s, partner, stage="closed_won", probability=Decimal(100),
                             deal_value=Decimal(value), actual_close_date=this.start,
                             created_at=at, assigned_user_id=owner.id)

        won(own, "40000", pm)
        won(other, "10000", pm)
        won(own, "30000", sales)
        make_goal(s, pm, year=this.year, quarter=this.quarter, revenue_target=Decimal("80000"))
        make_goal(s, sales, year=this.year, quarter=this.quarter,
                  revenue_target=Decimal("20000"))
        s.commit()
    return this


def open_page(login, role, page=None):
    at = login(role, page)
    assert not at.exception, at.exception
    return at


def card(at) -> str:
    return next(m.value for m in at.metric if m.label == "Goal attainment")


def team_row(at, person: str) -> float:
    """The Attainment cell of a person's row, as the table shows it (a number of percent)."""
    frame = next(f.value for f in at.dataframe if "Attainment" in f.value.columns)
    return frame.set_index("Person").loc[person, "Attainment"]


def as_table_cell(value: Decimal) -> float:
    return float(value) * 100


PM = LOGINS["partnership_manager"].name


def test_the_dashboard_card_and_team_row_agree_for_a_partnership_manager(program, login):
    at = open_page(login, "partnership_manager")
    assert card(at) == SHOWN
    assert team_row(at, PM) == pytest.approx(as_table_cell(EXPECTED))


def owner_filter(at, role: str):
    """Narrow an analytics page to one owner with its Owner picker."""
    with session_scope() as s:
        person = str(_user(s, role).id)
    next(box for box in at.selectbox if box.label == "Owner").set_value(person).run()
    assert not at.exception, at.exception
    return at


def test_the_team_view_row_and_its_card_for_that_owner_agree(program, login):
    at = open_page(login, "vp", "pages/team_view.py")
    assert team_row(at, PM) == pytest.approx(as_table_cell(EXPECTED))
    assert card(owner_filter(at, "partnership_manager")) == SHOWN


def test_the_vps_dashboard_narrowed_to_the_person_shows_their_figure(program, login):
    at = open_page(login, "vp")
    assert team_row(at, PM) == pytest.approx(as_table_cell(EXPECTED))
    assert card(owner_filter(at, "partnership_manager")) == SHOWN


def test_goals_shows_the_same_figure_to_the_person_and_in_the_team_table(program, login):
    at = open_page(login, "partnership_manager", "pages/goals.py")
    [bar] = at.get("progress")
    assert bar.proto.text == f"{SHOWN} of the target"
    vp = open_page(login, "vp", "pages/goals.py")
    team = vp.dataframe[-1].value.set_index("Person")
    assert team.loc[PM, "Of target"] == SHOWN


def test_the_kpi_report_for_the_owner_gives_the_same_figure(program, app_db):
    this = program
    result = CliRunner().invoke(cli.main, ["report", "kpis", "--period", this.label,
                                           "--owner", LOGINS["partnership_manager"].email,
                                           "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["goal_attainment"] == float(EXPECTED.quantize(Decimal("0.0001")))
    assert data["won_revenue"] == "50000.00"
