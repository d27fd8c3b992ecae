"""Backup and restore of the whole database as a portable bundle (SQLite ⇄ PostgreSQL).

A bundle is a zip file: `manifest.json` (format version, alembic revision, creation time,
every table with its row count, in dependency order) and one `tables/<name>.jsonl` per
table, a JSON object per row. Values are written by column type, not by what one engine
happens to return: money and percentages as exact decimal strings, UUIDs as text,
timestamps ISO 8601 in UTC with the offset, dates ISO. So a bundle written from SQLite
restores into PostgreSQL and back, and two bundles of the same data are line-for-line equal.
"""

from __future__ import annotations

import json
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from sqlalchemy import (
    Column,
    Date,
    Integer,
    Table,
    delete,
    insert,
    inspect,
    literal,
    select,
    text,
    update,
)
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.types import Uuid

from isv.auth import MANAGE_USERS, Viewer, require
from isv.errors import ValidationError
from isv.models import Base
from isv.types import Money, Percent, UTCDateTime, utcnow

FORMAT = "isv-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
BATCH = 1000
MAX_PARAMETERS = 30_000
VERSION_TABLE = "alembic_version"


@dataclass(frozen=True)
class Summary:
    """What a backup wrote or a restore loaded: rows per table, in dependency order."""

    revision: str
    counts: dict[str, int]

    @property
    def rows(self) -> int:
        return sum(self.counts.values())


def tables() -> list[Table]:
    """Every table of the schema, parents before children."""
    return list(Base.metadata.sorted_tables)


def current_revision(session: Session) -> str | None:
    """The alembic revision the database is at; None when it was never migrated."""
    # Read directly: alembic's MigrationContext would log its setup on every CLI call.
    if not inspect(session.connection()).has_table(VERSION_TABLE):
        return None
    return session.scalar(text(f"SELECT version_num FROM {VERSION_TABLE}"))


def _require_schema(session: Session) -> str:
    revision = current_revision(session)
    if revision is None or not inspect(session.connection()).has_table("users"):
        raise ValidationError("database", "has no tables yet; run `isv migrate` first")
    return revision


# --- values -------------------------------------------------------------------------------

def _dump(column: Column, value: Any) -> Any:
    if value is None:
        return None
    kind = column.type
    if isinstance(kind, Money | Percent):
        return f"{Decimal(value):.2f}"
    if isinstance(kind, UTCDateTime):
        return value.isoformat()
    if isinstance(kind, Date):
        return value.isoformat()
    if isinstance(kind, Uuid):
        return str(value)
    if isinstance(value, Decimal | datetime | date | uuid.UUID):
        raise TypeError(f"{column}: no bundle form for {type(value).__name__}")
    return value


def _load(column: Column, value: Any) -> Any:
    if value is None:
        return None
    kind = column.type
    if isinstance(kind, Money | Percent):
        return Decimal(value)
    if isinstance(kind, UTCDateTime):
        return datetime.fromisoformat(value)
    if isinstance(kind, Date):
        return date.fromisoformat(value)
    if isinstance(kind, Uuid):
        return uuid.UUID(value)
    return value


def _line(table: Table, row: Any) -> str:
    record = {c.name: _dump(c, row[c.name]) for c in table.columns}
    # JSON columns come back from PostgreSQL's JSONB with their keys reordered: sorted keys
    # make the same data the same line on either engine.
    return json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _lines(session: Session, table: Table) -> Iterator[str]:
    """The table's rows as bundle lines, in primary-key order."""
    keys = list(table.primary_key.columns)
    stmt = select(table)
    if all(isinstance(c.type, Uuid | Integer) for c in keys):
        # These sort alike on both engines (UUIDs as bytes, SQLite's hex text the same), so
        # the database orders even the largest table.
        result = session.execute(stmt.order_by(*keys), execution_options={"yield_per": BATCH})
        for row in result.mappings():
            yield _line(table, row)
        return
    # Text sorts by the database's collation, which differs between engines; such tables are
    # small (settings), so they are sorted here.
    rows = session.execute(stmt).mappings().all()
    for row in sorted(rows, key=lambda r: tuple(str(r[c.name]) for c in keys)):
        yield _line(table, row)


# --- backup -------------------------------------------------------------------------------

def write_backup(*, session: Session, viewer: Viewer, out: Path | IO[bytes]) -> Summary:
    """Write every row of every table to a bundle, read in one transaction (one snapshot)."""
    require(viewer, MANAGE_USERS, "back up the database")
    revision = _require_schema(session)
    counts: dict[str, int] = {}
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for table in tables():
            n = 0
            with bundle.open(f"tables/{table.name}.jsonl", "w") as handle:
                for line in _lines(session, table):
                    handle.write(line.encode() + b"\n")
                    n += 1
            counts[table.name] = n
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "alembic_revision": revision,
            "created_at": utcnow().isoformat(),
            "source": session.get_bind().dialect.name,
            "tables": [{"name": name, "rows": n} for name, n in counts.items()],
        }
        bundle.writestr(MANIFEST, json.dumps(manifest, indent=2) + "\n")
    return Summary(revision, counts)


# --- restore ------------------------------------------------------------------------------

