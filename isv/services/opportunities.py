"""Opportunities: partner-sourced deals, their stages, history and the pipeline grid.

One file, over 500 lines, because it is one aggregate, the deal: its writes (version check,
stage settling, history) and the grid's query share the field list and the scope rule.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Engine,
    and_,
    case,
    delete,
    func,
    literal,
    or_,
    select,
    union_all,
    update,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.exc import StaleDataError

from isv import display
from isv.auth import WRITE_OPPORTUNITIES, Viewer, require
from isv.errors import Conflict, NotFound, ValidationError
from isv.models import (
    CLOSED_STAGES,
    DOMAINS,
    OPEN_STAGES,
    STAGES,
    Alert,
    CommissionStructure,
    Opportunity,
    Partner,
    StageHistory,
    Task,
    User,
)
from isv.rules.deals import FUNNEL_STAGES, created_between, day_bounds, reached
from isv.services import audit, scope, validate
from isv.services.settings import current_settings, local_date, local_today, local_zone
from isv.services.validate import NOTES_MAX, blank, parse_id
from isv.types import utcnow

EDITABLE_FIELDS = (
    "partner_id", "customer_name", "customer_contact_email", "deal_value", "stage",
    "probability", "expected_close_date", "actual_close_date", "assigned_user_id",
    "lost_reason", "notes", "external_id", "commission_structure_id",
)
_STAGE_FIELDS = ("stage", "probability", "actual_close_date", "lost_reason")
MAX_PAGE = 5000
_CLOCK_SKEW = timedelta(minutes=5)


# --- scope and locking -----------------------------------------------------------------

def can_write(viewer: Viewer, opportunity: Opportunity) -> bool:
    """Whether the viewer may change this deal: all of them, or their partners' and their own."""
    if not viewer.can(WRITE_OPPORTUNITIES):
        return False
    if viewer.sees_everything:
        return True
    return (opportunity.assigned_user_id == viewer.id
            or opportunity.partner.owner_id == viewer.id)


def _for_write(session: Session, viewer: Viewer, opportunity_id: Any) -> Opportunity:
    require(viewer, WRITE_OPPORTUNITIES, "change opportunities")
    opp = session.get(Opportunity, parse_id("opportunity_id", opportunity_id))
    if opp is None:
        raise NotFound("No such opportunity.")
    # Outside scope a write is refused word for word as an unknown id is: a partnership
    # manager holding another manager's deal id learns nothing of it (every deal they may
    # see they may also change, so nothing they see is refused this way).
    if not can_write(viewer, opp):
        raise NotFound("No such opportunity.")
    return opp


def _changed_message(name: str | None, at: datetime | None) -> str:
    who = name or "someone else"
    when = f" at {display.moment(at)}" if at is not None else ""
    return f"Changed by {who}{when} — reload to see their change"


def _check_version(opp: Opportunity, expected_version: Any) -> None:
    if expected_version is None:
        return
    try:
        expected = int(expected_version)
    except (TypeError, ValueError):
        raise ValidationError("version", f"{expected_version!r} is not a version") from None
    if expected != opp.version:
        name = opp.updated_by.full_name if opp.updated_by is not None else None
        raise Conflict(_changed_message(name, opp.updated_at))


def _stale_conflict(session: Session, opportunity_id: uuid.UUID) -> Conflict:
    # A failed flush has already rolled the session's transaction back and left the session
    # unusable until the caller rolls back; we must not roll back on the caller's behalf (it
    # would silently drop the rest of its unit of work), so who won is read on a connection
    # of its own, where the other writer's commit is visible.
    bind = session.get_bind()
    row = None
    if isinstance(bind, Engine):
        try:
            with bind.connect() as conn:
                row = conn.execute(
                    select(User.first_name, User.last_name, Opportunity.updated_at)
                    .select_from(Opportunity)
                    .outerjoin(User, User.id == Opportunity.updated_by_id)
                    .where(Opportunity.id == opportunity_id)).first()
        except SQLAlchemyError:
            row = None
    if row is None:
        return Conflict(_changed_message(None, None))
    name = f"{row[0]} {row[1]}" if row[0] is not None else None
    return Conflict(_changed_message(name, row[2]))


def _flush(session: Session, opportunity_id: uuid.UUID) -> None:
    try:
        session.flush()
    except StaleDataError:
        # Two writers passed the version check at once; the database let only one win.
        raise _stale_conflict(session, opportunity_id) from None


# --- field rules -----------------------------------------------------------------------

def _partner_for_deal(session: Session, viewer: Viewer, partner_id: Any) -> Partner:
    if blank(partner_id):
        raise ValidationError("partner_id", "is required")
    partner = session.scalar(select(Partner).where(
        Partner.id == parse_id("partner_id", partner_id), scope.partners_visible(viewer)))
    if partner is None or not may_add_deals(viewer, partner):
        raise ValidationError("partner_id", "no such partner among those you may add deals to")
    return partner


