"""One person's data under the GDPR: export all of it, or anonymise them for good.

Anonymising keeps every row and every relation (their deals, partners, tasks, goals and stage
changes still count in the KPIs and the team's history) and removes what identifies them:
name and email become a placeholder derived from their id (stable: the same person always
gets the same one), the password becomes unusable, open sessions end, and their email is
taken out of the audit log. The free text of their weekly statuses is scrubbed: a weekly
status is one person's own account of their week and blockers, personal data about them,
and no KPI reads it; its week, state and figures stay so the team's history keeps its shape.
Tasks, goals and partner touches keep their text: they are the program's shared records of
work on deals and partners, which the rest of the team still relies on.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from isv.auth import MANAGE_USERS, Viewer, require
from isv.errors import ValidationError
from isv.models import (
    Alert,
    AuditEntry,
    DealRegistration,
    Opportunity,
    Partner,
    PartnerActivity,
    PersonalAccessToken,
    QuarterlyGoal,
    RegistrationLink,
    Task,
    User,
    UserSession,
    WeeklyStatus,
)
from isv.services import audit, users
from isv.types import utcnow

EXPORT_FORMAT = "isv-personal-data"
PLACEHOLDER_DOMAIN = users.ANONYMISED_DOMAIN
PLACEHOLDER_FIRST = "Anonymised"
SECRET_COLUMNS = frozenset({"password_hash", "token_hash"})
IDENTIFYING_KEYS = ("email", "first_name", "last_name")


def placeholder(user_id: uuid.UUID) -> dict[str, str]:
    """The name and email that replace a person's own: derived from the id, so stable."""
    tag = user_id.hex[:12]
    return {"email": f"anonymised-{tag}@{PLACEHOLDER_DOMAIN}", "first_name": PLACEHOLDER_FIRST,
            "last_name": f"user {tag[:8]}"}


def is_anonymised(user: User) -> bool:
    return user.email == placeholder(user.id)["email"]


def _row(obj: Any) -> dict[str, Any]:
    return {c.key: audit.plain(getattr(obj, c.key)) for c in obj.__mapper__.column_attrs
            if c.key not in SECRET_COLUMNS}


def _all(session: Session, stmt) -> list[dict[str, Any]]:
    return [_row(obj) for obj in session.scalars(stmt)]


def _audit_filter(user: User):
    return or_(AuditEntry.actor_id == user.id,
               func.lower(AuditEntry.actor_email) == user.email.lower(),
               (AuditEntry.entity_type == "user") & (AuditEntry.entity_id == str(user.id)))


