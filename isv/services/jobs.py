"""Scheduled job runs and the scheduler's leader heartbeat: what the System page reads.

Only the scheduler (a system viewer) writes these rows. They are bookkeeping, and a log in
their own right, so they are not copied into the audit log — except a change of leader and
the closing of runs whose process died.

A run records the host and pid running it and renews a lease while it works. A run still
"running" whose process is gone (same host, no such pid) or whose lease lapsed (any host)
was cut off — SIGKILL, a crash, a lost machine — and its transaction rolled back: the
scheduler when it takes the lead, every run as it starts (a one-off `--once` run too) and
the System page close such runs as failed, "interrupted".
"""

from __future__ import annotations

import logging
import os
import re
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from isv.auth import MANAGE_USERS, Viewer, require
from isv.config import Settings, get_settings
from isv.errors import Forbidden, NotFound
from isv.models import JobRun, SchedulerLeader
from isv.services import audit
from isv.services.settings import local_zone
from isv.types import utcnow

ERROR_MAX = 4000
ONCE_SUFFIX = ":once"
# A running job renews its lease this often; one not renewed for RUN_LEASE is taken for
# dead. Generous: on SQLite a job's own writes can hold the renewal back while it works.
RUN_BEAT_SECONDS = 30
RUN_LEASE = timedelta(minutes=10)
INTERRUPTED = ("interrupted: the process running the job ({process}) stopped before it "
               "finished; its transaction was rolled back")
log = logging.getLogger(__name__)


# --- schedules -------------------------------------------------------------------------

_CRON_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def schedules(settings: Settings | None = None) -> dict[str, str]:
    """Each scheduled job and its crontab line (ISV_ALERTS_CRON, ISV_ROLLOVER_CRON,
    ISV_RETENTION_CRON, ISV_BACKUP_CRON, ISV_HEALTH_CRON)."""
    settings = settings or get_settings()
    return {"alerts": settings.alerts_cron, "rollover": settings.rollover_cron,
            "purge_retention": settings.retention_cron, "backup": settings.backup_cron,
            "health_snapshot": settings.health_cron}


def cron_trigger(expression: str, timezone: ZoneInfo | None = None) -> CronTrigger:
    """A crontab line as cron reads it: 5 fields, or 6 with seconds first.

    Weekday numbers mean what they mean in crontab (0 and 7 are Sunday); APScheduler 3 alone
    would read 0 as Monday. Raises ValueError on a line it cannot read.
    """
    fields = expression.split()
    if len(fields) not in (5, 6):
        raise ValueError(f"{expression!r}: a schedule has 5 fields (minute hour day month "
                         f"weekday), or 6 with seconds first")
    second = fields.pop(0) if len(fields) == 6 else "0"
    minute, hour, day, month, weekday = fields
    weekday = re.sub(r"(?<![/\d])(\d+)",
                     lambda m: _CRON_WEEKDAYS[int(m.group(1))] if int(m.group(1)) <= 7
                     else m.group(1), weekday)
    return CronTrigger(second=second, minute=minute, hour=hour, day=day, month=month,
                       day_of_week=weekday,
                       timezone=timezone or local_zone())


def previous_fire_time(trigger: CronTrigger, now: datetime) -> datetime | None:
    """The last time at or before `now` at which the trigger fired (within about a year)."""
    lookback = timedelta(minutes=1)
    while lookback <= timedelta(days=400):
        fire = trigger.get_next_fire_time(None, now - lookback)
        previous = None
        while fire is not None and fire <= now:
            previous = fire
            fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
        if previous is not None:
            return previous
        lookback *= 2
    return None


def next_fire_time(expression: str, now: datetime | None = None) -> datetime | None:
    """When a schedule fires next; None when the line cannot be read."""
    try:
        trigger = cron_trigger(expression)
    except ValueError:
        return None
    return trigger.get_next_fire_time(None, now or utcnow())


# --- who may write ---------------------------------------------------------------------

def _scheduler_only(viewer: Viewer) -> None:
    if viewer.role != "system":
        raise Forbidden("Only the scheduler records job runs.")


# --- job runs --------------------------------------------------------------------------

def this_host() -> str:
    return socket.gethostname()[:255]


def start_run(*, session: Session, viewer: Viewer, job_name: str, instance_id: str,
              now: datetime | None = None) -> uuid.UUID:
    """Record that a job run starts (outcome 'running', by this process) and return its id.

    Closes the abandoned runs first, so a one-off run clears what a killed one left.
    """
    _scheduler_only(viewer)
    now = now or utcnow()
    close_abandoned_runs(session=session, viewer=viewer, now=now)
    run = JobRun(job_name=job_name, instance_id=instance_id[:100], started_at=now,
                 outcome="running", hostname=this_host(), pid=os.getpid(), heartbeat_at=now)
    session.add(run)
    session.flush()
    return run.id