def may_add_deals(viewer: Viewer, partner: Partner) -> bool:
    """Whether the viewer may add deals to this partner: any, or a partnership manager's own."""
    return viewer.can(WRITE_OPPORTUNITIES) and (
        viewer.sees_everything or partner.owner_id == viewer.id)


def check_assignee(user: User, *, closed: bool) -> uuid.UUID:
    """An open deal needs an active owner; a closed one keeps whoever worked it, even if gone."""
    if not user.is_active and not closed:
        raise ValidationError("assigned_user_id", f"{user.email} is deactivated")
    return user.id


def _assignee(session: Session, value: Any, *, closed: bool) -> uuid.UUID | None:
    if blank(value):
        return None
    user = session.get(User, parse_id("assigned_user_id", value))
    if user is None:
        raise ValidationError("assigned_user_id", "no such user")
    return check_assignee(user, closed=closed)


def _structure(session: Session, value: Any, partner_id: uuid.UUID) -> uuid.UUID | None:
    if blank(value):
        return None
    row = session.get(CommissionStructure, parse_id("commission_structure_id", value))
    if row is None:
        raise ValidationError("commission_structure_id", "no such commission structure")
    if row.partner_id != partner_id:
        raise ValidationError("commission_structure_id", "belongs to another partner")
    return row.id


def _external_id(session: Session, value: Any, except_id: uuid.UUID | None) -> str | None:
    external_id = clean_field("external_id", value)
    if external_id is None:
        return None
    stmt = select(Opportunity.id).where(Opportunity.external_id == external_id)
    if except_id is not None:
        stmt = stmt.where(Opportunity.id != except_id)
    if session.scalar(stmt.limit(1)) is not None:
        raise ValidationError("external_id", f"{external_id!r} is used by another opportunity")
    return external_id


def clean_created_at(value: Any) -> datetime:
    """When a deal was created: now when not given, else a moment that is not in the future."""
    return utcnow() if value is None else clean_moment("created_at", value)


def clean_moment(field: str, value: Any) -> datetime:
    """A past moment, ISO 8601 (a little clock skew allowed); no zone means the deployment's."""
    if not isinstance(value, datetime):
        try:
            value = validate.parse_moment(str(value))
        except ValueError:
            raise ValidationError(
                field, f"{value!r} is not a time like 2026-03-01T09:30:00") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=local_zone())
    if value > utcnow() + _CLOCK_SKEW:
        raise ValidationError(field, f"{value:%Y-%m-%d %H:%M} is in the future")
    if value.date() < validate.MIN_DATE:
        raise ValidationError(field, f"{value:%Y-%m-%d} is before {validate.MIN_DATE}")
    return value


def _clean(session: Session, field: str, value: Any, except_id: uuid.UUID | None, *,
           closed: bool = False) -> Any:
    if field == "assigned_user_id":
        return _assignee(session, value, closed=closed)
    if field == "external_id":
        return _external_id(session, value, except_id)
    return clean_field(field, value)


def clean_field(field: str, value: Any) -> Any:
    """Check a deal field that needs no lookup (external_id: its form, not whether it is free)."""
    if field == "customer_name":
        return validate.text("customer_name", value, max_len=255, required=True)
    if field == "customer_contact_email":
        return validate.email("customer_contact_email", value)
    if field == "deal_value":
        return validate.money("deal_value", value, required=True)
    if field == "expected_close_date":
        return validate.day("expected_close_date", value)
    if field == "notes":
        return validate.text("notes", value, max_len=NOTES_MAX, multiline=True)
    if field == "external_id":
        return validate.text("external_id", value, max_len=100)
    raise ValidationError(field, "is not an opportunity field that can be changed")


def settle_stage(*, current_stage: str | None, current_close: date | None,
                 current_reason: str | None, given: dict[str, Any], created_on: date,
                 today: date, probabilities: Mapping[str, Any] | None = None
                 ) -> dict[str, Any]:
    """Work out stage, probability, actual_close_date and lost_reason after a change.

    `given` holds what the caller passed (any of those four keys). Entering a stage sets its
    default probability (`probabilities`, else the settings') unless one is given; a closed
    deal needs a close date (today when none is given), no earlier than its creation and not
    in the future; a lost deal needs a reason; an open deal has neither.
    """
    stage = (validate.choice("stage", given["stage"], STAGES) if "stage" in given
             else current_stage)
    moved = stage != current_stage
    out: dict[str, Any] = {"stage": stage}

    if not blank(given.get("probability")):
        out["probability"] = validate.percent("probability", given["probability"],
                                              required=True)
    elif moved:
        defaults = probabilities or current_settings().stage_probabilities
        out["probability"] = Decimal(defaults[stage])

    raw_close = given.get("actual_close_date")
    if stage in CLOSED_STAGES:
        if not blank(raw_close):
            close = validate.day("actual_close_date", raw_close, required=True)
        elif current_stage in CLOSED_STAGES and current_close is not None:
            close = current_close
        else:
            close = today
        if close != current_close:
            if close > today:
                raise ValidationError("actual_close_date", f"{close} is in the future")
            if close < created_on:
                raise ValidationError(
                    "actual_close_date", f"{close} is before the deal was created ({created_on})")
        out["actual_close_date"] = close
    else:
        if not blank(raw_close):
            raise ValidationError("actual_close_date", "only closed deals have a close date")
        out["actual_close_date"] = None

    reason = validate.text("lost_reason", given.get("lost_reason"), max_len=500,
                           multiline=True)
    if stage == "closed_lost":
        if "lost_reason" not in given and not moved:
            # Editing something else on a lost deal does not re-litigate its reason.
            reason = current_reason
        elif reason is None:
            raise ValidationError("lost_reason", "is required when a deal is lost")
        out["lost_reason"] = reason
    else:
        if reason is not None:
            raise ValidationError("lost_reason", "only lost deals have a lost reason")
        out["lost_reason"] = None
    return out


