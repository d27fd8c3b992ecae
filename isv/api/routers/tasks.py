"""/tasks: the caller's own tasks, and the weekly rollover."""

from __future__ import annotations

import uuid
from datetime import date

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from isv.api.deps import viewer
from isv.api.envelope import Envelope, ok
from isv.api.errors import READ, WRITE
from isv.api.schemas import DayIn, Deleted, Out, Text, dump
from isv.auth import Viewer
from isv.db import session_scope
from isv.services import tasks

router = APIRouter(prefix="/tasks", tags=["tasks"])


class TaskOut(Out):
    id: uuid.UUID
    title: str
    description: str | None
    priority: str
    status: str
    due_date: date | None
    completed_date: date | None
    opportunity_id: uuid.UUID | None
    rolled_over_from: uuid.UUID | None
    rollover_count: int


class TaskRowOut(TaskOut):
    opportunity_label: str | None
    days_overdue: int | None


class TaskIn(BaseModel):
    title: Text
    description: Text | None = None
    priority: Text = "medium"
    status: Text = "pending"
    due_date: DayIn | None = None
    opportunity_id: uuid.UUID | None = None


class TaskUpdate(BaseModel):
    """Only the fields sent change."""

    title: Text | None = None
    description: Text | None = None
    priority: Text | None = None
    status: Text | None = None
    due_date: DayIn | None = None
    opportunity_id: uuid.UUID | None = None


class Rollover(BaseModel):
    week_start: date
    rolled: int
    flagged: int


@router.get("", response_model=Envelope[list[TaskRowOut]], responses=READ)
def list_tasks(status: list[str] = Query(default=[], max_length=10),
               priority: list[str] = Query(default=[], max_length=10),
               due_from: date | None = None, due_to: date | None = None,
               overdue: bool = Query(False, description="Only open tasks past their due date."),
               search: str | None = Query(None, max_length=500),
               who: Viewer = Depends(viewer)):
    """The caller's own tasks, soonest due first."""
    filters = tasks.TaskFilters(statuses=tuple(status), priorities=tuple(priority),
                                due_from=due_from, due_to=due_to, overdue_only=overdue,
                                text=search)
    with session_scope() as session:
        rows = tasks.list_tasks(session=session, viewer=who, filters=filters)
    return ok([dump(TaskRowOut, r) for r in rows])


@router.post("", response_model=Envelope[TaskOut], status_code=201, responses=WRITE)
def create_task(body: TaskIn, who: Viewer = Depends(viewer)):
    """Add a task to the caller's own list."""
    with session_scope() as session:
        task = tasks.create_task(session=session, viewer=who, **body.model_dump(mode="json"))
        session.commit()
        return ok(dump(TaskOut, task))


@router.post("/rollover", response_model=Envelope[Rollover], responses=WRITE)
def rollover(who: Viewer = Depends(viewer)):
    """Carry the caller's unfinished tasks due before this Monday into this week (the vp:
    everyone's), as the Monday job does; running it again changes nothing."""
    with session_scope() as session:
        result = tasks.rollover(session=session, viewer=who)
        session.commit()
    return ok(dump(Rollover, result))


@router.get("/{id}", response_model=Envelope[TaskRowOut], responses=READ)
def get_task(id: uuid.UUID, who: Viewer = Depends(viewer)):
    """One of the caller's tasks, as a row of the list (anyone else's: 404)."""
    with session_scope() as session:
        row = tasks.get_task(session=session, viewer=who, task_id=id)
    return ok(dump(TaskRowOut, row))


@router.put("/{id}", response_model=Envelope[TaskOut], responses=WRITE)
def update_task(id: uuid.UUID, body: TaskUpdate, who: Viewer = Depends(viewer)):
    """Change the fields sent of one of the caller's tasks."""
    with session_scope() as session:
        task = tasks.update_task(session=session, viewer=who, task_id=id,
                                 **body.model_dump(exclude_unset=True, mode="json"))
        session.commit()
        return ok(dump(TaskOut, task))


@router.delete("/{id}", response_model=Envelope[Deleted], responses=WRITE)
def delete_task(id: uuid.UUID, who: Viewer = Depends(viewer)):
    """Delete one of the caller's tasks."""
    with session_scope() as session:
        tasks.delete_task(session=session, viewer=who, task_id=id)
        session.commit()
    return ok({"deleted": str(id)})
