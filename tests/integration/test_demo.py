"""Demo data: the same seed and day build the same program, and every row tells a true story."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from isv.analytics.tiers import tier_review
from isv.auth import Viewer
from isv.demo import DEMO_LOGINS, LOST_REASONS, database_is_empty, load_demo
from isv.errors import ValidationError
from isv.models import (
    CLOSED_STAGES,
    DOMAINS,
    STRUCTURE_TYPES,
    AuditEntry,
    CommissionStructure,
    Opportunity,
    Partner,
    PartnerActivity,
    QuarterlyGoal,
    StageHistory,
    Task,
    User,
    WeeklyStatus,
)
from isv.rules.defaults import DEFAULT_PROBABILITY
from isv.services import registrations, sessions
from isv.services.commissions import applicable_structure

TODAY = date(2026, 5, 13)
DEALS = 120


@pytest.fixture
def loaded(session):
    summary = load_demo(session=session, opportunities=DEALS, seed=7, today=TODAY)
    return summary


def _snapshot(session) -> dict:
    deals = session.execute(
        select(Partner.name, Opportunity.customer_name, Opportunity.deal_value,
               Opportunity.stage, Opportunity.expected_close_date,
               Opportunity.actual_close_date, Opportunity.created_at)
        .join(Partner, Partner.id == Opportunity.partner_id)
    ).all()
    return {
        "partners": sorted(session.scalars(select(Partner.name))),
        "deals": sorted(tuple(row) for row in deals),
        "stages": dict(session.execute(
            select(Opportunity.stage, func.count()).group_by(Opportunity.stage)).all()),
    }


def test_database_is_empty_until_the_demo_loads(session):
    assert database_is_empty(session)
    load_demo(session=session, opportunities=10, seed=1, today=TODAY)
    assert not database_is_empty(session)


def test_the_same_seed_and_day_build_identical_data(session):
    first = session.begin_nested()
    load_demo(session=session, opportunities=DEALS, seed=11, today=TODAY)
    before = _snapshot(session)
    first.rollback()
    assert database_is_empty(session)

    load_demo(session=session, opportunities=DEALS, seed=11, today=TODAY)
    after = _snapshot(session)

    assert before == after
    assert len(after["deals"]) == DEALS


def test_another_seed_builds_other_deals(session):
    first = session.begin_nested()
    load_demo(session=session, opportunities=DEALS, seed=1, today=TODAY)
    one = _snapshot(session)
    first.rollback()
    load_demo(session=session, opportunities=DEALS, seed=2, today=TODAY)
    two = _snapshot(session)
    assert one["partners"] == two["partners"]
    assert one["deals"] != two["deals"]


def test_the_summary_counts_what_was_inserted(session, loaded):
    assert loaded.counts["opportunities"] == DEALS
    assert loaded.counts["isv_partners"] == session.scalar(select(func.count(Partner.id)))
    assert loaded.counts["opportunity_stage_history"] == session.scalar(
        select(func.count(StageHistory.id)))
    assert loaded.rows == sum(loaded.counts.values())


def test_every_deal_has_a_stage_history_chain_ending_at_its_stage(session, loaded):
    history = defaultdict(list)
    for row in session.execute(
            select(StageHistory.opportunity_id, StageHistory.from_stage, StageHistory.to_stage,
                   StageHistory.changed_at).order_by(StageHistory.changed_at)):
        history[row.opportunity_id].append(row)
    deals = session.scalars(select(Opportunity)).all()
    assert len(deals) == DEALS
    for deal in deals:
        chain = history[deal.id]
        assert chain, f"{deal.customer_name} has no stage history"
        assert chain[0].from_stage is None and chain[0].to_stage == "lead"
        assert chain[0].changed_at == deal.created_at
        assert chain[-1].to_stage == deal.stage
        for earlier, later in zip(chain, chain[1:], strict=False):
            assert later.from_stage == earlier.to_stage
            assert later.changed_at > earlier.changed_at
        assert chain[-1].changed_at.date() < TODAY


def test_closed_deals_have_a_close_date_and_lost_ones_a_reason(session, loaded):
    deals = session.scalars(select(Opportunity)).all()
    for deal in deals:
        closed = deal.stage in CLOSED_STAGES
        assert (deal.actual_close_date is not None) == closed
        if closed:
            assert deal.created_at.date() <= deal.actual_close_date <= TODAY
        assert (deal.lost_reason is not None) == (deal.stage == "closed_lost")
        if deal.lost_reason:
            assert deal.lost_reason in LOST_REASONS
        assert deal.probability == DEFAULT_PROBABILITY[deal.stage]
        assert deal.expected_close_date is not None
    stages = Counter(d.stage for d in deals)
    assert stages["closed_won"] and stages["closed_lost"]
    assert sum(stages[s] for s in ("lead", "demo", "poc", "proposal")) > 0
    assert any(d.stage not in CLOSED_STAGES and d.expected_close_date < TODAY for d in deals), \
        "some open deals should have slipped past their expected close date"
    assert any(d.external_id for d in deals) and any(d.external_id is None for d in deals)


def test_deals_span_the_last_six_and_next_two_quarters(session, loaded):
    closes = [d.actual_close_date or d.expected_close_date
              for d in session.scalars(select(Opportunity))]
    assert min(closes) >= date(2024, 10, 1)
    assert max(closes) <= date(2026, 12, 31)
    assert any(c > TODAY for c in closes)


def test_partners_cover_every_domain_and_some_are_neglected(session, loaded):
    partners = session.scalars(select(Partner)).all()
    assert len(partners) == 40
    assert {p.domain for p in partners} == set(DOMAINS)
    owners = session.scalars(select(User).where(User.id.in_({p.owner_id for p in partners})))
    assert {u.role for u in owners} == {"partnership_manager"}
    assert all(p.website and p.primary_contact_email and p.primary_contact_name
               for p in partners)
    last_touch = dict(session.execute(
        select(PartnerActivity.partner_id, func.max(PartnerActivity.occurred_on))
        .group_by(PartnerActivity.partner_id)).all())
    neglected = [p for p in partners
                 if last_touch.get(p.id) is None or last_touch[p.id] < TODAY - timedelta(days=45)]
    assert 3 <= len(neglected) < len(partners) // 2
    assert max(last_touch.values()) < TODAY


def test_commission_structures_of_every_type_with_bands_and_ended_terms(session, loaded):
    rows = session.scalars(select(CommissionStructure)).all()
    assert {r.structure_type for r in rows} == set(STRUCTURE_TYPES)
    assert any(r.effective_to is not None and r.effective_to < TODAY for r in rows)
    assert any(r.is_lifetime for r in rows) and any(not r.is_lifetime for r in rows)
    assert any(r.max_deal_size is not None for r in rows)
    for r in rows:
        assert r.effective_to is None or r.effective_to >= r.effective_from


def test_a_deals_own_commission_structure_is_the_one_the_rule_picks(session, loaded):
    structures = defaultdict(list)
    for row in session.scalars(select(CommissionStructure).order_by(
            CommissionStructure.effective_from.desc(), CommissionStructure.structure_type,
            CommissionStructure.min_deal_size)):
        structures[row.partner_id].append(row)
    deals = session.scalars(select(Opportunity)).all()
    registered = [d for d in deals if d.commission_structure_id is not None]
    assert registered and len(registered) < len(deals)
    for deal in registered:
        picked = applicable_structure(
            structures[deal.partner_id], deal_value=deal.deal_value,
            close_date=deal.actual_close_date or deal.expected_close_date)
        assert picked is not None and picked.id == deal.commission_structure_id


def test_the_registrations_page_has_pending_ones_to_decide_with_their_conflicts(session,
                                                                                 loaded):
    vp = session.scalars(select(User).where(User.role == "vp")).one()
    viewer = Viewer(id=vp.id, email=vp.email, role=vp.role, name=vp.full_name)
    now = datetime.combine(TODAY, time(12), tzinfo=UTC)
    pending, total = registrations.list_registrations(session=session, viewer=viewer,
                                                      status="pending", now=now)
    assert total == 3 and all(r.can_decide for r in pending)
    kinds = {r.customer_name: {c.kind for c in r.conflicts} for r in pending}
    # One customer is already in another partner's open deal; one new customer came from
    # two partners, and each of the two registrations names the other.
    assert sorted(kinds.values(), key=sorted) == [{"opportunity"}, {"registration"},
                                                  {"registration"}]
    assert [r.reject_reason for r in registrations.list_registrations(
        session=session, viewer=viewer, status="rejected", now=now)[0]] == [
        "Direct account: the customer already buys from us without a partner"]


def test_partners_hold_tiers_and_the_quarters_review_has_a_few_moves_to_decide(session,
                                                                                loaded):
    held = [tier for (tier,) in session.execute(select(Partner.tier))]
    assert {"Registered", "Silver"} <= set(held)
    review = tier_review(session=session, viewer=Viewer.system("tests"), as_of=TODAY)
    directions = {s.move.direction for s in review.suggestions}
    assert 0 < len(review.suggestions) <= len(held) // 2
    assert directions == {"promote", "demote"}


def test_rolled_over_tasks_point_to_one_successor_each(session, loaded):
    tasks = {t.id: t for t in session.scalars(select(Task))}
    statuses = Counter(t.status for t in tasks.values())
    assert statuses["completed"] and statuses["rolled_over"] and statuses["pending"]
    assert any(t.status in ("pending", "in_progress") and t.due_date < TODAY
               for t in tasks.values()), "some tasks should be overdue"
    successors = [t for t in tasks.values() if t.rolled_over_from is not None]
    assert successors
    for task in successors:
        source = tasks[task.rolled_over_from]
        assert source.status == "rolled_over"
        assert task.rollover_count == source.rollover_count + 1
    assert {t.id for t in tasks.values() if t.status == "rolled_over"} == {
        t.rolled_over_from for t in successors}
    for task in tasks.values():
        assert (task.completed_date is not None) == (task.status == "completed")


def test_weekly_status_weeks_start_on_monday_and_past_weeks_are_submitted(session, loaded):
    rows = session.scalars(select(WeeklyStatus)).all()
    assert rows
    this_monday = TODAY - timedelta(days=TODAY.weekday())
    for row in rows:
        assert row.week_start_date.weekday() == 0
        if row.week_start_date < this_monday:
            assert row.state == "submitted" and row.submitted_at is not None
        else:
            assert row.state == "draft" and row.submitted_at is None


def test_each_seller_has_a_revenue_goal_per_quarter_and_the_vp_none_of_their_own(session,
                                                                                 loaded):
    goals = session.execute(
        select(User.role, QuarterlyGoal.year, QuarterlyGoal.quarter, QuarterlyGoal.revenue_target)
        .join(User, User.id == QuarterlyGoal.user_id)).all()
    # A VP goal equal to the team's total would be counted twice in revenue_target.
    assert {g.role for g in goals} == {"sales_manager", "partnership_manager"}
    assert (2026, 2) in {(g.year, g.quarter) for g in goals}
    assert all(g.revenue_target > 0 for g in goals)


def test_every_demo_login_signs_in(session, loaded):
    for email, password, role, name in DEMO_LOGINS:
        user = sessions.authenticate(session=session, email=email, password=password)
        assert user is not None, email
        assert (user.role, user.full_name) == (role, name)
        assert len(password) >= 8


def test_the_load_is_audited(session, loaded):
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "demo_load"))
    assert entry.new_values["opportunities"] == DEALS
    assert entry.new_values["seed"] == 7


def test_a_second_load_is_refused(session, loaded):
    with pytest.raises(ValidationError) as refused:
        load_demo(session=session, opportunities=DEALS, seed=8, today=TODAY)
    assert refused.value.field == "database"
    assert session.scalar(select(func.count(Opportunity.id))) == DEALS


def test_a_negative_size_is_refused(session):
    with pytest.raises(ValidationError) as refused:
        load_demo(session=session, opportunities=-1, today=TODAY)
    assert refused.value.field == "opportunities"
    assert database_is_empty(session)
