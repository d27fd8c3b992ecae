"""An entity's rows from a file: the header matched to its columns, every cell as text.

The header is matched case-insensitively, and an unknown or missing required column is an
error; the text cells of a CSV lose the quote that guards them against spreadsheet formulas
(isv.services.cells). `read_table` reads any file's table the same way (another CRM's export).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from isv.services.cells import QUOTE, unguard
from isv.services.validate import blank

from .formats import COLUMNS, Column
from .records import (
    NO_SAVED_VALUE,
    NUL,
    UNSAVED,
    FileProblem,
    Limits,
    Progress,
    csv_records,
    xlsx_records,
)
from .report import FILE, Errors, RowError


@dataclass
class Row:
    number: int             # as users count: 1 is the header
    cells: dict[str, str]   # column → text, for the columns the file has


# What a reader yields for each row: its number (1 is the header), its values up to the

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
    if value is UNSAVED:
        return NO_SAVED_VALUE
    if isinstance(value, str):
        if "\x00" in value:
            return NUL
        if len(value) > limits.cell_chars:
            return (f"holds {len(value):,} characters; a cell holds at most "
                    f"{limits.cell_chars:,}")
    return None


def read_rows(entity: str, data: bytes, filename: str, errors: Errors, limits: Limits,
              progress: Progress | None = None) -> list[Row] | None:
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

    records = (csv_records if as_text else xlsx_records)(data, limits, tick)
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
        names = ["" if h is None or h is UNSAVED else str(h).strip().lower()
                 for h in header]
        if len(names) == 1 and ";" in names[0]:
            errors.add(1, FILE, "the columns are separated by semicolons; save the file as "
                                "CSV with commas (CSV UTF-8 in Excel)")
            return None
        for position, name in enumerate(names):
            if header[position] is UNSAVED:
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
            if beyond is None and all(blank(v) for v in record):
                continue  # spreadsheets leave empty lines; they carry nothing
            extra = [p for p in range(len(record)) if p not in index and not blank(record[p])]
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
            rows.append(Row(number, cells))
        return rows
    except FileProblem as exc:
        column = index.get(exc.position) if exc.position is not None else None
        errors.add(exc.row, column.name if column else FILE, exc.reason)
        return None
    finally:
        records.close()


def _cell_problems(number: int, record: list[Any], index: dict[int, Column], limits: Limits,
                   errors: Errors) -> bool:
    """Note every unreadable cell of a row; True when there was one."""
    found = False
    for position, column in index.items():
        problem = _cell_problem(record[position], limits) if position < len(record) else None
        if problem:
            errors.add(number, column.name, problem)
            found = True
    return found


@dataclass
class Table:
    """Any file's header and rows as text, whatever its columns (another CRM's export)."""

    header: list[str]
    rows: list[tuple[int, list[str]]]  # (row number, 1 being the header; cells under header)


def read_table(*, data: bytes, filename: str, limits: Limits | None = None,
               progress: Progress | None = None) -> tuple[Table | None, list[RowError]]:
    """Read a CSV or the first sheet of an .xlsx as text, within the same limits as an import.

    Returns the table, or None with the problems that make the file unreadable; a cell that
    cannot be read (NUL, too long, a formula without a value) is a problem of its row.
    """
    limits = limits or Limits.configured()
    errors = Errors(filename, limits.problems)
    suffix = Path(filename).suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        errors.add(1, FILE, f"{filename!r} is neither .csv nor .xlsx")
        return None, errors.items
    as_text = suffix == ".csv"

    def tick(done: int, total: int) -> None:
        if progress is not None:
            progress("Reading the file", done, max(done, total))

    records = (csv_records if as_text else xlsx_records)(data, limits, tick)
    header: list[str] = []
    try:
        first = next(records, None)
        if first is None:
            errors.add(1, FILE, "the file is empty; its first row must name the columns")
            return None, errors.items
        for position, value in enumerate(first[1]):
            if value is UNSAVED:
                errors.add(1, FILE, f"cell {position + 1} of the header is {NO_SAVED_VALUE}")
            header.append("" if blank(value) or value is UNSAVED
                          else str(value).strip())
        if len(header) == 1 and ";" in header[0]:
            errors.add(1, FILE, "the columns are separated by semicolons; save the file as "
                                "CSV with commas (CSV UTF-8 in Excel)")
        seen: set[str] = set()
        for name in header:
            if name and name.casefold() in seen:
                errors.add(1, name, "appears twice")
            seen.add(name.casefold())
        if errors.items:
            return None, errors.items
        rows: list[tuple[int, list[str]]] = []
        for number, record, beyond in records:
            if beyond is not None:
                errors.add(number, FILE, f"has a value in cell {beyond:,}, beyond the "
                                         f"{len(header)} columns of the header")
                continue
            cells: list[str] = []
            for position, value in enumerate(record):
                problem = _cell_problem(value, limits)
                if problem:
                    errors.add(number, header[position] or FILE, problem)
                    cells.append("")
                else:
                    cells.append(value if as_text else _cell_text(value, "date"))
            rows.append((number, cells))
        return Table(header, rows), errors.items
    except FileProblem as exc:
        errors.add(exc.row, FILE, exc.reason)
        return None, errors.items
    finally:
        records.close()