def read_manifest(path: Path | IO[bytes]) -> dict[str, Any]:
    """The manifest of a bundle; a file that is not one is refused naming the reason."""
    try:
        with zipfile.ZipFile(path) as bundle:
            manifest = json.loads(bundle.read(MANIFEST))
    except (zipfile.BadZipFile, KeyError, ValueError):
        raise ValidationError("file", "is not an isv backup (no readable manifest.json)") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ValidationError("file", "is not an isv backup (unknown format)")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ValidationError("file", f"is backup format version "
                                      f"{manifest.get('format_version')!r}; this version of isv "
                                      f"reads version {FORMAT_VERSION}")
    entries = manifest.get("tables")
    if not isinstance(entries, list) or not all(
            isinstance(e, dict) and isinstance(e.get("name"), str)
            and isinstance(e.get("rows"), int) for e in entries):
        raise ValidationError("file", "has a damaged manifest (its table list is unreadable)")
    return manifest


def is_empty(session: Session) -> bool:
    """True when no table of the schema has a row."""
    return all(session.scalar(select(literal(1)).select_from(t).limit(1)) is None
               for t in tables())


def restore_backup(*, session: Session, viewer: Viewer, path: Path | IO[bytes],
                   force: bool = False) -> Summary:
    """Load a bundle into this database, all or nothing.

    Refuses a database that has data unless `force` (which empties it first, in the same
    transaction), and a bundle of another schema revision: its rows would not fit.
    """
    require(viewer, MANAGE_USERS, "restore the database")
    manifest = read_manifest(path)
    revision = _require_schema(session)
    if manifest.get("alembic_revision") != revision:
        raise ValidationError(
            "file", f"was made at schema revision {manifest.get('alembic_revision')}, this "
                    f"database is at {revision}; restore into a database migrated to the "
                    f"bundle's revision, then migrate")
    by_name = {t.name: t for t in tables()}
    listed = {entry["name"]: entry["rows"] for entry in manifest["tables"]}
    if set(listed) != set(by_name):
        raise ValidationError("file", "its tables do not match this schema: "
                                      f"{', '.join(sorted(set(listed) ^ set(by_name)))}")
    if not is_empty(session):
        if not force:
            raise ValidationError("database", "already has data; restore only into an empty "
                                              "database, or use --force to replace everything")
        for table in reversed(tables()):
            session.execute(delete(table))
    counts: dict[str, int] = {}
    with zipfile.ZipFile(path) as bundle:
        for table in tables():
            try:
                counts[table.name] = _restore_table(session, bundle, table)
            except (IntegrityError, DataError) as exc:
                reason = str(exc.orig or exc).strip().splitlines()[0]
                raise ValidationError("file", f"{table.name}: rows that do not fit the schema "
                                              f"({reason}); the bundle is damaged") from None
            if counts[table.name] != listed[table.name]:
                raise ValidationError("file", f"{table.name} has {counts[table.name]} rows, the "
                                              f"manifest says {listed[table.name]}; the bundle "
                                              f"is damaged")
    return Summary(revision, counts)


def _restore_table(session: Session, bundle: zipfile.ZipFile, table: Table) -> int:
    # A row may point at a row of its own table that comes later (a task rolled over from
    # another): such columns are filled in once every row of the table is there.
    own = [fk.parent for fk in table.foreign_keys if fk.column.table is table]
    columns = {c.name: c for c in table.columns}
    stamped = [c for c in table.columns if c.onupdate is not None]
    # One INSERT with many VALUES rows, within SQLite's limit of bound parameters. (An
    # executemany would run in psycopg's pipeline mode, which logs a warning of its own when a
    # damaged bundle breaks a constraint.)
    per_insert = max(1, MAX_PARAMETERS // len(columns))
    later: list[dict[str, Any]] = []
    batch: list[dict[str, Any]] = []
    n = 0
    try:
        handle = bundle.open(f"tables/{table.name}.jsonl")
    except KeyError:
        raise ValidationError("file", f"has no data for table {table.name}") from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            try:
                record = json.loads(raw)
                if set(record) != set(columns):
                    raise ValueError("columns differ from the schema")
                row = {name: _load(columns[name], value) for name, value in record.items()}
            except (ValueError, TypeError) as exc:
                raise ValidationError("file", f"{table.name} line {number}: {exc}") from None
            for column in own:
                if row[column.name] is not None:
                    # The stamps go along, or the UPDATE's onupdate would set them to now.
                    later.append({"key": {c.name: row[c.name] for c in table.primary_key},
                                  column.name: row[column.name],
                                  **{c.name: row[c.name] for c in stamped}})
                    row[column.name] = None
            batch.append(row)
            n += 1
            if len(batch) >= per_insert:
                session.execute(insert(table).values(batch))
                batch = []
    if batch:
        session.execute(insert(table).values(batch))
    for fix in later:
        key = fix.pop("key")
        session.execute(update(table).where(*(table.c[k] == v for k, v in key.items()))
                        .values(**fix))
    return n


def bundle_rows(path: Path | IO[bytes]) -> dict[str, list[str]]:
    """Every table's lines of a bundle: what two bundles of the same data share."""
    with zipfile.ZipFile(path) as bundle:
        manifest = json.loads(bundle.read(MANIFEST))
        return {entry["name"]: bundle.read(f"tables/{entry['name']}.jsonl").decode().splitlines()
                for entry in manifest["tables"]}

