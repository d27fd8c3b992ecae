"""Import CSV and XLSX files in the formats of spec/IMPORT.md: checked whole, then all or nothing.

A file goes through three steps:

1. read (records.py, reading.py): UTF-8 CSV (a byte-order mark is fine) or the first sheet of
   an .xlsx workbook, bounded before it is read (`Limits`); the header is matched
   case-insensitively, and an unknown or missing required column is an error.
2. check (checks.py, lookups.py, one module per entity): every cell goes through the field
   cleaner of the service that owns the field; references (a partner by name, a user by
   email) and natural keys are looked up in bulk, a few queries per file whatever its length;
   then the rules across fields, each called from the service that owns it, and the viewer's
   scope. Every problem is kept, as `row N, column C: reason` (row 1 is the header; report.py).
3. write: only when nothing is wrong. Users, partners and commission structures go through
   their services' create_/update_ functions. Deals, stage history, goals and touches come in
   many rows: new ones are inserted in bulk (bulk.py: COPY on PostgreSQL) with the values and
   audit entries the services would write, and a changed deal goes through
   `opportunities.update_opportunity`.

The writes happen in a savepoint of the caller's transaction; a dry run, or a run with any
error, rolls it back, so the database is as it was. The caller commits (services never do).

A column that is present sets its field: an empty cell means null, or the column's default.
An optional column that is absent leaves an existing record's field alone and gives a new
record the default.

This module is the importer's public face; the modules under it are its parts.
"""

from .formats import COLUMNS, ENTITIES, NATURAL_KEYS, Column
from .reading import Table, read_table
from .records import NO_SAVED_VALUE, NUL, Limits, Progress
from .report import FILE, EntityReport, ImportRejected, ImportReport, RowError
from .run import folder_files, import_all, import_file, importable_entities

__all__ = [
    "COLUMNS", "ENTITIES", "FILE", "NATURAL_KEYS", "NO_SAVED_VALUE", "NUL", "Column",
    "EntityReport", "ImportRejected", "ImportReport", "Limits", "Progress", "RowError", "Table",
    "folder_files", "import_all", "import_file", "importable_entities", "read_table",
]
