"""Alerts: the five rules that raise them, and each user's own inbox.

Rules. Each rule looks at the data as of `today` (the deployment's calendar day; tests pass
their own clock) and finds *conditions*:

- opportunity_due — an open deal whose expected close date is at most 7 days away (medium),
  at most 2 days away (high), or already past (urgent: the deal slipped);
- relationship_maintenance — a partner with no logged touch for the relationship cadence
  (30 days by default; counted from the partner's creation when it has no touch at all);
  separately, a partner whose health score fell below the alert threshold (40 by default)
  since its last weekly snapshot, naming the part that moved it most (services/health.py);
  and a partner whose shown health is at_risk (the hand-set label while its override
  lasts, else the score's band);
- goal_milestone — a goal of the current quarter whose progress (current_progress /
  revenue_target, refreshed first by goals.refresh_progress) has reached 50 %, 75 % or
  100 %;
- task_overdue — a pending or in-progress task whose due date has passed;
- deal_registration — a registration a partner sent through its link (high when it collides
  with another record), one still pending that expires within a week, and an approved one
  whose protection ends within a week (services/registrations.py).

The day counts, the cadence and the milestones are the Settings page's (services/settings.py;
the numbers above are the defaults).

A condition's alert goes to the deal's assignee (else the partner's owner), the partner's
owner, or the goal's or task's user — active users only. Urgent alerts also go to every
active vp, and so do alerts that have no one else to go to (an unassigned deal of an
unowned partner, an unowned partner).

Dedupe keys. Every condition has a key naming its *episode*, the date on which this
occurrence of the condition began:

    opportunity_due:{deal}:{expected_close_date}:{week | two_days | slipped}
    relationship_maintenance:{partner}:quiet:{last touch, or the day the partner was added}
    relationship_maintenance:{partner}:score:{day of the last snapshot above it, or first}
    relationship_maintenance:{partner}:at_risk:{moment the health was last set to at_risk}
    relationship_maintenance:{partner}:at_risk:score:{last snapshot above at_risk, or first}
    goal_milestone:{goal}:{50 | 75 | 100}
    task_overdue:{task}:{due_date}
    deal_registration:{registration}:new
    deal_registration:{registration}:expiring:{expires_at}
    deal_registration:{registration}:protection:{protected_until}

A condition is raised once: its key goes into `alert_conditions` (unique) and one alert per
recipient into `alerts`, whose `dedupe_key` is the condition key plus ":" and the recipient's
id (unique as well: the final guard should two runs overlap). Running the rules again finds
the same keys and adds nothing; reading or deleting an alert leaves its condition recorded,
so a deleted alert does not come back. A condition that ends and comes back has a new
episode — the deal gets a new close date, the partner a new touch, the task a new due date,
the health is set to at_risk again — hence a new key and a new alert. Levels escalate
within an episode (a deal 7 days out, then 2 days out, then slipped: three alerts); a level
skipped over (first seen already slipped) is recorded as raised without an alert, so it
never fires late. A goal milestone is raised once per goal.

One file, over 500 lines, because the five rules share the raise-once bookkeeping above
(keys, recipients, escalation), and the inbox reads the same two tables.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from isv import display
from isv.auth import Viewer
from isv.errors import NotFound
from isv.models import (
    ALERT_TYPES,
    OPEN_STAGES,
    PRIORITIES,
    Alert,
    AlertCondition,
    AuditEntry,
    DealRegistration,
    Opportunity,
    Partner,
    PartnerActivity,
    QuarterlyGoal,
    Task,
    User,
)
from isv.services import audit, health, validate
from isv.services import goals as goal_service
from isv.services.settings import current_settings, local_date
from isv.services.validate import parse_id
from isv.types import utcnow

SYSTEM = Viewer.system("scheduler")
ENTITY_OF_TYPE = {
    "opportunity_due": "opportunity",
    "relationship_maintenance": "partner",
    "goal_milestone": "goal",
    "task_overdue": "task",
    "deal_registration": "registration",
}
REGISTRATION_WARNING_DAYS = 7
_CHUNK = 500


@dataclass(frozen=True)
class Condition:
    """Something an alert rule found, with the key of its episode and who hears about it."""

    key: str
    alert_type: str
    entity_id: uuid.UUID
    priority: str
    message: str
    recipients: tuple[uuid.UUID, ...]
    # Lower levels of the same episode, recorded as raised (without alerts) with this one.
    passed_over: tuple[str, ...] = ()


class _People:
    """Who may receive alerts: active users, and the active vps."""

    def __init__(self, session: Session) -> None:
        rows = session.execute(select(User.id, User.role).where(User.is_active.is_(True))).all()
        self.active = {row.id for row in rows}
        self.vps = tuple(sorted((row.id for row in rows if row.role == "vp"), key=str))

    def to(self, *candidates: uuid.UUID | None, priority: str,
           vps_when_nobody: bool = False) -> tuple[uuid.UUID, ...]:
        first = next((c for c in candidates if c is not None and c in self.active), None)
        ids = [first] if first is not None else []
        if priority == "urgent" or (vps_when_nobody and not ids):
            ids += [vp for vp in self.vps if vp not in ids]
        return tuple(ids)


def _clock(today: date | None, now: datetime | None) -> tuple[date, datetime]:
    now = now or utcnow()
    return today or local_date(now), now


def _days(n: int) -> str:
    return f"{n} day{'s' if n != 1 else ''}"


# --- the rules: what each one finds ----------------------------------------------------

def _opportunity_due(session: Session, today: date, people: _People) -> list[Condition]:
    settings = current_settings(session)
    soon, very_soon = settings.alert_due_soon_days, settings.alert_due_very_soon_days
    rows = session.execute(
        select(Opportunity.id, Opportunity.customer_name, Opportunity.expected_close_date,
               Opportunity.assigned_user_id, Partner.owner_id, Partner.name)
        .join(Partner, Partner.id == Opportunity.partner_id)
        .where(Opportunity.stage.in_(OPEN_STAGES), Opportunity.expected_close_date.is_not(None),
               Opportunity.expected_close_date <= today + timedelta(days=soon))
        .order_by(Opportunity.expected_close_date, Opportunity.id))
    levels = ("week", "two_days", "slipped")
    found = []
    for deal_id, customer, close, assignee, owner, partner in rows:
        days = (close - today).days
        deal = f"{customer} ({partner})"
        if days < 0:
            level, priority = "slipped", "urgent"
            message = (f"{deal} slipped: it was expected to close on {display.day(close)}, "
                       f"{_days(-days)} ago, and is still open.")
        elif days <= very_soon:
            level, priority = "two_days", "high"
            when = {0: "today", 1: "tomorrow"}.get(days, f"in {_days(days)}")
            message = f"{deal} is expected to close {when} ({display.day(close)})."
        else:
            level, priority = "week", "medium"
            message = f"{deal} is expected to close in {_days(days)}, on {display.day(close)}."
        episode = f"opportunity_due:{deal_id}:{close}"
        lower = levels[:levels.index(level)]
        found.append(Condition(
            key=f"{episode}:{level}", alert_type="opportunity_due", entity_id=deal_id,
            priority=priority, message=message,
            recipients=people.to(assignee, owner, priority=priority, vps_when_nobody=True),
            passed_over=tuple(f"{episode}:{low}" for low in lower)))
    return found


def _at_risk_since(session: Session, partners: list[tuple[uuid.UUID, datetime]]
                   ) -> dict[uuid.UUID, datetime]:
    """When each at-risk partner's health was last set to at_risk (its creation if unknown).

    The audit log is the history: create and update entries carry the new health.
    """
    since = {partner_id: created for partner_id, created in partners}
    by_text = {str(partner_id): partner_id for partner_id, _ in partners}
    ids = list(by_text)
    for start in range(0, len(ids), _CHUNK):
        entries = session.execute(
            select(AuditEntry.entity_id, AuditEntry.at, AuditEntry.new_values)
            .where(AuditEntry.entity_type == "partner",
                   AuditEntry.entity_id.in_(ids[start:start + _CHUNK]),
                   AuditEntry.action.in_(("create", "update")))
            .order_by(AuditEntry.at))
        for entity_id, at, new in entries:
            if isinstance(new, dict) and new.get("relationship_health") == "at_risk":
                since[by_text[entity_id]] = at
    return since


def _relationship_maintenance(session: Session, today: date,
                              people: _People) -> list[Condition]:
    quiet_days = current_settings(session).relationship_cadence_days
    last_touch = (
        select(PartnerActivity.partner_id, func.max(PartnerActivity.occurred_on).label("last"))
        .group_by(PartnerActivity.partner_id)
        .subquery())
    rows = session.execute(
        select(Partner.id, Partner.name, Partner.owner_id, Partner.relationship_health,
               Partner.created_at, last_touch.c.last)
        .outerjoin(last_touch, last_touch.c.partner_id == Partner.id)
        .order_by(Partner.id)).all()
    found = []
    for partner_id, name, owner, _, created, last in rows:
        since = last or local_date(created)
        days = (today - since).days
        if days < quiet_days:
            continue
        message = (f"No touch logged with {name} for {_days(days)} (last: {display.day(last)})."
                   if last
                   else f"No touch logged with {name} since it was added {_days(days)} ago.")
        found.append(Condition(
            key=f"relationship_maintenance:{partner_id}:quiet:{since}",
            alert_type="relationship_maintenance", entity_id=partner_id, priority="medium",
            message=message, recipients=people.to(owner, priority="medium",
                                                  vps_when_nobody=True)))
    owners = {row[0]: row[2] for row in rows}
    for crossing in health.crossings(session=session, viewer=SYSTEM, today=today):
        since = crossing.before[0] if crossing.before else "first"
        found.append(Condition(
            key=f"relationship_maintenance:{crossing.partner_id}:score:{since}",
            alert_type="relationship_maintenance", entity_id=crossing.partner_id,
            priority="high", message=crossing.message(),
            recipients=people.to(owners.get(crossing.partner_id), priority="high",
                                 vps_when_nobody=True)))
    # The label the partner shows, as the directory and the partner page show it: the
    # hand-set one while its override lasts, else the score's band.
    scores = {s.partner_id: s for s in health.partner_scores(session=session, viewer=SYSTEM,
                                                             as_of=today)}
    shown = [row for row in rows
             if (scores[row[0]].health if row[0] in scores else row[3]) == "at_risk"]
    by_hand = [row for row in shown if row[0] not in scores or scores[row[0]].overridden]
    hand_ids = {row[0] for row in by_hand}
    by_score = [row for row in shown if row[0] not in hand_ids]
    since_of = _at_risk_since(session, [(row[0], row[4]) for row in by_hand])
    for partner_id, name, owner, _, _, _ in by_hand:
        since = since_of[partner_id]
        reason = scores[partner_id].reason if partner_id in scores else None
        found.append(Condition(
            key=(f"relationship_maintenance:{partner_id}:at_risk:"
                 f"{since.astimezone(UTC):%Y-%m-%dT%H:%M:%S.%f}"),
            alert_type="relationship_maintenance", entity_id=partner_id, priority="high",
            message=f"The relationship with {name} is at risk"
                    + (f" (set by hand: {reason})." if reason else "."),
            recipients=people.to(owner, priority="high", vps_when_nobody=True)))
    episodes = health.last_above_at_risk(session=session, before=today,
                                         partner_ids=[row[0] for row in by_score])
    for partner_id, name, owner, _, _, _ in by_score:
        found.append(Condition(
            key=f"relationship_maintenance:{partner_id}:at_risk:score:"
                f"{episodes.get(partner_id, 'first')}",
            alert_type="relationship_maintenance", entity_id=partner_id, priority="high",
            message=f"The relationship with {name} is at risk: health score "
                    f"{display.count(scores[partner_id].score)}.",
            recipients=people.to(owner, priority="high", vps_when_nobody=True)))
    return found


def _amount(goal_type: str, value: Decimal) -> str:
    return display.money(value) if goal_type == "revenue" else display.count(value)


def _goal_milestone(session: Session, today: date, people: _People) -> list[Condition]:
    milestones = current_settings(session).alert_goal_milestones
    year, quarter = goal_service.current_quarter(today)
    goals = session.execute(
        select(QuarterlyGoal.id, QuarterlyGoal.user_id, QuarterlyGoal.goal_type,
               QuarterlyGoal.revenue_target, QuarterlyGoal.current_progress)
        .where(QuarterlyGoal.quarter == quarter, QuarterlyGoal.year == year,
               QuarterlyGoal.revenue_target > 0)
        .order_by(QuarterlyGoal.id))
    found = []
    for goal_id, user_id, goal_type, target, progress in goals:
        # Exact: progress / target >= m / 100, without dividing.
        reached = [m for m in milestones if progress * 100 >= target * m]
        if not reached:
            continue
        milestone = reached[-1]
        priority = "medium" if milestone == 100 else "low"
        found.append(Condition(
            key=f"goal_milestone:{goal_id}:{milestone}", alert_type="goal_milestone",
            entity_id=goal_id, priority=priority,
            message=(f"Your Q{quarter} {year} {goal_type} goal reached "
                     f"{display.percentage(milestone)}: "
                     f"{_amount(goal_type, progress)} of {_amount(goal_type, target)}."),
            recipients=people.to(user_id, priority=priority),
            passed_over=tuple(f"goal_milestone:{goal_id}:{m}" for m in reached[:-1])))
    return found


def _task_overdue(session: Session, today: date, people: _People) -> list[Condition]:
    tasks = session.execute(
        select(Task.id, Task.user_id, Task.title, Task.priority, Task.due_date)
        .where(Task.status.in_(("pending", "in_progress")), Task.due_date.is_not(None),
               Task.due_date < today)
        .order_by(Task.due_date, Task.id))
    return [
        Condition(
            key=f"task_overdue:{task_id}:{due}", alert_type="task_overdue", entity_id=task_id,
            priority=priority,
            message=f"Overdue since {display.day(due)} ({_days((today - due).days)}): {title}",
            recipients=people.to(user_id, priority=priority))
        for task_id, user_id, title, priority, due in tasks
    ]


def _deal_registration(session: Session, today: date, people: _People) -> list[Condition]:
    warn = today + timedelta(days=REGISTRATION_WARNING_DAYS)
    rows = session.execute(
        select(DealRegistration.id, DealRegistration.status, DealRegistration.customer_name,
               DealRegistration.deal_value, DealRegistration.expected_close_date,
               DealRegistration.conflicts, DealRegistration.expires_at,
               DealRegistration.protected_until, Partner.name, Partner.owner_id)
        .join(Partner, Partner.id == DealRegistration.partner_id)
        .where(DealRegistration.status.in_(("pending", "approved")))
        .order_by(DealRegistration.submitted_at, DealRegistration.id))
    found = []
    for (reg_id, status, customer, value, close, conflicts, expires, protected, partner,
         owner) in rows:
        if status == "pending":
            ends = local_date(expires)
            if ends < today:
                continue
            collides = len(conflicts or [])
            priority = "high" if collides else "medium"
            clash = (f" It collides with {collides} other record{'s' if collides != 1 else ''}."
                     if collides else "")
            found.append(Condition(
                key=f"deal_registration:{reg_id}:new", alert_type="deal_registration",
                entity_id=reg_id, priority=priority,
                message=(f"{partner} registered a deal: {customer}, {display.money(value)}, "
                         f"expected to close {display.day(close)}.{clash}"),
                recipients=people.to(owner, priority=priority, vps_when_nobody=True)))
            if ends <= warn:
                found.append(Condition(
                    key=f"deal_registration:{reg_id}:expiring:{expires.date()}",
                    alert_type="deal_registration", entity_id=reg_id, priority="high",
                    message=(f"{partner}'s registration of {customer} expires on "
                             f"{display.day(ends)} unless it is approved or rejected."),
                    recipients=people.to(owner, priority="high", vps_when_nobody=True)))
        elif protected is not None and today <= local_date(protected) <= warn:
            found.append(Condition(
                key=f"deal_registration:{reg_id}:protection:{protected.date()}",
                alert_type="deal_registration", entity_id=reg_id, priority="medium",
                message=(f"{partner}'s protection for {customer} ends on "
                         f"{display.day(local_date(protected))}."),
                recipients=people.to(owner, priority="medium", vps_when_nobody=True)))
    return found


# --- raising: each condition once ------------------------------------------------------

# Core inserts on the tables (their column types still convert every value): the ORM's
# bulk path costs several times as much on a first run that raises thousands of alerts.
_CONDITIONS = AlertCondition.__table__
_ALERTS = Alert.__table__


def _insert(session: Session, table: Any):
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    return insert(table)


def _existing_keys(session: Session, keys: list[str]) -> set[str]:
    existing: set[str] = set()
    for start in range(0, len(keys), _CHUNK):
        existing.update(session.scalars(
            select(AlertCondition.key).where(AlertCondition.key.in_(keys[start:start + _CHUNK]))))
    return existing


def _raise(session: Session, conditions: list[Condition], now: datetime) -> int:
    """Raise the conditions not raised before; return how many alerts that created."""
    existing = _existing_keys(session, [c.key for c in conditions])
    fresh: dict[str, Condition] = {}
    for condition in conditions:
        # Nobody to tell (e.g. the task's user is deactivated): not recorded, so it is
        # raised once someone can hear about it.
        if condition.key not in existing and condition.recipients:
            fresh.setdefault(condition.key, condition)
    if not fresh:
        return 0
    # The unique key decides: a run that overlaps ours and raised a key first wins it, and
    # ours inserts nothing for that key (ON CONFLICT DO NOTHING ... RETURNING).
    rows = [{"id": uuid.uuid4(), "key": c.key, "alert_type": c.alert_type, "raised_at": now}
            for c in fresh.values()]
    won: set[str] = set()
    for start in range(0, len(rows), _CHUNK):
        statement = (_insert(session, _CONDITIONS).on_conflict_do_nothing(
            index_elements=["key"]).returning(_CONDITIONS.c.key))
        won.update(session.scalars(statement, rows[start:start + _CHUNK]))
    passed_over = [{"id": uuid.uuid4(), "key": key, "alert_type": fresh[won_key].alert_type,
                    "raised_at": now}
                   for won_key in won for key in fresh[won_key].passed_over]
    for start in range(0, len(passed_over), _CHUNK):
        session.execute(_insert(session, _CONDITIONS).on_conflict_do_nothing(
            index_elements=["key"]), passed_over[start:start + _CHUNK])
    alerts = [
        {"id": uuid.uuid4(), "user_id": user_id, "alert_type": c.alert_type,
         "entity_type": ENTITY_OF_TYPE[c.alert_type], "entity_id": c.entity_id,
         "message": c.message, "is_read": False, "priority": c.priority,
         "dedupe_key": f"{c.key}:{user_id}", "created_at": now}
        for key in sorted(won) for c in (fresh[key],) for user_id in c.recipients
    ]
    created = 0
    for start in range(0, len(alerts), _CHUNK):
        statement = (_insert(session, _ALERTS).on_conflict_do_nothing(
            index_elements=["dedupe_key"]).returning(_ALERTS.c.id))
        created += len(session.scalars(statement, alerts[start:start + _CHUNK]).all())
    return created


_FINDERS: dict[str, Callable[[Session, date, _People], list[Condition]]] = {
    "opportunity_due": _opportunity_due,
    "relationship_maintenance": _relationship_maintenance,
    "goal_milestone": _goal_milestone,
    "task_overdue": _task_overdue,
    "deal_registration": _deal_registration,
}


def _rule(alert_type: str, session: Session, today: date | None,
          now: datetime | None) -> dict[str, int]:
    today, now = _clock(today, now)
    counts = {}
    if alert_type == "goal_milestone":
        # Progress as the data has it now, before reading it.
        counts["goals_refreshed"] = goal_service.refresh_progress(
            session=session, viewer=SYSTEM, today=today)
    conditions = _FINDERS[alert_type](session, today, _People(session))
    counts["conditions"] = len(conditions)
    counts["alerts"] = _raise(session, conditions, now)
    return counts


def opportunity_due(*, session: Session, today: date | None = None,
                    now: datetime | None = None) -> int:
    """Alert on open deals closing within 7 days or already slipped; return alerts created."""
    return _rule("opportunity_due", session, today, now)["alerts"]


def relationship_maintenance(*, session: Session, today: date | None = None,
                             now: datetime | None = None) -> int:
    """Alert on partners without a touch for a while, or at risk; return alerts created."""
    return _rule("relationship_maintenance", session, today, now)["alerts"]


def goal_milestone(*, session: Session, today: date | None = None,
                   now: datetime | None = None) -> int:
    """Alert on goals that reached 50, 75 or 100 % this quarter; return alerts created."""
    return _rule("goal_milestone", session, today, now)["alerts"]


def task_overdue(*, session: Session, today: date | None = None,
                 now: datetime | None = None) -> int:
    """Alert on pending or in-progress tasks past their due date; return alerts created."""
    return _rule("task_overdue", session, today, now)["alerts"]


def deal_registration(*, session: Session, today: date | None = None,
                      now: datetime | None = None) -> int:
    """Alert on new registrations and ones about to expire or end; return alerts created."""
    return _rule("deal_registration", session, today, now)["alerts"]


def run_alert_rules(*, session: Session, now: datetime | None = None) -> dict[str, int]:
    """Run every alert rule once; return conditions found, alerts created (in all, per type)."""
    today, now = _clock(None, now)
    counts: dict[str, int] = {"conditions": 0, "alerts": 0}
    for alert_type in ALERT_TYPES:
        rule = _rule(alert_type, session, today, now)
        counts["conditions"] += rule.pop("conditions")
        counts["alerts"] += rule["alerts"]
        counts[alert_type] = rule.pop("alerts")
        counts.update(rule)
    if counts["alerts"]:
        audit.record(session, actor=SYSTEM, action="raise_alerts", entity_type="alert",
                     entity_id=None, new={"today": today, **counts})
    return counts


# --- the inbox: each user sees and changes only their own alerts ------------------------

@dataclass(frozen=True)
class AlertRow:
    id: uuid.UUID
    alert_type: str
    entity_type: str
    entity_id: uuid.UUID
    message: str
    priority: str
    is_read: bool
    created_at: datetime


def _mine(viewer: Viewer):
    # The system viewer (CLI, scheduler) has no inbox: it matches no alert.
    return Alert.user_id == viewer.id if viewer.id is not None else Alert.id.is_(None)


def list_alerts(*, session: Session, viewer: Viewer, alert_type: str | None = None,
                priority: str | None = None, read: bool | None = None,
                limit: int = 1000) -> list[AlertRow]:
    """The viewer's alerts, newest first, optionally by type, priority and read state."""
    stmt = select(Alert).where(_mine(viewer))
    if alert_type:
        stmt = stmt.where(Alert.alert_type == validate.choice("alert_type", alert_type,
                                                              ALERT_TYPES))
    if priority:
        stmt = stmt.where(Alert.priority == validate.choice("priority", priority, PRIORITIES))
    if read is not None:
        stmt = stmt.where(Alert.is_read.is_(bool(read)))
    # Newest first; of alerts raised by the same run, the most pressing first.
    rank = case({p: i for i, p in enumerate(PRIORITIES)}, value=Alert.priority, else_=0)
    stmt = stmt.order_by(Alert.created_at.desc(), rank.desc(), Alert.id).limit(
        max(1, int(limit)))
    return [AlertRow(id=a.id, alert_type=a.alert_type, entity_type=a.entity_type,
                     entity_id=a.entity_id, message=a.message, priority=a.priority,
                     is_read=a.is_read, created_at=a.created_at)
            for a in session.scalars(stmt)]


