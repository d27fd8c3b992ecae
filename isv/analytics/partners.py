"""Partner analytics: per-partner KPIs, new pipeline by quarter, commission liability, coverage.

Same rules as isv.analytics.kpis: the viewer's scope and the filters, exact money, a fixed
number of statements whatever the number of partners and deals (grouped in SQL; the
commission rule of isv.services.commissions is applied in Python to grouped rows).

- Commission liability: what the open pipeline is expected to earn its partners,
  Σ deal_value × probability / 100 × pct / 100, with pct from the structure KPIS.md applies
  to the deal were it to close on its expected close date (its own structure first). Deals
  already slipped, or without an expected close date, would close from as_of on: the rule is
  applied on as_of, and they are shown in buckets of their own, not in a quarter.
- Coverage: a partner is *active* in its domain when it holds at least one open deal the
  viewer can see; a domain with no active partner is flagged, and so is any partner holding
  more than CONCENTRATION (60 %) of its domain's open pipeline — 60 % exactly is not flagged.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, literal, or_, select, type_coerce
from sqlalchemy.orm import Session

from isv.auth import Viewer
from isv.models import DOMAINS, OPEN_STAGES, CommissionStructure, Opportunity, Partner
from isv.rules.deals import created_between
from isv.services import health, scope
from isv.services.commissions import applicable_structure, structures_by_partner
from isv.services.settings import local_today, local_zone
from isv.types import Money

from .kpis import (
    ZERO,
    Filters,
    Kpis,
    PartnerKpis,
    deal_conditions,
    kpis_by_partner,
    kpis_for,
)
from .periods import Period, quarter_of, quarter_range, shift_quarter
from .together import gather

CONCENTRATION = Decimal("0.60")
TREND_QUARTERS = 8       # new pipeline: the chosen quarter and the seven before it
LIABILITY_QUARTERS = 4   # commission liability: the current quarter and the three after it
SLIPPED, LATER, UNDATED = "slipped", "later", "undated"


# --- new pipeline by quarter -------------------------------------------------------------

@dataclass(frozen=True)
class CreatedQuarter:
    """Deals created in one quarter for one partner domain: how many, and their value."""

    period: Period
    domain: str
    count: int
    value: Decimal


def trend_quarters(period: Period, *, count: int = TREND_QUARTERS) -> list[Period]:
    """The quarters of the trend, oldest first, ending with the one holding the period's end."""
    year, quarter = quarter_of(period.end)
    return [quarter_range(*shift_quarter(year, quarter, n)) for n in range(1 - count, 1)]


def created_by_quarter(*, session: Session, viewer: Viewer, quarters: Sequence[Period],
                       filters: Filters | None = None) -> list[CreatedQuarter]:
    """Value of the deals created in each quarter (by creation day), per partner domain."""
    if not quarters:
        return []
    o = Opportunity
    zone = local_zone()
    bucket = case(*((created_between(q.start, q.end, zone), k)
                    for k, q in enumerate(quarters)))
    stmt = (select(bucket, Partner.domain, func.count(),
                   type_coerce(func.sum(o.deal_value), Money))
            .join(Partner, Partner.id == o.partner_id)
            .where(*deal_conditions(viewer, filters or Filters()),
                   created_between(quarters[0].start, quarters[-1].end, zone))
            .group_by(bucket, Partner.domain))
    rows = [CreatedQuarter(quarters[k], domain, n, value or ZERO)
            for k, domain, n, value in session.execute(stmt) if k is not None]
    order = {domain: k for k, domain in enumerate(DOMAINS)}
    rows.sort(key=lambda r: (r.period.start, order.get(r.domain, len(order))))
    return rows


# --- commission liability ------------------------------------------------------------------

@dataclass(frozen=True)
class LiabilityBucket:
    """Open deals expected to close in one quarter (or slipped, later, undated).

    `unpriced_*`: deals no commission structure applies to (commission 0, listed, never
    dropped silently).
    """

    key: str                 # the quarter's label, or SLIPPED / LATER / UNDATED
    period: Period | None    # the quarter, None for the other buckets
    count: int
    weighted: Decimal        # Σ deal_value × probability / 100
    commission: Decimal      # Σ weighted × pct / 100
    unpriced_count: int
    unpriced_weighted: Decimal


@dataclass(frozen=True)
class Liability:
    buckets: tuple[LiabilityBucket, ...]
    by_partner: dict[uuid.UUID, Decimal]

    @property
    def total(self) -> Decimal:
        return sum((b.commission for b in self.buckets), Decimal(0))


def liability_quarters(as_of: date, *, count: int = LIABILITY_QUARTERS) -> list[Period]:
    """The quarters of the forecast: the one holding as_of and the ones after it."""
    year, quarter = quarter_of(as_of)
    return [quarter_range(*shift_quarter(year, quarter, n)) for n in range(count)]


