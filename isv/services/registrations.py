"""Deal registration: partners register deals through a link, the team approves or rejects.

A partner's link carries a long random secret (256 bits). Whoever makes it sees the secret
once; only its SHA-256 hash is stored, like a personal access token's, so neither the
database nor a backup can give the link back. A link works until it expires or is revoked;
the partner's owner, a vp or a sales manager makes and revokes them (the partner's writers).

The link opens a small form that needs no account. What arrives is bounded (field lengths,
amounts, dates) and throttled per link in the database (like the login's failure count), and
is checked against the program on arrival: the same customer (isv/rules/registration.py) in
an open deal, or in a pending or still-protecting approved registration, is recorded as a
conflict, both ways, so the earlier registration learns of the later one too.

Approving creates the deal through the opportunities service (stage history, audit) and
protects the partner for the Settings page's number of days; rejecting needs a reason. A
pending registration nobody decides expires after the Settings page's number of days.

One file, over 500 lines, because it is one lifecycle (link, intake, conflicts, decision,
expiry) whose steps all read the same conflict rule and protection window.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from isv import auth, display
from isv.auth import Viewer
from isv.errors import (
    Conflict,
    NotFound,
    RateLimited,
    Unauthenticated,
    ValidationError,
    check_each,
)
from isv.models import (
    OPEN_STAGES,
    REGISTRATION_STATUSES,
    DealRegistration,
    Opportunity,
    Partner,
    RegistrationLink,
    User,
)
from isv.rules.registration import Customer, matching
from isv.services import alerts, audit, opportunities, partners, scope, validate
from isv.services.settings import current_settings, local_today
from isv.services.validate import parse_id
from isv.types import utcnow

LINK_DAYS = (30, 90, 180, 365)   # the partner page's choices of how long a link works
MAX_LIVE_LINKS = 5               # per partner: one per channel or campaign is plenty
CUSTOMER_MAX = 255
NOTES_MAX = 2000
REASON_MAX = 500
MIN_VALUE = Decimal(1)
MAX_VALUE = Decimal("999999999.99")
MAX_CLOSE_DAYS = 3 * 365
# Throttle per link: so many registrations per window, then refused until it turns.
WINDOW_MINUTES = 60
PER_WINDOW = 10
MAX_PENDING = 200                # per partner: a runaway script stops here
PUBLIC_ACTOR = "registration link"
STATUS_LABELS = {"pending": "Pending", "approved": "Approved", "rejected": "Rejected",
                 "expired": "Expired"}
FIELD_LABELS = {"customer_name": "Customer", "contact_email": "Contact email",
                "deal_value": "Value estimate", "expected_close_date": "Expected close",
                "notes": "Notes", "reason": "Reason"}


# --- links ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class NewLink:
    link: RegistrationLink
    secret: str  # shown once, never stored


def link_status(link: RegistrationLink, now: datetime | None = None) -> str:
    """'active', 'expired' or 'revoked'."""
    if link.revoked_at is not None:
        return "revoked"
    return "expired" if link.expires_at <= (now or utcnow()) else "active"


def create_link(*, session: Session, viewer: Viewer, partner_id: Any, days: Any,
                now: datetime | None = None) -> NewLink:
    """Make a registration link for a partner; its secret is in the answer and nowhere else."""
    partner = partners.partner_for_write(session=session, viewer=viewer, partner_id=partner_id)
    now = now or utcnow()
    try:
        number = int(str(days).strip())
    except ValueError:
        raise ValidationError("days", f"{days!r} is not a number of days") from None
    if number not in LINK_DAYS:
        raise ValidationError("days", f"must be one of {', '.join(map(str, LINK_DAYS))}")
    live = session.scalar(select(func.count()).select_from(RegistrationLink).where(
        RegistrationLink.partner_id == partner.id, RegistrationLink.revoked_at.is_(None),
        RegistrationLink.expires_at > now)) or 0
    if live >= MAX_LIVE_LINKS:
        raise ValidationError("days", f"{partner.name} has {MAX_LIVE_LINKS} live links, the "
                                      "most allowed; revoke one first")
    secret = secrets.token_urlsafe(32)
    link = RegistrationLink(partner_id=partner.id, token_hash=auth.token_hash(secret),
                            created_by_id=viewer.id, created_at=now,
                            expires_at=now + timedelta(days=number))
    session.add(link)
    session.flush()
    # The partner and the expiry are recorded; the secret and its hash never are.
    audit.record(session, actor=viewer, action="create", entity_type="registration_link",
                 entity_id=link.id, new={"partner": partner.name, "expires_at": link.expires_at})
    return NewLink(link=link, secret=secret)


@dataclass(frozen=True)
class LinkRow:
    id: uuid.UUID
    created_at: datetime
    created_by: str | None
    expires_at: datetime
    last_used_at: datetime | None
    status: str
    registrations: int


def list_links(*, session: Session, viewer: Viewer, partner_id: Any,
               now: datetime | None = None) -> list[LinkRow]:
    """A partner's links, newest first, for those who may make them."""
    partner = partners.partner_for_write(session=session, viewer=viewer, partner_id=partner_id)
    now = now or utcnow()
    counts = dict(session.execute(
        select(DealRegistration.link_id, func.count())
        .where(DealRegistration.partner_id == partner.id)
        .group_by(DealRegistration.link_id)).all())
    names = {u.id: u.full_name for u in session.scalars(select(User))}
    links = session.scalars(select(RegistrationLink)
                            .where(RegistrationLink.partner_id == partner.id)
                            .order_by(RegistrationLink.created_at.desc(), RegistrationLink.id))
    return [LinkRow(id=link.id, created_at=link.created_at,
                    created_by=names.get(link.created_by_id), expires_at=link.expires_at,
                    last_used_at=link.last_used_at, status=link_status(link, now),
                    registrations=counts.get(link.id, 0)) for link in links]