def unread_count(*, session: Session, viewer: Viewer) -> int:
    """How many of the viewer's alerts are unread."""
    return session.scalar(select(func.count()).select_from(Alert)
                          .where(_mine(viewer), Alert.is_read.is_(False))) or 0


def _own_ids(session: Session, viewer: Viewer, alert_ids: Iterable[Any]) -> list[uuid.UUID]:
    """Parse the ids; NotFound unless every one is the viewer's own alert."""
    ids = list(dict.fromkeys(parse_id("alert_id", value) for value in alert_ids))
    if not ids:
        return []
    own: set[uuid.UUID] = set()
    for start in range(0, len(ids), _CHUNK):
        own.update(session.scalars(select(Alert.id).where(
            _mine(viewer), Alert.id.in_(ids[start:start + _CHUNK]))))
    if len(own) != len(ids):
        # Someone else's alert is reported exactly like a missing one.
        raise NotFound("No such alert." if len(ids) == 1 else
                       f"{len(ids) - len(own)} of these alerts no longer exist.")
    return ids


def mark_read(*, session: Session, viewer: Viewer, alert_ids: Iterable[Any]) -> int:
    """Mark some of the viewer's alerts (one or a selection) read; return how many changed."""
    ids = _own_ids(session, viewer, alert_ids)
    changed = 0
    for start in range(0, len(ids), _CHUNK):
        changed += session.execute(
            update(Alert).where(Alert.id.in_(ids[start:start + _CHUNK]),
                                Alert.is_read.is_(False)).values(is_read=True),
            execution_options={"synchronize_session": False}).rowcount
    if changed:
        audit.record(session, actor=viewer, action="mark_read", entity_type="alert",
                     entity_id=ids[0] if len(ids) == 1 else None,
                     new={"alert_ids": ids, "changed": changed})
    return changed


def mark_all_read(*, session: Session, viewer: Viewer) -> int:
    """Mark every one of the viewer's alerts read; return how many changed."""
    changed = session.execute(
        update(Alert).where(_mine(viewer), Alert.is_read.is_(False)).values(is_read=True),
        execution_options={"synchronize_session": False}).rowcount
    if changed:
        audit.record(session, actor=viewer, action="mark_all_read", entity_type="alert",
                     entity_id=None, new={"changed": changed})
    return changed


def delete_alerts(*, session: Session, viewer: Viewer, alert_ids: Iterable[Any]) -> int:
    """Delete some of the viewer's alerts (one or a selection); the conditions stay raised."""
    ids = _own_ids(session, viewer, alert_ids)
    gone = 0
    for start in range(0, len(ids), _CHUNK):
        for alert in session.scalars(select(Alert).where(Alert.id.in_(ids[start:start + _CHUNK]))):
            audit.record(session, actor=viewer, action="delete", entity_type="alert",
                         entity_id=alert.id,
                         old={"alert_type": alert.alert_type, "priority": alert.priority,
                              "message": alert.message, "is_read": alert.is_read})
            session.delete(alert)
            gone += 1
    session.flush()
    return gone
