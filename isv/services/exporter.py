"""Export: every entity in the import format of spec/IMPORT.md, and any table as CSV or XLSX.

Every CSV written here guards its text cells against spreadsheet formulas (isv.services.cells),
in one place, so `isv export`, the Export tab and the grid's download write the same.

An export holds the records the viewer may see, in the columns and order of IMPORT.md, sorted
the same way every time (in Python, so both databases sort alike whatever their collation).
Money and percentages have two decimals, dates are YYYY-MM-DD, timestamps ISO 8601 in UTC.
A deal without an external_id is written with its own id there, so that stage history can
always name it; importing an export gives back the same export.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import openpyxl
import pandas as pd
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from isv.auth import TEAM_READ, Viewer
from isv.models import (
    STAGES,
    CommissionStructure,
    Opportunity,
    Partner,
    PartnerActivity,
    QuarterlyGoal,
    StageHistory,
    User,
)
from isv.rules.money import money_text
from isv.services import scope, validate
from isv.services.cells import guard
from isv.services.importing.formats import COLUMNS, ENTITIES
from isv.services.settings import local_zone

Table = tuple[list[str], list[list[str]]]  # header, rows of text cells


# --- cell formats ------------------------------------------------------------------------

def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _money(value: Decimal | None) -> str:
    """Exact, two decimals, half-even: the machine form `isv report kpis` writes too."""
    return "" if value is None else money_text(value)


def _day(value: date | None) -> str:
    return "" if value is None else value.isoformat()


def _moment(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).isoformat()


def _flag(value: bool | None) -> str:
    return "true" if value else "false"


def _lower(text: str | None) -> str:
    return (text or "").lower()


# --- one reader per entity ----------------------------------------------------------------

def _users(session: Session, viewer: Viewer) -> list[list[str]]:
    rows = session.execute(select(User.email, User.first_name, User.last_name, User.role,
                                  User.is_active).where(scope.people_listed(viewer)))
    return [[email, first, last, role, _flag(active)]
            for email, first, last, role, active in sorted(rows, key=lambda r: r[0].lower())]


def _partners(session: Session, viewer: Viewer) -> list[list[str]]:
    rows = session.execute(
        select(Partner.name, Partner.domain, Partner.website, Partner.primary_contact_name,
               Partner.primary_contact_email, Partner.relationship_health, User.email,
               Partner.notes, Partner.health_reason, Partner.health_until, Partner.tier)
        .outerjoin(User, User.id == Partner.owner_id)
        .where(scope.partners_visible(viewer)))
    return [[*(_text(c) for c in r[:9]), _day(r[9]), _text(r[10])]
            for r in sorted(rows, key=lambda r: (r[0].lower(), r[0]))]


def _commissions(session: Session, viewer: Viewer) -> list[list[str]]:
    rows = session.execute(
        select(Partner.name, CommissionStructure.structure_type,
               CommissionStructure.commission_percentage, CommissionStructure.is_lifetime,
               CommissionStructure.min_deal_size, CommissionStructure.max_deal_size,
               CommissionStructure.effective_from, CommissionStructure.effective_to,
               CommissionStructure.notes, CommissionStructure.tier)
        .join(Partner, Partner.id == CommissionStructure.partner_id)
        .where(scope.partners_visible(viewer)))
    ordered = sorted(rows, key=lambda r: (r[0].lower(), r[0], r[1], r[6], r[4]))
    return [[name, kind, _money(pct), _flag(lifetime), _money(low), _money(high), _day(start),
             _day(end), _text(notes), _text(tier)]
            for name, kind, pct, lifetime, low, high, start, end, notes, tier in ordered]


def _deal_key(external_id: str | None, deal_id: uuid.UUID) -> str:
    return external_id if external_id is not None else str(deal_id)


def _opportunities(session: Session, viewer: Viewer) -> list[list[str]]:
    owner = aliased(User)
    rows = session.execute(
        select(Opportunity.external_id, Opportunity.id, Partner.name,
               Opportunity.customer_name, Opportunity.customer_contact_email,
               Opportunity.deal_value, Opportunity.stage, Opportunity.probability,
               Opportunity.expected_close_date, Opportunity.actual_close_date, owner.email,
               Opportunity.lost_reason, Opportunity.notes, Opportunity.created_at)
        .join(Partner, Partner.id == Opportunity.partner_id)
        .outerjoin(owner, owner.id == Opportunity.assigned_user_id)
        .where(scope.opportunities_visible(viewer)))
    out = []
    for (external_id, deal_id, partner, customer, contact, value, stage, probability,
         expected, closed, owner_email, lost, notes, created) in rows:
        out.append((created, [
            _deal_key(external_id, deal_id), partner, customer, _text(contact), _money(value),
            stage, _money(probability), _day(expected), _day(closed), _text(owner_email),
            _text(lost), _text(notes), _moment(created)]))
    out.sort(key=lambda item: (item[0], item[1][0]))
    return [row for _, row in out]


def _stage_history(session: Session, viewer: Viewer) -> list[list[str]]:
    rows = session.execute(
        select(Opportunity.external_id, Opportunity.id, StageHistory.from_stage,
               StageHistory.to_stage, StageHistory.changed_at, User.email, StageHistory.notes)
        .join(Opportunity, Opportunity.id == StageHistory.opportunity_id)
        .outerjoin(User, User.id == StageHistory.changed_by)
        .where(scope.opportunities_visible(viewer)))
    order = {stage: n for n, stage in enumerate(STAGES)}
    out = []
    for external_id, deal_id, from_stage, to_stage, changed_at, email, notes in rows:
        key = _deal_key(external_id, deal_id)
        out.append(((key, changed_at, order[to_stage], from_stage or ""), [
            key, _text(from_stage), to_stage, _moment(changed_at), _text(email),
            _text(notes)]))
    out.sort(key=lambda item: item[0])
    return [row for _, row in out]


def _goals(session: Session, viewer: Viewer) -> list[list[str]]:
    stmt = (select(User.email, QuarterlyGoal.year, QuarterlyGoal.quarter,
                   QuarterlyGoal.goal_type, QuarterlyGoal.revenue_target,
                   QuarterlyGoal.current_progress, QuarterlyGoal.notes)
            .join(User, User.id == QuarterlyGoal.user_id))
    if not viewer.can(TEAM_READ):
        stmt = stmt.where(QuarterlyGoal.user_id == viewer.id)  # only one's own goals
    ordered = sorted(session.execute(stmt), key=lambda r: (r[0].lower(), r[1], r[2], r[3]))
    return [[email, str(year), str(quarter), kind, _money(target), _money(progress),
             _text(notes)]
            for email, year, quarter, kind, target, progress, notes in ordered]


def _activities(session: Session, viewer: Viewer) -> list[list[str]]:
    rows = session.execute(
        select(Partner.name, PartnerActivity.activity_type, PartnerActivity.occurred_on,
               User.email, PartnerActivity.summary)
        .join(Partner, Partner.id == PartnerActivity.partner_id)
        .outerjoin(User, User.id == PartnerActivity.user_id)
        .where(scope.partners_visible(viewer)))
    ordered = sorted(rows, key=lambda r: (r[0].lower(), r[0], r[2], r[1], r[4] or "",
                                          _lower(r[3])))
    return [[name, kind, _day(day), _text(email), _text(summary)]
            for name, kind, day, email, summary in ordered]


_READERS: dict[str, Callable[[Session, Viewer], list[list[str]]]] = {
    "users": _users, "partners": _partners, "commissions": _commissions,
    "opportunities": _opportunities, "stage_history": _stage_history, "goals": _goals,
    "activities": _activities,
}


# --- the use cases -------------------------------------------------------------------------

def export_rows(*, session: Session, viewer: Viewer, entity: str) -> Table:
    """Return the header and the text rows of `entity` that the viewer may see."""
    validate.choice("entity", entity, ENTITIES)
    return [c.name for c in COLUMNS[entity]], _READERS[entity](session, viewer)


def export_csv(*, session: Session, viewer: Viewer, entity: str) -> str:
    """Write `entity` as CSV text in the import format (spec/IMPORT.md)."""
    return table_to_csv(entity, export_rows(session=session, viewer=viewer, entity=entity))


def export_xlsx(*, session: Session, viewer: Viewer, entity: str) -> bytes:
    """Write `entity` as an .xlsx workbook with the import columns; numbers and dates typed."""
    return table_to_xlsx(entity, export_rows(session=session, viewer=viewer, entity=entity))


def table_to_csv(entity: str, table: Table) -> str:
    """Turn an export table of `entity` into CSV text (no byte-order mark: exports compare
    byte for byte). Text columns are guarded against formulas; the importer undoes it."""
    header, rows = table
    text = [c.kind == "text" for c in COLUMNS[entity]]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([guard(cell) if is_text else cell
                      for cell, is_text in zip(row, text, strict=True)] for row in rows)
    return out.getvalue()


def table_to_xlsx(entity: str, table: Table) -> bytes:
    """Turn an export table of `entity` into a workbook that imports back like the CSV."""
    header, rows = table
    kinds = [c.kind for c in COLUMNS[entity]]
    typed = ([_typed(cell, kind) for cell, kind in zip(row, kinds, strict=True)]
             for row in rows)
    return _workbook(entity, header, typed)


def _typed(cell: str, kind: str) -> Any:
    """An export cell as a spreadsheet value: amounts and whole numbers as numbers, dates as
    dates; timestamps stay text, as Excel has no time zones."""
    if cell == "":
        return None
    if kind == "money":
        return Decimal(cell)
    if kind == "whole":
        return int(cell)
    if kind == "date":
        return date.fromisoformat(cell)
    return cell


def _workbook(title: str, header: Sequence[str], rows: Any) -> bytes:
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet(title=title[:31] or "Sheet1")
    sheet.append(list(header))
    for row in rows:
        sheet.append([_safe_cell(sheet, value) for value in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _safe_cell(sheet: Any, value: Any) -> Any:
    """Text is always text: a note that starts with "=" must never become a live formula."""
    if isinstance(value, str):
        cell = WriteOnlyCell(sheet, value=ILLEGAL_CHARACTERS_RE.sub("", value))
        cell.data_type = "s"
        return cell
    if isinstance(value, datetime):
        # Excel has no time zones: show the moment as the deployment's wall-clock time.
        return value.astimezone(local_zone()).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


# --- any on-screen table ------------------------------------------------------------------

def frame_to_csv(frame: pd.DataFrame) -> bytes:
    """Turn a DataFrame into CSV bytes for a download (no index column).

    UTF-8 with a byte-order mark, so that Excel reads accents right. Text cells are guarded
    against formulas; numbers, dates and the like are written as they are.
    """
    safe = frame.copy()
    for name in frame.columns:
        if not (pd.api.types.is_numeric_dtype(frame[name])
                or pd.api.types.is_datetime64_any_dtype(frame[name])):
            safe[name] = frame[name].map(_guard_text, na_action="ignore")
    return safe.to_csv(index=False, lineterminator="\n").encode("utf-8-sig")


def _guard_text(value: Any) -> Any:
    return guard(value) if isinstance(value, str) else value


def frame_to_xlsx(frame: pd.DataFrame, *, sheet: str = "Data") -> bytes:
    """Turn a DataFrame into .xlsx bytes for a download; text cells are never formulas."""
    rows = ([None if _missing(v) else v for v in record]
            for record in frame.itertuples(index=False, name=None))
    return _workbook(sheet, [str(c) for c in frame.columns], rows)


def _missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False
