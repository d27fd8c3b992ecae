"""The deployment-wide gauges the scheduler serves: sessions, unread alerts, job successes,
backups and this quarter's KPIs.

Here, not in isv.metrics: they read analytics and services, and every layer imports
isv.metrics to count (issue 15: no import cycles).
"""

from __future__ import annotations

from datetime import timedelta

from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from isv.analytics import cached
from isv.analytics.kpis import compute_kpis
from isv.analytics.periods import quarter_containing
from isv.auth import Viewer
from isv.config import get_settings
from isv.db import session_scope
from isv.models import OPEN_STAGES, Alert, JobRun, UserSession
from isv.services import backups, jobs
from isv.services.settings import local_today
from isv.types import utcnow


def read_deployment() -> list[GaugeMetricFamily]:
    """Sessions, unread alerts, job successes, backup age and this quarter's KPIs, now."""
    settings = get_settings()
    now = utcnow()
    with session_scope() as session:
        sessions = session.scalar(
            select(func.count()).select_from(UserSession)
            .where(UserSession.ended_at.is_(None),
                   UserSession.last_seen_at > now - timedelta(
                       minutes=settings.session_idle_minutes))) or 0
        unread = session.scalar(select(func.count()).select_from(Alert)
                                .where(Alert.is_read.is_(False))) or 0
        successes = dict(session.execute(
            select(JobRun.job_name, func.max(JobRun.finished_at))
            .where(JobRun.outcome == "ok").group_by(JobRun.job_name)).all())
    viewer = Viewer.system("metrics")
    period = quarter_containing(local_today())
    kpis = cached.load(compute_kpis, viewer=viewer, share="scope", period=period)
    newest = backups.newest(settings)

    families = []

    def gauge(name: str, doc: str, value: float | None = None,
              labels: list[str] | None = None) -> GaugeMetricFamily:
        family = GaugeMetricFamily(name, doc, labels=labels)
        if value is not None:
            family.add_metric([], value)
        families.append(family)
        return family

    gauge("isv_signed_in_sessions", "Signed-in browser sessions, seen within the idle limit.",
          sessions)
    gauge("isv_alerts_unread", "Unread alerts, all users together.", unread)
    last = gauge("isv_job_last_success_timestamp_seconds",
                 "When each scheduled job last finished successfully (Unix time).",
                 labels=["job"])
    for name in jobs.schedules(settings):
        if successes.get(name) is not None:
            last.add_metric([name], successes[name].timestamp())
    if newest is not None:
        gauge("isv_backup_last_timestamp_seconds", "When the newest verified backup in "
              "ISV_BACKUP_DIR was written (Unix time).", newest.created_at.timestamp())
        gauge("isv_backup_age_seconds", "Age of the newest verified backup.",
              (now - newest.created_at).total_seconds())
        gauge("isv_backup_size_bytes", "Size of the newest backup file.", newest.size)
    gauge("isv_backups_kept", "Backup files kept in ISV_BACKUP_DIR.",
          backups.count(settings))
    open_value = gauge("isv_pipeline_open_value", "Open pipeline value by stage, this "
                       "quarter's KPI engine result.", labels=["stage"])
    weighted = gauge("isv_pipeline_weighted_value", "Probability-weighted open pipeline "
                     "value by stage.", labels=["stage"])
    deals = gauge("isv_pipeline_open_deals", "Open deals by stage.", labels=["stage"])
    for stage in OPEN_STAGES:
        open_value.add_metric([stage], float(kpis.stage_value.get(stage, 0)))
        weighted.add_metric([stage], float(kpis.stage_weighted.get(stage, 0)))
        deals.add_metric([stage], kpis.stage_count.get(stage, 0))
    gauge("isv_won_revenue_quarter", "Revenue won in the current quarter.",
          float(kpis.won_revenue))
    gauge("isv_won_deals_quarter", "Deals won in the current quarter.", kpis.won_count)
    gauge("isv_revenue_target_quarter", "The current quarter's revenue target (goals).",
          float(kpis.revenue_target))
    return families
