"""Each analytics page's data on 100,000 demo deals: our code vs the raw SQL lower bound.

    python -m bench.analytics [--opportunities N] [--runs R] [--keep URL]
                              [--data-only | --pages-only]

On a throwaway PostgreSQL database (server at ISV_BENCH_POSTGRES_URL, as bench.demo_build)
loaded with `isv.demo.load_demo(opportunities=N)`, it measures, for each page of DATA
(executive dashboard, pipeline analytics, partner analytics, team view) and for the VP and
a partnership manager:

- data: the page's data function uncached (SQLAlchemy statements plus the Python that
  finishes them), e.g. `isv.analytics.dashboard.dashboard_data`;
- raw SQL: the same aggregates hand-written for PostgreSQL and run through psycopg directly,
  with no ORM and no Python beyond fetching (commission by rule done in SQL, with LATERAL or
  DISTINCT ON): the lower bound of what any implementation has to wait for. Before timing,
  check_same_numbers makes sure both find the same figures;
- warm rerun: the same call through the shared cache (isv.analytics.cached.load) once the
  result is cached: statements run (must be 0) and time.

- page rerun vs framework floor: each analytics page of ANALYTICS_PAGES rerun whole in AppTest
  as the VP with nothing changed (login gate, data through the warm caches, widgets, charts),
  against the same page with its data loaders and the data-version poll replaced by the
  values they returned (the same widgets and charts fed constant data, no queries): the
  floor is what Streamlit itself costs. Goal: at most 1.3x.

Times are medians of R runs after one warm-up, wall-clock, one process, data and lower bound
interleaved run by run; the ratio data / raw SQL is the figure to compare between machines
(goal: at most 1.5x).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from importlib import import_module
from time import perf_counter as timer
from typing import Any
from unittest import mock

import psycopg
from sqlalchemy import Engine, event, func, select

from bench.demo_build import postgres_database
from bench.support import app_as_on_a_server, restoring_database, signed_in_app, use_database
from isv import migrate
from isv.analytics import cached
from isv.analytics.dashboard import dashboard_data, revenue_quarters
from isv.analytics.kpis import compute_kpis
from isv.analytics.partners import liability_quarters, partner_analytics, trend_quarters
from isv.analytics.periods import Period, previous, quarter_containing, quarters_within
from isv.analytics.pipeline import forecast_months, pipeline_analytics, velocity_periods
from isv.analytics.team import team_view
from isv.auth import Viewer
from isv.config import get_settings
from isv.db import get_engine, session_scope
from isv.demo import DEMO_LOGINS, load_demo
from isv.models import OPEN_STAGES, Opportunity, StageHistory, User
from isv.services.settings import local_today, local_zone

OPEN = "('lead','demo','poc','proposal')"


def _median(run: Callable[[], object], runs: int) -> float:
    run()  # warm-up: plans, caches, connections
    times = []
    for _ in range(runs):
        started = timer()
        run()
        times.append(timer() - started)
    return statistics.median(times)


def _paired_medians(first: Callable[[], object], second: Callable[[], object],
                    runs: int) -> tuple[float, float]:
    first()
    second()
    a, b = [], []
    for _ in range(runs):
        for run, times in ((first, a), (second, b)):
            started = timer()
            run()
            times.append(timer() - started)
    return statistics.median(a), statistics.median(b)


class StatementCounter:
    """Counts the statements every engine sends (the same hook the tests use)."""

    def __init__(self) -> None:
        self.count = 0

    def __enter__(self) -> StatementCounter:
        event.listen(Engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(Engine, "before_cursor_execute", self._count)

    def _count(self, *_args: object) -> None:
        self.count += 1


# --- the hand-written lower bound ----------------------------------------------------------

def _scope(viewer: Viewer) -> str:
    if viewer.sees_everything:
        return "true"
    return (f"(o.partner_id IN (SELECT id FROM isv_partners WHERE owner_id = '{viewer.id}') "
            f"OR o.assigned_user_id = '{viewer.id}')")


def _kpi_sql(period: Period, as_of: date, viewer: Viewer, zone: str) -> list[tuple[str, dict]]:
    scope = _scope(viewer)
    p = {"start": period.start, "end": period.end, "as_of": as_of, "zone": zone}
    won = "o.stage = 'closed_won' AND o.actual_close_date BETWEEN %(start)s AND %(end)s"
    lost = "o.stage = 'closed_lost' AND o.actual_close_date BETWEEN %(start)s AND %(end)s"
    open_ = f"o.stage IN {OPEN}"
    quarters = " OR ".join(f"(year = {q.year} AND quarter = {q.quarter})"
                           for q in quarters_within(period)) or "false"
    targets = "true" if viewer.sees_everything else f"user_id = '{viewer.id}'"
    rank = "CASE {c} WHEN 'lead' THEN 0 WHEN 'demo' THEN 1 WHEN 'poc' THEN 2 " \
           "WHEN 'proposal' THEN 3 {won} END"
    return [
        (f"""SELECT o.stage, o.probability, count(*), sum(o.deal_value),
                    count(*) FILTER (WHERE {open_} AND o.expected_close_date < %(as_of)s),
                    sum(o.deal_value) FILTER (WHERE {open_} AND o.expected_close_date < %(as_of)s),
                    sum(o.deal_value) FILTER (WHERE {open_} AND o.expected_close_date
                                              BETWEEN %(start)s AND %(end)s),
                    count(*) FILTER (WHERE {won}), sum(o.deal_value) FILTER (WHERE {won}),
                    count(*) FILTER (WHERE {lost}), sum(o.deal_value) FILTER (WHERE {lost}),
                    sum(o.actual_close_date - (o.created_at AT TIME ZONE %(zone)s)::date)
                        FILTER (WHERE {won})
             FROM opportunities o WHERE {scope} GROUP BY o.stage, o.probability""", p),
        (f"""SELECT sum(o.deal_value * cs.commission_percentage / 100)
             FROM opportunities o JOIN commission_structures cs
               ON cs.id = o.commission_structure_id
             WHERE {won} AND {scope}""", p),
        (f"""SELECT sum(o.deal_value * s.commission_percentage / 100),
                    array_agg(o.id) FILTER (WHERE s.commission_percentage IS NULL)
             FROM opportunities o LEFT JOIN LATERAL (
                 SELECT cs.commission_percentage FROM commission_structures cs
                 WHERE cs.partner_id = o.partner_id
                   AND cs.effective_from <= o.actual_close_date
                   AND (cs.effective_to IS NULL OR o.actual_close_date <= cs.effective_to)
                   AND cs.min_deal_size <= o.deal_value
                   AND (cs.max_deal_size IS NULL OR o.deal_value <= cs.max_deal_size)
                 ORDER BY cs.effective_from DESC, cs.commission_percentage DESC LIMIT 1) s
               ON true
             WHERE {won} AND o.commission_structure_id IS NULL AND {scope}""", p),
        (f"""SELECT sum(revenue_target) FROM quarterly_goals
             WHERE goal_type = 'revenue' AND ({quarters}) AND {targets}""", p),
        (f"""SELECT reach, won, count(*), sum(deal_value) FROM (
                 SELECT o.id, o.deal_value, o.stage = 'closed_won' AS won,
                        GREATEST({rank.format(c='o.stage', won="WHEN 'closed_won' THEN 3")},
                                 max({rank.format(c='h.to_stage', won='')})) AS reach
                 FROM opportunities o
                 LEFT JOIN opportunity_stage_history h ON h.opportunity_id = o.id
                 WHERE (o.created_at AT TIME ZONE %(zone)s)::date BETWEEN %(start)s AND %(end)s
                   AND {scope}
                 GROUP BY o.id) per_deal
             GROUP BY reach, won""", p),
    ]


def _breakdown_sql(period: Period, as_of: date, viewer: Viewer) -> list[tuple[str, dict]]:
    scope = _scope(viewer)
    quarters = revenue_quarters(as_of)
    bucket = " ".join(f"WHEN day BETWEEN '{q.start}' AND '{q.end}' THEN {k}"
                      for k, q in enumerate(quarters))
    p = {"start": period.start, "end": period.end, "as_of": as_of,
         "first": quarters[0].start, "last": quarters[-1].end}
    won = "o.stage = 'closed_won' AND o.actual_close_date BETWEEN %(start)s AND %(end)s"
    open_ = f"o.stage IN {OPEN}"
    targets = "true" if viewer.sees_everything else f"g.user_id = '{viewer.id}'"
    return [
        (f"""SELECT CASE {bucket} END, won, sum(weighted), sum(deal_value) FROM (
                 SELECT o.deal_value, o.deal_value * o.probability / 100 AS weighted,
                        o.stage = 'closed_won' AS won,
                        CASE WHEN o.stage = 'closed_won' THEN o.actual_close_date
                             ELSE o.expected_close_date END AS day
                 FROM opportunities o
                 WHERE {scope} AND ((o.stage = 'closed_won'
                         AND o.actual_close_date BETWEEN %(first)s AND %(last)s)
                      OR ({open_} AND o.expected_close_date
                          BETWEEN GREATEST(%(first)s, %(as_of)s) AND %(last)s))) d
             GROUP BY 1, 2""", p),
        (f"""SELECT p.domain, o.stage, count(*), sum(o.deal_value),
                    sum(o.deal_value * o.probability / 100)
             FROM opportunities o JOIN isv_partners p ON p.id = o.partner_id
             WHERE {open_} AND {scope} GROUP BY 1, 2""", p),
        (f"""SELECT p.id, p.name, p.domain,
                    coalesce(sum(o.deal_value) FILTER (WHERE {won}), 0) AS won,
                    count(*) FILTER (WHERE {won}),
                    coalesce(sum(o.deal_value) FILTER (WHERE {open_}), 0) AS pipe,
                    count(*) FILTER (WHERE {open_})
             FROM opportunities o JOIN isv_partners p ON p.id = o.partner_id
             WHERE ({won} OR {open_}) AND {scope}
             GROUP BY p.id, p.name, p.domain ORDER BY won DESC, pipe DESC, lower(p.name)
             LIMIT 10""", p),
        (f"""SELECT o.id, o.customer_name, p.name, o.stage, o.deal_value, o.expected_close_date,
                    u.first_name, u.last_name
             FROM opportunities o JOIN isv_partners p ON p.id = o.partner_id
             LEFT JOIN users u ON u.id = o.assigned_user_id
             WHERE {open_} AND o.expected_close_date < %(as_of)s AND {scope}
             ORDER BY o.deal_value DESC, o.expected_close_date, o.id LIMIT 50""", p),
        (f"""SELECT o.assigned_user_id, u.first_name, u.last_name,
                    sum(o.deal_value) FILTER (WHERE {open_}), count(*) FILTER (WHERE {open_}),
                    sum(o.deal_value) FILTER (WHERE {won}), count(*) FILTER (WHERE {won})
             FROM opportunities o LEFT JOIN users u ON u.id = o.assigned_user_id
             WHERE ({won} OR {open_}) AND {scope}
             GROUP BY 1, 2, 3""", p),
        (f"""SELECT g.user_id, u.first_name, u.last_name, sum(g.revenue_target)
             FROM quarterly_goals g JOIN users u ON u.id = g.user_id
             WHERE g.goal_type = 'revenue' AND g.year = {period.year}
               AND g.quarter = {period.quarter} AND {targets}
             GROUP BY 1, 2, 3""", p),
    ]


def _utc_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """The UTC instants that bound the local days [start, end]: [low, high)."""
    zone = local_zone()
    low = datetime.combine(start, time(0), tzinfo=zone).astimezone(UTC)
    high = datetime.combine(end + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return low, high


def _dashboard_sql(period: Period, as_of: date, viewer: Viewer) -> list[tuple[str, dict]]:
    """The executive dashboard: KPIs of the period and the one before, and the breakdowns."""
    zone = get_settings().timezone
    return [*_kpi_sql(period, as_of, viewer, zone),
            *_kpi_sql(previous(period), as_of, viewer, zone),
            *_breakdown_sql(period, as_of, viewer)]


def _pipeline_sql(period: Period, as_of: date, viewer: Viewer) -> list[tuple[str, dict]]:
    """Pipeline analytics: KPIs of four quarters (velocity), time in stage, forecast by close
    month, win/loss by partner, lost reasons."""
    zone = get_settings().timezone
    scope = _scope(viewer)
    low, high = _utc_bounds(period.start, period.end)
    _, as_of_end = _utc_bounds(as_of, as_of)
    months = forecast_months(as_of)
    month = " ".join(f"WHEN o.expected_close_date BETWEEN '{a}' AND '{b}' THEN {k + 1}"
                     for k, (a, b) in enumerate(months))
    p = {"start": period.start, "end": period.end, "as_of": as_of, "low": low, "high": high,
         "as_of_end": as_of_end}
    closed = "o.actual_close_date BETWEEN %(start)s AND %(end)s"
    won = f"o.stage = 'closed_won' AND {closed}"
    lost = f"o.stage = 'closed_lost' AND {closed}"
    reason = "nullif(trim(o.lost_reason), '')"
    return [
        *(statement for q in velocity_periods(period)
          for statement in _kpi_sql(q, as_of, viewer, zone)),
        (f"""WITH stays AS (
                 SELECT h.to_stage AS stage, h.changed_at AS entered, h.synthesized,
                        o.stage AS current,
                        lead(h.changed_at) OVER (PARTITION BY h.opportunity_id
                                                 ORDER BY h.changed_at, h.id) AS left_at
                 FROM opportunity_stage_history h JOIN opportunities o
                   ON o.id = h.opportunity_id
                 WHERE {scope} AND (o.stage IN {OPEN} OR o.id IN (
                     SELECT opportunity_id FROM opportunity_stage_history
                     WHERE changed_at >= %(low)s AND changed_at < %(high)s)))
             SELECT stage, left_at IS NULL, synthesized, count(*), avg(days),
                    percentile_cont(0.5) WITHIN GROUP (ORDER BY days)
             FROM (SELECT stage, left_at, synthesized,
                          extract(epoch FROM coalesce(left_at, %(as_of_end)s) - entered)::float8
                              / 86400 AS days
                   FROM stays
                   WHERE stage IN {OPEN}
                     AND ((left_at >= %(low)s AND left_at < %(high)s)
                          OR (left_at IS NULL AND stage = current
                              AND entered < %(as_of_end)s))) d
             GROUP BY 1, 2, 3""", p),
        (f"""SELECT CASE WHEN o.expected_close_date IS NULL THEN -1
                         WHEN o.expected_close_date < %(as_of)s THEN 0 {month}
                         ELSE {len(months) + 1} END,
                    count(*), sum(o.deal_value), sum(o.deal_value * o.probability / 100)
             FROM opportunities o WHERE o.stage IN {OPEN} AND {scope} GROUP BY 1""", p),
        (f"""SELECT p.id, p.name, p.domain, count(*) FILTER (WHERE {won}),
                    sum(o.deal_value) FILTER (WHERE {won}), count(*) FILTER (WHERE {lost}),
                    sum(o.deal_value) FILTER (WHERE {lost})
             FROM opportunities o JOIN isv_partners p ON p.id = o.partner_id
             WHERE o.stage IN ('closed_won', 'closed_lost') AND {closed} AND {scope}
             GROUP BY p.id, p.name, p.domain""", p),
        (f"""SELECT lower({reason}), {reason}, count(*), sum(o.deal_value)
             FROM opportunities o
             WHERE o.stage = 'closed_lost' AND {closed} AND {scope}
             GROUP BY 1, 2""", p),
    ]


def _rule_pct(close_date: str) -> str:
    """The applicable structure's percentage for a deal without its own (KPIS.md's rule)."""
    return f"""(SELECT cs.commission_percentage FROM commission_structures cs
                WHERE o.commission_structure_id IS NULL AND cs.partner_id = o.partner_id
                  AND cs.effective_from <= {close_date}
                  AND (cs.effective_to IS NULL OR {close_date} <= cs.effective_to)
                  AND cs.min_deal_size <= o.deal_value
                  AND (cs.max_deal_size IS NULL OR o.deal_value <= cs.max_deal_size)
                ORDER BY cs.effective_from DESC, cs.commission_percentage DESC LIMIT 1)"""


def _partner_sql(period: Period, as_of: date, viewer: Viewer) -> list[tuple[str, dict]]:
    """Partner analytics: KPIs, per-partner KPIs with commission, new pipeline by quarter,
    commission liability by close quarter and partner, domain coverage."""
    zone = get_settings().timezone
    scope = _scope(viewer)
    trend = trend_quarters(period)
    bounds = [_utc_bounds(q.start, q.end) for q in trend]
    created = " ".join(f"WHEN o.created_at >= '{a.isoformat()}' AND o.created_at < "
                       f"'{b.isoformat()}' THEN {k}" for k, (a, b) in enumerate(bounds))
    ahead = liability_quarters(as_of)
    close_quarter = " ".join(f"WHEN o.expected_close_date BETWEEN '{q.start}' AND '{q.end}' "
                             f"THEN '{q.label}'" for q in ahead)
    p = {"start": period.start, "end": period.end, "as_of": as_of,
         "low": bounds[0][0], "high": bounds[-1][1]}
    won = "o.stage = 'closed_won' AND o.actual_close_date BETWEEN %(start)s AND %(end)s"
    lost = "o.stage = 'closed_lost' AND o.actual_close_date BETWEEN %(start)s AND %(end)s"
    open_ = f"o.stage IN {OPEN}"
    if viewer.sees_everything:
        partners = "true"
    else:
        partners = (f"(p.owner_id = '{viewer.id}' OR p.id IN (SELECT o.partner_id "
                    f"FROM opportunities o WHERE {scope}))")
    return [
        *_kpi_sql(period, as_of, viewer, zone),
        (f"""SELECT p.id, p.name, p.domain,
                    count(*) FILTER (WHERE {open_}), sum(o.deal_value) FILTER (WHERE {open_}),
                    sum(o.deal_value * o.probability / 100) FILTER (WHERE {open_}),
                    count(*) FILTER (WHERE {won}), sum(o.deal_value) FILTER (WHERE {won}),
                    count(*) FILTER (WHERE {lost})
             FROM opportunities o JOIN isv_partners p ON p.id = o.partner_id
             WHERE {scope} GROUP BY p.id, p.name, p.domain""", p),
        (f"""SELECT o.partner_id, sum(o.deal_value * pct / 100),
                    array_agg(o.id) FILTER (WHERE pct IS NULL)
             FROM opportunities o
             LEFT JOIN commission_structures own ON own.id = o.commission_structure_id,
             LATERAL (SELECT coalesce(own.commission_percentage,
                                      {_rule_pct('o.actual_close_date')}) AS pct) s
             WHERE {won} AND {scope} GROUP BY o.partner_id""", p),
        (f"""SELECT CASE {created} END, p.domain, count(*), sum(o.deal_value)
             FROM opportunities o JOIN isv_partners p ON p.id = o.partner_id
             WHERE o.created_at >= %(low)s AND o.created_at < %(high)s AND {scope}
             GROUP BY 1, 2""", p),
        # The rule as one join (DISTINCT ON picks each deal's structure): ten times faster
        # here than a LATERAL subquery per open deal.
        (f"""WITH deals AS (
                 SELECT o.id, o.partner_id, o.deal_value, o.probability, o.expected_close_date,
                        o.commission_structure_id, GREATEST(o.expected_close_date, %(as_of)s)
                        AS close_on
                 FROM opportunities o WHERE {open_} AND {scope}),
             rule AS (
                 SELECT DISTINCT ON (d.id) d.id, cs.commission_percentage
                 FROM deals d JOIN commission_structures cs ON cs.partner_id = d.partner_id
                 WHERE d.commission_structure_id IS NULL AND cs.effective_from <= d.close_on
                   AND (cs.effective_to IS NULL OR d.close_on <= cs.effective_to)
                   AND cs.min_deal_size <= d.deal_value
                   AND (cs.max_deal_size IS NULL OR d.deal_value <= cs.max_deal_size)
                 ORDER BY d.id, cs.effective_from DESC, cs.commission_percentage DESC)
             SELECT bucket, partner_id, count(*), sum(weighted), sum(weighted * pct / 100),
                    count(*) FILTER (WHERE pct IS NULL),
                    sum(weighted) FILTER (WHERE pct IS NULL)
             FROM (SELECT o.partner_id, o.deal_value * o.probability / 100 AS weighted,
                          CASE WHEN o.expected_close_date IS NULL THEN 'undated'
                               WHEN o.expected_close_date < %(as_of)s THEN 'slipped'
                               {close_quarter} ELSE 'later' END AS bucket,
                          coalesce(own.commission_percentage, r.commission_percentage) AS pct
                   FROM deals o
                   LEFT JOIN commission_structures own ON own.id = o.commission_structure_id
                   LEFT JOIN rule r ON r.id = o.id) d
             GROUP BY 1, 2""", p),
        (f"""SELECT p.domain, p.id, p.name, count(o.id), sum(o.deal_value)
             FROM isv_partners p LEFT JOIN opportunities o
               ON o.partner_id = p.id AND {open_} AND {scope}
             WHERE {partners} GROUP BY 1, 2, 3""", p),
    ]


def _team_sql(period: Period, as_of: date, viewer: Viewer) -> list[tuple[str, dict]]:
    """The team view: the KPIs and the dashboard's per-person rows."""
    return [*_kpi_sql(period, as_of, viewer, get_settings().timezone),
            *_breakdown_sql(period, as_of, viewer)[-2:]]


