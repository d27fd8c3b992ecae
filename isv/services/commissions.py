"""Commission structures: what a partner earns on a deal, and the calculator (spec/KPIS.md)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Protocol, TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from isv.auth import WRITE_PARTNERS, Viewer, require
from isv.errors import NotFound, ValidationError
from isv.models import STRUCTURE_TYPES, CommissionStructure, Opportunity, Partner
from isv.services import audit, locking, scope, validate
from isv.services.partners import (
    check_partner_writable,
    clean_tier,
    get_partner,
    partner_for_write,
)
from isv.services.settings import local_today
from isv.services.validate import NOTES_MAX, parse_id

CENT = Decimal("0.01")
STRUCTURE_FIELDS = ("structure_type", "commission_percentage", "is_lifetime", "min_deal_size",
                    "max_deal_size", "effective_from", "effective_to", "notes", "tier")
MAX_YEARS = 50
NO_APPLICABLE_STRUCTURE = "no applicable structure"


# --- the rule and the math: pure, no database --------------------------------------------

class StructureLike(Protocol):
    commission_percentage: Decimal
    min_deal_size: Decimal
    max_deal_size: Decimal | None
    effective_from: date
    effective_to: date | None
    tier: str | None


S = TypeVar("S", bound=StructureLike)


def in_effect(structure: StructureLike, on: date) -> bool:
    """Whether the structure is in force on a day (both ends inclusive)."""
    return structure.effective_from <= on and (
        structure.effective_to is None or on <= structure.effective_to)


def covers(structure: StructureLike, deal_value: Decimal) -> bool:
    """Whether the deal size falls in the structure's band (both ends inclusive)."""
    return structure.min_deal_size <= deal_value and (
        structure.max_deal_size is None or deal_value <= structure.max_deal_size)


def for_tier(structure: StructureLike, partner_tier: str | None) -> bool:
    """Whether the structure may pay a partner of this tier: one naming no tier pays any
    partner, one naming a tier only a partner holding it (names compare in any case)."""
    tier = getattr(structure, "tier", None)
    return tier is None or (partner_tier is not None and tier.lower() == partner_tier.lower())


def applicable_structure(structures: Iterable[S], *, close_date: date, deal_value: Decimal,
                         own: S | None = None, partner_tier: str | None = None) -> S | None:
    """Pick the structure KPIS.md applies to a deal: its own, else latest start, then highest pct.

    `own` is the deal's own commission structure, which wins whatever its dates and band.
    Structures naming a tier apply only when the partner holds it (`partner_tier`), and then
    come before every structure naming none: a Gold schedule replaces the general one for
    Gold partners. Among equal (effective_from, percentage) the first in `structures` wins,
    so callers pass them in a stable order. None means "no applicable structure":
    commission 0.
    """
    if own is not None:
        return own
    best: S | None = None
    best_key = None
    for s in structures:
        if not (in_effect(s, close_date) and covers(s, deal_value)
                and for_tier(s, partner_tier)):
            continue
        key = (getattr(s, "tier", None) is not None, s.effective_from, s.commission_percentage)
        if best is None or key > best_key:
            best, best_key = s, key
    return best


def first_year_commission(deal_value: Decimal, percentage: Decimal) -> Decimal:
    """deal_value × percentage / 100, rounded half-even to cents."""
    return (Decimal(deal_value) * Decimal(percentage) / 100).quantize(
        CENT, rounding=ROUND_HALF_EVEN)


LOST_EARNS_NOTHING = ("Closed lost: a lost deal earns no commission, whatever structure "
                      "would have applied.")


def deal_first_year(opportunity: Opportunity,
                    structure: CommissionStructure | None) -> Decimal:
    """What a deal earns in its first year under its structure; nothing when it was lost or
    no structure applies (the same rule as KPIS.md's commission_earned, which counts won
    deals only)."""
    if opportunity.stage == "closed_lost" or structure is None:
        return Decimal("0.00")
    return first_year_commission(opportunity.deal_value, structure.commission_percentage)


def lifetime_projection(first_year: Decimal, years: int) -> Decimal:
    """What a lifetime structure earns over `years` years: the first year's amount each year."""
    return first_year * years


