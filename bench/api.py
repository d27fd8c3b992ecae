"""The REST API at scale: every read endpoint, the KPIs against raw SQL, 20 clients at once.

    python -m bench api [--opportunities N] [--runs R] [--clients C] [--requests Q]
                        [--pause-ms P] [--database URL] [--workers W] [--clients-only]
                        [--pairs K]

On PostgreSQL with `isv demo --opportunities N` (default 100,000; a throwaway database on the
server at ISV_BENCH_POSTGRES_URL, VACUUM ANALYZEd, as bench/ui.py builds it; or an existing
database with --database), the API is started as `isv api` starts it (its own process,
uvicorn, 127.0.0.1) with the rate limits raised out of the way (they still count every call).
A client in this process (httpx, one kept-alive connection) then measures:

- every read endpoint as the VP (sees every deal), R times each after one warm-up, the
  endpoints taken in turn so that load from elsewhere falls on all alike: p50 and p95 of the
  client's wall time and of the server's own time (its `Server-Timing: app;dur=` header);
- `/dashboard/kpis` for this quarter against the raw-SQL lower bound of bench/analytics.py
  (`_kpi_sql`: the same KPIs hand-written for PostgreSQL, run on one open psycopg connection)
  for the VP and a partnership manager, paired run by run; the API's open pipeline and
  commission earned are first checked to equal the lower bound's;
- a mix of everyday reads (lists, single records, history, board, alerts, tasks) by one
  client, then by C clients at once (asyncio, a connection each), Q calls per client, each
  client sending its next call as soon as it has the answer (or, with --pause-ms P, after a
  pause of 0 to 2P ms): p50/p95, calls per second, errors (any answer but 200, or none);
  and what the calls cost in CPU: the API's processes (the uvicorn parent and its workers)
  and the PostgreSQL backends serving this database, in CPU milliseconds a call, with the
  machine's busy share over the phase (the rest of the machine's load shows there). With
  --pairs K the one-client and C-client phases are run K times in turn, back to back.

`--workers W` starts `isv api --workers W` (default: isv api's own, ISV_API_WORKERS or one a
core); `--clients-only` skips the endpoints and the KPIs, for before/after runs of the
concurrency part alone.

Goals (issue 13): one page of a list and a single record ≤ 50 ms p95; /dashboard/kpis ≤ 1.5×
the raw-SQL lower bound; 20 clients' p95 ≤ 2× one client's, 0 errors; the seed's "API
< 500 ms average". Times are milliseconds, p95 the nearest-rank percentile; the load average
is printed at the start and the end, as every figure here moves with it.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from bench.analytics import _dsn, _kpi_sql, raw_run
from bench.ui import cpu_seconds, demo_database, percentile
from isv import devserver
from isv.analytics.periods import quarter_containing
from isv.auth import Viewer
from isv.config import get_settings
from isv.db import get_engine, session_scope
from isv.demo import DEMO_LOGINS
from isv.models import OPEN_STAGES, User
from isv.services.settings import local_today

PASSWORDS = {email: password for email, password, _, _ in DEMO_LOGINS}
LIMIT_OUT_OF_THE_WAY = "1000000"
TIMING = re.compile(r"app;dur=([\d.]+)")
# One page of a list and a single record: the issue's ≤ 50 ms p95.
PAGE_GOAL_MS = 50
PAGE_AND_RECORD = ("GET /opportunities", "GET /opportunities/{id}", "GET /partners",
                   "GET /partners/{id}")
MIX = ("GET /opportunities", "GET /opportunities/{id}", "GET /opportunities/{id}/history",
       "GET /partners", "GET /partners/{id}", "GET /partners/{id}/opportunities",
       "GET /dashboard/pipeline", "GET /opportunities/pipeline", "GET /alerts", "GET /tasks",
       "GET /auth/me", "GET /users/{id}")


@dataclass(frozen=True)
class Call:
    label: str
    method: str
    path: str
    params: dict | None = None
    json: dict | None = None


@dataclass
class Samples:
    wall: list[float] = field(default_factory=list)
    server: list[float] = field(default_factory=list)
    errors: int = 0

    def add(self, wall_ms: float, answer: httpx.Response | None) -> None:
        if answer is None or answer.status_code != 200:
            self.errors += 1
            return
        self.wall.append(wall_ms)
        found = TIMING.search(answer.headers.get("server-timing", ""))
        if found:
            self.server.append(float(found[1]))


def _ms(values: list[float], p: float | None = None) -> str:
    if not values:
        return "—"
    return f"{statistics.median(values) if p is None else percentile(values, p):,.1f}"


# --- the server ------------------------------------------------------------------------------

@contextmanager
def api_server(url: str, workers: int | None = None) -> Iterator[tuple[str, int]]:
    """`isv api` on a free port on `url`, rate limits out of the way; yields (base, pid)."""
    port = devserver.free_port()
    env = {**os.environ, "ISV_DATABASE_URL": url,
           "ISV_API_RATE_PER_MINUTE": LIMIT_OUT_OF_THE_WAY,
           "ISV_API_LOGIN_RATE_PER_MINUTE": LIMIT_OUT_OF_THE_WAY}
    log = Path(tempfile.gettempdir()) / f"isv-bench-api-{port}.log"
    command = [sys.executable, "-m", "isv.cli", "api", "--port", str(port)]
    if workers:
        command += ["--workers", str(workers)]
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        with devserver.serving(command, env=env, health_url=f"{base}/health",
                               log=log) as proc:
            yield base, proc.pid
    finally:
        log.unlink(missing_ok=True)


def token(base: str, email: str) -> str:
    answer = httpx.post(f"{base}/auth/login", json={"email": email,
                                                    "password": PASSWORDS[email]}, timeout=60)
    answer.raise_for_status()
    return answer.json()["data"]["access_token"]


def send(client: httpx.Client, call: Call) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    answer = client.request(call.method, call.path, params=call.params, json=call.json)
    return (time.perf_counter() - started) * 1000, answer


# --- what is called ---------------------------------------------------------------------------

def read_calls(client: httpx.Client) -> list[Call]:
    """Every read endpoint, with real ids from the data: the most recently changed deal, the
    first partner, the caller's own user; this quarter and this week."""

    def first(path: str, **params) -> dict:
        answer = client.get(path, params=params)
        answer.raise_for_status()
        return answer.json()["data"]

    deal = first("/opportunities", per_page=1)[0]
    partner = first("/partners", per_page=1)[0]
    me = first("/auth/me")
    today = local_today()
    monday = (today - timedelta(days=today.weekday())).isoformat()
    quarter = quarter_containing(today).label
    return [
        Call("GET /health", "GET", "/health"),
        Call("GET /auth/me", "GET", "/auth/me"),
        Call("GET /users", "GET", "/users"),
        Call("GET /users/{id}", "GET", f"/users/{me['id']}"),
        Call("GET /partners", "GET", "/partners", {"per_page": 50}),
        Call("GET /partners/{id}", "GET", f"/partners/{partner['id']}"),
        Call("GET /partners/{id}/opportunities", "GET",
             f"/partners/{partner['id']}/opportunities", {"per_page": 50}),
        Call("GET /partners/{id}/commissions", "GET", f"/partners/{partner['id']}/commissions"),
        Call("POST /commissions/calculate", "POST", "/commissions/calculate", json={
            "partner_id": partner["id"], "deal_value": "120000.00",
            "close_date": today.isoformat()}),
        Call("GET /opportunities", "GET", "/opportunities", {"per_page": 50}),
        Call("GET /opportunities, filtered", "GET", "/opportunities",
             {"per_page": 50, "domain": "Security", "stage": ["poc", "proposal"],
              "sort": "-deal_value"}),
        Call("GET /opportunities, searched", "GET", "/opportunities",
             {"per_page": 50, "search": deal["customer_name"][:6]}),
        Call("GET /opportunities, page 100", "GET", "/opportunities",
             {"per_page": 50, "page": 100}),
        Call("GET /opportunities/{id}", "GET", f"/opportunities/{deal['id']}"),
        Call("GET /opportunities/{id}/history", "GET", f"/opportunities/{deal['id']}/history"),
        Call("GET /opportunities/pipeline", "GET", "/opportunities/pipeline"),
        Call("GET /dashboard/kpis", "GET", "/dashboard/kpis", {"period": quarter}),
        Call("GET /dashboard/pipeline", "GET", "/dashboard/pipeline"),
        Call("GET /status/weeks", "GET", "/status/weeks"),
        Call("GET /status/weeks/{weekStart}", "GET", f"/status/weeks/{monday}"),
        Call("GET /status/team/{weekStart}", "GET", f"/status/team/{monday}"),
        Call("GET /tasks", "GET", "/tasks"),
        Call("GET /goals", "GET", "/goals"),
        Call("GET /goals/team", "GET", "/goals/team"),
        Call("GET /alerts", "GET", "/alerts"),
    ]


