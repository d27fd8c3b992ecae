"""Which deals a condition names, as SQL WHERE clauses over the models alone: the funnel
steps, the local days a deal was created on, the deals won in a period. Analytics counts
with them; the deal list (services/opportunities) filters with the same ones, so a drill
lists what a chart counted, and goal progress counts what the revenue KPIs count.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, or_, select

from isv.models import OPEN_STAGES, Opportunity, StageHistory
from isv.rules.periods import Period

FUNNEL_STAGES = (*OPEN_STAGES, "closed_won")
OPEN_INDEX = {stage: k for k, stage in enumerate(OPEN_STAGES)}


def day_bounds(start: date, end: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants that bound the days [start, end] in `zone`: [low, high)."""
    low = datetime.combine(start, time(0), tzinfo=zone).astimezone(UTC)
    high = datetime.combine(end + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return low, high


def created_between(start: date, end: date, zone: ZoneInfo) -> ColumnElement[bool]:
    """Deals created on a day in [start, end] in `zone`: UTC bounds, so an index could serve
    it."""
    low, high = day_bounds(start, end, zone)
    return and_(Opportunity.created_at >= low, Opportunity.created_at < high)


def reached(stage: str) -> ColumnElement[bool]:
    """Deals that reached a funnel stage (KPIS.md, funnel conversion), as a WHERE condition.

    The per-deal form of the KPI funnel's counting, for listing the deals behind a funnel
    step: the current stage or a history row at this or a later open stage, or won.
    """
    if stage == "closed_won":
        return Opportunity.stage == "closed_won"
    later = OPEN_STAGES[OPEN_INDEX[stage]:]
    moved = select(StageHistory.opportunity_id).where(StageHistory.to_stage.in_(later))
    return or_(Opportunity.stage.in_((*later, "closed_won")), Opportunity.id.in_(moved))


def won_in(period: Period) -> ColumnElement[bool]:
    """Deals won with an actual close date in the period (revenue, goal progress)."""
    return and_(Opportunity.stage == "closed_won",
                Opportunity.actual_close_date.between(period.start, period.end))
