"""Breakdowns behind the charts: revenue by quarter, pipeline by domain, partners, people.

Same rules as isv.analytics.kpis (scope, filters, exact money, a fixed number of statements);
each returns plain frozen rows, safe to cache and to hand to pandas.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select, type_coerce
from sqlalchemy.orm import Session

from isv.auth import Viewer
from isv.models import OPEN_STAGES, Opportunity, Partner, QuarterlyGoal, User
from isv.services import goals, scope
from isv.services.settings import local_today
from isv.types import Money

from .kpis import (
    ZERO,
    Filters,
    attainment,
    count_where,
    deal_conditions,
    goals_in,
    money_sum,
    target_users,
    won_in,
)
from .periods import Period

PAST, CURRENT, COMING = "past", "current", "coming"


@dataclass(frozen=True)
class QuarterRevenue:
    """Won revenue of a quarter and, from as_of on, its weighted forecast."""

    period: Period
    status: str            # past, current or coming, relative to as_of
    won: Decimal
    won_count: int
    forecast: Decimal      # Σ value × probability / 100 of open deals expected from as_of on
    forecast_count: int


def revenue_by_quarter(*, session: Session, viewer: Viewer, quarters: Sequence[Period],
                       as_of: date, filters: Filters | None = None) -> list[QuarterRevenue]:
    """Won revenue per quarter, and the weighted forecast of open deals due from as_of on.

    Open deals whose expected close date is already past are slipped: they count in no
    quarter's forecast.
    """
    o = Opportunity
    where = deal_conditions(viewer, filters or Filters())
    if not quarters:
        return []
    first, last = quarters[0].start, quarters[-1].end
    is_won = o.stage == "closed_won"
    day = case((is_won, o.actual_close_date), else_=o.expected_close_date)
    bucket = case(*((day.between(q.start, q.end), k) for k, q in enumerate(quarters)))
    relevant = or_(
        and_(is_won, o.actual_close_date.between(first, last)),
        and_(o.stage.in_(OPEN_STAGES), o.expected_close_date.between(max(first, as_of), last)),
    )
    stmt = (select(bucket, is_won, o.probability, func.count(),
                   type_coerce(func.sum(o.deal_value), Money))
            .where(*where, relevant)
            .group_by(bucket, is_won, o.probability))
    won = [ZERO] * len(quarters)
    won_n = [0] * len(quarters)
    forecast = [Decimal(0)] * len(quarters)
    forecast_n = [0] * len(quarters)
    for k, was_won, probability, n, value in session.execute(stmt):
        if was_won:
            won[k] += value
            won_n[k] += n
        else:
            forecast[k] += value * probability / 100
            forecast_n[k] += n
    return [
        QuarterRevenue(period=q, status=PAST if q.end < as_of else COMING if q.start > as_of
                       else CURRENT, won=won[k], won_count=won_n[k], forecast=forecast[k],
                       forecast_count=forecast_n[k])
        for k, q in enumerate(quarters)
    ]


@dataclass(frozen=True)
class DomainStage:
    """Open pipeline of one partner domain in one stage."""

    domain: str
    stage: str
    count: int
    value: Decimal
    weighted: Decimal


def pipeline_by_domain(*, session: Session, viewer: Viewer,
                       filters: Filters | None = None) -> list[DomainStage]:
    """Open pipeline (current state) per partner domain and stage."""
    o = Opportunity
    stmt = (select(Partner.domain, o.stage, o.probability, func.count(),
                   type_coerce(func.sum(o.deal_value), Money))
            .join(Partner, Partner.id == o.partner_id)
            .where(*deal_conditions(viewer, filters or Filters()), o.stage.in_(OPEN_STAGES))
            .group_by(Partner.domain, o.stage, o.probability))
    cells: dict[tuple[str, str], list] = {}
    for domain, stage, probability, n, value in session.execute(stmt):
        cell = cells.setdefault((domain, stage), [0, ZERO, Decimal(0)])
        cell[0] += n
        cell[1] += value
        cell[2] += value * probability / 100
    return [DomainStage(domain, stage, n, value, weighted)
            for (domain, stage), (n, value, weighted) in sorted(cells.items())]


@dataclass(frozen=True)
class PartnerResult:
    """A partner's won revenue in the period and its open pipeline now."""

    partner_id: uuid.UUID
    name: str
    domain: str
    won: Decimal
    won_count: int
    pipeline: Decimal
    open_count: int


