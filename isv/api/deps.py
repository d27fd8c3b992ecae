"""Who is calling: the bearer token (a sign-in's JWT or a personal access token), checked
against the database on every call, and what its scope lets it do."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from isv.auth import Viewer
from isv.db import session_scope
from isv.errors import Forbidden, Unauthenticated
from isv.services import api_auth, personal_tokens

bearer = HTTPBearer(auto_error=False,
                    description="An access token from POST /auth/login, or a personal access "
                                "token (isvpat_...) made on the Account page.")

# Methods that change nothing: everything else is a write for a token's scope.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Caller:
    viewer: Viewer
    family_id: uuid.UUID | None = None  # the sign-in of an access token
    token_id: uuid.UUID | None = None  # the personal access token, when one signs in
    token_name: str = ""
    scope: str = personal_tokens.WRITE  # a sign-in may do whatever its role may


def caller(request: Request,
           credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Caller:
    """The signed-in caller; 401 without a live access token or personal access token."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("Send an access token: Authorization: Bearer <token>.")
    token = credentials.credentials
    who: Caller | None = None
    with session_scope() as session:
        if personal_tokens.is_personal_token(token):
            pat = personal_tokens.check_token(session=session, secret=token)
            if pat.viewer is not None and pat.scope is not None:
                who = Caller(viewer=pat.viewer, token_id=pat.token_id, token_name=pat.name,
                             scope=pat.scope)
            reason = pat.reason
        else:
            check = api_auth.check_access(session=session, token=token)
            if check.viewer is not None and check.family_id is not None:
                who = Caller(viewer=check.viewer, family_id=check.family_id)
            reason = check.reason
        session.commit()
    if who is None:
        raise Unauthenticated(f"Not signed in: {reason}.")
    request.state.viewer = who.viewer
    return who


def scope_allows(request: Request, who: Caller = Depends(caller)) -> Caller:
    """Refuse a write to a read-only personal access token, whatever the route.

    Applied to every resource router (isv.api.app), so no route carries a copy. A POST that
    only computes (the commission calculator) is marked `reads_only` and stays open.
    """
    if (who.scope != personal_tokens.WRITE and request.method not in SAFE_METHODS
            and not getattr(request.scope.get("endpoint"), "reads_only", False)):
        raise Forbidden(f"The personal access token {who.token_name!r} is "
                        f"{personal_tokens.SCOPE_LABELS.get(who.scope, who.scope)}: it may "
                        "not change anything. Use a read-write token.")
    return who


def reads_only(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a POST route that changes nothing, so a read-only token may call it."""
    endpoint.reads_only = True  # type: ignore[attr-defined]
    return endpoint


def viewer(who: Caller = Depends(caller)) -> Viewer:
    return who.viewer


def expected_version(body_version: int | None, if_match: str | None) -> int | None:
    """The version a change is based on: If-Match (the ETag of a GET) or the body's `version`."""
    if if_match is None or if_match.strip() == "*":
        return body_version
    tag = if_match.strip().removeprefix("W/").strip('"')
    return tag if not tag.isdigit() else int(tag)  # a non-number is refused by the service


def paging(page: int, per_page: int) -> tuple[int, int]:
    """Offset and limit of a page; the page size is capped in the query parameter's bounds."""
    return (page - 1) * per_page, per_page