# --- the calculator ------------------------------------------------------------------------

@dataclass(frozen=True)
class CommissionLine:
    """One structure applied to one deal; `structure` is None when none applies."""

    structure_type: str | None
    structure: CommissionStructure | None
    percentage: Decimal | None
    is_lifetime: bool
    first_year: Decimal
    years: int
    projection: Decimal | None  # N-year total, lifetime structures only
    reason: str | None = None  # why nothing applies


@dataclass(frozen=True)
class CommissionQuote:
    partner_id: uuid.UUID
    deal_value: Decimal
    close_date: date
    years: int
    applicable: CommissionLine  # `structure` None means "no applicable structure"
    comparison: list[CommissionLine]  # the same deal under each type in effect that day

    @property
    def reason(self) -> str | None:
        return self.applicable.reason


def quote_line(structure: CommissionStructure | None, *, deal_value: Decimal, years: int,
               structure_type: str | None = None, reason: str | None = None) -> CommissionLine:
    """Apply one structure (or none) to a deal."""
    if structure is None:
        return CommissionLine(structure_type=structure_type, structure=None, percentage=None,
                              is_lifetime=False, first_year=Decimal("0.00"), years=years,
                              projection=None, reason=reason or NO_APPLICABLE_STRUCTURE)
    first = first_year_commission(deal_value, structure.commission_percentage)
    return CommissionLine(
        structure_type=structure.structure_type, structure=structure,
        percentage=structure.commission_percentage, is_lifetime=bool(structure.is_lifetime),
        first_year=first, years=years,
        projection=lifetime_projection(first, years) if structure.is_lifetime else None)


def calculate(*, session: Session, viewer: Viewer, partner_id: Any, deal_value: Any,
              close_date: Any, years: int = 3) -> CommissionQuote:
    """Work out what a partner earns on a deal, and what each of its structure types would pay."""
    partner = get_partner(session=session, viewer=viewer, partner_id=partner_id)
    value = validate.money("deal_value", deal_value, required=True)
    day = validate.day("close_date", close_date, required=True)
    if isinstance(years, bool) or not isinstance(years, int) or not 1 <= years <= MAX_YEARS:
        raise ValidationError("years", f"must be a whole number from 1 to {MAX_YEARS}")
    structures = _structures_of(session, partner.id)
    chosen = applicable_structure(structures, close_date=day, deal_value=value,
                                  partner_tier=partner.tier)
    applicable = quote_line(chosen, deal_value=value, years=years)
    comparison = []
    for kind in STRUCTURE_TYPES:
        of_kind = [s for s in structures
                   if s.structure_type == kind and for_tier(s, partner.tier)]
        if not any(in_effect(s, day) for s in of_kind):
            continue
        best = applicable_structure(of_kind, close_date=day, deal_value=value,
                                    partner_tier=partner.tier)
        comparison.append(quote_line(
            best, deal_value=value, years=years, structure_type=kind,
            reason=None if best else f"deal size {value} is outside every {kind} band"))
    return CommissionQuote(partner_id=partner.id, deal_value=value, close_date=day,
                           years=years, applicable=applicable, comparison=comparison)


def applicable_for_opportunity(*, session: Session, viewer: Viewer,
                               opportunity: Opportunity) -> CommissionStructure | None:
    """Return the structure that pays on a deal: its own when set, else the KPIS.md rule.

    The day is the actual close date, else the expected one, else today.
    """
    visible = session.scalar(select(Opportunity.id).where(
        Opportunity.id == opportunity.id, scope.opportunities_visible(viewer)))
    if visible is None:
        raise NotFound("No such opportunity.")
    if opportunity.commission_structure_id is not None:
        own = session.get(CommissionStructure, opportunity.commission_structure_id)
        if own is not None:
            return own
    day = opportunity.actual_close_date or opportunity.expected_close_date or local_today()
    partner = session.get(Partner, opportunity.partner_id)
    return applicable_structure(_structures_of(session, opportunity.partner_id),
                                close_date=day, deal_value=opportunity.deal_value,
                                partner_tier=partner.tier if partner else None)


