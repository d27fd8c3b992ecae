"""Quarterly goals: targets people set, progress the data decides, and the pace to the target."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from isv.auth import OWN_WORK, TEAM_READ, TEAM_WRITE, Viewer, require
from isv.errors import Forbidden, NotFound, ValidationError
from isv.models import GOAL_TYPES, Opportunity, Partner, QuarterlyGoal, User
from isv.rules.deals import won_in
from isv.rules.goals import attainment
from isv.rules.periods import Period, quarter_of, quarter_range
from isv.services import audit, validate
from isv.services.settings import local_today, local_zone
from isv.services.status import FILING_ROLES
from isv.services.validate import NOTES_MAX, parse_id

# Who has goals of their own (DESIGN.md: "own status, tasks, goals").
GOAL_ROLES = FILING_ROLES
COUNT_TYPES = ("opportunities", "partnerships")
_TYPE_ORDER = case({t: i for i, t in enumerate(GOAL_TYPES)}, value=QuarterlyGoal.goal_type)


@dataclass(frozen=True)
class GoalView:
    """A goal with its progress worked out from the data as of `today`."""

    id: uuid.UUID
    user_id: uuid.UUID
    user_name: str
    year: int
    quarter: int
    goal_type: str
    target: Decimal
    progress: Decimal
    notes: str | None
    period: Period
    today: date

    @property
    def elapsed_days(self) -> int:
        if self.today < self.period.start:
            return 0
        if self.today > self.period.end:
            return self.period.days
        return (self.today - self.period.start).days + 1

    @property
    def pace(self) -> Decimal:
        """Where progress should be today: target × elapsed days / days in the quarter."""
        return self.target * self.elapsed_days / self.period.days

    @property
    def ahead_of_pace(self) -> bool:
        return self.progress >= self.pace

    @property
    def shortfall(self) -> Decimal:
        """What is still missing to the target (0 once it is reached)."""
        return max(self.target - self.progress, Decimal(0))

    @property
    def share(self) -> Decimal | None:
        """Progress as a fraction of the target; None for a zero target (for revenue, KPIS.md's
        goal attainment, the same formula as every analytics page)."""
        return attainment(self.progress, self.target)

    @property
    def is_count(self) -> bool:
        return self.goal_type in COUNT_TYPES


# --- periods and progress ------------------------------------------------------------------

def _year(value: Any) -> int:
    try:
        year = int(str(value).strip())
    except (TypeError, ValueError):
        raise ValidationError("year", f"{value!r} is not a year like 2026") from None
    if not validate.MIN_DATE.year <= year <= validate.MAX_DATE.year:
        raise ValidationError("year", f"{year} is outside "
                                      f"{validate.MIN_DATE.year}–{validate.MAX_DATE.year}")
    return year


def _quarter(value: Any) -> int:
    raw = str(value).strip().upper().removeprefix("Q")
    try:
        quarter = int(raw)
    except ValueError:
        raise ValidationError("quarter", f"{value!r} is not a quarter: 1, 2, 3 or 4") from None
    if not 1 <= quarter <= 4:
        raise ValidationError("quarter", f"{quarter} is not a quarter: 1, 2, 3 or 4")
    return quarter


def period_of(year: Any, quarter: Any) -> Period:
    """The dates of a (fiscal) quarter, checked: the year 2000–2100, the quarter 1–4."""
    return quarter_range(_year(year), _quarter(quarter))


def current_quarter(today: date | None = None) -> tuple[int, int]:
    """The (year, quarter) holding today."""
    return quarter_of(today or local_today())


def _moments(period: Period) -> tuple[datetime, datetime]:
    """The quarter as a half-open range of timestamps, local midnight to local midnight."""
    zone = local_zone()
    start = datetime.combine(period.start, time.min, tzinfo=zone)
    end = datetime.combine(period.end + timedelta(days=1), time.min, tzinfo=zone)
    return start, end


def progress_by_user(session: Session, goal_type: str, period: Period,
                     user_ids: list[uuid.UUID]) -> dict[uuid.UUID, Decimal]:
    """Progress from the data for each user: never typed, always worked out.

    revenue: Σ deal_value of deals assigned to the user, won with an actual close date in the
    quarter; opportunities: deals created in the quarter and assigned to the user;
    partnerships: partners created in the quarter that the user owns.
    """
    if not user_ids:
        return {}
    start, end = _moments(period)
    if goal_type == "revenue":
        stmt = (select(Opportunity.assigned_user_id,
                       func.coalesce(func.sum(Opportunity.deal_value), 0))
                .where(Opportunity.assigned_user_id.in_(user_ids), won_in(period))
                .group_by(Opportunity.assigned_user_id))
    elif goal_type == "opportunities":
        stmt = (select(Opportunity.assigned_user_id, func.count())
                .where(Opportunity.assigned_user_id.in_(user_ids),
                       Opportunity.created_at >= start, Opportunity.created_at < end)
                .group_by(Opportunity.assigned_user_id))
    elif goal_type == "partnerships":
        stmt = (select(Partner.owner_id, func.count())
                .where(Partner.owner_id.in_(user_ids), Partner.created_at >= start,
                       Partner.created_at < end)
                .group_by(Partner.owner_id))
    else:
        raise ValidationError("goal_type", f"{goal_type!r} is not one of {', '.join(GOAL_TYPES)}")
    found = {row[0]: Decimal(row[1]).quantize(Decimal("0.01")) for row in session.execute(stmt)}
    return {uid: found.get(uid, Decimal("0.00")) for uid in user_ids}


def _views(session: Session, goals: list[QuarterlyGoal], today: date) -> list[GoalView]:
    names = {}
    user_ids = list({g.user_id for g in goals})
    if user_ids:
        names = {u.id: u.full_name for u in
                 session.scalars(select(User).where(User.id.in_(user_ids)))}
    progress: dict[tuple[str, int, int], dict[uuid.UUID, Decimal]] = {}
    periods: dict[tuple[int, int], Period] = {}
    for g in goals:
        periods.setdefault((g.year, g.quarter), quarter_range(g.year, g.quarter))
        key = (g.goal_type, g.year, g.quarter)
        if key not in progress:
            users = [x.user_id for x in goals
                     if (x.goal_type, x.year, x.quarter) == key]
            progress[key] = progress_by_user(session, g.goal_type, periods[(g.year, g.quarter)],
                                             list(dict.fromkeys(users)))
    return [
        GoalView(id=g.id, user_id=g.user_id, user_name=names.get(g.user_id, "?"), year=g.year,
                 quarter=g.quarter, goal_type=g.goal_type, target=g.revenue_target,
                 progress=progress[(g.goal_type, g.year, g.quarter)][g.user_id],
                 notes=g.notes, period=periods[(g.year, g.quarter)], today=today)
        for g in goals
    ]


# --- reads ---------------------------------------------------------------------------------

def _goals(session: Session, period: Period, user_id: uuid.UUID | None) -> list[QuarterlyGoal]:
    stmt = (select(QuarterlyGoal)
            .join(User, User.id == QuarterlyGoal.user_id)
            .where(QuarterlyGoal.year == period.year, QuarterlyGoal.quarter == period.quarter)
            .order_by(func.lower(User.first_name), func.lower(User.last_name), User.id,
                      _TYPE_ORDER))
    if user_id is not None:
        stmt = stmt.where(QuarterlyGoal.user_id == user_id)
    return list(session.scalars(stmt))


def list_goals(*, session: Session, viewer: Viewer, year: Any, quarter: Any,
               user_id: Any = None, today: date | None = None) -> list[GoalView]:
    """One person's goals for a quarter (the viewer's own unless told), progress from the data."""
    period = period_of(year, quarter)
    if user_id is None or parse_id("user_id", user_id) == viewer.id:
        require(viewer, OWN_WORK, "have goals")
        target = viewer.id
    else:
        require(viewer, TEAM_READ, "see other people's goals")
        target = parse_id("user_id", user_id)
    if target is None:
        raise ValidationError("user_id", "is required")
    return _views(session, _goals(session, period, target), today or local_today())


def team_goals(*, session: Session, viewer: Viewer, year: Any, quarter: Any,
               today: date | None = None) -> list[GoalView]:
    """Everyone's goals for a quarter, by person, progress from the data."""
    require(viewer, TEAM_READ, "see the team's goals")
    period = period_of(year, quarter)
    return _views(session, _goals(session, period, None), today or local_today())


