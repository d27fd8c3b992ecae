"""/alerts: the caller's own alerts; read one, several or all, delete."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from isv.api.deps import viewer
from isv.api.envelope import Envelope, ok
from isv.api.errors import READ
from isv.api.schemas import Deleted, Out, dump
from isv.auth import Viewer
from isv.db import session_scope
from isv.services import alerts

router = APIRouter(prefix="/alerts", tags=["alerts"])


class AlertOut(Out):
    id: uuid.UUID
    alert_type: str
    entity_type: str
    entity_id: uuid.UUID
    message: str
    priority: str
    is_read: bool
    created_at: datetime


class BulkRead(BaseModel):
    ids: list[uuid.UUID] | None = Field(
        default=None, max_length=1000, description="These alerts; leave out for all of them.")


class Changed(BaseModel):
    changed: int


@router.get("", response_model=Envelope[list[AlertOut]], responses=READ)
def list_alerts(alert_type: str | None = Query(None, max_length=50),
                priority: str | None = Query(None, max_length=20),
                read: bool | None = None,
                limit: int = Query(200, ge=1, le=1000),
                who: Viewer = Depends(viewer)):
    """The caller's alerts, newest first."""
    with session_scope() as session:
        rows = alerts.list_alerts(session=session, viewer=who, alert_type=alert_type,
                                  priority=priority, read=read, limit=limit)
    return ok([dump(AlertOut, r) for r in rows])


@router.post("/bulk/read", response_model=Envelope[Changed], responses=READ)
def bulk_read(body: BulkRead, who: Viewer = Depends(viewer)):
    """Mark several of the caller's alerts read, or all of them."""
    with session_scope() as session:
        if body.ids is None:
            changed = alerts.mark_all_read(session=session, viewer=who)
        else:
            changed = alerts.mark_read(session=session, viewer=who, alert_ids=body.ids)
        session.commit()
    return ok({"changed": changed})


@router.put("/{id}/read", response_model=Envelope[Changed], responses=READ)
def mark_read(id: uuid.UUID, who: Viewer = Depends(viewer)):
    """Mark one of the caller's alerts read."""
    with session_scope() as session:
        changed = alerts.mark_read(session=session, viewer=who, alert_ids=[id])
        session.commit()
    return ok({"changed": changed})


@router.delete("/{id}", response_model=Envelope[Deleted], responses=READ)
def delete_alert(id: uuid.UUID, who: Viewer = Depends(viewer)):
    """Delete one of the caller's alerts (the condition stays raised: it does not return)."""
    with session_scope() as session:
        alerts.delete_alerts(session=session, viewer=who, alert_ids=[id])
        session.commit()
    return ok({"deleted": str(id)})