def _history(opp_id: uuid.UUID, from_stage: str | None, to_stage: str, viewer: Viewer,
             at: datetime, note: str | None) -> StageHistory:
    return StageHistory(opportunity_id=opp_id, from_stage=from_stage, to_stage=to_stage,
                        changed_by=viewer.id, changed_at=at,
                        notes=validate.text("note", note, max_len=NOTES_MAX, multiline=True))


# --- writes ------------------------------------------------------------------------------

def create_opportunity(*, session: Session, viewer: Viewer, partner_id: Any,
                       customer_name: str, deal_value: Any, stage: str = "lead",
                       probability: Any = None, customer_contact_email: str | None = None,
                       expected_close_date: Any = None, actual_close_date: Any = None,
                       assigned_user_id: Any = None, lost_reason: str | None = None,
                       notes: str | None = None, external_id: str | None = None,
                       commission_structure_id: Any = None, created_at: Any = None,
                       note: str | None = None) -> Opportunity:
    """Add a deal for a partner and open its stage history."""
    require(viewer, WRITE_OPPORTUNITIES, "add opportunities")
    partner = _partner_for_deal(session, viewer, partner_id)
    created = clean_created_at(created_at)
    raw = {"customer_name": customer_name, "customer_contact_email": customer_contact_email,
           "deal_value": deal_value, "expected_close_date": expected_close_date,
           "assigned_user_id": assigned_user_id, "notes": notes, "external_id": external_id}
    closed = stage in CLOSED_STAGES
    values = {field: _clean(session, field, value, None, closed=closed)
              for field, value in raw.items()}
    values.update(settle_stage(
        current_stage=None, current_close=None, current_reason=None,
        given={"stage": stage, "probability": probability,
               "actual_close_date": actual_close_date, "lost_reason": lost_reason},
        created_on=local_date(created), today=local_today(),
        probabilities=current_settings(session).stage_probabilities))
    values["commission_structure_id"] = _structure(session, commission_structure_id, partner.id)
    history_note = validate.text("note", note, max_len=NOTES_MAX, multiline=True)
    opp = Opportunity(partner_id=partner.id, updated_by_id=viewer.id, created_at=created,
                      updated_at=utcnow(), **values)
    session.add(opp)
    session.flush()
    session.add(_history(opp.id, None, opp.stage, viewer, created, history_note))
    audit.record(session, actor=viewer, action="create", entity_type="opportunity",
                 entity_id=opp.id, new={"partner_id": partner.id, **values})
    session.flush()
    return opp


def _save(session: Session, viewer: Viewer, opp: Opportunity, given: dict[str, Any], *,
          note: str | None, action: str) -> Opportunity:
    """Validate `given` against the deal, apply what changes, record history and audit."""
    values: dict[str, Any] = {}
    partner_id = opp.partner_id
    if "partner_id" in given:
        partner_id = _partner_for_deal(session, viewer, given["partner_id"]).id
        values["partner_id"] = partner_id
    closed = given.get("stage", opp.stage) in CLOSED_STAGES
    for field in ("customer_name", "customer_contact_email", "deal_value",
                  "expected_close_date", "assigned_user_id", "notes", "external_id"):
        if field in given:
            values[field] = _clean(session, field, given[field], opp.id, closed=closed)
    stage_given = {k: given[k] for k in _STAGE_FIELDS if k in given}
    if stage_given:
        values.update(settle_stage(
            current_stage=opp.stage, current_close=opp.actual_close_date,
            current_reason=opp.lost_reason, given=stage_given,
            created_on=local_date(opp.created_at), today=local_today(),
            probabilities=current_settings(session).stage_probabilities))
    if "commission_structure_id" in given:
        values["commission_structure_id"] = _structure(
            session, given["commission_structure_id"], partner_id)
    elif partner_id != opp.partner_id and opp.commission_structure_id is not None:
        raise ValidationError("commission_structure_id",
                              "belongs to the old partner; choose one of the new partner's")
    history_note = validate.text("note", note, max_len=NOTES_MAX, multiline=True)

    old, new = audit.changes(opp, values)
    if not new:
        return opp
    from_stage = opp.stage
    now = utcnow()
    for field, value in new.items():
        setattr(opp, field, value)
    opp.updated_by_id = viewer.id
    opp.updated_at = now
    if "stage" in new:
        session.add(_history(opp.id, from_stage, new["stage"], viewer, now, history_note))
    audit.record(session, actor=viewer, action=action, entity_type="opportunity",
                 entity_id=opp.id, old=old, new=new)
    _flush(session, opp.id)
    return opp


