"""`python -m scheduler`: wait for the leader lock, then run the jobs on their schedules.

    python -m scheduler              run until SIGTERM / Ctrl-C
    python -m scheduler --once JOB   run one job now and exit (0 ok, 1 failed)

Schedules come from isv.config (ISV_ALERTS_CRON, ISV_ROLLOVER_CRON, in ISV_TIMEZONE).
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import socket
import threading
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import make_url

from isv import logs, metrics
from isv.config import Settings, get_settings
from isv.db import session_scope
from isv.services import jobs as job_runs
from isv.services.jobs import cron_trigger, previous_fire_time, schedules
from isv.services.settings import local_zone
from scheduler.jobs import JOBS, SCHEDULER, run_job
from scheduler.leader import LeaderLock, lock_for

log = logging.getLogger("scheduler")
APPLICATION_NAME = "isv-scheduler"


# --- configuration ---------------------------------------------------------------------

def scheduler_url(database_url: str) -> str:
    """The database URL for job sessions; on PostgreSQL it names us in pg_stat_activity."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return database_url
    return url.update_query_dict({"application_name": APPLICATION_NAME}).render_as_string(
        hide_password=False)


def instance_id(*, once: bool = False) -> str:
    host = socket.gethostname()[:60]
    return f"{host}:{os.getpid()}:once" if once else f"{host}:{os.getpid()}:{secrets.token_hex(3)}"


def configure_logging(settings: Settings) -> None:
    logs.configure(settings)
    # Our own lines say what each run did; APScheduler's per-run chatter (and the heartbeat
    # every few seconds) would drown them.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)


# --- the sidecar -----------------------------------------------------------------------

