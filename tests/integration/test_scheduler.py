"""The scheduler: job runs recorded, one leader per database, crashes roll back, takeover.

The last tests start real `python -m scheduler` processes against a PostgreSQL database of
their own, with schedules of seconds (ISV_ALERTS_CRON takes a seconds field), and kill them.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import create_engine, delete, insert, select, text
from sqlalchemy.pool import NullPool

from isv.auth import Viewer
from isv.config import PROJECT_ROOT, Settings
from isv.dates import monday_of
from isv.db import get_engine, session_scope
from isv.devserver import free_port
from isv.errors import Forbidden
from isv.models import (
    Alert,
    AlertCondition,
    AuditEntry,
    JobRun,
    Opportunity,
    Partner,
    SchedulerLeader,
    Task,
    User,
)
from isv.services import jobs
from isv.services.jobs import cron_trigger, previous_fire_time
from isv.services.settings import local_today
from scheduler import jobs as scheduler_jobs
from scheduler.leader import FileLock, PostgresAdvisoryLock
from scheduler.main import Sidecar
from tests.conftest import _require_postgres, fresh_migrated

SCHEDULER = Viewer.system("scheduler")
UTC_ZONE = ZoneInfo("UTC")


# --- schedules -------------------------------------------------------------------------

def test_crontab_weekday_numbers_mean_what_they_mean_in_cron():
    monday_night = cron_trigger("5 0 * * 1", UTC_ZONE)
    after = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)  # a Friday

    assert monday_night.get_next_fire_time(None, after) == datetime(2026, 11, 30, 0, 5,
                                                                   tzinfo=UTC)
    assert cron_trigger("0 9 * * 0", UTC_ZONE).get_next_fire_time(None, after).weekday() == 6
    assert cron_trigger("5 0 * * mon", UTC_ZONE).get_next_fire_time(None, after) == \
        monday_night.get_next_fire_time(None, after)


def test_a_sixth_field_is_seconds_and_an_unreadable_line_is_refused():
    every_two_seconds = cron_trigger("*/2 * * * * *", UTC_ZONE)
    start = datetime(2026, 11, 27, 12, 0, 1, tzinfo=UTC)
    assert every_two_seconds.get_next_fire_time(None, start) == start + timedelta(seconds=1)
    for bad in ("* * * *", "61 * * * *", "0 0 * * someday"):
        with pytest.raises(ValueError):
            cron_trigger(bad, UTC_ZONE)


def test_the_previous_fire_time_of_the_weekly_rollover_is_last_monday():
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    assert previous_fire_time(cron_trigger("5 0 * * mon", UTC_ZONE), now) == datetime(
        2026, 11, 23, 0, 5, tzinfo=UTC)


# --- the leader lock -------------------------------------------------------------------

def test_the_file_lock_admits_one_holder_at_a_time(tmp_path):
    first, second = FileLock(tmp_path / "db.scheduler-lock"), FileLock(
        tmp_path / "db.scheduler-lock")

    assert first.try_acquire() and first.still_held()
    assert not second.try_acquire()
    first.release()
    assert second.try_acquire()
    second.release()


def test_the_advisory_lock_admits_one_holder_per_database(pg_databases):
    _require_postgres()
    url, other_url = pg_databases.create(), pg_databases.create()
    first, second, elsewhere = (PostgresAdvisoryLock(url), PostgresAdvisoryLock(url),
                                PostgresAdvisoryLock(other_url))
    try:
        assert first.try_acquire() and first.still_held()
        assert not second.try_acquire()
        assert elsewhere.try_acquire()  # another database has a leader of its own
        first.release()
        assert second.try_acquire()
    finally:
        for lock in (first, second, elsewhere):
            lock.release()


# --- job runs, in process --------------------------------------------------------------

@pytest.fixture(params=["sqlite", "postgresql"])
def committed_url(request, tmp_path, migrated_sqlite_url):
    """A migrated database that job runs commit to (emptied of what these tests write)."""
    if request.param == "sqlite":
        template = Path(migrated_sqlite_url.split("///", 1)[1])
        path = tmp_path / "jobs.db"
        get_engine(migrated_sqlite_url).dispose()
        shutil.copy(template, path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("migrated_pg_url")
    yield url
    with session_scope(url) as session:
        for model in (JobRun, SchedulerLeader, Alert, AlertCondition):
            session.execute(delete(model))
        session.execute(delete(User).where(User.email.like("%@scheduler.test")))
        session.commit()
    get_engine(url).dispose()


def runs(url: str) -> list[JobRun]:
    with session_scope(url) as session:
        return list(session.scalars(select(JobRun).order_by(JobRun.started_at)))


def test_a_job_run_is_recorded_with_its_instance_timing_and_counts(committed_url):
    outcome = scheduler_jobs.run_job("alerts", url=committed_url, instance_id="host:1:abc")

    assert outcome.ok
    [run] = runs(committed_url)
    assert (run.job_name, run.instance_id, run.outcome) == ("alerts", "host:1:abc", "ok")
    assert run.finished_at >= run.started_at and run.duration_ms >= 0
    assert set(run.counts) >= {"conditions", "alerts", "opportunity_due", "task_overdue"}
    assert run.error is None


def test_a_failing_job_is_rolled_back_recorded_and_the_next_run_goes_ahead(committed_url,
                                                                         monkeypatch):
    def half_done_then_broken(session):
        session.add(User(email="half@scheduler.test", first_name="Half", last_name="Done",
                         role="sales_manager"))
        session.flush()
        raise RuntimeError("the partner feed is down")

    monkeypatch.setitem(scheduler_jobs.JOBS, "alerts", half_done_then_broken)
    failed = scheduler_jobs.run_job("alerts", url=committed_url, instance_id="host:1:abc")
    monkeypatch.undo()
    retried = scheduler_jobs.run_job("alerts", url=committed_url, instance_id="host:1:abc")

    assert not failed.ok and retried.ok
    first, second = runs(committed_url)
    assert first.outcome == "failed" and "the partner feed is down" in first.error
    assert second.outcome == "ok"
    with session_scope(committed_url) as session:
        assert session.scalar(select(User).where(User.email == "half@scheduler.test")) is None


def test_a_new_leader_closes_the_runs_a_dead_leader_left_open_but_not_a_once_run(
        committed_url):
    with session_scope(committed_url) as session:
        jobs.claim_leadership(session=session, viewer=SCHEDULER, instance_id="a:1:x",
                              hostname="a", pid=1)
        jobs.start_run(session=session, viewer=SCHEDULER, job_name="alerts",
                       instance_id="a:1:x")
        jobs.start_run(session=session, viewer=SCHEDULER, job_name="rollover",
                       instance_id="c:3:once")
        session.commit()
    with session_scope(committed_url) as session:
        closed = jobs.claim_leadership(session=session, viewer=SCHEDULER,
                                       instance_id="b:2:y", hostname="b", pid=2)
        session.commit()

    assert closed == 1
    outcomes = {run.instance_id: (run.outcome, run.error) for run in runs(committed_url)}
    assert outcomes["a:1:x"][0] == "failed" and "interrupted" in outcomes["a:1:x"][1]
    assert outcomes["c:3:once"] == ("running", None)


# A one-off run whose job hangs until it is killed: `python -m scheduler --once alerts`.
HANGING_ONCE = """
import sys, time
from pathlib import Path
from scheduler import jobs
from scheduler.main import main