def update_opportunity(*, session: Session, viewer: Viewer, opportunity_id: Any,
                       expected_version: int | None, note: str | None = None,
                       **fields: Any) -> Opportunity:
    """Change a deal's fields (any of EDITABLE_FIELDS), refusing a save based on stale data.

    A stage change here follows exactly the rules of `move_stage`; `note` goes on its
    stage-history row.
    """
    opp = _for_write(session, viewer, opportunity_id)
    _check_version(opp, expected_version)
    for field in fields:
        if field not in EDITABLE_FIELDS:
            raise ValidationError(field, "is not an opportunity field that can be changed")
    return _save(session, viewer, opp, fields, note=note, action="update")


def move_stage(*, session: Session, viewer: Viewer, opportunity_id: Any, to_stage: str,
               expected_version: int | None = None, note: str | None = None,
               lost_reason: str | None = None, actual_close_date: Any = None,
               probability: Any = None) -> Opportunity:
    """Move an opportunity to another stage and record the change."""
    opp = _for_write(session, viewer, opportunity_id)
    _check_version(opp, expected_version)
    given: dict[str, Any] = {"stage": to_stage}
    if lost_reason is not None:
        given["lost_reason"] = lost_reason
    if actual_close_date is not None:
        given["actual_close_date"] = actual_close_date
    if probability is not None:
        given["probability"] = probability
    return _save(session, viewer, opp, given, note=note, action="move_stage")


def delete_opportunity(*, session: Session, viewer: Viewer, opportunity_id: Any,
                       expected_version: int | None = None) -> None:
    """Delete a deal with its stage history."""
    opp = _for_write(session, viewer, opportunity_id)
    _check_version(opp, expected_version)
    old = {f: getattr(opp, f) for f in EDITABLE_FIELDS}
    # Explicit rather than left to ON DELETE rules: tasks keep existing without the link,
    # and an alert about a deal that is gone would point nowhere.
    session.execute(update(Task).where(Task.opportunity_id == opp.id)
                    .values(opportunity_id=None).execution_options(synchronize_session=False))
    session.execute(delete(Alert).where(Alert.entity_type == "opportunity",
                                        Alert.entity_id == opp.id)
                    .execution_options(synchronize_session=False))
    session.execute(delete(StageHistory).where(StageHistory.opportunity_id == opp.id)
                    .execution_options(synchronize_session=False))
    audit.record(session, actor=viewer, action="delete", entity_type="opportunity",
                 entity_id=opp.id, old=old)
    session.delete(opp)
    _flush(session, opp.id)


# --- reads -------------------------------------------------------------------------------

def get_opportunity(*, session: Session, viewer: Viewer, opportunity_id: Any) -> Opportunity:
    """Return one deal the viewer may see; NotFound otherwise."""
    opp = session.scalar(select(Opportunity).where(
        Opportunity.id == parse_id("opportunity_id", opportunity_id),
        scope.opportunities_visible(viewer)))
    if opp is None:
        raise NotFound("No such opportunity.")
    return opp


def stage_history(*, session: Session, viewer: Viewer,
                  opportunity_id: Any) -> list[StageHistory]:
    """The deal's stage changes, oldest first."""
    opp = get_opportunity(session=session, viewer=viewer, opportunity_id=opportunity_id)
    return list(session.scalars(
        select(StageHistory).where(StageHistory.opportunity_id == opp.id)
        .order_by(StageHistory.changed_at, StageHistory.from_stage.is_not(None))))


@dataclass(frozen=True)
class PartnerChoice:
    """A partner as the deal forms and filters offer it."""

    id: uuid.UUID
    name: str
    owner_id: uuid.UUID | None


def partner_choices(*, session: Session, viewer: Viewer) -> list[PartnerChoice]:
    """The partners the viewer sees, by name: only what a picker needs, nothing counted.

    With the partners of the deals the viewer sees (a partnership manager's deal assigned to
    them may belong to another manager's partner), so a filter or a cell can name them.
    """
    deals = select(Opportunity.partner_id).where(scope.opportunities_visible(viewer))
    stmt = (select(Partner.id, Partner.name, Partner.owner_id)
            .where(or_(scope.partners_visible(viewer), Partner.id.in_(deals)))
            .order_by(func.lower(Partner.name)))
    return [PartnerChoice(id=r[0], name=r[1], owner_id=r[2]) for r in session.execute(stmt)]


