"""Partners: the ISVs in the program, their owners, health and touches."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from isv.auth import Viewer
from isv.models import OPEN_STAGES, Opportunity, Partner, PartnerActivity, User
from isv.services import scope


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


def list_directory(*, session: Session, viewer: Viewer, search: str | None = None,
                   domain: str | None = None, health: str | None = None) -> list[DirectoryRow]:
    """The partner directory the viewer may see, with owner, last touch and open deals.

    One query whatever the number of partners: touches and deals are aggregated in SQL.
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
               func.coalesce(open_deals.c.n, 0))
        .outerjoin(User, User.id == Partner.owner_id)
        .outerjoin(last_touch, last_touch.c.partner_id == Partner.id)
        .outerjoin(open_deals, open_deals.c.partner_id == Partner.id)
        .where(scope.partners_visible(viewer))
        .order_by(func.lower(Partner.name))
    )
    if search and search.strip():
        pattern = f"%{search.strip().lower()}%"
        stmt = stmt.where(or_(
            func.lower(Partner.name).like(pattern),
            func.lower(func.coalesce(Partner.primary_contact_name, "")).like(pattern),
            func.lower(func.coalesce(Partner.notes, "")).like(pattern),
        ))
    if domain:
        stmt = stmt.where(Partner.domain == domain)
    if health:
        stmt = stmt.where(Partner.relationship_health == health)
    return [
        DirectoryRow(id=r[0], name=r[1], domain=r[2], relationship_health=r[3],
                     owner_name=f"{r[4]} {r[5]}" if r[4] else None, owner_email=r[6],
                     last_touch=r[7], open_deals=int(r[8]))
        for r in session.execute(stmt)
    ]