def raw_run(conn: psycopg.Connection, statements: list[tuple[str, dict]]) -> list[list]:
    """Run hand-written statements in one transaction on an open psycopg connection."""
    with conn.transaction(), conn.cursor() as cur:
        results = []
        for sql, params in statements:
            cur.execute(sql, params)
            results.append(cur.fetchall())
        return results


def _dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


# --- the run ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class DataBench:
    """An analytics page's data function and its hand-written lower bound."""

    page: str
    fn: Callable[..., Any]
    sql: Callable[[Period, date, Viewer], list[tuple[str, dict]]]


DATA = (
    DataBench("executive dashboard", dashboard_data, _dashboard_sql),
    DataBench("pipeline analytics", pipeline_analytics, _pipeline_sql),
    DataBench("partner analytics", partner_analytics, _partner_sql),
    DataBench("team view", team_view, _team_sql),
)
WHO = ("VP", "partnership manager")


@dataclass(frozen=True)
class DataTiming:
    page: str
    who: str
    data_s: float
    lower_s: float
    statements: int
    raw_statements: int
    warm_s: float
    warm_statements: int

    @property
    def ratio(self) -> float:
        return self.data_s / self.lower_s


def _cents(value: object) -> Decimal:
    return Decimal(value or 0).quantize(Decimal("0.01"))