@dataclass(frozen=True)
class OpportunityFilters:
    """What the pipeline grid narrows by; empty means no narrowing.

    The close-date range applies to the deal's close date: the actual one for closed deals,
    the expected one for open deals. `text` searches customer name, notes and partner name.

    The rest express the figures of the analytics pages, so that a click on a figure lists
    exactly the deals behind it (spec/KPIS.md's definitions):
    - `closed_from`/`closed_to` narrow *closed* deals by actual close date and keep open
      ones, so "open, or won in Q3" (a person's row: pipeline and won) is one filter;
    - `expected_from`/`expected_to` narrow by expected close date (`no_expected_date`: none);
    - `created_from`/`created_to`: created on those local days (the funnel's cohort);
    - `reached`: reached that funnel stage (isv.rules.deals.reached);
    - `lost_reason`: that reason, ignoring case and surrounding spaces; `no_lost_reason`:
      lost without one;
    - `unassigned`: assigned to nobody (or to one of `owner_ids`, when both are given);
    - `opportunity_ids`: exactly these deals;
    - `entry_recorded`: the deal's last stage-history row moved it into its current stage and
      was recorded, not reconstructed on import (time in stage can age that stay);
    - `left_stage` with `left_from`/`left_to`: the deal left that stage on those local days,
      after a recorded move into it (time in stage's "moved on" stays).
    """

    partner_ids: tuple[uuid.UUID, ...] = ()
    domains: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    owner_ids: tuple[uuid.UUID, ...] = ()  # assigned_user_id
    close_from: date | None = None
    close_to: date | None = None
    text: str | None = None
    closed_from: date | None = None
    closed_to: date | None = None
    expected_from: date | None = None
    expected_to: date | None = None
    no_expected_date: bool = False
    created_from: date | None = None
    created_to: date | None = None
    reached: str | None = None
    lost_reason: str | None = None
    no_lost_reason: bool = False
    unassigned: bool = False
    opportunity_ids: tuple[uuid.UUID, ...] = ()
    entry_recorded: bool = False
    left_stage: str | None = None
    left_from: date | None = None
    left_to: date | None = None


@dataclass(frozen=True)
class OpportunityRow:
    """One grid row: plain data, safe to cache and to hand to pandas."""

    id: uuid.UUID
    external_id: str | None
    partner_id: uuid.UUID
    partner_name: str
    domain: str
    customer_name: str
    customer_contact_email: str | None
    deal_value: Decimal
    stage: str
    probability: Decimal
    expected_close_date: date | None
    actual_close_date: date | None
    assigned_user_id: uuid.UUID | None
    assigned_user_name: str | None
    assigned_user_email: str | None
    commission_structure_id: uuid.UUID | None
    lost_reason: str | None
    notes: str | None
    version: int
    created_at: datetime
    updated_at: datetime


_Assignee = aliased(User, name="assignee")
_STAGE_ORDER = case({s: i for i, s in enumerate(STAGES)}, value=Opportunity.stage)
SORT_KEYS: dict[str, Any] = {
    "customer_name": func.lower(Opportunity.customer_name),
    "partner_name": func.lower(Partner.name),
    "domain": Partner.domain,
    "deal_value": Opportunity.deal_value,
    "stage": _STAGE_ORDER,
    "probability": Opportunity.probability,
    "expected_close_date": Opportunity.expected_close_date,
    "actual_close_date": Opportunity.actual_close_date,
    "owner": func.lower(_Assignee.last_name),
    "created_at": Opportunity.created_at,
    "updated_at": Opportunity.updated_at,
}


# Sort keys that are never NULL: ordered without NULLS LAST, so that PostgreSQL can read them
# from an index (idx_opportunities_updated_at, idx_opportunities_stage_value) instead of
# sorting every matching row; "NULLS LAST" would not match the index's order, and for these
# columns it changes nothing.
_NEVER_NULL = frozenset({"customer_name", "partner_name", "domain", "deal_value", "stage",
                         "probability", "created_at", "updated_at"})


def _order(sort: str) -> Any:
    """The ORDER BY term for a sort key of SORT_KEYS, "-" first for descending."""
    key = sort.lstrip("-")
    if key not in SORT_KEYS:
        raise ValidationError("sort", f"{key!r} is not one of {', '.join(SORT_KEYS)}")
    order = SORT_KEYS[key].desc() if sort.startswith("-") else SORT_KEYS[key].asc()
    return order if key in _NEVER_NULL else order.nulls_last()