def endpoints(client: httpx.Client, calls: list[Call], runs: int) -> dict[str, Samples]:
    """Each call R times after one warm-up, the calls taken in turn."""
    for call in calls:
        _, answer = send(client, call)
        if answer.status_code != 200:
            raise RuntimeError(f"{call.label}: {answer.status_code} {answer.text[:300]}")
    samples = {call.label: Samples() for call in calls}
    for _ in range(runs):
        for call in calls:
            wall, answer = send(client, call)
            samples[call.label].add(wall, answer)
    return samples


# --- /dashboard/kpis against the raw SQL lower bound -----------------------------------------

@dataclass(frozen=True)
class KpiTiming:
    who: str
    api: Samples
    lower_ms: list[float]

    @property
    def ratio(self) -> float:
        return statistics.median(self.api.wall) / statistics.median(self.lower_ms)

    @property
    def server_ratio(self) -> float:
        return statistics.median(self.api.server) / statistics.median(self.lower_ms)


def viewers(url: str) -> list[tuple[str, Viewer]]:
    """The first VP and the first partnership manager (by email) who can sign in."""
    with session_scope(url) as s:
        vp = s.scalars(select(User).where(User.role == "vp", User.email.in_(PASSWORDS))
                       .order_by(User.email)).first()
        pm = s.scalars(select(User).where(User.role == "partnership_manager",
                                          User.email.in_(PASSWORDS))
                       .order_by(User.email)).first()
        return [("VP", Viewer.of(vp)), ("partnership manager", Viewer.of(pm))]


