"""Drill-through in the app: a click on a card, a bar or a row opens the opportunity grid on
exactly the deals behind the figure, and the analytics and grid filters live in the address.

Clicks are given to the charts as the browser reports them (the clicked bar's trace,
point and labels, read from the figure the page sent); the figure each is compared with
comes from the KPI engine, called here directly.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
from sqlalchemy import select

from isv import db
from isv.analytics import drill, partner_frames
from isv.analytics.breakdowns import team_performance, top_partners
from isv.analytics.dashboard import dashboard_data
from isv.analytics.kpis import Filters, compute_kpis
from isv.analytics.partners import partner_analytics
from isv.analytics.periods import quarter_containing
from isv.analytics.pipeline import pipeline_analytics
from isv.auth import Viewer
from isv.db import session_scope
from isv.demo import DEMO_LOGINS, load_demo
from isv.models import OPEN_STAGES, Partner, User
from isv.services import opportunities as opportunities_service
from isv.services.opportunities import OpportunityFilters, list_opportunities
from isv.services.settings import local_today
from tests.app.conftest import _clear_caches, messages, new_app, signed_in, submit_login
from tests.conftest import fresh_migrated

VP = next(login for login in DEMO_LOGINS if login[2] == "vp")
PM = next(login for login in DEMO_LOGINS if login[2] == "partnership_manager")


@pytest.fixture(scope="module")
def demo_template(request, tmp_path_factory):
    path = tmp_path_factory.mktemp("drill_demo") / "isv.db"
    url = fresh_migrated(request, "sqlite", path)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ISV_BCRYPT_ROUNDS", "4")
        _clear_caches()
        with db.session_scope(url) as session:
            load_demo(session=session, opportunities=120, seed=5)
            session.commit()
        db.get_engine(url).dispose()
    _clear_caches()
    return path


@pytest.fixture
def demo(demo_template, tmp_path, monkeypatch):
    path = tmp_path / "isv.db"
    shutil.copy(demo_template, path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("ISV_DATABASE_URL", url)
    monkeypatch.setenv("ISV_COOKIE_KEY", "app-tests-cookie-key-0123456789-abcdefghij")
    _clear_caches()
    yield url
    db.get_engine(url).dispose()
    _clear_caches()


def sign_in(login=VP, page: str | None = None, **params):
    at = new_app()
    if page:
        at.switch_page(page)
    at.query_params.update(params)
    at = submit_login(at.run(), login[0], login[1])
    assert not at.exception, at.exception
    assert signed_in(at)
    return at


def viewer(login=VP) -> Viewer:
    with session_scope() as s:
        return Viewer.of(s.scalar(select(User).where(User.email == login[0])))


def grid_count(at) -> int:
    """The grid's row count as its caption says it ("Deals 1–50 of 123", "No deals match")."""
    assert [t.value for t in at.title] == ["Opportunities"], [t.value for t in at.title]
    caption = next(c.value for c in at.caption
                   if c.value.startswith("Deals ") or c.value.startswith("No deals"))
    found = re.search(r"of ([\d,]+)", caption)
    return int(found[1].replace(",", "")) if found else 0


def param(at, key: str) -> list[str]:
    """A parameter of the address, every value as a list (one value or repeated)."""
    value = at.query_params.get(key, [])
    return [value] if isinstance(value, str) else list(value)


def figure_shown(at) -> str:
    """The filters a figure set, in words, as the grid shows them."""
    return " ".join(i.value for i in at.info)


def chart(at, key: str) -> dict:
    element = next(c for c in at.get("plotly_chart") if c.proto.id and key in c.proto.id)
    return json.loads(element.proto.spec)


def click(at, key: str, *, trace: str | None = None, category: str | None = None,
          curve: int | None = None):
    """Click the bar of `trace` (its legend name) at `category`, as the browser reports it."""
    spec = chart(at, key)
    for number, data in enumerate(spec["data"]):
        if curve is not None and number != curve:
            continue
        if trace is not None and data.get("name") != trace:
            continue
        horizontal = data.get("type") == "funnel" or data.get("orientation") == "h"
        labels = data["y"] if horizontal else data["x"]
        for index, label in enumerate(labels):
            words = re.sub(r"<[^>]+>", "", label.replace("<br>", " "))
            first = re.sub(r"<[^>]+>", "", label.split("<br>")[0])
            if category is None or category in (label, words, first):
                point = {"curve_number": number, "point_number": index, "point_index": index,
                         "x": data["x"][index], "y": data["y"][index]}
                if "customdata" in data:
                    point["customdata"] = data["customdata"][index]
                at.session_state[key] = {"selection": {"points": [point],
                                                       "point_indices": [index],
                                                       "box": [], "lasso": []}}
                at.run()
                assert not at.exception, at.exception
                return at
    raise AssertionError(f"no bar {trace!r} at {category!r} in {key}")


