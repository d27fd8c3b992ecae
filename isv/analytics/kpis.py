"""The KPIs of spec/KPIS.md: one implementation for every page, chart, export and the CLI.

Everything is aggregated in the database with a fixed number of statements, whatever the
number of deals: conditional sums grouped by stage and probability, the funnel from stage
history, goals by quarter. Money sums are exact on both databases (see isv.types.Money);
what SQL cannot sum exactly without a decimal type is finished in Python Decimal:

- weighted pipeline: Σ deal_value per (stage, probability) in SQL, then × probability / 100;
- commission: deals with their own structure are summed per percentage in SQL; the rest need
  the applicable-structure rule, which lives in isv.services.commissions and is applied here
  to the won deals of the period (one row each; bounded by the deals won in one period).

Nothing is rounded here: rounding to cents (money) and 4 places (rates) happens only in
`to_dict` / `to_json` and on screen.

One file, over 500 lines, on purpose: the KPIs share their conditions (scope, period,
won_in) and statements, and one implementation of spec/KPIS.md is the point of the module.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Integer,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.orm import Session

from isv.auth import Viewer
from isv.models import (
    DOMAINS,
    OPEN_STAGES,
    STAGES,
    CommissionStructure,
    Opportunity,
    Partner,
    QuarterlyGoal,
    StageHistory,
    User,
)
from isv.rules.deals import FUNNEL_STAGES, OPEN_INDEX, created_between, won_in
from isv.rules.goals import attainment
from isv.rules.money import money_text
from isv.services import scope, validate
from isv.services.commissions import applicable_structure, structures_by_partner
from isv.services.settings import local_today, local_zone
from isv.services.validate import parse_id
from isv.types import Money

from .periods import Period, quarters_within

ZERO = Decimal("0.00")
RATE_PLACES = Decimal("0.0001")
CONVERSION_KEYS = tuple(f"{a}->{b}" for a, b in zip(FUNNEL_STAGES, FUNNEL_STAGES[1:],
                                                     strict=False))
# Every key of the machine-readable form, in the order of spec/KPIS.md.
KPI_KEYS = (
    "open_count", "pipeline_total", "pipeline_weighted", "slipped_count", "slipped_value",
    "stage_count", "stage_value", "won_count", "won_revenue", "lost_count", "lost_value",
    "win_rate", "avg_won_deal", "avg_cycle_days", "commission_earned", "revenue_target",
    "goal_attainment", "period_pipeline", "coverage", "conversion",
)
_MONEY_KEYS = frozenset({"pipeline_total", "pipeline_weighted", "slipped_value", "won_revenue",
                         "lost_value", "avg_won_deal", "commission_earned", "revenue_target",
                         "period_pipeline"})
_NUMBER_KEYS = frozenset({"win_rate", "avg_cycle_days", "goal_attainment", "coverage"})


# --- inputs ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Filters:
    """What the viewer narrowed the scope to; empty means no narrowing.

    owner means the deal's assigned user. Hashable, so it can be part of a cache key.
    """

    partner_ids: tuple[uuid.UUID, ...] = ()
    domains: tuple[str, ...] = ()
    owner_ids: tuple[uuid.UUID, ...] = ()

    @classmethod
    def of(cls, *, partner_ids: Iterable[Any] = (), domains: Iterable[str] = (),
           owner_ids: Iterable[Any] = ()) -> Filters:
        """Check and normalise filter values: ids parsed, domains known, order fixed."""
        for domain in domains:
            validate.choice("domain", domain, DOMAINS)
        return cls(
            partner_ids=tuple(sorted({parse_id("partner", p) for p in partner_ids}, key=str)),
            domains=tuple(sorted(set(domains))),
            owner_ids=tuple(sorted({parse_id("owner", o) for o in owner_ids}, key=str)),
        )

    @property
    def is_empty(self) -> bool:
        return not (self.partner_ids or self.domains or self.owner_ids)

    def key(self) -> tuple[tuple[str, ...], ...]:
        return (tuple(map(str, self.partner_ids)), self.domains,
                tuple(map(str, self.owner_ids)))


def scope_key(viewer: Viewer) -> str:
    """Viewers with the same key see the same numbers (the basis of shared caching)."""
    return "all" if viewer.sees_everything else f"own:{viewer.id}"


def deal_conditions(viewer: Viewer, filters: Filters) -> list[ColumnElement[bool]]:
    """WHERE conditions on Opportunity: the viewer's scope narrowed by the filters."""
    where: list[ColumnElement[bool]] = [scope.opportunities_visible(viewer)]
    if filters.partner_ids:
        where.append(Opportunity.partner_id.in_(filters.partner_ids))
    if filters.domains:
        where.append(Opportunity.partner_id.in_(
            select(Partner.id).where(Partner.domain.in_(filters.domains))))
    if filters.owner_ids:
        where.append(Opportunity.assigned_user_id.in_(filters.owner_ids))
    return where


