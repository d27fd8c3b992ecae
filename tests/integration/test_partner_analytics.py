"""Partner analytics and the team view: per-partner KPIs, liability, coverage, on both databases.

Per-partner KPIs are checked against compute_kpis with that partner as the filter; the
liability and the coverage flags against amounts worked out by hand in each test.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from isv import charts
from isv.analytics import partner_frames
from isv.analytics.kpis import Filters, compute_kpis, kpis_by_partner
from isv.analytics.partners import (
    SLIPPED,
    UNDATED,
    commission_liability,
    created_by_quarter,
    domain_coverage,
    liability_quarters,
    partner_analytics,
    trend_quarters,
)
from isv.analytics.periods import quarter_range
from isv.analytics.team import team_view
from isv.models import DOMAINS
from tests.factories import (
    make_goal,
    make_opportunity,
    make_partner,
    make_structure,
    make_user,
    viewer_of,
)
from tests.integration.conftest import statements
from tests.integration.test_kpis import random_world

D = Decimal
Q4 = quarter_range(2026, 4)
AS_OF = date(2026, 11, 20)
PARTNER_FIELDS = ("open_count", "pipeline_total", "pipeline_weighted", "won_count",
                  "won_revenue", "lost_count", "win_rate", "commission_earned")


@pytest.fixture
def vp(session):
    return viewer_of(make_user(session, role="vp"))


def deal(session, partner, stage, value, **more):
    if stage == "closed_lost":
        more.setdefault("lost_reason", "Price")
    return make_opportunity(session, partner, stage=stage, deal_value=D(value), **more)


def by_name(rows):
    return {row.name: row for row in rows}


# --- per-partner KPIs -----------------------------------------------------------------------

@pytest.mark.parametrize("who", ["vp", "pm1", "pm2"])
def test_each_partners_kpis_equal_compute_kpis_filtered_to_that_partner(session, who):
    world = random_world(session, deals=90)
    viewer = world.viewer(who)
    period = quarter_range(2026, 3)
    rows = kpis_by_partner(session=session, viewer=viewer, period=period)
    assert rows
    for row in rows:
        alone = compute_kpis(session=session, viewer=viewer, period=period, as_of=AS_OF,
                             filters=Filters.of(partner_ids=[row.partner_id]))
        for name in PARTNER_FIELDS:
            assert getattr(row, name) == getattr(alone, name), (row.name, name)
        assert {d.id for d in row.no_structure} == {d.id for d in alone.no_structure}
    whole = compute_kpis(session=session, viewer=viewer, period=period, as_of=AS_OF)
    assert sum((r.pipeline_total for r in rows), D(0)) == whole.pipeline_total
    assert sum((r.commission_earned for r in rows), D(0)) == whole.commission_earned


def test_a_partners_row_shows_exact_pipeline_results_and_commission(session, vp):
    partner = make_partner(session, name="Ledgerline", domain="FinOps")
    make_structure(session, partner, commission_percentage=D("12.50"),
                   effective_from=date(2026, 1, 1))
    deal(session, partner, "proposal", "10000.10", probability=D("33"))
    deal(session, partner, "lead", "5000", probability=D("10"))
    deal(session, partner, "closed_won", "40000", actual_close_date=date(2026, 10, 5))
    deal(session, partner, "closed_lost", "7000", actual_close_date=date(2026, 11, 1))
    deal(session, partner, "closed_won", "99999", actual_close_date=date(2026, 9, 30))
    row = by_name(kpis_by_partner(session=session, viewer=vp, period=Q4))["Ledgerline"]
    assert (row.open_count, row.pipeline_total) == (2, D("15000.10"))
    assert row.pipeline_weighted == D("3300.033") + D("500")
    assert (row.won_count, row.won_revenue, row.lost_count) == (1, D("40000.00"), 1)
    assert row.win_rate == D("0.5")
    assert row.commission_earned == D("5000")


# --- commission liability ----------------------------------------------------------------

def test_liability_is_weighted_value_times_the_structure_in_force_on_the_expected_close(
        session, vp):
    partner = make_partner(session, name="Budgetbeam", domain="FinOps")
    make_structure(session, partner, commission_percentage=D("10"),
                   effective_from=date(2025, 1, 1))
    make_structure(session, partner, commission_percentage=D("15"),
                   effective_from=date(2027, 1, 1))
    make_structure(session, partner, commission_percentage=D("30"),
                   effective_from=date(2025, 1, 1), min_deal_size=D("500000"),
                   max_deal_size=D("600000"))
    own = make_structure(session, partner, commission_percentage=D("20"),
                         effective_from=date(2030, 1, 1))
    # Q4 2026 at 10 %: 10,000 × 50 % × 10 % = 500
    deal(session, partner, "demo", "10000", probability=D("50"),
         expected_close_date=date(2026, 12, 15))
    # Q1 2027 at 15 % (the later structure): 8,000 × 25 % × 15 % = 300
    deal(session, partner, "poc", "8000", probability=D("25"),
         expected_close_date=date(2027, 2, 1))
    # Q1 2027 under its own structure, whatever its dates: 20,000 × 25 % × 20 % = 1,000
    deal(session, partner, "poc", "20000", probability=D("25"),
         expected_close_date=date(2027, 3, 1), commission_structure_id=own.id)
    # slipped, priced on as_of at 10 %: 3,000 × 40 % × 10 % = 120
    deal(session, partner, "proposal", "3000", probability=D("40"),
         expected_close_date=date(2026, 11, 1))
    # no date, priced on as_of at 10 %: 1,000 × 10 % × 10 % = 10
    deal(session, partner, "lead", "1000", probability=D("10"))
    # a closed deal never counts
    deal(session, partner, "closed_won", "50000", actual_close_date=date(2026, 11, 2),
         expected_close_date=date(2026, 12, 1))
    result = commission_liability(session=session, viewer=vp, as_of=AS_OF)
    buckets = {b.key: b for b in result.buckets}
    assert (buckets["2026Q4"].count, buckets["2026Q4"].weighted,
            buckets["2026Q4"].commission) == (1, D("5000"), D("500"))
    assert (buckets["2027Q1"].count, buckets["2027Q1"].weighted,
            buckets["2027Q1"].commission) == (2, D("7000"), D("1300"))
    assert (buckets[SLIPPED].count, buckets[SLIPPED].commission) == (1, D("120"))
    assert (buckets[UNDATED].count, buckets[UNDATED].commission) == (1, D("10"))
    assert result.total == D("1930")
    assert result.by_partner == {partner.id: D("1930")}


def test_open_deals_without_an_applicable_structure_are_counted_not_priced(session, vp):
    partner = make_partner(session, name="Capped", domain="Security")
    make_structure(session, partner, commission_percentage=D("10"),
                   effective_from=date(2025, 1, 1), max_deal_size=D("50000"))
    deal(session, partner, "proposal", "80000", probability=D("50"),
         expected_close_date=date(2027, 1, 10))
    deal(session, partner, "proposal", "40000", probability=D("50"),
         expected_close_date=date(2027, 1, 10))
    bucket = {b.key: b for b in commission_liability(session=session, viewer=vp,
                                                     as_of=AS_OF).buckets}["2027Q1"]
    assert (bucket.count, bucket.weighted, bucket.commission) == (2, D("60000"), D("2000"))
    assert (bucket.unpriced_count, bucket.unpriced_weighted) == (1, D("40000"))


def test_the_forecast_runs_from_the_quarter_of_as_of_for_four_quarters(session, vp):
    assert [q.label for q in liability_quarters(AS_OF)] == ["2026Q4", "2027Q1", "2027Q2",
                                                            "2027Q3"]
    keys = [b.key for b in commission_liability(session=session, viewer=vp,
                                                as_of=AS_OF).buckets]
    assert keys == [SLIPPED, "2026Q4", "2027Q1", "2027Q2", "2027Q3", "later", UNDATED]


# --- domain coverage ---------------------------------------------------------------------

def coverage(session, viewer):
    return {c.domain: c for c in domain_coverage(session=session, viewer=viewer)}


def test_a_partner_with_exactly_60_percent_is_not_flagged_and_one_cent_more_is(session, vp):
    a = make_partner(session, name="Sixty", domain="FinOps")
    b = make_partner(session, name="Forty", domain="FinOps")
    deal(session, a, "lead", "6000.00")
    deal(session, b, "demo", "4000.00")
    c = make_partner(session, name="Sixty Plus", domain="Security")
    d = make_partner(session, name="Forty Minus", domain="Security")
    deal(session, c, "lead", "6000.01")
    deal(session, d, "demo", "3999.99")
    found = coverage(session, vp)
    finops, security = found["FinOps"], found["Security"]
    assert by_name(finops.partners)["Sixty"].share == D("0.6")
    assert finops.concentrated == ()
    assert [p.name for p in security.concentrated] == ["Sixty Plus"]
    assert by_name(security.partners)["Sixty Plus"].share == D("0.600001")


def test_a_domain_whose_partners_have_no_open_deals_or_no_partners_has_no_active_partner(
        session, vp):
    idle = make_partner(session, name="Idle Ops", domain="DevOps")
    deal(session, idle, "closed_won", "9000", actual_close_date=date(2026, 10, 1))
    deal(session, idle, "closed_lost", "1000", actual_close_date=date(2026, 10, 2))
    busy = make_partner(session, name="Busy Watch", domain="Observability")
    deal(session, busy, "poc", "2500")
    found = coverage(session, vp)
    assert set(found) == set(DOMAINS)
    devops = found["DevOps"]
    assert devops.no_active_partner and [p.name for p in devops.partners] == ["Idle Ops"]
    assert found["Data/Backup"].no_active_partner and found["Data/Backup"].partners == ()
    observability = found["Observability"]
    assert not observability.no_active_partner
    # the only active partner holds everything: that is concentration too
    assert [p.name for p in observability.concentrated] == ["Busy Watch"]
    assert observability.pipeline == D("2500.00")


def test_the_coverage_chart_and_table_say_the_flags_in_words(session, vp):
    alone = make_partner(session, name="Alone", domain="FinOps")
    deal(session, alone, "lead", "1000")
    found = domain_coverage(session=session, viewer=vp)
    summary = partner_frames.domain_summary_frame(found).set_index("Domain")
    assert summary.loc["FinOps", "Flag"] == "⚠ Alone holds more than 60\u00a0%"
    assert summary.loc["Security", "Flag"] == "⚠ No active partner"
    fig = charts.domain_coverage_figure(partner_frames.coverage_frame(found),
                                        flags=dict(summary["Flag"]))
    labels = {label for trace in fig.data for label in trace.y}
    assert "<b>FinOps</b><br>⚠ Alone holds more than 60\u00a0%" in labels
    assert [t.text[0] for t in fig.data] == ["⚠ Alone 100.0\u00a0%"]
    notes = [a.text for a in fig.layout.annotations]
    assert notes.count("⚠ No active partner: no open deals") == 4


def test_a_partnership_manager_sees_coverage_of_their_partners_and_assigned_deals(session):
    pm = make_user(session, role="partnership_manager")
    mine = make_partner(session, name="Mine", domain="FinOps", owner_id=pm.id)
    other = make_partner(session, name="Other", domain="FinOps")
    hidden = make_partner(session, name="Hidden", domain="Security")
    deal(session, mine, "lead", "1000")
    deal(session, other, "lead", "3000", assigned_user_id=pm.id)
    deal(session, other, "lead", "50000")
    deal(session, hidden, "lead", "7000")
    found = coverage(session, viewer_of(pm))
    assert {p.name: p.pipeline for p in found["FinOps"].partners} == {
        "Other": D("3000.00"), "Mine": D("1000.00")}
    assert found["Security"].no_active_partner and found["Security"].partners == ()


# --- new pipeline by quarter -------------------------------------------------------------

def test_new_pipeline_counts_deals_by_creation_quarter_and_domain(session, vp):
    finops = make_partner(session, name="Trend One", domain="FinOps")
    security = make_partner(session, name="Trend Two", domain="Security")

    def created(day):
        return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)

    deal(session, finops, "lead", "1000", created_at=created(date(2026, 10, 1)))
    deal(session, finops, "closed_won", "2000", created_at=created(date(2026, 12, 31)),
         actual_close_date=date(2026, 12, 31))
    deal(session, security, "demo", "500", created_at=created(date(2026, 7, 4)))
    deal(session, security, "demo", "800", created_at=created(date(2024, 1, 1)))
    quarters = trend_quarters(Q4)
    assert [q.label for q in quarters][0] == "2025Q1" and quarters[-1] == Q4
    rows = created_by_quarter(session=session, viewer=vp, quarters=quarters)
    assert [(r.period.label, r.domain, r.count, r.value) for r in rows] == [
        ("2026Q3", "Security", 1, D("500.00")), ("2026Q4", "FinOps", 2, D("3000.00"))]


# --- the pages' data: fixed statements, consistent totals -----------------------------------

def test_partner_analytics_runs_as_many_statements_for_many_deals_as_for_few(session):
    world = random_world(session, deals=10)

    def page(name):
        return lambda: partner_analytics(session=session, viewer=world.viewer(name),
                                         period=Q4, as_of=AS_OF)

    few = {name: statements(session, page(name)) for name in ("vp", "pm1")}
    random_world(session, seed=99, deals=80, world=world)
    many = {name: statements(session, page(name)) for name in ("vp", "pm1")}
    assert few == many
    assert few["vp"] <= 20


def test_team_view_rows_add_up_to_the_kpis_and_run_fixed_statements(session):
    world = random_world(session, deals=40)
    vp = world.viewer("vp")
    newcomer = make_user(session, role="sales_manager")  # a target, no deals yet
    make_goal(session, newcomer, year=2026, quarter=3, revenue_target=D("123456.78"))
    period = quarter_range(2026, 3)
    view = team_view(session=session, viewer=vp, period=period, as_of=AS_OF)
    assert sum((p.won for p in view.people), D(0)) == view.kpis.won_revenue
    assert sum((p.pipeline for p in view.people), D(0)) == view.kpis.pipeline_total
    assert sum((p.target or D(0) for p in view.people), D(0)) == view.kpis.revenue_target
    assert {p.user_id: p.target for p in view.people}[newcomer.id] == D("123456.78")
    few = statements(session, lambda: team_view(session=session, viewer=vp, period=period,
                                                as_of=AS_OF))
    random_world(session, seed=5, deals=60, world=world)
    assert statements(session, lambda: team_view(session=session, viewer=vp, period=period,
                                                 as_of=AS_OF)) == few