def select_row(at, key: str, row: int):
    at.session_state[key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    at.run()
    assert not at.exception, at.exception
    return at


def follow(at, label_start: str):
    """Follow a page link (a KPI card's) as a browser would: its page and its parameters."""
    link = next(link for link in at.get("page_link")
                if link.proto.label.startswith(label_start))
    at.query_params.clear()
    for key, values in parse_qs(link.proto.query_string).items():
        at.query_params[key] = values if len(values) > 1 else values[0]
    at.switch_page(f"pages/{link.proto.page}.py").run()
    assert not at.exception, at.exception
    return at, int(re.match(r"See (?:the|all) ([\d,]+)", link.proto.label)[1].replace(",", ""))


# --- the executive dashboard ---------------------------------------------------------------

def test_each_dashboard_card_opens_the_grid_on_the_deals_it_counts(demo):
    today = local_today()
    with session_scope() as s:
        kpis = compute_kpis(session=s, viewer=viewer(), period=quarter_containing(today),
                            as_of=today)
    expected = {"Pipeline": kpis.open_count, "Won this period": kpis.won_count,
                "Win rate": kpis.won_count + kpis.lost_count}
    assert all(expected.values())
    for card, figure in expected.items():
        at = sign_in()
        links = [link.proto.label for link in at.get("page_link")]
        label = next(text for text in links if text.startswith(f"See the {figure:,} "))
        at, said = follow(at, label)
        assert said == figure == grid_count(at), card
    # Coverage: the open deals due this period that its pipeline sums.
    assert kpis.period_pipeline_count
    at, said = follow(sign_in(), f"See the {kpis.period_pipeline_count:,} deals due this period")
    assert said == kpis.period_pipeline_count == grid_count(at)
    at = sign_in()
    at, said = follow(at, "See all ")
    assert said == kpis.slipped_count == grid_count(at)
    assert "expected to close on or before" in figure_shown(at)
    assert at.multiselect(key="grid_stages").value == list(OPEN_STAGES)


def test_a_funnel_stage_opens_the_deals_created_this_period_that_reached_it(demo):
    today = local_today()
    with session_scope() as s:
        kpis = compute_kpis(session=s, viewer=viewer(), period=quarter_containing(today),
                            as_of=today)
    at = click(sign_in(), "funnel", category="Demo")
    assert grid_count(at) == kpis.reached_count["demo"] > 0
    assert "reached Demo or further" in figure_shown(at)
    assert param(at, "reached") == ["demo"]


def test_revenue_bars_open_the_quarters_won_deals_and_its_forecast_deals(demo):
    today = local_today()
    with session_scope() as s:
        data = dashboard_data(session=s, viewer=viewer(), period=quarter_containing(today),
                              as_of=today)
    now = next(q for q in data.revenue if q.status == "current")
    coming = next(q for q in data.revenue if q.status == "coming" and q.forecast_count)
    at = click(sign_in(), "revenue", trace="Won", category=f"{now.period.title} (now)")
    assert grid_count(at) == now.won_count
    assert at.multiselect(key="grid_stages").value == ["closed_won"]
    at = click(sign_in(), "revenue", trace="Weighted forecast", category=coming.period.title)
    assert grid_count(at) == coming.forecast_count > 0
    assert "expected to close" in figure_shown(at)


def test_a_domain_bar_opens_that_domains_open_deals_in_that_stage(demo):
    today = local_today()
    with session_scope() as s:
        data = dashboard_data(session=s, viewer=viewer(), period=quarter_containing(today),
                              as_of=today)
    cell = max(data.domains, key=lambda c: c.count)
    label = {"lead": "Lead", "demo": "Demo", "poc": "PoC", "proposal": "Proposal"}[cell.stage]
    at = click(sign_in(), "domains", trace=label, category=cell.domain)
    assert grid_count(at) == cell.count
    assert at.multiselect(key="grid_domains").value == [cell.domain]
    assert at.multiselect(key="grid_stages").value == [cell.stage]


def test_a_top_partner_bar_opens_its_won_deals_and_its_row_its_open_and_won_deals(demo):
    today = local_today()
    with session_scope() as s:
        rows = top_partners(session=s, viewer=viewer(), period=quarter_containing(today))
    first = rows[0]
    assert first.won_count
    at = click(sign_in(), "partners", category=first.name)
    assert grid_count(at) == first.won_count
    assert at.multiselect(key="grid_partners").value == [str(first.partner_id)]
    assert "deals closed" in figure_shown(at) and "open, or" not in figure_shown(at)
    at = select_row(sign_in(), "partners_table", 0)
    assert grid_count(at) == first.won_count + first.open_count
    assert "deals open, or closed" in figure_shown(at)


def test_a_slipped_row_opens_that_deal_and_a_team_row_that_persons_deals(demo):
    today = local_today()
    with session_scope() as s:
        data = dashboard_data(session=s, viewer=viewer(), period=quarter_containing(today),
                              as_of=today)
    at = select_row(sign_in(), "slipped", 0)
    assert grid_count(at) == 1
    assert "the chosen deal" in figure_shown(at)
    person = data.team[0]
    at = select_row(sign_in(), "team", 0)
    assert grid_count(at) == person.open_count + person.won_count
    assert at.multiselect(key="grid_owners").value == [str(person.user_id)]


def test_the_page_filters_carry_into_the_grid(demo):
    today = local_today()
    f = Filters.of(domains=["Security"])
    with session_scope() as s:
        kpis = compute_kpis(session=s, viewer=viewer(), period=quarter_containing(today),
                            as_of=today, filters=f)
    at = sign_in(domain="Security")
    assert at.selectbox(key="dashboard_domain").value == "Security"
    at, said = follow(at, f"See the {kpis.open_count:,} ")
    assert said == grid_count(at) == kpis.open_count
    assert at.multiselect(key="grid_domains").value == ["Security"]


# --- pipeline analytics ----------------------------------------------------------------------

def test_pipeline_analytics_bars_open_their_deals(demo):
    today = local_today()
    period = quarter_containing(today)
    with session_scope() as s:
        data = pipeline_analytics(session=s, viewer=viewer(), period=period, as_of=today)
    page = "pages/pipeline_analytics.py"
    velocity = data.velocity[-1]
    at = click(sign_in(page=page), "velocity", category=velocity.period.title)
    assert grid_count(at) == velocity.won_count + velocity.lost_count
    month = next(m for m in data.forecast if m.kind == "month" and m.count)
    label = f"{month.start:%b} {month.start.year}"
    at = click(sign_in(page=page), "forecast", trace="Open value", category=label)
    assert grid_count(at) == month.count
    overdue = data.forecast[0]
    at = click(sign_in(page=page), "forecast", trace="Open value", category="Overdue")
    assert grid_count(at) == overdue.count
    partner = data.win_loss[0]
    at = click(sign_in(page=page), "win_loss", trace="Lost" if partner.lost_count else "Won",
               category=partner.name)
    assert grid_count(at) == (partner.lost_count or partner.won_count)
    stay = max(data.stage_times, key=lambda r: r.open_count)
    label = {"lead": "Lead", "demo": "Demo", "poc": "PoC", "proposal": "Proposal"}[stay.stage]
    at = click(sign_in(page=page), "time_in_stage", trace="Still in the stage now (days so far)",
               category=label)
    assert grid_count(at) == stay.open_count > 0
    moved = max(data.stage_times, key=lambda r: r.moved_deals)
    label = {"lead": "Lead", "demo": "Demo", "poc": "PoC", "proposal": "Proposal"}[moved.stage]
    at = click(sign_in(page=page), "time_in_stage", trace="Moved on in the period",
               category=label)
    assert grid_count(at) == moved.moved_deals > 0
    assert f"moved on from {label} " in figure_shown(at)
    assert param(at, "left") == [moved.stage]
    reason = data.lost_reasons[0]
    at = click(sign_in(page=page), "lost_reasons", category=reason.reason or "No reason given")
    assert grid_count(at) == reason.count
    assert at.multiselect(key="grid_stages").value == ["closed_lost"]


def test_pipeline_analytics_cards_open_their_deals(demo):
    today = local_today()
    with session_scope() as s:
        kpis = compute_kpis(session=s, viewer=viewer(), period=quarter_containing(today),
                            as_of=today)
    at, said = follow(sign_in(page="pages/pipeline_analytics.py"),
                      f"See the {kpis.won_count + kpis.lost_count:,} deals won or lost")
    assert said == grid_count(at)


# --- partner analytics and team view ---------------------------------------------------------

def test_partner_analytics_bars_open_their_deals(demo):
    today = local_today()
    period = quarter_containing(today)
    with session_scope() as s:
        data = partner_analytics(session=s, viewer=viewer(), period=period, as_of=today)
    page = "pages/partner_analytics.py"
    partner = next(p for p in data.partners if p.open_count)
    at = click(sign_in(page=page), "partner_results", trace="Open pipeline",
               category=partner.name)
    assert grid_count(at) == partner.open_count
    at = select_row(sign_in(page=page), "partner_results_table", 0)
    first = data.partners[0]
    assert grid_count(at) == first.open_count + first.won_count + first.lost_count
    cell = max(data.trend, key=lambda c: c.count)
    at = click(sign_in(page=page), "partner_trend", trace=cell.domain,
               category=cell.period.title)
    assert grid_count(at) == cell.count
    assert "created" in figure_shown(at)
    bucket = next(b for b in data.liability.buckets if b.period is not None and b.count)
    at = click(sign_in(page=page), "partner_liability", category=bucket.period.title)
    assert grid_count(at) == bucket.count
    domain = next(d for d in data.coverage if d.partners and d.partners[0].active)
    share = domain.partners[0]
    spec = chart(sign_in(page=page), "partner_coverage")
    curve = next(n for n, t in enumerate(spec["data"])
                 if t.get("customdata") and t["customdata"][0][0] == share.name
                 and t["y"][0].startswith(f"<b>{domain.domain}</b>"))
    at = click(sign_in(page=page), "partner_coverage", curve=curve)
    assert grid_count(at) == share.open_count


def test_team_view_bars_rows_and_cards_open_their_deals(demo):
    today = local_today()
    period = quarter_containing(today)
    with session_scope() as s:
        people = team_performance(session=s, viewer=viewer(), period=period)
    person = next(p for p in people if p.won_count)
    page = "pages/team_view.py"
    at = click(sign_in(page=page), "team_view_chart", trace="Won in period",
               category=person.name)
    assert grid_count(at) == person.won_count
    first = people[0]
    at = select_row(sign_in(page=page), "team_view_table", 0)
    assert grid_count(at) == first.open_count + first.won_count


# --- the shared analytics filters in the address ----------------------------------------------

def test_a_copied_analytics_link_reproduces_the_view_and_the_choice_follows_to_the_next_page(
        demo):
    today = local_today()
    last = quarter_containing(quarter_containing(today).start - timedelta(days=1))
    with session_scope() as s:
        partner = s.scalar(select(Partner).where(Partner.domain == "FinOps").limit(1))
    at = sign_in(period=last.label, domain="FinOps", partner=partner.name)
    assert at.selectbox(key="dashboard_period").value == last.label
    assert at.selectbox(key="dashboard_partner").value == str(partner.id)
    # The address now names the partner by id, as every link the page writes.
    assert param(at, "partner") == [str(partner.id)]
    at.selectbox(key="dashboard_partner").set_value("").run()
    assert "partner" not in at.query_params and param(at, "domain") == ["FinOps"]
    # The sidebar drops the parameters: the next analytics page takes the same choice.
    at.query_params.clear()
    at.switch_page("pages/pipeline_analytics.py").run()
    assert at.selectbox(key="pipeline_analytics_period").value == last.label
    assert param(at, "period") == [last.label]


def test_a_link_may_name_any_period_and_the_grid_takes_its_dates(demo):
    at = sign_in(period="2025-11-15..2026-02-14")
    assert at.selectbox(key="dashboard_period").value == "2025-11-15..2026-02-14"
    won = next(link.proto.label for link in at.get("page_link")
               if re.match(r"See the [\d,]+ deals? won$", link.proto.label))
    at, said = follow(at, won)
    assert param(at, "closed") == ["2025-11-15..2026-02-14"]
    assert grid_count(at) == said


def test_a_link_with_an_unknown_partner_says_so_and_shows_everything(demo):
    at = sign_in(partner="Nobody Inc", period="2026Q9")
    warning = " ".join(messages(at.warning))
    assert "Nobody Inc" in warning and "2026Q9" in warning
    assert at.selectbox(key="dashboard_partner").value == ""
    at.selectbox(key="dashboard_domain").set_value("Security").run()
    assert not at.warning  # the user moved on from the link


def test_a_partnership_manager_drills_only_into_their_own_deals(demo):
    today = local_today()
    with session_scope() as s:
        kpis = compute_kpis(session=s, viewer=viewer(PM), period=quarter_containing(today),
                            as_of=today)
        everyone = compute_kpis(session=s, viewer=viewer(), period=quarter_containing(today),
                                as_of=today)
    assert kpis.open_count < everyone.open_count
    at, said = follow(sign_in(PM), f"See the {kpis.open_count:,} open deals")
    assert said == grid_count(at) == kpis.open_count
    # Goal attainment: the won deals counted toward the manager's own target, theirs alone.
    at = sign_in(PM)
    link = next(link for link in at.get("page_link")
                if link.proto.label == "See the deals won toward this goal")
    at.query_params.clear()
    for key, values in parse_qs(link.proto.query_string).items():
        at.query_params[key] = values if len(values) > 1 else values[0]
    at.switch_page("pages/opportunities.py").run()
    with session_scope() as s:
        goal = drill.goal_won(viewer(PM), Filters(), quarter_containing(today))
        deals, n = list_opportunities(session=s, viewer=viewer(PM), filters=goal, limit=5000)
    assert grid_count(at) == n
    assert sum(d.deal_value for d in deals) == kpis.goal_won
    assert at.multiselect(key="grid_owners").value == [str(viewer(PM).id)]


# --- the grid's own filters in the address -----------------------------------------------------

def test_the_grid_filters_live_in_the_address(demo):
    at = sign_in(page="pages/opportunities.py")
    at.multiselect(key="grid_stages").set_value(["closed_won"]).run()
    at.text_input(key="grid_text").set_value("bank").run()
    assert param(at, "stage") == ["closed_won"]
    assert param(at, "q") == ["bank"]
    shown = grid_count(at)
    # A reload (a new session on the same address) shows the same deals.
    again = sign_in()
    again.query_params.update({"stage": "closed_won", "q": "bank"})
    again.switch_page("pages/opportunities.py").run()
    assert again.multiselect(key="grid_stages").value == ["closed_won"]
    assert again.text_input(key="grid_text").value == "bank"
    assert grid_count(again) == shown
    # Dropping a figure's filters keeps the others.
    at = click(sign_in(), "funnel", category="Demo")
    at.button(key="grid_figure_clear").click().run()
    assert "reached" not in at.query_params and not figure_shown(at)


def test_a_grid_link_with_a_bad_value_names_it_and_leaves_it_out(demo):
    at = sign_in()
    at.query_params.update({"stage": ["won", "lead"], "closed": "yesterday"})
    at.switch_page("pages/opportunities.py").run()
    warning = " ".join(messages(at.warning))
    assert "stage 'won'" in warning and "closed 'yesterday'" in warning
    assert at.multiselect(key="grid_stages").value == ["lead"]


# --- the partner directory ----------------------------------------------------------------------

def test_selecting_a_partner_row_opens_the_partner(demo):
    at = sign_in(page="pages/partners.py")
    first = at.dataframe(key="partners_table").value.iloc[0]
    select_row(at, "partners_table", 0)
    assert param(at, "id")
    headings = messages(at.title) + messages(at.header) + messages(at.subheader)
    assert any(first["Partner"] in text for text in headings), headings



# --- the grid's Open button ----------------------------------------------------------------------

def test_a_rows_open_button_opens_the_deal_in_this_tab_unless_edits_would_be_lost(demo):
    at = sign_in(page="pages/opportunities.py", stage="proposal")
    customer = at.dataframe[0].value.iloc[0]["Customer"]
    at.session_state["grid_open"] = {"row": 0, "label": "Open"}
    at.run()
    assert not at.exception, at.exception
    assert customer in messages(at.header) + messages(at.title) + messages(at.subheader)
    assert param(at, "id")

    at = sign_in(page="pages/opportunities.py", stage="proposal")
    editor = at.session_state["opportunity_grid_key"]
    at.session_state[editor] = {"edited_rows": {0: {"Notes": "call back"}}, "added_rows": [],
                                "deleted_rows": []}
    at.run()
    at.session_state["grid_open"] = {"row": 0, "label": "Open"}
    at.run()
    assert [t.value for t in at.title] == ["Opportunities"]
    assert any("Save or discard your edits before opening" in w for w in messages(at.warning))


# --- the board's "See all" ----------------------------------------------------------------------

def test_a_board_columns_see_all_opens_the_grid_on_its_deals_under_the_boards_filters(demo):
    since = local_today() - timedelta(days=60)
    with session_scope() as s:
        totals = opportunities_service.stage_totals(
            session=s, viewer=viewer(), filters=OpportunityFilters(close_from=since))
    at = sign_in(page="pages/board.py", **{"from": since.isoformat()})
    at.segmented_control(key="board_per_column").set_value(10).run()
    link = next(link for link in at.get("page_link") if link.proto.label == "See all")
    query = parse_qs(link.proto.query_string)
    assert query["from"] == [since.isoformat()]
    stage = query["stage"][0]
    at.query_params.clear()
    for key, values in query.items():
        at.query_params[key] = values if len(values) > 1 else values[0]
    at.switch_page("pages/opportunities.py").run()
    assert grid_count(at) == totals[stage].count > 10


ANALYTICS_PAGES = ("pages/dashboard.py", "pages/pipeline_analytics.py",
                   "pages/partner_analytics.py", "pages/team_view.py")


@pytest.mark.parametrize("page", ANALYTICS_PAGES)
def test_every_counted_link_of_an_analytics_page_opens_that_many_deals(demo, page):
    at = sign_in(page=page)
    labels = [link.proto.label for link in at.get("page_link")
              if re.match(r"See (the|all) [\d,]+ ", link.proto.label)]
    assert labels
    for label in dict.fromkeys(labels):
        at = sign_in(page=page)
        at, said = follow(at, label)
        assert grid_count(at) == said, label


# --- the tables under the charts: the same deals, by keyboard as well as by mouse ------------

def test_rows_of_the_tables_under_the_charts_open_their_deals(demo):
    today = local_today()
    period = quarter_containing(today)
    with session_scope() as s:
        kpis = compute_kpis(session=s, viewer=viewer(), period=period, as_of=today)
        pipeline = pipeline_analytics(session=s, viewer=viewer(), period=period, as_of=today)
        partners = partner_analytics(session=s, viewer=viewer(), period=period, as_of=today)
    at = select_row(sign_in(), "funnel_table", 1)
    assert grid_count(at) == kpis.reached_count["demo"]
    page = "pages/pipeline_analytics.py"
    at = select_row(sign_in(page=page), "forecast_table", 0)       # overdue
    assert grid_count(at) == pipeline.forecast[0].count
    at = select_row(sign_in(page=page), "velocity_table", 3)       # this quarter
    assert grid_count(at) == kpis.won_count + kpis.lost_count
    page = "pages/partner_analytics.py"
    trend = partner_frames.trend_frame(partners.trend, partners.trend_quarters)
    k = int(trend["Deals"].astype(int).idxmax())
    at = select_row(sign_in(page=page), "partner_trend_table", k)
    assert grid_count(at) == trend["Deals"][k] > 0
    listed = [b for b in partners.liability.buckets if b.period is not None or b.count]
    at = select_row(sign_in(page=page), "partner_liability_table", len(listed) - 1)
    assert grid_count(at) == listed[-1].count
    matrix = partner_frames.coverage_frame(partners.coverage)
    k = next(n for n, name in enumerate(matrix["Partner"]) if name)
    at = select_row(sign_in(page=page), "partner_coverage_table", k)
    assert grid_count(at) == matrix["Open deals"][k]


def test_back_on_a_grid_address_after_another_page_shows_its_filters_again(demo):
    at = sign_in(page="pages/opportunities.py", stage="proposal")
    assert at.multiselect(key="grid_stages").value == ["proposal"]
    shown = grid_count(at)
    at.switch_page("pages/board.py").run()
    at.query_params.clear()
    at.query_params["stage"] = "proposal"   # the browser's Back: the grid's address again
    at.switch_page("pages/opportunities.py").run()
    assert at.multiselect(key="grid_stages").value == ["proposal"]
    assert grid_count(at) == shown