def goal_people(viewer: Viewer, filters: Filters) -> tuple[uuid.UUID, ...] | None:
    """The people whose revenue goals make `revenue_target` when they are named (the owner
    filter, or a partnership manager's own target); None for the team's goals."""
    if filters.owner_ids:
        return tuple(filters.owner_ids)
    if not viewer.sees_everything:
        return (viewer.id,)
    return None


def target_users(viewer: Viewer, filters: Filters) -> ColumnElement[bool]:
    """Whose revenue goals count (KPIS.md, revenue_target): the owners, the PM, or everyone."""
    people = goal_people(viewer, filters)
    return true() if people is None else QuarterlyGoal.user_id.in_(people)


def goal_deals(viewer: Viewer, filters: Filters) -> ColumnElement[bool]:
    """The deals whose won revenue counts against `revenue_target` (KPIS.md, goal_won): those
    assigned to the people whose targets are counted; every deal for the team's goals."""
    people = goal_people(viewer, filters)
    return true() if people is None else Opportunity.assigned_user_id.in_(people)


def goals_in(period: Period) -> ColumnElement[bool]:
    """Revenue goals whose (fiscal) quarter lies inside the period."""
    quarters = quarters_within(period)
    if not quarters:
        return false()
    return and_(QuarterlyGoal.goal_type == "revenue",
                or_(*(and_(QuarterlyGoal.year == q.year, QuarterlyGoal.quarter == q.quarter)
                      for q in quarters)))


def money_sum(condition: ColumnElement[bool]) -> Any:
    """Σ deal_value where the condition holds (NULL when none): exact on both databases."""
    return type_coerce(func.sum(case((condition, Opportunity.deal_value))), Money)


def count_where(condition: ColumnElement[bool]) -> Any:
    return func.count(case((condition, 1)))


def _sqlite_local_date(value: Any) -> str | None:
    if value is None:
        return None
    moment = datetime.fromisoformat(str(value)).replace(tzinfo=UTC)
    return moment.astimezone(local_zone()).date().isoformat()


def cycle_days(session: Session) -> Any:
    """SQL for actual_close_date − date(created_at), the creation day in the deployment's zone."""
    dialect = session.get_bind().dialect.name
    zone = local_zone().key
    if dialect == "postgresql":
        created = cast(func.timezone(zone, Opportunity.created_at), Date)
        return Opportunity.actual_close_date - created
    if zone.upper() == "UTC":
        created = func.date(Opportunity.created_at)
    else:
        # SQLite has no time zones: the conversion runs in Python, registered on this
        # connection (a function, not a statement).
        raw = session.connection().connection.driver_connection
        raw.create_function("isv_local_date", 1, _sqlite_local_date, deterministic=True)
        created = func.isv_local_date(Opportunity.created_at)
    return cast(func.julianday(Opportunity.actual_close_date) - func.julianday(created),
                Integer)


# --- results -----------------------------------------------------------------------------

@dataclass(frozen=True)
class UnpaidDeal:
    """A won deal for which no commission structure applies: commission 0, always listed."""

    id: uuid.UUID
    customer_name: str
    partner_name: str
    deal_value: Decimal
    close_date: date


@dataclass(frozen=True)
class Scope:
    """What the numbers cover: whose deals, narrowed by which filters (names for people)."""

    sees: str                        # "all" or "own"
    user: str | None                 # the partnership manager, when "own"
    partners: tuple[str, ...] = ()
    domains: tuple[str, ...] = ()
    owners: tuple[str, ...] = ()     # emails
    # People's names for people to read; the emails above are for machines (to_dict).
    user_name: str | None = None
    owner_names: tuple[str, ...] = ()

    def describe(self) -> str:
        """What the numbers cover in words, people by name: 'deals of Priya Nair's partners…'."""
        parts = ["all deals" if self.sees == "all"
                 else f"deals of {self.user_name or self.user}'s partners or assigned to them"]
        if self.partners:
            parts.append("partner " + ", ".join(self.partners))
        if self.domains:
            parts.append("domain " + ", ".join(self.domains))
        if self.owners:
            parts.append("owner " + ", ".join(self.owner_names or self.owners))
        return " · ".join(parts)


