"""Saving the opportunity grid: every deleted, changed and added row in one transaction.

A grid save is all or nothing: one refused row (invalid value, stale version, out of scope)
and nothing of the save is written, so the user corrects the rows and saves again. Every
problem is reported with its row, field and reason, not only the first.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import PendingRollbackError
from sqlalchemy.orm import Session

from isv.auth import Viewer
from isv.db import session_scope
from isv.errors import Conflict, Forbidden, NotFound, ValidationError
from isv.services import opportunities as opps

REQUIRED_NEW = ("partner_id", "customer_name", "deal_value")
WHOLE_ROW = None  # GridProblem.field of a refusal that is about the row, not one field
STOPPED = "—"     # GridProblem.row and .field of the note that the save stopped early


@dataclass(frozen=True)
class DeletedRow:
    label: str
    opportunity_id: uuid.UUID
    expected_version: int


@dataclass(frozen=True)
class ChangedRow:
    label: str
    opportunity_id: uuid.UUID
    expected_version: int
    values: dict[str, Any]          # service field name -> new value; only real changes


@dataclass(frozen=True)
class NewRow:
    label: str
    values: dict[str, Any]          # service field name -> value; blanks left out


@dataclass(frozen=True)
class GridProblem:
    row: str
    field: str | None               # the service's field name; WHOLE_ROW for the whole row
    reason: str


@dataclass
class GridSave:
    """What a grid save did: the counts are 0 whenever there is a problem (nothing written)."""

    updated: int = 0
    added: int = 0
    deleted: int = 0
    problems: list[GridProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        parts = [f"{n} {what}" for n, what in ((self.updated, "changed"),
                                                (self.added, "added"),
                                                (self.deleted, "deleted")) if n]
        return "Saved: " + (", ".join(parts) if parts else "nothing to save") + "."


def _apply(session: Session, viewer: Viewer, call: Callable[..., Any], label: str,
           kwargs: dict[str, Any], problems: list[GridProblem], *,
           required: tuple[str, ...] = ()) -> bool:
    """Call one service for one row; collect every field it rejects, not only the first.

    A ValidationError is raised before the service writes anything, so after dropping the
    rejected field the row is tried again to find its other problems (the whole save is
    rolled back anyway once there is one).
    """
    kwargs = dict(kwargs)
    failed = False
    while True:
        try:
            call(session=session, viewer=viewer, **kwargs)
            return not failed
        except ValidationError as exc:
            problems.append(GridProblem(label, exc.field, exc.reason))
            failed = True
            if exc.field not in kwargs or exc.field in required:
                return False
            del kwargs[exc.field]
        except (Conflict, Forbidden, NotFound) as exc:
            problems.append(GridProblem(label, WHOLE_ROW, str(exc)))
            return False


def save_grid(*, viewer: Viewer, deleted: list[DeletedRow], changed: list[ChangedRow],
              added: list[NewRow]) -> GridSave:
    """Delete, change and add the grid's rows together; write nothing if one is refused."""
    result = GridSave()
    problems = result.problems
    with session_scope() as session:
        try:
            for row in deleted:
                if _apply(session, viewer, opps.delete_opportunity, row.label,
                          {"opportunity_id": row.opportunity_id,
                           "expected_version": row.expected_version}, problems):
                    result.deleted += 1
            for row in changed:
                if _apply(session, viewer, opps.update_opportunity, row.label,
                          {"opportunity_id": row.opportunity_id,
                           "expected_version": row.expected_version, **row.values}, problems):
                    result.updated += 1
            for row in added:
                values = dict(row.values)
                for name in REQUIRED_NEW:
                    values.setdefault(name, None)
                if _apply(session, viewer, opps.create_opportunity, row.label, values,
                          problems, required=REQUIRED_NEW):
                    result.added += 1
        except PendingRollbackError:
            # A concurrent commit beat one of our rows at the database (reported above as a
            # conflict); the transaction is over, so the remaining rows cannot be tried.
            problems.append(GridProblem(STOPPED, STOPPED, "The save stopped at the conflict "
                                                          "above; nothing was written."))
        if problems:
            session.rollback()
            result.updated = result.added = result.deleted = 0
            return result
        session.commit()
    return result
