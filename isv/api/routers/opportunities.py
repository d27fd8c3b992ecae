"""/opportunities: the pipeline grid's list, one deal, its changes, stage moves and history."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from fastapi import APIRouter, Depends, Header, Query, Response

from isv.api.deps import expected_version, paging, viewer
from isv.api.envelope import MAX_PER_PAGE, Envelope, PageEnvelope, ok, page
from isv.api.errors import READ, WRITE
from isv.api.schemas import (
    Deleted,
    HistoryOut,
    OpportunityIn,
    OpportunityOut,
    OpportunityUpdate,
    StageMove,
    StageTotalOut,
    dump,
)
from isv.auth import Viewer
from isv.db import session_scope
from isv.errors import check_each
from isv.models import Opportunity
from isv.services import opportunities as opps

router = APIRouter(prefix="/opportunities", tags=["opportunities"])

SORTS = tuple(opps.SORT_KEYS) + tuple(f"-{k}" for k in opps.SORT_KEYS)


@dataclass
class OpportunityQuery:
    """The grid's filters and sort as query parameters (repeat a parameter for several)."""

    partner_id: list[uuid.UUID] = Query(default=[], max_length=100)
    domain: list[str] = Query(default=[], max_length=10)
    stage: list[str] = Query(default=[], max_length=10)
    owner_id: list[uuid.UUID] = Query(default=[], max_length=100,
                                      description="Assigned user.")
    unassigned: bool = Query(False, description="Assigned to nobody.")
    close_from: date | None = Query(None, description="Close date (actual, else expected) ≥.")
    close_to: date | None = Query(None)
    search: str | None = Query(None, max_length=500,
                               description="In customer name, notes and partner name.")
    sort: str = Query("-updated_at", max_length=40,
                      description=f"One of {', '.join(opps.SORT_KEYS)}; '-' for descending.")
    page: int = Query(1, ge=1, le=100_000)
    per_page: int = Query(50, ge=1, le=MAX_PER_PAGE)

    def filters(self, **fixed) -> opps.OpportunityFilters:
        values = dict(partner_ids=tuple(self.partner_id), domains=tuple(self.domain),
                      stages=tuple(self.stage), owner_ids=tuple(self.owner_id),
                      unassigned=self.unassigned, close_from=self.close_from,
                      close_to=self.close_to, text=self.search)
        values.update(fixed)
        return opps.OpportunityFilters(**values)


def list_page(who: Viewer, query: OpportunityQuery, **fixed) -> dict:
    offset, limit = paging(query.page, query.per_page)
    with session_scope() as session:
        rows, total = opps.list_opportunities(session=session, viewer=who,
                                              filters=query.filters(**fixed), offset=offset,
                                              limit=limit, sort=query.sort)
    return page([dump(OpportunityOut, r) for r in rows], page=query.page,
                per_page=query.per_page, total=total)


# Fields whose rule needs no lookup: checked all together first, so a request with several
# bad values hears of each (the service stops at the first).
_PURE = ("customer_name", "customer_contact_email", "deal_value", "expected_close_date",
         "notes", "external_id")


def _check_fields(values: dict) -> None:
    check_each({f: (lambda f=f: opps.clean_field(f, values[f])) for f in _PURE if f in values})


def _one(opp: Opportunity) -> dict:
    assignee = opp.assigned_user
    return dump(OpportunityOut, opp, partner_name=opp.partner.name, domain=opp.partner.domain,
                assigned_user_name=assignee.full_name if assignee else None,
                assigned_user_email=assignee.email if assignee else None)


@router.get("", response_model=PageEnvelope[OpportunityOut], responses=READ)
def list_opportunities(query: OpportunityQuery = Depends(), who: Viewer = Depends(viewer)):
    """One page of the deals the caller may see, filtered and sorted as the grid does."""
    return list_page(who, query)


