"""Signing in, server-side sessions and one-time login tickets: the use cases over isv.auth.

isv.auth holds who a viewer is, what a role may do, and how passwords and tokens are hashed;
what signs a person in or out writes the audit log and counts metrics, so it lives here,
above isv.services.audit (issue 15: no cycle between auth and the services).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import bcrypt
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from isv import metrics
from isv.auth import Viewer, hash_cost, hash_password, new_token, token_hash, verify_password
from isv.config import get_settings
from isv.models import LoginTicket, User, UserSession
from isv.services import audit, validate
from isv.types import utcnow

log = logging.getLogger("isv.auth")


@lru_cache(maxsize=4)
def _dummy_hash(rounds: int) -> str:
    return bcrypt.hashpw(b"not-a-real-password", bcrypt.gensalt(rounds)).decode()


def _burn_time(password: str) -> None:
    # Check against a throwaway hash at the configured cost so an unknown email takes as long
    # as a wrong password: response time must not reveal which accounts exist.
    verify_password(password, _dummy_hash(get_settings().bcrypt_rounds))


# --- login -----------------------------------------------------------------------------

def find_user_by_email(session: Session, email: str) -> User | None:
    """The user with this email, any case; control characters are refused by field."""
    typed = validate.refuse_controls("email", email.strip())
    return session.scalar(select(User).where(func.lower(User.email) == typed.lower()))


def authenticate(*, session: Session, email: str, password: str,
                 now: datetime | None = None) -> User | None:
    """Check a login attempt, apply the lockout and audit it; None means refused.

    Returns instead of raising so that the caller's transaction commits the failure count.
    """
    settings = get_settings()
    now = now or utcnow()
    typed = email.strip()
    # No account's email holds a control character (every service refuses them), and NUL
    # must never reach the database: such an email is an unknown user, recorded legibly.
    user = None if validate.has_controls(typed) else session.scalar(
        select(User).where(func.lower(User.email) == typed.lower()).with_for_update()
    )
    if user is None:
        _burn_time(password)
        audit.record(session, actor=None, actor_email=validate.legible(typed)[:255],
                     action="login_failed",
                     entity_type="user", entity_id=None, new={"reason": "unknown_user"})
        # Not the typed email: people type their password into the email box too.
        log.info("login refused: unknown_user", extra={"reason": "unknown_user"})
        metrics.sign_in("unknown_user")
        return None
    if user.locked_until is not None and user.locked_until > now:
        _burn_time(password)
        _refuse(session, user, "locked")
        return None
    ok = verify_password(password, user.password_hash)
    cost = hash_cost(user.password_hash)
    if cost is not None and cost < settings.bcrypt_rounds:
        # A cheaper stored hash would answer faster than an unknown email does.
        _burn_time(password)
    if ok and user.is_active:
        if cost != settings.bcrypt_rounds:
            # A hash made at another cost (older settings, an import) moves to the configured
            # one at sign-in, the only moment the password is known.
            user.password_hash = hash_password(password)
        user.failed_login_count = 0
        user.failed_login_window_start = None
        user.locked_until = None
        user.last_login_at = now
        audit.record(session, actor=user, action="login_succeeded", entity_type="user",
                     entity_id=user.id)
        metrics.sign_in("ok")
        return user
    if not ok:
        window = timedelta(minutes=settings.login_window_minutes)
        start = user.failed_login_window_start
        if start is None or now - start > window:
            user.failed_login_window_start = now
            user.failed_login_count = 1
        else:
            user.failed_login_count += 1
        if user.failed_login_count >= settings.login_max_failures:
            user.locked_until = now + timedelta(minutes=settings.login_lock_minutes)
            user.failed_login_count = 0
            user.failed_login_window_start = None
            audit.record(session, actor=user, action="account_locked", entity_type="user",
                         entity_id=user.id, new={"locked_until": user.locked_until})
            metrics.lockout()
    _refuse(session, user, "wrong_password" if not ok else "inactive")
    return None


def _refuse(session: Session, user: User, reason: str) -> None:
    audit.record(session, actor=user, action="login_failed", entity_type="user",
                 entity_id=user.id, new={"reason": reason})
    log.info("login refused: %s", reason, extra={"reason": reason, "user_id": str(user.id)})
    metrics.sign_in(reason)


# --- server-side sessions --------------------------------------------------------------

def _session_row(session: Session, token: str | None = None,
                 session_id: uuid.UUID | None = None) -> UserSession | None:
    """The session a cookie's token names, or the one a page holds by id (server-side)."""
    if session_id is not None:
        return session.get(UserSession, session_id)
    if token is None:
        raise ValueError("a session is found by its token or its id")
    return session.scalar(select(UserSession).where(UserSession.token_hash == token_hash(token)))