def hangs(session):
    Path(sys.argv[1]).touch()
    time.sleep(120)  # killed long before
    return {}

jobs.JOBS["alerts"] = hangs
sys.exit(main(["--once", "alerts"]))
"""


def _close_by_next_one_off_run(url: str) -> None:
    assert scheduler_jobs.run_job("alerts", url=url, instance_id="here:1:once").ok


def _close_by_daemon_taking_the_lead(url: str) -> None:
    with session_scope(url) as session:
        jobs.claim_leadership(session=session, viewer=SCHEDULER, instance_id="b:2:y",
                              hostname="b", pid=2)
        session.commit()


def _close_by_system_page(url: str) -> None:
    with session_scope(url) as session:
        admin = User(email="admin@scheduler.test", first_name="Ada", last_name="Admin",
                     role="admin")
        session.add(admin)
        session.flush()
        jobs.close_abandoned_runs(session=session, viewer=Viewer.of(admin))
        session.commit()


@pytest.mark.parametrize("close", [_close_by_next_one_off_run, _close_by_daemon_taking_the_lead,
                                   _close_by_system_page])
def test_a_one_off_run_killed_mid_job_is_closed_as_interrupted(committed_url, tmp_path, close):
    marker = tmp_path / "working"
    with (tmp_path / "once.log").open("w") as log:
        once = subprocess.Popen([sys.executable, "-c", HANGING_ONCE, str(marker)],
                                cwd=PROJECT_ROOT, env={**os.environ,
                                                       "ISV_DATABASE_URL": committed_url},
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for("the one-off run to be working", marker.exists, timeout=60)
        finally:
            once.send_signal(signal.SIGKILL)
            once.wait(timeout=10)
    [killed] = [r for r in runs(committed_url) if r.instance_id.endswith(f":{once.pid}:once")]
    assert killed.outcome == "running"

    close(committed_url)

    [killed] = [r for r in runs(committed_url) if r.instance_id.endswith(f":{once.pid}:once")]
    assert killed.outcome == "failed" and killed.finished_at is not None
    assert killed.error.startswith("interrupted:") and f"pid {once.pid}" in killed.error
    with session_scope(committed_url) as session:
        closed = [run["id"] for entry in session.scalars(
            select(AuditEntry).where(AuditEntry.action == "job_runs_interrupted"))
            for run in entry.new_values["runs"]]
    assert closed.count(str(killed.id)) == 1


def test_a_run_of_another_host_is_closed_only_once_its_lease_lapsed(committed_url):
    t0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    with session_scope(committed_url) as session:
        session.add(JobRun(job_name="alerts", instance_id="elsewhere:7:once", started_at=t0,
                           outcome="running", hostname="elsewhere", pid=7, heartbeat_at=t0))
        session.flush()
        [run_id] = session.scalars(select(JobRun.id))
        later = t0 + jobs.RUN_LEASE
        assert jobs.close_abandoned_runs(session=session, viewer=SCHEDULER, now=later) == 0
        jobs.renew_run(session=session, viewer=SCHEDULER, run_id=run_id, now=later)
        assert jobs.close_abandoned_runs(session=session, viewer=SCHEDULER,
                                         now=later + jobs.RUN_LEASE) == 0
        assert jobs.close_abandoned_runs(
            session=session, viewer=SCHEDULER,
            now=later + jobs.RUN_LEASE + timedelta(seconds=1)) == 1
        session.commit()
    [run] = runs(committed_url)
    assert run.outcome == "failed" and "elsewhere pid 7" in run.error


def test_a_working_job_renews_its_lease(committed_url, monkeypatch):
    monkeypatch.setattr(jobs, "RUN_BEAT_SECONDS", 0.05)

    def renewed() -> bool:
        [run] = runs(committed_url)
        return run.heartbeat_at > run.started_at

    def waits_for_its_lease(session):
        wait_for("the lease to be renewed", renewed, timeout=30)
        return {}

    monkeypatch.setitem(scheduler_jobs.JOBS, "alerts", waits_for_its_lease)
    assert scheduler_jobs.run_job("alerts", url=committed_url, instance_id="host:1:abc").ok
    [run] = runs(committed_url)
    assert run.outcome == "ok" and run.pid == os.getpid()


def test_only_the_scheduler_and_those_who_see_runs_close_them(committed_url):
    seller = Viewer(id=uuid.uuid4(), email="s@scheduler.test", role="sales_manager")
    with session_scope(committed_url) as session, pytest.raises(Forbidden):
        jobs.close_abandoned_runs(session=session, viewer=seller)


def test_the_leader_is_running_while_it_beats_silent_when_it_stops_and_stopped_when_told(
        committed_url):
    vp = Viewer(id=uuid.uuid4(), email="vp@scheduler.test", role="vp")
    t0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    with session_scope(committed_url) as session:
        assert jobs.leader_status(session=session, viewer=vp) is None
        jobs.claim_leadership(session=session, viewer=SCHEDULER, instance_id="a:1:x",
                              hostname="a", pid=1, now=t0)
        jobs.heartbeat(session=session, viewer=SCHEDULER, instance_id="a:1:x",
                       now=t0 + timedelta(seconds=20))

        def state(seconds: int) -> str:
            return jobs.leader_status(session=session, viewer=vp,
                                      now=t0 + timedelta(seconds=seconds)).state

        assert state(45) == "running"
        assert state(51) == "silent"
        jobs.release_leadership(session=session, viewer=SCHEDULER, instance_id="a:1:x",
                                now=t0 + timedelta(seconds=60))
        assert state(61) == "stopped"
        session.commit()


def test_only_the_scheduler_writes_runs_and_only_vp_and_admin_read_them(committed_url):
    seller = Viewer(id=uuid.uuid4(), email="s@scheduler.test", role="sales_manager")
    vp = Viewer(id=uuid.uuid4(), email="vp@scheduler.test", role="vp")
    with session_scope(committed_url) as session:
        with pytest.raises(Forbidden):
            jobs.start_run(session=session, viewer=vp, job_name="alerts", instance_id="x")
        for read in (jobs.job_summaries, jobs.recent_runs, jobs.leader_status):
            with pytest.raises(Forbidden):
                read(session=session, viewer=seller)
        assert [s.job_name for s in jobs.job_summaries(session=session, viewer=vp)] == [
            "alerts", "rollover", "purge_retention", "backup", "health_snapshot"]


def test_a_rollover_missed_while_down_runs_at_start_and_one_done_waits_for_monday(
        committed_url, tmp_path):
    settings = replace(Settings(), database_url=committed_url, timezone="UTC",
                       alerts_cron="*/15 * * * *", rollover_cron="5 0 * * mon")
    sidecar = Sidecar(settings, lock=FileLock(tmp_path / "lock"))
    friday = datetime(2026, 11, 27, 12, 5, tzinfo=UTC)

    assert sidecar.missed(friday) == ["alerts", "rollover", "purge_retention", "backup",
                                      "health_snapshot"]

    with session_scope(committed_url) as session:
        for name, at in (("rollover", datetime(2026, 11, 23, 0, 5, 2, tzinfo=UTC)),
                         ("alerts", datetime(2026, 11, 27, 12, 0, 1, tzinfo=UTC)),
                         ("purge_retention", datetime(2026, 11, 27, 3, 30, 1, tzinfo=UTC)),
                         ("backup", datetime(2026, 11, 27, 2, 15, 1, tzinfo=UTC)),
                         ("health_snapshot", datetime(2026, 11, 23, 0, 20, 1, tzinfo=UTC))):
            run_id = jobs.start_run(session=session, viewer=SCHEDULER, job_name=name,
                                    instance_id="a:1:x", now=at)
            jobs.finish_run(session=session, viewer=SCHEDULER, run_id=run_id, outcome="ok",
                            duration_ms=5, counts={})
        session.commit()
    assert sidecar.missed(friday) == []
    assert sidecar.missed(friday + timedelta(minutes=10)) == ["alerts"]


# --- real processes on PostgreSQL ------------------------------------------------------

FAST = {"ISV_ALERTS_CRON": "*/2 * * * * *", "ISV_SCHEDULER_LOCK_POLL_SECONDS": "1",
        "ISV_TIMEZONE": "UTC", "LOG_LEVEL": "INFO"}


@pytest.fixture
def pg_url(request):
    url = fresh_migrated(request, "postgresql")
    yield url
    get_engine(url).dispose()


@pytest.fixture
def spawn(tmp_path):
    """spawn(url, name) starts `python -m scheduler`; every process is gone after the test."""
    started: list[subprocess.Popen] = []
    logs = []

    def start(url: str, name: str, *args: str) -> subprocess.Popen:
        env = {**os.environ, **FAST, "ISV_DATABASE_URL": url,
               "ISV_BACKUP_DIR": str(tmp_path / "backups")}
        log = (tmp_path / f"{name}.log").open("w")
        logs.append(log)
        proc = subprocess.Popen([sys.executable, "-m", "scheduler", *args], cwd=PROJECT_ROOT,
                                env=env, stdout=log, stderr=subprocess.STDOUT)
        proc.log_path = tmp_path / f"{name}.log"
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    for log in logs:
        log.close()


def wait_for(what: str, check: Callable[[], object], timeout: float = 30,
             every: float = 0.1) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"waited {timeout} s for {what}")


def direct(url: str):
    """An engine of the test's own (not the pooled one), so it never holds a scheduler's lock."""
    return create_engine(url.replace("postgresql://", "postgresql+psycopg://"),
                         poolclass=NullPool, isolation_level="AUTOCOMMIT")


def scalar(url: str, sql: str, **params):
    engine = direct(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()
    finally:
        engine.dispose()


def ok_runs_by(url: str, pid: int, job: str = "alerts") -> int:
    return scalar(url, "SELECT count(*) FROM job_runs WHERE outcome = 'ok' AND job_name = :job "
                       "AND instance_id LIKE :me", job=job, me=f"%:{pid}:%")


def leader_pid(url: str) -> int | None:
    return scalar(url, "SELECT pid FROM scheduler_leader WHERE released_at IS NULL")


def test_once_runs_one_job_now_and_exits(pg_url, spawn):
    done = spawn(pg_url, "once", "--once", "alerts")
    assert done.wait(timeout=30) == 0
    assert scalar(pg_url, "SELECT count(*) FROM job_runs WHERE job_name = 'alerts' AND "
                          "outcome = 'ok' AND instance_id LIKE :once", once="%:once") == 1

    unknown = spawn(pg_url, "unknown", "--once", "reindex")
    assert unknown.wait(timeout=30) == 2
    assert "invalid choice: 'reindex'" in unknown.log_path.read_text()


def test_of_two_schedulers_on_one_database_one_runs_jobs_and_the_other_takes_over(pg_url,
                                                                                spawn):
    first = spawn(pg_url, "first")
    wait_for("the first scheduler to lead and run the alert job",
             lambda: leader_pid(pg_url) == first.pid and ok_runs_by(pg_url, first.pid) >= 1)
    second = spawn(pg_url, "second")
    wait_for("the second scheduler to stand by",
             lambda: "standing by" in second.log_path.read_text())
    runs_before = ok_runs_by(pg_url, first.pid)
    wait_for("two more runs by the leader",
             lambda: ok_runs_by(pg_url, first.pid) >= runs_before + 2)

    assert scalar(pg_url, "SELECT count(*) FROM job_runs WHERE instance_id LIKE :other",
                  other=f"%:{second.pid}:%") == 0
    assert leader_pid(pg_url) == first.pid

    first.send_signal(signal.SIGKILL)
    killed_at = time.monotonic()
    first.wait(timeout=10)
    wait_for("the second scheduler to take over and run the alert job",
             lambda: leader_pid(pg_url) == second.pid and ok_runs_by(pg_url, second.pid) >= 1,
             timeout=60)
    takeover = time.monotonic() - killed_at
    assert takeover < 60, f"took over after {takeover:.1f} s"

    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=30) == 0
    assert "stopped" in second.log_path.read_text()
    assert leader_pid(pg_url) is None  # released: the System page says it stopped cleanly


DEALS = 4000
TASKS = 200


def build_a_busy_program(url: str) -> None:
    """Thousands of deals closing tomorrow, and tasks left over from last week."""
    today = local_today()
    # Last week's Sunday: rolled over, a task is due this Sunday, not overdue whatever today is.
    last_week = monday_of(today) - timedelta(days=1)
    seller, vp, partner = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with session_scope(url) as session:
        session.execute(insert(User), [
            dict(id=seller, email="seller@scheduler.test", first_name="Sam", last_name="Seller",
                 role="sales_manager"),
            dict(id=vp, email="vp@scheduler.test", first_name="Vic", last_name="Vp", role="vp")])
        session.execute(insert(Partner), [dict(id=partner, name="Busy Partner", domain="FinOps",
                                               owner_id=seller)])
        session.execute(insert(Opportunity), [
            dict(id=uuid.uuid4(), partner_id=partner, assigned_user_id=seller,
                 customer_name=f"Customer {n}", deal_value=Decimal("1000.00"), stage="lead",
                 probability=Decimal(10), expected_close_date=today + timedelta(days=1))
            for n in range(DEALS)])
        session.execute(insert(Task), [
            dict(id=uuid.uuid4(), user_id=seller, title=f"Follow up {n}", priority="medium",
                 status="pending", due_date=last_week) for n in range(TASKS)])
        session.commit()


def inserting_alerts(url: str) -> bool:
    """A scheduler connection is writing alerts inside an open transaction."""
    return bool(scalar(
        url, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
             "AND application_name = 'isv-scheduler' AND backend_xid IS NOT NULL "
             "AND query ILIKE 'INSERT INTO alert%'"))


def test_kill_9_in_the_middle_of_the_alert_job_leaves_nothing_and_a_restart_does_it_once(
        pg_url, spawn):
    build_a_busy_program(pg_url)
    crashing = spawn(pg_url, "crashing")
    wait_for("the alert job to be writing alerts", lambda: inserting_alerts(pg_url),
             timeout=60, every=0.01)
    crashing.send_signal(signal.SIGKILL)
    crashing.wait(timeout=10)
    wait_for("PostgreSQL to end the dead scheduler's connections", lambda: not scalar(
        pg_url, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name LIKE 'isv-scheduler%'"))

    # The transaction rolled back: no alert, no condition; the run is left 'running'.
    assert scalar(pg_url, "SELECT count(*) FROM alerts") == 0
    assert scalar(pg_url, "SELECT count(*) FROM alert_conditions") == 0
    assert scalar(pg_url, "SELECT outcome FROM job_runs WHERE job_name = 'alerts'") == "running"

    restarted = spawn(pg_url, "restarted")
    wait_for("two alert runs after the restart", lambda: ok_runs_by(pg_url, restarted.pid) >= 2,
             timeout=60)
    wait_for("the rollover to have run", lambda: scalar(
        pg_url, "SELECT count(*) FROM job_runs WHERE job_name = 'rollover' AND outcome = 'ok'"))
    restarted.send_signal(signal.SIGTERM)
    assert restarted.wait(timeout=30) == 0

    # Every deal closing tomorrow raised exactly one alert, to its seller; the second run
    # after the restart found the same conditions and added nothing.
    assert scalar(pg_url, "SELECT count(*) FROM alerts WHERE alert_type = 'opportunity_due'") \
        == DEALS
    assert scalar(pg_url, "SELECT count(DISTINCT entity_id) FROM alerts "
                          "WHERE alert_type = 'opportunity_due'") == DEALS
    after_restart = [row for row in runs(pg_url) if row.job_name == "alerts"
                     and f":{restarted.pid}:" in row.instance_id and row.outcome == "ok"]
    assert after_restart[0].counts["opportunity_due"] == DEALS
    assert [row.counts["alerts"] for row in after_restart[1:]] == [0] * (len(after_restart) - 1)
    # The crashed run is closed as interrupted.
    crashed = [row for row in runs(pg_url) if f":{crashing.pid}:" in row.instance_id]
    assert [(r.outcome, "interrupted" in (r.error or "")) for r in crashed
            if r.job_name == "alerts"] == [("failed", True)]
    # Each of last week's tasks rolled over exactly once, whoever ran the rollover.
    assert scalar(pg_url, "SELECT count(*) FROM tasks WHERE status = 'rolled_over'") == TASKS
    assert scalar(pg_url, "SELECT count(*) FROM tasks WHERE rolled_over_from IS NOT NULL") \
        == TASKS
    assert scalar(pg_url, "SELECT count(*) FROM tasks") == 2 * TASKS


def _api_health(port: int) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=5) as r:
            return r.status
    except (OSError, ValueError):
        return None


def test_isv_run_starts_the_scheduler_and_the_api_beside_the_app_and_stops_them_on_exit(
        tmp_path):
    url = f"sqlite:///{tmp_path / 'run.db'}"
    env = {**os.environ, **FAST, "ISV_DATABASE_URL": url}
    api_port = free_port()
    with (tmp_path / "run.log").open("w") as log:
        app = subprocess.Popen([sys.executable, "-m", "isv.cli", "run", "--no-demo",
                                "--port", str(free_port()),
                                "--api-port", str(api_port)],
                               cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            def scheduler_pid() -> int | None:
                try:
                    with session_scope(url) as session:
                        leader = session.get(SchedulerLeader, 1)
                        ran = session.scalar(select(JobRun.id).where(JobRun.outcome == "ok")
                                             .limit(1))
                        return leader.pid if leader is not None and ran else None
                except Exception:  # not migrated yet
                    return None

            # Migrating, starting Streamlit and the scheduler: a minute and more on a
            # loaded two-core machine, a few seconds on a quiet one.
            pid = wait_for("the scheduler to run a job beside the app", scheduler_pid,
                           timeout=120)
            wait_for("the REST API to answer its health check beside the app",
                     lambda: _api_health(api_port) == 200, timeout=120)
            app.send_signal(signal.SIGTERM)
            app.wait(timeout=60)
        finally:
            if app.poll() is None:
                app.kill()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert _api_health(api_port) is None  # the API stopped with the app
    with session_scope(url) as session:
        assert session.get(SchedulerLeader, 1).released_at is not None  # stopped cleanly
    get_engine(url).dispose()
