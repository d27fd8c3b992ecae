"""Partners: the ISVs in the program, their owners, health and touches."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from isv.auth import DECIDE_TIERS, WRITE_PARTNERS, Viewer, require
from isv.errors import Forbidden, NotFound, ValidationError
from isv.models import (
    ACTIVITY_TYPES,
    DOMAINS,
    HEALTH,
    OPEN_STAGES,
    Alert,
    CommissionStructure,
    DealRegistration,
    Opportunity,
    Partner,
    PartnerActivity,
    StageHistory,
    Task,
    User,
)
from isv.services import audit, locking, scope, validate
from isv.services import health as health_scores
from isv.services.settings import current_settings, local_today
from isv.services.validate import NOTES_MAX, parse_id


@dataclass(frozen=True)
class DirectoryRow:
    id: uuid.UUID
    name: str
    domain: str
    relationship_health: str
    owner_name: str | None
    owner_email: str | None
    last_touch: date | None
    open_deals: int
    tier: str | None = None


NO_TIER = "__none__"  # the tier filter's value for partners without a tier


def clean_tier(field: str, value: Any, *, session: Session | None = None) -> str | None:
    """A tier name as the Settings page spells it (typed in any case); empty is no tier.

    With a session, the tiers as its transaction sees them.
    """
    name = " ".join(value.split()) if isinstance(value, str) else value
    if name is None or name == "":
        return None
    if not isinstance(name, str):
        raise ValidationError(field, "must be a tier's name")
    tiers = current_settings(session).partner_tiers
    for tier in tiers:
        if tier.name.lower() == name.lower():
            return tier.name
    raise ValidationError(field, f"{name!r} is not a tier; the tiers are "
                                 f"{', '.join(t.name for t in tiers)}")


def list_directory(*, session: Session, viewer: Viewer, search: str | None = None,
                   domain: str | None = None, health: str | None = None,
                   tier: str | None = None) -> list[DirectoryRow]:
    """The partner directory the viewer may see, with owner, last touch, open deals and tier.

    One query whatever the number of partners: touches and deals are aggregated in SQL.
    `health` filters on the label each partner shows (the score's band, or a hand-set label
    while its override lasts), as the directory and the partner page show it; `tier` on a
    tier's name, or NO_TIER for partners without one.
    """
    last_touch = (
        select(PartnerActivity.partner_id, func.max(PartnerActivity.occurred_on).label("last"))
        .group_by(PartnerActivity.partner_id)
        .subquery()
    )
    open_deals = (
        select(Opportunity.partner_id, func.count().label("n"))
        .where(Opportunity.stage.in_(OPEN_STAGES))
        .group_by(Opportunity.partner_id)
        .subquery()
    )
    stmt = (
        select(Partner.id, Partner.name, Partner.domain, Partner.relationship_health,
               User.first_name, User.last_name, User.email, last_touch.c.last,
               func.coalesce(open_deals.c.n, 0), Partner.tier)
        .outerjoin(User, User.id == Partner.owner_id)
        .outerjoin(last_touch, last_touch.c.partner_id == Partner.id)
        .outerjoin(open_deals, open_deals.c.partner_id == Partner.id)
        .where(scope.partners_visible(viewer))
        .order_by(func.lower(Partner.name))
    )
    if (text := validate.search("search", search)) is not None:
        pattern = validate.like_pattern(text)
        stmt = stmt.where(or_(
            func.lower(Partner.name).like(pattern, escape="\\"),
            func.lower(func.coalesce(Partner.primary_contact_name, "")).like(pattern,
                                                                             escape="\\"),
            func.lower(func.coalesce(Partner.notes, "")).like(pattern, escape="\\"),
        ))
    if domain:
        stmt = stmt.where(Partner.domain == domain)
    if tier == NO_TIER:
        stmt = stmt.where(Partner.tier.is_(None))
    elif tier:
        stmt = stmt.where(func.lower(Partner.tier)
                          == clean_tier("tier", tier, session=session).lower())
    rows = [
        DirectoryRow(id=r[0], name=r[1], domain=r[2], relationship_health=r[3],
                     owner_name=f"{r[4]} {r[5]}" if r[4] else None, owner_email=r[6],
                     last_touch=r[7], open_deals=int(r[8]), tier=r[9])
        for r in session.execute(stmt)
    ]
    if health:
        validate.choice("health", health, HEALTH)
        shown = effective_health(session=session, viewer=viewer,
                                 partner_ids=[r.id for r in rows])
        rows = [r for r in rows if shown.get(r.id, r.relationship_health) == health]
    return rows


def effective_health(*, session: Session, viewer: Viewer,
                     partner_ids: list[uuid.UUID] | None = None) -> dict[uuid.UUID, str]:
    """The health label each partner shows: its score's band, or the hand-set label while
    its override lasts (services/health.PartnerHealth.health)."""
    return {s.partner_id: s.health for s in health_scores.partner_scores(
        session=session, viewer=viewer, partner_ids=partner_ids)}


def by_name(*, session: Session, viewer: Viewer) -> dict[str, Partner]:
    """The partners the viewer may see, by lower-case name.

    Compared in Python: SQLite's lower() leaves non-ASCII letters alone, so "Ärzte" would
    never match "ärzte" in SQL there.
    """
    return {p.name.lower(): p for p in session.scalars(
        select(Partner).where(scope.partners_visible(viewer)))}


# --- shared helpers --------------------------------------------------------------------

OWNER_ROLES = ("partnership_manager", "sales_manager", "vp")
PARTNER_FIELDS = ("name", "domain", "website", "primary_contact_name", "primary_contact_email",
                  "relationship_health", "owner_id", "notes")
# The hand-set health label's override: why, and until when it shows instead of the score's
# band. Set in the partner form, not by imports.
OVERRIDE_FIELDS = ("health_reason", "health_until")
OVERRIDE_MAX_DAYS = 365
# Set by a tier review's decision, or by a vp or sales manager (an import): never in the
# partner form.
TIER_FIELD = "tier"


def writes_everything(viewer: Viewer) -> bool:
    """vp, sales_manager and the CLI write every partner; a partnership manager only theirs."""
    return viewer.can(WRITE_PARTNERS) and viewer.sees_everything


def check_partner_writable(viewer: Viewer, partner: Partner, *,
                           missing: str = "No such partner.") -> None:
    """Refuse unless the viewer may change this partner and what hangs off it.

    A role that writes no partner is Forbidden; a partnership manager's refusal for another
    manager's partner is NotFound with `missing`, word for word what an unknown id gets:
    outside their scope they learn neither that it exists nor its name.
    """
    require(viewer, WRITE_PARTNERS, "change partners")
    if not writes_everything(viewer) and partner.owner_id != viewer.id:
        raise NotFound(missing)


def partner_for_write(*, session: Session, viewer: Viewer, partner_id: Any) -> Partner:
    """Load a partner the viewer is about to change; NotFound if absent or not theirs."""
    require(viewer, WRITE_PARTNERS, "change partners")
    partner = session.get(Partner, parse_id("partner_id", partner_id))
    if partner is None:
        raise NotFound("No such partner.")
    check_partner_writable(viewer, partner)
    return partner


def _snapshot(partner: Partner) -> dict[str, Any]:
    return {f: getattr(partner, f) for f in PARTNER_FIELDS}


def _check_owner(session: Session, owner_id: Any) -> uuid.UUID | None:
    if owner_id is None or (isinstance(owner_id, str) and not owner_id.strip()):
        return None
    owner = session.get(User, parse_id("owner_id", owner_id))
    if owner is None:
        raise ValidationError("owner_id", "no such user")
    if not owner.is_active:
        raise ValidationError("owner_id", f"{owner.email} is deactivated")
    if owner.role not in OWNER_ROLES:
        raise ValidationError(
            "owner_id", f"{owner.email} is {owner.role}; an owner must be one of "
            f"{', '.join(OWNER_ROLES)}")
    return owner.id


def _check_website(value: Any) -> str | None:
    website = validate.text("website", value, max_len=500)
    if website is not None and not website.lower().startswith(("http://", "https://")):
        raise ValidationError("website", "must start with http:// or https://")
    if website is not None and any(c.isspace() for c in website):
        raise ValidationError("website", "must not contain spaces")
    return website


NAME_UNUSABLE = "cannot be used; choose another name or ask a sales manager"


def _check_name_free(session: Session, viewer: Viewer, name: str, *,
                     except_id: uuid.UUID | None) -> None:
    """Refuse a name another partner has (names are unique, in any case).

    Whoever may see that partner is told it exists; a partnership manager whose scope it is
    outside gets a message that neither names nor describes it: that the name is taken is
    all the unique name lets us not say.
    """
    stmt = select(Partner.name, scope.partners_visible(viewer)).where(
        func.lower(Partner.name) == name.lower())
    if except_id is not None:
        stmt = stmt.where(Partner.id != except_id)
    taken = session.execute(stmt.limit(1)).first()
    if taken is None:
        return
    if taken[1]:
        raise ValidationError("name", f"a partner named {taken[0]!r} already exists")
    raise ValidationError("name", NAME_UNUSABLE)


def clean_field(session: Session, field: str, value: Any) -> Any:
    """Check one of PARTNER_FIELDS: the rule the forms and the importer share."""
    if field == "name":
        return validate.text("name", value, max_len=255, required=True)
    if field == "domain":
        return validate.choice("domain", value, DOMAINS)
    if field == "relationship_health":
        return validate.choice("relationship_health", value, HEALTH)
    if field == "website":
        return _check_website(value)
    if field == "primary_contact_name":
        return validate.text("primary_contact_name", value, max_len=255)
    if field == "primary_contact_email":
        return validate.email("primary_contact_email", value)
    if field == "notes":
        return validate.text("notes", value, max_len=NOTES_MAX, multiline=True)
    if field == "owner_id":
        return _check_owner(session, value)
    if field == "health_reason":
        return validate.text("health_reason", value, max_len=500)
    if field == "health_until":
        return validate.day("health_until", value)
    if field == "tier":
        return clean_tier("tier", value, session=session)
    raise ValidationError(field, "is not a partner field that can be changed")


def check_override(reason: str | None, until: date | None, *, changed: bool) -> None:
    """An override holds a reason and an expiry, both or neither; a new expiry is at most
    OVERRIDE_MAX_DAYS ahead and not in the past."""
    if until is not None and reason is None:
        raise ValidationError("health_reason", "say why the label overrides the score")
    if reason is not None and until is None:
        raise ValidationError("health_until", "give the day the override ends")
    if until is not None and changed:
        today = local_today()
        if until < today:
            raise ValidationError("health_until", f"{until} is in the past")
        if until > today + timedelta(days=OVERRIDE_MAX_DAYS):
            raise ValidationError("health_until",
                                  f"must be within {OVERRIDE_MAX_DAYS} days from today")


# --- partners --------------------------------------------------------------------------

def get_partner(*, session: Session, viewer: Viewer, partner_id: Any) -> Partner:
    """Return one partner the viewer may see; NotFound otherwise."""
    partner = session.scalar(
        select(Partner).where(Partner.id == parse_id("partner_id", partner_id),
                              scope.partners_visible(viewer)))
    if partner is None:
        raise NotFound("No such partner.")
    return partner


def create_partner(*, session: Session, viewer: Viewer, name: str, domain: str,
                   website: str | None = None, primary_contact_name: str | None = None,
                   primary_contact_email: str | None = None,
                   relationship_health: str = "healthy", owner_id: Any = None,
                   notes: str | None = None, health_reason: str | None = None,
                   health_until: Any = None, tier: str | None = None) -> Partner:
    """Add a partner to the program.

    The owner is given by `owner_id` (front ends resolve an email with
    `users.get_by_email`); validation errors name `owner_id`. A partnership manager's new
    partner is theirs: owner defaults to them and may not be anyone else.
    """
    require(viewer, WRITE_PARTNERS, "add partners")
    if not writes_everything(viewer):
        if owner_id is None:
            owner_id = viewer.id
        elif parse_id("owner_id", owner_id) != viewer.id:
            raise Forbidden("A partnership manager may only add partners they own.")
    values = {
        "name": name, "domain": domain, "website": website,
        "primary_contact_name": primary_contact_name,
        "primary_contact_email": primary_contact_email,
        "relationship_health": relationship_health if relationship_health is not None
        else "healthy",
        "owner_id": owner_id, "notes": notes,
        "health_reason": health_reason, "health_until": health_until, "tier": tier,
    }
    values = {field: clean_field(session, field, value) for field, value in values.items()}
    if values["tier"] is not None:
        require(viewer, DECIDE_TIERS, "set a partner's tier")
    check_override(values["health_reason"], values["health_until"],
                   changed=values["health_until"] is not None)
    _check_name_free(session, viewer, values["name"], except_id=None)
    partner = Partner(**values)
    session.add(partner)
    session.flush()
    audit.record(session, actor=viewer, action="create", entity_type="partner",
                 entity_id=partner.id, new=values)
    return partner


def update_partner(*, session: Session, viewer: Viewer, partner_id: Any,
                   expected_version: int | None = None, **fields: Any) -> Partner:
    """Change a partner's fields (PARTNER_FIELDS, OVERRIDE_FIELDS, and the tier for a vp or
    sales manager); only what really changes is audited.

    With `expected_version` (the version the form was drawn from) a save based on a partner
    someone has changed since is refused, naming who and when.
    """
    partner = partner_for_write(session=session, viewer=viewer, partner_id=partner_id)
    locking.check_version(session, row=partner, expected_version=expected_version,
                          entity_type="partner")
    if "owner_id" in fields and not writes_everything(viewer):
        new_owner = fields["owner_id"]
        if new_owner is None or parse_id("owner_id", new_owner) != viewer.id:
            raise Forbidden("A partnership manager may not give their partner to someone else.")
    values = {field: clean_field(session, field, value) for field, value in fields.items()}
    if "name" in values:
        _check_name_free(session, viewer, values["name"], except_id=partner.id)
    if any(field in values for field in OVERRIDE_FIELDS):
        reason = values.get("health_reason", partner.health_reason)
        until = values.get("health_until", partner.health_until)
        check_override(reason, until, changed=until != partner.health_until)
    old, new = audit.changes(partner, values)
    if "tier" in new:
        require(viewer, DECIDE_TIERS, "change a partner's tier")
    if new:
        for field, value in new.items():
            setattr(partner, field, value)
        locking.flush(session, entity_type="partner", entity_id=partner.id)
        audit.record(session, actor=viewer, action="update", entity_type="partner",
                     entity_id=partner.id, old=old, new=new)
    return partner


def delete_partner(*, session: Session, viewer: Viewer, partner_id: Any) -> None:
    """Delete a partner with its deals, their stage history, its commissions and touches."""
    partner = partner_for_write(session=session, viewer=viewer, partner_id=partner_id)
    deal_ids = select(Opportunity.id).where(Opportunity.partner_id == partner.id)
    counts = {
        "opportunities": session.scalar(
            select(func.count()).select_from(Opportunity)
            .where(Opportunity.partner_id == partner.id)),
        "commission_structures": session.scalar(
            select(func.count()).select_from(CommissionStructure)
            .where(CommissionStructure.partner_id == partner.id)),
        "activities": session.scalar(
            select(func.count()).select_from(PartnerActivity)
            .where(PartnerActivity.partner_id == partner.id)),
    }
    # Explicit deletes rather than trusting ON DELETE CASCADE alone: the counts go to the
    # audit log, and the session's identity map learns what disappeared.
    session.execute(update(Task).where(Task.opportunity_id.in_(deal_ids))
                    .values(opportunity_id=None), execution_options={"synchronize_session": False})
    registration_ids = select(DealRegistration.id).where(
        DealRegistration.partner_id == partner.id)
    session.execute(delete(Alert).where(
        or_(and_(Alert.entity_type == "partner", Alert.entity_id == partner.id),
            and_(Alert.entity_type == "opportunity", Alert.entity_id.in_(deal_ids)),
            and_(Alert.entity_type == "registration",
                 Alert.entity_id.in_(registration_ids)))),
        execution_options={"synchronize_session": False})
    session.execute(delete(StageHistory).where(StageHistory.opportunity_id.in_(deal_ids)),
                    execution_options={"synchronize_session": False})
    session.execute(delete(Opportunity).where(Opportunity.partner_id == partner.id),
                    execution_options={"synchronize_session": "fetch"})
    session.execute(delete(CommissionStructure)
                    .where(CommissionStructure.partner_id == partner.id),
                    execution_options={"synchronize_session": "fetch"})
    session.execute(delete(PartnerActivity).where(PartnerActivity.partner_id == partner.id),
                    execution_options={"synchronize_session": "fetch"})
    old = {**_snapshot(partner), **counts}
    audit.record(session, actor=viewer, action="delete", entity_type="partner",
                 entity_id=partner.id, old=old)
    session.delete(partner)
    session.flush()


# --- touches ---------------------------------------------------------------------------

def clean_touch(*, activity_type: Any, occurred_on: Any,
                summary: Any) -> tuple[str, date, str | None]:
    """Check a touch: a known type, a day that is not in the future, a summary of sane length."""
    activity_type = validate.choice("activity_type", activity_type, ACTIVITY_TYPES)
    occurred_on = validate.day("occurred_on", occurred_on, required=True)
    if occurred_on > local_today():
        raise ValidationError("occurred_on", f"{occurred_on} is in the future")
    summary = validate.text("summary", summary, max_len=NOTES_MAX, multiline=True)
    return activity_type, occurred_on, summary


def log_touch(*, session: Session, viewer: Viewer, partner_id: Any, activity_type: str,
              occurred_on: Any, summary: str | None = None) -> PartnerActivity:
    """Record a touch with a partner (call, meeting, email, qbr, event, other)."""
    partner = partner_for_write(session=session, viewer=viewer, partner_id=partner_id)
    activity_type, occurred_on, summary = clean_touch(
        activity_type=activity_type, occurred_on=occurred_on, summary=summary)
    touch = PartnerActivity(partner_id=partner.id, user_id=viewer.id,
                            activity_type=activity_type, occurred_on=occurred_on,
                            summary=summary)
    session.add(touch)
    session.flush()
    audit.record(session, actor=viewer, action="log_touch", entity_type="partner_activity",
                 entity_id=touch.id,
                 new={"partner_id": partner.id, "activity_type": activity_type,
                      "occurred_on": occurred_on, "summary": summary})
    return touch


def list_touches(*, session: Session, viewer: Viewer, partner_id: Any,
                 limit: int | None = None) -> list[PartnerActivity]:
    """The touches with one partner the viewer may see, newest first."""
    partner = get_partner(session=session, viewer=viewer, partner_id=partner_id)
    stmt = (select(PartnerActivity).where(PartnerActivity.partner_id == partner.id)
            .order_by(PartnerActivity.occurred_on.desc(), PartnerActivity.created_at.desc()))
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.scalars(stmt))