def _needs_partner(f: OpportunityFilters) -> bool:
    """Whether the filters read the partner's columns (domain, name in the text search).

    Every deal has exactly one partner (a required foreign key), so without such a filter
    counting and ranking skip the join, and PostgreSQL can count from an index alone.
    """
    return bool(f.domains) or validate.search("search", f.text) is not None


def _conditions(viewer: Viewer, f: OpportunityFilters) -> list[Any]:
    where: list[Any] = [scope.opportunities_visible(viewer)]
    if f.partner_ids:
        where.append(Opportunity.partner_id.in_(
            [parse_id("partner_id", p) for p in f.partner_ids]))
    if f.domains:
        for d in f.domains:
            validate.choice("domain", d, DOMAINS)
        where.append(Partner.domain.in_(f.domains))
    if f.stages:
        for s in f.stages:
            validate.choice("stage", s, STAGES)
        where.append(Opportunity.stage.in_(f.stages))
    owners = [Opportunity.assigned_user_id.in_([parse_id("owner_id", o) for o in f.owner_ids])
              ] if f.owner_ids else []
    if f.unassigned:
        owners.append(Opportunity.assigned_user_id.is_(None))
    if owners:
        where.append(or_(*owners))
    where += _figure_conditions(f)
    close_day = func.coalesce(Opportunity.actual_close_date, Opportunity.expected_close_date)
    if f.close_from is not None:
        where.append(close_day >= validate.day("close_from", f.close_from))
    if f.close_to is not None:
        where.append(close_day <= validate.day("close_to", f.close_to))
    if f.close_from is not None and f.close_to is not None and f.close_to < f.close_from:
        raise ValidationError("close_to", "is before close_from")
    if (text := validate.search("search", f.text)) is not None:
        pattern = validate.like_pattern(text)
        where.append(or_(
            func.lower(Opportunity.customer_name).like(pattern, escape="\\"),
            func.lower(func.coalesce(Opportunity.notes, "")).like(pattern, escape="\\"),
            func.lower(Partner.name).like(pattern, escape="\\"),
        ))
    return where


def _range(field: str, low: date | None, high: date | None) -> tuple[date | None, date | None]:
    low = None if low is None else validate.day(f"{field}_from", low)
    high = None if high is None else validate.day(f"{field}_to", high)
    if low is not None and high is not None and high < low:
        raise ValidationError(f"{field}_to", f"is before {field}_from")
    return low, high


def _figure_conditions(f: OpportunityFilters) -> list[Any]:
    """The conditions of the filters that express analytics figures (see OpportunityFilters)."""
    where: list[Any] = []
    low, high = _range("closed", f.closed_from, f.closed_to)
    if low is not None or high is not None:
        day = Opportunity.actual_close_date
        within = and_(*(c for c in (None if low is None else day >= low,
                                    None if high is None else day <= high) if c is not None))
        where.append(or_(Opportunity.stage.not_in(CLOSED_STAGES), within))
    low, high = _range("expected", f.expected_from, f.expected_to)
    if low is not None:
        where.append(Opportunity.expected_close_date >= low)
    if high is not None:
        where.append(Opportunity.expected_close_date <= high)
    if f.no_expected_date:
        where.append(Opportunity.expected_close_date.is_(None))
    low, high = _range("created", f.created_from, f.created_to)
    if low is not None or high is not None:
        where.append(created_between(low or validate.MIN_DATE, high or validate.MAX_DATE,
                                     local_zone()))
    if f.reached is not None:
        where.append(reached(validate.choice("reached", f.reached, FUNNEL_STAGES)))
    if f.lost_reason is not None or f.no_lost_reason:
        reason = func.nullif(func.trim(Opportunity.lost_reason), "")
        where.append(Opportunity.stage == "closed_lost")
        if f.no_lost_reason:
            where.append(reason.is_(None))
        if f.lost_reason is not None:
            # Folded in SQL on both sides, as lost_reasons() groups them.
            wanted = validate.text("lost_reason", f.lost_reason, max_len=500, multiline=True)
            where.append(func.lower(reason) == func.lower(literal(wanted or "")))
    if f.opportunity_ids:
        where.append(Opportunity.id.in_(
            [parse_id("opportunity_id", i) for i in f.opportunity_ids]))
    if f.entry_recorded:
        where.append(_entry_recorded())
    low, high = _range("left", f.left_from, f.left_to)
    if f.left_stage is not None:
        where.append(_left(validate.choice("left_stage", f.left_stage, OPEN_STAGES), low, high))
    elif low is not None or high is not None:
        raise ValidationError("left_stage", "is needed with a left_from/left_to range")
    return where


def _after(a: Any, b: Any) -> Any:
    """History row `a` comes after row `b` of the same deal (by time, then id)."""
    return or_(a.changed_at > b.changed_at, and_(a.changed_at == b.changed_at, a.id > b.id))