def check_same_numbers(conn: psycopg.Connection, url: str, period: Period, as_of: date,
                       viewer: Viewer) -> None:
    """Before timing: the lower bound finds the same numbers as our code (same data, period)."""
    with session_scope(url) as s:
        kpis = compute_kpis(session=s, viewer=viewer, period=period, as_of=as_of)
        pipe = pipeline_analytics(session=s, viewer=viewer, period=period, as_of=as_of)
        partners = partner_analytics(session=s, viewer=viewer, period=period, as_of=as_of)
        team = team_view(session=s, viewer=viewer, period=period, as_of=as_of)
    raw = raw_run(conn, _dashboard_sql(period, as_of, viewer))
    pipeline = sum((row[3] for row in raw[0] if row[0] in OPEN_STAGES), Decimal(0))
    assert pipeline == kpis.pipeline_total, (pipeline, kpis.pipeline_total)
    commission = (raw[1][0][0] or 0) + (raw[2][0][0] or 0)
    assert commission == kpis.commission_earned, (commission, kpis.commission_earned)

    raw = raw_run(conn, _pipeline_sql(period, as_of, viewer))[-4:]
    stays = {(stage, still, synthesized): (n, average, median)
             for stage, still, synthesized, n, average, median in raw[0]}
    for t in pipe.stage_times:
        n, average, median = stays.get((t.stage, False, False), (0, None, None))
        assert (n, _days(average), _days(median)) == (
            t.moved_count, t.moved_avg_days, t.moved_median_days), (t, n, average, median)
        n, average, median = stays.get((t.stage, True, False), (0, None, None))
        assert (n, _days(average), _days(median)) == (
            t.open_count, t.open_avg_days, t.open_median_days), (t, n, average, median)
    assert sum(row[2] for row in raw[1]) == pipe.kpis.pipeline_total
    assert _cents(sum(row[3] for row in raw[1])) == _cents(pipe.kpis.pipeline_weighted)
    assert {(row[0], row[3], row[5]) for row in raw[2]} == {
        (r.partner_id, r.won_count, r.lost_count) for r in pipe.win_loss}
    assert sum(row[2] for row in raw[3]) == sum(r.count for r in pipe.lost_reasons)

    raw = raw_run(conn, _partner_sql(period, as_of, viewer))[-5:]
    earned = {row[0]: _cents(row[1]) for row in raw[1]}
    assert earned == {p.partner_id: _cents(p.commission_earned) for p in partners.partners
                      if p.won_count}, "commission by partner"
    assert sum(row[2] for row in raw[2]) == sum(r.count for r in partners.trend)
    assert _cents(sum(row[4] or 0 for row in raw[3])) == _cents(partners.liability.total)
    assert sum(row[5] for row in raw[3]) == sum(b.unpriced_count
                                                for b in partners.liability.buckets)
    assert sum(row[3] for row in raw[4]) == sum(p.open_count for d in partners.coverage
                                                for p in d.partners)

    raw = raw_run(conn, _team_sql(period, as_of, viewer))[-2:]
    assert {row[0]: _cents(row[3]) for row in raw[0]} == {
        r.user_id: _cents(r.pipeline) for r in team.people if r.open_count or r.won_count}


