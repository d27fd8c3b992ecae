"""Bump the data version after every commit that changed program data (see isv/cache.py).

Installed once on the Session class (isv/db.py calls `install()`), so every write of every
service, the importer, the scheduler and the CLI counts, without any of them knowing.

Sign-in bookkeeping does not count: server sessions, the cookie route's one-time tickets,
the REST API's refresh and personal tokens, the audit log and a user's login counters change
on every sign-in or page view (a session's last-seen time, once a minute), no cached result
depends on them, and counting them would throw every viewer's cache away at each sign-in. Nor does
the scheduler's: its leader heartbeat (every 5 s) and its run records. Counting them made
every open page redraw itself on each 30 s poll; what a job changes (alerts, rolled-over
tasks) still counts.
"""

from __future__ import annotations

import logging
from itertools import chain
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

log = logging.getLogger(__name__)

CHANGED = "isv_data_changed"  # session.info flag: this transaction wrote program data
IGNORED_TABLES = frozenset({"user_sessions", "login_tickets", "api_refresh_tokens",
                            "personal_access_tokens", "audit_log", "scheduler_leader",
                            "job_runs"})
LOGIN_COLUMNS = frozenset({"last_login_at", "failed_login_count", "failed_login_window_start",
                           "locked_until", "updated_at"})


def _counts(obj: Any, *, dirty: bool) -> bool:
    table = getattr(obj, "__tablename__", None)
    if table in IGNORED_TABLES:
        return False
    if dirty and table == "users":
        state = inspect(obj)
        changed = {attr.key for attr in state.attrs if attr.history.has_changes()}
        return bool(changed - LOGIN_COLUMNS)
    return True


def _after_flush(session: Session, _context: Any) -> None:
    if session.info.get(CHANGED):
        return
    added_or_deleted = chain(session.new, session.deleted)
    if any(_counts(obj, dirty=False) for obj in added_or_deleted) or any(
            _counts(obj, dirty=True) for obj in session.dirty
            if session.is_modified(obj, include_collections=False)):
        session.info[CHANGED] = True


def _do_orm_execute(state: ORMExecuteState) -> None:
    # Bulk statements (session.execute(insert/update/delete(...))) skip the flush.
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    if getattr(table, "name", None) not in IGNORED_TABLES:
        state.session.info[CHANGED] = True


def _after_commit(session: Session) -> None:
    if not session.info.pop(CHANGED, False):
        return
    # Imported here: isv.cache reads settings, which isv.db must not need at import time.
    from isv import cache

    try:
        bind = session.get_bind()
        cache.get_cache().bump(cache.database_key(bind.engine.url))
    except Exception:  # the commit has happened; a cache outage must not turn it into an error
        log.exception("could not bump the data version; cached results may be stale")


def _after_soft_rollback(session: Session, previous: SessionTransaction) -> None:
    # Only the outermost transaction's rollback undoes everything; a savepoint's does not.
    if previous.parent is None:
        session.info.pop(CHANGED, None)


_installed = False


def install() -> None:
    """Listen on every Session (idempotent)."""
    global _installed
    if _installed:
        return
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "do_orm_execute", _do_orm_execute)
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_soft_rollback", _after_soft_rollback)
    _installed = True
