"""/status: one's weekly status (drafted from the data until saved) and the team's week."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field

from isv.api.deps import viewer
from isv.api.envelope import Envelope, ok
from isv.api.errors import READ, WRITE
from isv.api.schemas import DayIn, Text
from isv.auth import Viewer
from isv.db import session_scope
from isv.services import status

router = APIRouter(prefix="/status", tags=["status"])

WeekStart = Path(description="The week's Monday, YYYY-MM-DD.", max_length=40)


class Metric(BaseModel):
    name: str
    value: Decimal


class WeekOut(BaseModel):
    week_start: date
    state: str
    saved: bool = Field(description="False: drafted from the data, nothing stored yet.")
    accomplishments: str
    upcoming_tasks: str
    blockers: str
    kpi_metrics: list[Metric]
    submitted_at: datetime | None
    updated_at: datetime | None


class HistoryOut(BaseModel):
    week_start: date
    state: str
    submitted_at: datetime | None
    updated_at: datetime
    accomplishments: str
    blockers: str


class WeekParts(BaseModel):
    """The parts sent change; the others stay as saved."""

    accomplishments: Text | None = None
    upcoming_tasks: Text | None = None
    blockers: Text | None = None
    kpi_metrics: dict[str, Any] | None = Field(
        default=None, description='Name → number, e.g. {"Partner touches": 12}.')


class WeekSubmit(WeekParts):
    week_start: DayIn


class WeekUpdate(WeekParts):
    submit: bool = Field(default=False, description="Submit it (else it is saved as a draft).")


class MetricChangeOut(BaseModel):
    name: str
    this_week: Decimal | None
    last_week: Decimal | None
    change: Decimal | None


class MemberOut(BaseModel):
    user_id: uuid.UUID
    name: str
    role: str
    state: str
    submitted_at: datetime | None
    accomplishments: str
    upcoming_tasks: str
    blockers: list[str]
    metrics: list[MetricChangeOut]


class TeamOut(BaseModel):
    week_start: date
    members: list[MemberOut]


def _week(form: status.StatusForm) -> dict:
    return WeekOut(week_start=form.week_start, state=form.state, saved=form.saved,
                   accomplishments=form.accomplishments, upcoming_tasks=form.upcoming_tasks,
                   blockers=form.blockers, submitted_at=form.submitted_at,
                   updated_at=form.updated_at,
                   kpi_metrics=[Metric(name=n, value=v) for n, v in form.kpi_metrics]
                   ).model_dump(mode="json")


@router.get("/weeks", response_model=Envelope[list[HistoryOut]], responses=READ)
def weeks(who: Viewer = Depends(viewer)):
    """The caller's saved weeks, newest first."""
    with session_scope() as session:
        rows = status.history(session=session, viewer=who)
    return ok([HistoryOut.model_validate(r, from_attributes=True).model_dump(mode="json")
               for r in rows])


@router.post("/weeks", response_model=Envelope[WeekOut], status_code=201, responses=WRITE)
def submit_week(body: WeekSubmit, who: Viewer = Depends(viewer)):
    """Submit the caller's status for a week (the parts sent; the rest as saved)."""
    parts = body.model_dump(exclude_unset=True)
    monday = parts.pop("week_start")
    with session_scope() as session:
        form = status.submit(session=session, viewer=who, week_start_date=monday, **parts)
        session.commit()
    return ok(_week(form))


@router.get("/weeks/{week_start}", response_model=Envelope[WeekOut], responses=READ)
def open_week(week_start: str = WeekStart, who: Viewer = Depends(viewer)):
    """The caller's status for a week: as saved, or drafted from the data (`saved` false)."""
    with session_scope() as session:
        form = status.open_week(session=session, viewer=who, week_start_date=week_start)
        session.commit()
    return ok(_week(form))


@router.put("/weeks/{week_start}", response_model=Envelope[WeekOut], responses=WRITE)
def update_week(body: WeekUpdate, week_start: str = WeekStart, who: Viewer = Depends(viewer)):
    """Save the parts sent as a draft, or submit with `submit`: true."""
    parts = body.model_dump(exclude_unset=True)
    save = status.submit if parts.pop("submit", False) else status.save_draft
    with session_scope() as session:
        form = save(session=session, viewer=who, week_start_date=week_start, **parts)
        session.commit()
    return ok(_week(form))


@router.get("/team/{week_start}", response_model=Envelope[TeamOut], responses=WRITE)
def team_week(week_start: str = WeekStart, who: Viewer = Depends(viewer)):
    """Everyone's status for a week, who has not submitted, blockers and metric changes
    (vp, sales manager, admin)."""
    with session_scope() as session:
        team = status.team_week(session=session, viewer=who, week_start_date=week_start)
    members = [MemberOut(user_id=m.user_id, name=m.name, role=m.role, state=m.state,
                         submitted_at=m.submitted_at, accomplishments=m.accomplishments,
                         upcoming_tasks=m.upcoming_tasks, blockers=m.blockers,
                         metrics=[MetricChangeOut(name=c.name, this_week=c.this_week,
                                                  last_week=c.last_week, change=c.change)
                                  for c in m.metrics])
               for m in team.members]
    return ok(TeamOut(week_start=team.week_start, members=members).model_dump(mode="json"))
