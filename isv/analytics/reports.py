"""The KPI report of `isv report kpis` and GET /dashboard/kpis: one reading of its parameters."""

from __future__ import annotations

from sqlalchemy.orm import Session

from isv.analytics import kpis as kpi
from isv.analytics.periods import parse_period
from isv.auth import Viewer
from isv.errors import NotFound, ValidationError
from isv.models import DOMAINS
from isv.services import partners, users, validate


def kpi_report(*, session: Session, viewer: Viewer, period: str, as_of: str | None = None,
               partner: str | None = None, domain: str | None = None,
               owner: str | None = None) -> kpi.Kpis:
    """Every KPI for a period over the viewer's scope, narrowed to a partner (by name), a
    domain or an owner (by email); a name the viewer cannot see is refused like an unknown one.
    """
    chosen = parse_period(period)
    day = validate.day("as_of", as_of) if as_of else None
    domains = (validate.choice("domain", domain, DOMAINS),) if domain else ()
    partner_ids = ()
    if partner is not None:
        name = validate.text("partner", partner, max_len=255, required=True)
        found = partners.by_name(session=session, viewer=viewer).get(name.lower())
        if found is None:
            raise ValidationError("partner", f"no partner named {partner!r}")
        partner_ids = (found.id,)
    owner_ids = ()
    if owner is not None:
        try:
            owner_ids = (users.get_by_email(session=session, viewer=viewer, email=owner).id,)
        except NotFound:
            raise ValidationError("owner", f"no user with email {owner!r}") from None
    return kpi.compute_kpis(
        session=session, viewer=viewer, period=chosen, as_of=day,
        filters=kpi.Filters(partner_ids=partner_ids, domains=domains, owner_ids=owner_ids))
