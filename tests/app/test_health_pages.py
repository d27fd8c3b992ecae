"""The health score on screen: the partner page lists its parts, the directory shows it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from isv import display
from isv.auth import Viewer
from isv.db import session_scope
from isv.models import Partner, PartnerActivity
from isv.services import health
from isv.services.settings import local_today
from tests.app.conftest import messages, plain
from tests.factories import make_opportunity, make_partner

DETAIL = "pages/partner_detail.py"
DIRECTORY = "pages/partners.py"
MINUS = "\u2212"


@pytest.fixture
def quiet_partner(app_db):
    """A partner last touched 45 days ago: past the 30-day cadence."""
    with session_scope() as s:
        partner = make_partner(s, name="Quietfield", domain="Security")
        s.add(PartnerActivity(partner_id=partner.id, activity_type="call",
                              occurred_on=local_today() - timedelta(days=45)))
        s.commit()
        return partner.id


def test_the_partner_page_shows_the_score_and_parts_that_add_up_to_it(quiet_partner, login):
    at = login("vp", DETAIL, id=str(quiet_partner))
    assert not at.exception, at.exception
    metric = next(m for m in at.metric if m.label == "Health score")
    score = int(metric.value.split(" / ")[0])
    assert "no touch in 45" in plain(metric.proto.help)
    parts = next(t.value for t in at.dataframe
                 if list(t.value.columns) == ["Points", "Part", "Reason"])
    points = [int(p.replace(MINUS, "-").replace("+", "")) for p in parts["Points"]]
    assert sum(points) == score
    touch = parts[parts["Part"] == "Touch recency"].iloc[0]
    assert touch["Points"] == f"{MINUS}10"
    assert touch["Reason"] == "no touch in 45\u00a0days, cadence 30\u00a0days"


def test_the_directory_has_a_score_column_with_its_parts_beside_it(quiet_partner, login):
    at = login("vp", DIRECTORY)
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    row = table[table["Partner"] == "Quietfield"].iloc[0]
    assert 0 <= row["Score"] <= 100
    assert f"{MINUS}10 touch recency" in row["Why"]
    assert "Health" in table.columns


def test_a_label_set_by_hand_with_reason_and_expiry_shows_instead_of_the_score(quiet_partner,
                                                                              login):
    at = login("vp", DETAIL, id=str(quiet_partner))
    k = str(quiet_partner)
    until = local_today() + timedelta(days=14)
    at.selectbox(key=f"p_health_{k}").set_value("at_risk")
    at.text_input(key=f"p_health_reason_{k}").set_value("Champion left")
    at.date_input(key=f"p_health_until_{k}").set_value(until)
    at.button(key=f"p_submit_{k}").click().run()
    assert not at.exception, at.exception
    shown = "\n".join(messages(at.markdown))
    assert f"✖ At risk (set by hand until {display.day(until)}: Champion left)" in shown


def test_a_reason_without_an_expiry_is_refused_under_its_input(quiet_partner, login):
    at = login("vp", DETAIL, id=str(quiet_partner))
    k = str(quiet_partner)
    at.text_input(key=f"p_health_reason_{k}").set_value("Champion left")
    at.button(key=f"p_submit_{k}").click().run()
    assert "Override until: give the day the override ends" in messages(at.error)
    with session_scope() as s:
        assert s.get(Partner, quiet_partner).health_reason is None


def test_the_partner_page_draws_the_weekly_trend_of_the_score(quiet_partner, login):
    with session_scope() as s:
        for weeks in (3, 2, 1):
            health.take_snapshots(session=s, viewer=Viewer.system("tests"),
                                  today=local_today() - timedelta(weeks=weeks))
        s.commit()
    at = login("vp", DETAIL, id=str(quiet_partner))
    assert not at.exception, at.exception
    figure = json.loads(at.get("plotly_chart")[0].proto.spec)
    [line] = figure["data"]
    assert len(line["x"]) == 3 and all(0 <= y <= 100 for y in line["y"])


def test_partner_analytics_lists_each_partners_score_and_its_change(quiet_partner, login):
    with session_scope() as s:
        health.take_snapshots(session=s, viewer=Viewer.system("tests"),
                              today=local_today() - timedelta(weeks=1))
        make_opportunity(s, s.get(Partner, quiet_partner))  # listed: it has a deal
        s.commit()
    at = login("vp", "pages/partner_analytics.py")
    assert not at.exception, at.exception
    table = next(t.value for t in at.dataframe if "Health score" in t.value.columns)
    row = table.set_index("Partner").loc["Quietfield"]
    # A week further from the last touch: 7 of 30 days' cadence, of 20 points, is −5.
    assert row["Score change"] == -5
