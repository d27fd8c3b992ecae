"""/users: the people who sign in; managed by a vp or an admin."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from isv.api.deps import viewer
from isv.api.envelope import Envelope, ok
from isv.api.errors import READ, WRITE
from isv.api.schemas import Out, Text, dump
from isv.auth import Viewer
from isv.db import session_scope
from isv.services import users

router = APIRouter(prefix="/users", tags=["users"])


class UserOut(Out):
    id: uuid.UUID
    email: str
    first_name: str
    last_name: str
    role: str
    is_active: bool
    last_login_at: datetime | None
    created_at: datetime


class UserIn(BaseModel):
    email: Text
    first_name: Text
    last_name: Text
    role: Text
    password: str | None = Field(default=None, max_length=200,
                                 description="Without one the user cannot sign in yet.")


class UserUpdate(BaseModel):
    """Only the fields sent change; `is_active` false deactivates (as DELETE does)."""

    first_name: Text | None = None
    last_name: Text | None = None
    role: Text | None = None
    is_active: bool | None = None


@router.get("", response_model=Envelope[list[UserOut]], responses=READ)
def list_users(active_only: bool = Query(False), who: Viewer = Depends(viewer)):
    """The users the caller may read: everyone for vp, sales manager and admin; a
    partnership manager, themselves and the people their partners and deals name."""
    with session_scope() as session:
        rows = users.people(session=session, viewer=who, include_inactive=not active_only)
        return ok([dump(UserOut, u) for u in rows])


@router.post("", response_model=Envelope[UserOut], status_code=201, responses=WRITE)
def create_user(body: UserIn, who: Viewer = Depends(viewer)):
    """Add a user (vp, admin)."""
    with session_scope() as session:
        user = users.create_user(session=session, viewer=who, **body.model_dump())
        session.commit()
        return ok(dump(UserOut, user))


@router.get("/{id}", response_model=Envelope[UserOut], responses=READ)
def get_user(id: uuid.UUID, who: Viewer = Depends(viewer)):
    """One user the caller may read."""
    with session_scope() as session:
        return ok(dump(UserOut, users.get_person(session=session, viewer=who, user_id=id)))


@router.put("/{id}", response_model=Envelope[UserOut], responses=WRITE)
def update_user(id: uuid.UUID, body: UserUpdate, who: Viewer = Depends(viewer)):
    """Change a user's name, role or active state (vp, admin); a role change or a
    deactivation ends the user's sessions and API sign-ins."""
    fields = body.model_dump(exclude_unset=True)
    active = fields.pop("is_active", None)
    with session_scope() as session:
        user = users.get_person(session=session, viewer=who, user_id=id)
        if fields:
            user = users.update_user(session=session, viewer=who, user_id=id, **fields)
        if active is not None:
            user = users.set_active(session=session, viewer=who, user_id=id, active=active)
        session.commit()
        return ok(dump(UserOut, user))


@router.delete("/{id}", response_model=Envelope[UserOut], responses=WRITE)
def deactivate_user(id: uuid.UUID, who: Viewer = Depends(viewer)):
    """Deactivate a user (vp, admin): their sessions and API sign-ins end at once; their
    records stay."""
    with session_scope() as session:
        users.get_person(session=session, viewer=who, user_id=id)
        user = users.set_active(session=session, viewer=who, user_id=id, active=False)
        session.commit()
        return ok(dump(UserOut, user))