@dataclass(frozen=True)
class Kpis:
    """Every KPI of spec/KPIS.md for one scope, period and as_of; exact, unrounded."""

    period: Period
    as_of: date
    scope: Scope
    open_count: int
    pipeline_total: Decimal
    pipeline_weighted: Decimal
    slipped_count: int
    slipped_value: Decimal
    stage_count: dict[str, int]
    stage_value: dict[str, Decimal]
    won_count: int
    won_revenue: Decimal
    lost_count: int
    lost_value: Decimal
    win_rate: Decimal | None
    avg_won_deal: Decimal | None
    avg_cycle_days: Decimal | None
    commission_earned: Decimal
    revenue_target: Decimal
    goal_attainment: Decimal | None
    period_pipeline: Decimal
    coverage: Decimal | None
    conversion: dict[str, Decimal | None]
    # Beyond the spec's keys: what the dashboard and the commission views also show.
    reached_count: dict[str, int] = field(default_factory=dict)   # funnel, by stage
    reached_value: dict[str, Decimal] = field(default_factory=dict)
    no_structure: tuple[UnpaidDeal, ...] = ()
    # KPIS.md's goal_won: won revenue on the deals of the people whose targets are counted.
    goal_won: Decimal = ZERO
    period_pipeline_count: int = 0   # the open deals period_pipeline (and coverage) sums
    # pipeline_weighted by open stage (the metrics' business gauges chart it per stage).
    stage_weighted: dict[str, Decimal] = field(default_factory=dict)

    @property
    def pace(self) -> Decimal | None:
        """goal_won / (revenue_target × share of the period gone by as_of): ≥ 1 is on pace."""
        elapsed = self.period.elapsed_days(self.as_of)
        if self.revenue_target == 0 or elapsed == 0:
            return None
        return self.goal_won * self.period.days / (self.revenue_target * elapsed)


def _ratio(numerator: Decimal | int, denominator: Decimal | int) -> Decimal | None:
    if not denominator:
        return None
    return Decimal(numerator) / Decimal(denominator)


# --- the computation ---------------------------------------------------------------------

def compute_kpis(*, session: Session, viewer: Viewer, period: Period, as_of: date | None = None,
                 filters: Filters | None = None) -> Kpis:
    """Compute every KPI of spec/KPIS.md over the viewer's scope, the filters and the period."""
    filters = filters or Filters()
    as_of = as_of or local_today()
    where = deal_conditions(viewer, filters)

    pipeline = _pipeline_and_results(session, where, period, as_of,
                                     goal_deals(viewer, filters))
    commission, unpaid = _commission(session, where, period)
    target = session.scalar(
        select(type_coerce(func.sum(QuarterlyGoal.revenue_target), Money))
        .where(goals_in(period), target_users(viewer, filters))) or ZERO
    reached_count, reached_value = _funnel(session, where, period)
    scope_info = _scope(session, viewer, filters)

    results = _results(period, pipeline)
    won_count, won_revenue = pipeline["won_count"], pipeline["won_revenue"]
    lost_count = pipeline["lost_count"]
    conversion = {
        key: _ratio(reached_count[b], reached_count[a])
        for key, a, b in zip(CONVERSION_KEYS, FUNNEL_STAGES, FUNNEL_STAGES[1:], strict=False)
    }
    goal_won = pipeline["goal_won"]
    remaining = max(target - goal_won, ZERO)
    return Kpis(
        period=period, as_of=as_of, scope=scope_info,
        open_count=pipeline["open_count"], pipeline_total=pipeline["pipeline_total"],
        pipeline_weighted=pipeline["pipeline_weighted"],
        slipped_count=pipeline["slipped_count"], slipped_value=pipeline["slipped_value"],
        stage_count=pipeline["stage_count"], stage_value=pipeline["stage_value"],
        won_count=won_count, won_revenue=won_revenue, lost_count=lost_count,
        lost_value=pipeline["lost_value"],
        win_rate=results.win_rate, avg_won_deal=results.avg_won_deal,
        avg_cycle_days=results.avg_cycle_days,
        commission_earned=commission, revenue_target=target,
        goal_attainment=attainment(goal_won, target), goal_won=goal_won,
        period_pipeline=pipeline["period_pipeline"], period_pipeline_count=pipeline["due_count"],
        coverage=_ratio(pipeline["period_pipeline"], remaining),
        conversion=conversion, reached_count=reached_count, reached_value=reached_value,
        no_structure=unpaid, stage_weighted=pipeline["stage_weighted"],
    )


