"""The shared cache and the data version: Redis (the real one) and in-process.

Every write of program data bumps the data version after its commit; a cached analytics
result is reused until then, without a single SQL statement.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import shutil
import threading
import time
import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
import redis
from sqlalchemy import Engine, event, select, update

from isv import cache
from isv.analytics import cached
from isv.analytics.dashboard import dashboard_data
from isv.analytics.kpis import Filters, compute_kpis
from isv.analytics.periods import previous, quarter_containing
from isv.analytics.pipeline import pipeline_analytics
from isv.auth import Viewer
from isv.config import get_settings
from isv.db import _factory, get_engine, session_scope
from isv.models import Partner, User
from isv.services import jobs, opportunities, partners, sessions, users
from isv.services.settings import local_today
from isv.types import utcnow

REDIS_URL = os.environ.get("ISV_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
IN_CI = os.environ.get("CI", "").lower() == "true"
SYSTEM = Viewer.system("tests")


def _require_redis() -> None:
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError:
        if IN_CI:
            pytest.fail(f"Redis is required in CI and did not answer at {REDIS_URL}")
        pytest.skip(f"no Redis answers at {REDIS_URL}")


def _forget_redis_keys(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(match=f"{prefix}*"))
    if keys:
        client.delete(*keys)


@pytest.fixture(params=["redis", "in-process"])
def store(request, tmp_path):
    """A Cache on the real Redis under a prefix of its own, or in-process."""
    if request.param == "redis":
        _require_redis()
        prefix = f"isv-test-{uuid.uuid4().hex}"
        yield cache.Cache(cache.RedisBackend(REDIS_URL), prefix=prefix)
        _forget_redis_keys(prefix)
    else:
        yield cache.Cache(cache.LocalBackend(tmp_path), prefix="isv-test")


class Counter:
    def __init__(self, value):
        self.calls = 0
        self.value = value

    def __call__(self):
        self.calls += 1
        return self.value


def test_a_result_is_computed_once_per_data_version(store):
    compute = Counter({"total": Decimal("12.50")})
    first = store.get_or_compute("db1", ("kpis", "2026Q3"), compute)
    again = store.get_or_compute("db1", ("kpis", "2026Q3"), compute)
    assert first == again == {"total": Decimal("12.50")}
    assert compute.calls == 1


def test_a_write_makes_the_next_request_recompute(store):
    compute = Counter("result")
    store.get_or_compute("db1", "key", compute)
    before = store.data_version("db1")
    assert store.bump("db1") > before
    store.get_or_compute("db1", "key", compute)
    assert compute.calls == 2


def test_threads_asking_for_the_same_missing_result_compute_it_once(store):
    """Sessions opening the same page after a change (or one and the background refresh)
    wait for one computation instead of each running the page's SQL."""
    calls, results = [], []
    started, release = threading.Event(), threading.Event()

    def compute():
        calls.append(1)
        started.set()
        release.wait(10)
        return "computed"

    def ask():
        results.append(store.get_or_compute("db1", "page", compute))

    first, second = threading.Thread(target=ask), threading.Thread(target=ask)
    first.start()
    assert started.wait(10)
    second.start()
    deadline = time.monotonic() + 2  # time enough for a second computation to begin
    while len(calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    first.join(10)
    second.join(10)
    assert results == ["computed", "computed"]
    assert len(calls) == 1


def test_different_questions_and_different_databases_do_not_share_results(store):
    store.get_or_compute("db1", ("kpis", "2026Q3"), lambda: "Q3")
    assert store.get_or_compute("db1", ("kpis", "2026Q2"), lambda: "Q2") == "Q2"
    assert store.get_or_compute("db2", ("kpis", "2026Q3"), lambda: "other db") == "other db"
    store.bump("db1")
    assert store.data_version("db2") == 0


def test_the_scheduler_and_the_app_read_and_bump_one_data_version():
    # The scheduler names itself in the URL; its writes (new alerts) must still refresh
    # what the app has cached for that database.
    from scheduler.main import scheduler_url

    app = "postgresql+psycopg://postgres@127.0.0.1:5432/isv"
    assert cache.database_key(scheduler_url(app)) == cache.database_key(app)
    assert cache.database_key(app) != cache.database_key(app.replace("/isv", "/other"))


def test_processes_on_one_machine_share_the_in_process_caches_data_version(tmp_path):
    app = cache.Cache(cache.LocalBackend(tmp_path))
    scheduler = cache.Cache(cache.LocalBackend(tmp_path))  # another process, same machine
    app.get_or_compute("db", "key", lambda: "old")
    scheduler.bump("db")
    assert app.data_version("db") == scheduler.data_version("db") != 0
    assert app.get_or_compute("db", "key", lambda: "new") == "new"


def test_counters_of_long_idle_databases_are_cleared_and_restart_above_any_old_version(tmp_path):
    old = cache.Cache(cache.LocalBackend(tmp_path))
    for _ in range(3):
        old.bump("gone")
    stale_version = old.data_version("gone")
    two_weeks_ago = time.time() - 14 * 24 * 3600
    for path in tmp_path.glob("counter-*"):
        os.utime(path, (two_weeks_ago, two_weeks_ago))
    fresh = cache.Cache(cache.LocalBackend(tmp_path))  # a new process starts
    assert fresh.data_version("gone") == 0
    assert fresh.bump("gone") > stale_version


def test_an_unreachable_redis_means_computing_every_time_never_an_error():
    down = cache.Cache(cache.RedisBackend("redis://127.0.0.1:1/0"))
    compute = Counter(42)
    assert down.get_or_compute("db", "key", compute) == 42
    assert down.get_or_compute("db", "key", compute) == 42
    assert compute.calls == 2


# --- the data version follows the database's writes -----------------------------------------

def _clear() -> None:
    get_settings.cache_clear()
    get_engine.cache_clear()
    _factory.cache_clear()
    cache._cache_for.cache_clear()


@pytest.fixture(params=["redis", "in-process"])
def app_db(request, sqlite_template, tmp_path, monkeypatch):
    """A committed database of this test's own, with the cache configured one way or the other."""
    path = tmp_path / "isv.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("ISV_DATABASE_URL", url)
    if request.param == "redis":
        _require_redis()
        monkeypatch.setenv("ISV_REDIS_URL", REDIS_URL)
    else:
        monkeypatch.delenv("ISV_REDIS_URL", raising=False)
    _clear()
    yield url
    database = cached.database()
    get_engine().dispose()
    if request.param == "redis":
        _forget_redis_keys(f"isv:{database}:")
    _clear()


def _add_partner(name: str = "Ledgerline") -> None:
    with session_scope() as s:
        partners.create_partner(session=s, viewer=SYSTEM, name=name, domain="FinOps")
        s.commit()


def test_a_committed_write_bumps_the_data_version(app_db):
    before = cached.data_version()
    _add_partner()
    assert cached.data_version() > before


def test_reading_and_rolled_back_writes_leave_the_data_version_alone(app_db):
    _add_partner()
    before = cached.data_version()
    with session_scope() as s:
        s.scalars(select(Partner)).all()
    with pytest.raises(RuntimeError), session_scope() as s:
        partners.create_partner(session=s, viewer=SYSTEM, name="Never", domain="FinOps")
        s.flush()
        raise RuntimeError("the use case fails after writing")
    assert cached.data_version() == before


def test_a_bulk_update_bumps_the_data_version_too(app_db):
    _add_partner()
    before = cached.data_version()
    with session_scope() as s:
        s.execute(update(Partner).values(notes="bulk"))
        s.commit()
    assert cached.data_version() > before


def test_signing_in_and_page_views_do_not_throw_the_cache_away(app_db):
    with session_scope() as s:
        users.create_user(session=s, viewer=SYSTEM, email="vera@example.com", first_name="Vera",
                          last_name="Vale", role="vp", password="correct-horse-battery")
        s.commit()
    before = cached.data_version()
    with session_scope() as s:
        user = sessions.authenticate(session=s, email="vera@example.com",
                                 password="correct-horse-battery")
        sessions.start_session(session=s, user=user, token="browser-1")
        s.commit()
    with session_scope() as s:  # the cookie route's one-time ticket, issued and redeemed
        ticket = sessions.issue_ticket(session=s, token="browser-1")
        s.commit()
    with session_scope() as s:
        cookie = sessions.redeem_ticket(session=s, ticket=ticket)
        s.commit()
    with session_scope() as s:
        sessions.authenticate(session=s, email="vera@example.com", password="wrong")
        s.commit()
    with session_scope() as s:  # a page view two minutes later refreshes last-seen
        assert sessions.check_session(session=s, token=cookie,
                                  now=utcnow() + timedelta(minutes=2)).viewer is not None
        s.commit()
    assert cached.data_version() == before
    with session_scope() as s:  # a real change to a user does count
        vera = s.scalar(select(User).where(User.email == "vera@example.com"))
        users.update_user(session=s, viewer=SYSTEM, user_id=vera.id, first_name="Vee")
        s.commit()
    assert cached.data_version() > before


def test_the_schedulers_heartbeat_and_run_records_do_not_make_pages_redraw(app_db):
    scheduler = Viewer.system("scheduler")
    before = cached.data_version()
    with session_scope() as s:
        jobs.claim_leadership(session=s, viewer=scheduler, instance_id="vm:1:a",
                              hostname="vm", pid=1)
        s.commit()
    for _ in range(3):  # every 5 s while it leads
        with session_scope() as s:
            jobs.heartbeat(session=s, viewer=scheduler, instance_id="vm:1:a")
            s.commit()
    with session_scope() as s:
        run_id = jobs.start_run(session=s, viewer=scheduler, job_name="alerts",
                                instance_id="vm:1:a")
        s.commit()
    with session_scope() as s:
        jobs.finish_run(session=s, viewer=scheduler, run_id=run_id, outcome="ok",
                        duration_ms=12, counts={"alerts": 0})
        s.commit()
    assert cached.data_version() == before
    _add_partner("Changed by a job")  # what a job changes still counts
    assert cached.data_version() > before


def _statements_on(url: str, request) -> list[str]:
    """The SQL statements run against `url` from now until the test ends, by any engine."""
    statements: list[str] = []

    def count(conn, _cursor, statement, *_args):
        if str(conn.engine.url) == url:
            statements.append(statement)

    # On the Engine class: whichever engine object the app opens for this database.
    event.listen(Engine, "before_cursor_execute", count)
    request.addfinalizer(lambda: event.remove(Engine, "before_cursor_execute", count))
    return statements


def test_a_cached_dashboard_rerun_runs_no_sql_until_the_data_changes(app_db, request):
    _add_partner()
    period = quarter_containing(local_today())
    statements = _statements_on(app_db, request)

    def load():
        return cached.load(dashboard_data, viewer=SYSTEM, share="scope", period=period,
                           as_of=local_today())

    first = load()
    assert statements and first.kpis.open_count == 0
    statements.clear()
    assert load() == first
    assert statements == []

    with session_scope() as s:
        partner = s.scalar(select(Partner))
        opportunities.create_opportunity(session=s, viewer=SYSTEM, partner_id=partner.id,
                                         customer_name="Acme", deal_value="1000")
        s.commit()
    statements.clear()
    assert load().kpis.open_count == 1
    assert statements


def test_a_fresh_servers_first_vp_finds_the_landing_dashboard_computed(app_db, request,
                                                                       monkeypatch):
    from isv.ui import kpi

    monkeypatch.setenv("ISV_ANALYTICS_REFRESH", "0")  # nothing else computing meanwhile
    get_settings.cache_clear()
    _add_partner()
    today = local_today()
    kpi.warm_landing(today)  # what serve.py starts with
    statements = _statements_on(app_db, request)
    vp = Viewer(id=uuid.uuid4(), email="vp@example.com", role="vp", name="Vera Park")
    period = quarter_containing(today)
    shown = kpi.load_dashboard(vp, period, Filters(), today)  # as the dashboard page asks
    assert statements == []
    with session_scope() as s:
        assert shown == dashboard_data(session=s, viewer=vp, period=period, as_of=today)


CALLS: list[str] = []


def open_deals(*, session, viewer, period, as_of) -> int:
    CALLS.append(viewer.email)
    return compute_kpis(session=session, viewer=viewer, period=period, as_of=as_of).open_count


def test_viewers_who_see_the_same_deals_share_scope_entries_and_a_manager_gets_their_own(app_db):
    with session_scope() as s:
        pm = users.create_user(session=s, viewer=SYSTEM, email="pia@example.com",
                               first_name="Pia", last_name="Park", role="partnership_manager")
        vp = users.create_user(session=s, viewer=SYSTEM, email="vera@example.com",
                               first_name="Vera", last_name="Vale", role="vp")
        partner = partners.create_partner(session=s, viewer=SYSTEM, name="Ledgerline",
                                          domain="FinOps", owner_id=pm.id)
        other = partners.create_partner(session=s, viewer=SYSTEM, name="Trustlayer",
                                        domain="Security")
        for owner in (partner, other):
            opportunities.create_opportunity(session=s, viewer=SYSTEM, partner_id=owner.id,
                                             customer_name="Acme", deal_value="1000")
        pm_viewer, vp_viewer = Viewer.of(pm), Viewer.of(vp)
        s.commit()
    period = quarter_containing(local_today())
    CALLS.clear()

    def load(viewer, share):
        return cached.load(open_deals, viewer=viewer, share=share, period=period,
                           as_of=local_today())

    assert [load(v, "scope") for v in (vp_viewer, SYSTEM, pm_viewer)] == [2, 2, 1]
    assert CALLS == ["vera@example.com", "pia@example.com"]   # the CLI reused the VP's
    CALLS.clear()
    assert [load(v, "viewer") for v in (vp_viewer, SYSTEM)] == [2, 2]
    assert CALLS == ["vera@example.com", "tests"]              # each their own


# --- what the cache stores: signed typed JSON, never pickle (issue 18, finding 4) -----------

class RunsACommand:
    """A pickle that, when loaded, creates a file: what the review's crafted entry did."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _write_raw(store, key, raw):
    """Put bytes straight into the store, as someone with access to Redis could."""
    if isinstance(store.backend, cache.RedisBackend):
        store.backend.client.set(key, raw, ex=60)
    else:
        store.backend.set(key, raw, 60)


def test_a_crafted_pickle_entry_runs_nothing_and_is_a_miss(store, tmp_path, caplog):
    marker = tmp_path / "pwned"
    key = store.key("db1", store.data_version("db1"), ("kpis", "2026Q3"))
    _write_raw(store, key, pickle.dumps(RunsACommand(marker)))
    compute = Counter({"total": Decimal("12.50")})
    with caplog.at_level("WARNING", logger="isv.cache"):
        value = store.get_or_compute("db1", ("kpis", "2026Q3"), compute)
    assert not marker.exists()
    assert value == {"total": Decimal("12.50")} and compute.calls == 1
    assert "refused" in caplog.text
    # The refused entry was replaced by a good one: the next request is a hit.
    assert store.get_or_compute("db1", ("kpis", "2026Q3"), compute) == value
    assert compute.calls == 1


def test_entries_signed_with_another_secret_or_moved_from_another_key_are_misses(store):
    parts, other = ("scope", "all"), ("scope", "own:pia")
    key = store.key("db1", 0, parts)
    forged = cache.Cache(store.backend, prefix=store.prefix, secret=b"not the app's secret")
    forged.get_or_compute("db1", parts, lambda: "forged")
    assert store.get_or_compute("db1", parts, lambda: "real") == "real"
    # A genuine entry copied under another key (another viewer's scope) is refused too.
    _write_raw(store, store.key("db1", 0, other), store.backend.get(key))
    assert store.get_or_compute("db1", other, lambda: "pia's own") == "pia's own"
    # And plain JSON, unsigned, is no entry at all.
    _write_raw(store, key, b'{"$": "decimal", "v": "1"}')
    assert store.get_or_compute("db1", parts, lambda: "again") == "again"


def test_a_value_of_a_type_the_cache_does_not_store_is_computed_each_time(store, caplog):
    compute = Counter(object())
    with caplog.at_level("WARNING", logger="isv.cache"):
        assert store.get_or_compute("db1", "key", compute) is compute.value
        store.get_or_compute("db1", "key", compute)
    assert compute.calls == 2
    assert "does not store builtins.object" in caplog.text


def _same(a, b, seen):
    """a and b are equal and of the same types all the way down (Decimal stays Decimal)."""
    assert type(a) is type(b), (a, b)
    seen.add(type(a))
    if dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            _same(getattr(a, f.name), getattr(b, f.name), seen)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            _same(a[k], b[k], seen)
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same(x, y, seen)
    elif isinstance(a, Decimal):
        assert a.as_tuple() == b.as_tuple()
    elif isinstance(a, datetime):
        assert a == b and a.utcoffset() == b.utcoffset()
    else:
        assert a == b


@pytest.mark.postgres
def test_every_kind_of_cached_result_comes_back_exactly(committed_url, tmp_path):
    from isv import demo
    from isv.analytics.breakdowns import filter_options
    from isv.analytics.kpis import Filters
    from isv.analytics.partners import partner_analytics
    from isv.analytics.pipeline import pipeline_analytics
    from isv.analytics.team import team_view
    from isv.services import settings
    from isv.services.opportunities import OpportunityFilters
    from isv.ui.board import load_board
    from isv.ui.pipeline import load_choices

    _require_redis()
    with session_scope(committed_url) as s:
        demo.load_demo(session=s, opportunities=60, seed=11, viewer=SYSTEM)
        settings.update_settings(session=s, viewer=SYSTEM, currency_symbol="€",
                                 alert_goal_milestones=[50, 90])
        s.commit()
    today = local_today()
    period = quarter_containing(today)
    analytics = {"period": period, "filters": Filters(), "as_of": today}
    reads = [
        (dashboard_data, analytics), (pipeline_analytics, analytics),
        (partner_analytics, analytics), (team_view, analytics), (filter_options, {}),
        (load_choices, {}), (load_board, {"filters": OpportunityFilters()}),
        (opportunities.list_opportunities, {"filters": OpportunityFilters(), "limit": 60}),
    ]
    prefix = f"isv-test-{uuid.uuid4().hex}"
    store = cache.Cache(cache.RedisBackend(REDIS_URL), prefix=prefix)
    seen: set[type] = set()
    try:
        for fn, kwargs in reads + [(None, {})]:
            def compute(fn=fn, kwargs=kwargs):
                with session_scope(committed_url) as s:
                    if fn is None:
                        return settings._stored(s)
                    return fn(session=s, viewer=SYSTEM, **kwargs)

            fresh = store.get_or_compute("db", (repr(fn), repr(kwargs)), compute)
            again = store.get_or_compute("db", (repr(fn), repr(kwargs)), Counter(None))
            _same(fresh, again, seen)
    finally:
        _forget_redis_keys(prefix)
        get_engine(committed_url).dispose()
    assert {Decimal, date, datetime, uuid.UUID, tuple, dict, list} <= seen


@pytest.fixture
def refresh_db(committed_url, monkeypatch):
    """A committed SQLite or PostgreSQL database, the in-process cache, refresh of 2 results."""
    monkeypatch.setenv("ISV_DATABASE_URL", committed_url)
    monkeypatch.delenv("ISV_REDIS_URL", raising=False)
    monkeypatch.setenv("ISV_ANALYTICS_REFRESH", "2")
    _clear()
    # Driven by the test, no thread; every result refreshed, however quick to compute.
    refresher = cached.Refresher(limit=2, min_seconds=0)
    monkeypatch.setattr(cached, "_refresher", refresher)
    yield committed_url, refresher
    get_engine().dispose()
    _clear()


def test_after_a_write_the_last_viewed_results_are_recomputed_and_the_next_view_shows_it(
        refresh_db, request):
    url, refresher = refresh_db
    _add_partner()
    today = local_today()  # reads saved settings now and then: not counted below
    period = quarter_containing(today)
    statements = []

    def count(conn, _cursor, statement, *_args):
        if conn.engine.url == get_engine().url:
            statements.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    request.addfinalizer(lambda: event.remove(Engine, "before_cursor_execute", count))

    def dashboard(filters=None):
        return cached.load(dashboard_data, viewer=SYSTEM, share="scope", period=period,
                           filters=filters, as_of=today)

    assert dashboard().kpis.open_count == 0
    assert refresher.refresh() == 0  # nothing changed, nothing recomputed
    with session_scope() as s:
        partner = s.scalar(select(Partner))
        opportunities.create_opportunity(session=s, viewer=SYSTEM, partner_id=partner.id,
                                         customer_name="Acme", deal_value="1000")
        s.commit()
    statements.clear()
    assert refresher.refresh() == 1
    assert statements  # the recomputation ran the dashboard's SQL, before anyone asked
    statements.clear()
    assert dashboard().kpis.open_count == 1  # the next view shows the write
    assert statements == []                  # and runs no SQL
    assert refresher.refresh() == 0


def test_a_refresh_waits_for_the_page_run_under_way_and_gives_way_to_one_that_starts(
        refresh_db, request, monkeypatch):
    _, refresher = refresh_db
    _add_partner()
    period = quarter_containing(local_today())
    name, parts, get = cached._entry(dashboard_data, SYSTEM, None, "scope",
                                     {"period": period, "filters": None, "as_of": local_today()})
    refresher.note(name, parts, get)
    _add_partner("Second")
    with cached.foreground():  # the rerun that shows the write goes first
        assert refresher.refresh(idle_timeout=0.3) == 0
    assert not cache.get_cache().has(name, parts)

    statements = _sql_counter(request)

    def page_starts(*_args):  # a person clicks while the refresh runs its first statements
        if len(statements) == 2:
            monkeypatch.setattr(cached, "_foreground_runs", 1)

    event.listen(Engine, "before_cursor_execute", page_starts)
    request.addfinalizer(lambda: event.remove(Engine, "before_cursor_execute", page_starts))
    assert refresher.refresh(idle_timeout=5) == 0
    assert len(statements) == 2  # stopped before its third statement
    assert not cache.get_cache().has(name, parts)
    monkeypatch.setattr(cached, "_foreground_runs", 0)  # the page run ended
    assert refresher.refresh(idle_timeout=5) == 1
    assert cache.get_cache().has(name, parts)


@pytest.fixture
def server_refresher(refresh_db, monkeypatch):
    """The refresher of refresh_db, keeping 2 results, with the server's cost threshold."""
    refresher = cached.Refresher(limit=2)
    monkeypatch.setattr(cached, "_refresher", refresher)
    _add_partner()
    return refresher


def _dashboard_of(domain: str):
    """The cache entry (name, parts, get) of this quarter's dashboard for one domain."""
    return cached._entry(dashboard_data, SYSTEM, None, "scope",
                         {"period": quarter_containing(local_today()), "as_of": local_today(),
                          "filters": Filters.of(domains=[domain])})


def test_only_results_slow_to_get_are_refreshed(server_refresher):
    refresher = server_refresher
    quick, slow = _dashboard_of("FinOps"), _dashboard_of("Security")
    refresher.note(*quick, cost=cached.REFRESH_MIN_SECONDS / 10)
    refresher.note(*slow, cost=cached.REFRESH_MIN_SECONDS * 2)
    refresher.note(*quick, cost=0.001)  # a hit later: still the quick one
    _add_partner("Second")
    assert refresher.refresh(idle_timeout=5) == 1
    assert cache.get_cache().has(slow[0], slow[1])
    assert not cache.get_cache().has(quick[0], quick[1])  # left to the next view


def test_quick_results_viewed_after_the_dashboard_do_not_push_it_out_of_the_refresh(
        server_refresher):
    """The grid and the board opened after two dashboards (limit 2): both are refreshed."""
    refresher = server_refresher
    slow = [_dashboard_of("FinOps"), _dashboard_of("Security")]
    for entry in slow:
        refresher.note(*entry, cost=cached.REFRESH_MIN_SECONDS * 4)
    for domain in ("DevOps", "Observability", "Data/Backup"):  # quick to get, viewed last
        refresher.note(*_dashboard_of(domain), cost=cached.REFRESH_MIN_SECONDS / 10)
    refresher.note(*slow[0], cost=0.001)  # a hit later: still a slow one, viewed last
    _add_partner("Second")
    assert refresher.refresh(idle_timeout=5) == 2
    assert all(cache.get_cache().has(name, parts) for name, parts, _get in slow)


def test_after_a_write_the_dashboard_is_refreshed_before_the_pages_viewed_after_it(
        server_refresher):
    """People come back to the dashboard between pages: it is ready first."""
    refresher = server_refresher
    order = []

    def recorded(label, entry):
        name, parts, get = entry
        return name, parts, lambda: (order.append(label), get())[1]

    refresher.note(*recorded("dashboard", _dashboard_of("FinOps")),
                   cost=cached.REFRESH_MIN_SECONDS * 2, landing=True)
    refresher.note(*recorded("later page", _dashboard_of("Security")),
                   cost=cached.REFRESH_MIN_SECONDS * 4)
    _add_partner("Second")
    assert refresher.refresh(idle_timeout=5) == 2
    assert order == ["dashboard", "later page"]


def test_only_the_last_viewed_results_are_refreshed(refresh_db):
    _, refresher = refresh_db
    _add_partner()
    period = quarter_containing(local_today())
    for domain in ("FinOps", "Security", "DevOps"):  # three results viewed; the limit is 2
        cached.load(dashboard_data, viewer=SYSTEM, share="scope", period=period,
                    filters=Filters.of(domains=[domain]), as_of=local_today())
    _add_partner("Second")
    assert refresher.refresh() == 2


def test_pipeline_analytics_after_the_dashboard_computes_no_quarters_kpis_again(
        refresh_db, monkeypatch):
    url, _ = refresh_db
    _add_partner()
    with session_scope() as s:
        partner = s.scalar(select(Partner))
        opportunities.create_opportunity(session=s, viewer=SYSTEM, partner_id=partner.id,
                                         customer_name="Acme", deal_value="1000")
        s.commit()
    today = local_today()
    period = quarter_containing(today)
    computed = []
    real = cached.compute_kpis

    def counting(**kwargs):
        computed.append(kwargs["period"])
        return real(**kwargs)

    monkeypatch.setattr(cached, "compute_kpis", counting)
    common = dict(viewer=SYSTEM, share="scope", period=period,
                  filters=Filters.of(domains=["FinOps"]), as_of=today)
    board = cached.load(dashboard_data, **common)
    assert sorted(computed, key=lambda p: p.start) == [previous(period), period]
    computed.clear()
    pipeline = cached.load(pipeline_analytics, **common)
    assert computed == []  # its quarter and the one before are the dashboard's
    assert pipeline.kpis == board.kpis
    with session_scope() as s:  # the shared numbers are the ones computed on their own
        direct = pipeline_analytics(session=s, viewer=SYSTEM, period=period,
                                    filters=Filters.of(domains=["FinOps"]), as_of=today)
    assert direct == pipeline
    assert direct.kpis.open_count == 1


@pytest.fixture
def prefetch_db(refresh_db, monkeypatch):
    """As refresh_db, with a prefetcher driven by the test (no thread)."""
    prefetcher = cached.Prefetcher()
    monkeypatch.setattr(cached, "_prefetcher", prefetcher)
    monkeypatch.setattr(cached, "IDLE_SECONDS", 0.05)
    event.listen(Engine, "before_cursor_execute", cached._give_way)
    yield refresh_db[0], prefetcher
    event.remove(Engine, "before_cursor_execute", cached._give_way)


def _sql_counter(request) -> list[str]:
    statements: list[str] = []

    def count(conn, _cursor, statement, *_args):
        if conn.engine.url == get_engine().url:
            statements.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    request.addfinalizer(lambda: event.remove(Engine, "before_cursor_execute", count))
    return statements


def test_a_prefetched_page_opens_with_the_same_filters_without_running_sql(
        prefetch_db, request):
    _, prefetcher = prefetch_db
    _add_partner()
    common = dict(viewer=SYSTEM, share="scope", period=quarter_containing(local_today()),
                  filters=Filters.of(domains=["FinOps"]), as_of=local_today())
    cached.prefetch(pipeline_analytics, **common)
    assert prefetcher.step(idle_timeout=5) is True   # computed while nothing else ran
    assert prefetcher.step(idle_timeout=5) is False  # and the queue is empty
    statements = _sql_counter(request)
    data = cached.load(pipeline_analytics, **common)
    assert statements == []
    assert data.kpis.open_count == 0


def test_nothing_is_prefetched_while_a_page_runs(prefetch_db, request):
    _, prefetcher = prefetch_db
    _add_partner()
    cached.prefetch(pipeline_analytics, viewer=SYSTEM, share="scope",
                    period=quarter_containing(local_today()), as_of=local_today())
    statements = _sql_counter(request)
    with cached.foreground():
        assert prefetcher.step(idle_timeout=0.3) is False
    assert statements == []
    assert prefetcher.step(idle_timeout=5) is True  # once the page run ended
    assert statements


def test_a_prefetch_queued_before_a_write_is_dropped_not_computed(prefetch_db, request):
    _, prefetcher = prefetch_db
    _add_partner()
    cached.prefetch(pipeline_analytics, viewer=SYSTEM, share="scope",
                    period=quarter_containing(local_today()), as_of=local_today())
    _add_partner("Second")
    statements = _sql_counter(request)
    assert prefetcher.step(idle_timeout=5) is True
    assert statements == []
    assert prefetcher.step(idle_timeout=5) is False


def test_only_the_newest_prefetches_are_kept(prefetch_db):
    _, prefetcher = prefetch_db
    _add_partner()
    period = quarter_containing(local_today())
    domains = ("FinOps", "Security", "DevOps", "Observability", "Data/Backup")
    for domain in domains:
        cached.prefetch(pipeline_analytics, viewer=SYSTEM, share="scope", period=period,
                        filters=Filters.of(domains=[domain]), as_of=local_today())
    done = 0
    while prefetcher.step(idle_timeout=5):
        done += 1
    assert done == cached.PREFETCH_QUEUE

    def stored(domain: str) -> bool:
        kwargs = dict(period=period, filters=Filters.of(domains=[domain]), as_of=local_today())
        return cache.get_cache().has(cached.database(), (
            pipeline_analytics.__module__, pipeline_analytics.__qualname__,
            cached.scope_key(SYSTEM), tuple(sorted(kwargs.items()))))

    kept = len(domains) - cached.PREFETCH_QUEUE
    assert [stored(d) for d in domains] == [False] * kept + [True] * cached.PREFETCH_QUEUE


@pytest.mark.parametrize("role, prepared", [
    ("vp", ["pipeline_analytics", "partner_analytics", "team_view"]),
    ("partnership_manager", ["pipeline_analytics", "partner_analytics"]),  # no Team view
])
def test_an_analytics_page_prepares_the_other_analytics_pages_its_viewer_may_open(
        prefetch_db, monkeypatch, role, prepared):
    from isv.ui import kpi

    queued = []
    monkeypatch.setattr(cached, "prefetch", lambda fn, **kwargs: queued.append(
        (fn.__name__, kwargs["filters"])))
    viewer = Viewer(id=uuid.uuid4(), email=f"{role}@example.com", role=role)
    filters = Filters.of(domains=["Security"])
    kpi.load_dashboard(viewer, quarter_containing(local_today()), filters, local_today())
    assert queued == [(name, filters) for name in prepared]


def test_a_page_run_starting_during_a_prefetch_stops_it_and_it_is_queued_again(
        prefetch_db, request, monkeypatch):
    _, prefetcher = prefetch_db
    _add_partner()
    common = dict(viewer=SYSTEM, share="scope", period=quarter_containing(local_today()),
                  as_of=local_today())
    cached.prefetch(pipeline_analytics, **common)
    statements = _sql_counter(request)

    def page_starts(*_args):  # a person clicks while the prefetch runs its first statements
        if len(statements) == 2:
            monkeypatch.setattr(cached, "_foreground_runs", 1)

    event.listen(Engine, "before_cursor_execute", page_starts)
    request.addfinalizer(lambda: event.remove(Engine, "before_cursor_execute", page_starts))
    assert prefetcher.step(idle_timeout=5) is True
    assert len(statements) == 2  # stopped before its third statement
    name, parts, _get = cached._entry(pipeline_analytics, SYSTEM, None, "scope",
                                      {k: v for k, v in common.items()
                                       if k not in ("viewer", "share")})
    assert not cache.get_cache().has(name, parts)
    monkeypatch.setattr(cached, "_foreground_runs", 0)  # the page run ended
    assert prefetcher.step(idle_timeout=5) is True
    assert cache.get_cache().has(name, parts)


def test_a_prefetch_that_a_page_waits_for_is_finished_not_abandoned(
        prefetch_db, request, monkeypatch):
    _, prefetcher = prefetch_db
    _add_partner()
    kwargs = dict(period=quarter_containing(local_today()), as_of=local_today())
    cached.prefetch(pipeline_analytics, viewer=SYSTEM, share="scope", **kwargs)
    name, parts, get = cached._entry(pipeline_analytics, SYSTEM, None, "scope", kwargs)
    statements = _sql_counter(request)
    views: list = []

    def page_opens_it(*_args):  # the person opens that page while it is being prefetched
        if len(statements) == 2 and not views:
            monkeypatch.setattr(cached, "_foreground_runs", 1)
            view = threading.Thread(target=lambda: views.append(get()))
            views.append(view)
            view.start()
            deadline = time.monotonic() + 10
            while not cache.get_cache().awaited(name, parts) and time.monotonic() < deadline:
                time.sleep(0.01)

    event.listen(Engine, "before_cursor_execute", page_opens_it)
    request.addfinalizer(lambda: event.remove(Engine, "before_cursor_execute", page_opens_it))
    assert prefetcher.step(idle_timeout=5) is True
    views[0].join(timeout=30)
    assert cache.get_cache().has(name, parts)
    assert views[1].kpis.open_count == 0  # the page got the result
    monkeypatch.setattr(cached, "_foreground_runs", 0)
    assert prefetcher.step(idle_timeout=1) is False  # finished, not abandoned and queued again
