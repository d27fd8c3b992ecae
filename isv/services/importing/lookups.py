"""The records a file refers to, looked up in bulk: a few queries per file, whatever its length."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import String, any_, bindparam, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from isv.auth import Viewer
from isv.models import Opportunity, Partner, User
from isv.services import partners

from .checks import Cleaned
from .report import BAD, Errors

_CHUNK = 500      # keys per IN (...) lookup: well inside every database's parameter limit


def _chunks(items: Iterable[Any]) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == _CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def among(session: Session, column: Any, values: Iterable[Any]) -> Iterator[Any]:
    """`column IN values` in as few statements as the database allows.

    PostgreSQL takes every value as one array, `column = ANY(...)`: one statement for
    100,000 keys instead of 200, each with 500 parameters to render and parse. Elsewhere,
    chunks well inside the database's parameter limit.
    """
    ordered = sorted(values)
    if not ordered:
        return
    if session.get_bind().dialect.name == "postgresql":
        yield column == any_(bindparam(None, ordered, type_=postgresql.ARRAY(column.type)))
        return
    for chunk in _chunks(ordered):
        yield column.in_(chunk)


def users_by_email(session: Session, emails: Iterable[str | None]) -> dict[str, User]:
    found: dict[str, User] = {}
    for match in among(session, func.lower(User.email, type_=String),
                        {e for e in emails if e}):
        for user in session.scalars(select(User).where(match)):
            found[user.email.lower()] = user
    return found


@dataclass(frozen=True)
class _PartnerOwner:
    owner_id: uuid.UUID | None


@dataclass(frozen=True)
class Deal:
    """The stored fields of a deal the importer compares with a row (read in bulk, not ORM)."""

    id: uuid.UUID
    external_id: str | None
    partner_id: uuid.UUID
    partner_name: str
    partner_owner_id: uuid.UUID | None
    assigned_user_id: uuid.UUID | None
    customer_name: str
    customer_contact_email: str | None
    deal_value: Decimal
    stage: str
    probability: Decimal
    expected_close_date: date | None
    actual_close_date: date | None
    lost_reason: str | None
    notes: str | None
    commission_structure_id: uuid.UUID | None
    version: int
    created_at: datetime

    @property
    def partner(self) -> _PartnerOwner:
        # What opportunities.can_write reads, so the scope rule stays there.
        return _PartnerOwner(self.partner_owner_id)

    @property
    def key(self) -> str:
        """How a file names this deal: its external_id, or its own id when it has none."""
        return self.external_id if self.external_id is not None else str(self.id)


_DEAL_COLUMNS = (
    Opportunity.id, Opportunity.external_id, Opportunity.partner_id, Partner.name,
    Partner.owner_id, Opportunity.assigned_user_id, Opportunity.customer_name,
    Opportunity.customer_contact_email, Opportunity.deal_value, Opportunity.stage,
    Opportunity.probability, Opportunity.expected_close_date, Opportunity.actual_close_date,
    Opportunity.lost_reason, Opportunity.notes, Opportunity.commission_structure_id,
    Opportunity.version, Opportunity.created_at,
)


def deals_by_key(session: Session, keys: Iterable[str]) -> dict[str, Deal]:
    """Deals named by external_id, or by their own id when they have no external_id."""
    keys = set(keys)
    base = select(*_DEAL_COLUMNS).join(Partner, Partner.id == Opportunity.partner_id)
    found: dict[str, Deal] = {}
    for match in among(session, Opportunity.external_id, keys):
        for r in session.execute(base.where(match)):
            found[r[1]] = Deal(*r)
    by_id: dict[uuid.UUID, str] = {}
    for key in keys - set(found):
        if len(key) < 32:  # shorter than any id's text: no need to try (and raise) at all
            continue
        try:
            by_id[uuid.UUID(key)] = key
        except ValueError:
            continue
    for match in among(session, Opportunity.id, by_id):
        for r in session.execute(base.where(match,
                                            Opportunity.external_id.is_(None))):
            deal = Deal(*r)
            found[by_id[deal.id]] = deal
    return found


def partner_to_change(errors: Errors, c: Cleaned, visible: dict[str, Partner],
                      viewer: Viewer) -> Partner | None:
    """The partner a row names, if the viewer may see and change it; else None (reported)."""
    if "partner" not in c.values:
        return None
    partner = visible.get(c.values["partner"].lower())
    if partner is None:
        errors.add(c.number, "partner", "no such partner among those you may see")
        return None
    if errors.attempt(c.number, "partner", partners.check_partner_writable, viewer,
                      partner) is BAD:
        return None
    return partner


def ids_of(partners_by_name: dict[str, Partner], cleaned: list[Cleaned]) -> set[uuid.UUID]:
    names = {c.values["partner"].lower() for c in cleaned if "partner" in c.values}
    return {partners_by_name[n].id for n in names if n in partners_by_name}
