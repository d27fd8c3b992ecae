"""Prometheus metrics: every instrument of every process, and the text a scrape reads.

One module so that the app replicas, the scheduler and the REST API count the same things
under the same names. Each process serves its own registry (prometheus_client's default):

- an app replica: GET /metrics on its own Streamlit server (isv/web.py). A replica is one
  process, so no multiprocess mode is needed, and replicas scaled with --scale are found by
  Prometheus through DNS on the same port. nginx answers /metrics with 404 from outside;
- the scheduler: its own small HTTP server on ISV_SCHEDULER_METRICS_PORT
  (scheduler/main.py), which also serves the deployment-wide gauges (DeploymentCollector,
  read by scheduler/gauges.py);
- the REST API: mount `endpoint` at /metrics (a Starlette/FastAPI route). With several
  worker processes (isv/api/workers.py) one port is served by whichever worker the kernel
  hands the connection, so the workers use prometheus_client's multiprocess mode: `isv api`
  sets PROMETHEUS_MULTIPROC_DIR to a fresh folder, each worker writes its samples to its
  own files there, and any worker answering a scrape sums them all. A port per worker was
  the other way; it would make Prometheus find N targets behind one compose service. The
  counters and histograms add up across workers as if one process had counted; the pool
  and process gauges, which belong to one worker, carry its `pid` label instead.

Labels hold only fixed vocabularies (page paths, job names, stages, outcomes): never an
email, a name, a partner or an id.
"""

from __future__ import annotations

import glob
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector
from sqlalchemy import Engine, event

from isv.config import get_settings

log = logging.getLogger(__name__)

# The seed's target is 2 s a page: buckets around it, so p95 against 2 s is read exactly.
PAGE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0)
# The API's target is a single record or one page of a list under 50 ms, the seed's average
# under 500 ms: buckets that read both.
API_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
JOB_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)

PAGE_SECONDS = Histogram(
    "isv_page_run_seconds", "Time to run a page script once, by page and outcome "
    "(ok, error, rerun, stopped).", ["page", "outcome"], buckets=PAGE_BUCKETS)
PAGE_ERRORS = Counter(
    "isv_page_errors_total", "Page runs that ended in an uncaught exception.", ["page"])
SIGN_INS = Counter(
    "isv_sign_ins_total", "Sign-in attempts by outcome (ok, wrong_password, unknown_user, "
    "locked, inactive).", ["outcome"])
LOCKOUTS = Counter(
    "isv_account_lockouts_total", "Accounts locked after too many failed sign-ins.")
CACHE_REQUESTS = Counter(
    "isv_cache_requests_total", "Shared-cache lookups by backend (redis, local) and result "
    "(hit, miss, error).", ["backend", "result"])
JOB_RUNS = Counter(
    "isv_job_runs_total", "Scheduled job runs by job and outcome (ok, failed).",
    ["job", "outcome"])
JOB_SECONDS = Histogram(
    "isv_job_duration_seconds", "How long a job run took, by job.", ["job"],
    buckets=JOB_BUCKETS)
SCHEDULER_LEADER = Gauge(
    "isv_scheduler_leader", "1 while this scheduler instance holds the leader lock "
    "(runs the jobs), 0 while it stands by.", multiprocess_mode="max")

API_SECONDS = Histogram(
    "isv_api_request_seconds", "Time to answer a REST API request, by route template (never "
    "the path with its ids), method and status class (2xx, 4xx, 5xx).",
    ["route", "method", "status"], buckets=API_BUCKETS)

PAGE_OUTCOMES = ("ok", "error", "rerun", "stopped")
SIGN_IN_OUTCOMES = ("ok", "wrong_password", "unknown_user", "locked", "inactive")
for _outcome in SIGN_IN_OUTCOMES:   # present at 0 from the start, so rates read from zero
    SIGN_INS.labels(_outcome)


def enabled() -> bool:
    """Whether this process records and serves metrics (ISV_METRICS, on by default)."""
    return get_settings().metrics_enabled


# --- pages ------------------------------------------------------------------------------

_pages_seen: set[str] = set()


def record_page(page: str, outcome: str, seconds: float) -> None:
    """Count one run of a page script; the UI frame times it and names its outcome."""
    if not enabled():
        return
    if page not in _pages_seen:
        # The page's error count shows 0 from its first run, not only after a first error.
        PAGE_ERRORS.labels(page)
        _pages_seen.add(page)
    if outcome == "error":
        PAGE_ERRORS.labels(page).inc()
    PAGE_SECONDS.labels(page, outcome if outcome in PAGE_OUTCOMES else "error").observe(seconds)


# --- events counted where they happen ---------------------------------------------------

def sign_in(outcome: str) -> None:
    SIGN_INS.labels(outcome if outcome in SIGN_IN_OUTCOMES else "other").inc()


def lockout() -> None:
    LOCKOUTS.inc()


def cache_lookup(backend: str, result: str) -> None:
    CACHE_REQUESTS.labels(backend, result).inc()