def _flips(value: Any, starts: set[Any], past: set[Any]) -> Any:
    """How many of `value >= s` (s in starts) and `value > p` (p in past) hold, in SQL.

    Each test turns true once as the value grows, so two values with the same count pass
    exactly the same tests.
    """
    tests = [*(value >= s for s in sorted(starts)), *(value > p for p in sorted(past))]
    return sum((case((test, 1), else_=0) for test in tests), literal(0))


def commission_liability(*, session: Session, viewer: Viewer, as_of: date,
                         quarters: Sequence[Period] | None = None,
                         filters: Filters | None = None) -> Liability:
    """Expected commission on the weighted open pipeline, by expected-close quarter and partner.

    Two statements: the structures of the partners with open deals priced by the rule, in the
    order isv.services.commissions uses (so ties resolve the same); then the open deals
    grouped by partner, own structure's percentage, bucket and probability, and, for deals
    priced by the rule, by which of those structures' date and size limits they pass. Deals
    that pass the same limits get the same structure, so the rule runs once per group, on
    one of its deals, instead of once per deal.
    """
    quarters = list(quarters or liability_quarters(as_of))
    o, cs = Opportunity, CommissionStructure
    where = [*deal_conditions(viewer, filters or Filters()), o.stage.in_(OPEN_STAGES)]
    structures = structures_by_partner(
        session, select(o.partner_id).where(*where, o.commission_structure_id.is_(None)))

    keys = [SLIPPED, *(q.label for q in quarters), LATER, UNDATED]
    expected = o.expected_close_date
    bucket = case((expected.is_(None), len(keys) - 1), (expected < as_of, 0),
                  *((expected.between(q.start, q.end), k + 1) for k, q in enumerate(quarters)),
                  else_=len(quarters) + 1)
    own = select(cs.id, cs.commission_percentage).subquery()
    by_rule = own.c.commission_percentage.is_(None)
    # The rule is applied on the expected close date, or on as_of when slipped or undated;
    # no rule-priced deal closes before as_of, so limits before it are passed by all.
    rule_on = case((and_(by_rule, expected >= as_of), expected))
    listed = [s for partner in structures.values() for s in partner]
    days = _flips(rule_on, {s.effective_from for s in listed if s.effective_from > as_of},
                  {s.effective_to for s in listed
                   if s.effective_to is not None and s.effective_to >= as_of})
    sizes = _flips(case((by_rule, o.deal_value)), {s.min_deal_size for s in listed},
                   {s.max_deal_size for s in listed if s.max_deal_size is not None})
    # The partner's tier picks among its structures (a tier's own before the general ones).
    groups = (o.partner_id, Partner.tier, own.c.commission_percentage, bucket, o.probability,
              days, sizes)
    stmt = (select(o.partner_id, Partner.tier, own.c.commission_percentage, bucket,
                   o.probability, func.min(rule_on),
                   type_coerce(func.min(case((by_rule, o.deal_value))), Money),
                   func.count(), type_coerce(func.sum(o.deal_value), Money))
            .join(Partner, Partner.id == o.partner_id)
            .outerjoin(own, own.c.id == o.commission_structure_id)
            .where(*where)
            .group_by(*groups))

    sums = [[0, Decimal(0), Decimal(0), 0, Decimal(0)] for _ in keys]
    by_partner: dict[uuid.UUID, Decimal] = {}
    for (partner_id, tier, own_pct, k, probability, close_on, value, n,
         total) in session.execute(stmt):
        weighted = total * probability / 100
        if own_pct is not None:
            pct = own_pct
        else:
            chosen = applicable_structure(structures.get(partner_id, ()), deal_value=value,
                                          close_date=close_on or as_of, partner_tier=tier)
            pct = None if chosen is None else chosen.commission_percentage
        cell = sums[k]
        cell[0] += n
        cell[1] += weighted
        if pct is None:
            cell[3] += n
            cell[4] += weighted
        else:
            commission = weighted * pct / 100
            cell[2] += commission
            by_partner[partner_id] = by_partner.get(partner_id, Decimal(0)) + commission
    periods = {q.label: q for q in quarters}
    return Liability(
        buckets=tuple(LiabilityBucket(key, periods.get(key), *sums[k])
                      for k, key in enumerate(keys)),
        by_partner=by_partner)


# --- domain coverage -----------------------------------------------------------------------

@dataclass(frozen=True)
class PartnerShare:
    """One partner's open pipeline and its share of its domain's."""

    partner_id: uuid.UUID
    name: str
    open_count: int
    pipeline: Decimal
    share: Decimal | None     # None when the domain has no open pipeline

    @property
    def active(self) -> bool:
        return self.open_count > 0

    @property
    def concentrated(self) -> bool:
        return self.share is not None and self.share > CONCENTRATION


