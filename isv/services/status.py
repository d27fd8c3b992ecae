"""Weekly status: each person's week (drafted from the data, saved as typed, submitted once)
and the team's week for those who review it.

One file, over 500 lines, because the draft, the save, the submission and the team's view
all read the same week boundaries, metric names and text limits defined at its top.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from isv import display
from isv.auth import OWN_WORK, TEAM_READ, Viewer, require
from isv.dates import monday_of
from isv.errors import Forbidden, ValidationError
from isv.models import (
    OPEN_STAGES,
    ROLES,
    STAGES,
    Opportunity,
    Partner,
    PartnerActivity,
    StageHistory,
    Task,
    User,
    WeeklyStatus,
)
from isv.services import audit, validate
from isv.services.settings import local_today, local_zone
from isv.services.tasks import FLAG_AFTER, OPEN_STATUSES
from isv.types import utcnow

TEXT_FIELDS = ("accomplishments", "upcoming_tasks", "blockers")
TEXT_MAX = 20_000
KPI_NAME_MAX = 60
KPI_MAX_COUNT = 30
KPI_LIMIT = Decimal("1000000000000")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Roles that file a weekly status (DESIGN.md: "own status, tasks, goals").
FILING_ROLES = tuple(r for r in ROLES if r != "admin")
_ACTIVITY_WORDS = {"call": "Call", "meeting": "Meeting", "email": "Email", "qbr": "QBR",
                   "event": "Event", "other": "Touch"}

# The metrics the auto-draft fills in; a person may rename, remove or add any.
KPI_TOUCHES = "Partner touches"
KPI_NEW_DEALS = "New opportunities"
KPI_DEALS_WON = "Deals won"
KPI_REVENUE_WON = "Revenue won"


# --- weeks and values --------------------------------------------------------------------

def week_start(field_name: str, value: Any) -> date:
    """A valid week: a date in range that is a Monday, or a ValidationError naming the Monday."""
    day = validate.day(field_name, value, required=True)
    if day.weekday() != 0:
        raise ValidationError(
            field_name, f"{day} is a {WEEKDAYS[day.weekday()]}: weeks start on Monday "
                        f"(that week's Monday is {monday_of(day)})")
    return day


def _moments(start: date, end: date) -> tuple[datetime, datetime]:
    """Local midnights at the start of `start` and of `end`: a half-open range of timestamps."""
    zone = local_zone()
    return (datetime.combine(start, time.min, tzinfo=zone),
            datetime.combine(end, time.min, tzinfo=zone))


def metric_key(name: str) -> str:
    """Names that differ only in case, spaces, underscores or dashes are the same metric."""
    return re.sub(r"[\s_\-]+", " ", name).strip().casefold()


def _number(value: Any) -> int | float:
    """What JSON stores: a whole number as int, anything else as the nearest float."""
    return int(value) if value == value.to_integral_value() else float(value)


def _blank(value: Any) -> bool:
    """None, blank text, or a missing number from a grid (NaN, pandas' NA)."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    try:
        return bool(value != value)
    except TypeError:
        return True


def clean_metrics(value: Any) -> dict[str, int | float]:
    """Check a list of (name, number) pairs (or a dict) and return it as stored.

    Rows with neither name nor number are ignored (the empty last row of a grid).
    """
    if value is None:
        return {}
    pairs = list(value.items()) if isinstance(value, dict) else list(value)
    if len(pairs) > KPI_MAX_COUNT:
        raise ValidationError("kpi_metrics", f"has more than {KPI_MAX_COUNT} metrics")
    out: dict[str, int | float] = {}
    keys: dict[str, str] = {}
    for row, pair in enumerate(pairs, start=1):
        try:
            raw_name, raw_value = pair
        except (TypeError, ValueError):
            raise ValidationError("kpi_metrics", f"row {row} is not a name and a number") \
                from None
        blank_value = _blank(raw_value)
        name = "" if _blank(raw_name) else str(raw_name).strip()
        if not name and blank_value:
            continue
        if not name:
            raise ValidationError("kpi_metrics", f"row {row}: the name is missing")
        validate.refuse_controls("kpi_metrics", name)
        if len(name) > KPI_NAME_MAX:
            raise ValidationError("kpi_metrics",
                                  f"row {row}: the name is longer than {KPI_NAME_MAX} characters")
        if blank_value:
            raise ValidationError("kpi_metrics", f"{name!r} has no number")
        if isinstance(raw_value, bool):
            raise ValidationError("kpi_metrics", f"{name!r}: {raw_value!r} is not a number")
        try:
            number = Decimal(str(raw_value).strip())
        except InvalidOperation:
            raise ValidationError("kpi_metrics", f"{name!r}: {raw_value!r} is not a number") \
                from None
        if not number.is_finite():
            raise ValidationError("kpi_metrics", f"{name!r}: {raw_value!r} is not a number")
        if abs(number) >= KPI_LIMIT:
            raise ValidationError("kpi_metrics", f"{name!r} is too large")
        if number != number.quantize(Decimal("0.01")):
            raise ValidationError("kpi_metrics", f"{name!r} has more than two decimals")
        key = metric_key(name)
        if key in keys:
            raise ValidationError("kpi_metrics", f"{name!r} is listed twice")
        keys[key] = name
        out[name] = _number(number)
    return out


def metric_pairs(metrics: dict[str, Any] | None) -> list[tuple[str, Decimal]]:
    """Stored metrics as (name, exact number) pairs in a fixed order (by name).

    PostgreSQL's JSONB does not keep key order, so the order is made here, the same on both
    databases.
    """
    pairs = []
    for name, value in (metrics or {}).items():
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            continue
        pairs.append((str(name), number))
    return sorted(pairs, key=lambda p: (metric_key(p[0]), p[0]))


# --- the person's week -------------------------------------------------------------------

@dataclass(frozen=True)
class StatusForm:
    """What the status form shows for one week."""

    week_start: date
    state: str                       # "draft" or "submitted"
    accomplishments: str
    upcoming_tasks: str
    blockers: str
    kpi_metrics: list[tuple[str, Decimal]]
    saved: bool                      # False: a proposal from the data, nothing stored yet
    submitted_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def submitted(self) -> bool:
        return self.state == "submitted"


@dataclass(frozen=True)
class WeekDraft:
    """The auto-draft: each list holds lines, ready to join as bullet points."""

    stage_advances: list[str] = field(default_factory=list)
    deals_won: list[str] = field(default_factory=list)
    tasks_completed: list[str] = field(default_factory=list)
    new_opportunities: list[str] = field(default_factory=list)
    partner_touches: list[str] = field(default_factory=list)
    tasks_due: list[str] = field(default_factory=list)
    expected_closes: list[str] = field(default_factory=list)
    slipped_deals: list[str] = field(default_factory=list)
    stuck_tasks: list[str] = field(default_factory=list)
    metrics: dict[str, int | float] = field(default_factory=dict)

    @property
    def accomplishments(self) -> list[str]:
        return (self.stage_advances + self.deals_won + self.tasks_completed
                + self.new_opportunities + self.partner_touches)

    @property
    def upcoming(self) -> list[str]:
        return self.tasks_due + self.expected_closes

    @property
    def blockers(self) -> list[str]:
        return self.slipped_deals + self.stuck_tasks


def _bullets(lines: list[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)


def _filer(viewer: Viewer) -> uuid.UUID:
    require(viewer, OWN_WORK, "file a weekly status")
    if viewer.id is None:
        raise Forbidden("A weekly status belongs to a person; the command line has none.")
    return viewer.id


def draft_week(*, session: Session, viewer: Viewer, week_start_date: Any,
               today: date | None = None) -> WeekDraft:
    """Work out the viewer's week from the data: what got done, what is next, what is stuck.

    Done (in the week): stage advances the viewer made, deals assigned to them won, their
    tasks completed, deals assigned to them created, partner touches they logged.
    Next (the following week): their open tasks due, their open deals expected to close.
    Stuck: their open deals whose expected close date has passed, their open tasks rolled
    over FLAG_AFTER times or more.
    """
    user_id = _filer(viewer)
    monday = week_start("week_start_date", week_start_date)
    today = today or local_today()
    next_monday = monday + timedelta(weeks=1)
    start, end = _moments(monday, next_monday)
    rank = {s: i for i, s in enumerate(STAGES)}
    draft = WeekDraft()

    moves = session.execute(
        select(StageHistory.from_stage, StageHistory.to_stage, Opportunity.customer_name,
               Partner.name)
        .join(Opportunity, Opportunity.id == StageHistory.opportunity_id)
        .join(Partner, Partner.id == Opportunity.partner_id)
        .where(StageHistory.changed_by == user_id, StageHistory.changed_at >= start,
               StageHistory.changed_at < end, StageHistory.from_stage.in_(OPEN_STAGES),
               StageHistory.to_stage.in_(OPEN_STAGES))
        .order_by(StageHistory.changed_at, StageHistory.id))
    for from_stage, to_stage, customer, partner in moves:
        if rank[to_stage] > rank[from_stage]:
            draft.stage_advances.append(
                f"Advanced {customer} ({partner}) from {display.stage(from_stage)} "
                f"to {display.stage(to_stage)}")

    won_total = Decimal(0)
    won = session.execute(
        select(Opportunity.customer_name, Partner.name, Opportunity.deal_value)
        .join(Partner, Partner.id == Opportunity.partner_id)
        .where(Opportunity.assigned_user_id == user_id, Opportunity.stage == "closed_won",
               Opportunity.actual_close_date >= monday,
               Opportunity.actual_close_date < next_monday)
        .order_by(Opportunity.actual_close_date, Opportunity.customer_name, Opportunity.id))
    for customer, partner, value in won:
        won_total += value
        draft.deals_won.append(f"Won {customer} ({partner}): {display.money(value)}")

    done = session.scalars(
        select(Task.title).where(Task.user_id == user_id, Task.status == "completed",
                                 Task.completed_date >= monday,
                                 Task.completed_date < next_monday)
        .order_by(Task.completed_date, Task.title, Task.id))
    draft.tasks_completed.extend(f"Completed: {title}" for title in done)

    created = session.execute(
        select(Opportunity.customer_name, Partner.name, Opportunity.deal_value)
        .join(Partner, Partner.id == Opportunity.partner_id)
        .where(Opportunity.assigned_user_id == user_id, Opportunity.created_at >= start,
               Opportunity.created_at < end)
        .order_by(Opportunity.created_at, Opportunity.id))
    draft.new_opportunities.extend(
        f"New opportunity: {customer} ({partner}), {display.money(value)}"
        for customer, partner, value in created)

    touches = session.execute(
        select(PartnerActivity.activity_type, PartnerActivity.occurred_on, Partner.name)
        .join(Partner, Partner.id == PartnerActivity.partner_id)
        .where(PartnerActivity.user_id == user_id, PartnerActivity.occurred_on >= monday,
               PartnerActivity.occurred_on < next_monday)
        .order_by(PartnerActivity.occurred_on, Partner.name, PartnerActivity.id))
    draft.partner_touches.extend(
        f"{_ACTIVITY_WORDS.get(kind, 'Touch')} with {partner} on {display.day(day)}"
        for kind, day, partner in touches)

    following = next_monday + timedelta(weeks=1)
    due = session.execute(
        select(Task.title, Task.due_date)
        .where(Task.user_id == user_id, Task.status.in_(OPEN_STATUSES),
               Task.due_date >= next_monday, Task.due_date < following)
        .order_by(Task.due_date, Task.title, Task.id))
    draft.tasks_due.extend(f"Due {display.day(day)}: {title}" for title, day in due)

    closing = session.execute(
        select(Opportunity.customer_name, Partner.name, Opportunity.deal_value,
               Opportunity.expected_close_date, Opportunity.stage)
        .join(Partner, Partner.id == Opportunity.partner_id)
        .where(Opportunity.assigned_user_id == user_id, Opportunity.stage.in_(OPEN_STAGES),
               Opportunity.expected_close_date >= next_monday,
               Opportunity.expected_close_date < following)
        .order_by(Opportunity.expected_close_date, Opportunity.customer_name, Opportunity.id))
    draft.expected_closes.extend(
        f"Expected to close {display.day(day)}: {customer} ({partner}), {display.money(value)}, "
        f"in {display.stage(stage)}"
        for customer, partner, value, day, stage in closing)

    # As of today for this week, as of the week's end for a past one.
    as_of = min(today, next_monday)
    slipped = session.execute(
        select(Opportunity.customer_name, Partner.name, Opportunity.expected_close_date,
               Opportunity.stage)
        .join(Partner, Partner.id == Opportunity.partner_id)
        .where(Opportunity.assigned_user_id == user_id, Opportunity.stage.in_(OPEN_STAGES),
               Opportunity.expected_close_date < as_of)
        .order_by(Opportunity.expected_close_date, Opportunity.customer_name, Opportunity.id))
    draft.slipped_deals.extend(
        f"Slipped: {customer} ({partner}) was expected to close {display.day(day)}, "
        f"still in {display.stage(stage)}"
        for customer, partner, day, stage in slipped)

    stuck = session.execute(
        select(Task.title, Task.rollover_count)
        .where(Task.user_id == user_id, Task.status.in_(OPEN_STATUSES),
               Task.rollover_count >= FLAG_AFTER)
        .order_by(Task.rollover_count.desc(), Task.title, Task.id))
    draft.stuck_tasks.extend(f"Rolled over {count} times: {title}" for title, count in stuck)

    draft.metrics.update({
        KPI_TOUCHES: len(draft.partner_touches),
        KPI_NEW_DEALS: len(draft.new_opportunities),
        KPI_DEALS_WON: len(draft.deals_won),
        KPI_REVENUE_WON: _number(won_total),
    })
    return draft


def _find(session: Session, user_id: uuid.UUID, monday: date) -> WeeklyStatus | None:
    return session.scalar(select(WeeklyStatus).where(
        WeeklyStatus.user_id == user_id, WeeklyStatus.week_start_date == monday))


def _form(row: WeeklyStatus) -> StatusForm:
    return StatusForm(
        week_start=row.week_start_date, state=row.state,
        accomplishments=row.accomplishments or "", upcoming_tasks=row.upcoming_tasks or "",
        blockers=row.blockers or "", kpi_metrics=metric_pairs(row.kpi_metrics), saved=True,
        submitted_at=row.submitted_at, updated_at=row.updated_at)


def open_week(*, session: Session, viewer: Viewer, week_start_date: Any,
              today: date | None = None) -> StatusForm:
    """The viewer's status for a week: as saved, or drafted from the data when nothing is."""
    user_id = _filer(viewer)
    monday = week_start("week_start_date", week_start_date)
    row = _find(session, user_id, monday)
    if row is not None:
        return _form(row)
    draft = draft_week(session=session, viewer=viewer, week_start_date=monday, today=today)
    return StatusForm(
        week_start=monday, state="draft", accomplishments=_bullets(draft.accomplishments),
        upcoming_tasks=_bullets(draft.upcoming), blockers=_bullets(draft.blockers),
        kpi_metrics=metric_pairs(draft.metrics), saved=False)


def _clean_text(name: str, value: Any) -> str | None:
    # Stored as typed (inner line breaks and indentation matter in a list); only blank
    # becomes None.
    if value is None:
        return None
    text = str(value)
    if not text.strip():
        return None
    if len(text) > TEXT_MAX:
        raise ValidationError(name, f"is longer than {TEXT_MAX} characters")
    return validate.refuse_controls(name, text.rstrip(), multiline=True)


def _write(session: Session, viewer: Viewer, user_id: uuid.UUID, monday: date,
           values: dict[str, Any], *, submit: bool) -> WeeklyStatus:
    row = _find(session, user_id, monday)
    if row is not None and row.state == "submitted":
        stamp = f" on {display.moment(row.submitted_at)}" if row.submitted_at else ""
        raise ValidationError("week_start_date",
                              f"your status for the week of {display.day(monday)} was "
                              "already submitted"
                              f"{stamp}; a submitted status cannot be changed")
    now = utcnow()
    if submit:
        values = {**values, "state": "submitted", "submitted_at": now}
    if row is None:
        row = WeeklyStatus(user_id=user_id, week_start_date=monday,
                           **{"state": "draft", **values})
        session.add(row)
        try:
            session.flush()
        except IntegrityError:
            # Another window (or replica) saved this week between our look-up and this
            # insert; the unique (user, week) refused ours. The caller's unit of work is
            # over: it rolls back, and nothing of this save is written.
            raise ValidationError(
                "week_start_date", f"you already have a status for the week of {monday} "
                                   "(saved from another window a moment ago); reload to "
                                   "see it") from None
        audit.record(session, actor=viewer, action="submit" if submit else "create",
                     entity_type="weekly_status", entity_id=row.id,
                     new={"week_start_date": monday, **values})
        return row
    old, new = audit.changes(row, values)
    if not new:
        return row
    for key, value in new.items():
        setattr(row, key, value)
    row.updated_at = now
    audit.record(session, actor=viewer, action="submit" if submit else "update",
                 entity_type="weekly_status", entity_id=row.id, old=old, new=new)
    session.flush()
    return row


KEEP: Any = object()  # save_draft / submit: leave this part of a saved status as it is


def _values(accomplishments: Any, upcoming_tasks: Any, blockers: Any,
            kpi_metrics: Any) -> dict[str, Any]:
    given = {"accomplishments": accomplishments, "upcoming_tasks": upcoming_tasks,
             "blockers": blockers}
    values = {name: _clean_text(name, value) for name, value in given.items()
              if value is not KEEP}
    if kpi_metrics is not KEEP:
        values["kpi_metrics"] = clean_metrics(kpi_metrics)
    return values


def save_draft(*, session: Session, viewer: Viewer, week_start_date: Any,
               accomplishments: Any = KEEP, upcoming_tasks: Any = KEEP, blockers: Any = KEEP,
               kpi_metrics: Any = KEEP) -> StatusForm:
    """Save the viewer's status for a week as a draft: the parts given, the rest as saved.

    A week not saved before starts empty but for the parts given.
    """
    user_id = _filer(viewer)
    monday = week_start("week_start_date", week_start_date)
    values = _values(accomplishments, upcoming_tasks, blockers, kpi_metrics)
    return _form(_write(session, viewer, user_id, monday, values, submit=False))


def submit(*, session: Session, viewer: Viewer, week_start_date: Any,
           accomplishments: Any = KEEP, upcoming_tasks: Any = KEEP, blockers: Any = KEEP,
           kpi_metrics: Any = KEEP) -> StatusForm:
    """Save the viewer's status for a week and mark it submitted; one per person and week.

    The parts given change; the others are submitted as saved.
    """
    user_id = _filer(viewer)
    monday = week_start("week_start_date", week_start_date)
    values = _values(accomplishments, upcoming_tasks, blockers, kpi_metrics)
    row = _find(session, user_id, monday)
    whole = {name: values[name] if name in values else getattr(row, name, None)
             for name in TEXT_FIELDS}
    if not any(whole.values()):
        raise ValidationError("accomplishments",
                              "is empty, and so are upcoming and blockers: write at least one "
                              "before submitting")
    return _form(_write(session, viewer, user_id, monday, values, submit=True))


@dataclass(frozen=True)
class HistoryRow:
    week_start: date
    state: str
    submitted_at: datetime | None
    updated_at: datetime
    accomplishments: str
    blockers: str


def history(*, session: Session, viewer: Viewer, limit: int = 104) -> list[HistoryRow]:
    """The viewer's own weeks, newest first."""
    user_id = _filer(viewer)
    rows = session.scalars(
        select(WeeklyStatus).where(WeeklyStatus.user_id == user_id)
        .order_by(WeeklyStatus.week_start_date.desc()).limit(limit))
    return [HistoryRow(week_start=r.week_start_date, state=r.state, submitted_at=r.submitted_at,
                       updated_at=r.updated_at, accomplishments=r.accomplishments or "",
                       blockers=r.blockers or "")
            for r in rows]


# --- the team's week ---------------------------------------------------------------------

@dataclass(frozen=True)
class MetricChange:
    name: str
    this_week: Decimal | None
    last_week: Decimal | None

    @property
    def change(self) -> Decimal | None:
        if self.this_week is None or self.last_week is None:
            return None
        return self.this_week - self.last_week


@dataclass(frozen=True)
class MemberWeek:
    user_id: uuid.UUID
    name: str
    role: str
    state: str                      # "submitted", "draft" or "missing"
    submitted_at: datetime | None
    accomplishments: str
    upcoming_tasks: str
    blockers: list[str]             # one entry per line of their blockers, bullets removed
    metrics: list[MetricChange]


@dataclass(frozen=True)
class TeamWeek:
    week_start: date
    members: list[MemberWeek]

    @property
    def submitted(self) -> list[MemberWeek]:
        return [m for m in self.members if m.state == "submitted"]

    @property
    def not_submitted(self) -> list[MemberWeek]:
        return [m for m in self.members if m.state != "submitted"]


_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")


def blocker_lines(text: str | None) -> list[str]:
    """A blockers text as separate items: one per non-empty line, list markers removed."""
    lines = []
    for line in (text or "").splitlines():
        item = _BULLET.sub("", line).strip()
        if item:
            lines.append(item)
    return lines


def _compare(this: list[tuple[str, Decimal]],
             last: list[tuple[str, Decimal]]) -> list[MetricChange]:
    last_by_key = {metric_key(name): value for name, value in last}
    this_keys = set()
    out = []
    for name, value in this:
        key = metric_key(name)
        this_keys.add(key)
        out.append(MetricChange(name, value, last_by_key.get(key)))
    out.extend(MetricChange(name, None, value) for name, value in last
               if metric_key(name) not in this_keys)
    return out


def team_week(*, session: Session, viewer: Viewer, week_start_date: Any) -> TeamWeek:
    """Everyone's status for a week: who submitted, their blockers, their KPIs against last week.

    Only submitted statuses count: a draft is still its author's. The team is every active
    user whose role files a status.
    """
    require(viewer, TEAM_READ, "see the team's status")
    monday = week_start("week_start_date", week_start_date)
    previous = monday - timedelta(weeks=1)
    people = session.scalars(
        select(User).where(User.is_active.is_(True), User.role.in_(FILING_ROLES))
        .order_by(func.lower(User.first_name), func.lower(User.last_name), User.id)).all()
    statuses = session.scalars(select(WeeklyStatus).where(
        WeeklyStatus.week_start_date.in_((monday, previous)),
        WeeklyStatus.user_id.in_([p.id for p in people]))).all()
    by_key = {(s.user_id, s.week_start_date): s for s in statuses}
    members = []
    for person in people:
        row = by_key.get((person.id, monday))
        last = by_key.get((person.id, previous))
        submitted = row is not None and row.state == "submitted"
        last_metrics = metric_pairs(last.kpi_metrics) \
            if last is not None and last.state == "submitted" else []
        members.append(MemberWeek(
            user_id=person.id, name=person.full_name, role=person.role,
            state="submitted" if submitted else ("draft" if row is not None else "missing"),
            submitted_at=row.submitted_at if submitted else None,
            accomplishments=(row.accomplishments or "") if submitted else "",
            upcoming_tasks=(row.upcoming_tasks or "") if submitted else "",
            blockers=blocker_lines(row.blockers) if submitted else [],
            metrics=_compare(metric_pairs(row.kpi_metrics) if submitted else [], last_metrics)
            if submitted else [],
        ))
    return TeamWeek(week_start=monday, members=members)
