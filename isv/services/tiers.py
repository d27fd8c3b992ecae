"""Tier reviews: a vp or sales manager accepts or rejects a suggested change of tier.

The suggestion and its figures come from the KPI engine (isv/analytics/tiers.py); this module
keeps the decision. One decision per partner and review quarter (tier_reviews is unique on
them): a second one, or one made on a suggestion whose partner has moved since, is refused.
An accepted move sets the partner's tier; both the decision and the tier change are audited,
after the values are applied, in the caller's transaction.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from isv.auth import DECIDE_TIERS, Viewer, require
from isv.errors import Conflict
from isv.models import Partner, TierReview, User
from isv.rules import tiers as rules
from isv.services import audit, locking, scope, validate
from isv.services.partners import get_partner
from isv.services.validate import NOTES_MAX, parse_id

ACCEPTED, REJECTED = "accepted", "rejected"


def may_decide(viewer: Viewer) -> bool:
    """Whether the viewer accepts and rejects tier suggestions (vp, sales manager)."""
    return viewer.can(DECIDE_TIERS)


def tier_text(name: str | None) -> str:
    """A tier as it reads in a sentence or a cell: its name, or 'no tier'."""
    return name if name else "no tier"


@dataclass(frozen=True)
class Decided:
    """A decided review, as the tier review section lists it."""

    partner_id: uuid.UUID
    partner: str
    quarter: str
    from_tier: str | None
    to_tier: str | None
    decision: str
    note: str
    decided_by: str | None
    decided_at: datetime
    won_revenue: Decimal
    won_deals: int
    open_pipeline: Decimal


def decided_partners(*, session: Session, viewer: Viewer, quarter: str) -> set[uuid.UUID]:
    """The visible partners whose review of `quarter` is decided already."""
    return set(session.scalars(
        select(TierReview.partner_id).join(Partner, Partner.id == TierReview.partner_id)
        .where(TierReview.quarter == quarter, scope.partners_visible(viewer))))


def list_decisions(*, session: Session, viewer: Viewer, quarter: str) -> list[Decided]:
    """The decisions of a review quarter on partners the viewer may see, newest first."""
    rows = session.execute(
        select(TierReview, Partner.name, User.email)
        .join(Partner, Partner.id == TierReview.partner_id)
        .outerjoin(User, User.id == TierReview.decided_by)
        .where(TierReview.quarter == quarter, scope.partners_visible(viewer))
        .order_by(TierReview.decided_at.desc(), Partner.name))
    return [Decided(partner_id=r.partner_id, partner=name, quarter=r.quarter,
                    from_tier=r.from_tier, to_tier=r.to_tier, decision=r.decision, note=r.note,
                    decided_by=email, decided_at=r.decided_at, won_revenue=r.won_revenue,
                    won_deals=r.won_deals, open_pipeline=r.open_pipeline)
            for r, name, email in rows]


def record_decision(*, session: Session, viewer: Viewer, partner_id: Any, quarter: str,
                    move: rules.Move, figures: rules.Figures, accept: bool,
                    note: Any) -> TierReview:
    """Accept (the partner takes the suggested tier) or reject a suggestion, with a note."""
    require(viewer, DECIDE_TIERS, "decide tier reviews")
    partner = get_partner(session=session, viewer=viewer,
                          partner_id=parse_id("partner_id", partner_id))
    text = validate.text("note", note, max_len=NOTES_MAX, multiline=True, required=True)
    done = session.scalar(select(TierReview).where(TierReview.partner_id == partner.id,
                                                   TierReview.quarter == quarter))
    if done is not None:
        raise Conflict(f"{partner.name}'s {quarter} tier review was already {done.decision}.")
    if (partner.tier or None) != move.from_tier:
        raise Conflict(f"{partner.name} is now {tier_text(partner.tier)}, not "
                       f"{tier_text(move.from_tier)} as the suggestion says; reload the page.")
    decision = ACCEPTED if accept else REJECTED
    if accept:
        partner.tier = move.to_tier
        locking.flush(session, entity_type="partner", entity_id=partner.id)
        audit.record(session, actor=viewer, action="update", entity_type="partner",
                     entity_id=partner.id, old={"tier": move.from_tier},
                     new={"tier": move.to_tier})
    review = TierReview(partner_id=partner.id, quarter=quarter, from_tier=move.from_tier,
                        to_tier=move.to_tier, won_revenue=figures.won_revenue,
                        won_deals=figures.won_deals, open_pipeline=figures.open_pipeline,
                        decision=decision, note=text, decided_by=viewer.id)
    session.add(review)
    session.flush()
    audit.record(session, actor=viewer, action=f"tier_{decision[:-2]}", entity_type="partner",
                 entity_id=partner.id,
                 new={"quarter": quarter, "decision": decision, "from_tier": move.from_tier,
                      "to_tier": move.to_tier, "direction": move.direction,
                      "won_revenue": figures.won_revenue, "won_deals": figures.won_deals,
                      "open_pipeline": figures.open_pipeline, "note": text})
    return review