def renew_run(*, session: Session, viewer: Viewer, run_id: uuid.UUID,
              now: datetime | None = None) -> None:
    """Renew a running job's lease: its process is alive."""
    _scheduler_only(viewer)
    session.execute(update(JobRun).where(JobRun.id == run_id, JobRun.outcome == "running")
                    .values(heartbeat_at=now or utcnow()),
                    execution_options={"synchronize_session": False})


def process_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: it exists
        return True
    return True


def _abandoned(run: JobRun, now: datetime, host: str) -> bool:
    if run.hostname == host and run.pid is not None and run.pid != os.getpid() \
            and not process_alive(run.pid):
        return True
    return now - (run.heartbeat_at or run.started_at) > RUN_LEASE


def close_abandoned_runs(*, session: Session, viewer: Viewer,
                         now: datetime | None = None) -> int:
    """Mark failed ("interrupted") the running runs whose process is gone or lease lapsed.

    The scheduler and the System page's viewers (who see job runs) may; audited and logged.
    Returns how many were closed.
    """
    if viewer.role != "system":
        require(viewer, MANAGE_USERS, "close interrupted job runs")
    now = now or utcnow()
    host = this_host()
    closed = []
    for run in session.scalars(select(JobRun).where(JobRun.outcome == "running")
                               .with_for_update(skip_locked=True)):
        if not _abandoned(run, now, host):
            continue
        process = f"{run.hostname} pid {run.pid}" if run.pid is not None else run.instance_id
        run.outcome = "failed"
        run.finished_at = now
        run.error = INTERRUPTED.format(process=process)
        closed.append(run)
        log.warning("job run %s of %s (%s, started %s) was interrupted: marked failed",
                    run.id, run.job_name, process, run.started_at.isoformat())
    if closed:
        session.flush()
        audit.record(session, actor=viewer, action="job_runs_interrupted",
                     entity_type="scheduler", entity_id=None,
                     new={"runs": [{"id": str(r.id), "job": r.job_name,
                                    "instance_id": r.instance_id} for r in closed]})
    return len(closed)


def finish_run(*, session: Session, viewer: Viewer, run_id: uuid.UUID, outcome: str,
               duration_ms: int, counts: dict[str, Any] | None = None,
               error: str | None = None, now: datetime | None = None) -> None:
    """Record how a job run ended: ok with its counts, or failed with the error."""
    _scheduler_only(viewer)
    if outcome not in ("ok", "failed"):
        raise ValueError(f"outcome must be ok or failed, not {outcome!r}")
    run = session.get(JobRun, run_id)
    if run is None:
        raise NotFound("No such job run.")
    run.finished_at = now or utcnow()
    run.duration_ms = max(0, int(duration_ms))
    run.outcome = outcome
    run.counts = audit.plain(counts) if counts is not None else None
    run.error = error[:ERROR_MAX] if error else None
    session.flush()


def last_success(*, session: Session, viewer: Viewer, job_name: str) -> datetime | None:
    """When the last successful run of a job started, if ever."""
    return session.scalar(select(func.max(JobRun.started_at))
                          .where(JobRun.job_name == job_name, JobRun.outcome == "ok"))


# --- the leader ------------------------------------------------------------------------

def claim_leadership(*, session: Session, viewer: Viewer, instance_id: str, hostname: str,
                     pid: int, now: datetime | None = None) -> int:
    """Name this instance the leader (it holds the lock); close the runs its forerunners left.

    Holding the lock proves no other scheduler instance is running jobs, so their unfinished
    runs were cut off (killed, or the database connection dropped): they are marked failed.
    A `--once` run does not take the lock: it is closed only when its process is gone or its
    lease lapsed (close_abandoned_runs). Returns how many were closed.
    """
    _scheduler_only(viewer)
    now = now or utcnow()
    interrupted = session.execute(
        update(JobRun)
        .where(JobRun.outcome == "running", JobRun.instance_id != instance_id,
               JobRun.instance_id.not_like(f"%{ONCE_SUFFIX}"))
        .values(outcome="failed", finished_at=now,
                error="interrupted: the scheduler instance stopped before the job finished; "
                      "its transaction was rolled back"),
        execution_options={"synchronize_session": False}).rowcount
    # One-off runs do not take the lock: theirs are closed when their process is gone.
    interrupted += close_abandoned_runs(session=session, viewer=viewer, now=now)
    row = session.get(SchedulerLeader, 1)
    previous = row.instance_id if row is not None else None
    if row is None:
        row = SchedulerLeader(id=1)
        session.add(row)
    row.instance_id = instance_id[:100]
    row.hostname = hostname[:255]
    row.pid = pid
    row.acquired_at = now
    row.heartbeat_at = now
    row.released_at = None
    session.flush()
    audit.record(session, actor=viewer, action="scheduler_leader", entity_type="scheduler",
                 entity_id=None, old={"instance_id": previous} if previous else None,
                 new={"instance_id": instance_id, "hostname": hostname, "pid": pid,
                      "interrupted_runs": interrupted})
    return interrupted


