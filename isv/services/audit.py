"""The audit log: every write and every login attempt, with values before and after."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from isv import db
from isv.errors import ValidationError
from isv.models import AuditEntry, User

if TYPE_CHECKING:
    from isv.auth import Viewer


def plain(value: Any) -> Any:
    """Make a value JSON-safe without losing precision (decimals and dates become text)."""
    if isinstance(value, Decimal):
        return f"{value:.2f}" if value == value.quantize(Decimal("0.01")) else str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def record(session: Session, *, actor: Viewer | User | None, action: str, entity_type: str,
           entity_id: Any, old: dict | None = None, new: dict | None = None,
           actor_email: str | None = None) -> AuditEntry:
    """Add an audit entry to the caller's transaction (it commits or rolls back with it)."""
    entry = AuditEntry(
        actor_id=getattr(actor, "id", None),
        actor_email=actor_email or getattr(actor, "email", None),
        action=action,
        entity_type=entity_type,
        entity_id=str(entity_id) if entity_id is not None else None,
        old_values=plain(old) if old else None,
        new_values=plain(new) if new else None,
    )
    session.add(entry)
    return entry


def refused(session: Session, error: ValidationError, *, actor: Viewer | User | None,
            entity_type: str, entity_id: Any, attempt: dict[str, Any]) -> ValidationError:
    """Record a refused attempt (action "refused") and return the error to raise.

    The refusal rolls the caller's transaction back, entry and all, so the error carries the
    entry and `keep_refusal` writes it again once the rollback is done (isv.db.session_scope).
    """
    values = dict(actor=actor, action="refused", entity_type=entity_type, entity_id=entity_id,
                  new={**attempt, "field": error.field, "reason": error.reason})
    record(session, **values)
    error.audit_refusal = values
    return error


def keep_refusal(session: Session, exc: BaseException) -> None:
    """After a rollback, commit the audit entry of a refusal that caused it (see `refused`)."""
    seen: BaseException | None = exc
    while seen is not None and getattr(seen, "audit_refusal", None) is None:
        seen = seen.__cause__ or seen.__context__
    if seen is None:
        return
    record(session, **seen.audit_refusal)
    session.commit()


db.after_rollback(keep_refusal)


def changes(obj: Any, values: dict[str, Any]) -> tuple[dict, dict]:
    """Split `values` into (old, new) for the fields that really change on `obj`."""
    old, new = {}, {}
    for key, value in values.items():
        current = getattr(obj, key)
        if current != value:
            old[key], new[key] = current, value
    return old, new


def entries_for(session: Session, *, entity_type: str, entity_id: Any,
                limit: int = 200) -> list[AuditEntry]:
    """The trail of one record, newest first."""
    return list(session.scalars(
        select(AuditEntry)
        .where(AuditEntry.entity_type == entity_type, AuditEntry.entity_id == str(entity_id))
        .order_by(AuditEntry.at.desc())
        .limit(limit)
    ))
