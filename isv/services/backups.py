"""The scheduled backup: a whole-database copy into ISV_BACKUP_DIR, checked, kept N days.

On PostgreSQL it is `pg_dump --format=custom` (the server's own consistent snapshot,
restored with pg_restore); on SQLite the portable bundle of isv.services.backup. A file is
named by the time it was taken (isv-backup-20261202T021500Z.dump / .zip), written under a
.partial name, read back (the archive's table list, or the bundle's manifest) and counted,
and only then given its name: a file with a backup's name is a checked backup. Files older
than ISV_BACKUP_KEEP_DAYS are deleted after a successful backup, never the newest one.
`isv restore FILE` takes either kind.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session

from isv.auth import MANAGE_USERS, Viewer, require
from isv.config import PROJECT_ROOT, Settings, get_settings
from isv.errors import ValidationError
from isv.services import backup
from isv.types import utcnow

PREFIX = "isv-backup-"
STAMP = "%Y%m%dT%H%M%SZ"
NAME = re.compile(rf"^{PREFIX}(\d{{8}}T\d{{6}}Z)\.(dump|zip)$")
PG_MAGIC = b"PGDMP"
DUMP_SECONDS = 3600


class BackupFailed(RuntimeError):
    """pg_dump or the check after writing failed: no file was kept."""


@dataclass(frozen=True)
class BackupFile:
    path: Path
    created_at: datetime
    size: int
    kind: str          # "pg_dump" or "bundle"


def folder(settings: Settings | None = None) -> Path:
    """ISV_BACKUP_DIR; by default a backups folder beside the SQLite file, or var/backups."""
    settings = settings or get_settings()
    if settings.backup_dir:
        return Path(settings.backup_dir)
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).resolve().parent / "backups"
    return PROJECT_ROOT / "var" / "backups"


def listing(settings: Settings | None = None) -> list[BackupFile]:
    """The checked backups in the folder, newest first."""
    where = folder(settings)
    if not where.is_dir():
        return []
    found = []
    for path in where.iterdir():
        match = NAME.match(path.name)
        if not match or not path.is_file():
            continue
        created = datetime.strptime(match[1], STAMP).replace(tzinfo=UTC)
        found.append(BackupFile(path, created, path.stat().st_size,
                                "pg_dump" if match[2] == "dump" else "bundle"))
    return sorted(found, key=lambda f: f.created_at, reverse=True)


def kept(*, session: Session, viewer: Viewer) -> tuple[Path, list[BackupFile]]:
    """The backup folder and the checked backups in it, newest first (the System page)."""
    require(viewer, MANAGE_USERS, "see the backups")
    return folder(), listing()


def newest(settings: Settings | None = None) -> BackupFile | None:
    files = listing(settings)
    return files[0] if files else None


def count(settings: Settings | None = None) -> int:
    return len(listing(settings))


def is_pg_dump(path: Path) -> bool:
    """Whether the file is a pg_dump custom-format archive (rather than a bundle)."""
    with path.open("rb") as handle:
        return handle.read(len(PG_MAGIC)) == PG_MAGIC


# --- libpq ------------------------------------------------------------------------------

def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, and the environment that carries it.

    The password goes in PGPASSWORD, not the command line, where `ps` would show it.
    """
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupFailed(f"{name} not found: install the PostgreSQL client "
                           f"(postgresql-client) matching the server's major version")
    return found


def _run(command: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(command, env=env, capture_output=True, text=True,
                          timeout=DUMP_SECONDS, check=False)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        raise BackupFailed(f"{Path(command[0]).name} failed: {reason}")
    return done.stdout


def archive_tables(path: Path) -> int:
    """How many tables' data a pg_dump archive holds (read back with pg_restore --list)."""
    listed = _run([_tool("pg_restore"), "--list", str(path)], dict(os.environ))
    return sum(1 for line in listed.splitlines()
               if not line.startswith(";") and " TABLE DATA " in line)


# --- the job ----------------------------------------------------------------------------

def run_backup(*, session: Session, viewer: Viewer, settings: Settings | None = None,
               now: datetime | None = None) -> dict[str, Any]:
    """Write, check and name one backup, then delete those past the retention.

    Returns what the job run records: the file, its size, the tables and rows counted, and
    how many old files were deleted.
    """
    require(viewer, MANAGE_USERS, "back up the database")
    settings = settings or get_settings()
    now = now or utcnow()
    expected = len(backup.tables()) + 1    # and alembic_version
    where = folder(settings)
    where.mkdir(parents=True, exist_ok=True)
    url = session.get_bind().url
    postgres = url.get_backend_name() == "postgresql"
    final = where / f"{PREFIX}{now.strftime(STAMP)}.{'dump' if postgres else 'zip'}"
    partial = final.with_name(final.name + ".partial")
    try:
        if postgres:
            if backup.current_revision(session) is None:
                raise ValidationError("database", "has no tables yet; run `isv migrate` first")
            target, env = _libpq(url)
            _run([_tool("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
                  f"--file={partial}", f"--dbname={target}"], env)
            tables, rows = archive_tables(partial), None
        else:
            summary = backup.write_backup(session=session, viewer=viewer, out=partial)
            manifest = backup.read_manifest(partial)
            tables, rows = len(manifest["tables"]) + 1, summary.rows
        if tables < expected:
            raise BackupFailed(f"the backup written holds {tables} tables, the schema has "
                               f"{expected}; not kept")
        partial.replace(final)
    finally:
        partial.unlink(missing_ok=True)
    pruned = prune(settings=settings, now=now, keep=final)
    counts: dict[str, Any] = {"file": final.name, "bytes": final.stat().st_size,
                              "tables": tables, "pruned": pruned}
    if rows is not None:
        counts["rows"] = rows
    return counts


def prune(*, settings: Settings | None = None, now: datetime | None = None,
          keep: Path | None = None) -> int:
    """Delete the backups older than ISV_BACKUP_KEEP_DAYS; the newest always stays."""
    settings = settings or get_settings()
    now = now or utcnow()
    files = listing(settings)
    cutoff = now - timedelta(days=max(1, settings.backup_keep_days))
    deleted = 0
    for old in files[1:]:
        if old.created_at < cutoff and old.path != keep:
            old.path.unlink(missing_ok=True)
            deleted += 1
    return deleted


# --- restore ----------------------------------------------------------------------------

def restore_pg_dump(*, url: str, path: Path, force: bool = False) -> int:
    """Load a pg_dump archive into the PostgreSQL database at `url`, in one transaction.

    The database must have none of the schema's tables (a new `createdb`), unless `force`,
    which drops and recreates what the archive holds. Returns the tables restored.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValidationError("file", "is a pg_dump archive: it restores only into PostgreSQL "
                                      "(use an `isv backup` bundle to move to SQLite)")
    from isv.db import get_engine

    with get_engine(url).connect() as conn:
        present = set(inspect(conn).get_table_names()) & {t.name for t in backup.tables()}
    if present and not force:
        raise ValidationError("database", "already has tables; restore a pg_dump archive into "
                                          "a new, empty database (createdb), or use --force to "
                                          "replace everything")
    target, env = _libpq(parsed)
    command = [_tool("pg_restore"), "--single-transaction", "--exit-on-error", "--no-owner",
               "--no-privileges", f"--dbname={target}"]
    if force:
        command += ["--clean", "--if-exists"]
    try:
        _run([*command, str(path)], env)
    except BackupFailed as exc:
        raise ValidationError("file", f"was not restored ({exc}); the database is "
                                      f"unchanged") from None
    return archive_tables(path)
