"""One deal as its page shows it: fields, stage history, audit trail, applicable commission.

Plain values read in one transaction; the page only lays them out (isv/ui/deal.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from isv.auth import Viewer
from isv.errors import IsvError
from isv.services import audit, commissions, users
from isv.services import opportunities as opps
from isv.services import partners as partner_service


@dataclass(frozen=True)
class StructureInfo:
    """A commission structure as plain values (what pages show and forms start from)."""

    id: uuid.UUID
    structure_type: str
    percentage: Decimal
    is_lifetime: bool
    min_deal_size: Decimal
    max_deal_size: Decimal | None
    effective_from: date
    effective_to: date | None
    version: int = 1
    tier: str | None = None  # the only tier it pays, or None for every partner

    @classmethod
    def of(cls, row: Any) -> StructureInfo:
        return cls(id=row.id, structure_type=row.structure_type,
                   percentage=row.commission_percentage, is_lifetime=bool(row.is_lifetime),
                   min_deal_size=row.min_deal_size, max_deal_size=row.max_deal_size,
                   effective_from=row.effective_from, effective_to=row.effective_to,
                   version=row.version, tier=row.tier)


@dataclass(frozen=True)
class StageStep:
    """One row of a deal's stage history, newest first."""

    changed_at: datetime
    who: str                        # a person's name, or "system"
    from_stage: str | None          # None: the deal was created
    to_stage: str
    notes: str | None
    synthesized: bool               # reconstructed on import


@dataclass(frozen=True)
class AuditChange:
    """One audit entry of the deal, newest first, with the values it changed."""

    at: datetime
    who: str                        # a person's name, the actor's email, or "system"
    action: str
    old: dict[str, Any]
    new: dict[str, Any]


@dataclass(frozen=True)
class DealView:
    """Everything the page shows about one deal, as plain values read in one transaction."""

    id: uuid.UUID
    version: int
    fields: dict[str, Any]          # EDITABLE_FIELDS -> current value
    partner_name: str
    created_at: datetime
    updated_at: datetime
    updated_by: str | None
    can_write: bool
    history: list[StageStep]
    changes: list[AuditChange]
    people: dict[str, str]          # user id (text) -> name, for the ids in `changes`
    partners: dict[str, str]        # partner id (text) -> name, for the ids in `changes`
    structures: list[StructureInfo]
    applicable: StructureInfo | None
    first_year: Decimal


def deal_view(*, session: Session, viewer: Viewer, opportunity_id: Any) -> DealView:
    """Read one deal with its stage history, audit trail and applicable commission."""
    opp = opps.get_opportunity(session=session, viewer=viewer, opportunity_id=opportunity_id)
    names = {u.id: u.full_name for u in users.list_users(session=session, viewer=viewer)}
    history = [
        StageStep(changed_at=h.changed_at,
                  who=names.get(h.changed_by, "system") if h.changed_by else "system",
                  from_stage=h.from_stage, to_stage=h.to_stage, notes=h.notes,
                  synthesized=bool(h.synthesized))
        for h in reversed(opps.stage_history(session=session, viewer=viewer,
                                             opportunity_id=opp.id))]
    structures = [StructureInfo.of(s) for s in commissions.list_structures(
        session=session, viewer=viewer, partner_id=opp.partner_id)]
    entries = audit.entries_for(session, entity_type="opportunity", entity_id=opp.id)
    people = {str(k): v for k, v in names.items()}
    partners = _partner_names(session, viewer, entries)
    partners[str(opp.partner_id)] = opp.partner.name
    changes = [AuditChange(at=e.at,
                           who=(people.get(str(e.actor_id)) if e.actor_id else None)
                           or e.actor_email or "system",
                           action=e.action, old=e.old_values or {}, new=e.new_values or {})
               for e in entries]
    applicable = commissions.applicable_for_opportunity(session=session, viewer=viewer,
                                                        opportunity=opp)
    return DealView(
        id=opp.id, version=opp.version,
        fields={f: getattr(opp, f) for f in opps.EDITABLE_FIELDS},
        partner_name=opp.partner.name, created_at=opp.created_at, updated_at=opp.updated_at,
        updated_by=names.get(opp.updated_by_id) if opp.updated_by_id else None,
        can_write=opps.can_write(viewer, opp), history=history, changes=changes,
        people=people, partners=partners, structures=structures,
        applicable=StructureInfo.of(applicable) if applicable is not None else None,
        first_year=commissions.deal_first_year(opp, applicable))


def _partner_names(session: Session, viewer: Viewer, entries: list) -> dict[str, str]:
    """The names of the partners a deal was moved between (rare: usually none)."""
    ids = {str(values["partner_id"]) for e in entries
           for values in (e.old_values or {}, e.new_values or {}) if values.get("partner_id")}
    found = {}
    for partner_id in ids:
        try:
            found[partner_id] = partner_service.get_partner(
                session=session, viewer=viewer, partner_id=partner_id).name
        except IsvError:  # gone, or out of the viewer's scope
            found[partner_id] = "another partner"
    return found