def start_session(*, session: Session, user: User, token: str,
                  now: datetime | None = None) -> UserSession:
    """Record a signed-in browser; the oldest of a user's sessions beyond the cap ends."""
    settings = get_settings()
    now = now or utcnow()
    existing = _session_row(session, token)
    if existing is not None:
        return existing
    active = session.scalars(
        select(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .order_by(UserSession.created_at, UserSession.id)
    ).all()
    for old in active[: max(0, len(active) - settings.max_sessions_per_user + 1)]:
        old.ended_at = now
        old.end_reason = "replaced"
    row = UserSession(user_id=user.id, token_hash=token_hash(token), created_at=now,
                      last_seen_at=now)
    session.add(row)
    session.flush()
    return row


@dataclass(frozen=True)
class SessionCheck:
    viewer: Viewer | None
    reason: str | None = None
    session_id: uuid.UUID | None = None  # the live session's row, for the page to hold


_END_MESSAGES = {
    "logout": "You signed out.",
    "replaced": "You were signed out because you signed in elsewhere (at most "
                "{n} sessions at once).",
    "idle": "You were signed out after {idle} minutes without activity.",
    "expired": "Your session reached its {hours}-hour limit. Please sign in again.",
    "deactivated": "Your account has been deactivated.",
    "password_changed": "Your password was changed. Please sign in with the new password.",
    "role_changed": "Your role was changed. Please sign in again.",
    "unknown": "Please sign in.",
}


# The reasons a session ends for good (the login page says which).
END_REASONS = frozenset(_END_MESSAGES) - {"unknown"}


def end_message(reason: str | None) -> str:
    s = get_settings()
    return _END_MESSAGES.get(reason or "unknown", _END_MESSAGES["unknown"]).format(
        n=s.max_sessions_per_user, idle=s.session_idle_minutes, hours=s.session_max_hours)


def check_session(*, session: Session, token: str | None = None,
                  session_id: uuid.UUID | None = None,
                  now: datetime | None = None) -> SessionCheck:
    """Return the viewer of a live session, ending it when idle, too old or deactivated.

    A browser's request names its session by the cookie's token; a page that has signed in
    holds the session's id in its server-side state, which the cookie route's new token
    leaves valid.
    """
    settings = get_settings()
    now = now or utcnow()
    row = _session_row(session, token, session_id)
    if row is None:
        return SessionCheck(None, "unknown")
    if row.ended_at is not None:
        return SessionCheck(None, row.end_reason)
    user = session.get(User, row.user_id)
    reason = None
    if user is None or not user.is_active:
        reason = "deactivated"
    elif now - row.created_at > timedelta(hours=settings.session_max_hours):
        reason = "expired"
    elif now - row.last_seen_at > timedelta(minutes=settings.session_idle_minutes):
        reason = "idle"
    if reason:
        row.ended_at = now
        row.end_reason = reason
        return SessionCheck(None, reason)
    # One write a minute at most: enough for a 30-minute idle limit.
    if now - row.last_seen_at > timedelta(seconds=60):
        row.last_seen_at = now
    return SessionCheck(Viewer.of(user), session_id=row.id)


def end_session(*, session: Session, token: str | None = None,
                session_id: uuid.UUID | None = None, reason: str = "logout",
                now: datetime | None = None) -> None:
    """End a session for good: its cookie no longer signs anyone in."""
    row = _session_row(session, token, session_id)
    if row is not None and row.ended_at is None:
        row.ended_at = now or utcnow()
        row.end_reason = reason
        user = session.get(User, row.user_id)
        audit.record(session, actor=user, action="logout", entity_type="user",
                     entity_id=row.user_id, new={"reason": reason})


# --- the cookie: set by a server route, reached with a one-time ticket -----------------

TICKET_SECONDS = 60


def issue_ticket(*, session: Session, token: str | None = None,
                 session_id: uuid.UUID | None = None,
                 now: datetime | None = None) -> str | None:
    """A one-time ticket for the live session `token` (or `session_id`) names, valid
    TICKET_SECONDS.

    The page fetches the route that sets the HttpOnly cookie with it; only its
    hash is stored, in the database, because that request may reach another replica.
    None when the session is not live.
    """
    now = now or utcnow()
    row = _session_row(session, token, session_id)
    if row is None or row.ended_at is not None:
        return None
    session.execute(delete(LoginTicket).where(LoginTicket.expires_at <= now))
    ticket = new_token()
    session.add(LoginTicket(ticket_hash=token_hash(ticket), session_id=row.id,
                            expires_at=now + timedelta(seconds=TICKET_SECONDS)))
    session.flush()
    return ticket


def redeem_ticket(*, session: Session, ticket: str, now: datetime | None = None) -> str | None:
    """Use up a ticket: the cookie value for its session, or None (unknown, used, expired).

    The session gets a new token, so the cookie holds a value made only for it; the page
    goes on by the session's id. The ticket row is deleted in the same statement
    that reads it: two requests with one ticket cannot both get a cookie.
    """
    now = now or utcnow()
    found = session.execute(
        delete(LoginTicket).where(LoginTicket.ticket_hash == token_hash(ticket))
        .returning(LoginTicket.session_id, LoginTicket.expires_at)
    ).first()
    if found is None or found.expires_at <= now:
        return None
    row = session.get(UserSession, found.session_id)
    if row is None or row.ended_at is not None:
        return None
    token = new_token()
    row.token_hash = token_hash(token)
    session.flush()
    return token
