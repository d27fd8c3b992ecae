"""Import CSV and XLSX files in the formats of spec/IMPORT.md: checked whole, then all or nothing.

A file goes through three steps:

1. read: UTF-8 CSV (a byte-order mark is fine) or the first sheet of an .xlsx workbook; the
   header is matched case-insensitively, and an unknown or missing required column is an error.
   A file is bounded before it is read (`Limits`: its size, unpacked for a workbook, its
   rows, columns and cells), so no upload can pin a core or fill the memory; the text cells
   of a CSV lose the quote that guards them against spreadsheet formulas (isv.services.cells).
2. check: every cell goes through the field cleaner of the service that owns the field;
   references (a partner by name, a user by email) and natural keys are looked up in bulk, a
   few queries per file whatever its length; then the rules across fields (stage, close date
   and lost reason; deal-size band) and the viewer's scope. Every problem is kept, as
   `row N, column C: reason` (row 1 is the header).
3. write: only when nothing is wrong. Users, partners and commission structures go through
   their services' create_/update_ functions. Deals, stage history, goals and touches come in
   many rows: new ones are inserted in bulk (COPY on PostgreSQL) with the values and audit
   entries the services would write, and a changed deal goes through
   `opportunities.update_opportunity`.

Everything happens in a savepoint of the caller's transaction; a dry run, or a run with any
error, rolls it back, so the database is as it was. The caller commits (services never do).

A column that is present sets its field: an empty cell means null, or the column's default.
An optional column that is absent leaves an existing record's field alone and gives a new
record the default.
"""

from __future__ import annotations

import csv
import gc
import io
import json
import os
import threading
import uuid
import zipfile
from abc import ABC, abstractmethod
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal
from functools import partial
from itertools import chain, islice
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import openpyxl
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet._reader import FORMULA_TAG, VALUE_TAG, WorkSheetParser
from sqlalchemy import String, any_, bindparam, delete, func, insert, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session
from sqlalchemy.sql.sqltypes import JSON

from isv.auth import (
    MANAGE_USERS,
    OWN_WORK,
    TEAM_WRITE,
    WRITE_OPPORTUNITIES,
    WRITE_PARTNERS,
    Viewer,
    require,
)
from isv.config import get_settings
from isv.dates import local_zone
from isv.errors import Conflict, Forbidden, IsvError, NotFound, ValidationError
from isv.models import (
    ACTIVITY_TYPES,
    CLOSED_STAGES,
    GOAL_TYPES,
    STAGES,
    AuditEntry,
    CommissionStructure,
    Opportunity,
    Partner,
    PartnerActivity,
    QuarterlyGoal,
    StageHistory,
    User,
)
from isv.services import audit, commissions, partners, scope, users, validate
from isv.services import opportunities as opps
from isv.services.cells import QUOTE, unguard
from isv.services.partners import NOTES_MAX
from isv.services.settings import current_settings
from isv.types import utcnow

# --- the formats (spec/IMPORT.md) ----------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of an import/export file.

    `kind` says how an .xlsx cell is read and written: text, flag, money (also percentages),
    whole (a whole number), date or timestamp.
    """

    name: str
    required: bool = False
    kind: str = "text"


def _c(name: str, kind: str = "text") -> Column:
    return Column(name, False, kind)


def _r(name: str, kind: str = "text") -> Column:
    return Column(name, True, kind)


# In the order of IMPORT.md; exports write them in this order too.
COLUMNS: dict[str, tuple[Column, ...]] = {
    "users": (_r("email"), _r("first_name"), _r("last_name"), _r("role"),
              _c("is_active", "flag")),
    "partners": (_r("name"), _r("domain"), _c("website"), _c("primary_contact_name"),
                 _c("primary_contact_email"), _c("relationship_health"), _c("owner_email"),
                 _c("notes")),
    "commissions": (_r("partner"), _r("structure_type"), _r("commission_percentage", "money"),
                    _c("is_lifetime", "flag"), _c("min_deal_size", "money"),
                    _c("max_deal_size", "money"), _r("effective_from", "date"),
                    _c("effective_to", "date"), _c("notes")),
    "opportunities": (_c("external_id"), _r("partner"), _r("customer_name"),
                      _c("customer_contact_email"), _r("deal_value", "money"), _r("stage"),
                      _c("probability", "money"), _c("expected_close_date", "date"),
                      _c("actual_close_date", "date"), _c("owner_email"), _c("lost_reason"),
                      _c("notes"), _c("created_at", "timestamp")),
    "stage_history": (_r("opportunity_external_id"), _c("from_stage"), _r("to_stage"),
                      _r("changed_at", "timestamp"), _c("changed_by_email"), _c("notes")),
    "goals": (_r("user_email"), _r("year", "whole"), _r("quarter", "whole"), _c("goal_type"),
              _r("revenue_target", "money"), _c("current_progress", "money"), _c("notes")),
    "activities": (_r("partner"), _r("activity_type"), _r("occurred_on", "date"),
                   _c("user_email"), _c("summary")),
}
# Also the order `import all` loads them in: each refers only to those before it.
ENTITIES: tuple[str, ...] = tuple(COLUMNS)
NATURAL_KEYS: dict[str, str] = {
    "users": "email",
    "partners": "name",
    "commissions": "partner, structure_type, effective_from and min_deal_size",
    "opportunities": "external_id (a row without one is always a new deal)",
    "stage_history": "opportunity_external_id, changed_at and to_stage",
    "goals": "user_email, year, quarter and goal_type",
    "activities": "partner, occurred_on, activity_type and summary",
}
FILE = "(file)"  # the column named in a problem with the file as a whole
Progress = Callable[[str, int, int], None]  # (what is happening, rows done, rows in all)

_CHUNK = 500      # keys per IN (...) lookup: well inside every database's parameter limit
_TICK = 1000      # rows between two progress reports
_INSERT_CHUNK = 5000
_ANALYZE_AFTER = 10_000  # rows bulk-inserted into a PostgreSQL table before re-analyzing it


@dataclass(frozen=True)
class Limits:
    """How large a file the importer reads at all; a larger one is refused before its rows are.

    The defaults (ISV_IMPORT_MAX_* in the environment) hold a team's whole CRM export: 100,000
    deals are a 16 MB CSV, a workbook of them unpacks to 60 MB.
    """

    rows: int          # data rows, the header not counted (200,000)
    columns: int       # the header's width; every entity has at most 13 columns (100)
    cell_chars: int    # characters in one cell: Excel's own limit (32,767)
    megabytes: int     # a CSV file's size; a workbook's size unpacked (256)
    problems: int      # problems listed per file; the rest are only counted (1,000)

    @classmethod
    def configured(cls) -> Limits:
        settings = get_settings()
        return cls(rows=settings.import_max_rows, columns=settings.import_max_columns,
                   cell_chars=settings.import_max_cell_chars,
                   megabytes=settings.import_max_megabytes,
                   problems=settings.import_max_problems)

    @property
    def bytes(self) -> int:
        return self.megabytes * 1024 * 1024


def importable_entities(viewer: Viewer) -> tuple[str, ...]:
    """List the entities the viewer's role may import at all (scope still applies per row)."""
    return tuple(e for e in ENTITIES if viewer.can(_PERMISSION[e][0]))


# --- what comes back ---------------------------------------------------------------------

@dataclass(frozen=True)
class RowError:
    """One problem: `row N, column C: reason`; row 1 is the header."""

    row: int
    column: str
    reason: str
    file: str = ""

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.reason}"


@dataclass
class EntityReport:
    """What one file did, or would do on a dry run."""

    entity: str
    file: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    unlisted: int = 0  # problems found beyond the first Limits.problems, counted only
    notices: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.entity}: {self.created:,} created, {self.updated:,} updated, "
                f"{self.unchanged:,} unchanged")


@dataclass
class ImportReport:
    """The outcome of an import: nothing was written unless `written` is true."""

    dry_run: bool
    entities: list[EntityReport] = field(default_factory=list)
    file_errors: list[RowError] = field(default_factory=list)

    @property
    def errors(self) -> list[RowError]:
        """The problems listed: at most Limits.problems per file."""
        return [*self.file_errors, *(e for report in self.entities for e in report.errors)]

    @property
    def error_count(self) -> int:
        """Every problem found, listed or only counted."""
        return len(self.errors) + sum(report.unlisted for report in self.entities)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def written(self) -> bool:
        return self.ok and not self.dry_run

    def error_lines(self, *, with_file: bool | None = None) -> list[str]:
        """Every problem as a line; prefixed with its file when several files were read."""
        if with_file is None:
            with_file = len(self.entities) > 1 or bool(self.file_errors)
        lines = [f"{e.file}: {e}" if with_file and e.file else str(e)
                 for e in self.file_errors]
        for report in self.entities:
            lines += [f"{e.file}: {e}" if with_file and e.file else str(e)
                      for e in report.errors]
            if report.unlisted:
                more = (f"and {report.unlisted:,} more problem"
                        f"{'s' if report.unlisted != 1 else ''} (only the first "
                        f"{len(report.errors):,} of a file are listed)")
                lines.append(f"{report.file}: {more}" if with_file else more)
        return lines