def declare_jobs(names: Iterable[str]) -> None:
    """Show every job's run counters at 0 before its first run (the scheduler's start)."""
    for name in names:
        for outcome in ("ok", "failed"):
            JOB_RUNS.labels(name, outcome)


def job_run(job: str, *, ok: bool, seconds: float) -> None:
    JOB_RUNS.labels(job, "ok" if ok else "failed").inc()
    JOB_SECONDS.labels(job).observe(seconds)


API_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


def api_request(route: str, method: str, status: int, seconds: float) -> None:
    """Count one API request; `route` is its template (/api/v1/tasks/{id}) or "unmatched"."""
    if not enabled():
        return
    API_SECONDS.labels(route, method if method in API_METHODS else "other",
                       f"{status // 100}xx").observe(seconds)


# --- the database pool ------------------------------------------------------------------

_ENGINES: weakref.WeakSet[Engine] = weakref.WeakSet()


def multiprocess_dir() -> str | None:
    """The folder of multiprocess mode (set by `isv api` for its workers), or None."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def watch_engine(engine: Engine) -> None:
    """Report this engine's pool (isv/db.py calls it for every engine it makes)."""
    _ENGINES.add(engine)
    if multiprocess_dir():
        _record_pool(engine)


_POOL_HELP = {
    "checked_out": "Database connections in use, by pool.",
    "overflow": "Connections opened beyond the pool size (negative: room left in the pool).",
    "limit": "The most connections the pool opens (pool size + max overflow).",
}
_pool_gauges: dict[str, Gauge] = {}


def _pool_gauge(name: str) -> Gauge:
    # Written to this worker's files, never to the registry (the scrape reads the files);
    # "liveall": one series per live worker, labelled with its pid.
    if name not in _pool_gauges:
        _pool_gauges[name] = Gauge(f"isv_db_pool_{name}", _POOL_HELP[name], ["pool"],
                                   registry=None, multiprocess_mode="liveall")
    return _pool_gauges[name]


def _record_pool(engine: Engine) -> None:
    """Keep this worker's pool gauges in its multiprocess files, at every checkout and checkin.

    The scrape may be answered by another worker, which cannot read this one's pool; so the
    pool writes its state as it changes. A checkin is reported before the connection is
    back in the pool, hence the one subtracted (and the overflow connection it closes when
    the pool is full).
    """
    pool = engine.pool
    if not all(hasattr(pool, m) for m in ("checkedout", "overflow", "size", "checkedin")):
        return
    name = _pool_name(engine)
    checked_out, overflow = _pool_gauge("checked_out"), _pool_gauge("overflow")
    _pool_gauge("limit").labels(name).set(pool.size() + getattr(pool, "_max_overflow", 0))
    checked_out.labels(name).set(pool.checkedout())
    overflow.labels(name).set(pool.overflow())

    # engine.pool at each event, not `pool`: dispose() replaces the pool, keeping its events.
    def checkout(*_args: Any) -> None:
        checked_out.labels(name).set(engine.pool.checkedout())
        overflow.labels(name).set(engine.pool.overflow())

    def checkin(*_args: Any) -> None:
        now = engine.pool
        checked_out.labels(name).set(max(0, now.checkedout() - 1))
        closes = now.checkedin() >= now.size()
        overflow.labels(name).set(now.overflow() - (1 if closes else 0))

    event.listen(pool, "checkout", checkout)
    event.listen(pool, "checkin", checkin)


class PoolCollector(Collector):
    """Connections checked out of each pool, its overflow, and its limit (size + overflow)."""

    def collect(self) -> Iterable[GaugeMetricFamily]:
        out = GaugeMetricFamily("isv_db_pool_checked_out",
                                "Database connections in use, by pool.", labels=["pool"])
        over = GaugeMetricFamily("isv_db_pool_overflow",
                                 "Connections opened beyond the pool size (negative: room "
                                 "left in the pool).", labels=["pool"])
        limit = GaugeMetricFamily("isv_db_pool_limit", "The most connections the pool opens "
                                  "(pool size + max overflow).", labels=["pool"])
        for name, pool in _pools():
            out.add_metric([name], pool.checkedout())
            over.add_metric([name], pool.overflow())
            limit.add_metric([name], pool.size() + getattr(pool, "_max_overflow", 0))
        yield from (out, over, limit)


def _pools() -> list[tuple[str, Any]]:
    found: dict[str, Any] = {}
    for engine in list(_ENGINES):
        pool = engine.pool
        if not all(hasattr(pool, m) for m in ("checkedout", "overflow", "size")):
            continue  # SQLite in memory, NullPool: nothing to watch
        found.setdefault(_pool_name(engine), pool)
    return sorted(found.items())


def _pool_name(engine: Engine) -> str:
    # The database's name, never the URL (it carries the password).
    database = Path(engine.url.database or "default").name
    app = engine.url.query.get("application_name")
    return f"{database}/{app}" if app else database


