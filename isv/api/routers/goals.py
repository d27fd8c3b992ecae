"""/goals: quarterly goals with progress worked out from the data; the team's for managers."""

from __future__ import annotations

import uuid
from decimal import Decimal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from isv.api.deps import viewer
from isv.api.envelope import Envelope, ok
from isv.api.errors import READ, WRITE
from isv.api.schemas import Deleted, MoneyIn, Out, Text, dump
from isv.auth import Viewer
from isv.db import session_scope
from isv.services import goals

router = APIRouter(prefix="/goals", tags=["goals"])


class GoalOut(Out):
    id: uuid.UUID
    user_id: uuid.UUID
    user_name: str
    year: int
    quarter: int
    goal_type: str
    target: Decimal
    progress: Decimal
    pace: Decimal
    ahead_of_pace: bool
    shortfall: Decimal
    share: Decimal | None
    notes: str | None


class GoalIn(BaseModel):
    year: int
    quarter: int
    goal_type: Text
    target: MoneyIn
    notes: Text | None = None
    user_id: uuid.UUID | None = None


class GoalUpdate(BaseModel):
    """Only the fields sent change; progress always comes from the data."""

    target: MoneyIn | None = None
    notes: Text | None = None


def _quarter(year: int | None, quarter: int | None) -> tuple[int, int]:
    now = goals.current_quarter()
    return (year if year is not None else now[0], quarter if quarter is not None else now[1])


@router.get("", response_model=Envelope[list[GoalOut]], responses=READ)
def list_goals(year: int | None = Query(None, description="Default: this quarter's year."),
               quarter: int | None = Query(None, description="1 to 4; default: this one."),
               user_id: uuid.UUID | None = Query(None, description="Someone else's (managers)."),
               who: Viewer = Depends(viewer)):
    """One person's goals for a quarter (the caller's own unless `user_id`)."""
    year, quarter = _quarter(year, quarter)
    with session_scope() as session:
        rows = goals.list_goals(session=session, viewer=who, year=year, quarter=quarter,
                                user_id=user_id)
    return ok([dump(GoalOut, g) for g in rows])


@router.get("/team", response_model=Envelope[list[GoalOut]], responses=READ)
def team_goals(year: int | None = None, quarter: int | None = None,
               who: Viewer = Depends(viewer)):
    """Everyone's goals for a quarter (vp, sales manager, admin)."""
    year, quarter = _quarter(year, quarter)
    with session_scope() as session:
        rows = goals.team_goals(session=session, viewer=who, year=year, quarter=quarter)
    return ok([dump(GoalOut, g) for g in rows])


@router.post("", response_model=Envelope[GoalOut], status_code=201, responses=WRITE)
def set_goal(body: GoalIn, who: Viewer = Depends(viewer)):
    """Set a goal of one type for a quarter: the caller's own, or anyone's for the vp.
    Setting one that exists changes its target and notes."""
    with session_scope() as session:
        goal = goals.set_goal(session=session, viewer=who, **body.model_dump(exclude_unset=True))
        session.commit()
    return ok(dump(GoalOut, goal))


@router.put("/{id}", response_model=Envelope[GoalOut], responses=WRITE)
def update_goal(id: uuid.UUID, body: GoalUpdate, who: Viewer = Depends(viewer)):
    """Change a goal's target or notes."""
    with session_scope() as session:
        goal = goals.get_goal(session=session, viewer=who, goal_id=id)
        changed = goals.set_goal(session=session, viewer=who, year=goal.year,
                                 quarter=goal.quarter, goal_type=goal.goal_type,
                                 user_id=goal.user_id,
                                 **body.model_dump(exclude_unset=True))
        session.commit()
    return ok(dump(GoalOut, changed))


@router.delete("/{id}", response_model=Envelope[Deleted], responses=WRITE)
def delete_goal(id: uuid.UUID, who: Viewer = Depends(viewer)):
    """Remove a goal: the caller's own, or anyone's for the vp (audited, as on the page)."""
    with session_scope() as session:
        goals.delete_goal(session=session, viewer=who, goal_id=id)
        session.commit()
    return ok({"deleted": str(id)})