class ImportRejected(IsvError):
    """An import found problems and wrote nothing; the report lists every one."""

    def __init__(self, report: ImportReport):
        count = report.error_count
        super().__init__(f"{count:,} problem{'s' if count != 1 else ''}; nothing was imported")
        self.report = report


# --- reading files -----------------------------------------------------------------------

class _FileProblem(Exception):
    """The file cannot be read on: a problem of the file as a whole, or of one of its cells."""

    def __init__(self, row: int, reason: str, position: int | None = None):
        super().__init__(reason)
        self.row = row
        self.reason = reason
        self.position = position  # the cell's place in its row (0 is the first), when known


@dataclass
class _Row:
    number: int             # as users count: 1 is the header
    cells: dict[str, str]   # column → text, for the columns the file has


# What a reader yields for each row: its number (1 is the header), its values up to the
# header's width, and the place (1 is the first) of its first value beyond that width.
_Record = tuple[int, list[Any], int | None]
_Tick = Callable[[int, int], None]  # (rows read, rows in the file as far as known)

NO_SAVED_VALUE = ("a formula without a saved value; open the file in a spreadsheet, save it, "
                  "and import again")
NUL = "contains a NUL character (byte 0), which no text may hold; remove it"


class _NoSavedValue:
    """A formula cell whose file holds no computed value (openpyxl, for one, writes none)."""


_NO_SAVED_VALUE = _NoSavedValue()


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _size(count: int) -> str:
    return f"{count / 2**20:,.1f} MB"


def _too_large(what: str, size: int, limits: Limits) -> _FileProblem:
    return _FileProblem(1, f"{what} {_size(size)}; at most {limits.megabytes:,} MB can be "
                           "imported at once: split it into smaller files")


def _too_many_rows(rows: int | None, limits: Limits, where: str) -> _FileProblem:
    has = f"more than {limits.rows:,}" if rows is None else f"{rows:,}"
    return _FileProblem(1, f"{where} has {has} rows besides the header; at most "
                           f"{limits.rows:,} can be imported at once: split it into smaller "
                           "files")


def _too_wide(columns: int, limits: Limits, where: str = "the header") -> _FileProblem:
    return _FileProblem(1, f"{where} has {columns:,} columns; at most {limits.columns:,} can "
                           "be read (each kind of record has at most "
                           f"{max(len(c) for c in COLUMNS.values())})")


def _beyond(record: list[Any], width: int) -> int | None:
    """The place (1 is the first) of the first value past `width`, or None."""
    for position in range(width, len(record)):
        if not _blank(record[position]):
            return position + 1
    return None


def _csv_records(data: bytes, limits: Limits, tick: _Tick) -> Iterator[_Record]:
    """A CSV file's records, refused whole when it is larger than the limits allow."""
    if len(data) > limits.bytes:
        raise _too_large("the file is", len(data), limits)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise _FileProblem(1, f"is not UTF-8 text (byte 0x{data[exc.start]:02x} on line "
                              f"{line}); save it as CSV UTF-8") from None
    lines = text.count("\n")
    if lines > limits.rows + 1:
        # More lines than rows allowed, but a cell may hold line breaks: count the records
        # (in C, keeping none of them) before a single row is read.
        rows = _count_records(text) - 1
        if rows > limits.rows:
            raise _too_many_rows(rows, limits, "the file")
    reader = csv.reader(io.StringIO(text, newline=""))
    number = width = 0
    record: list[str] = []
    starts = opens = 1  # the lines the last record and the next one start on
    try:
        for number, record in enumerate(reader, start=1):
            starts, opens = opens, reader.line_num + 1
            if number == 1:
                width = len(record)
                if width > limits.columns:
                    raise _too_wide(width, limits)
                yield number, record, None
                continue
            if number - 1 > limits.rows:  # a file of lone carriage returns escaped the count
                raise _too_many_rows(None, limits, "the file")
            if (number - 1) % _TICK == 0:
                tick(number - 1, lines - 1)
            if len(record) > width:
                yield number, record[:width], _beyond(record, width)
            else:
                yield number, record, None
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise _FileProblem(number + 1, f"a cell holds more than {csv.field_size_limit():,} "
                                           f"characters; at most {limits.cell_chars:,} are "
                                           "allowed (a quote that is never closed takes in "
                                           "the rest of the file)") from None
        raise _FileProblem(number + 1, f"cannot be read as CSV: {exc}") from None
    if number and _unterminated(text, starts):
        raise _FileProblem(number, f"the quote that opens this cell, on line {starts:,}, is "
                                   "never closed, so the rest of the file was read into it; "
                                   'close it, and write a quote inside a quoted cell as two ("")',
                           position=len(record) - 1)


def _count_records(text: str) -> int:
    try:
        return sum(1 for _ in csv.reader(io.StringIO(text, newline="")))
    except csv.Error:
        return 0  # reading the file reports it, with its row


def _unterminated(text: str, start: int) -> bool:
    """Whether the last record, from line `start`, ends inside a quoted cell.

    Read leniently (as spreadsheets write CSV), such a cell quietly takes in the rest of the
    file; read strictly, the same text ends too early."""
    if '"' not in text:
        return False
    tail = "".join(islice(io.StringIO(text, newline=""), start - 1, None))
    try:
        for _ in csv.reader(io.StringIO(tail, newline=""), strict=True):
            pass
    except csv.Error as exc:
        return str(exc) == "unexpected end of data"
    return False


class _SheetParser(WorkSheetParser):
    """openpyxl's sheet parser, telling a formula without a saved value from an empty cell.

    Read for values, both are None, and the import would take the formula's cell as empty.
    A formula's saved value is its <v> element; an empty one is a value only for a formula
    of text (t="str"): the empty text. openpyxl writes an empty <v> for every formula.
    """

    def parse_cell(self, element: Any) -> dict[str, Any]:
        cell = super().parse_cell(element)
        if cell["value"] is None and element.find(FORMULA_TAG) is not None and (
                element.find(VALUE_TAG) is None or element.get("t") != "str"):
            cell["value"] = _NO_SAVED_VALUE
        return cell


_NOT_XLSX = (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError)


def _xlsx_records(data: bytes, limits: Limits, tick: _Tick) -> Iterator[_Record]:
    """The rows of a workbook's first sheet, refused whole when larger than the limits allow.

    Read as openpyxl reads them, but not padded: openpyxl makes every row as wide as the sheet
    declares itself, and adds every missing row up to its declared height, so a 1.7 KB file
    declaring A1:XFD1048576 is 17 billion cells. Here the unpacked size (a zip's members say
    it before they are unpacked) and the declared size are checked first, and each row holds
    only the cells the file has, up to the header's width.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except _NOT_XLSX as exc:
        raise _FileProblem(1, f"is not an .xlsx workbook ({type(exc).__name__})") from None
    if unpacked > limits.bytes:
        raise _too_large("the workbook unpacks to", unpacked, limits)
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except _NOT_XLSX as exc:
        raise _FileProblem(1, f"is not an .xlsx workbook ({type(exc).__name__})") from None
    try:
        if not book.worksheets:
            raise _FileProblem(1, "the workbook has no sheets")
        yield from _sheet_records(book, book.worksheets[0], limits, tick)
    finally:
        book.close()


def _sheet_records(book: Any, sheet: Any, limits: Limits, tick: _Tick) -> Iterator[_Record]:
    height, width = sheet.max_row, sheet.max_column  # as the sheet declares them, if it does
    if height is not None and width is not None:
        used = (f"{get_column_letter(sheet.min_column)}{sheet.min_row}:"
                f"{get_column_letter(width)}{height}")
        if height - 1 > limits.rows:
            raise _too_many_rows(height - 1, limits, f"the sheet (its used range is {used})")
        if width > limits.columns:
            raise _too_wide(width, limits, f"the sheet (its used range is {used})")
    with sheet._get_source() as source:
        parser = _SheetParser(source, sheet._shared_strings, data_only=True, epoch=book.epoch,
                              date_formats=book._date_formats,
                              timedelta_formats=book._timedelta_formats)
        header: int | None = None  # the header's width, once read
        read = 0
        for number, cells in parser.parse():
            read += 1
            if header is None:
                # The header is row 1: a sheet whose first row is empty has an empty header.
                named = [c for c in cells if not _blank(c["value"])] if number == 1 else []
                header = max((c["column"] for c in named), default=0)
                if header > limits.columns:
                    raise _too_wide(header, limits)
                values: list[Any] = [None] * header
                for cell in named:
                    values[cell["column"] - 1] = cell["value"]
                yield 1, values, None
                if number == 1:
                    continue
            if number - 1 > limits.rows or read - 1 > limits.rows:
                raise _too_many_rows(None, limits, "the sheet")
            if (read - 1) % _TICK == 0 and read > 1:
                tick(read - 1, (height or 1) - 1)
            values = [None] * header
            beyond = None
            for cell in cells:
                column = cell["column"]
                if column <= header:
                    values[column - 1] = cell["value"]
                elif beyond is None and not _blank(cell["value"]):
                    beyond = column
            yield number, values, beyond


def _cell_text(value: Any, kind: str) -> str:
    """A cell as the text a CSV would hold, so CSV and XLSX go through the same checks."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        if kind == "date" and value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, float):
        # Excel keeps numbers as floats: 2026.0 is the year 2026; repr is the shortest text
        # that reads back as the same number, so 1234.5 stays 1234.5.
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