def _readable(session: Session, viewer: Viewer, goal_id: Any) -> QuarterlyGoal:
    goal = session.get(QuarterlyGoal, parse_id("goal_id", goal_id))
    if goal is None or not ((goal.user_id == viewer.id and viewer.can(OWN_WORK))
                            or viewer.can(TEAM_READ)):
        raise NotFound("No such goal.")
    return goal


def get_goal(*, session: Session, viewer: Viewer, goal_id: Any,
             today: date | None = None) -> GoalView:
    """One goal the viewer may read, with its progress worked out now."""
    goal = _readable(session, viewer, goal_id)
    return _views(session, [goal], today or local_today())[0]


# --- writes --------------------------------------------------------------------------------

def _goal_owner(session: Session, viewer: Viewer, user_id: Any) -> User:
    """Whose goal this is, checking the viewer may set it: their own, or anyone's for the vp."""
    if user_id is None or (isinstance(user_id, str) and not user_id.strip()):
        require(viewer, OWN_WORK, "set goals")
        if viewer.id is None:
            raise ValidationError("user_id", "is required")
        target = viewer.id
    else:
        target = parse_id("user_id", user_id)
        if target == viewer.id:
            require(viewer, OWN_WORK, "set goals")
        elif not may_set_goals_of(viewer, target):
            raise Forbidden("You may only set your own goals.")
    user = session.get(User, target)
    if user is None:
        raise ValidationError("user_id", "no such user")
    check_goal_person(user)
    return user


