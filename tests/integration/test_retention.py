"""Retention: with no limits everything stays; with limits, exactly the older rows go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select

from isv.auth import Viewer
from isv.db import session_scope
from isv.models import Alert, AlertCondition, AppSetting, AuditEntry, JobRun
from isv.services import retention, settings
from isv.types import utcnow
from scheduler import jobs as scheduler_jobs
from tests.factories import make_user

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
SYSTEM = Viewer.system("tests")


def audit_entry(session, days_ago: int, now: datetime = NOW) -> AuditEntry:
    entry = AuditEntry(action="update", entity_type="partner", entity_id=f"p{days_ago}",
                       actor_email="someone@example.com", at=now - timedelta(days=days_ago))
    session.add(entry)
    session.flush()
    return entry


def alert(session, user, days_ago: int, *, read: bool) -> Alert:
    row = Alert(user_id=user.id, alert_type="task_overdue", entity_type="task",
                entity_id=user.id, message=f"{days_ago} days", is_read=read,
                dedupe_key=f"k-{days_ago}-{read}-{user.id}",
                created_at=NOW - timedelta(days=days_ago))
    session.add(row)
    session.add(AlertCondition(key=row.dedupe_key, alert_type="task_overdue"))
    session.flush()
    return row


@pytest.fixture
def history(session):
    """Audit entries and alerts, read and unread, 5, 40 and 400 days old."""
    user = make_user(session)
    entries = {days: audit_entry(session, days) for days in (5, 40, 400)}
    read = {days: alert(session, user, days, read=True) for days in (5, 40, 400)}
    unread = {days: alert(session, user, days, read=False) for days in (5, 40, 400)}
    return entries, read, unread


def ids(session, model, rows) -> set:
    wanted = {row.id for row in rows}
    return set(session.scalars(select(model.id).where(model.id.in_(wanted))))


def test_by_default_nothing_is_removed(session, history):
    entries, read, unread = history
    assert settings.current_settings(session).audit_retention_days is None

    removed = retention.purge_expired(session=session, now=NOW)

    assert removed == {"audit_entries": 0, "read_alerts": 0}
    assert ids(session, AuditEntry, entries.values()) == {e.id for e in entries.values()}
    assert len(ids(session, Alert, [*read.values(), *unread.values()])) == 6


def test_with_limits_set_exactly_the_older_rows_go(session, history):
    entries, read, unread = history
    settings.update_settings(session=session, viewer=SYSTEM, audit_retention_days=30,
                             read_alert_retention_days=365)

    removed = retention.purge_expired(session=session, now=NOW)

    assert removed == {"audit_entries": 2, "read_alerts": 1}
    assert ids(session, AuditEntry, entries.values()) == {entries[5].id}
    assert ids(session, Alert, read.values()) == {read[5].id, read[40].id}
    # Unread alerts stay however old: nobody has seen them yet.
    assert ids(session, Alert, unread.values()) == {a.id for a in unread.values()}
    # The condition stays, so the purged alert is not raised again.
    assert session.scalar(select(AlertCondition).where(
        AlertCondition.key == read[400].dedupe_key)) is not None


def test_a_purge_leaves_a_note_in_the_audit_log(session, history):
    retention.purge_expired(session=session, now=NOW,
                            limits=retention.Limits(audit_retention_days=30))

    note = session.scalar(select(AuditEntry).where(AuditEntry.action == "purge"))
    assert note.new_values["audit_entries"] == 2
    assert note.new_values["audit_retention_days"] == 30


@pytest.fixture
def committed_url(db_url):
    yield db_url
    with session_scope(db_url) as s:
        for model in (JobRun, AuditEntry, AppSetting):
            s.execute(delete(model))
        s.commit()


def test_the_scheduler_job_purges_and_records_what_it_removed(committed_url):
    with session_scope(committed_url) as s:
        for days in (2, 90, 900):
            audit_entry(s, days, now=utcnow())
        settings.update_settings(session=s, viewer=SYSTEM, audit_retention_days=60)
        s.commit()

    outcome = scheduler_jobs.run_job("purge_retention", url=committed_url,
                                     instance_id="host:1:once")

    assert outcome.ok, outcome.error
    assert outcome.counts == {"audit_entries": 2, "read_alerts": 0}
    with session_scope(committed_url) as s:
        run = s.scalar(select(JobRun).where(JobRun.job_name == "purge_retention"))
        assert run.outcome == "ok" and run.counts == outcome.counts
