"""/auth: log in for a token pair, refresh it, log out, and who am I."""

from __future__ import annotations

import uuid
from datetime import datetime

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from isv.api.deps import Caller, caller
from isv.api.envelope import Envelope, ok
from isv.api.errors import COMMON, _described
from isv.auth import LOGIN_REFUSED
from isv.db import session_scope
from isv.errors import Forbidden, Unauthenticated
from isv.services import api_auth, users

router = APIRouter(prefix="/auth", tags=["auth"])


class LoginIn(BaseModel):
    email: str = Field(max_length=255)
    password: str = Field(max_length=1000)


class RefreshIn(BaseModel):
    refresh_token: str = Field(max_length=200)


class Tokens(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="Seconds the access token is valid.")
    refresh_token: str = Field(description="Use once at /auth/refresh; it is replaced.")
    refresh_expires_at: datetime


class Me(BaseModel):
    id: uuid.UUID
    email: str
    first_name: str
    last_name: str
    role: str
    is_active: bool
    last_login_at: datetime | None


def _tokens(pair: api_auth.TokenPair) -> dict:
    return Tokens(access_token=pair.access_token, expires_in=pair.expires_in,
                  refresh_token=pair.refresh_token,
                  refresh_expires_at=pair.refresh_expires_at).model_dump(mode="json")


_LOGIN_RESPONSES = {401: _described("Wrong email or password, or the account is locked"),
                    413: COMMON[413], 422: COMMON[422], 429: COMMON[429]}


@router.post("/login", response_model=Envelope[Tokens], responses=_LOGIN_RESPONSES)
def login(body: LoginIn):
    """Exchange email and password for an access token (15 minutes) and a refresh token.

    The same lockout as the sign-in page: 5 failures lock the account everywhere.
    """
    with session_scope() as session:
        pair = api_auth.login(session=session, email=body.email, password=body.password)
        session.commit()
    if pair is None:
        raise Unauthenticated(LOGIN_REFUSED)
    return ok(_tokens(pair))


@router.post("/refresh", response_model=Envelope[Tokens], responses=_LOGIN_RESPONSES)
def refresh(body: RefreshIn):
    """Use up a refresh token for a new pair; a used one presented again ends the sign-in."""
    with session_scope() as session:
        pair = api_auth.refresh(session=session, refresh_token=body.refresh_token)
        session.commit()
    if pair is None:
        raise Unauthenticated("The refresh token is not valid (unknown, expired, used or "
                              "revoked); log in again.")
    return ok(_tokens(pair))


class LoggedOut(BaseModel):
    logged_out: bool


@router.post("/logout", response_model=Envelope[LoggedOut],
             responses={**COMMON, 403: _described("A personal access token is no sign-in: "
                                                   "revoke it on the Account page")})
def logout(who: Caller = Depends(caller)):
    """End this sign-in: its access and refresh tokens stop working at once.

    A personal access token is refused: it is no sign-in, and a script calling logout out of
    habit must not destroy the token it runs on. Its owner revokes it on the Account page.
    """
    if who.family_id is None:
        raise Forbidden(f"A personal access token ({who.token_name!r}) is not a sign-in and "
                        "cannot log out; revoke it on the Account page.")
    with session_scope() as session:
        api_auth.logout(session=session, viewer=who.viewer, family_id=who.family_id)
        session.commit()
    return ok({"logged_out": True})


@router.get("/me", response_model=Envelope[Me], responses=COMMON)
def me(who: Caller = Depends(caller)):
    """The signed-in user."""
    with session_scope() as session:
        user = users.get_user(session=session, viewer=who.viewer, user_id=who.viewer.id)
        return ok(Me.model_validate(user, from_attributes=True).model_dump(mode="json"))