def may_set_goals_of(viewer: Viewer, user_id: uuid.UUID) -> bool:
    """Whether the viewer may set this person's goals: their own, or anyone's for the vp."""
    return user_id == viewer.id or viewer.can(TEAM_WRITE)


def check_goal_person(user: User) -> None:
    """Refuse a person who cannot have goals: deactivated, or an admin (DESIGN.md)."""
    if not user.is_active:
        raise ValidationError("user_id", f"{user.email} is deactivated")
    if user.role not in GOAL_ROLES:
        raise ValidationError("user_id", f"{user.email} is an admin; admins have no goals")


def check_target(goal_type: str, amount: Decimal) -> Decimal:
    """Refuse a target that counts things (deals, partners) but is not a whole number."""
    if goal_type in COUNT_TYPES and amount != amount.to_integral_value():
        raise ValidationError("target", f"must be a whole number of {goal_type}")
    return amount


def _target(goal_type: str, value: Any) -> Decimal:
    return check_target(goal_type, validate.money("target", value, required=True))


KEEP: Any = object()  # set_goal: leave this field of an existing goal as it is


def set_goal(*, session: Session, viewer: Viewer, year: Any, quarter: Any, goal_type: Any,
             target: Any = KEEP, notes: Any = KEEP, user_id: Any = None,
             today: date | None = None) -> GoalView:
    """Set (add or change) a person's goal of one type for a quarter; progress comes from data.

    A change writes only the fields given (`target`, `notes`); a new goal needs a target.
    The stored progress of an existing goal is left to `refresh_progress`, so the audit
    entry of a change names what the person changed and nothing else.
    """
    owner = _goal_owner(session, viewer, user_id)
    period = period_of(year, quarter)
    kind = validate.choice("goal_type", goal_type, GOAL_TYPES)
    values: dict[str, Any] = {}
    if target is not KEEP:
        values["revenue_target"] = _target(kind, target)
    if notes is not KEEP:
        values["notes"] = validate.text("notes", notes, max_len=NOTES_MAX,
                                        multiline=True)
    goal = session.scalar(select(QuarterlyGoal).where(
        QuarterlyGoal.user_id == owner.id, QuarterlyGoal.year == period.year,
        QuarterlyGoal.quarter == period.quarter, QuarterlyGoal.goal_type == kind))
    if goal is None:
        if "revenue_target" not in values:
            _target(kind, None)  # refused: a new goal needs a target
        values.setdefault("notes", None)
        values["current_progress"] = progress_by_user(session, kind, period,
                                                      [owner.id])[owner.id]
        goal = QuarterlyGoal(user_id=owner.id, year=period.year, quarter=period.quarter,
                             goal_type=kind, **values)
        session.add(goal)
        try:
            session.flush()
        except IntegrityError:
            # Set from another window between our look-up and this insert; the caller
            # rolls back, nothing is written.
            raise ValidationError(
                "goal_type", f"{owner.full_name} already has a {kind} goal for "
                             f"{period.title} (set a moment ago elsewhere); reload to change "
                             "it") from None
        audit.record(session, actor=viewer, action="create", entity_type="goal",
                     entity_id=goal.id, new={"user_id": owner.id, "year": period.year,
                                             "quarter": period.quarter, "goal_type": kind,
                                             **values})
    else:
        old, new = audit.changes(goal, values)
        if new:
            for key, value in new.items():
                setattr(goal, key, value)
            audit.record(session, actor=viewer, action="update", entity_type="goal",
                         entity_id=goal.id, old=old, new=new)
            session.flush()
    return _views(session, [goal], today or local_today())[0]


