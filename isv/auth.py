"""Passwords, login throttling, server-side sessions, roles → permissions, the viewer's scope.

streamlit-authenticator draws the login form and keeps the cookie, but it counts failures per
browser session and cannot revoke a cookie; everything that must hold across sessions and
replicas lives here, in the database.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

import bcrypt
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from isv.config import get_settings
from isv.errors import Forbidden
from isv.models import ROLES, LoginTicket, User, UserSession
from isv.services import audit, validate
from isv.types import utcnow

log = logging.getLogger("isv.auth")

LOGIN_REFUSED = (
    "Login failed: wrong email or password, or too many attempts. "
    "After 5 failures the account is locked for 15 minutes."
)

# Permissions (DESIGN.md, roles and scope). The CLI acts as `system`, which may do anything.
READ_ALL = "read_all"
WRITE_PARTNERS = "write_partners"
WRITE_OPPORTUNITIES = "write_opportunities"
OWN_WORK = "own_work"
TEAM_READ = "team_read"
TEAM_WRITE = "team_write"
MANAGE_USERS = "manage_users"

_PERMISSIONS: dict[str, frozenset[str]] = {
    "vp": frozenset(
        {READ_ALL, WRITE_PARTNERS, WRITE_OPPORTUNITIES, OWN_WORK, TEAM_READ, TEAM_WRITE,
         MANAGE_USERS}
    ),
    "sales_manager": frozenset({READ_ALL, WRITE_PARTNERS, WRITE_OPPORTUNITIES, OWN_WORK,
                                TEAM_READ}),
    # A partnership manager writes partners and deals too, but only inside their scope.
    "partnership_manager": frozenset({WRITE_PARTNERS, WRITE_OPPORTUNITIES, OWN_WORK}),
    "admin": frozenset({READ_ALL, TEAM_READ, MANAGE_USERS}),
    "system": frozenset(
        {READ_ALL, WRITE_PARTNERS, WRITE_OPPORTUNITIES, OWN_WORK, TEAM_READ, TEAM_WRITE,
         MANAGE_USERS}
    ),
}


@dataclass(frozen=True)
class Viewer:
    """Who is asking: every service call carries one."""

    id: uuid.UUID | None
    email: str
    role: str
    name: str = ""

    @classmethod
    def of(cls, user: User) -> Viewer:
        return cls(id=user.id, email=user.email, role=user.role, name=user.full_name)

    @classmethod
    def system(cls, label: str = "cli") -> Viewer:
        return cls(id=None, email=label, role="system", name=label)

    def can(self, permission: str) -> bool:
        return permission in _PERMISSIONS.get(self.role, frozenset())

    @property
    def sees_everything(self) -> bool:
        return self.can(READ_ALL)


# Whose accounts a viewer may create, change, reset and deactivate, and so which roles it may
# grant. The usual rule, "only roles whose permissions are a subset of yours", would leave an
# admin granting only admin; DESIGN.md makes admin the one who onboards staff, so an admin
# manages admins, sales and partnership managers. Never a vp: a vp account would give an admin
# deal and team writes and user management above its own. The CLI (system) manages anyone.
_MANAGES: dict[str, tuple[str, ...]] = {
    "vp": ROLES,
    "admin": ("sales_manager", "partnership_manager", "admin"),
    "system": ROLES,
}


def manageable_roles(viewer: Viewer) -> tuple[str, ...]:
    """The roles `viewer` may grant, in ROLES order; empty without user management."""
    if not viewer.can(MANAGE_USERS):
        return ()
    return tuple(role for role in ROLES if role in _MANAGES.get(viewer.role, ()))


def may_manage(viewer: Viewer, role: str) -> bool:
    return role in manageable_roles(viewer)


def require(viewer: Viewer, permission: str, what: str) -> None:
    """Raise Forbidden unless the viewer's role grants `permission`."""
    if not viewer.can(permission):
        raise Forbidden(f"Your role ({viewer.role}) may not {what}.")


# --- passwords -------------------------------------------------------------------------

def hash_password(password: str) -> str:
    rounds = get_settings().bcrypt_rounds
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds)).decode()


def verify_password(password: str, password_hash: str | None) -> bool:
    if not password_hash:
        return False
    try:
        return bcrypt.checkpw(password.encode(), password_hash.encode())
    except ValueError:
        return False


def hash_cost(password_hash: str | None) -> int | None:
    """The bcrypt cost a stored hash was made with ("$2b$12$..." is 12), None if unreadable."""
    parts = (password_hash or "").split("$")
    if len(parts) < 4 or not parts[2].isdigit():
        return None
    return int(parts[2])


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
    _refuse(session, user, "wrong_password" if not ok else "inactive")
    return None


def _refuse(session: Session, user: User, reason: str) -> None:
    audit.record(session, actor=user, action="login_failed", entity_type="user",
                 entity_id=user.id, new={"reason": reason})
    log.info("login refused: %s", reason, extra={"reason": reason, "user_id": str(user.id)})


# --- server-side sessions --------------------------------------------------------------

def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _session_row(session: Session, token: str) -> UserSession | None:
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


def check_session(*, session: Session, token: str, now: datetime | None = None) -> SessionCheck:
    """Return the viewer of a live session, ending it when idle, too old or deactivated."""
    settings = get_settings()
    now = now or utcnow()
    row = _session_row(session, token)
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
    return SessionCheck(Viewer.of(user))


def end_session(*, session: Session, token: str, reason: str = "logout",
                now: datetime | None = None) -> None:
    """End a session for good: its cookie no longer signs anyone in."""
    row = _session_row(session, token)
    if row is not None and row.ended_at is None:
        row.ended_at = now or utcnow()
        row.end_reason = reason
        user = session.get(User, row.user_id)
        audit.record(session, actor=user, action="logout", entity_type="user",
                     entity_id=row.user_id, new={"reason": reason})


def end_user_sessions(*, session: Session, user_id: uuid.UUID, reason: str,
                      actor: Viewer | User | None, keep_token: str | None = None,
                      now: datetime | None = None) -> int:
    """End every live session of a user, so no cookie issued before a change signs in again.

    A password change, reset, role change or deactivation calls this. `keep_token` spares the
    session the change was made from (a person changing their own password stays signed in
    there; everywhere else they sign in again). Returns how many sessions ended.
    """
    now = now or utcnow()
    stmt = select(UserSession).where(UserSession.user_id == user_id,
                                     UserSession.ended_at.is_(None))
    if keep_token is not None:
        stmt = stmt.where(UserSession.token_hash != token_hash(keep_token))
    rows = session.scalars(stmt).all()
    for row in rows:
        row.ended_at = now
        row.end_reason = reason
    if rows:
        audit.record(session, actor=actor, action="sessions_revoked", entity_type="user",
                     entity_id=user_id, new={"reason": reason, "sessions": len(rows)})
    return len(rows)


# --- the cookie: set by a server route, reached with a one-time ticket -----------------

TICKET_SECONDS = 60


def new_token() -> str:
    """A random secret (256 bits, URL-safe): a session's cookie value or a login ticket."""
    return secrets.token_urlsafe(32)


def issue_ticket(*, session: Session, token: str, now: datetime | None = None) -> str | None:
    """A one-time ticket for the live session `token` names, valid TICKET_SECONDS.

    The page sends the browser with it to the route that sets the HttpOnly cookie; only its
    hash is stored, in the database, because that request may reach another replica.
    None when the session is not live.
    """
    now = now or utcnow()
    row = _session_row(session, token)
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

    The session gets a new token, so the one the page held, which went through the page's
    state, is not the one in the cookie. The ticket row is deleted in the same statement
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