def kpis_against_sql(base: str, url: str, runs: int) -> list[KpiTiming]:
    today = local_today()
    period = quarter_containing(today)
    zone = get_settings().timezone
    timings = []
    with psycopg.connect(_dsn(url), autocommit=True) as conn:  # connected once, as a pool
        for who, viewer in viewers(url):
            call = Call("GET /dashboard/kpis", "GET", "/dashboard/kpis",
                        {"period": period.label})
            statements = _kpi_sql(period, today, viewer, zone)
            with httpx.Client(base_url=base, timeout=120, headers={
                    "Authorization": f"Bearer {token(base, viewer.email)}"}) as client:
                # Same figures first: the open pipeline and the commission earned.
                _, answer = send(client, call)
                found = answer.json()["data"]
                raw = raw_run(conn, statements)
                lower = {"pipeline_total": sum((row[3] for row in raw[0]
                                                if row[0] in OPEN_STAGES), Decimal(0)),
                         "commission_earned": (raw[1][0][0] or 0) + (raw[2][0][0] or 0)}
                for key, value in lower.items():
                    if Decimal(found[key] or 0) != Decimal(value).quantize(Decimal("0.01")):
                        raise RuntimeError(f"{who}: API {key} {found[key]}, raw SQL {value}")
                api, lower_ms = Samples(), []
                for _ in range(runs):  # interleaved: load from elsewhere hits both alike
                    api.add(*send(client, call))
                    started = time.perf_counter()
                    raw_run(conn, statements)
                    lower_ms.append((time.perf_counter() - started) * 1000)
            timings.append(KpiTiming(who, api, lower_ms))
    return timings


# --- many clients at once -------------------------------------------------------------------

async def _client(base: str, bearer: str, calls: list[Call], offset: int, count: int,
                  pause_s: float, samples: Samples, start: asyncio.Event) -> None:
    spread = random.Random(offset)  # pauses vary, so that clients do not fall into step
    async with httpx.AsyncClient(base_url=base, timeout=120,
                                 headers={"Authorization": f"Bearer {bearer}"}) as client:
        await client.get("/auth/me")  # connected before the clock starts
        await start.wait()
        for n in range(count):
            call = calls[(offset + n) % len(calls)]
            started = time.perf_counter()
            try:
                answer = await client.request(call.method, call.path, params=call.params,
                                              json=call.json)
            except httpx.HTTPError:
                answer = None
            samples.add((time.perf_counter() - started) * 1000, answer)
            if pause_s:
                await asyncio.sleep(spread.uniform(0, 2 * pause_s))