# --- deployment-wide gauges (served by the scheduler) ------------------------------------

class DeploymentCollector(Collector):
    """What the whole deployment holds, read from the database at most every `ttl` seconds.

    Business gauges come from the one KPI engine through the shared cache (isv.analytics
    .cached), so a scrape with no data change runs no analytics SQL; the rest are small
    indexed counts. Served by the scheduler alone, so one process answers for the deployment.
    """

    def __init__(self, read: Callable[[], list[GaugeMetricFamily]],
                 ttl: float = 10.0) -> None:
        self._read = read
        self._ttl = ttl
        self._lock = threading.Lock()
        self._at: float | None = None   # never read yet
        self._families: list[GaugeMetricFamily] = []
        self._up = 0

    def collect(self) -> Iterable[GaugeMetricFamily]:
        with self._lock:
            if self._at is None or time.monotonic() - self._at >= self._ttl:
                try:
                    self._families = self._read()
                    up = 1
                except Exception as exc:
                    log.warning("deployment metrics not read: %s",
                                (str(exc).strip().splitlines() or [type(exc).__name__])[0])
                    up = 0
                self._at = time.monotonic()
                self._up = up
            families = list(self._families)
            up = self._up
        ok = GaugeMetricFamily("isv_deployment_metrics_up", "1 when the last read of the "
                               "deployment-wide gauges from the database succeeded.")
        ok.add_metric([], up)
        return [*families, ok]


# --- serving ----------------------------------------------------------------------------

_registered: set[str] = set()
_register_lock = threading.Lock()


def register(name: str, collector: Collector) -> None:
    """Add a collector to this process's registry once (Streamlit reruns import again)."""
    with _register_lock:
        if name not in _registered:
            REGISTRY.register(collector)
            _registered.add(name)


def exposition(accept: str | None = None) -> tuple[bytes, str]:
    """This process's metrics as a scrape reads them: (body, content type).

    In multiprocess mode, every worker's: the files of all of them, and each live worker's
    CPU and memory.
    """
    encoder, content_type = choose_encoder(accept or "")
    folder = multiprocess_dir()
    if folder:
        return encoder(_workers_registry(folder)), content_type
    register("pool", PoolCollector())
    return encoder(REGISTRY), content_type


def _workers_registry(folder: str) -> CollectorRegistry:
    written = _pids(folder)
    for pid in written - _live(written):
        # A worker that died (and was replaced) leaves its gauges; its counts stay in the sums.
        mark_process_dead(pid, folder)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=folder)
    registry.register(WorkerProcessCollector(folder))
    return registry


def _pids(folder: str) -> set[int]:
    """The worker pids that wrote files here (counter_1234.db, gauge_liveall_1234.db)."""
    found = set()
    for path in glob.glob(os.path.join(folder, "*.db")):
        tail = os.path.basename(path)[:-3].rsplit("_", 1)[-1]
        if tail.isdigit():
            found.add(int(tail))
    return found


def _live(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        except PermissionError:
            pass    # alive, another user's
        alive.add(pid)
    return alive


class WorkerProcessCollector(Collector):
    """process_cpu_seconds_total and the rest for every live worker, labelled by pid.

    prometheus_client has no process metrics in multiprocess mode; the Grafana panels of CPU
    and memory by process would lose the API without them.
    """

    def __init__(self, folder: str) -> None:
        self._folder = folder

    def collect(self) -> Iterable[Metric]:
        families: dict[str, Metric] = {}
        for pid in sorted(_live(_pids(self._folder))):
            for family in ProcessCollector(pid=lambda pid=pid: pid, registry=None).collect():
                merged = families.setdefault(family.name, Metric(
                    family.name, family.documentation, family.type))
                for sample in family.samples:
                    merged.add_sample(sample.name, {**sample.labels, "pid": str(pid)},
                                      sample.value)
        return list(families.values())


def endpoint(request: Any) -> Any:
    """GET /metrics for a Starlette or FastAPI app; 404 when metrics are off."""
    from starlette.responses import Response

    if not enabled():
        return Response("metrics are off (ISV_METRICS=off)\n", status_code=404,
                        media_type="text/plain")
    body, content_type = exposition(request.headers.get("accept"))
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})


def serve(port: int, host: str = "0.0.0.0", *,
          deployment: Callable[[], list[GaugeMetricFamily]] | None = None) -> bool:
    """Serve /metrics on a port of this process's own (the scheduler); False if it is taken.

    `deployment` reads the deployment-wide gauges (scheduler/gauges.py): passed in, as it
    reads analytics and services, which import this module.
    """
    from prometheus_client import start_http_server

    register("pool", PoolCollector())
    if deployment is not None:
        register("deployment", DeploymentCollector(deployment))
    try:
        start_http_server(port, addr=host)
    except OSError as exc:
        log.warning("metrics not served on %s:%d: %s", host, port, exc.strerror or exc)
        return False
    log.info("metrics on http://%s:%d/metrics", host, port)
    return True
