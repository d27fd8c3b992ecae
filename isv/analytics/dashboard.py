"""Everything the executive dashboard shows, in one call with a fixed number of statements."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from isv.auth import Viewer
from isv.services.settings import local_today

from .breakdowns import (
    ClosingDeal,
    DomainStage,
    PartnerResult,
    PersonResult,
    QuarterRevenue,
    SlippedDeal,
    gap_closers,
    pipeline_by_domain,
    revenue_by_quarter,
    slipped_deals,
    team_performance,
    top_partners,
)
from .kpis import ZERO, Filters, Kpis, deal_conditions, goal_deals, kpis_for
from .periods import Period, previous, quarter_of, quarter_range, shift_quarter
from .together import gather

QUARTERS_BACK = 5   # the revenue chart: five past quarters, the current one, two coming
QUARTERS_AHEAD = 2


@dataclass(frozen=True)
class DashboardData:
    kpis: Kpis
    previous: Kpis               # the period before, for the change shown on each card
    revenue: tuple[QuarterRevenue, ...]
    domains: tuple[DomainStage, ...]
    partners: tuple[PartnerResult, ...]
    slipped: tuple[SlippedDeal, ...]
    team: tuple[PersonResult, ...]
    closers: tuple[ClosingDeal, ...] = ()  # open deals most likely to close the gap to goal


def gap_to_goal(kpis: Kpis) -> Decimal:
    """What is still to win to reach the period's revenue target (0 once reached).

    The divisor of KPIS.md's coverage: the target less the won revenue that counts for it.
    """
    return max(kpis.revenue_target - kpis.goal_won, ZERO)


def revenue_quarters(as_of: date, *, back: int = QUARTERS_BACK,
                     ahead: int = QUARTERS_AHEAD) -> list[Period]:
    """The quarters of the revenue chart around as_of, oldest first."""
    year, quarter = quarter_of(as_of)
    return [quarter_range(*shift_quarter(year, quarter, n)) for n in range(-back, ahead + 1)]


def dashboard_data(*, session: Session, viewer: Viewer, period: Period,
                   filters: Filters | None = None, as_of: date | None = None) -> DashboardData:
    """Gather the dashboard's KPIs (this period and the one before), its breakdowns and the
    deals that would close the gap to the period's revenue target."""
    filters = filters or Filters()
    as_of = as_of or local_today()
    common = dict(viewer=viewer, filters=filters)
    kpis, before, revenue, domains, partners, slipped, team = gather(
        session,
        lambda s: kpis_for(session=s, period=period, as_of=as_of, **common),
        lambda s: kpis_for(session=s, period=previous(period), as_of=as_of, **common),
        lambda s: tuple(revenue_by_quarter(session=s, quarters=revenue_quarters(as_of),
                                           as_of=as_of, **common)),
        lambda s: tuple(pipeline_by_domain(session=s, **common)),
        lambda s: tuple(top_partners(session=s, period=period, **common)),
        lambda s: tuple(slipped_deals(session=s, as_of=as_of, **common)),
        lambda s: tuple(team_performance(session=s, period=period, **common)))
    return DashboardData(
        kpis=kpis, previous=before, revenue=revenue, domains=domains, partners=partners,
        slipped=slipped, team=team,
        # Only deals that would count against the target can close its gap (goal_deals).
        closers=tuple(gap_closers(session=session, period=period, today=as_of,
                                  where=[*deal_conditions(viewer, filters),
                                         goal_deals(viewer, filters)],
                                  shortfall=gap_to_goal(kpis))),
    )
