"""Personal access tokens: a user's own REST API tokens for scripts.

A script cannot log in every 15 minutes with a password, so a person makes a token on the
Account page: read-only or read-write, with an expiry of at most a year. The secret is shown
once, when it is made; only its SHA-256 hash is stored, so neither the database nor a backup
can give it back. It starts with `isvpat_`, so it is never mistaken for a sign-in's JWT (the
API tells them apart by that prefix) and a secret scanner can recognise a leaked one.

Every use re-reads the token and its owner: a revoked or expired token, or one whose owner
was deactivated or anonymised, stops on its next call. A deactivation revokes them for good
(a reactivation brings none back); a password or role change does not: a token is no sign-in
and acts with its owner's role as it is on each call, as GitHub's do.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from isv import auth
from isv.auth import Viewer
from isv.errors import Forbidden, NotFound, ValidationError
from isv.models import TOKEN_SCOPES, PersonalAccessToken, User
from isv.services import audit, validate
from isv.services.settings import local_today, local_zone
from isv.types import utcnow

PREFIX = "isvpat_"
READ, WRITE = TOKEN_SCOPES
NAME_MAX = 100
MAX_DAYS = 365
EXPIRY_CHOICES = (7, 30, 90, 365)  # the Account page's choices, in days
MAX_LIVE = 20  # live tokens per person: enough for their scripts, bounded against abuse
# Why an end of a user's sessions (isv.services.users.end_user_sessions) revokes their tokens too.
ENDED_BY = frozenset({"deactivated"})
USE_WRITE_SECONDS = 60  # last_used_at is written at most this often per token
SCOPE_LABELS = {READ: "read-only", WRITE: "read-write"}


@dataclass(frozen=True)
class NewToken:
    token: PersonalAccessToken
    secret: str  # the whole token, shown once and never stored


def is_personal_token(value: str) -> bool:
    return value.startswith(PREFIX)


def status(token: PersonalAccessToken, now: datetime | None = None) -> str:
    """'active', 'expired' or 'revoked'."""
    if token.revoked_at is not None:
        return "revoked"
    return "expired" if token.expires_at <= (now or utcnow()) else "active"


def _expiry(now: datetime, expires_in_days: object, expires_on: object) -> datetime:
    if (expires_in_days is None) == (expires_on is None):
        raise ValidationError("expires", "choose a number of days or a date")
    if expires_in_days is not None:
        try:
            days = int(str(expires_in_days).strip())
        except ValueError:
            raise ValidationError("expires", f"{expires_in_days!r} is not a number of "
                                             "days") from None
        if not 1 <= days <= MAX_DAYS:
            raise ValidationError("expires", f"must be 1 to {MAX_DAYS} days")
        return now + timedelta(days=days)
    day = validate.day("expires", expires_on, required=True)
    today = local_today()
    if day <= today:
        raise ValidationError("expires", "must be a day after today")
    if day > today + timedelta(days=MAX_DAYS):
        raise ValidationError("expires", f"must be within a year, by "
                                         f"{today + timedelta(days=MAX_DAYS)}")
    # The token works through that whole day in the program's time zone.
    return datetime.combine(day + timedelta(days=1), time(), local_zone())


def _live(viewer: Viewer, now: datetime):
    return (PersonalAccessToken.user_id == viewer.id, PersonalAccessToken.revoked_at.is_(None),
            PersonalAccessToken.expires_at > now)


def create_token(*, session: Session, viewer: Viewer, name: str, scope: str,
                 expires_in_days: int | None = None, expires_on: date | None = None,
                 now: datetime | None = None) -> NewToken:
    """Make a token for the viewer; the secret is in the answer and nowhere else."""
    if viewer.id is None:
        raise Forbidden("Only a person has personal access tokens.")
    now = now or utcnow()
    label = validate.text("name", name, max_len=NAME_MAX, required=True)
    scope = validate.choice("scope", scope, TOKEN_SCOPES)
    expires_at = _expiry(now, expires_in_days, expires_on)
    live = list(session.scalars(select(PersonalAccessToken.name).where(*_live(viewer, now))))
    if any(existing.lower() == label.lower() for existing in live):
        raise ValidationError("name", f"you already have a live token named {label!r}")
    if len(live) >= MAX_LIVE:
        raise ValidationError("name", f"you have {MAX_LIVE} live tokens, the most allowed; "
                                      "revoke one first")
    secret = PREFIX + secrets.token_urlsafe(32)
    token = PersonalAccessToken(user_id=viewer.id, name=label, scope=scope,
                                token_hash=auth.token_hash(secret), created_at=now,
                                expires_at=expires_at)
    session.add(token)
    session.flush()
    # The label, scope and expiry are recorded; the secret and its hash never are.
    audit.record(session, actor=viewer, action="create", entity_type="personal_token",
                 entity_id=token.id, new={"name": label, "scope": scope,
                                          "expires_at": expires_at})
    return NewToken(token=token, secret=secret)


def list_tokens(*, session: Session, viewer: Viewer) -> list[PersonalAccessToken]:
    """The viewer's own tokens, newest first (the rows hold no secret, only its hash)."""
    return list(session.scalars(
        select(PersonalAccessToken).where(PersonalAccessToken.user_id == viewer.id)
        .order_by(PersonalAccessToken.created_at.desc(), PersonalAccessToken.id)))


