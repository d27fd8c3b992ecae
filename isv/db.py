"""Engine and the unit of work: one transaction per use case, rolled back unless it commits."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, TextClause, create_engine, event
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, sessionmaker

from isv import datastamp
from isv.config import get_settings

log = logging.getLogger("isv.db")

datastamp.install()  # every commit that writes program data bumps the data version


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    # SQLite ignores foreign keys unless asked, and WAL lets the app read while the
    # scheduler writes.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def make_engine(url: str) -> Engine:
    """Build an engine for `url`, creating the SQLite folder when needed."""
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    # JIT off: PostgreSQL compiles any statement its planner costs over jit_above_cost, and
    # the analytics' per-deal subqueries cost that on paper while running in tens of ms; the
    # compile then cost more than the query (measured in bench/README.md, Analytics).
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10,
                         connect_args={"options": "-c jit=off"})


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    from isv import metrics  # its pool gauges read every engine made here

    engine = make_engine(url)
    metrics.watch_engine(engine)
    return engine


def get_engine(url: str | None = None) -> Engine:
    """The one engine (and pool) per database URL; None means the configured database."""
    return _engine_for(url or get_settings().database_url)


get_engine.cache_clear = _engine_for.cache_clear  # type: ignore[attr-defined]


@lru_cache(maxsize=8)
def _factory_for(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=_engine_for(url), expire_on_commit=False)


def _factory(url: str | None) -> sessionmaker[Session]:
    return _factory_for(url or get_settings().database_url)


_factory.cache_clear = _factory_for.cache_clear  # type: ignore[attr-defined]


class UncommittedWrite(RuntimeError):
    """A use case wrote and ended without `session.commit()`: its writes were rolled back."""


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """Open a session for one use case; roll back whatever it has not committed.

    A use case that writes ends with `session.commit()`; one that reads needs nothing, and
    one that gives up (a refused import, a preview) calls `session.rollback()` or raises. A
    block that wrote and ends normally without committing is a mistake, not a choice: its
    writes are rolled back and UncommittedWrite says so, instead of their being lost in
    silence.
    """
    session = _factory(url)()
    try:
        yield session
        if has_uncommitted_writes(session):
            raise UncommittedWrite("a use case wrote without committing; its writes were "
                                   "rolled back")
    except BaseException as exc:
        session.rollback()
        if not isinstance(exc, UncommittedWrite):
            _after_rollback(session, exc)
        raise
    finally:
        session.close()  # ends a read transaction without expiring what it loaded


WROTE = "isv_wrote"  # session.info: the open transactions (or savepoints) that have written
_ROOT = "transaction"  # the outermost one, in WROTE


def has_uncommitted_writes(session: Session) -> bool:
    """Whether the session's open transaction has written anything (flushed or not)."""
    return bool(session.info.get(WROTE) or session.new or session.deleted
                or any(session.is_modified(obj) for obj in session.dirty))


def note_write(session: Session) -> None:
    """Count a write the session cannot see (COPY on the driver's own connection)."""
    # Before its first statement a session has no transaction yet: the write is the root's.
    current = session.get_nested_transaction() or _ROOT
    session.info.setdefault(WROTE, set()).add(current)


def _note_flush(session: Session, _context: object) -> None:
    note_write(session)


_WRITING_SQL = frozenset({"INSERT", "UPDATE", "DELETE", "MERGE", "TRUNCATE"})


def _writes(sql: str) -> bool:
    first = sql[:40].split(None, 1)
    return bool(first) and first[0].upper() in _WRITING_SQL


def _note_statement(state: ORMExecuteState) -> None:
    # Bulk statements (session.execute(insert/update/delete(...)), or their text) do not flush.
    statement = state.statement
    if state.is_insert or state.is_update or state.is_delete or (
            isinstance(statement, TextClause)
            and _writes(statement.text)):
        note_write(state.session)


def _committed(session: Session) -> None:
    marks = session.info.get(WROTE)
    if not marks:
        return
    savepoint = session.get_nested_transaction()
    if savepoint is None:
        marks.clear()
    elif savepoint in marks:  # released: its writes are now the enclosing transaction's
        marks.discard(savepoint)
        parent = savepoint.parent
        marks.add(parent if parent is not None and parent.nested else _ROOT)


def _rolled_back(session: Session, previous: SessionTransaction) -> None:
    marks = session.info.get(WROTE)
    if not marks:
        return
    if previous.parent is None:
        marks.clear()
    else:
        marks.discard(previous)  # a savepoint's rollback undoes only its own writes


event.listen(Session, "after_flush", _note_flush)
event.listen(Session, "do_orm_execute", _note_statement)
event.listen(Session, "after_commit", _committed)
event.listen(Session, "after_soft_rollback", _rolled_back)


def _after_rollback(session: Session, exc: BaseException) -> None:
    for hook in _rollback_hooks:
        try:
            hook(session, exc)
        except Exception:
            session.rollback()
            log.exception("%s failed after a rollback", getattr(hook, "__qualname__", hook))


# Run after session_scope rolls back: isv.services.audit registers the hook that keeps a
# refused attempt in the audit log, so this floor imports no service.
_rollback_hooks: list[Callable[[Session, BaseException], None]] = []


def after_rollback(hook: Callable[[Session, BaseException], None]) -> None:
    """Call `hook(session, exc)` each time session_scope has rolled a transaction back."""
    if hook not in _rollback_hooks:
        _rollback_hooks.append(hook)
