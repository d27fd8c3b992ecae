"""Pipeline analytics: time in stage, velocity, forecast by close month, win/loss, lost reasons.

Same rules as isv.analytics.kpis: the viewer's scope narrowed by the filters
(`kpis.deal_conditions`), aggregation in the database, a fixed number of statements however
many deals there are, exact money. Definitions, where spec/KPIS.md is silent:

- **Time in stage** comes from stage history. A stay starts at a history row moving a deal
  into an open stage and ends at the deal's next history row. Stays that *ended* inside the
  period are "moved on"; the stay of a deal still in that stage is "still there", aged to
  the end of the as_of day (current state, like the pipeline KPIs) and reported apart, never
  mixed into the averages of finished stays. A stay that starts at a row synthesized on
  import is left out (its start is only the deal's creation, not when it entered the stage)
  and counted, so the page can say how many. Durations are fractional days, kept to
  1/10,000 day; the median is the middle stay (mean of the two middle ones when even).
- **Velocity** is the classic (open deals × win rate × average won deal) ÷ cycle days, in
  money per day, per quarter. Win rate, average won deal and cycle days are each quarter's
  KPIs (`compute_kpis`); open deals are the current state (KPIS.md), so the trend shows how
  today's pipeline would convert at each quarter's rates.
- **Forecast by close month**: open deals by expected close month, from as_of's month on,
  value and weighted value (Σ value × probability / 100); deals expected before as_of are
  overdue (slipped, as in KPIS.md), those beyond the last month "later", and deals without a
  close date are a bucket of their own. The buckets add up to the pipeline KPIs.
- **Win/loss by partner**: deals closed won or lost in the period (by actual close date),
  count and value per partner; win rate by count, as `win_rate`.
- **Lost reasons**: closed_lost deals of the period by reason, compared trimmed and
  case-insensitively; an empty reason is "no reason given".
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import Float, and_, case, cast, extract, func, literal, or_, select, type_coerce
from sqlalchemy.orm import Session, aliased

from isv.auth import Viewer
from isv.models import OPEN_STAGES, Opportunity, Partner, StageHistory
from isv.services.settings import local_today, local_zone
from isv.types import Money

from .kpis import (
    ZERO,
    Filters,
    Kpis,
    PeriodResults,
    count_where,
    deal_conditions,
    kpis_for,
    money_sum,
    period_results,
)
from .periods import Period, previous
from .together import gather

DAY_PLACES = Decimal("0.0001")
SECONDS_PER_DAY = 86400
VELOCITY_QUARTERS = 4   # the chosen period and the three before it
FORECAST_MONTHS = 6     # as_of's month and the five after it
OVERDUE, MONTH, LATER, UNDATED = "overdue", "month", "later", "undated"


# --- time in stage -----------------------------------------------------------------------

@dataclass(frozen=True)
class StageTime:
    """How long deals stay in one open stage: finished stays of the period, and current ones."""

    stage: str
    moved_count: int                 # stays that ended inside the period
    moved_avg_days: Decimal | None
    moved_median_days: Decimal | None
    open_count: int                  # deals in this stage now
    open_avg_days: Decimal | None    # days so far, to the end of as_of
    open_median_days: Decimal | None
    reconstructed: int               # stays left out: their start was synthesized on import
    moved_deals: int = 0             # the deals those moved-on stays belong to


def _local_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The UTC instants that bound the local days [start, end]: [low, high)."""
    zone = local_zone()
    low = datetime.combine(start, time(0), tzinfo=zone).astimezone(UTC)
    high = datetime.combine(end + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return low, high


def _days(value: object) -> Decimal | None:
    if value is None:
        return None
    return Decimal(str(value)).quantize(DAY_PLACES)


def time_in_stage(*, session: Session, viewer: Viewer, period: Period,
                  filters: Filters | None = None, as_of: date | None = None) -> list[StageTime]:
    """Average and median days per open stage: stays ended in the period, and stays ongoing."""
    h, o = StageHistory, Opportunity
    filters = filters or Filters()
    as_of = as_of or local_today()
    low, high = _local_bounds(period.start, period.end)
    _, as_of_end = _local_bounds(as_of, as_of)

    left = func.lead(h.changed_at).over(partition_by=h.opportunity_id,
                                        order_by=(h.changed_at, h.id))
    # Only deals that can have a stay to report: open ones, and those moved in the period.
    moved = aliased(StageHistory)
    active = or_(o.stage.in_(OPEN_STAGES),
                 o.id.in_(select(moved.opportunity_id)
                          .where(moved.changed_at >= low, moved.changed_at < high)))
    stays = (select(h.opportunity_id.label("deal"), h.to_stage.label("stage"),
                    h.changed_at.label("entered"),
                    left.label("left"), h.synthesized.label("synthesized"),
                    o.stage.label("current"))
             .join(o, o.id == h.opportunity_id)
             .where(*deal_conditions(viewer, filters), active)
             .subquery("stays"))
    s = stays.c
    still = s.left.is_(None)
    end = case((still, literal(as_of_end, h.changed_at.type)), else_=s.left)
    if session.get_bind().dialect.name == "postgresql":
        # Floating point, as julianday on SQLite: sorting numeric is slow, and the result
        # is kept to 1/10,000 day anyway.
        days = cast(extract("epoch", end - s.entered), Float) / SECONDS_PER_DAY
    else:
        days = func.julianday(end) - func.julianday(s.entered)
    groups = (s.stage, still, s.synthesized)
    ranked = (select(s.deal, s.stage, still.label("still"), s.synthesized, days.label("days"),
                     func.row_number().over(partition_by=groups, order_by=days).label("rn"),
                     func.count().over(partition_by=groups).label("n"))
              .where(s.stage.in_(OPEN_STAGES),
                     or_(and_(s.left >= low, s.left < high),
                         and_(still, s.stage == s.current, s.entered < as_of_end)))
              .subquery("ranked"))
    r = ranked.c
    middle = r.rn.between((r.n + 1) // 2, (r.n + 2) // 2)
    stmt = (select(r.stage, r.still, r.synthesized, func.count(), func.avg(r.days),
                   func.avg(case((middle, r.days))), func.count(r.deal.distinct()))
            .group_by(r.stage, r.still, r.synthesized))
    cells: dict[str, dict[str, object]] = {
        stage: dict(moved_count=0, moved_avg_days=None, moved_median_days=None, open_count=0,
                    open_avg_days=None, open_median_days=None, reconstructed=0, moved_deals=0)
        for stage in OPEN_STAGES}
    for stage, is_still, synthesized, n, average, median, deals in session.execute(stmt):
        cell = cells[stage]
        if synthesized:
            cell["reconstructed"] += n
            continue
        kind = "open" if is_still else "moved"
        cell.update({f"{kind}_count": n, f"{kind}_avg_days": _days(average),
                     f"{kind}_median_days": _days(median)})
        if not is_still:
            cell["moved_deals"] = deals
    return [StageTime(stage=stage, **cells[stage]) for stage in OPEN_STAGES]


# --- velocity ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Velocity:
    """Sales velocity of one quarter and the KPIs it is made of."""

    period: Period
    open_count: int
    win_rate: Decimal | None
    avg_won_deal: Decimal | None
    avg_cycle_days: Decimal | None
    won_count: int
    lost_count: int

    @property
    def per_day(self) -> Decimal | None:
        """Money per day: open deals × win rate × average won deal ÷ cycle days."""
        if self.win_rate is None or self.avg_won_deal is None or not self.avg_cycle_days:
            return None
        return self.open_count * self.win_rate * self.avg_won_deal / self.avg_cycle_days


def velocity_periods(period: Period, count: int = VELOCITY_QUARTERS) -> list[Period]:
    """The period and the ones before it, oldest first."""
    periods = [period]
    while len(periods) < count:
        periods.append(previous(periods[-1]))
    return periods[::-1]


def _velocity(kpis: Kpis | PeriodResults) -> Velocity:
    return Velocity(period=kpis.period, open_count=kpis.open_count, win_rate=kpis.win_rate,
                    avg_won_deal=kpis.avg_won_deal, avg_cycle_days=kpis.avg_cycle_days,
                    won_count=kpis.won_count, lost_count=kpis.lost_count)


def velocity_by_quarter(*, session: Session, viewer: Viewer, period: Period,
                        filters: Filters | None = None,
                        as_of: date | None = None) -> list[Velocity]:
    """Sales velocity of the period and the three before it, from the KPI engine."""
    return [_velocity(kpis_for(session=session, viewer=viewer, period=p,
                               as_of=as_of or local_today(), filters=filters or Filters()))
            for p in velocity_periods(period)]


# --- forecast by close month -------------------------------------------------------------

@dataclass(frozen=True)
class CloseMonth:
    """Open deals expected to close in one month (or overdue, later, undated)."""

    kind: str                  # overdue, month, later or undated
    start: date | None         # the month's first day counted (as_of in the first month)
    end: date | None
    count: int
    value: Decimal
    weighted: Decimal


def forecast_months(as_of: date, count: int = FORECAST_MONTHS) -> list[tuple[date, date]]:
    """(first, last) day of as_of's month (from as_of on) and of the months after it."""
    out = []
    first = as_of
    for _ in range(count):
        following = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        out.append((first, following - timedelta(days=1)))
        first = following
    return out


def forecast_by_close_month(*, session: Session, viewer: Viewer, period: Period,
                            filters: Filters | None = None,
                            as_of: date | None = None) -> list[CloseMonth]:
    """Open pipeline by expected close month, with overdue, later and undated buckets.

    Current state: the period does not change it (the signature matches the others).
    """
    o = Opportunity
    as_of = as_of or local_today()
    months = forecast_months(as_of)
    expected = o.expected_close_date
    later = len(months) + 1
    bucket = case((expected.is_(None), -1), (expected < as_of, 0),
                  *((expected.between(a, b), k + 1) for k, (a, b) in enumerate(months)),
                  else_=later)
    stmt = (select(bucket, o.probability, func.count(), type_coerce(func.sum(o.deal_value), Money))
            .where(*deal_conditions(viewer, filters or Filters()), o.stage.in_(OPEN_STAGES))
            .group_by(bucket, o.probability))
    cells = {k: [0, ZERO, Decimal(0)] for k in range(-1, later + 1)}
    for k, probability, n, value in session.execute(stmt):
        cell = cells[k]
        cell[0] += n
        cell[1] += value
        cell[2] += value * probability / 100
    rows = [CloseMonth(OVERDUE, None, as_of - timedelta(days=1), *cells[0])]
    rows += [CloseMonth(MONTH, a, b, *cells[k + 1]) for k, (a, b) in enumerate(months)]
    rows.append(CloseMonth(LATER, months[-1][1] + timedelta(days=1), None, *cells[later]))
    rows.append(CloseMonth(UNDATED, None, None, *cells[-1]))
    return rows


# --- win/loss by partner -----------------------------------------------------------------

@dataclass(frozen=True)
class PartnerWinLoss:
    """One partner's deals closed in the period: won and lost, count and value."""

    partner_id: uuid.UUID
    name: str
    domain: str
    won_count: int
    won_value: Decimal
    lost_count: int
    lost_value: Decimal

    @property
    def win_rate(self) -> Decimal | None:
        closed = self.won_count + self.lost_count
        return Decimal(self.won_count) / closed if closed else None


def win_loss_by_partner(*, session: Session, viewer: Viewer, period: Period,
                        filters: Filters | None = None,
                        as_of: date | None = None) -> list[PartnerWinLoss]:
    """Won and lost deals of the period per partner, most closed value first."""
    o = Opportunity
    closed = o.actual_close_date.between(period.start, period.end)
    won = and_(o.stage == "closed_won", closed)
    lost = and_(o.stage == "closed_lost", closed)
    stmt = (select(Partner.id, Partner.name, Partner.domain, count_where(won), money_sum(won),
                   count_where(lost), money_sum(lost))
            .join(Partner, Partner.id == o.partner_id)
            .where(*deal_conditions(viewer, filters or Filters()), or_(won, lost))
            .group_by(Partner.id, Partner.name, Partner.domain))
    rows = [PartnerWinLoss(pid, name, domain, n_won, won_value or ZERO, n_lost,
                           lost_value or ZERO)
            for pid, name, domain, n_won, won_value, n_lost, lost_value
            in session.execute(stmt)]
    rows.sort(key=lambda r: (-(r.won_value + r.lost_value), -(r.won_count + r.lost_count),
                             r.name.lower()))
    return rows


# --- lost reasons ------------------------------------------------------------------------

@dataclass(frozen=True)
class LostReason:
    """Deals lost in the period for one reason; reason None when none was given."""

    reason: str | None
    count: int
    value: Decimal


def lost_reasons(*, session: Session, viewer: Viewer, period: Period,
                 filters: Filters | None = None,
                 as_of: date | None = None) -> list[LostReason]:
    """Deals lost in the period by reason, most frequent first."""
    o = Opportunity
    reason = func.nullif(func.trim(o.lost_reason), "")
    key = func.lower(reason)
    # Grouped by spelling too, so the label can be chosen the same way on both databases
    # (their collations disagree on min() across case).
    stmt = (select(key, reason, func.count(), type_coerce(func.sum(o.deal_value), Money))
            .where(*deal_conditions(viewer, filters or Filters()), o.stage == "closed_lost",
                   o.actual_close_date.between(period.start, period.end))
            .group_by(key, reason))
    groups: dict[str | None, list] = {}
    for folded, text, n, value in session.execute(stmt):
        group = groups.setdefault(folded, [[], 0, ZERO])
        group[0].append((-n, text))
        group[1] += n
        group[2] += value or ZERO
    # The spelling used most often names the reason; ties go to the first in code order.
    rows = [LostReason(min(spellings)[1], n, value)
            for spellings, n, value in groups.values()]
    rows.sort(key=lambda r: (r.reason is None, -r.count, -r.value, (r.reason or "").lower()))
    return rows


# --- the page's data in one call ---------------------------------------------------------

@dataclass(frozen=True)
class PipelineAnalytics:
    """Everything the pipeline analytics page shows, for one scope, period and as_of."""

    kpis: Kpis                       # the chosen period
    velocity: tuple[Velocity, ...]   # oldest first, the chosen period last
    stage_times: tuple[StageTime, ...]
    forecast: tuple[CloseMonth, ...]
    win_loss: tuple[PartnerWinLoss, ...]
    lost_reasons: tuple[LostReason, ...]


def pipeline_analytics(*, session: Session, viewer: Viewer, period: Period,
                       filters: Filters | None = None,
                       as_of: date | None = None) -> PipelineAnalytics:
    """Gather the pipeline analytics page's data with a fixed number of statements."""
    filters = filters or Filters()
    as_of = as_of or local_today()
    common = dict(viewer=viewer, period=period, filters=filters, as_of=as_of)
    # The chosen quarter and the one before are the dashboard's KPIs (shared with it when
    # both pages are viewed, see kpis_for); of the two earlier ones velocity needs only the
    # closes, one statement each.
    *earlier, before, chosen = velocity_periods(period)
    quarters = dict(viewer=viewer, as_of=as_of, filters=filters)
    *rows, stage_times, forecast, win_loss, reasons = gather(
        session,
        *(lambda s, p=p: period_results(session=s, period=p, **quarters) for p in earlier),
        lambda s: kpis_for(session=s, period=before, **quarters),
        lambda s: kpis_for(session=s, period=chosen, **quarters),
        lambda s: tuple(time_in_stage(session=s, **common)),
        lambda s: tuple(forecast_by_close_month(session=s, **common)),
        lambda s: tuple(win_loss_by_partner(session=s, **common)),
        lambda s: tuple(lost_reasons(session=s, **common)))
    return PipelineAnalytics(
        kpis=rows[-1],
        velocity=tuple(_velocity(k) for k in rows),
        stage_times=stage_times,
        forecast=forecast,
        win_loss=win_loss,
        lost_reasons=reasons,
    )
