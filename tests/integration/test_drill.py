"""Drill-through: the grid's filters for a figure list exactly the deals the figure counts.

Every analytics figure that counts deals is compared with the grid's row count for its
drill filters (isv.analytics.drill), on demo data, for a vp and a partnership manager, with
and without the page's filters.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from isv import auth
from isv.analytics import drill
from isv.analytics.breakdowns import (
    pipeline_by_domain,
    revenue_by_quarter,
    slipped_deals,
    team_performance,
    top_partners,
)
from isv.analytics.dashboard import revenue_quarters
from isv.analytics.kpis import Filters, compute_kpis, kpis_by_partner
from isv.analytics.partners import (
    LATER,
    SLIPPED,
    UNDATED,
    commission_liability,
    created_by_quarter,
    domain_coverage,
    trend_quarters,
)
from isv.analytics.periods import previous, quarter_containing
from isv.analytics.pipeline import (
    LATER as MONTH_LATER,
)
from isv.analytics.pipeline import (
    OVERDUE,
    forecast_by_close_month,
    lost_reasons,
    time_in_stage,
    win_loss_by_partner,
)
from isv.analytics.pipeline import (
    UNDATED as MONTH_UNDATED,
)
from isv.demo import load_demo
from isv.models import Partner, StageHistory, User
from isv.rules.deals import FUNNEL_STAGES
from isv.services.opportunities import OpportunityFilters, list_opportunities, partner_choices
from tests.factories import make_opportunity, make_partner, make_user

TODAY = date(2026, 5, 13)


@pytest.fixture
def program(session):
    load_demo(session=session, opportunities=160, seed=11, today=TODAY)
    return session


def viewers(session) -> dict[str, auth.Viewer]:
    vp = session.scalar(select(User).where(User.role == "vp"))
    pm = session.scalar(select(User).where(User.email == "priya.nair@example.com"))
    return {"vp": auth.Viewer.of(vp), "pm": auth.Viewer.of(pm)}


def page_filters(session, kind: str) -> Filters:
    if kind == "domain":
        return Filters.of(domains=["Security"])
    if kind == "partner":
        partner = session.scalar(select(Partner).where(Partner.domain == "FinOps"))
        return Filters.of(partner_ids=[partner.id])
    if kind == "owner":
        owner = session.scalar(select(User).where(User.email == "priya.nair@example.com"))
        return Filters.of(owner_ids=[owner.id])
    return Filters()


def count(session, viewer, filters: OpportunityFilters) -> int:
    return list_opportunities(session=session, viewer=viewer, filters=filters, limit=1)[1]


@pytest.mark.parametrize("who", ["vp", "pm"])
@pytest.mark.parametrize("narrowed", ["none", "domain", "partner", "owner"])
def test_every_figure_lists_exactly_its_deals(program, who, narrowed):
    session = program
    viewer = viewers(session)[who]
    f = page_filters(session, narrowed)
    period = quarter_containing(TODAY)
    common = dict(session=session, viewer=viewer, filters=f)
    kpis = compute_kpis(period=period, as_of=TODAY, **common)
    checked = []

    def check(figure: int, filters: OpportunityFilters, what: str) -> None:
        assert count(session, viewer, filters) == figure, what
        checked.append(figure)

    # The KPI cards.
    check(kpis.open_count, drill.open_deals(f), "open deals")
    check(kpis.won_count, drill.won(f, period), "won")
    check(kpis.lost_count, drill.lost(f, period), "lost")
    check(kpis.won_count + kpis.lost_count, drill.closed(f, period), "closed")
    check(kpis.slipped_count, drill.slipped(f, TODAY), "slipped")
    # Coverage: the open deals due in the period, whose values period_pipeline sums.
    due = drill.due(f, period.start, period.end)
    check(kpis.period_pipeline_count, due, "coverage")
    due_deals = list_opportunities(session=session, viewer=viewer, limit=5000, filters=due)[0]
    assert sum(d.deal_value for d in due_deals) == kpis.period_pipeline
    goal_deals, n = list_opportunities(session=session, viewer=viewer, limit=5000,
                                       filters=drill.goal_won(viewer, f, period))
    assert sum(d.deal_value for d in goal_deals) == kpis.goal_won
    if who == "pm" and narrowed == "none":
        assert n < kpis.won_count  # the manager's own won deals, not all they can see
    for stage, n in kpis.stage_count.items():
        check(n, drill.stage(drill.scope(f), stage), f"in {stage}")
    # The funnel, this quarter and the one before (where more deals were lost on the way).
    for p in (period, previous(period)):
        funnel = compute_kpis(period=p, as_of=TODAY, **common).reached_count
        for stage in FUNNEL_STAGES:
            check(funnel[stage], drill.reached(f, p, stage), f"reached {stage} in {p.label}")
    # Revenue by quarter: won, and the forecast from as_of on.
    for q in revenue_by_quarter(quarters=revenue_quarters(TODAY), as_of=TODAY, **common):
        check(q.won_count, drill.won(f, q.period), f"won in {q.period.label}")
        if q.period.end >= TODAY:
            check(q.forecast_count, drill.due(f, max(q.period.start, TODAY), q.period.end),
                  f"forecast {q.period.label}")
    # Pipeline by domain and stage.
    for cell in pipeline_by_domain(**common):
        check(cell.count, drill.stage(drill.domain(drill.open_deals(f), cell.domain),
                                      cell.stage), f"{cell.domain} {cell.stage}")
    # Top partners: the won bar, and the row (open and won).
    for p in top_partners(period=period, **common):
        check(p.won_count, drill.partner(drill.won(f, period), p.partner_id), p.name)
        check(p.won_count + p.open_count,
              drill.partner(drill.open_or_won(f, period), p.partner_id), p.name)
    # Slipped rows, one deal each.
    for deal in slipped_deals(as_of=TODAY, **common)[:3]:
        check(1, drill.deals([deal.id]), deal.customer_name)
    # Team rows and their won bars.
    for person in team_performance(period=period, **common):
        check(person.open_count + person.won_count,
              drill.person(drill.open_or_won(f, period), person.user_id), person.name)
        check(person.won_count, drill.person(drill.won(f, period), person.user_id),
              person.name)
    # Forecast by close month.
    for month in forecast_by_close_month(period=period, as_of=TODAY, **common):
        if month.kind == OVERDUE:
            filters = drill.slipped(f, TODAY)
        elif month.kind == MONTH_UNDATED:
            filters = drill.undated(f)
        elif month.kind == MONTH_LATER:
            filters = drill.due(f, month.start, None)
        else:
            filters = drill.due(f, month.start, month.end)
        check(month.count, filters, f"close month {month.kind} {month.start}")
    # Time in stage: the deals still in each stage, aged from a recorded entry.
    # and the deals whose recorded stay in it ended in the period ("moved on").
    for p in (period, previous(period)):
        for row in time_in_stage(period=p, as_of=TODAY, **common):
            check(row.open_count, drill.staying(f, row.stage), f"still in {row.stage}")
            check(row.moved_deals, drill.moved_on(f, p, row.stage),
                  f"moved on from {row.stage} in {p.label}")
    # Win/loss by partner and lost reasons.
    for row in win_loss_by_partner(period=period, **common):
        check(row.won_count, drill.partner(drill.won(f, period), row.partner_id), row.name)
        check(row.lost_count, drill.partner(drill.lost(f, period), row.partner_id), row.name)
    for reason in lost_reasons(period=period, **common):
        check(reason.count, drill.lost_for(f, period, reason.reason), str(reason.reason))
    # Partner analytics: partner KPI rows, new pipeline, liability buckets, coverage.
    for row in kpis_by_partner(period=period, **common):
        check(row.open_count + row.won_count + row.lost_count,
              drill.partner(drill.open_or_closed(f, period), row.partner_id), row.name)
    for cell in created_by_quarter(quarters=trend_quarters(period), **common):
        check(cell.count, drill.created(f, cell.period, cell.domain),
              f"created {cell.period.label} {cell.domain}")
    liability = commission_liability(as_of=TODAY, **common)
    quarters = [b.period for b in liability.buckets if b.period is not None]
    for bucket in liability.buckets:
        if bucket.key == SLIPPED:
            filters = drill.slipped(f, TODAY)
        elif bucket.key == UNDATED:
            filters = drill.undated(f)
        elif bucket.key == LATER:
            filters = drill.due(f, date.fromordinal(quarters[-1].end.toordinal() + 1), None)
        else:
            filters = drill.due(f, max(bucket.period.start, TODAY), bucket.period.end)
        check(bucket.count, filters, f"liability {bucket.key}")
    for d in domain_coverage(session=session, viewer=viewer):
        for p in d.partners:
            check(p.open_count, drill.partner(drill.open_deals(Filters()), p.partner_id),
                  p.name)
    assert sum(checked) > 0


def test_a_managers_partner_choices_name_the_partner_of_a_deal_assigned_to_them(session):
    pm = make_user(session, role="partnership_manager")
    make_partner(session, name="Own Works", owner_id=pm.id)
    other = make_partner(session, name="Other Labs")
    make_partner(session, name="Unrelated Inc")
    make_opportunity(session, other, assigned_user_id=pm.id)
    names = [c.name for c in partner_choices(session=session, viewer=auth.Viewer.of(pm))]
    assert names == ["Other Labs", "Own Works"]


def test_still_in_stage_lists_only_deals_whose_entry_was_recorded(session):
    partner = make_partner(session)
    entered = datetime(2026, 4, 1, 9, tzinfo=UTC)
    recorded = make_opportunity(session, partner, stage="demo", created_at=entered)
    imported = make_opportunity(session, partner, stage="demo", created_at=entered)
    moved = make_opportunity(session, partner, stage="demo", created_at=entered)
    session.query(StageHistory).filter_by(opportunity_id=imported.id).update(
        {"synthesized": True})
    # Moved on to demo later, after a reconstructed start: the recorded move counts.
    session.query(StageHistory).filter_by(opportunity_id=moved.id).update(
        {"synthesized": True, "to_stage": "lead"})
    session.add(StageHistory(opportunity_id=moved.id, from_stage="lead", to_stage="demo",
                             changed_at=entered + timedelta(days=3)))
    session.flush()
    viewer = auth.Viewer.system("tests")
    stays = {r.stage: r for r in time_in_stage(session=session, viewer=viewer,
                                                period=quarter_containing(TODAY), as_of=TODAY)}
    assert (stays["demo"].open_count, stays["demo"].reconstructed) == (2, 1)
    rows, n = list_opportunities(session=session, viewer=viewer,
                                 filters=drill.staying(Filters(), "demo"))
    assert n == 2 and {r.id for r in rows} == {recorded.id, moved.id}


def test_moved_on_lists_each_deal_that_left_the_stage_in_the_period_once(session):
    """A stay ends at the deal's next history row: a deal that left Demo twice in the
    quarter is two stays but one deal; a stay that ended before the quarter, one with a
    reconstructed start, and a deal still in Demo are not listed."""
    partner = make_partner(session)
    start = datetime(2026, 4, 2, 9, tzinfo=UTC)  # in TODAY's quarter (Q2 2026)

    def deal(*moves: tuple[str, int], synthesized_first: bool = False):
        opp = make_opportunity(session, partner, stage=moves[-1][0], created_at=start)
        session.query(StageHistory).filter_by(opportunity_id=opp.id).delete()
        for n, (stage, day) in enumerate(moves):
            session.add(StageHistory(opportunity_id=opp.id, from_stage=None, to_stage=stage,
                                     changed_at=start + timedelta(days=day),
                                     synthesized=synthesized_first and n == 0))
        return opp

    twice = deal(("demo", 0), ("poc", 3), ("demo", 5), ("proposal", 9))
    once = deal(("lead", 0), ("demo", 1), ("poc", 20))
    earlier = deal(("demo", -60), ("poc", -40))
    imported = deal(("demo", 0), ("poc", 4), synthesized_first=True)
    still = deal(("lead", 0), ("demo", 2))
    session.flush()
    viewer = auth.Viewer.system("tests")
    period = quarter_containing(TODAY)
    stays = {r.stage: r for r in time_in_stage(session=session, viewer=viewer, period=period,
                                                as_of=TODAY)}
    assert (stays["demo"].moved_count, stays["demo"].moved_deals) == (3, 2)
    rows, n = list_opportunities(session=session, viewer=viewer,
                                 filters=drill.moved_on(Filters(), period, "demo"))
    assert n == 2 and {r.id for r in rows} == {twice.id, once.id}
    assert {earlier.id, imported.id, still.id}.isdisjoint(r.id for r in rows)
    rows, n = list_opportunities(session=session, viewer=viewer,
                                 filters=drill.moved_on(Filters(), previous(period), "demo"))
    assert [r.id for r in rows] == [earlier.id]
