"""Retention: audit entries and read alerts older than the configured limits are removed.

The limits are app settings (`audit_retention_days`, `read_alert_retention_days`; None keeps
forever, the default). Unread alerts are never removed: nobody has seen them yet. Removing an
alert keeps its alert condition, so a purged alert is not raised again by the next run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from isv.models import Alert, AuditEntry
from isv.services import audit
from isv.services.settings import current_settings
from isv.types import utcnow

log = logging.getLogger(__name__)
ACTOR = "retention"


@dataclass(frozen=True)
class Limits:
    """How many days to keep each kind of row; None keeps them forever."""

    audit_retention_days: int | None = None
    read_alert_retention_days: int | None = None


def current_limits(session: Session) -> Limits:
    """The limits as set on the Settings page."""
    settings = current_settings(session)
    return Limits(audit_retention_days=settings.audit_retention_days,
                  read_alert_retention_days=settings.read_alert_retention_days)


def purge_expired(*, session: Session, now: datetime | None = None,
                  limits: Limits | None = None) -> dict[str, int]:
    """Delete audit entries and read alerts older than their limits; return how many went.

    `limits` defaults to the app settings.
    """
    now = now or utcnow()
    limits = limits or current_limits(session)
    removed = {"audit_entries": 0, "read_alerts": 0}
    if limits.read_alert_retention_days is not None:
        cutoff = now - timedelta(days=limits.read_alert_retention_days)
        result = session.execute(
            delete(Alert).where(Alert.is_read.is_(True), Alert.created_at < cutoff)
            .execution_options(synchronize_session=False))
        removed["read_alerts"] = result.rowcount
    if limits.audit_retention_days is not None:
        cutoff = now - timedelta(days=limits.audit_retention_days)
        result = session.execute(delete(AuditEntry).where(AuditEntry.at < cutoff)
                                 .execution_options(synchronize_session=False))
        removed["audit_entries"] = result.rowcount
    if any(removed.values()):
        # The trail says that it was cut, when, and by how much.
        audit.record(session, actor=None, actor_email=ACTOR, action="purge",
                     entity_type="retention", entity_id=None,
                     new={**removed, **vars(limits)})
        log.info("retention removed %d audit entries and %d read alerts",
                 removed["audit_entries"], removed["read_alerts"])
    else:
        log.info("retention removed nothing (audit entries kept %s, read alerts kept %s)",
                 _kept(limits.audit_retention_days), _kept(limits.read_alert_retention_days))
    return removed


def _kept(days: int | None) -> str:
    return "forever" if days is None else f"{days} days"