@dataclass(frozen=True)
class DomainCoverage:
    """A domain's partners and open pipeline, with the two flags of the coverage matrix."""

    domain: str
    partners: tuple[PartnerShare, ...]    # biggest pipeline first
    pipeline: Decimal

    @property
    def active_count(self) -> int:
        return sum(1 for p in self.partners if p.active)

    @property
    def no_active_partner(self) -> bool:
        return self.active_count == 0

    @property
    def concentrated(self) -> tuple[PartnerShare, ...]:
        return tuple(p for p in self.partners if p.concentrated)


def domain_coverage(*, session: Session, viewer: Viewer) -> list[DomainCoverage]:
    """Every domain, with each partner's open pipeline and share; one statement.

    Over everything the viewer can see, without the page's filters: a partner or domain
    filter would make every other domain look uncovered.
    """
    o = Opportunity
    visible = scope.opportunities_visible(viewer)
    open_deal = and_(o.partner_id == Partner.id, o.stage.in_(OPEN_STAGES), visible)
    stmt = (select(Partner.domain, Partner.id, Partner.name, func.count(o.id),
                   type_coerce(func.sum(o.deal_value), Money))
            .outerjoin(o, open_deal)
            .where(or_(scope.partners_visible(viewer),
                       Partner.id.in_(select(o.partner_id).where(visible))))
            .group_by(Partner.domain, Partner.id, Partner.name))
    found: dict[str, list[tuple[uuid.UUID, str, int, Decimal]]] = {d: [] for d in DOMAINS}
    for domain, partner_id, name, n, value in session.execute(stmt):
        found.setdefault(domain, []).append((partner_id, name, n, value or ZERO))
    out = []
    for domain, partners in found.items():
        total = sum((p[3] for p in partners), ZERO)
        shares = [PartnerShare(pid, name, n, value, value / total if total else None)
                  for pid, name, n, value in partners]
        shares.sort(key=lambda p: (-p.pipeline, -p.open_count, p.name.lower()))
        out.append(DomainCoverage(domain, tuple(shares), total))
    return out


# --- health scores and their change since the last weekly snapshot ---------------------------

@dataclass(frozen=True)
class HealthChange:
    partner_id: uuid.UUID
    score: int
    previous: int | None    # the latest weekly snapshot before as_of
    change: int | None      # score − previous


def health_changes(*, session: Session, viewer: Viewer, as_of: date) -> list[HealthChange]:
    """Each visible partner's health score as of the day, and its change since the last
    weekly snapshot before it (services/health.py)."""
    before = health.previous_scores(session=session, viewer=viewer, before=as_of)
    out = []
    for result in health.partner_scores(session=session, viewer=viewer, as_of=as_of):
        previous = before.get(result.partner_id)
        out.append(HealthChange(
            partner_id=result.partner_id, score=result.score,
            previous=previous[1] if previous else None,
            change=result.score - previous[1] if previous else None))
    return out


# --- the page's data in one call -------------------------------------------------------------

@dataclass(frozen=True)
class PartnerAnalytics:
    kpis: Kpis                            # totals over the scope and filters
    partners: tuple[PartnerKpis, ...]
    trend: tuple[CreatedQuarter, ...]
    trend_quarters: tuple[Period, ...]
    liability: Liability
    coverage: tuple[DomainCoverage, ...]
    health: tuple[HealthChange, ...] = ()


def partner_analytics(*, session: Session, viewer: Viewer, period: Period,
                      filters: Filters | None = None,
                      as_of: date | None = None) -> PartnerAnalytics:
    """Gather what the partner analytics page shows, with a fixed number of statements."""
    filters = filters or Filters()
    as_of = as_of or local_today()
    common = dict(viewer=viewer, filters=filters)
    quarters = trend_quarters(period)
    kpis, partners, trend, liability, coverage, health = gather(
        session,
        lambda s: kpis_for(session=s, period=period, as_of=as_of, **common),
        lambda s: tuple(kpis_by_partner(session=s, period=period, **common)),
        lambda s: tuple(created_by_quarter(session=s, quarters=quarters, **common)),
        lambda s: commission_liability(session=s, as_of=as_of, **common),
        lambda s: tuple(domain_coverage(session=s, viewer=viewer)),
        lambda s: tuple(health_changes(session=s, viewer=viewer, as_of=as_of)))
    return PartnerAnalytics(kpis=kpis, partners=partners, trend=trend,
                            trend_quarters=tuple(quarters), liability=liability,
                            coverage=coverage, health=health)