def delete_goal(*, session: Session, viewer: Viewer, goal_id: Any) -> uuid.UUID:
    """Remove a goal (the viewer's own, or anyone's for the vp) and return its id."""
    goal = _readable(session, viewer, goal_id)
    if goal.user_id != viewer.id and not viewer.can(TEAM_WRITE):
        raise Forbidden("You may only remove your own goals.")
    audit.record(session, actor=viewer, action="delete", entity_type="goal", entity_id=goal.id,
                 old={"user_id": goal.user_id, "year": goal.year, "quarter": goal.quarter,
                      "goal_type": goal.goal_type, "revenue_target": goal.revenue_target})
    session.delete(goal)
    session.flush()
    return goal.id


def refresh_progress(*, session: Session, viewer: Viewer, year: Any = None,
                     quarter: Any = None, user_id: Any = None,
                     today: date | None = None) -> int:
    """Store each goal's progress as the data has it now; return how many changed.

    Without a quarter, the current one. The vp and the system refresh everyone's goals (or
    one person's, given `user_id`); anyone else only their own.
    """
    if (year is None) != (quarter is None):
        raise ValidationError("quarter" if quarter is None else "year",
                              "is required with the other")
    if year is None:
        year, quarter = current_quarter(today)
    period = period_of(year, quarter)
    if viewer.can(TEAM_WRITE):
        target = None if user_id is None else parse_id("user_id", user_id)
    else:
        require(viewer, OWN_WORK, "refresh goals")
        target = viewer.id
        if user_id is not None and parse_id("user_id", user_id) != viewer.id:
            raise Forbidden("You may only refresh your own goals.")
    stmt = select(QuarterlyGoal).where(QuarterlyGoal.year == period.year,
                                       QuarterlyGoal.quarter == period.quarter)
    if target is not None:
        stmt = stmt.where(QuarterlyGoal.user_id == target)
    goals = list(session.scalars(stmt))
    changed = 0
    for view, goal in zip(_views(session, goals, today or local_today()), goals, strict=True):
        if goal.current_progress != view.progress:
            audit.record(session, actor=viewer, action="refresh_progress", entity_type="goal",
                         entity_id=goal.id, old={"current_progress": goal.current_progress},
                         new={"current_progress": view.progress})
            goal.current_progress = view.progress
            changed += 1
    session.flush()
    return changed


def goal_people(*, session: Session, viewer: Viewer) -> list[tuple[uuid.UUID, str]]:
    """Whose goals the viewer may set: everyone with goals for the vp, else themselves."""
    require(viewer, OWN_WORK, "set goals")
    stmt = (select(User.id, User.first_name, User.last_name)
            .where(User.is_active.is_(True), User.role.in_(GOAL_ROLES))
            .order_by(func.lower(User.first_name), func.lower(User.last_name), User.id))
    if not viewer.can(TEAM_WRITE):
        stmt = stmt.where(User.id == viewer.id)
    return [(r[0], f"{r[1]} {r[2]}") for r in session.execute(stmt)]

