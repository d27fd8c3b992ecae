"""Alert rules at their boundaries, one alert per condition, and each user's own inbox."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from isv import display
from isv.errors import NotFound
from isv.models import Alert, AlertCondition, AuditEntry, PartnerActivity
from isv.services import alerts, partners
from isv.services.settings import local_today
from tests.factories import (
    make_goal,
    make_opportunity,
    make_partner,
    make_task,
    make_user,
    viewer_of,
)

TODAY = date(2026, 11, 18)  # a Wednesday in 2026Q4
NOW = datetime(2026, 11, 18, 9, 30, tzinfo=UTC)


def alerts_about(session, entity_id) -> list[Alert]:
    return list(session.scalars(select(Alert).where(Alert.entity_id == entity_id)
                                .order_by(Alert.created_at, Alert.priority)))


def day(n: int) -> date:
    return TODAY + timedelta(days=n)


@pytest.fixture
def owner(session):
    return make_user(session, role="partnership_manager")


@pytest.fixture
def seller(session):
    return make_user(session, role="sales_manager")


@pytest.fixture
def partner(session, owner):
    return make_partner(session, owner_id=owner.id)


# --- opportunity_due -------------------------------------------------------------------

def test_a_deal_closing_in_7_days_raises_an_alert_and_one_closing_in_8_days_does_not(
        session, partner, seller):
    in_seven = make_opportunity(session, partner, assigned_user_id=seller.id,
                                expected_close_date=day(7))
    in_eight = make_opportunity(session, partner, assigned_user_id=seller.id,
                                expected_close_date=day(8))

    alerts.opportunity_due(session=session, today=TODAY, now=NOW)

    [alert] = alerts_about(session, in_seven.id)
    assert (alert.user_id, alert.priority, alert.alert_type) == (seller.id, "medium",
                                                                 "opportunity_due")
    assert in_seven.customer_name in alert.message and "7 days" in alert.message
    assert alerts_about(session, in_eight.id) == []


def test_a_deal_closing_within_2_days_is_high_priority_and_one_in_3_days_medium(
        session, partner, seller):
    in_two = make_opportunity(session, partner, assigned_user_id=seller.id,
                              expected_close_date=day(2))
    in_three = make_opportunity(session, partner, assigned_user_id=seller.id,
                                expected_close_date=day(3))
    today_deal = make_opportunity(session, partner, assigned_user_id=seller.id,
                                  expected_close_date=TODAY)

    alerts.opportunity_due(session=session, today=TODAY, now=NOW)

    assert [a.priority for a in alerts_about(session, in_two.id)] == ["high"]
    assert [a.priority for a in alerts_about(session, in_three.id)] == ["medium"]
    [closing_today] = alerts_about(session, today_deal.id)
    assert closing_today.priority == "high" and "close today" in closing_today.message


def test_a_slipped_deal_is_urgent_for_its_assignee_and_every_active_vp(session, partner,
                                                                      seller):
    vp = make_user(session, role="vp")
    retired_vp = make_user(session, role="vp", is_active=False)
    slipped = make_opportunity(session, partner, assigned_user_id=seller.id,
                               expected_close_date=day(-1))
    due_today = make_opportunity(session, partner, assigned_user_id=seller.id,
                                 expected_close_date=TODAY)

    alerts.opportunity_due(session=session, today=TODAY, now=NOW)

    told = {a.user_id: a for a in alerts_about(session, slipped.id)}
    assert {seller.id, vp.id} <= set(told) and retired_vp.id not in told
    assert {a.priority for a in told.values()} == {"urgent"}
    assert "slipped" in told[seller.id].message
    # Not slipped yet on its close date: the vps are not told.
    assert [a.user_id for a in alerts_about(session, due_today.id)] == [seller.id]


def test_closed_deals_raise_nothing_however_late(session, partner, seller):
    won = make_opportunity(session, partner, assigned_user_id=seller.id, stage="closed_won",
                           probability=Decimal(100), expected_close_date=day(-3),
                           actual_close_date=day(-5))

    alerts.opportunity_due(session=session, today=TODAY, now=NOW)

    assert alerts_about(session, won.id) == []


def test_an_unassigned_deal_alerts_the_partners_owner(session, partner, owner):
    deal = make_opportunity(session, partner, expected_close_date=day(5))

    alerts.opportunity_due(session=session, today=TODAY, now=NOW)

    assert [a.user_id for a in alerts_about(session, deal.id)] == [owner.id]


def test_a_deal_escalates_once_per_level_as_its_close_date_nears(session, partner, seller):
    deal = make_opportunity(session, partner, assigned_user_id=seller.id,
                            expected_close_date=day(5))

    for today in (TODAY, day(1), day(3), day(4), day(5), day(6), day(7)):
        alerts.opportunity_due(session=session, today=today, now=NOW)

    mine = [a.priority for a in alerts_about(session, deal.id) if a.user_id == seller.id]
    assert sorted(mine) == sorted(["medium", "high", "urgent"])


def test_a_deal_first_seen_slipped_raises_only_the_slipped_alert_and_no_late_reminders(
        session, partner, seller):
    deal = make_opportunity(session, partner, assigned_user_id=seller.id,
                            expected_close_date=day(-2))

    alerts.opportunity_due(session=session, today=TODAY, now=NOW)
    alerts.opportunity_due(session=session, today=day(1), now=NOW)

    assert [a.priority for a in alerts_about(session, deal.id)
            if a.user_id == seller.id] == ["urgent"]


def test_a_new_close_date_is_a_new_episode_with_a_new_alert(session, partner, seller):
    deal = make_opportunity(session, partner, assigned_user_id=seller.id,
                            expected_close_date=day(6))
    alerts.opportunity_due(session=session, today=TODAY, now=NOW)

    deal.expected_close_date = day(20)
    session.flush()
    alerts.opportunity_due(session=session, today=TODAY, now=NOW)
    assert len(alerts_about(session, deal.id)) == 1  # pushed out: nothing new yet

    alerts.opportunity_due(session=session, today=day(14), now=NOW)  # 6 days before again
    raised = alerts_about(session, deal.id)
    assert len(raised) == 2
    assert display.day(day(20)) in raised[1].message


# --- relationship_maintenance ----------------------------------------------------------

def touch(session, partner, on: date) -> None:
    session.add(PartnerActivity(partner_id=partner.id, activity_type="call", occurred_on=on))
    session.flush()


def quiet(session, partner) -> list[Alert]:
    return [a for a in alerts_about(session, partner.id) if a.priority == "medium"]


def test_a_partner_untouched_for_30_days_alerts_its_owner_and_29_days_does_not(session,
                                                                              owner):
    long_ago = datetime(2025, 1, 1, tzinfo=UTC)
    thirty = make_partner(session, owner_id=owner.id, created_at=long_ago)
    twenty_nine = make_partner(session, owner_id=owner.id, created_at=long_ago)
    touch(session, thirty, day(-30))
    touch(session, thirty, day(-45))
    touch(session, twenty_nine, day(-29))

    alerts.relationship_maintenance(session=session, today=TODAY, now=NOW)

    [alert] = quiet(session, thirty)
    assert alert.user_id == owner.id and alert.alert_type == "relationship_maintenance"
    assert "30 days" in alert.message and thirty.name in alert.message
    assert quiet(session, twenty_nine) == []


def test_a_partner_never_touched_counts_from_the_day_it_was_added(session, owner):
    added_30_days_ago = make_partner(
        session, owner_id=owner.id,
        created_at=datetime.combine(day(-30), datetime.min.time(), tzinfo=UTC))
    added_29_days_ago = make_partner(
        session, owner_id=owner.id,
        created_at=datetime.combine(day(-29), datetime.min.time(), tzinfo=UTC))

    alerts.relationship_maintenance(session=session, today=TODAY, now=NOW)

    assert len(quiet(session, added_30_days_ago)) == 1
    assert quiet(session, added_29_days_ago) == []


def test_a_new_touch_ends_the_quiet_spell_and_the_next_spell_raises_a_new_alert(session,
                                                                               partner):
    partner.created_at = datetime(2025, 1, 1, tzinfo=UTC)
    touch(session, partner, day(-40))
    for _ in range(3):
        alerts.relationship_maintenance(session=session, today=TODAY, now=NOW)
    assert len(quiet(session, partner)) == 1

    touch(session, partner, TODAY)
    alerts.relationship_maintenance(session=session, today=day(29), now=NOW)
    assert len(quiet(session, partner)) == 1
    alerts.relationship_maintenance(session=session, today=day(30), now=NOW)
    assert len(quiet(session, partner)) == 2


# A hand-set label shows (and alerts) only while its override lasts.
OVERRIDE = dict(health_reason="Champion left", health_until=local_today() + timedelta(days=30))


def test_an_at_risk_partner_alerts_its_owner_once_per_time_it_turns_at_risk(session, owner):
    vp = viewer_of(make_user(session, role="vp"))
    partner = make_partner(session, owner_id=owner.id)
    at_risk = []

    def raise_and_count() -> int:
        alerts.relationship_maintenance(session=session, today=TODAY, now=NOW)
        at_risk[:] = [a for a in alerts_about(session, partner.id) if a.priority == "high"]
        return len(at_risk)

    assert raise_and_count() == 0
    partners.update_partner(session=session, viewer=vp, partner_id=partner.id,
                            relationship_health="at_risk", **OVERRIDE)
    assert raise_and_count() == 1
    assert raise_and_count() == 1
    assert at_risk[0].user_id == owner.id and "at risk" in at_risk[0].message
    assert "Champion left" in at_risk[0].message
    partners.update_partner(session=session, viewer=vp, partner_id=partner.id,
                            relationship_health="needs_attention")
    assert raise_and_count() == 1
    partners.update_partner(session=session, viewer=vp, partner_id=partner.id,
                            relationship_health="at_risk")
    assert raise_and_count() == 2


def test_a_stored_at_risk_label_without_an_override_raises_no_at_risk_alert(session, owner):
    """The label the partner shows is the score's (healthy here), as on every page."""
    partner = make_partner(session, owner_id=owner.id, relationship_health="at_risk")
    touch(session, partner, TODAY)

    alerts.relationship_maintenance(session=session, today=TODAY, now=NOW)

    assert not [a for a in alerts_about(session, partner.id) if "at risk" in a.message]