def export_user(*, session: Session, viewer: Viewer, user_id: uuid.UUID) -> dict[str, Any]:
    """Gather everything stored about one person, as plain JSON-ready data, and audit it."""
    require(viewer, MANAGE_USERS, "export a user's personal data")
    user = users.get_user(session=session, viewer=viewer, user_id=user_id)
    profile = _row(user)
    profile["has_password"] = user.password_hash is not None
    data = {
        "format": EXPORT_FORMAT,
        "exported_at": utcnow().isoformat(),
        "exported_by": viewer.email,
        "profile": profile,
        "sessions": _all(session, select(UserSession).where(UserSession.user_id == user.id)
                         .order_by(UserSession.created_at)),
        # Their API tokens' labels, scopes and dates; the hash, like every secret, is left out.
        "personal_tokens": _all(session, select(PersonalAccessToken)
                                .where(PersonalAccessToken.user_id == user.id)
                                .order_by(PersonalAccessToken.created_at)),
        # Deal registration links they made or revoked (never the secret or its hash) and the
        # registrations they decided.
        "registration_links": _all(session, select(RegistrationLink)
                                   .where(or_(RegistrationLink.created_by_id == user.id,
                                              RegistrationLink.revoked_by_id == user.id))
                                   .order_by(RegistrationLink.created_at,
                                             RegistrationLink.id)),
        "registration_decisions": [
            {"id": str(r.id), "partner": r.partner.name, "customer_name": r.customer_name,
             "status": r.status, "decided_at": audit.plain(r.decided_at),
             "reject_reason": r.reject_reason}
            for r in session.scalars(select(DealRegistration)
                                     .where(DealRegistration.decided_by_id == user.id)
                                     .order_by(DealRegistration.decided_at,
                                               DealRegistration.id))],
        "audit_entries": _all(session, select(AuditEntry).where(_audit_filter(user))
                              .order_by(AuditEntry.at, AuditEntry.id)),
        "tasks": _all(session, select(Task).where(Task.user_id == user.id)
                      .order_by(Task.created_at, Task.id)),
        "weekly_statuses": _all(session, select(WeeklyStatus).where(WeeklyStatus.user_id == user.id)
                                .order_by(WeeklyStatus.week_start_date)),
        "goals": _all(session, select(QuarterlyGoal).where(QuarterlyGoal.user_id == user.id)
                      .order_by(QuarterlyGoal.year, QuarterlyGoal.quarter,
                                QuarterlyGoal.goal_type)),
        "alerts": _all(session, select(Alert).where(Alert.user_id == user.id)
                       .order_by(Alert.created_at, Alert.id)),
        "partner_activities": _all(session, select(PartnerActivity)
                                   .where(PartnerActivity.user_id == user.id)
                                   .order_by(PartnerActivity.occurred_on, PartnerActivity.id)),
        "owned_partners": [
            {"id": str(p.id), "name": p.name}
            for p in session.scalars(select(Partner).where(Partner.owner_id == user.id)
                                     .order_by(Partner.name))],
        "assigned_opportunities": [
            {"id": str(o.id), "customer_name": o.customer_name, "partner": o.partner.name,
             "stage": o.stage}
            for o in session.scalars(select(Opportunity)
                                     .where(Opportunity.assigned_user_id == user.id)
                                     .order_by(Opportunity.created_at, Opportunity.id))],
    }
    audit.record(session, actor=viewer, action="export_personal_data", entity_type="user",
                 entity_id=user.id)
    return data


def to_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def anonymise_user(*, session: Session, viewer: Viewer, user_id: uuid.UUID) -> User:
    """Replace one person's identity with a placeholder for good, keeping every relation."""
    require(viewer, MANAGE_USERS, "anonymise users")
    user = users.get_user(session=session, viewer=viewer, user_id=user_id)
    if viewer.id == user.id:
        raise ValidationError("anonymise", "you cannot anonymise yourself")
    if is_anonymised(user):
        raise ValidationError("anonymise", f"{user.email} is already anonymised")
    try:
        # Deactivating first applies the rule that the last active vp or admin stays, the
        # manager's reach, and ends the user's sessions.
        users.set_active(session=session, viewer=viewer, user_id=user.id, active=False)
    except ValidationError as exc:
        raise ValidationError("anonymise", exc.reason) from None
    old_email = user.email
    new = placeholder(user.id)

    for entry in session.scalars(select(AuditEntry).where(_audit_filter(user))):
        if entry.actor_id == user.id or (entry.actor_email or "").lower() == old_email.lower():
            entry.actor_email = new["email"]
        if entry.entity_type == "user" and entry.entity_id == str(user.id):
            entry.old_values = _scrubbed(entry.old_values, new)
            entry.new_values = _scrubbed(entry.new_values, new)

    for status in session.scalars(select(WeeklyStatus).where(WeeklyStatus.user_id == user.id)):
        status.accomplishments = status.upcoming_tasks = status.blockers = None

    user.email, user.first_name, user.last_name = new["email"], new["first_name"], new["last_name"]
    user.password_hash = None
    user.last_login_at = user.locked_until = user.failed_login_window_start = None
    user.failed_login_count = 0
    # The old name and email are not recorded: the entry would undo the anonymisation.
    audit.record(session, actor=viewer, action="anonymise", entity_type="user",
                 entity_id=user.id, new={"email": new["email"]})
    session.flush()
    return user


def _scrubbed(values: dict[str, Any] | None, new: dict[str, str]) -> dict[str, Any] | None:
    if not values or not any(key in values for key in IDENTIFYING_KEYS):
        return values
    return {key: new[key] if key in IDENTIFYING_KEYS else value for key, value in values.items()}
