"""The team view: per person open pipeline, won in the period and goal attainment.

The rows are breakdowns.team_performance (KPIS.md's target rules); the totals above them are
compute_kpis over the same scope and filters, so the two always agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from isv.auth import Viewer
from isv.services.settings import local_today

from .breakdowns import PersonResult, team_performance
from .kpis import Filters, Kpis, kpis_for
from .periods import Period
from .together import gather


@dataclass(frozen=True)
class TeamView:
    kpis: Kpis
    people: tuple[PersonResult, ...]


def team_view(*, session: Session, viewer: Viewer, period: Period,
              filters: Filters | None = None, as_of: date | None = None) -> TeamView:
    """Gather the team view's totals and its per-person rows, with a fixed number of statements."""
    common = dict(viewer=viewer, filters=filters or Filters())
    as_of = as_of or local_today()
    kpis, people = gather(
        session,
        lambda s: kpis_for(session=s, period=period, as_of=as_of, **common),
        lambda s: tuple(team_performance(session=s, period=period, **common)))
    return TeamView(kpis=kpis, people=people)
