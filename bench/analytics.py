"""The executive dashboard's data on 100,000 demo deals: our code vs the raw SQL lower bound.

    python -m bench.analytics [--opportunities N] [--runs R] [--keep URL]

On a throwaway PostgreSQL database (server at ISV_BENCH_POSTGRES_URL, as bench.demo_build)
loaded with `isv.demo.load_demo(opportunities=N)`, it measures

- dashboard: `isv.analytics.dashboard.dashboard_data` uncached (SQLAlchemy statements plus the
  Python that finishes them: KPIs of this quarter and the last, revenue by quarter, pipeline
  by domain, top partners, slipped deals, team), for the VP and for a partnership manager;
- raw SQL: the same aggregates hand-written for PostgreSQL and run through psycopg directly,
  with no ORM and no Python beyond fetching (commission by rule done in SQL with LATERAL):
  the lower bound of what any implementation has to wait for;
- warm rerun: the same call through the shared cache (isv.analytics.cached.load) once the
  result is cached: statements run (must be 0) and time.

Times are medians of R runs after one warm-up, wall-clock, one process; the ratio
dashboard / raw SQL is the figure to compare between machines.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import psycopg
from sqlalchemy import Engine, event, func, select

from bench.demo_build import postgres_database
from isv import migrate
from isv.analytics import cached
from isv.analytics.dashboard import dashboard_data, revenue_quarters
from isv.analytics.kpis import compute_kpis
from isv.analytics.periods import Period, previous, quarter_containing, quarters_within
from isv.auth import Viewer
from isv.config import get_settings
from isv.dates import local_today
from isv.db import get_engine, session_scope
from isv.demo import load_demo
from isv.models import OPEN_STAGES, Opportunity, StageHistory, User

OPEN = "('lead','demo','poc','proposal')"


@dataclass(frozen=True)
class Timing:
    label: str
    median_s: float
    statements: int


def _median(run: Callable[[], object], runs: int) -> float:
    run()  # warm-up: plans, caches, connections
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _paired_medians(first: Callable[[], object], second: Callable[[], object],
                    runs: int) -> tuple[float, float]:
    first()
    second()
    a, b = [], []
    for _ in range(runs):
        for run, times in ((first, a), (second, b)):
            started = time.perf_counter()
            run()
            times.append(time.perf_counter() - started)
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


def raw_dashboard(conn: psycopg.Connection, period: Period, as_of: date,
                  viewer: Viewer) -> list[list]:
    """Every aggregate of the dashboard, hand-written, on an open psycopg connection."""
    zone = get_settings().timezone
    statements = [*_kpi_sql(period, as_of, viewer, zone),
                  *_kpi_sql(previous(period), as_of, viewer, zone),
                  *_breakdown_sql(period, as_of, viewer)]
    with conn.transaction(), conn.cursor() as cur:
        results = []
        for sql, params in statements:
            cur.execute(sql, params)
            results.append(cur.fetchall())
        return results


def _dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


# --- the run ---------------------------------------------------------------------------------

def measure(url: str, runs: int) -> tuple[list[Timing], dict[str, object]]:
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
    raw = raw_dashboard(conn, period, today, vp)
    # The lower bound computes the same numbers (same data, same period).
    pipeline = sum((row[3] for row in raw[0] if row[0] in OPEN_STAGES), Decimal(0))
    assert pipeline == kpis.pipeline_total, (pipeline, kpis.pipeline_total)
    commission = (raw[1][0][0] or 0) + (raw[2][0][0] or 0)
    assert commission == kpis.commission_earned, (commission, kpis.commission_earned)

    timings = []
    for name, viewer in (("VP", vp), ("partnership manager", pm)):
        def ours(viewer=viewer):
            with session_scope(url) as s:
                return dashboard_data(session=s, viewer=viewer, period=period, as_of=today)

        def lower(viewer=viewer):
            return raw_dashboard(conn, period, today, viewer)

        with StatementCounter() as counter:
            ours()
        statements = counter.count
        # Interleaved, so that load from elsewhere on the machine hits both alike.
        ours_s, lower_s = _paired_medians(ours, lower, runs)
        timings.append(Timing(f"dashboard data, {name}", ours_s, statements))
        timings.append(Timing(f"raw SQL lower bound, {name}", lower_s,
                              len(_kpi_sql(period, today, viewer, "UTC")) * 2
                              + len(_breakdown_sql(period, today, viewer))))
    conn.close()

    def warm():
        return cached.load(dashboard_data, viewer=vp, share="scope", period=period,
                           as_of=today, url=url)

    warm()  # fills the shared cache
    with StatementCounter() as counter:
        warm_s = _median(warm, runs)
    backend = "Redis" if get_settings().redis_url else "in-process"
    timings.append(Timing(f"warm rerun ({backend} cache hit), VP", warm_s, counter.count))
    facts = {**counts, "won_in_quarter": kpis.won_count, "period": period.label,
             "no_structure": len(kpis.no_structure)}
    return timings, facts


def machine() -> str:
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return f"{os.cpu_count()} CPUs (nproc), {pages / 2**30:.1f} GiB RAM"


def main(argv: list[str] | None = None) -> list[Timing]:
    parser = argparse.ArgumentParser(prog="python -m bench.analytics", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--opportunities", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", metavar="URL",
                        help="use this already loaded PostgreSQL database instead of a new one")
    args = parser.parse_args(argv)

    print(f"dashboard data, PostgreSQL, {args.opportunities:,} demo opportunities; {machine()}")
    if args.keep:
        timings, facts = measure(args.keep, args.runs)
    else:
        try:
            with postgres_database() as url:
                started = time.perf_counter()
                migrate.upgrade(url)
                with session_scope(url) as s:
                    load_demo(session=s, opportunities=args.opportunities)
                # Statistics, as autovacuum would gather soon after a bulk load.
                with psycopg.connect(_dsn(url), autocommit=True) as conn:
                    conn.execute("ANALYZE")
                print(f"  loaded and analyzed in {time.perf_counter() - started:.0f} s")
                timings, facts = measure(url, args.runs)
                get_engine(url).dispose()
        except Exception as exc:  # no server: say so instead of a traceback
            print(f"  skipped: {type(exc).__name__}: {str(exc).splitlines()[0]}")
            return []
    print(f"  {facts}")
    for t in timings:
        print(f"  {t.label:<40} {t.median_s * 1000:9.1f} ms  {t.statements:3d} statements")
    for who in ("VP", "partnership manager"):
        ours = next(t for t in timings if t.label == f"dashboard data, {who}")
        lower = next(t for t in timings if t.label == f"raw SQL lower bound, {who}")
        print(f"  ratio dashboard / raw SQL, {who}: {ours.median_s / lower.median_s:.2f}")
    return timings


if __name__ == "__main__":
    main()