def _left(stage: str, low: date | None, high: date | None) -> Any:
    """A recorded move into `stage` whose next history row (the move out) falls on the local
    days [low, high]: the stays time in stage counts as "moved on" in a period."""
    into, out, between = (aliased(StageHistory) for _ in range(3))
    start, end = day_bounds(low or validate.MIN_DATE, high or validate.MAX_DATE, local_zone())
    next_row = select(out.id).where(
        out.opportunity_id == into.opportunity_id, _after(out, into),
        out.changed_at >= start, out.changed_at < end,
        ~select(between.id).where(between.opportunity_id == into.opportunity_id,
                                  _after(between, into), _after(out, between))
          .correlate(into, out).exists())
    return select(into.id).where(
        into.opportunity_id == Opportunity.id, into.to_stage == stage,
        into.synthesized.is_(False), next_row.exists()).exists()


def _entry_recorded() -> Any:
    """The deal's last history row (by time, then id, as time in stage orders them) moved it
    into its current stage and is not a reconstruction."""
    last, later = aliased(StageHistory), aliased(StageHistory)
    newer = select(later.id).where(
        later.opportunity_id == last.opportunity_id,
        or_(later.changed_at > last.changed_at,
            and_(later.changed_at == last.changed_at, later.id > last.id)))
    return select(last.id).where(
        last.opportunity_id == Opportunity.id, last.to_stage == Opportunity.stage,
        last.synthesized.is_(False), ~newer.exists()).exists()


def list_opportunities(*, session: Session, viewer: Viewer,
                       filters: OpportunityFilters | None = None, offset: int = 0,
                       limit: int = 50, sort: str = "-updated_at"
                       ) -> tuple[list[OpportunityRow], int]:
    """One page of the deals the viewer may see, and how many match in all.

    Filtering, sorting and paging all happen in SQL: only `limit` rows are ever loaded.
    `sort` is a key of SORT_KEYS, prefixed with "-" for descending.
    """
    f = filters or OpportunityFilters()
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValidationError("offset", "must be a whole number ≥ 0")
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise ValidationError("limit", f"must be a whole number from 1 to {MAX_PAGE}")
    order = _order(sort)

    where = _conditions(viewer, f)
    counted = select(func.count()).select_from(Opportunity)
    if _needs_partner(f):
        counted = counted.join(Partner, Partner.id == Opportunity.partner_id)
    total = session.scalar(counted.where(*where))
    stmt = (
        select(Opportunity.id, Opportunity.external_id, Opportunity.partner_id, Partner.name,
               Partner.domain, Opportunity.customer_name, Opportunity.customer_contact_email,
               Opportunity.deal_value, Opportunity.stage, Opportunity.probability,
               Opportunity.expected_close_date, Opportunity.actual_close_date,
               Opportunity.assigned_user_id, _Assignee.first_name, _Assignee.last_name,
               _Assignee.email, Opportunity.commission_structure_id, Opportunity.lost_reason,
               Opportunity.notes, Opportunity.version, Opportunity.created_at,
               Opportunity.updated_at)
        .join(Partner, Partner.id == Opportunity.partner_id)
        .outerjoin(_Assignee, _Assignee.id == Opportunity.assigned_user_id)
        .where(*where)
        # NULLs last both ways, on both databases; the id makes pages stable.
        .order_by(order, Opportunity.id)
        .offset(offset).limit(limit)
    )
    rows = [
        OpportunityRow(
            id=r[0], external_id=r[1], partner_id=r[2], partner_name=r[3], domain=r[4],
            customer_name=r[5], customer_contact_email=r[6], deal_value=r[7], stage=r[8],
            probability=r[9], expected_close_date=r[10], actual_close_date=r[11],
            assigned_user_id=r[12],
            assigned_user_name=f"{r[13]} {r[14]}" if r[13] is not None else None,
            assigned_user_email=r[15], commission_structure_id=r[16], lost_reason=r[17],
            notes=r[18], version=r[19], created_at=r[20], updated_at=r[21])
        for r in session.execute(stmt)
    ]
    return rows, int(total or 0)


@dataclass(frozen=True)
class StageTotal:
    """One pipeline-board column header: how many deals, their value and weighted value."""

    stage: str
    count: int
    value: Decimal
    weighted: Decimal


