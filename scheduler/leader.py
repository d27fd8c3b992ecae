"""The leader lock: of all scheduler instances on one database, only the holder runs jobs.

PostgreSQL: a session-level advisory lock on a connection of its own. The server releases it
the moment that connection ends — the process exits, is killed, or the network drops — so a
standby takes over on its next poll. SQLite: an flock on a file next to the database file,
released by the kernel when the holding process dies.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
from pathlib import Path
from typing import Protocol

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

# One 64-bit key for "the ISV scheduler leader"; advisory locks are per database, so two
# databases on one server each have their own leader.
ADVISORY_KEY = int.from_bytes(
    hashlib.sha256(b"isv-pipeline-tracker/scheduler-leader").digest()[:8], "big", signed=True)


class LeaderLock(Protocol):
    description: str

    def try_acquire(self) -> bool:
        """Take the lock if it is free; never wait."""

    def still_held(self) -> bool:
        """Whether we still hold it (the PostgreSQL connection may have dropped)."""

    def release(self) -> None:
        """Let go of the lock (safe to call when not held)."""


class PostgresAdvisoryLock:
    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        self.description = f"PostgreSQL advisory lock {ADVISORY_KEY} on {parsed.database}"
        # No pool, autocommit: the lock lives exactly as long as this one connection, which
        # never sits idle in a transaction. Keepalives and a user timeout notice a dead
        # network within about a minute instead of the kernel's two hours.
        self._engine = create_engine(
            parsed, poolclass=NullPool, isolation_level="AUTOCOMMIT",
            connect_args={"application_name": "isv-scheduler-lock", "connect_timeout": 10,
                          "keepalives": 1, "keepalives_idle": 15, "keepalives_interval": 5,
                          "keepalives_count": 3, "tcp_user_timeout": 30_000})
        self._conn: Connection | None = None
        self._held = False

    def try_acquire(self) -> bool:
        try:
            if self._conn is None:
                self._conn = self._engine.connect()
            self._held = bool(self._conn.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY}).scalar())
        except SQLAlchemyError as exc:
            log.warning("cannot reach the database for the leader lock: %s",
                        str(exc).splitlines()[0])
            self._close()
        return self._held

    def still_held(self) -> bool:
        if not self._held or self._conn is None:
            return False
        try:
            self._conn.execute(text("SELECT 1"))
            return True
        except SQLAlchemyError as exc:
            log.error("lost the connection that holds the leader lock: %s",
                      str(exc).splitlines()[0])
            self._close()
            return False

    def release(self) -> None:
        if self._held and self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:key)"),
                                   {"key": ADVISORY_KEY})
            except SQLAlchemyError:
                pass  # closing the connection below releases it anyway
        self._close()

    def _close(self) -> None:
        self._held = False
        if self._conn is not None:
            try:
                self._conn.close()
            except SQLAlchemyError:
                pass
            self._conn = None


class FileLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"file lock {path}"
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        # For a person looking at the file: which process holds it.
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def still_held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def lock_for(database_url: str) -> LeaderLock:
    """The leader lock that fits the database: advisory lock or file lock."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "postgresql":
        return PostgresAdvisoryLock(database_url)
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise ValueError("the scheduler needs a database file or PostgreSQL, "
                             "not an in-memory SQLite database")
        return FileLock(Path(f"{url.database}.scheduler-lock"))
    raise ValueError(f"no leader lock for {backend} databases")
