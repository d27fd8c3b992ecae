"""Tasks: each user's to-do list, linked to deals, and the weekly rollover of unfinished work."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from isv.auth import OWN_WORK, TEAM_WRITE, Viewer, require
from isv.dates import monday_of
from isv.errors import Conflict, Forbidden, NotFound, ValidationError
from isv.models import OPEN_STAGES, PRIORITIES, TASK_STATUSES, Opportunity, Partner, Task, User
from isv.services import audit, scope, validate
from isv.services.settings import local_today
from isv.services.validate import NOTES_MAX, parse_id
from isv.types import utcnow

OPEN_STATUSES = ("pending", "in_progress")
# What a person may set; `rolled_over` is set by the rollover alone.
SETTABLE_STATUSES = tuple(s for s in TASK_STATUSES if s != "rolled_over")
TASK_FIELDS = ("title", "description", "priority", "status", "due_date", "opportunity_id")
TITLE_MAX = 500
# A task carried over this many times is flagged: it is stuck, not just late.
FLAG_AFTER = 2
log = logging.getLogger("isv.services.tasks")
_PRIORITY_RANK = case({p: i for i, p in enumerate(PRIORITIES)}, value=Task.priority)


# --- reads -------------------------------------------------------------------------------

@dataclass(frozen=True)
class TaskRow:
    """One task as the grid shows it: plain data."""

    id: uuid.UUID
    title: str
    description: str | None
    priority: str
    status: str
    due_date: date | None
    completed_date: date | None
    opportunity_id: uuid.UUID | None
    opportunity_label: str | None   # None when there is no link or the viewer may not see it
    rolled_over_from: uuid.UUID | None
    rollover_count: int
    days_overdue: int | None        # None unless open and due before today

    @property
    def overdue(self) -> bool:
        return self.days_overdue is not None

    @property
    def flagged(self) -> bool:
        return self.rollover_count >= FLAG_AFTER


@dataclass(frozen=True)
class TaskFilters:
    """What the task grid narrows by; empty means no narrowing."""

    statuses: tuple[str, ...] = ()
    priorities: tuple[str, ...] = ()
    due_from: date | None = None
    due_to: date | None = None
    overdue_only: bool = False
    text: str | None = None


@dataclass(frozen=True)
class OpportunityChoice:
    id: uuid.UUID
    label: str


def days_overdue(status: str, due: date | None, today: date) -> int | None:
    """How many days an open task is past its due date; None when it is not overdue."""
    if status not in OPEN_STATUSES or due is None or due >= today:
        return None
    return (today - due).days


def _deal_label(customer: str, partner: str) -> str:
    return f"{customer} — {partner}"


def _unique_labels(rows: list[tuple[uuid.UUID, str]]) -> dict[uuid.UUID, str]:
    """Labels a picker can tell apart: a repeated one gets the start of the deal's id."""
    seen: dict[str, int] = {}
    for _, label in rows:
        seen[label] = seen.get(label, 0) + 1
    return {opp_id: label if seen[label] == 1 else f"{label} · #{str(opp_id)[:6]}"
            for opp_id, label in rows}