@router.get("/pipeline", response_model=Envelope[list[StageTotalOut]], responses=READ)
def pipeline(query: OpportunityQuery = Depends(), who: Viewer = Depends(viewer)):
    """Count, value and weighted value per stage over every deal matching the filters."""
    with session_scope() as session:
        totals = opps.stage_totals(session=session, viewer=who, filters=query.filters())
    return ok([dump(StageTotalOut, t) for t in totals.values()])


@router.post("", response_model=Envelope[OpportunityOut], status_code=201, responses=WRITE)
def create_opportunity(body: OpportunityIn, who: Viewer = Depends(viewer)):
    """Add a deal for a partner; its stage history starts here."""
    values = body.model_dump(exclude_unset=True, mode="json")
    _check_fields(values)
    with session_scope() as session:
        opp = opps.create_opportunity(session=session, viewer=who, **values)
        session.refresh(opp)
        session.commit()
        return ok(_one(opp))


@router.get("/{id}", response_model=Envelope[OpportunityOut], responses=READ)
def get_opportunity(id: uuid.UUID, response: Response,
                    who: Viewer = Depends(viewer)):
    """One deal; the ETag is its version, for If-Match on a later PUT or stage move."""
    with session_scope() as session:
        opp = opps.get_opportunity(session=session, viewer=who, opportunity_id=id)
        response.headers["ETag"] = f'"{opp.version}"'
        return ok(_one(opp))


@router.put("/{id}", response_model=Envelope[OpportunityOut], responses=WRITE)
def update_opportunity(id: uuid.UUID, body: OpportunityUpdate,
                       response: Response,
                       if_match: str | None = Header(None, max_length=100),
                       who: Viewer = Depends(viewer)):
    """Change the fields sent; refused with 409, naming who and when, if the deal changed
    since `version` (or the If-Match ETag)."""
    fields = body.model_dump(exclude_unset=True, mode="json")
    version = expected_version(fields.pop("version", None), if_match)
    note = fields.pop("note", None)
    _check_fields(fields)
    with session_scope() as session:
        opp = opps.update_opportunity(session=session, viewer=who,
                                      opportunity_id=id,
                                      expected_version=version, note=note, **fields)
        session.refresh(opp)
        response.headers["ETag"] = f'"{opp.version}"'
        session.commit()
        return ok(_one(opp))


@router.delete("/{id}", response_model=Envelope[Deleted], responses=WRITE)
def delete_opportunity(id: uuid.UUID,
                       if_match: str | None = Header(None, max_length=100),
                       who: Viewer = Depends(viewer)):
    """Delete a deal with its stage history."""
    with session_scope() as session:
        opps.delete_opportunity(session=session, viewer=who, opportunity_id=id,
                                expected_version=expected_version(None, if_match))
        session.commit()
    return ok({"deleted": str(id)})


@router.post("/{id}/stage", response_model=Envelope[OpportunityOut],
             responses=WRITE)
def move_stage(id: uuid.UUID, body: StageMove, response: Response,
               if_match: str | None = Header(None, max_length=100),
               who: Viewer = Depends(viewer)):
    """Move the deal to another stage, as the board does, and record it in its history."""
    values = body.model_dump(mode="json")
    version = expected_version(values.pop("version"), if_match)
    stage = values.pop("stage")
    with session_scope() as session:
        opp = opps.move_stage(session=session, viewer=who, opportunity_id=id,
                              to_stage=stage, expected_version=version, **values)
        session.refresh(opp)
        response.headers["ETag"] = f'"{opp.version}"'
        session.commit()
        return ok(_one(opp))


@router.get("/{id}/history", response_model=Envelope[list[HistoryOut]],
            responses=READ)
def history(id: uuid.UUID, who: Viewer = Depends(viewer)):
    """The deal's stage changes, oldest first."""
    with session_scope() as session:
        rows = opps.stage_history(session=session, viewer=who, opportunity_id=id)
        return ok([dump(HistoryOut, r) for r in rows])
