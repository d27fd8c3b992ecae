"""Writing many rows fast: COPY on PostgreSQL, the audit entries' JSON, ids, rarer full GCs.

Deals, stage history, goals and touches come in many rows: new ones are inserted in bulk with
the values and audit entries the services would write.
"""

from __future__ import annotations

import gc
import json
import os
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from itertools import chain
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.sqltypes import JSON

from isv.db import note_write
from isv.models import AuditEntry
from isv.services import audit

from .checks import Run

_INSERT_CHUNK = 5000
_ANALYZE_AFTER = 10_000  # rows bulk-inserted into a PostgreSQL table before re-analyzing it


class _JsonText(str):
    """A JSON column's value already encoded: insert_rows writes it as it is."""


class JsonEncoder:
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


def insert_rows(session: Session, model: type, rows: Iterable[dict[str, Any]]) -> None:
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
        note_write(session)  # COPY goes round the session: say it wrote
        encode = JsonEncoder()  # the text audit.record would store, made much faster
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


def new_ids() -> Iterator[uuid.UUID]:
    """Random (version 4) ids as uuid.uuid4 makes them, endlessly, from one read of the OS's
    randomness per thousand instead of one per id: a large import makes hundreds of
    thousands, each one as it is needed (while PostgreSQL loads the rows before it)."""
    while True:
        raw = os.urandom(16 * 1024)
        for i in range(0, len(raw), 16):
            yield uuid.UUID(bytes=raw[i:i + 16], version=4)


def audit_row(run: Run, action: str, entity_type: str, entity_id: Any,
              old: dict | None = None, new: dict | _JsonText | None = None,
              entry_id: uuid.UUID | None = None) -> dict[str, Any]:
    """An audit entry as audit.record would add it, for insert_rows (which makes the values
    JSON-safe the way audit.plain does)."""
    return dict(id=entry_id or uuid.uuid4(), at=run.now, actor_id=run.viewer.id,
                actor_email=run.viewer.email, action=action, entity_type=entity_type,
                entity_id=str(entity_id), old_values=old or None, new_values=new or None)


_gc_lock = threading.Lock()
_gc_imports = 0             # imports running in this process
_gc_thresholds = gc.get_threshold()


@contextmanager
def rare_full_collections() -> Iterator[None]:
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