async def _clients(base: str, bearer: str, calls: list[Call], clients: int, count: int,
                   pause_s: float) -> tuple[Samples, float]:
    samples, start = Samples(), asyncio.Event()
    tasks = [asyncio.create_task(_client(base, bearer, calls, n * 3, count, pause_s, samples,
                                         start))
             for n in range(clients)]
    await asyncio.sleep(0.5)  # every client connected and waiting
    started = time.perf_counter()
    start.set()
    await asyncio.gather(*tasks)
    return samples, time.perf_counter() - started


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants (uvicorn's parent and its workers), from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            total += cpu_seconds(pid)
        except (OSError, IndexError):
            pass  # gone since it was listed
    return total


def _machine() -> tuple[float, float]:
    """(busy, all) jiffies of the whole machine so far (/proc/stat)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]   # idle + iowait
    return sum(values) - idle, sum(values)


@dataclass
class Phase:
    clients: int
    samples: Samples
    wall_s: float
    api_cpu_s: float
    db_cpu_s: float
    machine_busy: float   # share of all cores busy, anyone's
    api_cpu_by_process: list[float] = field(default_factory=list)   # busiest first

    @property
    def calls(self) -> int:
        return len(self.samples.wall) + self.samples.errors


def _backends(conn: psycopg.Connection) -> list[int]:
    """The PostgreSQL backends of this database, except the bench's own."""
    return [pid for (pid,) in conn.execute(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid()")]


class BackendMeter:
    """CPU of this database's PostgreSQL backends over a phase, sampled every 0.2 s.

    The API's pools open connections beyond their size under load and close them after, so
    the backends at the end are not those at the start: each is read while it lives, from
    its CPU when first seen (0 for one that started during the phase).
    """

    def __init__(self, url: str) -> None:
        self._url = url
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}

    def _sample(self, conn: psycopg.Connection, *, start: bool = False) -> None:
        for pid in _backends(conn):
            try:
                used = cpu_seconds(pid)
            except (OSError, IndexError):
                continue
            self._first.setdefault(pid, used if start else 0.0)
            self._last[pid] = used

    def __enter__(self) -> BackendMeter:
        self._conn = psycopg.connect(_dsn(self._url), autocommit=True)
        self._sample(self._conn, start=True)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._done.wait(0.2):
            self._sample(self._conn)

    def __exit__(self, *_exc: object) -> None:
        self._done.set()
        self._thread.join()
        self._sample(self._conn)
        self._conn.close()

    @property
    def seconds(self) -> float:
        return sum(self._last[pid] - self._first[pid] for pid in self._last)


def concurrency(base: str, bearer: str, calls: list[Call], clients: int, requests: int,
                pause_ms: float, *, url: str, api_pid: int, pairs: int = 1) -> list[Phase]:
    """The mix by one client (`requests` × 2 calls), then by `clients` at once (`requests`
    calls each), each client pausing 0 to 2 × `pause_ms` after each answer; `pairs` times.

    Each phase also measures the CPU it cost: the API's processes, and the PostgreSQL
    backends of this database (the pool's connections, kept open across the phase).
    """
    mix = [c for c in calls if c.label in MIX]
    # Untimed: every worker answers the whole mix once first (the C connections spread over
    # them), so none pays its first calls' one-off costs (statement compiling, caches) inside
    # a timed phase; a worker's first calls cost several times its later ones.
    asyncio.run(_clients(base, bearer, mix, clients, len(mix), 0))
    results = []
    for _ in range(pairs):
        for n, count in ((1, requests * 2), (clients, requests)):
            api, busy = _tree(api_pid), _machine()
            api_before = {pid: _cpu([pid]) for pid in api}
            with BackendMeter(url) as database:
                samples, wall = asyncio.run(_clients(base, bearer, mix, n, count,
                                                     pause_ms / 1000))
            busy_after = _machine()
            share = (busy_after[0] - busy[0]) / max(1, busy_after[1] - busy[1])
            by_process = [_cpu([pid]) - before for pid, before in api_before.items()]
            results.append(Phase(n, samples, wall, sum(by_process), database.seconds, share,
                                 sorted(by_process, reverse=True)))
    return results


# --- the report -----------------------------------------------------------------------------

def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} / {five:.1f} / {fifteen:.1f} on {os.cpu_count()} cores"


def report(samples: dict[str, Samples], kpis: list[KpiTiming], crowd: list[Phase],
           runs: int) -> None:
    if samples:
        _report_endpoints(samples, kpis, runs)
    _report_crowd(crowd)


def _report_endpoints(samples: dict[str, Samples], kpis: list[KpiTiming], runs: int) -> None:
    print("\n| endpoint (VP) | n | wall p50 | wall p95 | server p50 | server p95 | goal |")
    print("|---|---|---|---|---|---|---|")
    for label, s in samples.items():
        goal = ""
        if label in PAGE_AND_RECORD:
            met = percentile(s.wall, 95) <= PAGE_GOAL_MS
            goal = f"p95 ≤ {PAGE_GOAL_MS} ms {'met' if met else 'missed'}"
        errors = f" ({s.errors} errors)" if s.errors else ""
        print(f"| {label} | {len(s.wall)}{errors} | {_ms(s.wall)} | {_ms(s.wall, 95)} | "
              f"{_ms(s.server)} | {_ms(s.server, 95)} | {goal} |")
    every = [v for s in samples.values() for v in s.wall]
    means = {label: statistics.fmean(s.wall) for label, s in samples.items() if s.wall}
    slowest = max(means, key=means.get)
    print(f"\nAverage of all {len(every):,} calls: {statistics.fmean(every):,.1f} ms; slowest "
          f"endpoint on average: {slowest} {means[slowest]:,.1f} ms (seed: < 500 ms average "
          f"{'met' if max(means.values()) < 500 else 'missed'}).")

    print("\n| /dashboard/kpis, this quarter | API wall p50 | API server p50 | raw SQL p50 "
          "| ratio (wall) | ratio (server) | goal ≤ 1.5 |")
    print("|---|---|---|---|---|---|---|")
    for t in kpis:
        print(f"| {t.who} | {_ms(t.api.wall)} | {_ms(t.api.server)} | {_ms(t.lower_ms)} | "
              f"{t.ratio:.2f} | {t.server_ratio:.2f} | {'met' if t.ratio <= 1.5 else 'missed'} |")
    print(f"(medians of {runs} paired runs)")


def _report_crowd(crowd: list[Phase]) -> None:
    print("\n| clients, mix of reads | calls | wall p50 | wall p95 | server p95 | calls/s | "
          "errors | p95 vs one client | CPU ms a call: API + PostgreSQL | machine busy |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    one = math.nan
    for phase in crowd:
        s = phase.samples
        if phase.clients == 1:
            one = percentile(s.wall, 95) if s.wall else math.nan
        ratio = percentile(s.wall, 95) / one if s.wall else math.nan
        goal = "" if phase.clients == 1 else (
            f" ({'met' if ratio <= 2 and not s.errors else 'missed'})")
        per_call = 1000 / max(1, phase.calls)
        print(f"| {phase.clients} | {phase.calls:,} | {_ms(s.wall)} | {_ms(s.wall, 95)} | "
              f"{_ms(s.server, 95)} | {phase.calls / phase.wall_s:,.0f} | {s.errors} | "
              f"{ratio:.2f}{goal} | {phase.api_cpu_s * per_call:.1f} + "
              f"{phase.db_cpu_s * per_call:.1f} | {100 * phase.machine_busy:.0f} % |")
    for phase in crowd[1::2]:
        split = " / ".join(f"{cpu:.1f}" for cpu in phase.api_cpu_by_process if cpu >= 0.05)
        print(f"API CPU seconds by process, {phase.clients} clients: {split} (the workers' "
              f"share of the calls: even if alike)")
    cores = os.cpu_count() or 1
    for phase in crowd[1::2]:
        cost = (phase.api_cpu_s + phase.db_cpu_s) / max(1, phase.calls)
        if cost:
            print(f"At {cost * 1000:.1f} CPU ms a call ({phase.clients} clients), {cores} "
                  f"cores answer at most {cores / cost:,.0f} calls/s; {phase.clients} calls "
                  f"always in flight then wait {1000 * phase.clients * cost / cores:,.0f} ms "
                  f"each on average (Little's law).")


@dataclass(frozen=True)
class Plan:
    runs: int
    clients: int
    requests: int
    pause_ms: float
    workers: int | None = None
    clients_only: bool = False
    pairs: int = 1


def measure(url: str, label: str, plan: Plan) -> None:
    workers = f"isv api --workers {plan.workers}" if plan.workers else "isv api's own workers"
    print(f"{label}; {workers}; load average {_load()}", flush=True)
    started = time.perf_counter()
    vp = next(e for e, _, role, _ in DEMO_LOGINS if role == "vp")
    samples: dict[str, Samples] = {}
    kpis: list[KpiTiming] = []
    with api_server(url, plan.workers) as (base, pid):
        bearer = token(base, vp)
        with httpx.Client(base_url=base, timeout=120,
                          headers={"Authorization": f"Bearer {bearer}"}) as client:
            calls = read_calls(client)
            if not plan.clients_only:
                print(f"  {len(calls)} read endpoints × {plan.runs} runs ...", file=sys.stderr,
                      flush=True)
                samples = endpoints(client, calls, plan.runs)
        if not plan.clients_only:
            print("  /dashboard/kpis against raw SQL ...", file=sys.stderr, flush=True)
            kpis = kpis_against_sql(base, url, plan.runs)
        print(f"  1 and {plan.clients} clients ...", file=sys.stderr, flush=True)
        crowd = concurrency(base, bearer, calls, plan.clients, plan.requests, plan.pause_ms,
                            url=url, api_pid=pid, pairs=plan.pairs)
    get_engine(url).dispose()
    report(samples, kpis, crowd, plan.runs)
    print(f"\nMeasured in {time.perf_counter() - started:.0f} s; load average at the end "
          f"{_load()}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--opportunities", type=int, default=100_000,
                        help="deals in the throwaway PostgreSQL database (default 100,000)")
    parser.add_argument("--runs", type=int, default=30, help="calls per endpoint (default 30)")
    parser.add_argument("--clients", type=int, default=20,
                        help="clients at once in the concurrency part (default 20)")
    parser.add_argument("--requests", type=int, default=50,
                        help="calls per client in the concurrency part (default 50)")
    parser.add_argument("--pause-ms", type=float, default=0,
                        help="each client's mean pause after an answer, 0 to 2× this "
                             "(default 0: every client always has a call in flight)")
    parser.add_argument("--database", help="use this existing PostgreSQL database (with the "
                                           "demo's people) instead of building one")
    parser.add_argument("--workers", type=int, help="isv api --workers W (default: isv api's "
                                                    "own, ISV_API_WORKERS or one a core)")
    parser.add_argument("--clients-only", action="store_true",
                        help="only the one-client and many-client phases")
    parser.add_argument("--pairs", type=int, default=1,
                        help="run the one-client and many-client phases this many times in "
                             "turn (default 1)")
    args = parser.parse_args(argv)
    plan = Plan(args.runs, args.clients, args.requests, args.pause_ms, args.workers,
                args.clients_only, args.pairs)
    print(f"bench.api: {args.runs} runs per endpoint, {args.clients} clients × "
          f"{args.requests} calls, pause {args.pause_ms:g} ms on average")
    if args.database:
        with get_engine(args.database).connect() as conn:
            deals = conn.exec_driver_sql("SELECT count(*) FROM opportunities").scalar_one()
        get_engine(args.database).dispose()
        measure(args.database, f"PostgreSQL, {deals:,} deals (given database)", plan)
        return
    try:
        with demo_database("postgresql", args.opportunities) as url:
            measure(url, f"PostgreSQL, {args.opportunities:,} deals", plan)
    except (OperationalError, psycopg.OperationalError) as exc:  # no server: say so
        print(f"  skipped: {type(exc).__name__}: {str(exc).splitlines()[0]}")


if __name__ == "__main__":
    main()