def revoke_link(*, session: Session, viewer: Viewer, link_id: Any,
                now: datetime | None = None) -> RegistrationLink:
    """Stop a link for good; revoking a revoked one changes nothing."""
    link = session.get(RegistrationLink, parse_id("link_id", link_id))
    if link is None:
        raise NotFound("No such registration link.")
    partner = session.get(Partner, link.partner_id)
    partners.check_partner_writable(viewer, partner, missing="No such registration link.")
    if link.revoked_at is None:
        link.revoked_at = now or utcnow()
        link.revoked_by_id = viewer.id
        audit.record(session, actor=viewer, action="revoke", entity_type="registration_link",
                     entity_id=link.id, new={"partner": partner.name})
    return link


# --- the public form ---------------------------------------------------------------------

@dataclass(frozen=True)
class OpenLink:
    """What the public form may know: whose link it is, nothing else."""

    partner_name: str


def _live_link(session: Session, secret: Any, now: datetime) -> RegistrationLink:
    if not isinstance(secret, str) or not secret.strip() or len(secret) > 200:
        raise Unauthenticated("This registration link is not valid. Check that you copied "
                              "the whole address.")
    link = session.scalar(select(RegistrationLink)
                          .where(RegistrationLink.token_hash == auth.token_hash(secret.strip())))
    if link is None:
        raise Unauthenticated("This registration link is not valid. Check that you copied "
                              "the whole address.")
    if link.revoked_at is not None:
        raise Unauthenticated("This registration link was revoked. Ask your partner manager "
                              "for a new one.")
    if link.expires_at <= now:
        raise Unauthenticated(f"This registration link expired on "
                              f"{display.day(link.expires_at)}. Ask your partner manager for "
                              "a new one.")
    return link


def open_link(*, session: Session, secret: Any, now: datetime | None = None) -> OpenLink:
    """The partner a live link registers for; Unauthenticated (with why) otherwise."""
    link = _live_link(session, secret, now or utcnow())
    return OpenLink(partner_name=session.get(Partner, link.partner_id).name)


@dataclass(frozen=True)
class Typed:
    """A registration's fields, checked."""

    customer_name: str
    contact_email: str
    deal_value: Decimal
    expected_close_date: date
    notes: str | None