# The order applicable_structure expects, so that ties resolve the same way everywhere.
_STRUCTURE_ORDER = (CommissionStructure.effective_from.desc(), CommissionStructure.structure_type,
                    CommissionStructure.min_deal_size, CommissionStructure.created_at)


def _structures_of(session: Session, partner_id: uuid.UUID) -> list[CommissionStructure]:
    return list(session.scalars(
        select(CommissionStructure).where(CommissionStructure.partner_id == partner_id)
        .order_by(*_STRUCTURE_ORDER)))


def structures_by_partner(session: Session,
                          partner_ids: Any) -> dict[uuid.UUID, list[CommissionStructure]]:
    """The structures of many partners in one statement (`partner_ids`: ids or a subquery)."""
    structures: dict[uuid.UUID, list[CommissionStructure]] = {}
    for structure in session.scalars(select(CommissionStructure)
                                     .where(CommissionStructure.partner_id.in_(partner_ids))
                                     .order_by(*_STRUCTURE_ORDER)):
        structures.setdefault(structure.partner_id, []).append(structure)
    return structures


# --- structures: reads and writes ----------------------------------------------------------

def list_structures(*, session: Session, viewer: Viewer,
                    partner_id: Any) -> list[CommissionStructure]:
    """The partner's structures, newest first."""
    partner = get_partner(session=session, viewer=viewer, partner_id=partner_id)
    return _structures_of(session, partner.id)


def get_structure(*, session: Session, viewer: Viewer, structure_id: Any) -> CommissionStructure:
    """Return one structure of a partner the viewer may see; NotFound otherwise."""
    row = session.scalar(
        select(CommissionStructure).join(Partner, Partner.id == CommissionStructure.partner_id)
        .where(CommissionStructure.id == parse_id("structure_id", structure_id),
               scope.partners_visible(viewer)))
    if row is None:
        raise NotFound("No such commission structure.")
    return row


def _structure_for_write(session: Session, viewer: Viewer,
                         structure_id: Any) -> CommissionStructure:
    require(viewer, WRITE_PARTNERS, "change commission structures")
    row = session.get(CommissionStructure, parse_id("structure_id", structure_id))
    if row is None:
        raise NotFound("No such commission structure.")
    check_partner_writable(viewer, session.get(Partner, row.partner_id),
                           missing="No such commission structure.")
    return row