def top_partners(*, session: Session, viewer: Viewer, period: Period,
                 filters: Filters | None = None, limit: int = 10) -> list[PartnerResult]:
    """The partners with the most revenue won in the period (then the largest pipeline)."""
    o = Opportunity
    won = won_in(period)
    is_open = o.stage.in_(OPEN_STAGES)
    won_sum = func.coalesce(money_sum(won), 0)
    open_sum = func.coalesce(money_sum(is_open), 0)
    stmt = (select(Partner.id, Partner.name, Partner.domain, type_coerce(won_sum, Money),
                   count_where(won), type_coerce(open_sum, Money), count_where(is_open))
            .join(Partner, Partner.id == o.partner_id)
            .where(*deal_conditions(viewer, filters or Filters()), or_(won, is_open))
            .group_by(Partner.id, Partner.name, Partner.domain)
            .order_by(won_sum.desc(), open_sum.desc(), func.lower(Partner.name))
            .limit(limit))
    return [PartnerResult(*row) for row in session.execute(stmt)]


@dataclass(frozen=True)
class SlippedDeal:
    """An open deal whose expected close date is before as_of."""

    id: uuid.UUID
    customer_name: str
    partner_name: str
    stage: str
    deal_value: Decimal
    expected_close_date: date
    days_late: int
    owner_name: str | None


def slipped_deals(*, session: Session, viewer: Viewer, as_of: date,
                  filters: Filters | None = None, limit: int = 50) -> list[SlippedDeal]:
    """The largest slipped deals (open, expected to close before as_of), biggest first."""
    o = Opportunity
    stmt = (select(o.id, o.customer_name, Partner.name, o.stage, o.deal_value,
                   o.expected_close_date, User.first_name, User.last_name)
            .join(Partner, Partner.id == o.partner_id)
            .outerjoin(User, User.id == o.assigned_user_id)
            .where(*deal_conditions(viewer, filters or Filters()), o.stage.in_(OPEN_STAGES),
                   o.expected_close_date < as_of)
            .order_by(o.deal_value.desc(), o.expected_close_date, o.id)
            .limit(limit))
    return [SlippedDeal(deal_id, customer, partner, stage, value, expected,
                        (as_of - expected).days, f"{first} {last}" if first else None)
            for deal_id, customer, partner, stage, value, expected, first, last
            in session.execute(stmt)]


@dataclass(frozen=True)
class PersonResult:
    """One person's numbers: open pipeline now, won in the period, their revenue target.

    `target` is None when the viewer may not see that person's goals (a partnership manager
    sees only their own); `user_id` None is the row of deals assigned to nobody.
    """

    user_id: uuid.UUID | None
    name: str
    email: str | None
    role: str | None
    pipeline: Decimal
    open_count: int
    won: Decimal
    won_count: int
    target: Decimal | None

    @property
    def attainment(self) -> Decimal | None:
        return attainment(self.won, self.target)


def team_performance(*, session: Session, viewer: Viewer, period: Period,
                     filters: Filters | None = None) -> list[PersonResult]:
    """Per person: pipeline, won in the period and revenue target (KPIS.md's target rules)."""
    filters = filters or Filters()
    o = Opportunity
    won = won_in(period)
    is_open = o.stage.in_(OPEN_STAGES)
    deals = (select(o.assigned_user_id, User.first_name, User.last_name, User.email, User.role,
                    money_sum(is_open), count_where(is_open), money_sum(won), count_where(won))
             .outerjoin(User, User.id == o.assigned_user_id)
             .where(*deal_conditions(viewer, filters), or_(won, is_open))
             .group_by(o.assigned_user_id, User.first_name, User.last_name, User.email,
                       User.role))
    goals = (select(User.id, User.first_name, User.last_name, User.email, User.role,
                    type_coerce(func.sum(QuarterlyGoal.revenue_target), Money))
             .join(User, User.id == QuarterlyGoal.user_id)
             .where(goals_in(period), target_users(viewer, filters))
             .group_by(User.id, User.first_name, User.last_name, User.email, User.role))
    people: dict[uuid.UUID | None, dict] = {}
    for user_id, first, last, email, role, target in session.execute(goals):
        people[user_id] = dict(user_id=user_id, name=f"{first} {last}", email=email, role=role,
                               pipeline=ZERO, open_count=0, won=ZERO, won_count=0,
                               target=target or ZERO)
    for user_id, first, last, email, role, pipe, n_open, won_value, n_won in session.execute(
            deals):
        person = people.setdefault(user_id, dict(
            user_id=user_id, name=f"{first} {last}" if user_id else "Unassigned", email=email,
            role=role, target=ZERO if _target_counts(viewer, filters, user_id) else None))
        person.update(pipeline=pipe or ZERO, open_count=n_open, won=won_value or ZERO,
                      won_count=n_won)
    rows = [PersonResult(**person) for person in people.values()]
    rows.sort(key=lambda p: (p.user_id is None, -p.won, -p.pipeline, p.name.lower()))
    return rows