# How a CSV cell after the first that starts with a quote begins: after a comma or a line
# break, perhaps inside the double quotes that enclose it.
_QUOTED_CELL_STARTS = tuple(before + enclosed + b"'" for before in (b",", b"\n", b"\r")
                            for enclosed in (b"", b'"'))


def _cell_problem(value: Any, limits: Limits) -> str | None:
    """What makes a cell unreadable whatever its column: a formula with no value, a NUL, its
    length."""
    if value is _NO_SAVED_VALUE:
        return NO_SAVED_VALUE
    if isinstance(value, str):
        if "\x00" in value:
            return NUL
        if len(value) > limits.cell_chars:
            return (f"holds {len(value):,} characters; a cell holds at most "
                    f"{limits.cell_chars:,}")
    return None


def _read(entity: str, data: bytes, filename: str, errors: _Errors, limits: Limits,
          progress: Progress | None = None) -> list[_Row] | None:
    """The file's data rows, keyed by column; None when the file or its header is unusable."""
    suffix = Path(filename).suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        errors.add(1, FILE, f"{filename!r} is neither .csv nor .xlsx")
        return None
    as_text = suffix == ".csv"  # CSV cells are text already; workbook cells are typed

    def tick(done: int, total: int) -> None:
        # Also where an abandoned upload stops: the page's progress bar raises there.
        if progress is not None:
            progress("Reading the file", done, max(done, total))

    records = (_csv_records if as_text else _xlsx_records)(data, limits, tick)
    # Only a CSV cell can hold a NUL (XML cannot); most files hold none, and are not searched.
    odd_cells = not as_text or b"\x00" in data
    # Nor a cell guarded against formulas (a quote at its start): most files have none.
    quoted = as_text and any(start in data for start in _QUOTED_CELL_STARTS)
    columns = {c.name: c for c in COLUMNS[entity]}
    header: list[Any] = []
    index: dict[int, Column] = {}
    try:
        first = next(records, None)
        if first is None:
            errors.add(1, FILE, "the file is empty; its first row must name the columns")
            return None
        _, header, _ = first
        names = ["" if h is None or h is _NO_SAVED_VALUE else str(h).strip().lower()
                 for h in header]
        if len(names) == 1 and ";" in names[0]:
            errors.add(1, FILE, "the columns are separated by semicolons; save the file as "
                                "CSV with commas (CSV UTF-8 in Excel)")
            return None
        for position, name in enumerate(names):
            if header[position] is _NO_SAVED_VALUE:
                errors.add(1, FILE, f"cell {position + 1} of the header is {NO_SAVED_VALUE}")
            if not name:
                continue  # a nameless column is fine as long as it stays empty (see below)
            if name not in columns:
                errors.add(1, str(header[position]).strip(),
                           f"unknown column; {entity} has {', '.join(columns)}")
            elif name in (c.name for c in index.values()):
                errors.add(1, name, "appears twice")
            else:
                index[position] = columns[name]
        for column in COLUMNS[entity]:
            if column.required and column not in index.values():
                errors.add(1, column.name, "required column is missing")
        if errors.items:
            return None
        guarded = [column.name for column in index.values() if column.kind == "text"]
        rows = []
        for number, record, beyond in records:
            if beyond is None and all(_blank(v) for v in record):
                continue  # spreadsheets leave empty lines; they carry nothing
            extra = [p for p in range(len(record)) if p not in index and not _blank(record[p])]
            if extra or beyond is not None:
                cell = extra[0] + 1 if extra else beyond
                where = (f"beyond the {len(header)} columns of the header"
                         if cell > len(header) else "whose column has no name")
                errors.add(number, FILE, f"has a value in cell {cell:,}, {where}")
                continue
            # The row's length first: far quicker, and only a long row can hold a long cell.
            if (odd_cells or len("".join(record)) > limits.cell_chars) \
                    and _cell_problems(number, record, index, limits, errors):
                continue
            if as_text:
                cells = {column.name: record[p] if p < len(record) else ""
                         for p, column in index.items()}
                if quoted:
                    for name in guarded:
                        if cells[name][:1] == QUOTE:
                            cells[name] = unguard(cells[name])
            else:
                cells = {column.name: _cell_text(record[p] if p < len(record) else None,
                                                 column.kind)
                         for p, column in index.items()}
            rows.append(_Row(number, cells))
        return rows
    except _FileProblem as exc:
        column = index.get(exc.position) if exc.position is not None else None
        errors.add(exc.row, column.name if column else FILE, exc.reason)
        return None
    finally:
        records.close()


def _cell_problems(number: int, record: list[Any], index: dict[int, Column], limits: Limits,
                   errors: _Errors) -> bool:
    """Note every unreadable cell of a row; True when there was one."""
    found = False
    for position, column in index.items():
        problem = _cell_problem(record[position], limits) if position < len(record) else None
        if problem:
            errors.add(number, column.name, problem)
            found = True
    return found


# --- checking ------------------------------------------------------------------------------

_BAD = object()  # a cell that failed its check


class _Errors:
    """The problems of one file, in the order found: the first `limit` listed, the rest counted.

    A file can hold millions of problems; listing them all would fill the memory, and the
    page would send them all to the browser.
    """

    def __init__(self, file: str, limit: int):
        self.file = file
        self.limit = limit
        self.items: list[RowError] = []
        self.unlisted = 0

    def add(self, row: int, column: str, reason: str) -> None:
        if len(self.items) < self.limit:
            self.items.append(RowError(row, column, reason, self.file))
        else:
            self.unlisted += 1

    def attempt(self, row: int, column: str, fn: Callable[..., Any], *args: Any,
                fields: dict[str, str] | None = None, **kwargs: Any) -> Any:
        """Call a cleaner or rule; on refusal note the problem and return _BAD."""
        try:
            return fn(*args, **kwargs)
        except ValidationError as exc:
            self.add(row, _column_of(exc.field, column, fields), exc.reason)
        except (Forbidden, NotFound, Conflict) as exc:
            self.add(row, column, str(exc))
        return _BAD

    @contextmanager
    def for_row(self, row: int, column: str, fields: dict[str, str]) -> Iterator[None]:
        """Report a service's refusal while writing a row as a problem of that row."""
        try:
            yield
        except ValidationError as exc:
            self.add(row, _column_of(exc.field, column, fields), exc.reason)
        except (Forbidden, NotFound, Conflict) as exc:
            self.add(row, column, str(exc))


def _column_of(field_name: str, default: str, fields: dict[str, str] | None) -> str:
    """The file column a service's field name stands for (owner_id is owner_email ...)."""
    return fields.get(field_name, default) if fields else default


def _first_seen(errors: _Errors, seen: dict[Any, int], key: Any, row: int, column: str,
                what: str) -> bool:
    """False (and a problem noted) when an earlier row of the file has the same natural key."""
    if key in seen:
        errors.add(row, column, f"same {what} as row {seen[key]}; each may appear once")
        return False
    seen[key] = row
    return True


def _required(field_name: str, fn: Callable[[str], Any]) -> Callable[[str], Any]:
    def check(text: str) -> Any:
        if _blank(text):
            raise ValidationError(field_name, "is required")
        return fn(text)
    return check


def _whole(field_name: str, low: int, high: int) -> Callable[[str], int]:
    def check(text: str) -> int:
        try:
            number = int(text.strip())
        except ValueError:
            raise ValidationError(field_name, f"{text!r} is not a whole number") from None
        if not low <= number <= high:
            raise ValidationError(field_name, f"must be from {low} to {high}")
        return number
    return _required(field_name, check)