class Sidecar:
    """One scheduler instance: stands by until it holds the leader lock, then runs jobs."""

    def __init__(self, settings: Settings, *, lock: LeaderLock | None = None) -> None:
        self.settings = settings
        self.url = scheduler_url(settings.database_url)
        self.instance_id = instance_id()
        self.lock = lock or lock_for(settings.database_url)
        self.zone = local_zone()  # the Settings page's; a change applies at the next start
        self.poll = max(1, settings.scheduler_lock_poll_seconds)
        self.stopping = threading.Event()
        self._scheduler: BlockingScheduler | None = None

    def run(self) -> int:
        """Lead or stand by until told to stop; return the exit status."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        if self.settings.scheduler_metrics_port and self.settings.metrics_enabled:
            # Imported here: the gauges read analytics, which a scheduler without a metrics
            # port never loads.
            from scheduler.gauges import read_deployment

            metrics.serve(self.settings.scheduler_metrics_port, deployment=read_deployment)
        metrics.SCHEDULER_LEADER.set(0)
        metrics.declare_jobs(JOBS)
        log.info("scheduler %s started: %s; waiting for the leader lock (%s)",
                 self.instance_id, ", ".join(f"{k} at '{v}'" for k, v in
                                             schedules(self.settings).items()),
                 self.lock.description)
        standing_by = False
        while not self.stopping.is_set():
            if not self.lock.try_acquire():
                if not standing_by:
                    log.info("another scheduler instance leads; standing by (polling every "
                             "%d s)", self.poll)
                    standing_by = True
                self.stopping.wait(self.poll)
                continue
            standing_by = False
            metrics.SCHEDULER_LEADER.set(1)
            try:
                self._lead()
            except Exception:
                log.exception("leading failed (is the database reachable?); letting go of the "
                              "lock and trying again in %d s", self.poll)
                self.lock.release()
                self.stopping.wait(self.poll)
            finally:
                metrics.SCHEDULER_LEADER.set(0)
                self.lock.release()
        log.info("scheduler %s stopped", self.instance_id)
        return 0

    def _lead(self) -> None:
        with session_scope(self.url) as session:
            interrupted = job_runs.claim_leadership(
                session=session, viewer=SCHEDULER, instance_id=self.instance_id,
                hostname=socket.gethostname(), pid=os.getpid())
            session.commit()
        log.info("scheduler %s leads%s", self.instance_id,
                 f"; marked {interrupted} interrupted run(s) failed"
                 if interrupted else "")
        scheduler = self.build()
        self._scheduler = scheduler
        try:
            if not self.stopping.is_set():
                scheduler.start()  # blocks until shutdown: SIGTERM, or the lock was lost
        finally:
            self._scheduler = None
        if self.stopping.is_set():
            try:
                with session_scope(self.url) as session:
                    job_runs.release_leadership(session=session, viewer=SCHEDULER,
                                                instance_id=self.instance_id)
                    session.commit()
            except Exception as exc:
                log.warning("could not record the clean stop: %s", exc)

    def build(self) -> BlockingScheduler:
        """The APScheduler with every job, plus the heartbeat that watches the lock."""
        scheduler = BlockingScheduler(
            timezone=self.zone,
            job_defaults={"coalesce": True, "max_instances": 1,
                          "misfire_grace_time": self.settings.scheduler_misfire_grace_seconds})
        now = datetime.now(self.zone)
        missed = self.missed(now)
        for name, expression in schedules(self.settings).items():
            options: dict[str, Any] = {}
            if name in missed:
                # Down when it was due (a deploy over Monday 00:05): run it now rather than
                # wait a week. Every job is safe to run again.
                options["next_run_time"] = now
            scheduler.add_job(run_job, cron_trigger(expression, self.zone), args=[name],
                              id=name, name=name,
                              kwargs={"url": self.url, "instance_id": self.instance_id},
                              **options)
        scheduler.add_job(self._heartbeat, IntervalTrigger(seconds=self.poll),
                          id="heartbeat", name="heartbeat", next_run_time=now,
                          misfire_grace_time=self.poll)
        return scheduler

    def missed(self, now: datetime) -> list[str]:
        """The jobs that were due since their last successful run (or never ran)."""
        missed = []
        with session_scope(self.url) as session:
            for name, expression in schedules(self.settings).items():
                due = previous_fire_time(cron_trigger(expression, self.zone), now)
                last = job_runs.last_success(session=session, viewer=SCHEDULER, job_name=name)
                if due is not None and (last is None or last < due):
                    missed.append(name)
        return missed

    def _heartbeat(self) -> None:
        scheduler = self._scheduler
        if self.stopping.is_set():
            self._stop(scheduler, wait=False)
            return
        if not self.lock.still_held():
            log.error("scheduler %s lost the leader lock; stops running jobs and stands by",
                      self.instance_id)
            self._stop(scheduler, wait=False)
            return
        try:
            with session_scope(self.url) as session:
                job_runs.heartbeat(session=session, viewer=SCHEDULER,
                                   instance_id=self.instance_id)
                session.commit()
        except Exception as exc:
            # The lock is what keeps a second leader out; a missed beat only shows on the
            # System page.
            log.warning("heartbeat not recorded: %s", str(exc).splitlines()[0])

    def _on_signal(self, signum: int, _frame: Any) -> None:
        log.info("received %s: stopping after the running job, if any",
                 signal.Signals(signum).name)
        self.stopping.set()
        # Shut down from another thread: shutdown() waits for a running job to finish, and
        # a signal handler must not block the main loop it interrupted.
        threading.Thread(target=self._stop, args=(self._scheduler,), daemon=True).start()

    @staticmethod
    def _stop(scheduler: BlockingScheduler | None, wait: bool = True) -> None:
        if scheduler is not None and scheduler.running:
            scheduler.shutdown(wait=wait)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scheduler",
        description="Run the ISV Pipeline Tracker's scheduled jobs (alerts, weekly rollover). "
                    "Only one instance per database runs jobs; others stand by.")
    parser.add_argument("--once", metavar="JOB", choices=sorted(JOBS),
                        help=f"run one job now and exit: {', '.join(sorted(JOBS))}")
    args = parser.parse_args(argv)
    settings = get_settings()
    configure_logging(settings)
    for name, expression in schedules(settings).items():
        try:
            cron_trigger(expression, ZoneInfo(settings.timezone))
        except ValueError as exc:
            parser.error(f"the {name} schedule {exc}")
    for name, value in (("ISV_ALERT_TOUCH_DAYS", settings.alert_touch_days),
                        ("ISV_SCHEDULER_MISFIRE_GRACE_SECONDS",
                         settings.scheduler_misfire_grace_seconds),
                        ("ISV_SCHEDULER_LOCK_POLL_SECONDS", settings.scheduler_lock_poll_seconds)):
        if value < 1:
            parser.error(f"{name} must be 1 or more, got {value}")
    if args.once:
        outcome = run_job(args.once, url=scheduler_url(settings.database_url),
                          instance_id=instance_id(once=True))
        return 0 if outcome.ok else 1
    try:
        sidecar = Sidecar(settings)
    except ValueError as exc:  # no leader lock for this database
        parser.error(str(exc))
    return sidecar.run()
