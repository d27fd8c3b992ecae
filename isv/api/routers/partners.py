"""/partners, with their opportunities and commission structures."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Header, Query, Response

from isv.api.deps import expected_version, paging, viewer
from isv.api.envelope import MAX_PER_PAGE, Envelope, PageEnvelope, ok, page
from isv.api.errors import READ, WRITE
from isv.api.routers.opportunities import OpportunityQuery, list_page
from isv.api.schemas import (
    Deleted,
    OpportunityOut,
    PartnerIn,
    PartnerOut,
    PartnerRow,
    PartnerUpdate,
    StructureIn,
    StructureOut,
    dump,
)
from isv.auth import Viewer
from isv.db import session_scope
from isv.services import commissions, partners

router = APIRouter(prefix="/partners", tags=["partners"])


@router.get("", response_model=PageEnvelope[PartnerRow], responses=READ)
def list_partners(search: str | None = Query(None, max_length=500),
                  domain: str | None = Query(None, max_length=100),
                  health: str | None = Query(None, max_length=100, description=(
                      "The label the partner shows: its health score's band, or a hand-set "
                      "label while its override lasts")),
                  tier: str | None = Query(None, max_length=100, description=(
                      "A tier's name (any case), or `none` for partners without a tier")),
                  page_number: int = Query(1, alias="page", ge=1, le=100_000),
                  per_page: int = Query(50, ge=1, le=MAX_PER_PAGE),
                  who: Viewer = Depends(viewer)):
    """The partner directory the caller may see, by name: owner, last touch, open deals, tier."""
    if tier is not None and tier.strip().lower() == "none":
        tier = partners.NO_TIER
    with session_scope() as session:
        rows = partners.list_directory(session=session, viewer=who, search=search,
                                       domain=domain, health=health, tier=tier)
    offset, limit = paging(page_number, per_page)
    return page([dump(PartnerRow, r) for r in rows[offset:offset + limit]],
                page=page_number, per_page=per_page, total=len(rows))


@router.post("", response_model=Envelope[PartnerOut], status_code=201, responses=WRITE)
def create_partner(body: PartnerIn, who: Viewer = Depends(viewer)):
    """Add a partner; a partnership manager's new partner is their own."""
    with session_scope() as session:
        partner = partners.create_partner(session=session, viewer=who, **body.model_dump())
        session.commit()
        return ok(dump(PartnerOut, partner))


@router.get("/{id}", response_model=Envelope[PartnerOut], responses=READ)
def get_partner(id: uuid.UUID, response: Response, who: Viewer = Depends(viewer)):
    """One partner; the ETag is its version, for If-Match on a later PUT."""
    with session_scope() as session:
        partner = partners.get_partner(session=session, viewer=who, partner_id=id)
        response.headers["ETag"] = f'"{partner.version}"'
        return ok(dump(PartnerOut, partner))


@router.put("/{id}", response_model=Envelope[PartnerOut], responses=WRITE)
def update_partner(id: uuid.UUID, body: PartnerUpdate, response: Response,
                   if_match: str | None = Header(None, max_length=100),
                   who: Viewer = Depends(viewer)):
    """Change the fields sent; refused with 409 if the partner changed since `version`."""
    fields = body.model_dump(exclude_unset=True)
    version = expected_version(fields.pop("version", None), if_match)
    with session_scope() as session:
        partner = partners.update_partner(session=session, viewer=who, partner_id=id,
                                          expected_version=version, **fields)
        session.flush()
        response.headers["ETag"] = f'"{partner.version}"'
        session.commit()
        return ok(dump(PartnerOut, partner))


@router.delete("/{id}", response_model=Envelope[Deleted], responses=WRITE)
def delete_partner(id: uuid.UUID, who: Viewer = Depends(viewer)):
    """Delete a partner with its deals, their history, its structures and touches."""
    with session_scope() as session:
        partners.delete_partner(session=session, viewer=who, partner_id=id)
        session.commit()
    return ok({"deleted": str(id)})


@router.get("/{id}/opportunities", response_model=PageEnvelope[OpportunityOut],
            responses=READ)
def partner_opportunities(id: uuid.UUID, query: OpportunityQuery = Depends(),
                          who: Viewer = Depends(viewer)):
    """The partner's deals the caller may see, with the opportunity list's filters."""
    with session_scope() as session:
        partners.get_partner(session=session, viewer=who, partner_id=id)
    return list_page(who, query, partner_ids=(id,))


@router.get("/{id}/commissions", response_model=Envelope[list[StructureOut]],
            responses=READ)
def list_structures(id: uuid.UUID, who: Viewer = Depends(viewer)):
    """The partner's commission structures, newest first."""
    with session_scope() as session:
        rows = commissions.list_structures(session=session, viewer=who, partner_id=id)
        return ok([dump(StructureOut, r) for r in rows])


@router.post("/{id}/commissions", response_model=Envelope[StructureOut],
             status_code=201, responses=WRITE)
def create_structure(id: uuid.UUID, body: StructureIn, who: Viewer = Depends(viewer)):
    """Add a commission structure to the partner."""
    values = body.model_dump(exclude_unset=True)
    with session_scope() as session:
        row = commissions.create_structure(session=session, viewer=who, partner_id=id,
                                           **values)
        session.commit()
        return ok(dump(StructureOut, row))
