"""`isv api --workers 2`, for real: the workers share one rate limit and answer one scrape,
and the kernel spreads new connections over both.

Each call opens a new connection, which the kernel hands to either worker. Counted in each
worker alone, a client would get through up to twice its limit; shared (in Redis when
configured, else in the workers' own file), exactly its limit. The client calls from a
loopback address of its own, so no other test's calls share its count in Redis.
"""

from __future__ import annotations

import os
import random
import sys
import time

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from isv import devserver
from tests.conftest import IN_CI, fresh_migrated

REDIS_URL = os.environ.get("ISV_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
LIMIT = 12
# One client for every call, keeping no connection open: each call opens a new one, which
# the kernel hands to either worker (and the client's TLS set-up is paid once, not per call).
FRESH_CONNECTIONS = httpx.Limits(max_keepalive_connections=0)
_client = httpx.Client(limits=FRESH_CONNECTIONS, timeout=10)


def _require_redis() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError:
        if IN_CI:
            pytest.fail(f"Redis is required in CI and did not answer at {REDIS_URL}")
        pytest.skip(f"no Redis answers at {REDIS_URL}")


@pytest.fixture(scope="module", params=["redis", "no redis"])
def two_workers(request, tmp_path_factory):
    """`isv api --workers 2` on a migrated SQLite database; yields its base URL."""
    tmp = tmp_path_factory.mktemp("workers")
    env = {**os.environ, "ISV_ENV": "test", "ISV_API_RATE_PER_MINUTE": str(LIMIT),
           "ISV_DATABASE_URL": fresh_migrated(request, "sqlite", tmp / "api.db")}
    env.pop("ISV_REDIS_URL", None)
    if request.param == "redis":
        _require_redis()
        env["ISV_REDIS_URL"] = REDIS_URL
    port = devserver.free_port()
    log = tmp / "api.log"
    proc = devserver.start([sys.executable, "-m", "isv.cli", "api", "--workers", "2",
                            "--port", str(port)], env=env, log=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while len(_worker_pids(base)) < 2:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, f"two workers not up in 90 s:\n{log.read_text()}"
            time.sleep(0.3)
        yield base
    finally:
        devserver.stop(proc, timeout=30)


def _scrape(base: str) -> list:
    try:
        answer = _client.get(f"{base}/metrics")
    except httpx.TransportError:
        return []
    return list(text_string_to_metric_families(answer.text))


def _worker_pids(base: str) -> set[str]:
    """The workers that have answered a call so far (each then has its metrics files)."""
    for _ in range(6):   # a new connection each time: reach both workers
        try:
            _client.get(f"{base}/api/v1/health")
        except httpx.TransportError:
            return set()
    return {sample.labels["pid"] for family in _scrape(base) for sample in family.samples
            if sample.name == "process_cpu_seconds_total"}


def _requests(base: str, route: str) -> float:
    return sum(sample.value for family in _scrape(base) for sample in family.samples
               if sample.name == "isv_api_request_seconds_count"
               and sample.labels["route"] == route)


def _one_minute_ahead() -> None:
    """Start well inside a minute: the limit's window must not turn mid-test."""
    if time.time() % 60 > 45:
        time.sleep(60 - time.time() % 60 + 0.5)


def test_the_two_workers_count_one_rate_limit_together(two_workers):
    address = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
    _one_minute_ahead()
    statuses = []
    transport = httpx.HTTPTransport(local_address=address, limits=FRESH_CONNECTIONS)
    with httpx.Client(transport=transport, timeout=10) as client:
        for _ in range(LIMIT + 6):
            statuses.append(client.get(f"{two_workers}/api/v1/auth/me").status_code)
    assert statuses == [401] * LIMIT + [429] * 6


def test_one_scrape_counts_the_calls_every_worker_answered(two_workers):
    before = _requests(two_workers, "/api/v1/health")
    for _ in range(10):
        assert _client.get(f"{two_workers}/api/v1/health").status_code == 200
    assert _requests(two_workers, "/api/v1/health") - before == 10
    families = {family.name: family for family in _scrape(two_workers)}
    pools = {s.labels["pid"] for s in families["isv_db_pool_limit"].samples}
    processes = {s.labels["pid"] for s in families["process_cpu_seconds"].samples}
    assert len(processes) == 2 and pools <= processes


def _cpu_by_worker(base: str) -> dict[str, float]:
    return {sample.labels["pid"]: sample.value for family in _scrape(base)
            for sample in family.samples if sample.name == "process_cpu_seconds_total"}


def test_new_connections_reach_both_workers(two_workers):
    """With one shared socket, calls one after another all went to the same worker."""
    before = _cpu_by_worker(two_workers)
    for _ in range(40):
        assert _client.get(f"{two_workers}/api/v1/health").status_code == 200
    after = _cpu_by_worker(two_workers)
    assert len(after) == 2
    # Each answered some of the 40 (a scrape alone costs a worker less than this).
    assert all(after[pid] - before.get(pid, 0) >= 0.02 for pid in after), (before, after)