def clean(*, customer_name: Any, contact_email: Any, deal_value: Any,
          expected_close_date: Any, notes: Any, today: date | None = None) -> Typed:
    """Check every field, refusing all the bad ones at once, each with its reason."""
    today = today or local_today()
    out: dict[str, Any] = {}

    def customer() -> None:
        out["customer_name"] = validate.text("customer_name", customer_name,
                                             max_len=CUSTOMER_MAX, required=True)
        if not Customer.of(out["customer_name"], None).key:
            raise ValidationError("customer_name", "needs the customer's name, not only "
                                                   "punctuation or a legal form")

    def email() -> None:
        out["contact_email"] = validate.email("contact_email", contact_email, required=True)

    def value() -> None:
        out["deal_value"] = validate.money("deal_value", deal_value, required=True,
                                           minimum=MIN_VALUE, maximum=MAX_VALUE)

    def close() -> None:
        day = validate.day("expected_close_date", expected_close_date, required=True)
        if day < today:
            raise ValidationError("expected_close_date",
                                  f"{display.day(day)} is in the past")
        latest = today + timedelta(days=MAX_CLOSE_DAYS)
        if day > latest:
            raise ValidationError("expected_close_date",
                                  f"must be within three years, by "
                                  f"{display.day(latest)}")
        out["expected_close_date"] = day

    def note() -> None:
        out["notes"] = validate.text("notes", notes, max_len=NOTES_MAX, multiline=True)

    check_each({"customer_name": customer, "contact_email": email, "deal_value": value,
                "expected_close_date": close, "notes": note})
    return Typed(**out)