def test_a_partner_nobody_owns_alerts_the_active_vps(session):
    vp = make_user(session, role="vp")
    orphan = make_partner(session, relationship_health="at_risk", **OVERRIDE)

    alerts.relationship_maintenance(session=session, today=TODAY, now=NOW)

    assert vp.id in {a.user_id for a in alerts_about(session, orphan.id)}


# --- goal_milestone --------------------------------------------------------------------

def won_deal(session, partner, user, value: str) -> None:
    make_opportunity(session, partner, assigned_user_id=user.id, stage="closed_won",
                     probability=Decimal(100), deal_value=Decimal(value),
                     expected_close_date=day(-10), actual_close_date=day(-10))


def test_a_goal_at_49_9_percent_raises_nothing_and_at_50_percent_its_first_milestone(
        session, partner, seller):
    goal = make_goal(session, seller, year=2026, quarter=4, revenue_target=Decimal("1000.00"))
    won_deal(session, partner, seller, "499.00")

    alerts.goal_milestone(session=session, today=TODAY, now=NOW)
    assert goal.current_progress == Decimal("499.00")  # refreshed from the won deals first
    assert alerts_about(session, goal.id) == []

    won_deal(session, partner, seller, "1.00")
    alerts.goal_milestone(session=session, today=TODAY, now=NOW)

    [alert] = alerts_about(session, goal.id)
    assert (alert.user_id, alert.alert_type) == (seller.id, "goal_milestone")
    assert "reached 50\u00a0%: $500 of $1,000." in alert.message


