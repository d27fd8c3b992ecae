"""Users: the people who sign in, their roles and passwords."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from isv import auth
from isv.auth import MANAGE_USERS, Viewer, require
from isv.errors import NotFound, ValidationError
from isv.models import ROLES, User, UserSession
from isv.services import api_auth, audit, personal_tokens, scope, sessions, validate
from isv.types import utcnow

MIN_PASSWORD = 8
USER_MANAGER_ROLES = ("vp", "admin")


def _check_password(password: str) -> None:
    if password is None or len(password) < MIN_PASSWORD:
        raise ValidationError("password", f"must be at least {MIN_PASSWORD} characters")
    if len(password.encode()) > 72:
        # bcrypt reads 72 bytes at most; a longer password would be silently truncated.
        raise ValidationError("password", "must be at most 72 bytes")


def _keep_a_user_manager(session: Session, user: User, field: str) -> None:
    """Refuse to remove the last active vp/admin: nobody could manage users any more."""
    if not (user.is_active and user.role in USER_MANAGER_ROLES):
        return
    others = session.scalar(
        select(func.count()).select_from(User).where(
            User.is_active.is_(True), User.role.in_(USER_MANAGER_ROLES), User.id != user.id)
    )
    if not others:
        raise ValidationError(field, "this is the last active vp or admin; nobody could "
                                     "manage users any more")


def _refuse(session: Session, viewer: Viewer, user: User | None, field: str, reason: str,
            attempt: str, **details: Any) -> ValidationError:
    """An audited refusal of a user change beyond the viewer's reach (auth.may_manage)."""
    return audit.refused(session, ValidationError(field, reason), actor=viewer,
                         entity_type="user", entity_id=user.id if user else None,
                         attempt={"attempt": attempt, **details})


def _within_reach(session: Session, viewer: Viewer, user: User, field: str, what: str,
                  attempt: str) -> None:
    """Refuse to change the account of a role the viewer may not grant (a vp, for an admin)."""
    if not auth.may_manage(viewer, user.role):
        raise _refuse(session, viewer, user, field, f"only a vp may {what} a {user.role}",
                      attempt, role=user.role)


def _may_grant(session: Session, viewer: Viewer, user: User | None, role: str,
               attempt: str) -> None:
    if not auth.may_manage(viewer, role):
        raise _refuse(session, viewer, user, "role", f"only a vp may grant the {role} role",
                      attempt, role=role)


def clean_field(field: str, value: Any) -> Any:
    """Check one of email, first_name, last_name, role: the rule forms and the importer share."""
    if field == "email":
        return validate.email("email", value, required=True)
    if field in ("first_name", "last_name"):
        return validate.text(field, value, max_len=100, required=True)
    if field == "role":
        return validate.choice("role", value, ROLES)
    raise ValidationError(field, "is not a user field that can be changed")


def list_users(*, session: Session, viewer: Viewer, include_inactive: bool = True) -> list[User]:
    """Every user, by name: people pickers need the names, so any signed-in role may read."""
    stmt = select(User).order_by(User.first_name, User.last_name, User.email)
    if not include_inactive:
        stmt = stmt.where(User.is_active.is_(True))
    return list(session.scalars(stmt))


def people(*, session: Session, viewer: Viewer, include_inactive: bool = True) -> list[User]:
    """The user records the viewer may read in full (email, role, state), by name.

    Everyone for a role that reads the team or manages users; a partnership manager sees
    themselves and the people their partners and deals name (scope.people_listed).
    """
    stmt = select(User).where(scope.people_listed(viewer)).order_by(
        User.first_name, User.last_name, User.email)
    if not include_inactive:
        stmt = stmt.where(User.is_active.is_(True))
    return list(session.scalars(stmt))


def get_person(*, session: Session, viewer: Viewer, user_id: uuid.UUID) -> User:
    """One user record the viewer may read in full; NotFound otherwise."""
    user = session.scalar(select(User).where(User.id == user_id, scope.people_listed(viewer)))
    if user is None:
        raise NotFound("No such user.")
    return user