@dataclass(frozen=True)
class PeriodResults:
    """The part of `compute_kpis` that its first statement gives: the open deals now and the
    period's closes with their ratios. What sales velocity needs of a quarter, without the
    funnel, commission, goals and names that make up most of compute_kpis's cost."""

    period: Period
    open_count: int
    won_count: int
    won_revenue: Decimal
    lost_count: int
    win_rate: Decimal | None
    avg_won_deal: Decimal | None
    avg_cycle_days: Decimal | None


def period_results(*, session: Session, viewer: Viewer, period: Period,
                   as_of: date | None = None, filters: Filters | None = None) -> PeriodResults:
    """compute_kpis's open count, closes and their ratios for a period, in one statement."""
    filters = filters or Filters()
    pipeline = _pipeline_and_results(session, deal_conditions(viewer, filters), period,
                                     as_of or local_today(), goal_deals(viewer, filters))
    return _results(period, pipeline)


def _results(period: Period, pipeline: dict[str, Any]) -> PeriodResults:
    won_count, lost_count = pipeline["won_count"], pipeline["lost_count"]
    return PeriodResults(
        period=period, open_count=pipeline["open_count"], won_count=won_count,
        won_revenue=pipeline["won_revenue"], lost_count=lost_count,
        win_rate=_ratio(won_count, won_count + lost_count),
        avg_won_deal=_ratio(pipeline["won_revenue"], won_count),
        avg_cycle_days=_ratio(pipeline["cycle_days"], won_count))


KpiSource = Callable[..., Kpis]
_source: ContextVar[KpiSource | None] = ContextVar("isv_kpi_source", default=None)


def kpis_for(*, session: Session, viewer: Viewer, period: Period, as_of: date,
             filters: Filters) -> Kpis:
    """compute_kpis for the pages' gatherers: through the source `shared_by` installed when
    there is one (several pages ask for the same quarter), else computed here and now."""
    source = _source.get()
    if source is None:
        return compute_kpis(session=session, viewer=viewer, period=period, as_of=as_of,
                            filters=filters)
    return source(session=session, viewer=viewer, period=period, as_of=as_of, filters=filters)


@contextmanager
def shared_by(source: KpiSource) -> Iterator[None]:
    """Within the block, `kpis_for` asks `source` (same arguments as compute_kpis, which it
    must call for whatever it does not already have)."""
    token = _source.set(source)
    try:
        yield
    finally:
        _source.reset(token)


