"""The API's request and response shapes.

Requests are typed only as far as JSON goes (text, numbers, UUIDs): what a value may be is
the services' to say, so a refusal reads the same here as on the pages. Money comes back as
a decimal string, dates as ISO 8601.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

MoneyIn = Annotated[str | int | float, Field(
    description='An amount as a decimal string ("12500.00"); a JSON number is read the same.')]
DayIn = Annotated[str, Field(description="A date, YYYY-MM-DD.", json_schema_extra={
    "format": "date"})]
Text = Annotated[str, Field(max_length=20_000)]


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- partners ----------------------------------------------------------------------------

class PartnerRow(Out):
    id: uuid.UUID
    name: str
    domain: str
    relationship_health: str
    owner_name: str | None
    owner_email: str | None
    last_touch: date | None
    open_deals: int
    tier: str | None = None


class PartnerOut(Out):
    id: uuid.UUID
    name: str
    domain: str
    website: str | None
    primary_contact_name: str | None
    primary_contact_email: str | None
    relationship_health: str
    owner_id: uuid.UUID | None
    notes: str | None
    tier: str | None = None
    version: int
    created_at: datetime
    updated_at: datetime


class PartnerIn(BaseModel):
    name: Text
    domain: Text
    website: Text | None = None
    primary_contact_name: Text | None = None
    primary_contact_email: Text | None = None
    relationship_health: Text | None = None
    owner_id: uuid.UUID | None = None
    notes: Text | None = None


class PartnerUpdate(BaseModel):
    """Only the fields sent change; `version` (or If-Match) is the one the change is based on."""

    version: int | None = None
    name: Text | None = None
    domain: Text | None = None
    website: Text | None = None
    primary_contact_name: Text | None = None
    primary_contact_email: Text | None = None
    relationship_health: Text | None = None
    owner_id: uuid.UUID | None = None
    notes: Text | None = None


# --- commission structures -----------------------------------------------------------------

class StructureOut(Out):
    id: uuid.UUID
    partner_id: uuid.UUID
    structure_type: str
    commission_percentage: Decimal
    is_lifetime: bool
    min_deal_size: Decimal
    max_deal_size: Decimal | None
    effective_from: date
    effective_to: date | None
    notes: str | None
    tier: str | None = None
    version: int
    created_at: datetime


class StructureIn(BaseModel):
    structure_type: Text
    commission_percentage: MoneyIn
    effective_from: DayIn
    is_lifetime: bool = False
    min_deal_size: MoneyIn | None = None
    max_deal_size: MoneyIn | None = None
    effective_to: DayIn | None = None
    notes: Text | None = None
    tier: Text | None = None


class CommissionLineOut(BaseModel):
    structure_type: str | None
    structure_id: uuid.UUID | None
    percentage: Decimal | None
    is_lifetime: bool
    first_year: Decimal
    years: int
    projection: Decimal | None
    reason: str | None


class QuoteOut(BaseModel):
    partner_id: uuid.UUID
    deal_value: Decimal
    close_date: date
    years: int
    applicable: CommissionLineOut
    comparison: list[CommissionLineOut]


class QuoteIn(BaseModel):
    partner_id: uuid.UUID
    deal_value: MoneyIn
    close_date: DayIn
    years: int = Field(default=3, description="Years a lifetime structure is projected over.")


# --- opportunities -------------------------------------------------------------------------

class OpportunityOut(Out):
    id: uuid.UUID
    external_id: str | None
    partner_id: uuid.UUID
    partner_name: str
    domain: str
    customer_name: str
    customer_contact_email: str | None
    deal_value: Decimal
    stage: str
    probability: Decimal
    expected_close_date: date | None
    actual_close_date: date | None
    assigned_user_id: uuid.UUID | None
    assigned_user_name: str | None
    assigned_user_email: str | None
    commission_structure_id: uuid.UUID | None
    lost_reason: str | None
    notes: str | None
    version: int
    created_at: datetime
    updated_at: datetime


class OpportunityIn(BaseModel):
    partner_id: uuid.UUID
    customer_name: Text
    deal_value: MoneyIn
    stage: Text = "lead"
    probability: MoneyIn | None = None
    customer_contact_email: Text | None = None
    expected_close_date: DayIn | None = None
    actual_close_date: DayIn | None = None
    assigned_user_id: uuid.UUID | None = None
    lost_reason: Text | None = None
    notes: Text | None = None
    external_id: Text | None = None
    commission_structure_id: uuid.UUID | None = None
    note: Text | None = Field(default=None, description="Goes on the first stage-history row.")


class OpportunityUpdate(BaseModel):
    """Only the fields sent change; `version` (or If-Match) is the one the change is based on."""

    version: int | None = None
    note: Text | None = Field(default=None, description="Goes on the stage-history row.")
    partner_id: uuid.UUID | None = None
    customer_name: Text | None = None
    customer_contact_email: Text | None = None
    deal_value: MoneyIn | None = None
    stage: Text | None = None
    probability: MoneyIn | None = None
    expected_close_date: DayIn | None = None
    actual_close_date: DayIn | None = None
    assigned_user_id: uuid.UUID | None = None
    lost_reason: Text | None = None
    notes: Text | None = None
    external_id: Text | None = None
    commission_structure_id: uuid.UUID | None = None


class StageMove(BaseModel):
    stage: Text
    version: int | None = None
    note: Text | None = None
    lost_reason: Text | None = None
    actual_close_date: DayIn | None = None
    probability: MoneyIn | None = None


class HistoryOut(Out):
    id: uuid.UUID
    from_stage: str | None
    to_stage: str
    changed_by: uuid.UUID | None
    changed_at: datetime
    notes: str | None
    synthesized: bool


class StageTotalOut(BaseModel):
    stage: str
    count: int
    value: Decimal
    weighted: Decimal


class BoardColumn(StageTotalOut):
    deals: list[OpportunityOut]


class Deleted(BaseModel):
    deleted: uuid.UUID


def dump(model: type[BaseModel], obj: Any, **extra: Any) -> dict[str, Any]:
    """`obj` (an ORM row or a dataclass) in the JSON form of `model`."""
    if extra:
        values = {name: extra[name] if name in extra else getattr(obj, name)
                  for name in model.model_fields}
        return model.model_validate(values).model_dump(mode="json")
    return model.model_validate(obj, from_attributes=True).model_dump(mode="json")
