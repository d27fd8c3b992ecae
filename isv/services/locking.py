"""Optimistic locking for partners and commission structures, as deals have it.

A form sends the version it was drawn from; a save based on an older version is refused
with who changed the record and when (read from its audit trail, where every write is), so
nobody silently overwrites someone else's change. The version column is also the mapper's
version_id_col: two saves that pass the check at once cannot both win at the database.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from isv import display
from isv.auth import Viewer
from isv.errors import Conflict, ValidationError
from isv.models import AuditEntry, User


def changed_message(name: str | None, at: datetime | None) -> str:
    """The words deals use too (opportunities._changed_message)."""
    who = name or "someone else"
    when = f" at {display.moment(at)}" if at is not None else ""
    return f"Changed by {who}{when} — reload to see their change"


def last_change(conn: Any, entity_type: str, entity_id: Any) -> tuple[str | None,
                                                                       datetime | None]:
    """Who last wrote a record and when, from its audit trail (`conn`: session or connection)."""
    row = conn.execute(
        select(User.first_name, User.last_name, AuditEntry.actor_email, AuditEntry.at)
        .select_from(AuditEntry).outerjoin(User, User.id == AuditEntry.actor_id)
        .where(AuditEntry.entity_type == entity_type,
               AuditEntry.entity_id == str(entity_id))
        .order_by(AuditEntry.at.desc()).limit(1)).first()
    if row is None:
        return None, None
    return (f"{row[0]} {row[1]}" if row[0] is not None else row[2]), row[3]


def last_change_message(*, session: Session, viewer: Viewer, entity_type: str,
                        entity_id: Any) -> str:
    """"Changed by X at T — reload to see their change", for a form drawn from an old version.

    The caller has already read the record as `viewer`; this reads only its audit trail.
    """
    return changed_message(*last_change(session, entity_type, entity_id))


def _conflict(conn: Any, entity_type: str, entity_id: Any) -> Conflict:
    return Conflict(changed_message(*last_change(conn, entity_type, entity_id)))


def check_version(session: Session, *, row: Any, expected_version: Any,
                  entity_type: str) -> None:
    """Refuse a save based on another version than the stored one (None: no check)."""
    if expected_version is None:
        return
    try:
        expected = int(expected_version)
    except (TypeError, ValueError):
        raise ValidationError("version", f"{expected_version!r} is not a version") from None
    if expected != row.version:
        raise _conflict(session, entity_type, row.id)


def flush(session: Session, *, entity_type: str, entity_id: Any) -> None:
    """Flush; a concurrent save that won at the database becomes a Conflict naming it."""
    try:
        session.flush()
    except StaleDataError:
        # The failed flush ended the caller's transaction; who won is read on a connection
        # of its own, where the other writer's commit is visible (see opportunities.py).
        bind = session.get_bind()
        if isinstance(bind, Engine):
            try:
                with bind.connect() as conn:
                    raise _conflict(conn, entity_type, entity_id) from None
            except SQLAlchemyError:
                pass
        raise Conflict(changed_message(None, None)) from None