def _throttle(link: RegistrationLink, now: datetime) -> None:
    window = timedelta(minutes=WINDOW_MINUTES)
    if link.window_start is None or now - link.window_start >= window:
        link.window_start, link.window_count = now, 0
    if link.window_count >= PER_WINDOW:
        wait = max(1, int((link.window_start + window - now).total_seconds() // 60) + 1)
        raise RateLimited(f"This link has received {PER_WINDOW} registrations in the last "
                          f"hour, the most it takes; try again in {wait} minutes.")


def _live_registrations(now: datetime):
    return or_(and_(DealRegistration.status == "pending", DealRegistration.expires_at > now),
               and_(DealRegistration.status == "approved",
                    DealRegistration.protected_until > now))


def find_conflicts(session: Session, customer: Customer, *, now: datetime,
                   except_id: uuid.UUID | None = None) -> list[dict[str, Any]]:
    """Open deals and live registrations of the same customer: {"kind", "id", "reasons"}.

    Deals keep no normalised name, so every open deal's name is normalised here: a few
    columns of the open deals, read on a registration's arrival only.
    """
    deals = session.execute(select(Opportunity.id, Opportunity.customer_name,
                                   Opportunity.customer_contact_email)
                            .where(Opportunity.stage.in_(OPEN_STAGES))
                            .order_by(Opportunity.created_at, Opportunity.id))
    found = [{"kind": "opportunity", "id": str(ident), "reasons": list(reasons)}
             for ident, reasons in matching(
                 customer, ((row.id, Customer.of(row.customer_name, row.customer_contact_email))
                            for row in deals))]
    same = [DealRegistration.customer_key == customer.key] if customer.key else []
    if customer.domain:
        same.append(DealRegistration.email_domain == customer.domain)
    if same:
        stmt = (select(DealRegistration.id, DealRegistration.customer_key,
                       DealRegistration.email_domain)
                .where(or_(*same), _live_registrations(now))
                .order_by(DealRegistration.submitted_at, DealRegistration.id))
        if except_id is not None:
            stmt = stmt.where(DealRegistration.id != except_id)
        found += [{"kind": "registration", "id": str(ident), "reasons": list(reasons)}
                  for ident, reasons in matching(
                      customer, ((row.id, Customer(key=row.customer_key,
                                                   domain=row.email_domain))
                                 for row in session.execute(stmt)))]
    return found


def tell_earlier(session: Session, registration: DealRegistration) -> None:
    """The earlier registrations a new one collides with learn of it: whoever decides one of
    them sees both."""
    for conflict in registration.conflicts:
        if conflict["kind"] != "registration":
            continue
        earlier = session.get(DealRegistration, uuid.UUID(conflict["id"]))
        earlier.conflicts = [*earlier.conflicts, {"kind": "registration",
                                                  "id": str(registration.id),
                                                  "reasons": conflict["reasons"]}]


def submit_registration(*, session: Session, secret: Any, customer_name: Any,
                        contact_email: Any, deal_value: Any, expected_close_date: Any,
                        notes: Any = None, now: datetime | None = None) -> DealRegistration:
    """Register a deal through a partner's link: checked, throttled, conflicts flagged."""
    now = now or utcnow()
    link = _live_link(session, secret, now)
    _throttle(link, now)
    typed = clean(customer_name=customer_name, contact_email=contact_email,
                  deal_value=deal_value, expected_close_date=expected_close_date, notes=notes)
    waiting = session.scalar(select(func.count()).select_from(DealRegistration).where(
        DealRegistration.partner_id == link.partner_id, DealRegistration.status == "pending",
        DealRegistration.expires_at > now)) or 0
    if waiting >= MAX_PENDING:
        raise RateLimited(f"{MAX_PENDING} registrations are waiting for a decision; try "
                          "again once your partner manager has gone through them.")
    customer = Customer.of(typed.customer_name, typed.contact_email)
    conflicts = find_conflicts(session, customer, now=now)
    registration = DealRegistration(
        partner_id=link.partner_id, link_id=link.id, customer_name=typed.customer_name,
        customer_key=customer.key, contact_email=typed.contact_email,
        email_domain=customer.domain, deal_value=typed.deal_value,
        expected_close_date=typed.expected_close_date, notes=typed.notes, status="pending",
        conflicts=conflicts, submitted_at=now,
        expires_at=now + timedelta(days=current_settings(session).registration_pending_days))
    session.add(registration)
    session.flush()
    tell_earlier(session, registration)
    link.window_count += 1
    link.last_used_at = now
    partner = session.get(Partner, link.partner_id)
    audit.record(session, actor=None, actor_email=PUBLIC_ACTOR, action="register",
                 entity_type="deal_registration", entity_id=registration.id,
                 new={"partner": partner.name, "customer_name": typed.customer_name,
                      "contact_email": typed.contact_email, "deal_value": typed.deal_value,
                      "expected_close_date": typed.expected_close_date,
                      "conflicts": len(conflicts)})
    session.flush()
    alerts.deal_registration(session=session, now=now)
    return registration


# --- the team's side: list, approve, reject, expire ----------------------------------------

def status_of(registration: DealRegistration, now: datetime | None = None) -> str:
    """Its status as of now: a pending one past its expiry is expired, job run or not."""
    if registration.status == "pending" and registration.expires_at <= (now or utcnow()):
        return "expired"
    return registration.status


def _status_filter(status: str, now: datetime):
    if status == "pending":
        return and_(DealRegistration.status == "pending", DealRegistration.expires_at > now)
    if status == "expired":
        return or_(DealRegistration.status == "expired",
                   and_(DealRegistration.status == "pending",
                        DealRegistration.expires_at <= now))
    return DealRegistration.status == status


@dataclass(frozen=True)
class ConflictRef:
    kind: str                 # "opportunity" or "registration"
    id: uuid.UUID | None      # None when the viewer may not see it
    label: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class RegistrationRow:
    id: uuid.UUID
    partner_id: uuid.UUID
    partner_name: str
    customer_name: str
    contact_email: str
    deal_value: Decimal
    expected_close_date: date
    notes: str | None
    status: str
    submitted_at: datetime
    expires_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    reject_reason: str | None
    protected_until: datetime | None
    opportunity_id: uuid.UUID | None
    conflicts: tuple[ConflictRef, ...]
    can_decide: bool


def _may_decide(viewer: Viewer, partner: Partner) -> bool:
    return partners.writes_everything(viewer) or (
        viewer.can(auth.WRITE_PARTNERS) and partner.owner_id == viewer.id)


def _refs(session: Session, viewer: Viewer, registrations: list[DealRegistration]
          ) -> dict[str, str | None]:
    """Each conflicting record's label, None for one the viewer may not see."""
    deal_ids = {uuid.UUID(c["id"]) for r in registrations for c in r.conflicts
                if c["kind"] == "opportunity"}
    reg_ids = {uuid.UUID(c["id"]) for r in registrations for c in r.conflicts
               if c["kind"] == "registration"}
    labels: dict[str, str | None] = {}
    ids = list(deal_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        visible = set(session.scalars(select(Opportunity.id).where(
            Opportunity.id.in_(chunk), scope.opportunities_visible(viewer))))
        for deal in session.scalars(select(Opportunity).where(Opportunity.id.in_(chunk))):
            labels[str(deal.id)] = (
                f"{deal.customer_name} ({deal.partner.name}) · "
                f"{display.stage(deal.stage)} · {display.money(deal.deal_value)}"
                if deal.id in visible else None)
    ids = list(reg_ids)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        visible = set(session.scalars(select(DealRegistration.id)
                                      .join(Partner, Partner.id == DealRegistration.partner_id)
                                      .where(DealRegistration.id.in_(chunk),
                                             scope.partners_visible(viewer))))
        for other in session.scalars(select(DealRegistration)
                                     .where(DealRegistration.id.in_(chunk))):
            labels[str(other.id)] = (
                f"{other.customer_name} ({other.partner.name}) · registration "
                f"{STATUS_LABELS[status_of(other)].lower()}, submitted "
                f"{display.day(other.submitted_at)}" if other.id in visible else None)
    return labels


def _row(registration: DealRegistration, viewer: Viewer, labels: dict[str, str | None],
         now: datetime) -> RegistrationRow:
    refs = []
    for conflict in registration.conflicts:
        if conflict["id"] not in labels:
            continue  # deleted since: nothing left to collide with
        label = labels[conflict["id"]]
        hidden = ("a deal you may not see (another partner's)" if conflict["kind"] ==
                  "opportunity" else "a registration you may not see (another partner's)")
        refs.append(ConflictRef(kind=conflict["kind"],
                                id=uuid.UUID(conflict["id"]) if label else None,
                                label=label or hidden, reasons=tuple(conflict["reasons"])))
    return RegistrationRow(
        id=registration.id, partner_id=registration.partner_id,
        partner_name=registration.partner.name, customer_name=registration.customer_name,
        contact_email=registration.contact_email, deal_value=registration.deal_value,
        expected_close_date=registration.expected_close_date, notes=registration.notes,
        status=status_of(registration, now), submitted_at=registration.submitted_at,
        expires_at=registration.expires_at, decided_at=registration.decided_at,
        decided_by=registration.decided_by.full_name if registration.decided_by else None,
        reject_reason=registration.reject_reason,
        protected_until=registration.protected_until,
        opportunity_id=registration.opportunity_id, conflicts=tuple(refs),
        can_decide=status_of(registration, now) == "pending"
        and _may_decide(viewer, registration.partner))


def list_registrations(*, session: Session, viewer: Viewer, status: str | None = None,
                       partner_id: Any = None, registration_id: Any = None, limit: int = 200,
                       now: datetime | None = None) -> tuple[list[RegistrationRow], int]:
    """Registrations the viewer may see, newest first, and how many match in all."""
    now = now or utcnow()
    conditions = [scope.partners_visible(viewer)]
    if status:
        conditions.append(_status_filter(
            validate.choice("status", status, REGISTRATION_STATUSES), now))
    if not validate.blank(partner_id):
        conditions.append(DealRegistration.partner_id == parse_id("partner_id", partner_id))
    if not validate.blank(registration_id):
        conditions.append(DealRegistration.id == parse_id("registration_id", registration_id))
    base = (select(DealRegistration).join(Partner, Partner.id == DealRegistration.partner_id)
            .where(*conditions))
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    found = list(session.scalars(base.order_by(DealRegistration.submitted_at.desc(),
                                               DealRegistration.id)
                                 .limit(max(1, min(int(limit), 1000)))).unique())
    labels = _refs(session, viewer, found)
    return [_row(r, viewer, labels, now) for r in found], total


def pending_count(*, session: Session, viewer: Viewer, partner_id: Any = None,
                  now: datetime | None = None) -> int:
    """How many registrations the viewer may see wait for a decision."""
    stmt = (select(func.count()).select_from(DealRegistration)
            .join(Partner, Partner.id == DealRegistration.partner_id)
            .where(scope.partners_visible(viewer), _status_filter("pending", now or utcnow())))
    if not validate.blank(partner_id):
        stmt = stmt.where(DealRegistration.partner_id == parse_id("partner_id", partner_id))
    return session.scalar(stmt) or 0


def _for_decision(session: Session, viewer: Viewer, registration_id: Any,
                  now: datetime) -> DealRegistration:
    registration = session.get(DealRegistration, parse_id("registration_id", registration_id))
    if registration is None:
        raise NotFound("No such registration.")
    partners.check_partner_writable(viewer, registration.partner,
                                    missing="No such registration.")
    status = status_of(registration, now)
    if status != "pending":
        who = registration.decided_by.full_name if registration.decided_by else None
        when = display.moment(registration.decided_at) if registration.decided_at else None
        raise Conflict(f"This registration is {STATUS_LABELS[status].lower()}"
                       + (f" (by {who}, {when})" if who and when else "")
                       + "; it can no longer be decided.")
    return registration


def _flush(session: Session) -> None:
    try:
        session.flush()
    except StaleDataError:
        raise Conflict("Someone else decided this registration meanwhile; reload to see "
                       "their decision.") from None


def approve_registration(*, session: Session, viewer: Viewer, registration_id: Any,
                         now: datetime | None = None) -> DealRegistration:
    """Approve: create the partner's deal (with its history row) and start its protection."""
    now = now or utcnow()
    registration = _for_decision(session, viewer, registration_id, now)
    partner = registration.partner
    owner = partner.owner if partner.owner is not None and partner.owner.is_active else None
    deal = opportunities.create_opportunity(
        session=session, viewer=viewer, partner_id=partner.id,
        customer_name=registration.customer_name,
        customer_contact_email=registration.contact_email,
        deal_value=registration.deal_value,
        expected_close_date=registration.expected_close_date, notes=registration.notes,
        assigned_user_id=owner.id if owner else None,
        note=f"Registered by {partner.name} on {display.day(registration.submitted_at)}; "
             "registration approved.")
    days = current_settings(session).registration_protection_days
    registration.status = "approved"
    registration.decided_at = now
    registration.decided_by_id = viewer.id
    registration.protected_until = now + timedelta(days=days)
    registration.opportunity_id = deal.id
    _flush(session)
    audit.record(session, actor=viewer, action="approve", entity_type="deal_registration",
                 entity_id=registration.id, old={"status": "pending"},
                 new={"status": "approved", "opportunity_id": deal.id,
                      "protected_until": registration.protected_until})
    return registration


def reject_registration(*, session: Session, viewer: Viewer, registration_id: Any,
                        reason: Any, now: datetime | None = None) -> DealRegistration:
    """Reject with a reason, which the registrations page shows."""
    now = now or utcnow()
    registration = _for_decision(session, viewer, registration_id, now)
    why = validate.text("reason", reason, max_len=REASON_MAX, required=True, multiline=True)
    registration.status = "rejected"
    registration.decided_at = now
    registration.decided_by_id = viewer.id
    registration.reject_reason = why
    _flush(session)
    audit.record(session, actor=viewer, action="reject", entity_type="deal_registration",
                 entity_id=registration.id, old={"status": "pending"},
                 new={"status": "rejected", "reject_reason": why})
    return registration


def expire_pending(*, session: Session, viewer: Viewer, now: datetime | None = None) -> int:
    """Mark pending registrations past their expiry expired (audited); return how many."""
    now = now or utcnow()
    overdue = list(session.scalars(select(DealRegistration).where(
        DealRegistration.status == "pending", DealRegistration.expires_at <= now)
        .order_by(DealRegistration.expires_at, DealRegistration.id)))
    for registration in overdue:
        registration.status = "expired"
        audit.record(session, actor=viewer, action="expire", entity_type="deal_registration",
                     entity_id=registration.id, old={"status": "pending"},
                     new={"status": "expired", "expires_at": registration.expires_at})
    session.flush()
    return len(overdue)