def _pipeline_and_results(session: Session, where: Sequence[ColumnElement[bool]],
                          period: Period, as_of: date,
                          for_goals: ColumnElement[bool]) -> dict[str, Any]:
    """One statement: current pipeline per (stage, probability) and the period's closes."""
    o = Opportunity
    is_open = o.stage.in_(OPEN_STAGES)
    closed_in_period = o.actual_close_date.between(period.start, period.end)
    won = won_in(period)
    lost = and_(o.stage == "closed_lost", closed_in_period)
    slipped = and_(is_open, o.expected_close_date < as_of)
    due = and_(is_open, o.expected_close_date.between(period.start, period.end))
    stmt = (
        select(o.stage, o.probability, func.count(), type_coerce(func.sum(o.deal_value), Money),
               count_where(slipped), money_sum(slipped), count_where(due), money_sum(due),
               count_where(won), money_sum(won), count_where(lost), money_sum(lost),
               func.sum(case((won, cycle_days(session)))), money_sum(and_(won, for_goals)))
        .where(*where)
        .group_by(o.stage, o.probability)
    )
    out: dict[str, Any] = {
        "stage_count": dict.fromkeys(STAGES, 0), "stage_value": dict.fromkeys(STAGES, ZERO),
        "stage_weighted": {stage: Decimal(0) for stage in OPEN_STAGES},
        "open_count": 0, "pipeline_total": ZERO, "pipeline_weighted": Decimal(0),
        "slipped_count": 0, "slipped_value": ZERO, "period_pipeline": ZERO, "due_count": 0,
        "won_count": 0, "won_revenue": ZERO, "lost_count": 0, "lost_value": ZERO,
        "cycle_days": 0, "goal_won": ZERO,
    }
    for (stage, probability, n, value, n_slipped, slipped_value, n_due, due_value, n_won,
         won_value, n_lost, lost_value, days, goal_won) in session.execute(stmt):
        value = value or ZERO
        out["stage_count"][stage] += n
        out["stage_value"][stage] += value
        if stage in OPEN_STAGES:
            out["open_count"] += n
            out["pipeline_total"] += value
            out["pipeline_weighted"] += value * probability / 100
            out["stage_weighted"][stage] += value * probability / 100
        out["slipped_count"] += n_slipped
        out["slipped_value"] += slipped_value or ZERO
        out["period_pipeline"] += due_value or ZERO
        out["due_count"] += n_due
        out["won_count"] += n_won
        out["won_revenue"] += won_value or ZERO
        out["lost_count"] += n_lost
        out["lost_value"] += lost_value or ZERO
        out["cycle_days"] += int(days or 0)
        out["goal_won"] += goal_won or ZERO
    return out


def _commission(session: Session, where: Sequence[ColumnElement[bool]],
                period: Period) -> tuple[Decimal, tuple[UnpaidDeal, ...]]:
    """First-year commission on the period's won deals, and those no structure applies to."""
    o, cs = Opportunity, CommissionStructure
    won = [*where, won_in(period)]
    total = Decimal(0)
    # Deals registered under a structure: that structure pays, whatever its dates and band.
    for percentage, value in session.execute(
            select(cs.commission_percentage, type_coerce(func.sum(o.deal_value), Money))
            .join(cs, cs.id == o.commission_structure_id)
            .where(*won).group_by(cs.commission_percentage)):
        total += value * percentage / 100

    # The rest: the rule, applied deal by deal to the partner's structures.
    rule_deals = (select(o.id, o.partner_id, o.deal_value, o.actual_close_date,
                         o.customer_name, Partner.name, Partner.tier)
                  .join(Partner, Partner.id == o.partner_id)
                  .where(*won, o.commission_structure_id.is_(None)))
    deals = session.execute(rule_deals.order_by(o.actual_close_date, o.id)).all()
    partners = sorted({row[1] for row in deals}, key=str)  # at most one per partner
    structures = structures_by_partner(session, partners)
    unpaid = []
    for deal_id, partner_id, value, closed, customer, partner_name, tier in deals:
        chosen = applicable_structure(structures.get(partner_id, ()), close_date=closed,
                                      deal_value=value, partner_tier=tier)
        if chosen is None:
            unpaid.append(UnpaidDeal(deal_id, customer, partner_name, value, closed))
        else:
            total += value * chosen.commission_percentage / 100
    return total, tuple(unpaid)


def _funnel(session: Session, where: Sequence[ColumnElement[bool]],
            period: Period) -> tuple[dict[str, int], dict[str, Decimal]]:
    """How many deals created in the period reached each stage (KPIS.md, funnel), and their value.

    A deal's reach is the furthest open stage among its current stage and the to_stage of its
    history rows; a won deal reached every open stage; a lost one only what its history shows.
    """
    o, h = Opportunity, StageHistory
    # Each deal's history by index (a correlated subquery), not a join to the whole history
    # table: at 100,000 deals a quarter's cohort filtered to a domain reads ~75 ms instead of
    # ~210 ms of hashing every history row. Grouped by both reaches; the furthest is taken here.
    history = (select(func.max(case(OPEN_INDEX, value=h.to_stage)))
               .where(h.opportunity_id == o.id, h.to_stage.in_(OPEN_STAGES))
               .scalar_subquery())
    deals = (select(case({**OPEN_INDEX, "closed_won": len(OPEN_STAGES) - 1},
                         value=o.stage).label("current"),
                    history.label("history"),
                    case((o.stage == "closed_won", 1), else_=0).label("won"),
                    o.deal_value.label("value"))
             .where(*where, created_between(period.start, period.end, local_zone())).subquery())
    stmt = (select(deals.c.current, deals.c.history, deals.c.won, func.count(),
                   type_coerce(func.sum(deals.c.value), Money))
            .group_by(deals.c.current, deals.c.history, deals.c.won))
    count = dict.fromkeys(FUNNEL_STAGES, 0)
    value = dict.fromkeys(FUNNEL_STAGES, ZERO)
    for current, reached, won, n, total in session.execute(stmt):
        total = total or ZERO
        reach = max((r for r in (current, reached) if r is not None), default=None)
        if reach is not None:
            for stage in OPEN_STAGES[:reach + 1]:
                count[stage] += n
                value[stage] += total
        if won:
            count["closed_won"] += n
            value["closed_won"] += total
    return count, value


