"""Import another CRM's opportunities export through the one importer.

The file is read as any table (importing.read_table), its rows become rows of our
opportunities format (crm_mapping.convert), and that file goes through
importing.import_file: the same checks, the same all-or-nothing write, the same report. What
only the conversion finds (an unknown stage, an owner no user is named) joins the report as
problems of their rows; with any of them the importer runs as a dry run, so nothing is
written.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from isv.auth import WRITE_OPPORTUNITIES, Viewer, require
from isv.errors import ValidationError
from isv.models import ImportMapping, User
from isv.services import audit, crm_mapping, importing, partners, validate
from isv.services import opportunities as opps
from isv.services.crm_mapping import CrmMapping, Proposal

ENTITY = "opportunities"


@dataclass
class Export:
    """What the mapping step shows: the file's columns, the proposal, the stages it holds."""

    tool: str
    filename: str
    header: list[str]
    proposals: dict[str, Proposal]
    table: importing.Table | None
    problems: list[importing.RowError]

    def stages(self, column: str | None) -> list[str]:
        """The distinct stage names in `column`, in the order they first appear."""
        if self.table is None or not column or column not in self.header:
            return []
        index = self.header.index(column)
        seen: dict[str, str] = {}
        for _, cells in self.table.rows:
            value = cells[index].strip() if index < len(cells) else ""
            if value:
                seen.setdefault(crm_mapping.normalise(value), value)
        return list(seen.values())


def read_export(*, tool: str, data: bytes, filename: str,
                limits: importing.Limits | None = None) -> Export:
    """Read the tool's export and propose which column feeds each of our fields."""
    _tool(tool)
    table, problems = importing.read_table(data=data, filename=filename, limits=limits)
    header = table.header if table is not None else []
    return Export(tool, filename, header, crm_mapping.propose_columns(tool, header), table,
                  problems)


def proposed_mapping(export: Export, *, stages: dict[str, str] | None = None,
                     partner: str | None = None) -> CrmMapping:
    """The proposal as a mapping: proposed columns, default stages under `stages`."""
    return CrmMapping(tool=export.tool,
                      columns={f: p.source for f, p in export.proposals.items()},
                      stages={**crm_mapping.default_stage_map(export.tool), **(stages or {})},
                      partner=partner)


def apply_saved(export: Export, saved: CrmMapping) -> CrmMapping:
    """A saved mapping on this file: its columns where the file has them, else the proposal."""
    columns = {f: saved.columns.get(f) if saved.columns.get(f) in export.header else p.source
               for f, p in export.proposals.items()}
    return CrmMapping(tool=export.tool, columns=columns,
                      stages={**crm_mapping.default_stage_map(export.tool), **saved.stages},
                      partner=saved.partner, name=saved.name)


def partner_names(*, session: Session, viewer: Viewer) -> list[str]:
    """The partners the viewer may add deals to, for "partner of every row"."""
    return sorted((p.name for p in partners.by_name(session=session, viewer=viewer).values()
                   if opps.may_add_deals(viewer, p)), key=crm_mapping.name_key)


def import_export(*, session: Session, viewer: Viewer, export: Export, mapping: CrmMapping,
                  dry_run: bool = False, progress: importing.Progress | None = None,
                  limits: importing.Limits | None = None) -> importing.ImportReport:
    """Import the export's rows as opportunities under `mapping`, all or nothing."""
    limits = limits or importing.Limits.configured()
    report = importing.ImportReport(dry_run=dry_run)
    part = importing.EntityReport(entity=ENTITY, file=export.filename)
    report.entities.append(part)
    if export.table is None:
        part.errors = list(export.problems)
        return report
    problems = [*export.problems, *_mapping_problems(export, mapping, session, viewer)]
    if any(p.row == 1 for p in problems):
        part.errors = problems
        return report
    converted = crm_mapping.convert(
        mapping, export.header, export.table.rows,
        people=_people(session),
        partners=crm_mapping.Partners.of(
            (p.name, p.primary_contact_email)
            for p in partners.by_name(session=session, viewer=viewer).values()))
    problems += [importing.RowError(p.row, p.column, p.reason, export.filename)
                 for p in converted.problems]
    done = importing.import_file(
        session=session, viewer=viewer, entity=ENTITY, data=_csv(converted),
        filename=f"{Path(export.filename).stem}.csv", dry_run=dry_run or bool(problems),
        progress=progress, limits=limits)
    [checked] = done.entities
    found = {(p.row, p.column) for p in problems}
    errors = problems + [replace(e, file=export.filename) for e in checked.errors
                         if (e.row, e.column) not in found]
    order = {name: n for n, name in enumerate(crm_mapping.COLUMNS)}
    errors.sort(key=lambda e: (e.row, order.get(e.column, -1)))
    part.rows, part.created, part.updated, part.unchanged = (
        checked.rows, checked.created, checked.updated, checked.unchanged)
    part.errors = errors[:limits.problems]
    part.unlisted = checked.unlisted + max(0, len(errors) - limits.problems)
    unused = crm_mapping.unused_columns(mapping, export.header)
    part.notices = [*converted.notices, *checked.notices]
    if unused:
        part.notices.append("Not imported (no field of ours takes them): "
                            + ", ".join(unused) + ".")
    return report