def get_user(*, session: Session, viewer: Viewer, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def get_by_email(*, session: Session, viewer: Viewer, email: str) -> User:
    user = sessions.find_user_by_email(session, email)
    if user is None:
        raise NotFound(f"No user with email {email!r}.")
    return user


def create_user(*, session: Session, viewer: Viewer, email: str, first_name: str,
                last_name: str, role: str, password: str | None = None,
                is_active: bool = True) -> User:
    """Add a user; without a password they cannot sign in until one is set."""
    require(viewer, MANAGE_USERS, "manage users")
    email = clean_field("email", email)
    first_name = clean_field("first_name", first_name)
    last_name = clean_field("last_name", last_name)
    role = clean_field("role", role)
    _may_grant(session, viewer, None, role, "create")
    if password is not None:
        _check_password(password)
    if sessions.find_user_by_email(session, email) is not None:
        raise ValidationError("email", f"{email} is already a user")
    user = User(email=email, first_name=first_name, last_name=last_name, role=role,
                is_active=bool(is_active),
                password_hash=auth.hash_password(password) if password else None)
    session.add(user)
    session.flush()
    audit.record(session, actor=viewer, action="create", entity_type="user", entity_id=user.id,
                 new={"email": email, "first_name": first_name, "last_name": last_name,
                      "role": role, "is_active": user.is_active})
    return user


# Anonymised users (services/gdpr.py) get an address at this reserved domain (RFC 2606).
ANONYMISED_DOMAIN = "anonymised.invalid"


def _refuse_anonymised(user: User, field: str) -> None:
    # Anonymisation is final: a new name, password or sign-in would make the person again.
    if user.email.endswith("@" + ANONYMISED_DOMAIN):
        raise ValidationError(field, "this user has been anonymised; the account cannot be "
                                     "used or changed again")


def update_user(*, session: Session, viewer: Viewer, user_id: uuid.UUID,
                first_name: str | None = None, last_name: str | None = None,
                role: str | None = None) -> User:
    """Change a user's name or role."""
    require(viewer, MANAGE_USERS, "manage users")
    user = get_user(session=session, viewer=viewer, user_id=user_id)
    _refuse_anonymised(user, "email")
    field = "role" if role is not None else "first_name" if first_name is not None else "last_name"
    _within_reach(session, viewer, user, field, "change", "update")
    values = {}
    if first_name is not None:
        values["first_name"] = clean_field("first_name", first_name)
    if last_name is not None:
        values["last_name"] = clean_field("last_name", last_name)
    if role is not None:
        values["role"] = clean_field("role", role)
        if viewer.id == user.id and values["role"] != user.role:
            raise ValidationError("role", "you cannot change your own role")
        if values["role"] != user.role:
            _may_grant(session, viewer, user, values["role"], "update")
        if values["role"] not in USER_MANAGER_ROLES:
            _keep_a_user_manager(session, user, "role")
    old, new = audit.changes(user, values)
    if new:
        for key, value in new.items():
            setattr(user, key, value)
        audit.record(session, actor=viewer, action="update", entity_type="user",
                     entity_id=user.id, old=old, new=new)
    if "role" in new:
        # Every page a session shows was drawn for the old role: sign in again.
        end_user_sessions(session=session, user_id=user.id, reason="role_changed",
                          actor=viewer)
    return user


def set_active(*, session: Session, viewer: Viewer, user_id: uuid.UUID, active: bool) -> User:
    """Deactivate or reactivate a user; a deactivated user's sessions end at once."""
    require(viewer, MANAGE_USERS, "manage users")
    user = get_user(session=session, viewer=viewer, user_id=user_id)
    if not active and viewer.id == user.id:
        raise ValidationError("is_active", "you cannot deactivate yourself")
    _within_reach(session, viewer, user, "is_active",
                  "deactivate" if not active else "reactivate", "set_active")
    if user.is_active == active:
        return user
    if active:
        _refuse_anonymised(user, "is_active")
    if not active:
        _keep_a_user_manager(session, user, "is_active")
    user.is_active = active
    audit.record(session, actor=viewer, action="activate" if active else "deactivate",
                 entity_type="user", entity_id=user.id,
                 old={"is_active": not active}, new={"is_active": active})
    if not active:
        # Ended for good: a reactivation must not bring an old cookie back to life.
        end_user_sessions(session=session, user_id=user.id, reason="deactivated",
                          actor=viewer)
    return user


def set_password(*, session: Session, viewer: Viewer, user_id: uuid.UUID, password: str,
                 current_session_id: uuid.UUID | None = None) -> User:
    """Set a user's password (hashed with bcrypt), lift any lockout, end their sessions.

    Every session of the user ends, so a cookie from before the change no longer signs in
    anywhere. People changing their own password keep the session they did it from
    (`current_session_id`, the caller's session); it is ignored for anyone else's password.
    """
    own = viewer.id == user_id
    if not own:
        require(viewer, MANAGE_USERS, "set other users' passwords")
    _check_password(password)
    user = get_user(session=session, viewer=viewer, user_id=user_id)
    _refuse_anonymised(user, "password")
    if not own:
        _within_reach(session, viewer, user, "password", "set the password of",
                      "set_password")
    user.password_hash = auth.hash_password(password)
    user.locked_until = None
    user.failed_login_count = 0
    user.failed_login_window_start = None
    # The password itself never reaches the log.
    audit.record(session, actor=viewer, action="set_password", entity_type="user",
                 entity_id=user.id)
    end_user_sessions(session=session, user_id=user.id, reason="password_changed",
                      actor=viewer, keep_session_id=current_session_id if own else None)
    return user


def end_user_sessions(*, session: Session, user_id: uuid.UUID, reason: str,
                      actor: Viewer | User | None, keep_session_id: uuid.UUID | None = None,
                      now: datetime | None = None) -> int:
    """End every live session of a user, so no cookie issued before a change signs in again.

    A password change, reset, role change or deactivation calls this. `keep_session_id` spares the
    session the change was made from (a person changing their own password stays signed in
    there; everywhere else they sign in again). Returns how many sessions ended.
    """
    now = now or utcnow()
    stmt = select(UserSession).where(UserSession.user_id == user_id,
                                     UserSession.ended_at.is_(None))
    if keep_session_id is not None:
        stmt = stmt.where(UserSession.id != keep_session_id)
    rows = session.scalars(stmt).all()
    for row in rows:
        row.ended_at = now
        row.end_reason = reason
    # The REST API's sign-ins end too (a script's token no more outlives the change than
    # a cookie does); the session the change was made from is a browser's, never one of these.
    api = api_auth.revoke_user(session=session, user_id=user_id, reason=reason, now=now)
    # Personal tokens outlive a password or role change (scripts keep running, as GitHub's
    # do); a deactivation ends them for good, so a reactivation brings none back.
    pats = (personal_tokens.revoke_user(session=session, user_id=user_id, reason=reason,
                                        now=now)
            if reason in personal_tokens.ENDED_BY else 0)
    if rows or api or pats:
        audit.record(session, actor=actor, action="sessions_revoked", entity_type="user",
                     entity_id=user_id, new={"reason": reason, "sessions": len(rows),
                                             **({"api_tokens": api} if api else {}),
                                             **({"personal_tokens": pats} if pats else {})})
    return len(rows)