def _scope(session: Session, viewer: Viewer, filters: Filters) -> Scope:
    """Name what the numbers cover (one statement: the filtered partners' and owners' names)."""
    people = [*filters.owner_ids, *([] if viewer.sees_everything else [viewer.id])]
    full_name = User.first_name + literal(" ") + User.last_name
    names = session.execute(
        select(Partner.id, Partner.name, literal(""))
        .where(Partner.id.in_(filters.partner_ids))
        .union_all(select(User.id, User.email, full_name).where(User.id.in_(people)))).all()
    by_id = {row[0]: row[1] for row in names}
    name_of = {row[0]: row[2] for row in names}
    return Scope(
        sees="all" if viewer.sees_everything else "own",
        user=None if viewer.sees_everything else viewer.email,
        partners=tuple(by_id.get(p, str(p)) for p in filters.partner_ids),
        domains=filters.domains,
        owners=tuple(by_id.get(u, str(u)) for u in filters.owner_ids),
        user_name=None if viewer.sees_everything else name_of.get(viewer.id) or viewer.name,
        owner_names=tuple(name_of.get(u) or by_id.get(u, str(u)) for u in filters.owner_ids),
    )


# --- the machine-readable form -----------------------------------------------------------

def rate_number(value: Decimal | None) -> float | None:
    """A rate (or average) as exported: 4 places, half-even; None stays None."""
    if value is None:
        return None
    return float(Decimal(value).quantize(RATE_PLACES, rounding=ROUND_HALF_EVEN))


def to_dict(kpis: Kpis) -> dict[str, Any]:
    """The machine-readable form of spec/KPIS.md as plain JSON-ready values."""
    out: dict[str, Any] = {
        "period": {"label": kpis.period.label, "start": kpis.period.start.isoformat(),
                   "end": kpis.period.end.isoformat()},
        "as_of": kpis.as_of.isoformat(),
        "scope": {"sees": kpis.scope.sees, "user": kpis.scope.user,
                  "partner": list(kpis.scope.partners), "domain": list(kpis.scope.domains),
                  "owner": list(kpis.scope.owners)},
    }
    for key in KPI_KEYS:
        value = getattr(kpis, key)
        if key in _MONEY_KEYS:
            out[key] = None if value is None else money_text(value)
        elif key in _NUMBER_KEYS:
            out[key] = rate_number(value)
        elif key == "stage_count":
            out[key] = {stage: value[stage] for stage in STAGES}
        elif key == "stage_value":
            out[key] = {stage: money_text(value[stage]) for stage in STAGES}
        elif key == "conversion":
            out[key] = {k: rate_number(value[k]) for k in CONVERSION_KEYS}
        else:
            out[key] = value
    return out


def to_json(kpis: Kpis) -> str:
    """The machine-readable form of spec/KPIS.md as a JSON text."""
    return json.dumps(to_dict(kpis), indent=2, ensure_ascii=False)


# --- grouped by partner ------------------------------------------------------------------

@dataclass(frozen=True)
class PartnerKpis:
    """The KPIs of spec/KPIS.md that belong to one partner, over the viewer's scope and filters.

    Equal, field for field, to compute_kpis with that partner as the only partner filter.
    """

    partner_id: uuid.UUID
    name: str
    domain: str
    open_count: int
    pipeline_total: Decimal
    pipeline_weighted: Decimal
    won_count: int
    won_revenue: Decimal
    lost_count: int
    win_rate: Decimal | None
    commission_earned: Decimal
    no_structure: tuple[UnpaidDeal, ...] = ()
    tier: str | None = None  # the partner's program tier (not a KPI: shown beside them)


