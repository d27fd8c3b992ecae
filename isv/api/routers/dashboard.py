"""/dashboard: the KPIs of spec/KPIS.md and the pipeline board."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query

from isv.analytics import kpis as kpi
from isv.analytics import reports
from isv.api.deps import viewer
from isv.api.envelope import Envelope, ok
from isv.api.errors import READ
from isv.api.routers.opportunities import OpportunityQuery
from isv.api.schemas import BoardColumn, OpportunityOut, dump
from isv.auth import Viewer
from isv.db import session_scope
from isv.services import opportunities as opps

router = APIRouter(prefix="/dashboard", tags=["dashboard"])


@router.get("/kpis", response_model=Envelope[dict[str, Any]], responses=READ)
def kpis(period: str = Query(max_length=40, description="2026Q3, 2026, or "
                                                         "2026-02-15..2026-05-31."),
         as_of: str | None = Query(None, max_length=40, description="YYYY-MM-DD; today."),
         partner: str | None = Query(None, max_length=255, description="A partner's name."),
         domain: str | None = Query(None, max_length=100),
         owner: str | None = Query(None, max_length=255, description="An assignee's email."),
         who: Viewer = Depends(viewer)):
    """Every KPI of spec/KPIS.md: `data` is `isv report kpis --format json` for this viewer."""
    with session_scope() as session:
        result = reports.kpi_report(session=session, viewer=who, period=period, as_of=as_of,
                                    partner=partner, domain=domain, owner=owner)
    return ok(kpi.to_dict(result))


@router.get("/pipeline", response_model=Envelope[list[BoardColumn]], responses=READ)
def pipeline(query: OpportunityQuery = Depends(),
             per_stage: int = Query(20, ge=1, le=50, description="Deals shown per stage."),
             who: Viewer = Depends(viewer)):
    """The pipeline board: per stage, its totals and its first deals in the chosen sort."""
    sort = query.sort if query.sort != "-updated_at" else "-deal_value"
    with session_scope() as session:
        filters = query.filters()
        totals = opps.stage_totals(session=session, viewer=who, filters=filters)
        top = opps.top_by_stage(session=session, viewer=who, filters=filters,
                                per_stage=per_stage, sort=sort)
    return ok([{**dump(BoardColumn, t, deals=[]),
                "deals": [dump(OpportunityOut, r) for r in top[stage]]}
               for stage, t in totals.items()])