def flag(field: str, value: Any) -> bool:
    """Read a yes/no value: a bool, or true/false, yes/no, 1/0 (empty is false)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if value is not None else ""
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0", ""):
        return False
    raise ValidationError(field, f"{value!r} is not true or false")


def clean_field(field: str, value: Any) -> Any:
    """Check one of STRUCTURE_FIELDS: the rule the forms and the importer share."""
    if field == "structure_type":
        return validate.choice("structure_type", value, STRUCTURE_TYPES)
    if field == "commission_percentage":
        return validate.percent("commission_percentage", value, required=True)
    if field == "is_lifetime":
        return flag("is_lifetime", value)
    if field == "min_deal_size":
        amount = validate.money("min_deal_size", value)
        return Decimal("0.00") if amount is None else amount
    if field == "max_deal_size":
        return validate.money("max_deal_size", value)
    if field == "effective_from":
        return validate.day("effective_from", value, required=True)
    if field == "effective_to":
        return validate.day("effective_to", value)
    if field == "notes":
        return validate.text("notes", value, max_len=NOTES_MAX, multiline=True)
    if field == "tier":
        return clean_tier("tier", value)
    raise ValidationError(field, "is not a commission structure field that can be changed")


def check_terms(values: dict[str, Any]) -> None:
    """Rules across cleaned fields: the deal-size band and the date range run the right way."""
    low, high = values["min_deal_size"], values["max_deal_size"]
    if high is not None and high < low:
        raise ValidationError("max_deal_size", f"{high} is below min_deal_size {low}")
    start, end = values["effective_from"], values["effective_to"]
    if end is not None and end < start:
        raise ValidationError("effective_to", f"{end} is before effective_from {start}")


def _check_whole(session: Session, partner: Partner, values: dict[str, Any], *,
                 except_id: uuid.UUID | None) -> None:
    """Rules across fields: the deal-size band, the date range, the natural key."""
    check_terms(values)
    low, start = values["min_deal_size"], values["effective_from"]
    stmt = select(CommissionStructure.id).where(
        CommissionStructure.partner_id == partner.id,
        CommissionStructure.structure_type == values["structure_type"],
        CommissionStructure.effective_from == start,
        CommissionStructure.min_deal_size == low)
    if except_id is not None:
        stmt = stmt.where(CommissionStructure.id != except_id)
    if session.scalar(stmt.limit(1)) is not None:
        raise ValidationError(
            "effective_from",
            f"{partner.name} already has a {values['structure_type']} structure starting "
            f"{start} with minimum deal size {low}; change that one instead")


def create_structure(*, session: Session, viewer: Viewer, partner_id: Any, structure_type: str,
                     commission_percentage: Any, effective_from: Any,
                     is_lifetime: Any = False, min_deal_size: Any = Decimal(0),
                     max_deal_size: Any = None, effective_to: Any = None,
                     notes: str | None = None, tier: str | None = None) -> CommissionStructure:
    """Add a commission structure to a partner (for one tier of it, or any)."""
    partner = partner_for_write(session=session, viewer=viewer, partner_id=partner_id)
    raw = {"structure_type": structure_type, "commission_percentage": commission_percentage,
           "is_lifetime": is_lifetime, "min_deal_size": min_deal_size,
           "max_deal_size": max_deal_size, "effective_from": effective_from,
           "effective_to": effective_to, "notes": notes, "tier": tier}
    values = {field: clean_field(field, value) for field, value in raw.items()}
    _check_whole(session, partner, values, except_id=None)
    row = CommissionStructure(partner_id=partner.id, **values)
    session.add(row)
    session.flush()
    audit.record(session, actor=viewer, action="create", entity_type="commission_structure",
                 entity_id=row.id, new={"partner_id": partner.id, **values})
    return row


def update_structure(*, session: Session, viewer: Viewer, structure_id: Any,
                     expected_version: int | None = None, **fields: Any) -> CommissionStructure:
    """Change a structure's fields (any of STRUCTURE_FIELDS); its partner stays the same.

    With `expected_version` a save based on a structure changed since is refused.
    """
    row = _structure_for_write(session, viewer, structure_id)
    locking.check_version(session, row=row, expected_version=expected_version,
                          entity_type="commission_structure")
    values = {field: clean_field(field, value) for field, value in fields.items()}
    whole = {f: values.get(f, getattr(row, f)) for f in STRUCTURE_FIELDS}
    _check_whole(session, session.get(Partner, row.partner_id), whole, except_id=row.id)
    old, new = audit.changes(row, values)
    if new:
        for field, value in new.items():
            setattr(row, field, value)
        locking.flush(session, entity_type="commission_structure", entity_id=row.id)
        audit.record(session, actor=viewer, action="update", entity_type="commission_structure",
                     entity_id=row.id, old=old, new=new)
    return row


def end_structure(*, session: Session, viewer: Viewer, structure_id: Any,
                  effective_to: Any, expected_version: int | None = None
                  ) -> CommissionStructure:
    """End a structure on a day (inclusive): deals closing after it no longer earn under it."""
    if validate.day("effective_to", effective_to) is None:
        raise ValidationError("effective_to", "is required")
    return update_structure(session=session, viewer=viewer, structure_id=structure_id,
                            expected_version=expected_version, effective_to=effective_to)


def delete_structure(*, session: Session, viewer: Viewer, structure_id: Any) -> None:
    """Delete a structure; deals pinned to it fall back to the rule."""
    row = _structure_for_write(session, viewer, structure_id)
    old = {"partner_id": row.partner_id, **{f: getattr(row, f) for f in STRUCTURE_FIELDS}}
    # Done here, not left to ON DELETE SET NULL, so loaded deals see it too.
    session.execute(update(Opportunity).where(Opportunity.commission_structure_id == row.id)
                    .values(commission_structure_id=None)
                    .execution_options(synchronize_session="fetch"))
    audit.record(session, actor=viewer, action="delete", entity_type="commission_structure",
                 entity_id=row.id, old=old)
    session.delete(row)
    session.flush()