def _target_counts(viewer: Viewer, filters: Filters, user_id: uuid.UUID | None) -> bool:
    """Whether this person's goals are among those target_users() counts."""
    if user_id is None:
        return False
    if filters.owner_ids:
        return user_id in filters.owner_ids
    return viewer.sees_everything or user_id == viewer.id


@dataclass(frozen=True)
class FilterOptions:
    """What the viewer can narrow by: partners (id, name, domain) and owners (id, name, email)."""

    partners: tuple[tuple[uuid.UUID, str, str], ...]
    owners: tuple[tuple[uuid.UUID, str, str], ...]


def filter_options(*, session: Session, viewer: Viewer) -> FilterOptions:
    """The partners and deal owners the viewer may filter by."""
    o = Opportunity
    visible_deals = select(o.partner_id).where(scope.opportunities_visible(viewer))
    partners = session.execute(
        select(Partner.id, Partner.name, Partner.domain)
        .where(or_(scope.partners_visible(viewer), Partner.id.in_(visible_deals)))
        .order_by(func.lower(Partner.name))).all()
    assigned = select(o.assigned_user_id).where(scope.opportunities_visible(viewer))
    people = [User.id.in_(assigned)]
    if viewer.sees_everything:
        people.append(User.id.in_(select(QuarterlyGoal.user_id)))
    elif viewer.id is not None:
        people.append(User.id == viewer.id)
    owners = session.execute(
        select(User.id, User.first_name, User.last_name, User.email)
        .where(or_(*people))
        .order_by(func.lower(User.first_name), func.lower(User.last_name))).all()
    return FilterOptions(
        partners=tuple((pid, name, domain) for pid, name, domain in partners),
        owners=tuple((uid, f"{first} {last}", email) for uid, first, last, email in owners))


# --- closing a revenue gap -----------------------------------------------------------------

MAX_GAP_CLOSERS = 10


@dataclass(frozen=True)
class ClosingDeal:
    """An open deal that could close a revenue shortfall."""

    id: uuid.UUID
    customer_name: str
    partner_name: str
    stage: str
    probability: Decimal
    deal_value: Decimal
    expected_close_date: date
    cumulative_value: Decimal   # this deal and every likelier one above it
    slipped: bool               # its expected close date has passed


def gap_closers(*, session: Session, where: Sequence[ColumnElement[bool]], period: Period,
                today: date, shortfall: Decimal,
                limit: int = MAX_GAP_CLOSERS) -> list[ClosingDeal]:
    """The open deals most likely to close a shortfall in the period, likeliest first.

    The one rule behind a person's goal (Goals page) and the team's target (dashboard, exec
    pack): open deals among `where` expected to close by the period's end (in it, for a
    period not yet started), by probability (highest first), then expected close date, then
    value (largest first); the list stops at the first deal whose running total covers the
    shortfall, or at `limit`. Empty when there is no shortfall or the period is over.
    """
    if shortfall <= 0 or period.end < today:
        return []
    o = Opportunity
    stmt = (select(o.id, o.customer_name, Partner.name, o.stage, o.probability, o.deal_value,
                   o.expected_close_date)
            .join(Partner, Partner.id == o.partner_id)
            .where(*where, o.stage.in_(OPEN_STAGES), o.expected_close_date <= period.end)
            .order_by(o.probability.desc(), o.expected_close_date, o.deal_value.desc(), o.id)
            .limit(limit))
    if period.start > today:
        stmt = stmt.where(o.expected_close_date >= period.start)
    deals: list[ClosingDeal] = []
    total = Decimal(0)
    for deal_id, customer, partner, stage, probability, value, expected in session.execute(
            stmt):
        total += value
        deals.append(ClosingDeal(id=deal_id, customer_name=customer, partner_name=partner,
                                 stage=stage, probability=probability, deal_value=value,
                                 expected_close_date=expected, cumulative_value=total,
                                 slipped=expected < today))
        if total >= shortfall:
            break
    return deals


def closing_deals(*, session: Session, viewer: Viewer, goal_id: Any,
                  today: date | None = None,
                  limit: int = MAX_GAP_CLOSERS) -> list[ClosingDeal]:
    """For a revenue goal short of its target, the open deals most likely to close the gap.

    The goal owner's open deals that the viewer may see, by the one gap-closer rule
    (gap_closers, above). Empty when the goal is not about revenue.
    """
    today = today or local_today()
    view = goals.get_goal(session=session, viewer=viewer, goal_id=goal_id, today=today)
    if view.goal_type != "revenue":
        return []
    return gap_closers(session=session, period=view.period, today=today,
                       shortfall=view.shortfall, limit=limit,
                       where=[Opportunity.assigned_user_id == view.user_id,
                              scope.opportunities_visible(viewer)])
