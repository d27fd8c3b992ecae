"""Pipeline analytics on a small program whose every number is worked out by hand below.

Q3 2026 as of 2026-08-20 (the end of that day is 2026-08-21 00:00 UTC). Stage moves:

| deal | partner | moves                                                      | now                |
|------|---------|------------------------------------------------------------|--------------------|
| d1   | Ledger  | lead Jul 1 → demo Jul 4 → poc Jul 14                       | poc, due Aug 1     |
| d2   | Ledger  | lead Jun 20 → demo Jul 1 12:00 → lost Jul 6 12:00          | lost Jul 6         |
| d3   | Shield  | lead Jun 1 → demo Jun 11 → proposal Jul 1 → won Jul 11     | won Jul 11         |
| d4   | Ledger  | lead Aug 10                                                | lead, due Sep 15   |
| d5   | Ledger  | proposal Jul 2, a row synthesized on import                | proposal, 2027     |
| d7   | Ledger  | demo Jul 20                                                | demo, no date      |
| d8   | Ledger  | lead Aug 20                                                | lead, due Aug 20   |

Time in stage, moved on in Q3: lead d1 3 d, d2 11.5 d (d3 left lead in June);
demo d1 10, d2 5, d3 20; proposal d3 10. Still there: lead d4 11, d8 1; demo d7 32;
poc d1 38; proposal d5 left out (synthesized). Closed deals without open-stage history
(d9 won, d10/d11 lost, d12 lost in June) only feed win/loss and lost reasons.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from isv import display
from isv.analytics.kpis import Filters, compute_kpis
from isv.analytics.periods import quarter_range
from isv.analytics.pipeline import (
    LATER,
    MONTH,
    OVERDUE,
    UNDATED,
    forecast_by_close_month,
    lost_reasons,
    pipeline_analytics,
    time_in_stage,
    velocity_by_quarter,
    win_loss_by_partner,
)
from isv.auth import Viewer
from isv.models import Opportunity, Partner, StageHistory
from tests.factories import make_partner, make_user, viewer_of
from tests.integration.conftest import statements

Q3 = quarter_range(2026, 3)
AS_OF = date(2026, 8, 20)
D = Decimal


def at(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def deal(session, partner, moves, *, synthesized=False, **values) -> Opportunity:
    """A deal whose stage history is exactly `moves`: [(stage, when), ...], the last is now."""
    stage = moves[-1][0]
    values.setdefault("deal_value", D(10000))
    values.setdefault("probability", D(10))
    opp = Opportunity(partner_id=partner.id, customer_name=f"Customer of {partner.name}",
                      stage=stage, created_at=moves[0][1], **values)
    session.add(opp)
    session.flush()
    previous = None
    for to_stage, when in moves:
        session.add(StageHistory(opportunity_id=opp.id, from_stage=previous, to_stage=to_stage,
                                 changed_at=when, synthesized=synthesized))
        previous = to_stage
    session.flush()
    return opp


@pytest.fixture
def program(session):
    pm = make_user(session, role="partnership_manager")
    ledger = make_partner(session, name="Ledgerline", domain="FinOps")
    shield = make_partner(session, name="Shieldpoint", domain="Security", owner_id=pm.id)
    deal(session, ledger, [("lead", at(7, 1)), ("demo", at(7, 4)), ("poc", at(7, 14))],
         probability=D(40), expected_close_date=date(2026, 8, 1))
    deal(session, ledger, [("lead", at(6, 20)), ("demo", at(7, 1, 12)),
                           ("closed_lost", at(7, 6, 12))],
         deal_value=D(15000), actual_close_date=date(2026, 7, 6), lost_reason="Price too high")
    deal(session, shield, [("lead", at(6, 1)), ("demo", at(6, 11)), ("proposal", at(7, 1)),
                           ("closed_won", at(7, 11))],
         deal_value=D(30000), actual_close_date=date(2026, 7, 11))
    deal(session, ledger, [("lead", at(8, 10))], deal_value=D(20000),
         expected_close_date=date(2026, 9, 15))
    deal(session, ledger, [("proposal", at(7, 2))], synthesized=True, deal_value=D(50000),
         probability=D(75), expected_close_date=date(2027, 3, 1))
    deal(session, ledger, [("demo", at(7, 20))], deal_value=D(8000), probability=D(25))
    deal(session, ledger, [("lead", at(8, 20))], deal_value=D(4000),
         expected_close_date=AS_OF)
    deal(session, ledger, [("closed_won", at(7, 2))], deal_value=D(25000),
         actual_close_date=date(2026, 8, 1))
    deal(session, ledger, [("closed_lost", at(7, 3))], deal_value=D(5000),
         actual_close_date=date(2026, 9, 30), lost_reason="  price too HIGH ")
    deal(session, shield, [("closed_lost", at(7, 4))], deal_value=D(7000),
         actual_close_date=date(2026, 7, 15))
    deal(session, ledger, [("closed_lost", at(5, 1))], deal_value=D(99999),
         actual_close_date=date(2026, 6, 30), lost_reason="Lost to competitor")
    return viewer_of(pm)


def by_stage(rows):
    return {row.stage: row for row in rows}


def test_time_in_stage_averages_the_stays_that_ended_in_the_period(session, program):
    stages = by_stage(time_in_stage(session=session, viewer=Viewer.system(), period=Q3,
                                    as_of=AS_OF))
    moved = {s: (r.moved_count, r.moved_avg_days, r.moved_median_days)
             for s, r in stages.items()}
    assert moved == {"lead": (2, D("7.25"), D("7.25")),
                     "demo": (3, D("11.6667"), D("10")),
                     "poc": (0, None, None),
                     "proposal": (1, D("10"), D("10"))}


def test_deals_still_in_a_stage_are_aged_to_the_end_of_as_of_and_kept_apart(session, program):
    stages = by_stage(time_in_stage(session=session, viewer=Viewer.system(), period=Q3,
                                    as_of=AS_OF))
    still = {s: (r.open_count, r.open_avg_days, r.open_median_days) for s, r in stages.items()}
    assert still == {"lead": (2, D("6"), D("6")),          # 11 and 1 day
                     "demo": (1, D("32"), D("32")),
                     "poc": (1, D("38"), D("38")),
                     "proposal": (0, None, None)}


def test_a_stay_that_starts_at_a_synthesized_row_is_left_out_and_counted(session, program):
    stages = by_stage(time_in_stage(session=session, viewer=Viewer.system(), period=Q3,
                                    as_of=AS_OF))
    assert {s: r.reconstructed for s, r in stages.items()} == {
        "lead": 0, "demo": 0, "poc": 0, "proposal": 1}


def test_a_partnership_manager_sees_the_time_in_stage_of_their_partners_deals_only(
        session, program):
    stages = by_stage(time_in_stage(session=session, viewer=program, period=Q3, as_of=AS_OF))
    assert [(s, r.moved_count, r.moved_avg_days, r.open_count) for s, r in stages.items()] == [
        ("lead", 0, None, 0), ("demo", 1, D("20"), 0), ("poc", 0, None, 0),
        ("proposal", 1, D("10"), 0)]


def test_the_forecast_buckets_open_deals_by_close_month_and_adds_up_to_the_pipeline(
        session, program):
    rows = forecast_by_close_month(session=session, viewer=Viewer.system(), period=Q3,
                                   as_of=AS_OF)
    assert [(r.kind, r.start, r.end, r.count, r.value, r.weighted) for r in rows] == [
        (OVERDUE, None, date(2026, 8, 19), 1, D("10000.00"), D(4000)),
        (MONTH, date(2026, 8, 20), date(2026, 8, 31), 1, D("4000.00"), D(400)),
        (MONTH, date(2026, 9, 1), date(2026, 9, 30), 1, D("20000.00"), D(2000)),
        (MONTH, date(2026, 10, 1), date(2026, 10, 31), 0, D(0), D(0)),
        (MONTH, date(2026, 11, 1), date(2026, 11, 30), 0, D(0), D(0)),
        (MONTH, date(2026, 12, 1), date(2026, 12, 31), 0, D(0), D(0)),
        (MONTH, date(2027, 1, 1), date(2027, 1, 31), 0, D(0), D(0)),
        (LATER, date(2027, 2, 1), None, 1, D("50000.00"), D(37500)),
        (UNDATED, None, None, 1, D("8000.00"), D(2000)),
    ]
    kpis = compute_kpis(session=session, viewer=Viewer.system(), period=Q3, as_of=AS_OF)
    assert sum(r.value for r in rows) == kpis.pipeline_total == D("92000.00")
    assert sum(r.weighted for r in rows) == kpis.pipeline_weighted
    assert (rows[0].count, rows[0].value) == (kpis.slipped_count, kpis.slipped_value)


def test_win_loss_counts_the_deals_closed_in_the_period_per_partner(session, program):
    rows = win_loss_by_partner(session=session, viewer=Viewer.system(), period=Q3, as_of=AS_OF)
    assert [(r.name, r.won_count, r.won_value, r.lost_count, r.lost_value, r.win_rate)
            for r in rows] == [
        ("Ledgerline", 1, D("25000.00"), 2, D("20000.00"), D(1) / 3),
        ("Shieldpoint", 1, D("30000.00"), 1, D("7000.00"), D("0.5")),
    ]


def test_lost_reasons_fold_case_and_spaces_and_name_deals_without_one(session, program):
    rows = lost_reasons(session=session, viewer=Viewer.system(), period=Q3, as_of=AS_OF)
    assert [(r.reason, r.count, r.value) for r in rows] == [
        ("Price too high", 2, D("20000.00")),
        (None, 1, D("7000.00")),
    ]


def test_a_domain_filter_narrows_every_part(session, program):
    security = Filters.of(domains=["Security"])
    data = pipeline_analytics(session=session, viewer=Viewer.system(), period=Q3,
                              filters=security, as_of=AS_OF)
    assert [r.name for r in data.win_loss] == ["Shieldpoint"]
    assert [(r.reason, r.count) for r in data.lost_reasons] == [(None, 1)]
    assert sum(r.count for r in data.forecast) == 0
    assert by_stage(data.stage_times)["demo"].moved_avg_days == D("20")


def test_velocity_is_open_deals_times_win_rate_times_average_won_deal_over_cycle_days(
        session, program):
    rows = velocity_by_quarter(session=session, viewer=Viewer.system(), period=Q3, as_of=AS_OF)
    assert [r.period.label for r in rows] == ["2025Q4", "2026Q1", "2026Q2", "2026Q3"]
    q3 = rows[-1]
    # 5 open deals; 2 won of 5 closed; (30,000 + 25,000) / 2; cycles 40 and 30 days.
    assert (q3.open_count, q3.win_rate, q3.avg_won_deal, q3.avg_cycle_days) == (
        5, D("0.4"), D(27500), D(35))
    assert display.money(q3.per_day) == "$1,571.43"       # 5 × 0.4 × 27,500 / 35
    q2 = rows[-2]                                        # one lost (d12), none won
    assert (q2.win_rate, q2.avg_won_deal, q2.per_day) == (D(0), None, None)


def test_the_velocity_of_every_quarter_is_made_of_the_quarters_kpis(session, program):
    shield = session.scalar(select(Partner).where(Partner.name == "Shieldpoint"))
    # Closes in the two earliest quarters (2025Q4, 2026Q1): won in each, lost in one.
    deal(session, shield, [("lead", datetime(2025, 9, 1, tzinfo=UTC)),
                           ("closed_won", datetime(2025, 11, 20, tzinfo=UTC))],
         deal_value=D(12000), actual_close_date=date(2025, 11, 20))
    deal(session, shield, [("lead", at(1, 5)), ("closed_won", at(2, 25))],
         deal_value=D(18000), actual_close_date=date(2026, 2, 25))
    deal(session, shield, [("lead", at(1, 6)), ("closed_lost", at(3, 2))],
         deal_value=D(9000), actual_close_date=date(2026, 3, 2), lost_reason="No budget")
    for viewer in (Viewer.system(), program):
        page = pipeline_analytics(session=session, viewer=viewer, period=Q3, as_of=AS_OF)
        for row in page.velocity:
            kpis = compute_kpis(session=session, viewer=viewer, period=row.period, as_of=AS_OF)
            assert (row.open_count, row.win_rate, row.avg_won_deal, row.avg_cycle_days,
                    row.won_count, row.lost_count) == (
                kpis.open_count, kpis.win_rate, kpis.avg_won_deal, kpis.avg_cycle_days,
                kpis.won_count, kpis.lost_count)
        assert [(row.won_count, row.lost_count) for row in page.velocity[:2]] == [(1, 0), (1, 1)]


def test_the_page_data_runs_as_many_statements_for_many_deals_as_for_few(session, program):
    def page(viewer):
        return lambda: pipeline_analytics(session=session, viewer=viewer, period=Q3,
                                          as_of=AS_OF)

    few = {name: statements(session, page(v))
           for name, v in (("all", Viewer.system()), ("pm", program))}
    more = make_partner(session, name="Kubecraft", domain="DevOps")
    for k in range(40):
        deal(session, more, [("lead", at(6, 1 + k % 20)), ("demo", at(7, 1 + k % 28)),
                             ("closed_won" if k % 2 else "closed_lost", at(8, 1 + k % 19))],
             actual_close_date=date(2026, 8, 1 + k % 19), lost_reason=f"Reason {k % 7}")
    many = {name: statements(session, page(v))
            for name, v in (("all", Viewer.system()), ("pm", program))}
    assert few == many
