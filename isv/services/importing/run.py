"""The use cases: import one file, or a whole data set, in one savepoint, all or nothing."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy.orm import Session, SessionTransaction

from isv.auth import (
    MANAGE_USERS,
    OWN_WORK,
    WRITE_OPPORTUNITIES,
    WRITE_PARTNERS,
    Viewer,
    require,
)
from isv.services import audit, validate
from isv.services.settings import current_settings, local_zone
from isv.types import utcnow

from .activities import ActivityRows
from .bulk import rare_full_collections
from .checks import Entity, Run
from .commissions import CommissionRows
from .formats import COLUMNS, ENTITIES
from .goals import GoalRows
from .opportunities import OpportunityRows
from .partners import PartnerRows
from .reading import read_rows
from .records import Limits, Progress
from .report import FILE, EntityReport, Errors, ImportReport, RowError
from .stage_history import StageHistoryRows
from .users import UserRows

_HANDLERS: dict[str, Callable[[], Entity]] = {
    "users": UserRows, "partners": PartnerRows, "commissions": CommissionRows,
    "opportunities": OpportunityRows, "stage_history": StageHistoryRows, "goals": GoalRows,
    "activities": ActivityRows,
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


def importable_entities(viewer: Viewer) -> tuple[str, ...]:
    """List the entities the viewer's role may import at all (scope still applies per row)."""
    return tuple(e for e in ENTITIES if viewer.can(_PERMISSION[e][0]))


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


def _import(session: Session, viewer: Viewer, files: list[tuple[str, str, bytes]],
            problems: list[RowError], *, dry_run: bool, progress: Progress | None,
            keep_going: bool, limits: Limits | None) -> ImportReport:
    with rare_full_collections():
        return _import_files(session, viewer, files, problems, dry_run=dry_run,
                             progress=progress, keep_going=keep_going,
                             limits=limits or Limits.configured())


def _begin_writing(session: Session) -> SessionTransaction:
    """Open the import's savepoint, on SQLite under its write lock, taken first.

    SQLite reads inside a transaction from a snapshot, and a transaction that read from a
    snapshot which another writer has since committed over cannot write at all ("database
    is locked"). So the checks read before any transaction is open, as every other service
    does, and the writes start by taking the lock: what they change is read again under it
    (update_opportunity's version check), and a save that landed meanwhile is refused as a
    conflict instead of failing the import. PostgreSQL reads committed data either way.
    """
    connection = session.connection()
    if connection.dialect.name == "sqlite" and \
            not connection.connection.dbapi_connection.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    return session.begin_nested()


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
    run = Run(session=session, viewer=viewer, progress=progress, now=now,
              today=now.astimezone(zone).date(), zone=zone,
              probabilities=current_settings(session).stage_probabilities)
    savepoint: SessionTransaction | None = None
    try:
        for entity, filename, data in files:
            handler = _HANDLERS[entity]()
            errors = Errors(filename, limits.problems)
            entity_report = EntityReport(entity=entity, file=filename)
            report.entities.append(entity_report)
            rows = read_rows(entity, data, filename, errors, limits, progress)
            if rows is not None:
                entity_report.rows = len(rows)
                plans = handler.check(run, rows, errors)
                for plan in plans:
                    setattr(entity_report, _COUNTER[plan.action],
                            getattr(entity_report, _COUNTER[plan.action]) + 1)
                if getattr(handler, "notice", None):
                    entity_report.notices.append(handler.notice)
                if keep_going or not errors.items:
                    savepoint = savepoint or _begin_writing(session)
                    handler.write(run, [p for p in plans if p.action != "unchanged"], errors)
            order = {c.name: n for n, c in enumerate(COLUMNS[entity])}
            entity_report.errors = sorted(errors.items,
                                          key=lambda e: (e.row, order.get(e.column, -1)))
            entity_report.unlisted = errors.unlisted
        savepoint = savepoint or _begin_writing(session)
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
        if savepoint is not None and savepoint.is_active:
            savepoint.rollback()
        raise
    return report


_COUNTER = {"create": "created", "update": "updated", "unchanged": "unchanged"}
