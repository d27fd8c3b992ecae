"""Which deals a clicked bar or a selected row stands for, chart by chart.

A click reports the bar's trace and category (the label on the axis, as isv.charts wrote it);
each function here turns that back into the figure's row of analytics data and so into the
grid filters of isv.analytics.drill. The tests click every chart's bars and compare the
grid's count with the figure, so a label that no longer matches is caught there.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from isv import charts
from isv.analytics import drill
from isv.analytics.breakdowns import PartnerResult, PersonResult, QuarterRevenue, SlippedDeal
from isv.analytics.kpis import Filters, PartnerKpis
from isv.analytics.partner_frames import BUCKET_NAMES
from isv.analytics.partners import (
    LATER,
    SLIPPED,
    UNDATED,
    DomainCoverage,
    Liability,
    LiabilityBucket,
)
from isv.analytics.periods import Period
from isv.analytics.pipeline import LATER as MONTH_LATER
from isv.analytics.pipeline import (
    OVERDUE,
    CloseMonth,
    LostReason,
    PartnerWinLoss,
    StageTime,
    Velocity,
)
from isv.analytics.pipeline import UNDATED as MONTH_UNDATED
from isv.analytics.pipeline_frames import NO_REASON, forecast_frame
from isv.rules.deals import FUNNEL_STAGES
from isv.services.opportunities import OpportunityFilters

Point = dict[str, Any]
_TAGS = re.compile(r"<[^>]+>")


def _trace(point: Point, fig: go.Figure) -> Any:
    return fig.data[int(point.get("curve_number", 0))]


def series(point: Point, fig: go.Figure) -> str:
    """The clicked bar's trace name (its legend entry)."""
    return _trace(point, fig).name or ""


def category(point: Point, fig: go.Figure) -> str:
    """The clicked bar's label on the category axis."""
    trace = _trace(point, fig)
    horizontal = trace.type == "funnel" or getattr(trace, "orientation", None) == "h"
    axis = "y" if horizontal else "x"
    value = point.get(axis)
    if value is None:
        values = getattr(trace, axis)
        index = int(point.get("point_index", point.get("point_number", 0)))
        value = values[index] if values is not None and index < len(values) else ""
    return str(value)


def _words(label: str) -> str:
    """An axis label as plain words: line breaks as spaces, markup dropped."""
    return _TAGS.sub("", label.replace("<br>", " ")).strip()


def _by_title(periods: Sequence[Period], label: str) -> Period | None:
    """The period a category names: its whole label, or its first line (velocity's ticks
    carry the quarter's rates under its title)."""
    titles = {_words(label).removesuffix(" (now)"),
              _words(label.split("<br>")[0]).removesuffix(" (now)")}
    return next((p for p in periods if p.title in titles), None)


def _named(ids: dict[str, Any], label: str) -> Any:
    return ids.get(_words(label))


def _names(rows: Sequence[Any], name: str = "name", id_: str = "partner_id") -> dict[str, Any]:
    return {_words(charts.plain(getattr(r, name))): getattr(r, id_) for r in rows}


# --- executive dashboard -----------------------------------------------------------------

def revenue(rows: Sequence[QuarterRevenue], f: Filters, as_of: date):
    """Revenue by quarter: the won bar lists the quarter's won deals, the forecast bar the
    open deals it weighs (expected in the quarter, from as_of on)."""
    def pick(point: Point, fig: go.Figure) -> OpportunityFilters | None:
        row = next((r for r in rows if r.period == _by_title([r.period for r in rows],
                                                             category(point, fig))), None)
        if row is None:
            return None
        if series(point, fig) == "Won":
            return drill.won(f, row.period)
        if row.period.end < as_of:
            return None
        return drill.due(f, max(row.period.start, as_of), row.period.end)
    return pick


def funnel(f: Filters, period: Period):
    """A funnel step: the deals created in the period that reached the stage."""
    def pick(point: Point, fig: go.Figure) -> OpportunityFilters | None:
        stage = charts.STAGE_BY_LABEL.get(_words(category(point, fig)))
        return None if stage is None else drill.reached(f, period, stage)
    return pick


def funnel_row(f: Filters, period: Period):
    """A row of the funnel's table (one per funnel stage, in order)."""
    return lambda k: drill.reached(f, period, FUNNEL_STAGES[k])


def domains(f: Filters):
    """Pipeline by domain: one domain's open deals in one stage."""
    def pick(point: Point, fig: go.Figure) -> OpportunityFilters | None:
        stage = charts.STAGE_BY_LABEL.get(series(point, fig))
        if stage is None:
            return None
        return drill.stage(drill.domain(drill.open_deals(f), _words(category(point, fig))),
                           stage)
    return pick