def test_each_milestone_is_raised_once_and_a_jump_raises_only_the_highest(session, partner,
                                                                         seller):
    goal = make_goal(session, seller, year=2026, quarter=4, revenue_target=Decimal("1000.00"))
    won_deal(session, partner, seller, "800.00")

    alerts.goal_milestone(session=session, today=TODAY, now=NOW)
    alerts.goal_milestone(session=session, today=TODAY, now=NOW)
    assert ["75\u00a0%" in a.message for a in alerts_about(session, goal.id)] == [True]

    won_deal(session, partner, seller, "200.00")
    alerts.goal_milestone(session=session, today=TODAY, now=NOW)
    messages = [a.message for a in alerts_about(session, goal.id)]
    assert len(messages) == 2 and "100\u00a0%" in messages[1]


def test_goals_of_other_quarters_raise_nothing(session, partner, seller):
    last_quarter = make_goal(session, seller, year=2026, quarter=3,
                             revenue_target=Decimal("100.00"), current_progress=Decimal(100))

    alerts.goal_milestone(session=session, today=TODAY, now=NOW)

    assert alerts_about(session, last_quarter.id) == []


# --- task_overdue ----------------------------------------------------------------------

def test_a_task_due_yesterday_is_overdue_and_one_due_today_is_not(session, seller):
    yesterday = make_task(session, seller, due_date=day(-1), status="in_progress")
    due_today = make_task(session, seller, due_date=TODAY)

    alerts.task_overdue(session=session, today=TODAY, now=NOW)

    [alert] = alerts_about(session, yesterday.id)
    assert (alert.user_id, alert.alert_type) == (seller.id, "task_overdue")
    assert yesterday.title in alert.message and "1 day" in alert.message
    assert alerts_about(session, due_today.id) == []


