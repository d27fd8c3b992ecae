"""Sign-in for the REST API: short-lived signed access tokens, rotating refresh tokens.

A login goes through services.sessions.authenticate, so the UI's lockout counts API attempts
too. An access token (a JWT, HS256, ISV_API_KEY) names the user and its sign-in (the refresh
token family); every call re-reads both, so a logout, a deactivation, an anonymisation, a
password or role change (isv.services.users.end_user_sessions) stops the token on its next use.
Refresh tokens are random, stored as SHA-256 hashes, used once: a refresh issues the next
one in the family, and a used one presented again revokes the family (it was copied).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from isv import auth
from isv.auth import Viewer
from isv.config import get_settings
from isv.models import ApiRefreshToken, User
from isv.services import audit, sessions
from isv.types import utcnow

log = logging.getLogger("isv.api_auth")

ALGORITHM = "HS256"
ACCESS = "access"


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int  # seconds the access token lives
    refresh_expires_at: datetime


def _access_token(user: User, family_id: uuid.UUID, now: datetime) -> tuple[str, int]:
    settings = get_settings()
    lifetime = settings.api_access_minutes * 60
    claims = {"sub": str(user.id), "fam": str(family_id), "typ": ACCESS,
              "iat": int(now.timestamp()), "exp": int(now.timestamp()) + lifetime,
              "jti": uuid.uuid4().hex}
    return jwt.encode(claims, settings.api_key, algorithm=ALGORITHM), lifetime


def _issue(session: Session, user: User, family_id: uuid.UUID, now: datetime) -> TokenPair:
    refresh = auth.new_token()
    expires = now + timedelta(days=get_settings().api_refresh_days)
    session.add(ApiRefreshToken(user_id=user.id, family_id=family_id,
                                token_hash=auth.token_hash(refresh), created_at=now,
                                expires_at=expires))
    session.flush()
    access, lifetime = _access_token(user, family_id, now)
    return TokenPair(access_token=access, refresh_token=refresh, expires_in=lifetime,
                     refresh_expires_at=expires)


def login(*, session: Session, email: str, password: str,
          now: datetime | None = None) -> TokenPair | None:
    """Check a login as the UI does (same lockout, same audit) and start an API sign-in.

    None means refused; like sessions.authenticate it returns instead of raising, so the caller's
    transaction keeps the failure count.
    """
    now = now or utcnow()
    user = sessions.authenticate(session=session, email=email, password=password, now=now)
    if user is None:
        return None
    return _issue(session, user, uuid.uuid4(), now)


def _revoke_family(session: Session, family_id: uuid.UUID, reason: str, now: datetime) -> int:
    result = session.execute(
        update(ApiRefreshToken)
        .where(ApiRefreshToken.family_id == family_id, ApiRefreshToken.revoked_at.is_(None))
        .values(revoked_at=now, revoke_reason=reason)
        .execution_options(synchronize_session=False))
    return result.rowcount or 0


def refresh(*, session: Session, refresh_token: str,
            now: datetime | None = None) -> TokenPair | None:
    """Use up a refresh token for a new pair; None when it is unknown, expired or revoked.

    A token already used is a copy in someone else's hands: its whole family is revoked, so
    neither the thief nor the owner can go on with it (the owner signs in again). Returns
    instead of raising so that the revocation commits.
    """
    now = now or utcnow()
    row = session.scalar(select(ApiRefreshToken)
                         .where(ApiRefreshToken.token_hash == auth.token_hash(refresh_token))
                         .with_for_update())
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    if row.used_at is not None:
        _revoke_family(session, row.family_id, "reused", now)
        audit.record(session, actor=user, action="api_token_reused", entity_type="user",
                     entity_id=row.user_id, new={"family_id": str(row.family_id)})
        log.warning("API refresh token reused; sign-in revoked",
                    extra={"user_id": str(row.user_id)})
        return None
    if user is None or not user.is_active:
        _revoke_family(session, row.family_id, "deactivated", now)
        return None
    row.used_at = now
    return _issue(session, user, row.family_id, now)


def logout(*, session: Session, viewer: Viewer, family_id: uuid.UUID,
           now: datetime | None = None) -> None:
    """End an API sign-in: its refresh tokens and access tokens stop working."""
    if _revoke_family(session, family_id, "logout", now or utcnow()):
        audit.record(session, actor=viewer, action="logout", entity_type="user",
                     entity_id=viewer.id, new={"reason": "logout", "via": "api"})


def revoke_user(*, session: Session, user_id: uuid.UUID, reason: str,
                now: datetime | None = None) -> int:
    """Revoke every live API sign-in of a user; how many refresh tokens that revoked."""
    result = session.execute(
        update(ApiRefreshToken)
        .where(ApiRefreshToken.user_id == user_id, ApiRefreshToken.revoked_at.is_(None))
        .values(revoked_at=now or utcnow(), revoke_reason=reason)
        .execution_options(synchronize_session=False))
    return result.rowcount or 0


@dataclass(frozen=True)
class AccessCheck:
    viewer: Viewer | None
    family_id: uuid.UUID | None = None
    reason: str = ""


def check_access(*, session: Session, token: str) -> AccessCheck:
    """The viewer an access token signs in, re-read now; None with a reason otherwise."""
    try:
        claims = jwt.decode(token, get_settings().api_key, algorithms=[ALGORITHM],
                            options={"require": ["exp", "sub", "fam", "typ"]})
        if claims["typ"] != ACCESS:
            return AccessCheck(None, reason="not an access token")
        user_id, family_id = uuid.UUID(claims["sub"]), uuid.UUID(claims["fam"])
    except jwt.ExpiredSignatureError:
        return AccessCheck(None, reason="the access token has expired; refresh it")
    except (jwt.PyJWTError, ValueError, TypeError):
        return AccessCheck(None, reason="the access token is not valid")
    revoked = session.scalar(select(ApiRefreshToken.id).where(
        ApiRefreshToken.family_id == family_id, ApiRefreshToken.revoked_at.is_not(None))
        .limit(1))
    if revoked is not None:
        return AccessCheck(None, reason="this sign-in has ended; log in again")
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        return AccessCheck(None, reason="this account is deactivated")
    return AccessCheck(Viewer.of(user), family_id=family_id)
