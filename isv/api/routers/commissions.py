"""/commissions: change or delete a structure, and what a deal would earn."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Depends, Header, Response
from pydantic import BaseModel

from isv.api.deps import expected_version, reads_only, viewer
from isv.api.envelope import Envelope, ok
from isv.api.errors import READ, WRITE
from isv.api.schemas import (
    CommissionLineOut,
    DayIn,
    Deleted,
    MoneyIn,
    QuoteIn,
    QuoteOut,
    StructureOut,
    Text,
    dump,
)
from isv.auth import Viewer
from isv.db import session_scope
from isv.services import commissions

router = APIRouter(prefix="/commissions", tags=["commissions"])


class StructureUpdate(BaseModel):
    """Only the fields sent change; `version` (or If-Match) is the one the change is based on."""

    version: int | None = None
    structure_type: Text | None = None
    commission_percentage: MoneyIn | None = None
    is_lifetime: bool | None = None
    min_deal_size: MoneyIn | None = None
    max_deal_size: MoneyIn | None = None
    effective_from: DayIn | None = None
    effective_to: DayIn | None = None
    notes: Text | None = None
    tier: Text | None = None


def _line(line: commissions.CommissionLine) -> dict:
    return dump(CommissionLineOut, line,
                structure_id=line.structure.id if line.structure is not None else None)


@router.post("/calculate", response_model=Envelope[QuoteOut], responses=READ)
@reads_only
def calculate(body: QuoteIn, who: Viewer = Depends(viewer)):
    """What the partner earns on a deal of this value closing that day, under the structure
    that applies and under each type in effect."""
    with session_scope() as session:
        quote = commissions.calculate(session=session, viewer=who, partner_id=body.partner_id,
                                      deal_value=body.deal_value, close_date=body.close_date,
                                      years=body.years)
        return ok({"partner_id": str(quote.partner_id), "deal_value": str(quote.deal_value),
                   "close_date": quote.close_date.isoformat(), "years": quote.years,
                   "applicable": _line(quote.applicable),
                   "comparison": [_line(line) for line in quote.comparison]})


@router.put("/{id}", response_model=Envelope[StructureOut], responses=WRITE)
def update_structure(id: uuid.UUID, body: StructureUpdate, response: Response,
                     if_match: str | None = Header(None, max_length=100),
                     who: Viewer = Depends(viewer)):
    """Change the fields sent; refused with 409 if the structure changed since `version`."""
    fields = body.model_dump(exclude_unset=True)
    version = expected_version(fields.pop("version", None), if_match)
    with session_scope() as session:
        row = commissions.update_structure(session=session, viewer=who, structure_id=id,
                                           expected_version=version, **fields)
        session.flush()
        response.headers["ETag"] = f'"{row.version}"'
        session.commit()
        return ok(dump(StructureOut, row))


@router.delete("/{id}", response_model=Envelope[Deleted], responses=WRITE)
def delete_structure(id: uuid.UUID, who: Viewer = Depends(viewer)):
    """Delete a structure; deals pinned to it fall back to the rule."""
    with session_scope() as session:
        commissions.delete_structure(session=session, viewer=who, structure_id=id)
        session.commit()
    return ok({"deleted": str(id)})