def test_finished_tasks_are_never_overdue(session, seller):
    done = make_task(session, seller, due_date=day(-5), status="completed",
                     completed_date=day(-4))
    dropped = make_task(session, seller, due_date=day(-5), status="cancelled")

    alerts.task_overdue(session=session, today=TODAY, now=NOW)

    assert alerts_about(session, done.id) == alerts_about(session, dropped.id) == []


def test_an_overdue_task_keeps_its_priority_and_an_urgent_one_reaches_the_vps(session, seller):
    vp = make_user(session, role="vp")
    low = make_task(session, seller, due_date=day(-2), priority="low")
    urgent = make_task(session, seller, due_date=day(-2), priority="urgent")

    alerts.task_overdue(session=session, today=TODAY, now=NOW)

    assert [(a.user_id, a.priority) for a in alerts_about(session, low.id)] == [
        (seller.id, "low")]
    assert {seller.id, vp.id} <= {a.user_id for a in alerts_about(session, urgent.id)}


def test_a_task_given_a_new_due_date_that_passes_again_raises_a_new_alert(session, seller):
    task = make_task(session, seller, due_date=day(-1))
    alerts.task_overdue(session=session, today=TODAY, now=NOW)

    task.due_date = day(3)
    session.flush()
    alerts.task_overdue(session=session, today=TODAY, now=NOW)
    assert len(alerts_about(session, task.id)) == 1

    alerts.task_overdue(session=session, today=day(4), now=NOW)
    assert len(alerts_about(session, task.id)) == 2


# --- one alert per condition -----------------------------------------------------------

def test_running_the_alert_job_three_times_creates_the_alerts_once(session, partner, seller):
    deal = make_opportunity(session, partner, assigned_user_id=seller.id,
                            expected_close_date=day(1))
    task = make_task(session, seller, due_date=day(-3))

    runs = [alerts.run_alert_rules(session=session, now=NOW) for _ in range(3)]

    assert runs[0]["alerts"] >= 2 and runs[1]["alerts"] == runs[2]["alerts"] == 0
    assert runs[0]["conditions"] == runs[1]["conditions"] == runs[2]["conditions"]
    assert len(alerts_about(session, deal.id)) == 1
    assert len(alerts_about(session, task.id)) == 1


def test_a_deleted_alert_does_not_come_back_on_the_next_run(session, seller):
    task = make_task(session, seller, due_date=day(-3))
    alerts.task_overdue(session=session, today=TODAY, now=NOW)
    [alert] = alerts_about(session, task.id)

    alerts.delete_alerts(session=session, viewer=viewer_of(seller), alert_ids=[alert.id])
    alerts.task_overdue(session=session, today=TODAY, now=NOW)

    assert alerts_about(session, task.id) == []


def test_each_alert_is_keyed_by_its_condition_and_recipient(session, partner, seller):
    deal = make_opportunity(session, partner, assigned_user_id=seller.id,
                            expected_close_date=day(4))

    alerts.opportunity_due(session=session, today=TODAY, now=NOW)

    key = f"opportunity_due:{deal.id}:{day(4)}:week"
    [alert] = alerts_about(session, deal.id)
    assert alert.dedupe_key == f"{key}:{seller.id}"
    assert session.scalar(select(func.count()).select_from(AlertCondition)
                          .where(AlertCondition.key == key)) == 1


