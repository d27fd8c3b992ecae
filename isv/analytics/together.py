"""A page's independent statements side by side, on PostgreSQL.

A page's data is a dozen statements that do not wait for each other (this quarter's KPIs,
the quarter before, revenue by quarter, pipeline by domain, ...). On PostgreSQL `gather`
runs them at once, each on a connection of its own, in a pool of WORKERS threads shared by
the process: on the 2-core machine the dashboard's data at 100,000 deals took 0.7-0.96 s
instead of 1.0-1.25 s (bench/README.md, "Speed as a person feels it"). Nothing is lost in
consistency: at PostgreSQL's READ COMMITTED every statement sees its own snapshot, in one
transaction or several.

They run one after another on the caller's session instead:
- on SQLite, whose one file gains nothing from a second reader in the same process;
- when the caller's session has written in its open transaction (a use case that reads back
  what it wrote), or is bound to a connection whose transaction it joins (the tests' rolled
  back session): another connection would not see those rows;
- inside a worker (no task waits for the pool it runs in) and in the background refresh and
  prefetch (`one_at_a_time`), which must give way to a page run at their next statement and
  must not take the pool from one.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from isv.db import has_uncommitted_writes

WORKERS = 3  # two cores: a third keeps both busy while one worker turns rows into objects
THREAD_PREFIX = "isv-analytics-sql"

_sequential: contextvars.ContextVar[bool] = contextvars.ContextVar("isv_analytics_sequential",
                                                                  default=False)
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()

Call = Callable[[Session], Any]


@contextmanager
def one_at_a_time() -> Iterator[None]:
    """Within the block, `gather` runs its calls one after another on the caller's session."""
    token = _sequential.set(True)
    try:
        yield
    finally:
        _sequential.reset(token)


def gather(session: Session, *calls: Call) -> list[Any]:
    """`[call(session) for call in calls]`, run side by side where that helps (see above).

    Each call reads only; an error in one is raised here once all have finished.
    """
    if len(calls) < 2 or not _side_by_side(session):
        return [call(session) for call in calls]
    engine = session.get_bind()
    pool = _executor()
    futures = [pool.submit(contextvars.copy_context().run, _in_worker, engine, call)
               for call in calls]
    return [future.result() for future in futures]


def _side_by_side(session: Session) -> bool:
    bind = session.get_bind()
    if _sequential.get() or not isinstance(bind, Engine) or bind.dialect.name == "sqlite":
        return False
    return not has_uncommitted_writes(session)


def _in_worker(engine: Engine, call: Call) -> Any:
    _sequential.set(True)  # the worker's own copy of the context: a nested gather runs in line
    with Session(bind=engine) as session:
        try:
            return call(session)
        finally:
            session.rollback()  # it only read


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(WORKERS, thread_name_prefix=THREAD_PREFIX)
        return _pool