def kpis_by_partner(*, session: Session, viewer: Viewer, period: Period,
                    filters: Filters | None = None) -> list[PartnerKpis]:
    """Per-partner KPIs for every partner with a deal in scope, in three statements.

    The grouped form of compute_kpis: the same conditions and sums, grouped by partner in
    SQL, so a page with many partners runs no query per partner.
    """
    o = Opportunity
    where = deal_conditions(viewer, filters or Filters())
    won = won_in(period)
    lost = and_(o.stage == "closed_lost", o.actual_close_date.between(period.start, period.end))
    stmt = (select(Partner.id, Partner.name, Partner.domain, Partner.tier, o.stage,
                   o.probability, func.count(), type_coerce(func.sum(o.deal_value), Money),
                   count_where(won), money_sum(won), count_where(lost))
            .join(Partner, Partner.id == o.partner_id)
            .where(*where)
            .group_by(Partner.id, Partner.name, Partner.domain, Partner.tier, o.stage,
                      o.probability))
    rows: dict[uuid.UUID, dict[str, Any]] = {}
    for (partner_id, name, domain, tier, stage, probability, n, value, n_won, won_value,
         n_lost) in session.execute(stmt):
        row = rows.setdefault(partner_id, dict(
            partner_id=partner_id, name=name, domain=domain, tier=tier, open_count=0,
            pipeline_total=ZERO, pipeline_weighted=Decimal(0), won_count=0,
            won_revenue=ZERO, lost_count=0))
        value = value or ZERO
        if stage in OPEN_STAGES:
            row["open_count"] += n
            row["pipeline_total"] += value
            row["pipeline_weighted"] += value * probability / 100
        row["won_count"] += n_won
        row["won_revenue"] += won_value or ZERO
        row["lost_count"] += n_lost
    commission = _commission_by_partner(session, where, period)
    out = []
    for partner_id, row in rows.items():
        earned, unpaid = commission.get(partner_id, (Decimal(0), ()))
        out.append(PartnerKpis(
            **row, win_rate=_ratio(row["won_count"], row["won_count"] + row["lost_count"]),
            commission_earned=earned, no_structure=unpaid))
    out.sort(key=lambda p: (-p.won_revenue, -p.pipeline_total, p.name.lower()))
    return out


def _commission_by_partner(session: Session, where: Sequence[ColumnElement[bool]],
                           period: Period) -> dict[uuid.UUID, tuple[Decimal,
                                                                    tuple[UnpaidDeal, ...]]]:
    """_commission per partner: own structures summed per (partner, percentage), the rule after."""
    o, cs = Opportunity, CommissionStructure
    won = [*where, won_in(period)]
    totals: dict[uuid.UUID, Decimal] = {}
    for partner_id, percentage, value in session.execute(
            select(o.partner_id, cs.commission_percentage,
                   type_coerce(func.sum(o.deal_value), Money))
            .join(cs, cs.id == o.commission_structure_id)
            .where(*won).group_by(o.partner_id, cs.commission_percentage)):
        totals[partner_id] = totals.get(partner_id, Decimal(0)) + value * percentage / 100
    rule_deals = (select(o.id, o.partner_id, o.deal_value, o.actual_close_date,
                         o.customer_name, Partner.name, Partner.tier)
                  .join(Partner, Partner.id == o.partner_id)
                  .where(*won, o.commission_structure_id.is_(None)))
    deals = session.execute(rule_deals.order_by(o.actual_close_date, o.id)).all()
    # The partners of the deals just read, not a subquery that would find them again.
    structures = structures_by_partner(session, sorted({row[1] for row in deals}, key=str))
    unpaid: dict[uuid.UUID, list[UnpaidDeal]] = {}
    for deal_id, partner_id, value, closed, customer, partner_name, tier in deals:
        chosen = applicable_structure(structures.get(partner_id, ()), close_date=closed,
                                      deal_value=value, partner_tier=tier)
        if chosen is None:
            unpaid.setdefault(partner_id, []).append(
                UnpaidDeal(deal_id, customer, partner_name, value, closed))
        else:
            totals[partner_id] = (totals.get(partner_id, Decimal(0))
                                  + value * chosen.commission_percentage / 100)
    return {p: (totals.get(p, Decimal(0)), tuple(unpaid.get(p, ())))
            for p in {*totals, *unpaid}}