def domain_row(frame: pd.DataFrame, f: Filters):
    """A row of the pipeline-by-domain table: that domain's open deals in that stage."""
    def pick(k: int) -> OpportunityFilters | None:
        row = frame.iloc[k]
        stage = charts.STAGE_BY_LABEL.get(row["Stage"])
        if stage is None:
            return None
        return drill.stage(drill.domain(drill.open_deals(f), row["Domain"]), stage)
    return pick


def top_partners(rows: Sequence[PartnerResult], f: Filters, period: Period):
    """Top partners: a bar is the partner's deals won in the period."""
    ids = _names(rows)

    def pick(point: Point, fig: go.Figure) -> OpportunityFilters | None:
        partner = _named(ids, category(point, fig))
        return None if partner is None else drill.partner(drill.won(f, period), partner)
    return pick


def partner_row(rows: Sequence[PartnerResult], f: Filters, period: Period):
    """A row of the top partners table: the partner's open deals and its won ones."""
    return lambda k: drill.partner(drill.open_or_won(f, period), rows[k].partner_id)


def slipped_row(rows: Sequence[SlippedDeal]):
    """A slipped deal's row: that deal."""
    return lambda k: drill.deals([rows[k].id])


def person_row(rows: Sequence[PersonResult], f: Filters, period: Period):
    """A person's row: their open deals and those they won in the period."""
    return lambda k: drill.person(drill.open_or_won(f, period), rows[k].user_id)


def team(rows: Sequence[PersonResult], f: Filters, period: Period):
    """The team chart: a person's bars (target and won) list the deals they won."""
    ids = _names(rows, id_="user_id")

    def pick(point: Point, fig: go.Figure) -> OpportunityFilters | None:
        label = _words(category(point, fig))
        if label not in ids:
            return None
        return drill.person(drill.won(f, period), ids[label])
    return pick


# --- pipeline analytics ------------------------------------------------------------------

def velocity(rows: Sequence[Velocity], f: Filters):
    """A quarter's velocity comes from the deals closed in it (its rates): those deals."""
    def pick(point: Point, fig: go.Figure) -> OpportunityFilters | None:
        period = _by_title([r.period for r in rows], category(point, fig))
        return None if period is None else drill.closed(f, period)
    return pick


def velocity_row(rows: Sequence[Velocity], f: Filters):
    return lambda k: drill.closed(f, rows[k].period)


STILL_THERE = "Still in the stage now"


def time_in_stage(f: Filters, period: Period):
    """Time in stage: a "still there" bar lists the deals in that stage now whose stay it
    ages; a "moved on" bar the deals whose stay in the stage ended in the period."""
    def pick(point: Point, fig: go.Figure) -> OpportunityFilters | None:
        stage = charts.STAGE_BY_LABEL.get(_words(category(point, fig)))
        if stage is None:
            return None
        if series(point, fig).startswith(STILL_THERE):
            return drill.staying(f, stage)
        return drill.moved_on(f, period, stage)
    return pick


def time_in_stage_row(rows: Sequence[StageTime], f: Filters):
    """A row of the time-in-stage table: the deals still in that stage."""
    return lambda k: drill.staying(f, rows[k].stage)


def close_month_filters(row: CloseMonth, f: Filters, as_of: date) -> OpportunityFilters:
    if row.kind == OVERDUE:
        return drill.slipped(f, as_of)
    if row.kind == MONTH_UNDATED:
        return drill.undated(f)
    if row.kind == MONTH_LATER:
        return drill.due(f, row.start, None)
    return drill.due(f, row.start, row.end)


def close_month(rows: Sequence[CloseMonth], f: Filters, as_of: date):
    """Forecast by close month: the open deals expected in that month (or overdue, later)."""
    frame = forecast_frame(rows)
    shown = [r for r in rows if r.kind != MONTH_UNDATED or r.count]
    names = {_words(name): row for name, row in zip(frame["Close month"], shown, strict=True)}

    def pick(point: Point, fig: go.Figure) -> OpportunityFilters | None:
        row = names.get(_words(category(point, fig)))
        return None if row is None else close_month_filters(row, f, as_of)
    return pick


def close_month_row(rows: Sequence[CloseMonth], f: Filters, as_of: date):
    """A row of the forecast table (the undated bucket only when it holds deals)."""
    shown = [r for r in rows if r.kind != MONTH_UNDATED or r.count]
    return lambda k: close_month_filters(shown[k], f, as_of)


def win_loss(rows: Sequence[PartnerWinLoss], f: Filters, period: Period):
    """Win/loss by partner: the partner's deals won, or lost, in the period."""
    ids = _names(rows)

    def pick(point: Point, fig: go.Figure) -> OpportunityFilters | None:
        partner = _named(ids, category(point, fig))
        if partner is None:
            return None
        closed = drill.lost(f, period) if series(point, fig) == "Lost" else drill.won(f, period)
        return drill.partner(closed, partner)
    return pick


def win_loss_row(rows: Sequence[PartnerWinLoss], f: Filters, period: Period):
    return lambda k: drill.partner(drill.closed(f, period), rows[k].partner_id)


