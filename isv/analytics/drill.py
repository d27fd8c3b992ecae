"""The deals behind a figure: each analytics figure as the opportunity grid's filters.

A click on a KPI card, a bar or a table row opens the grid with these filters; listed by
isv.services.opportunities.list_opportunities over the same scope, they are exactly the
deals the figure counts (spec/KPIS.md's definitions), so the grid's row count is the
figure. The page's own filters (partner, domain, owner) always carry over.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date, timedelta

from isv.auth import Viewer
from isv.models import CLOSED_STAGES, OPEN_STAGES
from isv.services.opportunities import OpportunityFilters

from .kpis import Filters, goal_people
from .periods import Period


def scope(filters: Filters) -> OpportunityFilters:
    """Every deal in the page's filters: its partner, domain and owner narrowing."""
    return OpportunityFilters(partner_ids=filters.partner_ids, domains=filters.domains,
                              owner_ids=filters.owner_ids)


def open_deals(filters: Filters) -> OpportunityFilters:
    """open_count, pipeline_total, pipeline_weighted: the open deals now."""
    return replace(scope(filters), stages=OPEN_STAGES)


def won(filters: Filters, period: Period) -> OpportunityFilters:
    """won_count, won_revenue, avg_won_deal, avg_cycle_days, commission_earned."""
    return replace(scope(filters), stages=("closed_won",), closed_from=period.start,
                   closed_to=period.end)


def goal_won(viewer: Viewer, filters: Filters, period: Period) -> OpportunityFilters:
    """goal_won (goal attainment): the won deals of the people whose targets are counted."""
    people = goal_people(viewer, filters)
    base = won(filters, period)
    return base if people is None else replace(base, owner_ids=people)


def lost(filters: Filters, period: Period) -> OpportunityFilters:
    """lost_count, lost_value."""
    return replace(scope(filters), stages=("closed_lost",), closed_from=period.start,
                   closed_to=period.end)


def closed(filters: Filters, period: Period) -> OpportunityFilters:
    """win_rate: the deals won or lost in the period."""
    return replace(scope(filters), stages=CLOSED_STAGES, closed_from=period.start,
                   closed_to=period.end)


def open_or_won(filters: Filters, period: Period) -> OpportunityFilters:
    """A partner's or a person's row: its open pipeline now and what it won in the period."""
    return replace(scope(filters), stages=(*OPEN_STAGES, "closed_won"),
                   closed_from=period.start, closed_to=period.end)


def open_or_closed(filters: Filters, period: Period) -> OpportunityFilters:
    """A partner's KPI row: its open deals now and those won or lost in the period."""
    return replace(scope(filters), closed_from=period.start, closed_to=period.end)


def slipped(filters: Filters, as_of: date) -> OpportunityFilters:
    """slipped_count, slipped_value: open, expected to close before as_of."""
    return replace(open_deals(filters), expected_to=as_of - timedelta(days=1))


def due(filters: Filters, start: date, end: date | None) -> OpportunityFilters:
    """Open deals expected to close in [start, end] (period_pipeline, forecast buckets)."""
    return replace(open_deals(filters), expected_from=start, expected_to=end)


def undated(filters: Filters) -> OpportunityFilters:
    """Open deals without an expected close date."""
    return replace(open_deals(filters), no_expected_date=True)


def staying(filters: Filters, stage: str) -> OpportunityFilters:
    """Time in stage, still there: the open deals in the stage whose entry was recorded."""
    return replace(open_deals(filters), stages=(stage,), entry_recorded=True)


def moved_on(filters: Filters, period: Period, stage: str) -> OpportunityFilters:
    """Time in stage, moved on: the deals whose recorded stay in the stage ended in the period
    (whatever stage they are in now)."""
    return replace(scope(filters), left_stage=stage, left_from=period.start,
                   left_to=period.end)


def reached(filters: Filters, period: Period, stage: str) -> OpportunityFilters:
    """A funnel step: the deals created in the period that reached the stage."""
    return replace(scope(filters), created_from=period.start, created_to=period.end,
                   reached=stage)


def created(filters: Filters, period: Period, domain: str | None = None) -> OpportunityFilters:
    """New pipeline: the deals created in the period (of one partner domain)."""
    base = replace(scope(filters), created_from=period.start, created_to=period.end)
    return replace(base, domains=(domain,)) if domain else base


def lost_for(filters: Filters, period: Period, reason: str | None) -> OpportunityFilters:
    """A lost reason: the deals lost in the period for it (None: lost without a reason)."""
    base = lost(filters, period)
    if reason is None:
        return replace(base, no_lost_reason=True)
    return replace(base, lost_reason=reason)


def partner(base: OpportunityFilters, partner_id: uuid.UUID) -> OpportunityFilters:
    """The same deals of one partner."""
    return replace(base, partner_ids=(partner_id,))


def domain(base: OpportunityFilters, name: str) -> OpportunityFilters:
    """The same deals of one partner domain."""
    return replace(base, domains=(name,))


def stage(base: OpportunityFilters, name: str) -> OpportunityFilters:
    """The same deals in one current stage."""
    return replace(base, stages=(name,))


def person(base: OpportunityFilters, user_id: uuid.UUID | None) -> OpportunityFilters:
    """The same deals assigned to one person (None: to nobody)."""
    if user_id is None:
        return replace(base, owner_ids=(), unassigned=True)
    return replace(base, owner_ids=(user_id,))


def deals(ids: list[uuid.UUID]) -> OpportunityFilters:
    """Exactly these deals."""
    return OpportunityFilters(opportunity_ids=tuple(ids))