# --- saved mappings ------------------------------------------------------------------------

NAME_MAX = 100


def saved_mappings(*, session: Session, viewer: Viewer, tool: str) -> list[CrmMapping]:
    """The mappings saved for the tool, by name (a team shares them)."""
    require(viewer, WRITE_OPPORTUNITIES, "import opportunities")
    _tool(tool)
    return [_as_mapping(row) for row in session.scalars(
        select(ImportMapping).where(ImportMapping.tool == tool).order_by(ImportMapping.name))]


def save_mapping(*, session: Session, viewer: Viewer, name: str, mapping: CrmMapping) -> bool:
    """Save the mapping under `name` for the tool's next export; False when it was saved so.

    A name already saved for the tool is overwritten: saving is how a mapping is corrected.
    """
    require(viewer, WRITE_OPPORTUNITIES, "import opportunities")
    _tool(mapping.tool)
    clean = validate.text("mapping_name", name, max_len=NAME_MAX, required=True)
    columns = {f: c for f, c in mapping.columns.items() if f in crm_mapping.FIELDS and c}
    try:
        stages = crm_mapping.check_stage_map(mapping.stages)
    except ValueError as exc:
        raise ValidationError("stages", str(exc)) from None
    partner = validate.text("partner", mapping.partner, max_len=255)
    values = {"columns": columns, "stages": stages, "partner": partner}
    stored = session.scalar(select(ImportMapping).where(
        ImportMapping.tool == mapping.tool, ImportMapping.name == clean))
    if stored is None:
        stored = ImportMapping(tool=mapping.tool, name=clean, updated_by_id=viewer.id,
                               **values)
        session.add(stored)
        session.flush()
        audit.record(session, actor=viewer, action="create", entity_type="import_mapping",
                     entity_id=stored.id, new={"tool": mapping.tool, "name": clean, **values})
        return True
    old = {k: getattr(stored, k) for k in values}
    if old == values:
        return False
    for key, value in values.items():
        setattr(stored, key, value)
    stored.updated_by_id = viewer.id
    session.flush()
    audit.record(session, actor=viewer, action="update", entity_type="import_mapping",
                 entity_id=stored.id, old=old, new=values)
    return True


def _as_mapping(row: ImportMapping) -> CrmMapping:
    return CrmMapping(tool=row.tool, columns=dict(row.columns), stages=dict(row.stages),
                      partner=row.partner, name=row.name)


def _tool(tool: str) -> str:
    try:
        return crm_mapping.validate_tool(tool)
    except ValueError as exc:
        raise ValidationError("from", str(exc)) from None


def _mapping_problems(export: Export, mapping: CrmMapping, session: Session,
                      viewer: Viewer) -> list[importing.RowError]:
    """What is wrong with the mapping itself, as problems of the header (row 1)."""
    out = []
    label = crm_mapping.TOOL_LABELS[export.tool]

    def problem(column: str, reason: str) -> None:
        out.append(importing.RowError(1, column, reason, export.filename))

    for name, column in mapping.columns.items():
        if column and column not in export.header:
            problem(name, f"is mapped to {column!r}, which the file has no column named")
    used: dict[str, str] = {}
    for name, column in mapping.columns.items():
        if column and column in used:
            problem(name, f"{column!r} already feeds {used[column]}; a column feeds one field")
        elif column:
            used[column] = name
    for name in crm_mapping.REQUIRED:
        fallback = name == "customer_name" and mapping.columns.get("deal_name")
        if not mapping.columns.get(name) and not fallback:
            known = ", ".join(crm_mapping.KNOWN[export.tool].get(name, ())) or "none"
            problem(name, f"no column of the file is mapped to it ({label} names it: {known})")
    if not mapping.columns.get("partner"):
        if not mapping.partner:
            problem("partner", "no column of the file is mapped to it; map one (a Partner "
                               "column, or the account if your partners are the accounts) or "
                               "name one partner for every row")
        elif crm_mapping.name_key(mapping.partner) not in {
                crm_mapping.name_key(n)
                for n in partners.by_name(session=session, viewer=viewer)}:
            problem("partner", f"{mapping.partner!r}: no such partner among those you may "
                               "add deals to")
    try:
        crm_mapping.check_stage_map(mapping.stages)
    except ValueError as exc:
        problem("stage", str(exc))
    return out


def _people(session: Session) -> crm_mapping.People:
    return crm_mapping.People.of(session.execute(
        select(User.email, User.first_name, User.last_name)).tuples())


def _csv(converted: crm_mapping.Converted) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(converted.header)
    writer.writerows(converted.rows)
    return out.getvalue().encode()