def lost_reason(rows: Sequence[LostReason], f: Filters, period: Period):
    """Lost reasons: the deals lost in the period for that reason."""
    reasons = {_words(charts.plain(r.reason or NO_REASON)): r.reason for r in rows}

    def pick(point: Point, fig: go.Figure) -> OpportunityFilters | None:
        label = _words(category(point, fig))
        if label not in reasons:
            return None  # the bar that sums the other reasons
        return drill.lost_for(f, period, reasons[label])
    return pick


def lost_reason_row(rows: Sequence[LostReason], f: Filters, period: Period):
    return lambda k: drill.lost_for(f, period, rows[k].reason)


# --- partner analytics -------------------------------------------------------------------

def partner_results(rows: Sequence[PartnerKpis], f: Filters, period: Period):
    """Partner results: the partner's deals won in the period, or its open deals."""
    ids = _names(rows)

    def pick(point: Point, fig: go.Figure) -> OpportunityFilters | None:
        partner = _named(ids, category(point, fig))
        if partner is None:
            return None
        if series(point, fig).startswith("Won"):
            return drill.partner(drill.won(f, period), partner)
        return drill.partner(drill.open_deals(f), partner)
    return pick


def partner_results_row(rows: Sequence[PartnerKpis], f: Filters, period: Period):
    """A row of the partner KPIs table: its open deals and those closed in the period."""
    return lambda k: drill.partner(drill.open_or_closed(f, period), rows[k].partner_id)


def new_pipeline(quarters: Sequence[Period], f: Filters):
    """New pipeline: the deals of one domain created in that quarter."""
    def pick(point: Point, fig: go.Figure) -> OpportunityFilters | None:
        period = _by_title(quarters, category(point, fig))
        domain = series(point, fig)
        return None if period is None or not domain else drill.created(f, period, domain)
    return pick


def new_pipeline_row(frame: pd.DataFrame, quarters: Sequence[Period], f: Filters):
    """A row of the new pipeline table: one domain's deals created in that quarter."""
    def pick(k: int) -> OpportunityFilters | None:
        row = frame.iloc[k]
        period = _by_title(quarters, row["Quarter"])
        if period is None:
            return None
        return drill.created(f, period, row["Domain"] or None)
    return pick


def _bucket_filters(bucket: LiabilityBucket, quarters: Sequence[Period], f: Filters,
                    as_of: date) -> OpportunityFilters:
    if bucket.key == SLIPPED:
        return drill.slipped(f, as_of)
    if bucket.key == UNDATED:
        return drill.undated(f)
    if bucket.key == LATER:
        return drill.due(f, quarters[-1].end + timedelta(days=1), None)
    assert bucket.period is not None
    return drill.due(f, max(bucket.period.start, as_of), bucket.period.end)


def liability_row(data: Liability, f: Filters, as_of: date):
    """A row of the liability table (empty slipped/later/undated buckets are not listed)."""
    quarters = [b.period for b in data.buckets if b.period is not None]
    shown = [b for b in data.buckets if b.period is not None or b.count]
    return lambda k: _bucket_filters(shown[k], quarters, f, as_of)


def liability(data: Liability, f: Filters, as_of: date):
    """Commission liability: the open deals expected to close in that quarter (or slipped,
    later, without a date)."""
    quarters = [b.period for b in data.buckets if b.period is not None]

    def pick(point: Point, fig: go.Figure) -> OpportunityFilters | None:
        label = _words(category(point, fig))
        for bucket in data.buckets:
            name = bucket.period.title if bucket.period else BUCKET_NAMES[bucket.key]
            if name == label:
                return _bucket_filters(bucket, quarters, f, as_of)
        return None
    return pick


def coverage_row(frame: pd.DataFrame, rows: Sequence[DomainCoverage]):
    """A row of the coverage table: that partner's open deals (none for an uncovered domain)."""
    ids = {(d.domain, p.name): p.partner_id for d in rows for p in d.partners}

    def pick(k: int) -> OpportunityFilters | None:
        row = frame.iloc[k]
        partner = ids.get((row["Domain"], row["Partner"]))
        return None if partner is None else drill.partner(drill.open_deals(Filters()), partner)
    return pick


def coverage(rows: Sequence[DomainCoverage]):
    """Domain coverage: a partner's open deals (over everything, as the matrix)."""
    ids: dict[tuple[str, str], uuid.UUID] = {
        (d.domain, _words(charts.plain(p.name))): p.partner_id for d in rows for p in d.partners}

    def pick(point: Point, fig: go.Figure) -> OpportunityFilters | None:
        domain = _words(category(point, fig)).split(" ")[0]
        data = point.get("customdata") or []
        name = _words(str(data[0])) if data else ""
        partner = ids.get((domain, name))
        return None if partner is None else drill.partner(drill.open_deals(Filters()), partner)
    return pick