def _visible_labels(session: Session, viewer: Viewer,
                    ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    if not ids:
        return {}
    rows = session.execute(
        select(Opportunity.id, Opportunity.customer_name, Partner.name)
        .join(Partner, Partner.id == Opportunity.partner_id)
        .where(Opportunity.id.in_(ids), scope.opportunities_visible(viewer)))
    return _unique_labels([(r[0], _deal_label(r[1], r[2])) for r in rows])


def list_tasks(*, session: Session, viewer: Viewer, filters: TaskFilters | None = None,
               today: date | None = None) -> list[TaskRow]:
    """The viewer's own tasks, soonest due first, narrowed by `filters`."""
    require(viewer, OWN_WORK, "keep tasks")
    f = filters or TaskFilters()
    today = today or local_today()
    stmt = select(Task).where(Task.user_id == viewer.id)
    if f.statuses:
        for s in f.statuses:
            validate.choice("status", s, TASK_STATUSES)
        stmt = stmt.where(Task.status.in_(f.statuses))
    if f.priorities:
        for p in f.priorities:
            validate.choice("priority", p, PRIORITIES)
        stmt = stmt.where(Task.priority.in_(f.priorities))
    if f.due_from is not None:
        stmt = stmt.where(Task.due_date >= validate.day("due_from", f.due_from))
    if f.due_to is not None:
        stmt = stmt.where(Task.due_date <= validate.day("due_to", f.due_to))
    if f.due_from is not None and f.due_to is not None and f.due_to < f.due_from:
        raise ValidationError("due_to", "is before due_from")
    if f.overdue_only:
        stmt = stmt.where(Task.status.in_(OPEN_STATUSES), Task.due_date < today)
    if (text := validate.search("search", f.text)) is not None:
        pattern = validate.like_pattern(text)
        stmt = stmt.where(or_(
            func.lower(Task.title).like(pattern, escape="\\"),
            func.lower(func.coalesce(Task.description, "")).like(pattern, escape="\\")))
    stmt = stmt.order_by(Task.due_date.asc().nulls_last(), _PRIORITY_RANK.desc(),
                         Task.created_at, Task.id)
    return _rows(session, viewer, list(session.scalars(stmt)), today)


def get_task(*, session: Session, viewer: Viewer, task_id: Any,
             today: date | None = None) -> TaskRow:
    """One of the viewer's own tasks as the grid shows it; anyone else's is not found."""
    task = _own_task(session, viewer, task_id)
    return _rows(session, viewer, [task], today or local_today())[0]


def _rows(session: Session, viewer: Viewer, tasks: list[Task], today: date) -> list[TaskRow]:
    labels = _visible_labels(session, viewer,
                             {t.opportunity_id for t in tasks if t.opportunity_id is not None})
    return [
        TaskRow(id=t.id, title=t.title, description=t.description, priority=t.priority,
                status=t.status, due_date=t.due_date, completed_date=t.completed_date,
                opportunity_id=t.opportunity_id,
                opportunity_label=labels.get(t.opportunity_id) if t.opportunity_id else None,
                rolled_over_from=t.rolled_over_from, rollover_count=t.rollover_count,
                days_overdue=days_overdue(t.status, t.due_date, today))
        for t in tasks
    ]


def opportunity_choices(*, session: Session, viewer: Viewer) -> list[OpportunityChoice]:
    """The open deals the viewer may link a task to, by customer name."""
    require(viewer, OWN_WORK, "keep tasks")
    rows = session.execute(
        select(Opportunity.id, Opportunity.customer_name, Partner.name)
        .join(Partner, Partner.id == Opportunity.partner_id)
        .where(Opportunity.stage.in_(OPEN_STAGES), scope.opportunities_visible(viewer))
        .order_by(func.lower(Opportunity.customer_name), func.lower(Partner.name),
                  Opportunity.id))
    labels = _unique_labels([(r[0], _deal_label(r[1], r[2])) for r in rows])
    return [OpportunityChoice(id=k, label=v) for k, v in labels.items()]


# --- writes ------------------------------------------------------------------------------

def _own_task(session: Session, viewer: Viewer, task_id: Any) -> Task:
    require(viewer, OWN_WORK, "keep tasks")
    task = session.get(Task, parse_id("task_id", task_id))
    # Someone else's task is reported as missing: its existence is none of the viewer's
    # business.
    if task is None or task.user_id != viewer.id:
        raise NotFound("No such task.")
    return task


def _opportunity(session: Session, viewer: Viewer, value: Any) -> uuid.UUID | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    opp_id = parse_id("opportunity_id", value)
    found = session.scalar(select(Opportunity.id).where(
        Opportunity.id == opp_id, scope.opportunities_visible(viewer)))
    if found is None:
        raise ValidationError("opportunity_id", "no such opportunity among those you may see")
    return found


def _clean(session: Session, viewer: Viewer, field: str, value: Any) -> Any:
    if field == "title":
        return validate.text("title", value, max_len=TITLE_MAX, required=True)
    if field == "description":
        return validate.text("description", value, max_len=NOTES_MAX, multiline=True)
    if field == "priority":
        return validate.choice("priority", value, PRIORITIES)
    if field == "status":
        status = validate.choice("status", value, TASK_STATUSES)
        if status == "rolled_over":
            raise ValidationError("status", "'rolled_over' is set by the rollover only")
        return status
    if field == "due_date":
        return validate.day("due_date", value)
    if field == "opportunity_id":
        return _opportunity(session, viewer, value)
    raise ValidationError(field, "is not a task field that can be changed")


def _completed_date(status: str, current: date | None, today: date) -> date | None:
    if status != "completed":
        return None
    return current or today


def create_task(*, session: Session, viewer: Viewer, title: str,
                description: str | None = None, priority: str = "medium",
                status: str = "pending", due_date: Any = None,
                opportunity_id: Any = None) -> Task:
    """Add a task to the viewer's own list."""
    require(viewer, OWN_WORK, "keep tasks")
    if viewer.id is None:
        raise Forbidden("Tasks belong to a person; the command line has none.")
    raw = {"title": title, "description": description, "priority": priority,
           "status": status, "due_date": due_date, "opportunity_id": opportunity_id}
    values = {field: _clean(session, viewer, field, value) for field, value in raw.items()}
    values["completed_date"] = _completed_date(values["status"], None, local_today())
    task = Task(user_id=viewer.id, **values)
    session.add(task)
    session.flush()
    audit.record(session, actor=viewer, action="create", entity_type="task", entity_id=task.id,
                 new=values)
    return task


def update_task(*, session: Session, viewer: Viewer, task_id: Any, **fields: Any) -> Task:
    """Change fields of one of the viewer's tasks (any of TASK_FIELDS)."""
    task = _own_task(session, viewer, task_id)
    for field in fields:
        if field not in TASK_FIELDS:
            raise ValidationError(field, "is not a task field that can be changed")
    if task.status == "rolled_over":
        raise ValidationError("status", "this task was rolled over: change the task that "
                                        "continues it instead")
    values = {field: _clean(session, viewer, field, value) for field, value in fields.items()}
    if "status" in values:
        values["completed_date"] = _completed_date(values["status"], task.completed_date,
                                                   local_today())
    old, new = audit.changes(task, values)
    if not new:
        return task
    for key, value in new.items():
        setattr(task, key, value)
    audit.record(session, actor=viewer, action="update", entity_type="task", entity_id=task.id,
                 old=old, new=new)
    session.flush()
    return task


def delete_task(*, session: Session, viewer: Viewer, task_id: Any) -> uuid.UUID:
    """Delete one of the viewer's tasks and return its id; a successor keeps its count."""
    task = _own_task(session, viewer, task_id)
    old = {f: getattr(task, f) for f in (*TASK_FIELDS, "rollover_count", "rolled_over_from")}
    # Explicit rather than left to ON DELETE SET NULL, so loaded successors see it too.
    for successor in session.scalars(select(Task).where(Task.rolled_over_from == task.id)):
        successor.rolled_over_from = None
    session.flush()
    audit.record(session, actor=viewer, action="delete", entity_type="task", entity_id=task.id,
                 old=old)
    session.delete(task)
    session.flush()
    return task.id


@dataclass(frozen=True)
class TaskEdit:
    task_id: uuid.UUID
    title: str                      # as the list showed it, to name the task in a problem
    values: dict[str, Any]          # TASK_FIELDS -> the new value; only what changed


@dataclass(frozen=True)
class TaskProblem:
    task_id: uuid.UUID
    title: str
    field: str | None               # the refused field; None when the task as a whole was
    reason: str


@dataclass(frozen=True)
class TaskEditsSaved:
    saved: list[tuple[uuid.UUID, str]]     # (id, title as saved), in the order sent
    problems: list[TaskProblem]


def save_task_edits(*, session: Session, viewer: Viewer,
                    edits: list[TaskEdit]) -> TaskEditsSaved:
    """Save the list's edited tasks; a refused task is reported and the others still saved.

    update_task checks every value before it writes, so a refused task leaves nothing
    behind in the transaction the others commit in.
    """
    saved, problems = [], []
    for edit in edits:
        try:
            task = update_task(session=session, viewer=viewer, task_id=edit.task_id,
                               **edit.values)
        except ValidationError as exc:
            log.info("task edit refused: %s", exc)
            problems.append(TaskProblem(edit.task_id, edit.title, exc.field, exc.reason))
        except (Forbidden, NotFound, Conflict) as exc:
            log.warning("task edit refused: %s", exc)
            problems.append(TaskProblem(edit.task_id, edit.title, None, str(exc)))
        else:
            saved.append((task.id, task.title))
    return TaskEditsSaved(saved=saved, problems=problems)


# --- rollover ----------------------------------------------------------------------------

@dataclass(frozen=True)
class RolloverResult:
    week_start: date
    rolled: int          # originals marked rolled_over, each with one successor
    flagged: int         # successors rolled over FLAG_AFTER times or more


def successor_due(due: date, week_start: date) -> date:
    """The successor is due on the same weekday as the original, in the week of `week_start`.

    A task planned for a Thursday stays a Thursday task; Monday's list gets only what was
    meant for Mondays.
    """
    return week_start + timedelta(days=due.weekday())


def rollover(*, session: Session, viewer: Viewer, today: date | None = None,
             user_id: Any = None) -> RolloverResult:
    """Carry every unfinished task due before this week's Monday into this week.

    Each pending or in-progress task due before Monday gets a successor (same title,
    description, priority, status and deal; due the same weekday this week; rollover_count
    one more) and becomes `rolled_over`. Running it again changes nothing. The vp and the
    system roll everyone's tasks when no `user_id` is given; anyone else only their own.
    """
    require(viewer, OWN_WORK, "roll over tasks")
    target: uuid.UUID | None
    if user_id is None or (str(user_id).strip() == ""):
        target = None if viewer.can(TEAM_WRITE) else viewer.id
    else:
        target = parse_id("user_id", user_id)
        if target != viewer.id and not viewer.can(TEAM_WRITE):
            raise Forbidden("You may only roll over your own tasks.")
    if target is not None and session.get(User, target) is None:
        raise ValidationError("user_id", "no such user")

    week_start = monday_of(today or local_today())
    stmt = (select(Task).where(Task.status.in_(OPEN_STATUSES), Task.due_date < week_start)
            .order_by(Task.user_id, Task.due_date, Task.id))
    if target is not None:
        stmt = stmt.where(Task.user_id == target)
    rolled = flagged = 0
    for task in session.scalars(stmt).all():
        # The status check in the UPDATE is the guard against a rollover running at the
        # same time: whoever changes the row first rolls it; the other sees 0 rows and moves
        # on. (The unique rolled_over_from is the database's last word on it.)
        claimed = session.execute(
            update(Task).where(Task.id == task.id, Task.status.in_(OPEN_STATUSES))
            .values(status="rolled_over", updated_at=utcnow())
            .execution_options(synchronize_session=False)).rowcount
        if not claimed:
            continue
        old_status = task.status
        successor = Task(
            user_id=task.user_id, opportunity_id=task.opportunity_id, title=task.title,
            description=task.description, priority=task.priority, status=old_status,
            due_date=successor_due(task.due_date, week_start), rolled_over_from=task.id,
            rollover_count=task.rollover_count + 1)
        session.add(successor)
        try:
            session.flush()
        except IntegrityError:
            raise Conflict("Another rollover ran at the same time; nothing was changed. "
                           "Run it again.") from None
        session.refresh(task)
        audit.record(session, actor=viewer, action="rollover", entity_type="task",
                     entity_id=task.id, old={"status": old_status},
                     new={"status": "rolled_over", "successor_id": successor.id})
        audit.record(session, actor=viewer, action="create", entity_type="task",
                     entity_id=successor.id,
                     new={"rolled_over_from": task.id, "due_date": successor.due_date,
                          "rollover_count": successor.rollover_count, "title": task.title})
        rolled += 1
        flagged += successor.rollover_count >= FLAG_AFTER
    return RolloverResult(week_start=week_start, rolled=rolled, flagged=flagged)
