"""Quarterly goals: progress comes from the data, a pace line, the deals that close a gap."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from isv.analytics import breakdowns
from isv.analytics.kpis import Filters, compute_kpis
from isv.analytics.periods import quarter_range
from isv.auth import Viewer
from isv.errors import Forbidden, NotFound, ValidationError
from isv.models import AuditEntry, QuarterlyGoal
from isv.services import goals
from isv.services.settings import local_zone
from tests.factories import make_goal, make_opportunity, make_partner, make_user, viewer_of

IN_Q1 = date(2026, 1, 30)       # day 30 of the 90 days of 2026Q1


def _person(session, role: str = "sales_manager", **overrides):
    user = make_user(session, role=role, **overrides)
    return user, viewer_of(user)


def _at(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=local_zone())


def _won(session, partner, user, day: date, value: str, **extra):
    return make_opportunity(session, partner, stage="closed_won", probability=Decimal(100),
                            assigned_user_id=user.id if user else None, actual_close_date=day,
                            deal_value=Decimal(value), **extra)


def _set(session, viewer, **overrides):
    values = dict(year=2026, quarter=1, goal_type="revenue", target="100000")
    values.update(overrides)
    return goals.set_goal(session=session, viewer=viewer, today=IN_Q1, **values)


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


# --- progress from the data -----------------------------------------------------------------

def test_revenue_progress_is_the_won_value_of_the_users_deals_closed_in_the_quarter(session):
    user, me = _person(session)
    other = make_user(session)
    partner = make_partner(session)
    _won(session, partner, user, date(2026, 1, 1), "10000.00")
    _won(session, partner, user, date(2026, 3, 31), "2500.50")
    _won(session, partner, user, date(2025, 12, 31), "99999.00")     # last quarter
    _won(session, partner, user, date(2026, 4, 1), "99999.00")       # next quarter
    _won(session, partner, other, date(2026, 2, 1), "99999.00")      # someone else's
    make_opportunity(session, partner, stage="closed_lost", assigned_user_id=user.id,
                     actual_close_date=date(2026, 2, 1), lost_reason="Budget")
    make_opportunity(session, partner, stage="proposal", assigned_user_id=user.id)
    goal = _set(session, me)
    assert goal.progress == Decimal("12500.50")
    assert session.get(QuarterlyGoal, goal.id).current_progress == Decimal("12500.50")


def test_revenue_progress_equals_the_kpi_won_revenue_for_that_owner(session):
    user, me = _person(session)
    partner = make_partner(session)
    for day, value in [(date(2026, 1, 5), "1200.10"), (date(2026, 2, 28), "3300.33"),
                       (date(2026, 3, 31), "0.07"), (date(2026, 4, 1), "5000.00")]:
        _won(session, partner, user, day, value)
    goal = _set(session, me)
    period = quarter_range(2026, 1)
    kpis = compute_kpis(session=session, viewer=Viewer.system(), period=period,
                        as_of=date(2026, 3, 31), filters=Filters.of(owner_ids=[user.id]))
    assert goal.progress == kpis.won_revenue == Decimal("4500.50")


def test_opportunity_progress_counts_deals_created_in_the_quarter_assigned_to_the_user(session):
    user, me = _person(session)
    partner = make_partner(session)
    for moment in (_at(date(2026, 1, 1), 0, 0), _at(date(2026, 3, 31), 23, 59)):
        make_opportunity(session, partner, assigned_user_id=user.id, created_at=moment)
    for moment in (_at(date(2025, 12, 31), 23, 59), _at(date(2026, 4, 1), 0, 0)):
        make_opportunity(session, partner, assigned_user_id=user.id, created_at=moment)
    make_opportunity(session, partner, assigned_user_id=make_user(session).id,
                     created_at=_at(date(2026, 2, 2)))
    assert _set(session, me, goal_type="opportunities", target="10").progress == 2


def test_partnership_progress_counts_partners_new_in_the_quarter_that_the_user_owns(session):
    user, me = _person(session, "partnership_manager")
    make_partner(session, owner_id=user.id, created_at=_at(date(2026, 2, 10)))
    make_partner(session, owner_id=user.id, created_at=_at(date(2026, 3, 1)))
    make_partner(session, owner_id=user.id, created_at=_at(date(2025, 11, 1)))  # owned before
    make_partner(session, created_at=_at(date(2026, 2, 10)))                     # nobody's
    assert _set(session, me, goal_type="partnerships", target="3").progress == 2


def test_reading_a_goal_recomputes_and_refresh_stores_the_new_progress(session):
    user, me = _person(session)
    partner = make_partner(session)
    goal = _set(session, me)
    assert goal.progress == 0
    _won(session, partner, user, date(2026, 2, 2), "40000.00")
    [read] = goals.list_goals(session=session, viewer=me, year=2026, quarter=1, today=IN_Q1)
    assert read.progress == Decimal("40000.00")
    stored = session.get(QuarterlyGoal, goal.id)
    assert stored.current_progress == 0           # reading does not write

    assert goals.refresh_progress(session=session, viewer=me, year=2026, quarter=1) == 1
    assert stored.current_progress == Decimal("40000.00")
    [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "refresh_progress",
                                                       AuditEntry.entity_id == str(goal.id)))
    assert (entry.old_values, entry.new_values) == (
        {"current_progress": "0.00"}, {"current_progress": "40000.00"})
    assert goals.refresh_progress(session=session, viewer=me, year=2026, quarter=1) == 0


def test_the_scheduler_refreshes_everyones_goals_and_a_manager_only_their_own(session):
    from isv.auth import Viewer

    one, one_viewer = _person(session)
    two = make_user(session, role="partnership_manager")
    partner = make_partner(session)
    first, second = make_goal(session, one), make_goal(session, two)
    _won(session, partner, one, date(2026, 2, 2), "100.00")
    _won(session, partner, two, date(2026, 2, 2), "200.00")
    assert goals.refresh_progress(session=session, viewer=one_viewer, year=2026, quarter=1) == 1
    assert (first.current_progress, second.current_progress) == (100, 0)
    with pytest.raises(Forbidden):
        goals.refresh_progress(session=session, viewer=one_viewer, year=2026, quarter=1,
                               user_id=two.id)
    assert goals.refresh_progress(session=session, viewer=Viewer.system("jobs"), year=2026,
                                  quarter=1) >= 1
    assert second.current_progress == 200


# --- pace and shortfall -------------------------------------------------------------------

@pytest.mark.parametrize(("today", "pace"), [
    (date(2025, 12, 31), Decimal(0)),         # not started
    (date(2026, 1, 1), Decimal(1000)),        # day 1 of 90
    (IN_Q1, Decimal(30000)),                  # day 30
    (date(2026, 3, 31), Decimal(90000)),      # the last day
    (date(2026, 5, 1), Decimal(90000)),       # over
])
def test_the_pace_line_is_the_target_times_the_share_of_the_quarter_gone(session, today, pace):
    _, me = _person(session)
    goal = goals.set_goal(session=session, viewer=me, year=2026, quarter=1,
                          goal_type="revenue", target="90000", today=today)
    assert goal.period.days == 90
    assert goal.pace == pace


def test_ahead_or_behind_pace(session):
    user, me = _person(session)
    _won(session, make_partner(session), user, date(2026, 1, 10), "29999.99")
    goal = _set(session, me, target="90000")
    assert not goal.ahead_of_pace and goal.shortfall == Decimal("60000.01")
    _won(session, make_partner(session), user, date(2026, 1, 11), "0.01")
    assert goals.get_goal(session=session, viewer=me, goal_id=goal.id,
                          today=IN_Q1).ahead_of_pace


def test_a_revenue_shortfall_lists_the_likeliest_open_deals_until_the_gap_is_covered(session):
    user, me = _person(session)
    partner = make_partner(session, name="Ledgerline")
    _won(session, partner, user, date(2026, 1, 5), "10000.00")

    def open_deal(customer, probability, close, value, **extra):
        values = dict(customer_name=customer, stage="proposal", probability=Decimal(probability),
                      expected_close_date=close, deal_value=Decimal(value),
                      assigned_user_id=user.id)
        values.update(extra)
        return make_opportunity(session, partner, **values)

    open_deal("Later 75", 75, date(2026, 3, 20), "5000")
    open_deal("Sooner 75", 75, date(2026, 2, 10), "8000")
    open_deal("Slipped 90", 90, date(2026, 1, 20), "4000")
    open_deal("Low 25", 25, date(2026, 2, 1), "50000", stage="demo")
    open_deal("Lowest 10", 10, date(2026, 2, 1), "90000", stage="lead")
    open_deal("Next quarter", 90, date(2026, 4, 2), "90000")
    open_deal("Not theirs", 95, date(2026, 2, 1), "90000", assigned_user_id=None)
    open_deal("Undated", 95, None, "90000")
    goal = _set(session, me, target="50000")            # short by 40000

    deals = breakdowns.closing_deals(session=session, viewer=me, goal_id=goal.id, today=IN_Q1)

    assert [(d.customer_name, d.cumulative_value) for d in deals] == [
        ("Slipped 90", 4000), ("Sooner 75", 12000), ("Later 75", 17000), ("Low 25", 67000)]
    assert [d.slipped for d in deals] == [True, False, False, False]


def test_no_shortfall_list_once_the_target_is_met_or_the_quarter_is_over(session):
    user, me = _person(session)
    partner = make_partner(session)
    make_opportunity(session, partner, stage="poc", probability=Decimal(50),
                     assigned_user_id=user.id, expected_close_date=date(2026, 3, 1))
    goal = _set(session, me, target="1000")
    assert breakdowns.closing_deals(session=session, viewer=me, goal_id=goal.id, today=IN_Q1)
    assert breakdowns.closing_deals(session=session, viewer=me, goal_id=goal.id,
                                     today=date(2026, 4, 1)) == []
    _won(session, partner, user, date(2026, 1, 3), "1000.00")
    assert breakdowns.closing_deals(session=session, viewer=me, goal_id=goal.id, today=IN_Q1) == []


# --- who sets and reads ---------------------------------------------------------------------

def test_the_vp_sets_anyones_goals_and_others_only_their_own(session):
    _, vp = _person(session, "vp")
    sm_user, sm = _person(session)
    pm_user, pm = _person(session, "partnership_manager")
    set_by_vp = _set(session, vp, user_id=sm_user.id, target="75000")
    assert (set_by_vp.user_id, set_by_vp.target) == (sm_user.id, Decimal("75000.00"))
    assert _set(session, pm, goal_type="partnerships", target="4").user_id == pm_user.id
    before = _count(session, QuarterlyGoal)
    with pytest.raises(Forbidden):
        _set(session, sm, user_id=pm_user.id)
    assert _count(session, QuarterlyGoal) == before


def test_setting_the_same_goal_again_changes_it_in_place(session):
    user, me = _person(session)
    first = _set(session, me, target="1000", notes="first")
    again = _set(session, me, target="2000", notes="second")
    assert again.id == first.id and again.target == 2000 and again.notes == "second"
    actions = list(session.scalars(select(AuditEntry.action)
                                   .where(AuditEntry.entity_id == str(first.id))))
    assert sorted(actions) == ["create", "update"]


def test_admins_read_team_goals_but_set_none(session):
    _, admin = _person(session, "admin")
    sm_user, sm = _person(session)
    _set(session, sm)
    team = goals.team_goals(session=session, viewer=admin, year=2026, quarter=1, today=IN_Q1)
    assert sm_user.id in {g.user_id for g in team}
    with pytest.raises(Forbidden):
        _set(session, admin)
    with pytest.raises(Forbidden):
        _set(session, admin, user_id=sm_user.id)


def test_a_partnership_manager_sees_no_team_goals_nor_anyone_elses(session):
    _, pm = _person(session, "partnership_manager")
    other, _ = _person(session)
    with pytest.raises(Forbidden):
        goals.team_goals(session=session, viewer=pm, year=2026, quarter=1)
    with pytest.raises(Forbidden):
        goals.list_goals(session=session, viewer=pm, year=2026, quarter=1, user_id=other.id)
    goal = make_goal(session, other)
    with pytest.raises(NotFound):
        goals.get_goal(session=session, viewer=pm, goal_id=goal.id)


def test_goals_are_for_people_who_file_them_not_for_admins(session):
    _, vp = _person(session, "vp")
    admin = make_user(session, role="admin", email="ada@example.com")
    with pytest.raises(ValidationError) as refused:
        _set(session, vp, user_id=admin.id)
    assert (refused.value.field, refused.value.reason) == (
        "user_id", "ada@example.com is an admin; admins have no goals")


def test_team_goals_list_everyone_by_name_and_type(session):
    _, vp = _person(session, "vp", first_name="Vera")
    bo = make_user(session, first_name="Bo")
    al = make_user(session, first_name="Al")
    for goal_type, target in (("partnerships", "2"), ("revenue", "1000")):
        _set(session, vp, user_id=bo.id, goal_type=goal_type, target=target)
    _set(session, vp, user_id=al.id, goal_type="opportunities", target="5")
    _set(session, vp, user_id=al.id, year=2026, quarter=2)   # another quarter
    team = goals.team_goals(session=session, viewer=vp, year=2026, quarter=1, today=IN_Q1)
    mine = [(g.user_name.split()[0], g.goal_type) for g in team if g.user_id in (al.id, bo.id)]
    assert mine == [("Al", "opportunities"), ("Bo", "revenue"), ("Bo", "partnerships")]


def test_the_vp_may_remove_a_goal_and_a_manager_only_their_own(session):
    _, vp = _person(session, "vp")
    sm_user, sm = _person(session)
    other = make_user(session)
    own, theirs = make_goal(session, sm_user), make_goal(session, other)
    with pytest.raises(Forbidden):
        goals.delete_goal(session=session, viewer=sm, goal_id=theirs.id)
    goals.delete_goal(session=session, viewer=sm, goal_id=own.id)
    goals.delete_goal(session=session, viewer=vp, goal_id=theirs.id)
    remaining = set(session.scalars(select(QuarterlyGoal.id)))
    assert own.id not in remaining and theirs.id not in remaining


# --- bad input ------------------------------------------------------------------------------

@pytest.mark.parametrize(("fields", "field", "reason"), [
    ({"quarter": 5}, "quarter", "5 is not a quarter: 1, 2, 3 or 4"),
    ({"quarter": 0}, "quarter", "0 is not a quarter: 1, 2, 3 or 4"),
    ({"quarter": "spring"}, "quarter", "'spring' is not a quarter: 1, 2, 3 or 4"),
    ({"year": 1999}, "year", "1999 is outside 2000–2100"),
    ({"year": "soon"}, "year", "'soon' is not a year like 2026"),
    ({"target": "-1"}, "target", "must be at least 0"),
    ({"target": ""}, "target", "is required"),
    ({"target": "lots"}, "target", "'lots' is not an amount like 1234.50"),
    ({"target": "10.001"}, "target", "has more than two decimals"),
    ({"goal_type": "opportunities", "target": "2.5"}, "target",
     "must be a whole number of opportunities"),
    ({"goal_type": "profit"}, "goal_type",
     "'profit' is not one of revenue, opportunities, partnerships"),
    ({"notes": "n" * 10_001}, "notes", "is longer than 10000 characters"),
    ({"user_id": "nobody"}, "user_id", "'nobody' is not a valid id"),
])
def test_bad_goal_input_is_refused_with_field_and_reason_and_nothing_is_written(
        session, fields, field, reason):
    _, vp = _person(session, "vp")
    before = _count(session, QuarterlyGoal), _count(session, AuditEntry)
    with pytest.raises(ValidationError) as refused:
        _set(session, vp, **fields)
    assert (refused.value.field, refused.value.reason) == (field, reason)
    assert (_count(session, QuarterlyGoal), _count(session, AuditEntry)) == before