def revoke_token(*, session: Session, viewer: Viewer, token_id: uuid.UUID,
                 now: datetime | None = None) -> PersonalAccessToken:
    """Stop one of the viewer's tokens for good; revoking a revoked one changes nothing.

    Only its owner revokes a token here; a user manager stops someone's scripts by
    deactivating the account, which revokes all of them.
    """
    token = session.get(PersonalAccessToken, token_id)
    if token is None or token.user_id != viewer.id:
        raise NotFound("No such token among yours.")
    if token.revoked_at is None:
        token.revoked_at = now or utcnow()
        token.revoke_reason = "revoked"
        audit.record(session, actor=viewer, action="revoke", entity_type="personal_token",
                     entity_id=token.id, new={"name": token.name, "scope": token.scope})
    return token


def revoke_user(*, session: Session, user_id: uuid.UUID, reason: str,
                now: datetime | None = None) -> int:
    """Revoke every live token of a user; how many that was."""
    result = session.execute(
        update(PersonalAccessToken)
        .where(PersonalAccessToken.user_id == user_id, PersonalAccessToken.revoked_at.is_(None))
        .values(revoked_at=now or utcnow(), revoke_reason=reason)
        .execution_options(synchronize_session=False))
    return result.rowcount or 0


@dataclass(frozen=True)
class TokenCheck:
    viewer: Viewer | None
    token_id: uuid.UUID | None = None
    scope: str | None = None
    name: str = ""
    reason: str = ""


def check_token(*, session: Session, secret: str, now: datetime | None = None) -> TokenCheck:
    """The viewer a personal token signs in, re-read now; None with a reason otherwise."""
    now = now or utcnow()
    token = session.scalar(select(PersonalAccessToken)
                           .where(PersonalAccessToken.token_hash == auth.token_hash(secret)))
    if token is None:
        return TokenCheck(None, reason="the personal access token is not valid")
    if token.revoked_at is not None:
        return TokenCheck(None, reason=f"the personal access token {token.name!r} was "
                                       "revoked; create a new one on the Account page")
    if token.expires_at <= now:
        return TokenCheck(None, reason=f"the personal access token {token.name!r} expired "
                                       f"at {token.expires_at:%Y-%m-%d %H:%M} UTC; create a "
                                       "new one on the Account page")
    user = session.get(User, token.user_id)
    if user is None or not user.is_active:
        return TokenCheck(None, reason="this account is deactivated")
    # A busy script would otherwise write on every call: once a minute says enough.
    if token.last_used_at is None or now - token.last_used_at >= timedelta(
            seconds=USE_WRITE_SECONDS):
        token.last_used_at = now
    return TokenCheck(Viewer.of(user), token_id=token.id, scope=token.scope, name=token.name)