def _days(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.0001"))


def measure(url: str, runs: int) -> tuple[list[DataTiming], dict[str, object]]:
    today = local_today()
    period = quarter_containing(today)
    with session_scope(url) as s:
        vp = Viewer.of(s.scalars(select(User).where(User.role == "vp")).first())
        pm = Viewer.of(s.scalars(select(User).where(User.role == "partnership_manager")
                                 .order_by(User.email)).first())
        counts = {"opportunities": s.scalar(select(func.count()).select_from(Opportunity)),
                  "stage_history": s.scalar(select(func.count()).select_from(StageHistory))}
        kpis = compute_kpis(session=s, viewer=vp, period=period, as_of=today)
    conn = psycopg.connect(_dsn(url), autocommit=True)  # like the pool: connected once
    for viewer in (vp, pm):
        check_same_numbers(conn, url, period, today, viewer)

    timings = []
    for bench in DATA:
        for who, viewer in zip(WHO, (vp, pm), strict=True):
            def ours(viewer=viewer, fn=bench.fn):
                with session_scope(url) as s:
                    return fn(session=s, viewer=viewer, period=period, as_of=today)

            statements = bench.sql(period, today, viewer)

            def lower(statements=statements):
                return raw_run(conn, statements)

            def warm(viewer=viewer, fn=bench.fn):
                return cached.load(fn, viewer=viewer, share="scope", period=period,
                                   as_of=today, url=url)

            with StatementCounter() as counter:
                ours()
            # Interleaved, so that load from elsewhere on the machine hits both alike.
            ours_s, lower_s = _paired_medians(ours, lower, runs)
            warm()  # fills the shared cache
            with StatementCounter() as warm_counter:
                warm_s = _median(warm, runs)
            timings.append(t := DataTiming(bench.page, who, ours_s, lower_s, counter.count,
                                           len(statements), warm_s, warm_counter.count))
            print(f"  {t.page:<20} {t.who:<20} data {t.data_s * 1000:8.1f} ms  raw SQL "
                  f"{t.lower_s * 1000:8.1f} ms  ratio {t.ratio:.2f}  statements "
                  f"{t.statements} (raw {t.raw_statements})  warm {t.warm_s * 1000:.2f} ms, "
                  f"{t.warm_statements} statements", flush=True)
    conn.close()
    backend = "Redis" if get_settings().redis_url else "in-process"
    facts = {**counts, "won_in_quarter": kpis.won_count, "period": period.label,
             "no_structure": len(kpis.no_structure), "cache": backend}
    return timings, facts


# --- warm page reruns against the framework floor --------------------------------------------



@dataclass(frozen=True)
class PageBench:
    """An analytics page and the functions (module.attribute) it reads all its data through."""

    page: str
    loaders: tuple[str, ...]


# Every analytics page reads its data through kpi.load and its filter choices through
# kpi.load_options.
LOADERS = ("isv.ui.kpi.load", "isv.ui.kpi.load_options")
ANALYTICS_PAGES = (
    PageBench("pages/dashboard.py", LOADERS),
    PageBench("pages/pipeline_analytics.py", LOADERS),
    PageBench("pages/partner_analytics.py", LOADERS),
    PageBench("pages/team_view.py", LOADERS),
)
POLL = "isv.analytics.cached.data_version"  # the live-update fragment's check, every rerun


@dataclass(frozen=True)
class PageTiming:
    page: str
    rerun_s: float
    floor_s: float
    statements: int
    floor_statements: int


def _recorder(target: str) -> tuple[Any, list[object]]:
    module, name = target.rsplit(".", 1)
    real = getattr(import_module(module), name)
    seen: list[object] = []

    def record(*args: object, **kwargs: object) -> object:
        seen.append(value := real(*args, **kwargs))
        return value

    return mock.patch(target, record), seen


def _replayer(target: str, values: list[object]) -> Any:
    # Every rerun calls the loaders in the same order, so the values come round in turn.
    turn = itertools.cycle(values)
    return mock.patch(target, lambda *args, **kwargs: next(turn))


def page_rerun(bench: PageBench, runs: int) -> PageTiming:
    """A warm rerun of the page against the same page fed the constants it just drew."""
    email, password = next((e, p) for e, p, role, _ in DEMO_LOGINS if role == "vp")
    with app_as_on_a_server():
        at = signed_in_app(bench.page, email, password)
        at.run()  # warm: both caches hold this page's data now
        recorders = [_recorder(target) for target in (*bench.loaders, POLL)]
        for patcher, _ in recorders:
            patcher.start()
        at.run()
        for patcher, _ in recorders:
            patcher.stop()
        floor = [_replayer(target, seen) for target, (_, seen)
                 in zip((*bench.loaders, POLL), recorders, strict=True)]

        def as_floor() -> None:
            for patcher in floor:
                patcher.start()
            try:
                at.run()
            finally:
                for patcher in floor:
                    patcher.stop()

        with StatementCounter() as counter:
            at.run()
        with StatementCounter() as floor_counter:
            as_floor()
        rerun_s, floor_s = _paired_medians(at.run, as_floor, runs)
        if at.exception:
            raise RuntimeError(f"{bench.page} failed: {at.exception}")
        return PageTiming(bench.page, rerun_s, floor_s, counter.count, floor_counter.count)


def page_reruns(url: str, runs: int) -> list[PageTiming]:
    timings = []
    with restoring_database():
        use_database(url)  # the app under AppTest reads its database from the environment
        try:
            for bench in ANALYTICS_PAGES:
                timings.append(t := page_rerun(bench, runs))
                print(f"  {t.page:<30} warm rerun {t.rerun_s * 1000:7.1f} ms  floor "
                      f"{t.floor_s * 1000:7.1f} ms  ratio {t.rerun_s / t.floor_s:.2f}  "
                      f"statements {t.statements} (floor {t.floor_statements})")
        finally:
            get_engine(url).dispose()
    return timings


def machine() -> str:
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return f"{os.cpu_count()} CPUs (nproc), {pages / 2**30:.1f} GiB RAM"


def main(argv: list[str] | None = None) -> list[DataTiming]:
    parser = argparse.ArgumentParser(prog="python -m bench.analytics", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--opportunities", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", metavar="URL",
                        help="use this already loaded PostgreSQL database instead of a new one")
    parser.add_argument("--pages-only", action="store_true",
                        help="only the warm page reruns against the framework floor")
    parser.add_argument("--data-only", action="store_true",
                        help="only the pages' data against the raw SQL lower bound")
    args = parser.parse_args(argv)

    def run(url: str) -> tuple[list[DataTiming], dict[str, object]]:
        timings: list[DataTiming] = []
        facts: dict[str, object] = {}
        if not args.pages_only:
            print("  data (uncached) vs raw SQL lower bound, median of paired runs:")
            timings, facts = measure(url, args.runs)
        if not args.data_only:
            print("  page reruns, VP, median of paired runs:")
            page_reruns(url, args.runs)
        return timings, facts

    print(f"analytics, PostgreSQL, {args.opportunities:,} demo opportunities; {machine()}")
    if args.keep:
        timings, facts = run(args.keep)
    else:
        try:
            with postgres_database() as url:
                started = timer()
                migrate.upgrade(url)
                with session_scope(url) as s:
                    load_demo(session=s, opportunities=args.opportunities)
                    s.commit()
                # Statistics, as autovacuum would gather soon after a bulk load.
                with psycopg.connect(_dsn(url), autocommit=True) as conn:
                    conn.execute("ANALYZE")
                print(f"  loaded and analyzed in {timer() - started:.0f} s")
                timings, facts = run(url)
                get_engine(url).dispose()
        except Exception as exc:  # no server: say so instead of a traceback
            print(f"  skipped: {type(exc).__name__}: {str(exc).splitlines()[0]}")
            return []
    if timings:
        print(f"  {facts}")
        print("  | page | who | data ms | lower bound ms | ratio | statements (raw) | warm |")
        for t in timings:
            print(f"  | {t.page} | {t.who} | {t.data_s * 1000:,.0f} | {t.lower_s * 1000:,.0f} "
                  f"| {t.ratio:.2f} | {t.statements} ({t.raw_statements}) "
                  f"| {t.warm_s * 1000:.2f} ms, {t.warm_statements} statements |")
    return timings


if __name__ == "__main__":
    main()
