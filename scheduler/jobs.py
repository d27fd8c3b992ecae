"""The scheduled jobs, and running one: its own transaction, recorded in job_runs, logged.

A job is a function of a session that calls services and returns its counts. A failing job
is logged and recorded as failed, its transaction rolled back; it never takes the scheduler
down, and its next tick tries again.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from isv import metrics
from isv.auth import Viewer
from isv.db import session_scope
from isv.services import alerts, backups, health, registrations, retention, tasks
from isv.services import jobs as job_runs

log = logging.getLogger("scheduler.jobs")
SCHEDULER = Viewer.system("scheduler")


def alerts_job(session: Session) -> dict[str, Any]:
    """Expire the deal registrations nobody decided in time, then run the alert rules."""
    expired = registrations.expire_pending(session=session, viewer=SCHEDULER)
    return {**alerts.run_alert_rules(session=session), "registrations_expired": expired}


def rollover_job(session: Session) -> dict[str, Any]:
    """Roll last week's unfinished tasks over into this week."""
    result = tasks.rollover(session=session, viewer=SCHEDULER)
    return dataclasses.asdict(result)


def purge_retention_job(session: Session) -> dict[str, Any]:
    """Remove audit entries and read alerts older than the retention settings."""
    return retention.purge_expired(session=session)


def backup_job(session: Session) -> dict[str, Any]:
    """Back up the whole database into ISV_BACKUP_DIR, check it, delete the expired ones."""
    return backups.run_backup(session=session, viewer=SCHEDULER)


def health_snapshot_job(session: Session) -> dict[str, Any]:
    """Keep this week's health score of every partner, for its trend and change."""
    return health.take_snapshots(session=session, viewer=SCHEDULER)


JOBS: dict[str, Callable[[Session], dict[str, Any]]] = {
    "alerts": alerts_job,
    "rollover": rollover_job,
    "purge_retention": purge_retention_job,
    "backup": backup_job,
    "health_snapshot": health_snapshot_job,
}


@dataclass(frozen=True)
class Outcome:
    job_name: str
    ok: bool
    duration_ms: int
    counts: dict[str, Any] | None = None
    error: str | None = None


def run_job(job_name: str, *, url: str | None, instance_id: str) -> Outcome:
    """Run one job now, in a transaction of its own, and record, count and log how it went."""
    outcome = _run_job(job_name, url=url, instance_id=instance_id)
    metrics.job_run(job_name, ok=outcome.ok, seconds=outcome.duration_ms / 1000)
    return outcome


def _run_job(job_name: str, *, url: str | None, instance_id: str) -> Outcome:
    job = JOBS[job_name]
    started = time.perf_counter()
    try:
        # Committed on its own, so the System page shows the run while it runs, and a run
        # cut off by a crash stays visible (the next leader marks it failed).
        with session_scope(url) as session:
            run_id = job_runs.start_run(session=session, viewer=SCHEDULER, job_name=job_name,
                                        instance_id=instance_id)
            session.commit()
    except Exception as exc:
        log.error("job %s not started: cannot record the run: %s", job_name, _first_line(exc))
        return Outcome(job_name, False, _ms(started), error=_first_line(exc))
    try:
        with _lease(run_id, url), session_scope(url) as session:
            counts = job(session)
            # Same transaction as the job's work: a run is recorded ok exactly when its
            # work is committed.
            job_runs.finish_run(session=session, viewer=SCHEDULER, run_id=run_id, outcome="ok",
                                duration_ms=_ms(started), counts=counts)
            session.commit()
    except Exception as exc:
        duration = _ms(started)
        log.exception("job %s failed after %d ms (rolled back; retried on its next tick)",
                      job_name, duration, extra={"job": job_name, "instance": instance_id,
                                                 "duration_ms": duration, "outcome": "failed"})
        error = "".join(traceback.format_exception_only(exc)).strip()
        try:
            with session_scope(url) as session:
                job_runs.finish_run(session=session, viewer=SCHEDULER, run_id=run_id,
                                    outcome="failed", duration_ms=duration, error=error)
                session.commit()
        except Exception as record_exc:
            log.error("could not record the failure of job %s: %s", job_name,
                      _first_line(record_exc))
        return Outcome(job_name, False, duration, error=error)
    duration = _ms(started)
    log.info("job %s ok in %d ms: %s", job_name, duration,
             ", ".join(f"{k}={v}" for k, v in counts.items()) or "nothing to do",
             extra={"job": job_name, "instance": instance_id, "duration_ms": duration,
                    "outcome": "ok"})
    return Outcome(job_name, True, duration, counts=counts)


@contextmanager
def _lease(run_id: Any, url: str | None) -> Iterator[None]:
    """Renew the run's lease from a thread while the job works: it is seen to be alive."""
    done = threading.Event()

    def renew() -> None:
        while not done.wait(job_runs.RUN_BEAT_SECONDS):
            try:
                with session_scope(url) as session:
                    job_runs.renew_run(session=session, viewer=SCHEDULER, run_id=run_id)
                    session.commit()
            except Exception as exc:
                log.warning("job run lease not renewed: %s", _first_line(exc))

    beat = threading.Thread(target=renew, name=f"lease-{run_id}", daemon=True)
    beat.start()
    try:
        yield
    finally:
        done.set()
        beat.join()


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