def stage_totals(*, session: Session, viewer: Viewer,
                 filters: OpportunityFilters | None = None,
                 stages: tuple[str, ...] = STAGES) -> dict[str, StageTotal]:
    """Count, Σ value and Σ weighted value per stage over every deal matching the filters.

    Aggregated in SQL over the whole filtered set (never just the rows on screen). The
    weighted value is summed per (stage, probability) in SQL and multiplied out in Python
    Decimal, so it is exact on both databases. Each of `stages` (by default every stage) is
    present, with zeros when empty; the others are not read at all.
    """
    for stage in stages:
        validate.choice("stage", stage, STAGES)
    f = filters or OpportunityFilters()
    stmt = select(Opportunity.stage, Opportunity.probability, func.count(),
                  func.sum(Opportunity.deal_value)).select_from(Opportunity)
    if _needs_partner(f):
        stmt = stmt.join(Partner, Partner.id == Opportunity.partner_id)
    where = _conditions(viewer, f)
    if set(stages) != set(STAGES):
        where.append(Opportunity.stage.in_(stages))
    stmt = stmt.where(*where).group_by(Opportunity.stage, Opportunity.probability)
    counts = dict.fromkeys(stages, 0)
    values = {stage: Decimal("0.00") for stage in stages}
    weighted = {stage: Decimal("0.00") for stage in stages}
    for stage, probability, count, total in session.execute(stmt):
        # SUM keeps the Money type, so on SQLite the cents come back as an exact Decimal.
        total = Decimal(total or 0)
        counts[stage] += int(count)
        values[stage] += total
        weighted[stage] += total * (probability or Decimal(0)) / 100
    return {stage: StageTotal(stage=stage, count=counts[stage], value=values[stage],
                              weighted=weighted[stage])
            for stage in stages}


def stage_entered_at(*, session: Session, viewer: Viewer,
                     opportunity_ids: list[Any]) -> dict[uuid.UUID, datetime]:
    """When each of these deals entered its current stage (its latest history row into it).

    One query for a whole board of cards; deals the viewer may not see are left out, and a
    deal without a matching history row falls back to its creation time.
    """
    ids = [parse_id("opportunity_id", i) for i in opportunity_ids]
    if not ids:
        return {}
    entered = func.max(StageHistory.changed_at)
    stmt = (
        select(Opportunity.id, Opportunity.created_at, entered)
        .select_from(Opportunity)
        .outerjoin(StageHistory, (StageHistory.opportunity_id == Opportunity.id)
                   & (StageHistory.to_stage == Opportunity.stage))
        .where(Opportunity.id.in_(ids), scope.opportunities_visible(viewer))
        .group_by(Opportunity.id, Opportunity.created_at)
    )
    return {opp_id: last or created_at
            for opp_id, created_at, last in session.execute(stmt)}


def top_by_stage(*, session: Session, viewer: Viewer,
                 filters: OpportunityFilters | None = None,
                 stages: tuple[str, ...] = STAGES, per_stage: int = 20,
                 sort: str = "-deal_value") -> dict[str, list[OpportunityRow]]:
    """The first `per_stage` deals of each stage among those matching the filters.

    One ranked SELECT per stage, joined by UNION ALL: each reads its stage's first rows in
    sort order (from idx_opportunities_stage_value for the board's "-deal_value") and stops,
    so the cost does not grow with the number of deals; only the winners are loaded. `sort`
    works as in list_opportunities.
    """
    if isinstance(per_stage, bool) or not isinstance(per_stage, int) or \
            not 1 <= per_stage <= MAX_PAGE:
        raise ValidationError("per_stage", f"must be a whole number from 1 to {MAX_PAGE}")
    for stage in stages:
        validate.choice("stage", stage, STAGES)
    order = _order(sort)
    f = filters or OpportunityFilters()
    where = _conditions(viewer, f)
    out: dict[str, list[OpportunityRow]] = {stage: [] for stage in stages}
    if not stages:
        return out
    ranked = []
    for stage in stages:
        first = select(Opportunity.id).where(*where, Opportunity.stage == stage)
        if _needs_partner(f) or sort.lstrip("-") in ("partner_name", "domain"):
            first = first.join(Partner, Partner.id == Opportunity.partner_id)
        if sort.lstrip("-") == "owner":
            first = first.outerjoin(_Assignee, _Assignee.id == Opportunity.assigned_user_id)
        # A subquery each: SQLite takes ORDER BY and LIMIT only there inside a UNION.
        first = first.order_by(order, Opportunity.id).limit(per_stage).subquery()
        ranked.append(select(first.c.id))
    winners = union_all(*ranked) if len(ranked) > 1 else ranked[0]
    stmt = (select(Opportunity, Partner.name, Partner.domain, _Assignee.first_name,
                   _Assignee.last_name, _Assignee.email)
            .join(Partner, Partner.id == Opportunity.partner_id)
            .outerjoin(_Assignee, _Assignee.id == Opportunity.assigned_user_id)
            .where(Opportunity.id.in_(winners))
            .order_by(order, Opportunity.id))
    own = {f.name for f in dataclass_fields(OpportunityRow)} - {
        "partner_name", "domain", "assigned_user_name", "assigned_user_email"}
    for opp, partner_name, domain, first_name, last_name, email in session.execute(stmt):
        out[opp.stage].append(OpportunityRow(
            **{name: getattr(opp, name) for name in own}, partner_name=partner_name,
            domain=domain,
            assigned_user_name=f"{first_name} {last_name}" if first_name is not None else None,
            assigned_user_email=email))
    return out
