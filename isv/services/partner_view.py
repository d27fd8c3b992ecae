"""One partner as its page shows it: profile, touches, structures, deals, health.

Plain values read in one transaction; the page only lays them out (isv/ui/partner.py).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from isv.auth import Viewer
from isv.errors import Forbidden, NotFound
from isv.models import OPEN_STAGES
from isv.services import commissions, health, partners, users
from isv.services import opportunities as opps
from isv.services.deal_view import StructureInfo
from isv.services.opportunities import OpportunityFilters, OpportunityRow

DEALS_SHOWN = 50


@dataclass(frozen=True)
class Touch:
    occurred_on: date
    activity_type: str
    by: str                         # the person's name, "" when unknown
    summary: str


@dataclass(frozen=True)
class PartnerView:
    """One partner and what hangs off it, as plain values read in one transaction."""

    id: uuid.UUID
    version: int
    fields: dict[str, Any]          # PARTNER_FIELDS and OVERRIDE_FIELDS -> current value
    owner_name: str | None
    owner_email: str | None
    can_edit: bool
    touches: list[Touch]
    structures: list[StructureInfo]
    notes_of: dict[uuid.UUID, str | None]
    deals: list[OpportunityRow]     # the DEALS_SHOWN most recently changed
    deal_total: int
    open_count: int
    open_value: Decimal | int
    open_weighted: Decimal | int
    counts: dict[str, int]          # deals, structures, touches: what a delete takes along
    health: health.PartnerHealth | None
    trend: list[tuple[date, int]]   # the weekly snapshots' scores, oldest first
    tier: str | None = None         # the program tier


def partner_view(*, session: Session, viewer: Viewer, partner_id: Any) -> PartnerView:
    """Read a partner with its touches, commission structures, deals and health."""
    partner = partners.get_partner(session=session, viewer=viewer, partner_id=partner_id)
    try:
        partners.check_partner_writable(viewer, partner)
        can_edit = True
    except (Forbidden, NotFound):
        can_edit = False
    names = {u.id: u.full_name for u in users.list_users(session=session, viewer=viewer)}
    touch_rows = partners.list_touches(session=session, viewer=viewer, partner_id=partner.id)
    structure_rows = commissions.list_structures(session=session, viewer=viewer,
                                                 partner_id=partner.id)
    filters = OpportunityFilters(partner_ids=(partner.id,))
    rows, total = opps.list_opportunities(session=session, viewer=viewer, filters=filters,
                                          limit=DEALS_SHOWN, sort="-updated_at")
    totals = opps.stage_totals(session=session, viewer=viewer, filters=filters)
    open_totals = [totals[s] for s in OPEN_STAGES]
    return PartnerView(
        id=partner.id, version=partner.version,
        fields={f: getattr(partner, f)
                for f in (*partners.PARTNER_FIELDS, *partners.OVERRIDE_FIELDS)},
        owner_name=partner.owner.full_name if partner.owner else None,
        owner_email=partner.owner.email if partner.owner else None,
        can_edit=can_edit,
        touches=[Touch(occurred_on=t.occurred_on, activity_type=t.activity_type,
                       by=names.get(t.user_id, "") if t.user_id else "",
                       summary=t.summary or "") for t in touch_rows],
        structures=[StructureInfo.of(s) for s in structure_rows],
        notes_of={s.id: s.notes for s in structure_rows},
        deals=list(rows), deal_total=total,
        open_count=sum(t.count for t in open_totals),
        open_value=sum((t.value for t in open_totals), start=0),
        open_weighted=sum((t.weighted for t in open_totals), start=0),
        counts={"deals": sum(t.count for t in totals.values()),
                "structures": len(structure_rows), "touches": len(touch_rows)},
        health=health.partner_score(session=session, viewer=viewer, partner_id=partner.id),
        trend=health.history(session=session, viewer=viewer, partner_id=partner.id),
        tier=partner.tier)