def _chunks(items: Iterable[Any]) -> Iterator[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == _CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def _among(session: Session, column: Any, values: Iterable[Any]) -> Iterator[Any]:
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


@dataclass
class _Run:
    """What an import reads once, not per row: the clock, the time zone, the settings."""

    session: Session
    viewer: Viewer
    progress: Progress | None
    now: datetime
    today: date
    zone: ZoneInfo
    probabilities: Mapping[str, Any]  # the stages' default probabilities in force

    def tick(self, what: str, done: int, total: int) -> None:
        if self.progress is not None and (done % _TICK == 0 or done == total):
            self.progress(what, done, total)


@dataclass
class _Plan:
    """What to do with one row: create a record, update one (with these changes), or nothing."""

    row: int
    action: str              # create | update | unchanged
    values: dict[str, Any]   # create: every field; update: the fields that change
    target: Any = None       # the existing record (update, unchanged)


def _plan(row: int, target: Any, changes: dict[str, Any]) -> _Plan:
    return _Plan(row, "update" if changes else "unchanged", changes, target)


def _changes(current: Any, values: dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    return {f: values[f] for f in fields if f in values and getattr(current, f) != values[f]}


# --- lookups: a few queries per file ----------------------------------------------------

def _users_by_email(session: Session, emails: Iterable[str | None]) -> dict[str, User]:
    found: dict[str, User] = {}
    for match in _among(session, func.lower(User.email, type_=String),
                        {e for e in emails if e}):
        for user in session.scalars(select(User).where(match)):
            found[user.email.lower()] = user
    return found


def _partners_by_name(session: Session, viewer: Viewer) -> dict[str, Partner]:
    """The partners the viewer may see, by lower-case name.

    Compared in Python: SQLite's lower() leaves non-ASCII letters alone, so "Ärzte" would
    never match "ärzte" in SQL there.
    """
    return {p.name.lower(): p for p in session.scalars(
        select(Partner).where(scope.partners_visible(viewer)))}


@dataclass(frozen=True)
class _PartnerOwner:
    owner_id: uuid.UUID | None


@dataclass(frozen=True)
class _Deal:
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


def _deals_by_key(session: Session, keys: Iterable[str]) -> dict[str, _Deal]:
    """Deals named by external_id, or by their own id when they have no external_id."""
    keys = set(keys)
    base = select(*_DEAL_COLUMNS).join(Partner, Partner.id == Opportunity.partner_id)
    found: dict[str, _Deal] = {}
    for match in _among(session, Opportunity.external_id, keys):
        for r in session.execute(base.where(match)):
            found[r[1]] = _Deal(*r)
    by_id: dict[uuid.UUID, str] = {}
    for key in keys - set(found):
        if len(key) < 32:  # shorter than any id's text: no need to try (and raise) at all
            continue
        try:
            by_id[uuid.UUID(key)] = key
        except ValueError:
            continue
    for match in _among(session, Opportunity.id, by_id):
        for r in session.execute(base.where(match,
                                            Opportunity.external_id.is_(None))):
            deal = _Deal(*r)
            found[by_id[deal.id]] = deal
    return found


# --- bulk writes --------------------------------------------------------------------------

class _JsonText(str):
    """A JSON column's value already encoded: _insert_rows writes it as it is."""


class _JsonEncoder:
    """`json.dumps(value, default=audit.plain)`, faster for the hundreds of thousands of audit
    entries of a large import: one encoder for all of them, and the text of each id and day
    kept, since a file names the same partners, people and days again and again."""

    _KEPT = 10_000  # texts kept at most

    def __init__(self) -> None:
        self._texts: dict[Any, str] = {}
        self._encoder = json.JSONEncoder(default=self._plain)

    def _plain(self, value: Any) -> Any:
        # Exact types only: equal datetimes in different zones, or equal decimals with
        # different exponents, have different texts.
        if type(value) not in (uuid.UUID, date):
            return audit.plain(value)
        text = self._texts.get(value)
        if text is None:
            text = audit.plain(value)
            if len(self._texts) < self._KEPT:
                self._texts[value] = text
        return text

    def __call__(self, value: Any) -> _JsonText:
        return _JsonText(self._encoder.encode(value))


def _insert_rows(session: Session, model: type, rows: Iterable[dict[str, Any]]) -> None:
    """Insert many rows: COPY on PostgreSQL, batched executemany elsewhere (same values).

    `rows` may be a generator: on PostgreSQL each row is built while the server is still
    loading the ones before it, so the two processes work side by side.
    """
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        return
    session.flush()
    table = model.__table__
    rows = chain((first,), rows)
    if session.get_bind().dialect.name == "postgresql":
        columns = list(first)
        as_json = {c for c in columns if isinstance(table.c[c].type, JSON)}
        names = ", ".join(f'"{c}"' for c in columns)
        driver = session.connection().connection.driver_connection
        encode = _JsonEncoder()  # the text audit.record would store, made much faster
        count = 0
        with driver.cursor() as cursor, cursor.copy(
                f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            for row in rows:
                count += 1
                copy.write_row([encode(row[c]) if c in as_json and row[c] is not None
                                and not isinstance(row[c], _JsonText) else row[c]
                                for c in columns])
        if count >= _ANALYZE_AFTER and model is not AuditEntry:
            # The planner still thinks the table is as small as before the load and would
            # plan the statements after it for that (the history of `import all` after its
            # deals, the updates that follow); ANALYZE sees this transaction's rows, in 0.2 s
            # at 100,000. The audit log is never looked up by an import, and its JSON makes
            # ANALYZE slow (0.6 s at 100,000 entries): autovacuum brings its statistics up
            # to date.
            session.execute(text(f'ANALYZE "{table.name}"'))
        return
    as_json = [c.name for c in table.c if isinstance(c.type, JSON)]
    statement = insert(table)
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append({**row, **{c: json.loads(row[c]) if isinstance(row[c], _JsonText)
                                else audit.plain(row[c]) for c in as_json if c in row}}
                     if as_json else row)
        if len(batch) == _INSERT_CHUNK:
            session.execute(statement, batch)
            batch = []
    if batch:
        session.execute(statement, batch)


def _new_ids() -> Iterator[uuid.UUID]:
    """Random (version 4) ids as uuid.uuid4 makes them, endlessly, from one read of the OS's
    randomness per thousand instead of one per id: a large import makes hundreds of
    thousands, each one as it is needed (while PostgreSQL loads the rows before it)."""
    while True:
        raw = os.urandom(16 * 1024)
        for i in range(0, len(raw), 16):
            yield uuid.UUID(bytes=raw[i:i + 16], version=4)


def _audit_row(run: _Run, action: str, entity_type: str, entity_id: Any,
               old: dict | None = None, new: dict | _JsonText | None = None,
               entry_id: uuid.UUID | None = None) -> dict[str, Any]:
    """An audit entry as audit.record would add it, for _insert_rows (which makes the values
    JSON-safe the way audit.plain does)."""
    return dict(id=entry_id or uuid.uuid4(), at=run.now, actor_id=run.viewer.id,
                actor_email=run.viewer.email, action=action, entity_type=entity_type,
                entity_id=str(entity_id), old_values=old or None, new_values=new or None)


# --- the entities ----------------------------------------------------------------------------

@dataclass
class _Cleaned:
    """A row after its cells' checks: the values that passed and the columns that did not.

    Rules that need only good cells still run for a row with bad ones (an unknown partner is
    reported even when the amount in the same row is negative); the row is written only
    when nothing in it is wrong.
    """

    row: _Row
    values: dict[str, Any]
    bad: set[str]

    @property
    def number(self) -> int:
        return self.row.number


class _Entity(ABC):
    """How one entity's rows are checked and written."""

    name: str
    key_column: str                  # where a problem with the record as a whole is reported
    fields: dict[str, str] = {}      # service field name → file column
    notice: str | None = None        # something the person importing should know

    @abstractmethod
    def check(self, run: _Run, rows: list[_Row], errors: _Errors) -> list[_Plan]:
        """Clean every row, collecting every problem, and plan what to write."""

    @abstractmethod
    def write(self, run: _Run, plans: list[_Plan], errors: _Errors) -> None:
        """Write the planned rows."""

    def _cleaned(self, run: _Run, rows: list[_Row], errors: _Errors,
                 cleaners: dict[str, Callable[[str], Any]]) -> list[_Cleaned]:
        # What each cleaner makes of an empty cell, worked out once: large files are mostly
        # empty optional cells, and the answer never depends on the row.
        empty: dict[str, tuple[bool, Any]] = {}
        for column, cleaner in cleaners.items():
            try:
                empty[column] = (True, cleaner(""))
            except ValidationError as exc:
                empty[column] = (False, exc.reason)
        out = []
        for done, row in enumerate(rows, start=1):
            values: dict[str, Any] = {}
            bad: set[str] = set()
            for column, cell in row.cells.items():
                if not cell or cell.isspace():
                    ok, outcome = empty[column]
                    if ok:
                        values[column] = outcome
                    else:
                        errors.add(row.number, column, outcome)
                        bad.add(column)
                    continue
                # Inlined rather than errors.attempt: this runs for every cell of large files.
                try:
                    values[column] = cleaners[column](cell)
                except ValidationError as exc:
                    errors.add(row.number, column, exc.reason)
                    bad.add(column)
            out.append(_Cleaned(row, values, bad))
            run.tick(f"Checking {self.name}", done, len(rows))
        return out


def _person(errors: _Errors, c: _Cleaned, column: str, people: dict[str, User],
            field_name: str) -> bool:
    """Replace an email cell by the user's id under `field_name`; False when no such user."""
    if column not in c.values:
        return column not in c.bad
    email = c.values.pop(column)
    person = people.get(email) if email else None
    if email and person is None:
        errors.add(c.number, column, f"no user with email {email!r}")
        return False
    c.values[field_name] = person.id if person else None
    return True


class _Users(_Entity):
    name, key_column = "users", "email"
    fields = {"email": "email", "first_name": "first_name", "last_name": "last_name",
              "role": "role", "is_active": "is_active"}
    CHANGEABLE = ("first_name", "last_name", "role", "is_active")

    def check(self, run, rows, errors):
        cleaners = {name: partial(users.clean_field, name)
                    for name in ("email", "first_name", "last_name", "role")}
        cleaners["is_active"] = lambda v: True if _blank(v) else commissions.flag("is_active", v)
        cleaned = self._cleaned(run, rows, errors, cleaners)
        stored = _users_by_email(run.session, (c.values.get("email") for c in cleaned))
        seen: dict[Any, int] = {}
        plans = []
        for c in cleaned:
            v = c.values
            if "email" in v and not _first_seen(errors, seen, v["email"], c.number, "email",
                                                "email"):
                continue
            if c.bad:
                continue
            user = stored.get(v["email"])
            if user is None:
                plans.append(_Plan(c.number, "create", {"is_active": True, **v}))
            else:
                plans.append(_plan(c.number, user, _changes(user, v, self.CHANGEABLE)))
        return plans

    def write(self, run, plans, errors):
        for plan in plans:
            with errors.for_row(plan.row, self.key_column, self.fields):
                if plan.action == "create":
                    users.create_user(session=run.session, viewer=run.viewer, **plan.values)
                    continue
                names = {k: v for k, v in plan.values.items() if k != "is_active"}
                if names:
                    users.update_user(session=run.session, viewer=run.viewer,
                                      user_id=plan.target.id, **names)
                if "is_active" in plan.values:
                    users.set_active(session=run.session, viewer=run.viewer,
                                     user_id=plan.target.id, active=plan.values["is_active"])


class _Partners(_Entity):
    name, key_column = "partners", "name"
    fields = {"owner_id": "owner_email", **{f: f for f in partners.PARTNER_FIELDS
                                            if f != "owner_id"}}

    def check(self, run, rows, errors):
        session = run.session
        cleaners = {name: partial(partners.clean_field, session, name)
                    for name in partners.PARTNER_FIELDS if name != "owner_id"}
        cleaners["relationship_health"] = lambda v: partners.clean_field(
            session, "relationship_health", "healthy" if _blank(v) else v)
        cleaners["owner_email"] = partial(validate.email, "owner_email")
        cleaned = self._cleaned(run, rows, errors, cleaners)
        owners = _users_by_email(session, (c.values.get("owner_email") for c in cleaned))
        stored = _partners_by_name(session, run.viewer)
        seen: dict[Any, int] = {}
        plans = []
        for c in cleaned:
            v = c.values
            if "name" in v and not _first_seen(errors, seen, v["name"].lower(), c.number,
                                               "name", "name"):
                continue
            ok = _person(errors, c, "owner_email", owners, "owner_id") and not c.bad
            if ok and "owner_id" in v:
                # The owner rules (active, a role that may own partners) are the service's.
                owner_id = errors.attempt(c.number, "owner_email", partners.clean_field,
                                          session, "owner_id", v["owner_id"],
                                          fields=self.fields)
                ok = owner_id is not _BAD
            if not ok:
                continue
            partner = stored.get(v["name"].lower())
            if partner is None:
                plans.append(_Plan(c.number, "create", v))
            elif errors.attempt(c.number, "name", partners.check_partner_writable,
                                run.viewer, partner) is not _BAD:
                # The name is the key: "ledgerline" finds "Ledgerline" and leaves it so.
                plans.append(_plan(c.number, partner, _changes(
                    partner, v, [f for f in partners.PARTNER_FIELDS if f != "name"])))
        return plans

    def write(self, run, plans, errors):
        for plan in plans:
            with errors.for_row(plan.row, self.key_column, self.fields):
                if plan.action == "create":
                    partners.create_partner(session=run.session, viewer=run.viewer,
                                            **plan.values)
                else:
                    partners.update_partner(session=run.session, viewer=run.viewer,
                                            partner_id=plan.target.id, **plan.values)


def _partner_to_change(errors: _Errors, c: _Cleaned, visible: dict[str, Partner],
                       viewer: Viewer) -> Partner | None:
    """The partner a row names, if the viewer may see and change it; else None (reported)."""
    if "partner" not in c.values:
        return None
    partner = visible.get(c.values["partner"].lower())
    if partner is None:
        errors.add(c.number, "partner", "no such partner among those you may see")
        return None
    if errors.attempt(c.number, "partner", partners.check_partner_writable, viewer,
                      partner) is _BAD:
        return None
    return partner


def _ids_of(partners_by_name: dict[str, Partner], cleaned: list[_Cleaned]) -> set[uuid.UUID]:
    names = {c.values["partner"].lower() for c in cleaned if "partner" in c.values}
    return {partners_by_name[n].id for n in names if n in partners_by_name}


class _Commissions(_Entity):
    name, key_column = "commissions", "partner"
    fields = {f: f for f in commissions.STRUCTURE_FIELDS} | {"partner_id": "partner",
                                                              "structure_id": "partner"}
    DEFAULTS = {"is_lifetime": False, "min_deal_size": Decimal("0.00"), "max_deal_size": None,
                "effective_to": None, "notes": None}

    def check(self, run, rows, errors):
        session = run.session
        cleaners = {name: partial(commissions.clean_field, name)
                    for name in commissions.STRUCTURE_FIELDS}
        cleaners["partner"] = partial(validate.text, "partner", max_len=255, required=True)
        cleaned = self._cleaned(run, rows, errors, cleaners)
        visible = _partners_by_name(session, run.viewer)
        stored: dict[tuple, CommissionStructure] = {}
        for match in _among(session, CommissionStructure.partner_id,
                            _ids_of(visible, cleaned)):
            for s in session.scalars(select(CommissionStructure).where(match)):
                stored[(s.partner_id, s.structure_type, s.effective_from, s.min_deal_size)] = s
        seen: dict[Any, int] = {}
        plans = []
        for c in cleaned:
            partner = _partner_to_change(errors, c, visible, run.viewer)
            if partner is None or c.bad:
                continue
            v = {k: value for k, value in c.values.items() if k != "partner"}
            v.setdefault("min_deal_size", Decimal("0.00"))
            key = (partner.id, v["structure_type"], v["effective_from"], v["min_deal_size"])
            if not _first_seen(errors, seen, key, c.number, "effective_from",
                               "partner, structure_type, effective_from and min_deal_size"):
                continue
            current = stored.get(key)
            whole = {f: v.get(f, getattr(current, f) if current is not None
                              else self.DEFAULTS.get(f)) for f in commissions.STRUCTURE_FIELDS}
            if errors.attempt(c.number, "effective_from", commissions.check_terms, whole,
                              fields=self.fields) is _BAD:
                continue
            if current is None:
                plans.append(_Plan(c.number, "create", {"partner_id": partner.id, **whole}))
            else:
                plans.append(_plan(c.number, current,
                                   _changes(current, v, commissions.STRUCTURE_FIELDS)))
        return plans

    def write(self, run, plans, errors):
        for plan in plans:
            with errors.for_row(plan.row, self.key_column, self.fields):
                if plan.action == "create":
                    commissions.create_structure(session=run.session, viewer=run.viewer,
                                                 **plan.values)
                else:
                    commissions.update_structure(session=run.session, viewer=run.viewer,
                                                 structure_id=plan.target.id, **plan.values)


def _moment(field_name: str, zone: ZoneInfo) -> Callable[[str], datetime | None]:
    """opps.clean_moment with the run's time zone for times without one, read once per file
    rather than from the settings for every cell."""
    def clean(text: str) -> datetime | None:
        if _blank(text):
            return None
        try:
            moment = validate.parse_moment(text)
        except ValueError:
            return opps.clean_moment(field_name, text)  # it says what a time looks like
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        return opps.clean_moment(field_name, moment)
    return clean


class _Opportunities(_Entity):
    name, key_column = "opportunities", "external_id"
    fields = {"partner_id": "partner", "assigned_user_id": "owner_email",
              "commission_structure_id": "partner", "version": "external_id",
              "opportunity_id": "external_id",
              **{c.name: c.name for c in COLUMNS["opportunities"]}}
    PLAIN = ("customer_name", "customer_contact_email", "deal_value", "expected_close_date",
             "notes")
    STAGE_INPUTS = {"stage", "probability", "actual_close_date", "lost_reason", "created_at"}

    def check(self, run, rows, errors):
        session, viewer = run.session, run.viewer
        cleaners: dict[str, Callable[[str], Any]] = {
            name: partial(opps.clean_field, name) for name in (*self.PLAIN, "external_id")}
        cleaners.update(
            partner=partial(validate.text, "partner", max_len=255, required=True),
            stage=partial(validate.choice, "stage", options=STAGES),
            probability=partial(validate.percent, "probability"),
            actual_close_date=partial(validate.day, "actual_close_date"),
            owner_email=partial(validate.email, "owner_email"),
            lost_reason=partial(validate.text, "lost_reason", max_len=500),
            created_at=_moment("created_at", run.zone),
        )
        cleaned = self._cleaned(run, rows, errors, cleaners)
        visible = _partners_by_name(session, viewer)
        owners = _users_by_email(session, (c.values.get("owner_email") for c in cleaned))
        deals = _deals_by_key(session, (c.values["external_id"] for c in cleaned
                                        if c.values.get("external_id")))
        seen: dict[Any, int] = {}
        plans = []
        without_key = 0
        for done, c in enumerate(cleaned, start=1):
            run.tick("Matching opportunities", done, len(cleaned))
            key = c.values.get("external_id")
            if key is None and "external_id" not in c.bad:
                without_key += 1
            elif key is not None and not _first_seen(errors, seen, key, c.number, "external_id",
                                                     "external_id"):
                continue
            plan = self._row_plan(run, c, deals.get(key) if key else None, visible, owners,
                                  errors)
            if plan is not None:
                plans.append(plan)
        if without_key:
            self.notice = (f"{without_key} row{'s have' if without_key != 1 else ' has'} no "
                           "external_id: such rows are always added as new deals, so importing "
                           "this file again would add them again.")
        return plans

    def _row_plan(self, run: _Run, c: _Cleaned, deal: _Deal | None,
                  visible: dict[str, Partner], owners: dict[str, User],
                  errors: _Errors) -> _Plan | None:
        viewer, v, number = run.viewer, c.values, c.number
        if deal is not None and not opps.can_write(viewer, deal):
            errors.add(number, "external_id", "You may only change deals of your own partners "
                                              "or assigned to you.")
            return None
        ok = not c.bad
        partner_id = None
        if "partner" in v:
            partner_name = v["partner"].lower()
            if deal is not None and partner_name == deal.partner_name.lower():
                partner_id = deal.partner_id  # unchanged, even where the viewer may not add
            else:
                partner = visible.get(partner_name)
                if partner is None or not opps.may_add_deals(viewer, partner):
                    errors.add(number, "partner",
                               "no such partner among those you may add deals to")
                    ok = False
                else:
                    partner_id = partner.id

        assignee = None
        if v.get("owner_email"):
            user = owners.get(v["owner_email"])
            if user is None:
                errors.add(number, "owner_email", f"no user with email {v['owner_email']!r}")
                ok = False
            elif "stage" in v:
                assignee = errors.attempt(number, "owner_email", opps.check_assignee, user,
                                          closed=v["stage"] in CLOSED_STAGES,
                                          fields=self.fields)
                ok = ok and assignee is not _BAD

        created = v.get("created_at")
        if deal is not None and created is not None and created != deal.created_at:
            errors.add(number, "created_at",
                       f"differs from the deal's stored creation time "
                       f"{deal.created_at.isoformat()}; it cannot be changed")
            ok = False
        created = created or (deal.created_at if deal is not None else run.now)

        if self.STAGE_INPUTS & c.bad:
            return None  # the stage rules need every one of their cells
        given: dict[str, Any] = {"stage": v["stage"]}
        if v.get("probability") is not None:
            given["probability"] = v["probability"]
        for name in ("actual_close_date", "lost_reason"):
            if name in v:
                given[name] = v[name]
        keeps_close = deal is not None and "actual_close_date" not in v and (
            deal.stage in CLOSED_STAGES)
        if v["stage"] in CLOSED_STAGES and v.get("actual_close_date") is None \
                and not keeps_close:
            errors.add(number, "actual_close_date", "is required for closed stages")
            return None
        settled = errors.attempt(
            number, "stage", opps.settle_stage,
            current_stage=deal.stage if deal else None,
            current_close=deal.actual_close_date if deal else None,
            current_reason=deal.lost_reason if deal else None,
            given=given, created_on=created.astimezone(run.zone).date(), today=run.today,
            probabilities=run.probabilities, fields=self.fields)
        if settled is _BAD or not ok:
            return None

        if deal is None:
            values = {f: v.get(f) for f in self.PLAIN}
            values.update(settled, external_id=v.get("external_id"), partner_id=partner_id,
                          assigned_user_id=assignee, created_at=created)
            return _Plan(number, "create", values)
        changes = _changes(deal, v, self.PLAIN)
        if partner_id != deal.partner_id:
            changes["partner_id"] = partner_id
        if "owner_email" in v and assignee != deal.assigned_user_id:
            changes["assigned_user_id"] = assignee
        if any(getattr(deal, f) != settled[f] for f in settled):
            changes.update(given)  # the service settles the stage again, the same way
        return _plan(number, deal, changes)

    def write(self, run, plans, errors):
        created = [p for p in plans if p.action == "create"]
        viewer = run.viewer
        ids = _new_ids()
        history: list[dict[str, Any]] = []
        entries: list[dict[str, Any]] = []
        encode = _JsonEncoder()

        def deals() -> Iterator[dict[str, Any]]:
            for done, plan in enumerate(created, start=1):
                deal_id, values = next(ids), plan.values
                yield dict(id=deal_id, commission_structure_id=None, version=1,
                           updated_by_id=viewer.id, updated_at=run.now, **values)
                # Made while PostgreSQL loads the deals before this one (loading them is the
                # slower part), so the two COPYs after these have little left to make.
                # No history of its own yet: a synthesized first row keeps "every deal has
                # a history"; real history imported later replaces it.
                history.append(dict(id=next(ids), opportunity_id=deal_id, from_stage=None,
                                    to_stage=values["stage"], changed_by=viewer.id,
                                    changed_at=values["created_at"], notes=None,
                                    synthesized=True))
                audited = {k: v for k, v in values.items() if k != "created_at"}
                entries.append(_audit_row(
                    run, "create", "opportunity", deal_id, entry_id=next(ids),
                    new=encode({**audited, "commission_structure_id": None})))
                run.tick("Writing opportunities", done, len(created))

        _insert_rows(run.session, Opportunity, deals())
        _insert_rows(run.session, StageHistory, history)
        _insert_rows(run.session, AuditEntry, entries)
        for plan in plans:
            if plan.action != "update":
                continue
            with errors.for_row(plan.row, self.key_column, self.fields):
                opps.update_opportunity(session=run.session, viewer=viewer,
                                        opportunity_id=plan.target.id,
                                        expected_version=plan.target.version, **plan.values)


@dataclass(frozen=True)
class _StoredStep:
    id: uuid.UUID
    opportunity_id: uuid.UUID
    from_stage: str | None
    to_stage: str
    changed_by: uuid.UUID | None
    changed_at: datetime
    notes: str | None
    synthesized: bool


class _StageHistory(_Entity):
    name, key_column = "stage_history", "opportunity_external_id"
    fields = {"note": "notes", **{c.name: c.name for c in COLUMNS["stage_history"]}}
    CHANGEABLE = ("from_stage", "changed_by", "notes")

    def check(self, run, rows, errors):
        session, viewer = run.session, run.viewer
        cleaners = {
            "opportunity_external_id": partial(validate.text, "opportunity_external_id",
                                               max_len=100, required=True),
            "from_stage": partial(validate.choice, "from_stage", options=STAGES,
                                  required=False),
            "to_stage": partial(validate.choice, "to_stage", options=STAGES),
            "changed_at": _required("changed_at", _moment("changed_at", run.zone)),
            "changed_by_email": partial(validate.email, "changed_by_email"),
            "notes": partial(validate.text, "notes", max_len=NOTES_MAX),
        }
        cleaned = self._cleaned(run, rows, errors, cleaners)
        deals = _deals_by_key(session, (c.values["opportunity_external_id"] for c in cleaned
                                        if "opportunity_external_id" in c.values))
        people = _users_by_email(session, (c.values.get("changed_by_email") for c in cleaned))
        stored: dict[uuid.UUID, list[_StoredStep]] = defaultdict(list)
        for match in _among(session, StageHistory.opportunity_id,
                            {d.id for d in deals.values()}):
            for r in session.execute(select(
                    StageHistory.id, StageHistory.opportunity_id, StageHistory.from_stage,
                    StageHistory.to_stage, StageHistory.changed_by, StageHistory.changed_at,
                    StageHistory.notes, StageHistory.synthesized)
                    .where(match)):
                stored[r[1]].append(_StoredStep(*r))
        # A lone synthesized row is a placeholder: real history replaces it, never matches it.
        by_key = {(s.opportunity_id, s.changed_at, s.to_stage): s
                  for steps in stored.values() for s in steps
                  if not (len(steps) == 1 and steps[0].synthesized)}
        seen: dict[Any, int] = {}
        plans = []
        for done, c in enumerate(cleaned, start=1):
            run.tick("Matching stage history", done, len(cleaned))
            v = c.values
            ok = not c.bad
            deal = None
            if "opportunity_external_id" in v:
                deal = deals.get(v["opportunity_external_id"])
                if deal is None or not opps.can_write(viewer, deal):
                    errors.add(c.number, "opportunity_external_id",
                               "no such opportunity among those you may change")
                    ok = False
            if v.get("from_stage") is not None and v["from_stage"] == v.get("to_stage"):
                errors.add(c.number, "to_stage", "is the same as from_stage; a stage change "
                                                 "goes from one stage to another")
                ok = False
            ok = _person(errors, c, "changed_by_email", people, "changed_by") and ok
            if not ok:
                continue
            key = (deal.id, v["changed_at"], v["to_stage"])
            if not _first_seen(errors, seen, key, c.number, "changed_at",
                               "opportunity_external_id, changed_at and to_stage"):
                continue
            current = by_key.get(key)
            if current is None:
                steps = stored.get(deal.id, [])
                replaces = steps[0] if len(steps) == 1 and steps[0].synthesized else None
                plans.append(_Plan(c.number, "create", {
                    "opportunity_id": deal.id, "from_stage": v.get("from_stage"),
                    "to_stage": v["to_stage"], "changed_at": v["changed_at"],
                    "changed_by": v.get("changed_by"), "notes": v.get("notes"),
                }, replaces))
            else:
                plans.append(_plan(c.number, current, _changes(current, v, self.CHANGEABLE)))
        return plans

    def write(self, run, plans, errors):
        session = run.session
        created = [p for p in plans if p.action == "create"]
        replaced = {p.target.id: p.target for p in created if p.target is not None}
        entries = [_audit_row(run, "replace_synthesized", "stage_history", step.id,
                              old={"opportunity_id": step.opportunity_id,
                                   "to_stage": step.to_stage, "changed_at": step.changed_at})
                   for step in replaced.values()]
        for match in _among(session, StageHistory.id, replaced):
            session.execute(delete(StageHistory).where(match),
                            execution_options={"synchronize_session": False})
        rows = []
        for done, plan in enumerate(created, start=1):
            step_id = uuid.uuid4()
            rows.append(dict(id=step_id, synthesized=False, **plan.values))
            entries.append(_audit_row(run, "create", "stage_history", step_id, new=plan.values))
            run.tick("Writing stage history", done, len(created))
        _insert_rows(session, StageHistory, rows)
        changed = [p for p in plans if p.action == "update"]
        for plan in changed:
            entries.append(_audit_row(
                run, "update", "stage_history", plan.target.id,
                old={f: getattr(plan.target, f) for f in plan.values}, new=plan.values))
        table = StageHistory.__table__
        for name in self.CHANGEABLE:
            batch = [{"_id": p.target.id, "_value": p.values[name]}
                     for p in changed if name in p.values]
            if batch:
                session.execute(update(table).where(table.c.id == bindparam("_id"))
                                .values({name: bindparam("_value")}), batch)
        _insert_rows(session, AuditEntry, entries)


GOAL_ROLES = ("vp", "sales_manager", "partnership_manager")  # DESIGN.md: own goals
COUNT_GOALS = ("opportunities", "partnerships")  # targets that count things, not money


class _Goals(_Entity):
    """Quarterly goals: written here in bulk, with the goal rules of DESIGN.md."""

    name, key_column = "goals", "user_email"
    fields = {c.name: c.name for c in COLUMNS["goals"]}
    CHANGEABLE = ("revenue_target", "current_progress", "notes")

    def check(self, run, rows, errors):
        session, viewer = run.session, run.viewer
        cleaners = {
            "user_email": partial(validate.email, "user_email", required=True),
            "year": _whole("year", validate.MIN_DATE.year, validate.MAX_DATE.year),
            "quarter": _whole("quarter", 1, 4),
            "goal_type": lambda v: validate.choice("goal_type", "revenue" if _blank(v) else v,
                                                   GOAL_TYPES),
            "revenue_target": partial(validate.money, "revenue_target", required=True),
            "current_progress": lambda v: validate.money("current_progress", v)
            or Decimal("0.00"),
            "notes": partial(validate.text, "notes", max_len=NOTES_MAX),
        }
        cleaned = self._cleaned(run, rows, errors, cleaners)
        people = _users_by_email(session, (c.values.get("user_email") for c in cleaned))
        stored: dict[tuple, QuarterlyGoal] = {}
        for match in _among(session, QuarterlyGoal.user_id, {u.id for u in people.values()}):
            for g in session.scalars(select(QuarterlyGoal).where(match)):
                stored[(g.user_id, g.year, g.quarter, g.goal_type)] = g
        seen: dict[Any, int] = {}
        plans = []
        for c in cleaned:
            v = c.values
            ok = not c.bad
            if "user_email" in v:
                person = people.get(v["user_email"])
                problem = None
                if person is None:
                    problem = f"no user with email {v['user_email']!r}"
                elif person.id != viewer.id and not viewer.can(TEAM_WRITE):
                    problem = f"your role ({viewer.role}) may set only your own goals"
                elif not person.is_active:
                    problem = f"{person.email} is deactivated"
                elif person.role not in GOAL_ROLES:
                    problem = f"{person.email} is an admin; admins have no goals"
                if problem:
                    errors.add(c.number, "user_email", problem)
                    ok = False
                else:
                    v["user_id"] = person.id
            v.setdefault("goal_type", "revenue")
            target = v.get("revenue_target")
            if v["goal_type"] in COUNT_GOALS and target is not None \
                    and target != target.to_integral_value():
                errors.add(c.number, "revenue_target",
                           f"must be a whole number of {v['goal_type']}")
                ok = False
            if not ok:
                continue
            key = (v["user_id"], v["year"], v["quarter"], v["goal_type"])
            if not _first_seen(errors, seen, key, c.number, "quarter",
                               "user_email, year, quarter and goal_type"):
                continue
            current = stored.get(key)
            if current is None:
                plans.append(_Plan(c.number, "create", {
                    "user_id": v["user_id"], "year": v["year"], "quarter": v["quarter"],
                    "goal_type": v["goal_type"], "revenue_target": v["revenue_target"],
                    "current_progress": v.get("current_progress", Decimal("0.00")),
                    "notes": v.get("notes")}))
            else:
                plans.append(_plan(c.number, current, _changes(current, v, self.CHANGEABLE)))
        return plans

    def write(self, run, plans, errors):
        rows, entries = [], []
        for plan in plans:
            if plan.action == "create":
                goal_id = uuid.uuid4()
                rows.append(dict(id=goal_id, created_at=run.now, updated_at=run.now,
                                 **plan.values))
                entries.append(_audit_row(run, "create", "goal", goal_id, new=plan.values))
            elif plan.action == "update":
                goal = plan.target
                old, new = audit.changes(goal, plan.values)
                for name, value in new.items():
                    setattr(goal, name, value)
                entries.append(_audit_row(run, "update", "goal", goal.id, old=old, new=new))
        _insert_rows(run.session, QuarterlyGoal, rows)
        _insert_rows(run.session, AuditEntry, entries)


class _Activities(_Entity):
    name, key_column = "activities", "partner"
    fields = {"partner_id": "partner", "user_id": "user_email",
              **{c.name: c.name for c in COLUMNS["activities"]}}
    TOUCH = {"activity_type", "occurred_on", "summary"}

    def check(self, run, rows, errors):
        session, viewer = run.session, run.viewer
        cleaners = {
            "partner": partial(validate.text, "partner", max_len=255, required=True),
            "activity_type": partial(validate.choice, "activity_type", options=ACTIVITY_TYPES),
            "occurred_on": partial(validate.day, "occurred_on", required=True),
            "user_email": partial(validate.email, "user_email"),
            "summary": partial(validate.text, "summary", max_len=NOTES_MAX),
        }
        cleaned = self._cleaned(run, rows, errors, cleaners)
        visible = _partners_by_name(session, viewer)
        people = _users_by_email(session, (c.values.get("user_email") for c in cleaned))
        stored: dict[tuple, PartnerActivity] = {}
        for match in _among(session, PartnerActivity.partner_id, _ids_of(visible, cleaned)):
            for a in session.scalars(select(PartnerActivity).where(match)
                                     .order_by(PartnerActivity.created_at)):
                stored.setdefault((a.partner_id, a.occurred_on, a.activity_type, a.summary), a)
        seen: dict[Any, int] = {}
        plans = []
        for c in cleaned:
            v = c.values
            partner = _partner_to_change(errors, c, visible, viewer)
            ok = partner is not None and not c.bad
            touch = None
            if not self.TOUCH & c.bad:
                # The touch rules (a known type, not in the future) are the partners service's.
                touch = errors.attempt(c.number, "occurred_on", partners.clean_touch,
                                       activity_type=v["activity_type"],
                                       occurred_on=v["occurred_on"], summary=v.get("summary"),
                                       fields=self.fields)
                ok = ok and touch is not _BAD
            ok = _person(errors, c, "user_email", people, "user_id") and ok
            if not ok:
                continue
            activity_type, occurred_on, summary = touch
            key = (partner.id, occurred_on, activity_type, summary)
            if not _first_seen(errors, seen, key, c.number, "occurred_on",
                               "partner, occurred_on, activity_type and summary"):
                continue
            current = stored.get(key)
            if current is None:
                plans.append(_Plan(c.number, "create", {
                    "partner_id": partner.id, "activity_type": activity_type,
                    "occurred_on": occurred_on, "summary": summary,
                    # Like log_touch: a touch without a named user is the importer's own.
                    "user_id": v["user_id"] if "user_id" in v else viewer.id}))
            else:
                plans.append(_plan(c.number, current, _changes(current, v, ("user_id",))))
        return plans

    def write(self, run, plans, errors):
        rows, entries = [], []
        for plan in plans:
            if plan.action == "create":
                touch_id = uuid.uuid4()
                rows.append(dict(id=touch_id, created_at=run.now, **plan.values))
                entries.append(_audit_row(run, "log_touch", "partner_activity", touch_id,
                                          new=plan.values))
            elif plan.action == "update":
                touch = plan.target
                old, new = audit.changes(touch, plan.values)
                for name, value in new.items():
                    setattr(touch, name, value)
                entries.append(_audit_row(run, "update", "partner_activity", touch.id,
                                          old=old, new=new))
        _insert_rows(run.session, PartnerActivity, rows)
        _insert_rows(run.session, AuditEntry, entries)


_HANDLERS: dict[str, Callable[[], _Entity]] = {
    "users": _Users, "partners": _Partners, "commissions": _Commissions,
    "opportunities": _Opportunities, "stage_history": _StageHistory, "goals": _Goals,
    "activities": _Activities,
}
# (permission, what the refusal says the role may not do)
_PERMISSION: dict[str, tuple[str, str]] = {
    "users": (MANAGE_USERS, "import users"),
    "partners": (WRITE_PARTNERS, "import partners"),
    "commissions": (WRITE_PARTNERS, "import commission structures"),
    "opportunities": (WRITE_OPPORTUNITIES, "import opportunities"),
    "stage_history": (WRITE_OPPORTUNITIES, "import stage history"),
    "goals": (OWN_WORK, "import goals"),
    "activities": (WRITE_PARTNERS, "import partner touches"),
}


# --- the use cases ---------------------------------------------------------------------------

def import_file(*, session: Session, viewer: Viewer, entity: str, data: bytes, filename: str,
                dry_run: bool = False, progress: Progress | None = None,
                limits: Limits | None = None) -> ImportReport:
    """Import one CSV or XLSX file of `entity`, all or nothing, reporting every problem.

    Returns the report; when it has errors, or on a dry run, nothing was written. `limits`
    defaults to the configured ones. `progress` is called every thousand rows, reading too:
    an exception it raises (Streamlit's when the person leaves the page) stops the import.
    """
    validate.choice("entity", entity, ENTITIES)
    return _import(session, viewer, [(entity, filename, data)], [], dry_run=dry_run,
                   progress=progress, keep_going=False, limits=limits)


def import_all(*, session: Session, viewer: Viewer, files: Sequence[tuple[str, bytes]],
               dry_run: bool = False, progress: Progress | None = None,
               limits: Limits | None = None) -> ImportReport:
    """Import a whole data set, `<entity>.csv` files, in IMPORT.md's order in one transaction.

    `files` holds (file name, content) pairs. A file of another name is an error: a typo must
    not leave data behind unnoticed.
    """
    found: dict[str, tuple[str, bytes]] = {}
    problems = []
    for filename, data in files:
        entity = Path(filename).stem.lower()
        if entity in ENTITIES and Path(filename).suffix.lower() == ".csv":
            found[entity] = (filename, data)
        else:
            problems.append(RowError(1, FILE, "is not one of the files `import all` reads: "
                                     + ", ".join(f"{e}.csv" for e in ENTITIES), filename))
    if not found and not problems:
        problems.append(RowError(1, FILE, "no files to import; expected any of "
                                 + ", ".join(f"{e}.csv" for e in ENTITIES)))
    ordered = [(e, *found[e]) for e in ENTITIES if e in found]
    return _import(session, viewer, ordered, problems, dry_run=dry_run, progress=progress,
                   keep_going=True, limits=limits)


def folder_files(folder: Path) -> list[tuple[str, bytes]]:
    """Read the CSV files of a folder, as import_all takes them."""
    return [(path.name, path.read_bytes()) for path in sorted(folder.iterdir())
            if path.is_file() and path.suffix.lower() == ".csv"]


_gc_lock = threading.Lock()
_gc_imports = 0             # imports running in this process
_gc_thresholds = gc.get_threshold()


@contextmanager
def _rare_full_collections() -> Iterator[None]:
    """Make Python's full garbage collections ten times rarer while imports run.

    A 100,000-row import keeps about a million objects alive, and the collector walks all of
    them every few hundred thousand allocations: ten full collections, 2 s of a 16 s import.
    Young objects are still collected as always. The thresholds are the process's, shared
    with every session it serves, so they are restored when the last running import ends.
    """
    global _gc_imports, _gc_thresholds
    with _gc_lock:
        if _gc_imports == 0:
            _gc_thresholds = gc.get_threshold()
            young, middle, old = _gc_thresholds
            gc.set_threshold(young, middle, old * 10)
        _gc_imports += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_imports -= 1
            if _gc_imports == 0:
                gc.set_threshold(*_gc_thresholds)


def _import(session: Session, viewer: Viewer, files: list[tuple[str, str, bytes]],
            problems: list[RowError], *, dry_run: bool, progress: Progress | None,
            keep_going: bool, limits: Limits | None) -> ImportReport:
    with _rare_full_collections():
        return _import_files(session, viewer, files, problems, dry_run=dry_run,
                             progress=progress, keep_going=keep_going,
                             limits=limits or Limits.configured())


def _import_files(session: Session, viewer: Viewer, files: list[tuple[str, str, bytes]],
                  problems: list[RowError], *, dry_run: bool, progress: Progress | None,
                  keep_going: bool, limits: Limits) -> ImportReport:
    """Read, check and write files in order inside one savepoint.

    With `keep_going` (import all) a file with problems still writes its good rows, so the
    files after it are checked against them; the savepoint is rolled back at the end anyway.
    """
    for entity, _, _ in files:
        permission, what = _PERMISSION[entity]
        require(viewer, permission, what)
    report = ImportReport(dry_run=dry_run, file_errors=problems)
    now, zone = utcnow(), local_zone()
    run = _Run(session=session, viewer=viewer, progress=progress, now=now,
               today=now.astimezone(zone).date(), zone=zone,
               probabilities=current_settings(session).stage_probabilities)
    savepoint = session.begin_nested()
    try:
        for entity, filename, data in files:
            handler = _HANDLERS[entity]()
            errors = _Errors(filename, limits.problems)
            entity_report = EntityReport(entity=entity, file=filename)
            report.entities.append(entity_report)
            rows = _read(entity, data, filename, errors, limits, progress)
            if rows is not None:
                entity_report.rows = len(rows)
                plans = handler.check(run, rows, errors)
                for plan in plans:
                    setattr(entity_report, _COUNTER[plan.action],
                            getattr(entity_report, _COUNTER[plan.action]) + 1)
                if getattr(handler, "notice", None):
                    entity_report.notices.append(handler.notice)
                if keep_going or not errors.items:
                    handler.write(run, [p for p in plans if p.action != "unchanged"], errors)
            order = {c.name: n for n, c in enumerate(COLUMNS[entity])}
            entity_report.errors = sorted(errors.items,
                                          key=lambda e: (e.row, order.get(e.column, -1)))
            entity_report.unlisted = errors.unlisted
        if report.written:
            for entity_report in report.entities:
                if entity_report.created or entity_report.updated:
                    audit.record(session, actor=viewer, action="import",
                                 entity_type=entity_report.entity, entity_id=None,
                                 new={"file": entity_report.file, "rows": entity_report.rows,
                                      "created": entity_report.created,
                                      "updated": entity_report.updated,
                                      "unchanged": entity_report.unchanged})
            session.flush()
            savepoint.commit()
        else:
            savepoint.rollback()
    except BaseException:
        if savepoint.is_active:
            savepoint.rollback()
        raise
    return report


_COUNTER = {"create": "created", "update": "updated", "unchanged": "unchanged"}