def test_a_task_whose_user_is_deactivated_raises_nothing_until_someone_can_hear(session):
    gone = make_user(session, role="sales_manager", is_active=False)
    task = make_task(session, gone, due_date=day(-3))

    alerts.task_overdue(session=session, today=TODAY, now=NOW)
    assert alerts_about(session, task.id) == []

    gone.is_active = True
    session.flush()
    alerts.task_overdue(session=session, today=TODAY, now=NOW)
    assert [a.user_id for a in alerts_about(session, task.id)] == [gone.id]


# --- the inbox -------------------------------------------------------------------------

@pytest.fixture
def inbox(session, seller):
    """The seller has three alerts (one read), someone else has one."""
    other = make_user(session, role="sales_manager")
    mine = [make_task(session, seller, due_date=day(-2), priority=p)
            for p in ("low", "medium", "high")]
    theirs = make_task(session, other, due_date=day(-2))
    alerts.task_overdue(session=session, today=TODAY, now=NOW)
    first = alerts_about(session, mine[0].id)[0]
    first.is_read = True
    session.flush()
    return {"me": viewer_of(seller), "other": viewer_of(other),
            "mine": [alerts_about(session, t.id)[0] for t in mine],
            "theirs": alerts_about(session, theirs.id)[0]}


def test_a_user_lists_only_their_own_alerts_and_filters_them(session, inbox):
    me = inbox["me"]
    listed = alerts.list_alerts(session=session, viewer=me)

    assert {row.id for row in listed} == {a.id for a in inbox["mine"]}
    assert [row.priority for row in listed] == ["high", "medium", "low"]  # one run: by urgency
    assert alerts.unread_count(session=session, viewer=me) == 2
    assert [r.priority for r in alerts.list_alerts(session=session, viewer=me,
                                                   priority="high")] == ["high"]
    assert len(alerts.list_alerts(session=session, viewer=me, read=False)) == 2
    assert [r.id for r in alerts.list_alerts(session=session, viewer=me, read=True)] == [
        inbox["mine"][0].id]
    assert alerts.list_alerts(session=session, viewer=me, alert_type="goal_milestone") == []


def test_mark_read_takes_one_or_a_selection_and_is_audited(session, inbox):
    me = inbox["me"]
    _, medium, high = inbox["mine"]

    assert alerts.mark_read(session=session, viewer=me, alert_ids=[medium.id]) == 1
    assert alerts.unread_count(session=session, viewer=me) == 1
    assert alerts.mark_read(session=session, viewer=me,
                            alert_ids=[medium.id, str(high.id)]) == 1
    assert alerts.unread_count(session=session, viewer=me) == 0
    assert session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "mark_read", AuditEntry.actor_id == me.id)) == 2


def test_mark_all_read_empties_only_the_viewers_count(session, inbox):
    assert alerts.mark_all_read(session=session, viewer=inbox["me"]) == 2
    assert alerts.unread_count(session=session, viewer=inbox["me"]) == 0
    assert alerts.unread_count(session=session, viewer=inbox["other"]) == 1


def test_someone_elses_alert_cannot_be_read_or_deleted_and_nothing_changes(session, inbox):
    me, theirs = inbox["me"], inbox["theirs"]

    with pytest.raises(NotFound):
        alerts.mark_read(session=session, viewer=me, alert_ids=[theirs.id])
    with pytest.raises(NotFound):
        alerts.mark_read(session=session, viewer=me,
                         alert_ids=[inbox["mine"][1].id, theirs.id])
    with pytest.raises(NotFound):
        alerts.delete_alerts(session=session, viewer=me, alert_ids=[theirs.id])

    assert alerts.unread_count(session=session, viewer=me) == 2
    assert alerts.unread_count(session=session, viewer=inbox["other"]) == 1


def test_delete_removes_the_viewers_alerts_with_an_audit_entry_each(session, inbox):
    me = inbox["me"]
    doomed = [inbox["mine"][0].id, inbox["mine"][2].id]

    assert alerts.delete_alerts(session=session, viewer=me, alert_ids=doomed) == 2

    assert [r.id for r in alerts.list_alerts(session=session, viewer=me)] == [
        inbox["mine"][1].id]
    assert session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "delete", AuditEntry.entity_type == "alert",
        AuditEntry.actor_id == me.id)) == 2