def heartbeat(*, session: Session, viewer: Viewer, instance_id: str,
              now: datetime | None = None) -> None:
    """Say the leader is alive (only the instance named leader may)."""
    _scheduler_only(viewer)
    session.execute(update(SchedulerLeader)
                    .where(SchedulerLeader.id == 1, SchedulerLeader.instance_id == instance_id)
                    .values(heartbeat_at=now or utcnow()),
                    execution_options={"synchronize_session": False})


def release_leadership(*, session: Session, viewer: Viewer, instance_id: str,
                       now: datetime | None = None) -> None:
    """Record that the leader stopped cleanly."""
    _scheduler_only(viewer)
    now = now or utcnow()
    session.execute(update(SchedulerLeader)
                    .where(SchedulerLeader.id == 1, SchedulerLeader.instance_id == instance_id)
                    .values(heartbeat_at=now, released_at=now),
                    execution_options={"synchronize_session": False})


# --- what the System page shows --------------------------------------------------------

@dataclass(frozen=True)
class RunRow:
    job_name: str
    instance_id: str
    started_at: datetime
    finished_at: datetime | None
    duration_ms: int | None
    outcome: str
    counts: dict[str, Any] | None
    error: str | None


@dataclass(frozen=True)
class JobSummary:
    job_name: str
    schedule: str
    next_due: datetime | None
    last_run: RunRow | None
    last_success_at: datetime | None


@dataclass(frozen=True)
class LeaderStatus:
    instance_id: str
    hostname: str
    pid: int
    acquired_at: datetime
    heartbeat_at: datetime
    released_at: datetime | None
    state: str          # running | silent (no heartbeat lately) | stopped (stopped cleanly)


def _row(run: JobRun) -> RunRow:
    return RunRow(job_name=run.job_name, instance_id=run.instance_id,
                  started_at=run.started_at, finished_at=run.finished_at,
                  duration_ms=run.duration_ms, outcome=run.outcome, counts=run.counts,
                  error=run.error)


def job_summaries(*, session: Session, viewer: Viewer,
                  now: datetime | None = None) -> list[JobSummary]:
    """For each scheduled job: its schedule, next due time, latest run and last success."""
    require(viewer, MANAGE_USERS, "see the scheduler")
    summaries = []
    for name, expression in schedules().items():
        last = session.scalar(select(JobRun).where(JobRun.job_name == name)
                              .order_by(JobRun.started_at.desc(), JobRun.id).limit(1))
        summaries.append(JobSummary(
            job_name=name, schedule=expression, next_due=next_fire_time(expression, now),
            last_run=_row(last) if last is not None else None,
            last_success_at=last_success(session=session, viewer=viewer, job_name=name)))
    return summaries


def recent_runs(*, session: Session, viewer: Viewer, limit: int = 20) -> list[RunRow]:
    """The latest job runs of every job, newest first."""
    require(viewer, MANAGE_USERS, "see the scheduler")
    return [_row(run) for run in session.scalars(
        select(JobRun).order_by(JobRun.started_at.desc(), JobRun.id).limit(limit))]


def leader_status(*, session: Session, viewer: Viewer,
                  now: datetime | None = None) -> LeaderStatus | None:
    """Which scheduler instance holds the lock, and whether it is still heard from."""
    require(viewer, MANAGE_USERS, "see the scheduler")
    row = session.get(SchedulerLeader, 1)
    if row is None:
        return None
    now = now or utcnow()
    # Three missed heartbeats (or 30 s) before calling a leader silent: one slow beat on a
    # busy database is not an outage.
    patience = timedelta(seconds=max(30, 3 * get_settings().scheduler_lock_poll_seconds))
    if row.released_at is not None:
        state = "stopped"
    elif now - row.heartbeat_at > patience:
        state = "silent"
    else:
        state = "running"
    return LeaderStatus(instance_id=row.instance_id, hostname=row.hostname, pid=row.pid,
                        acquired_at=row.acquired_at, heartbeat_at=row.heartbeat_at,
                        released_at=row.released_at, state=state)
