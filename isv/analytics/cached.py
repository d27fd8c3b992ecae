"""Analytics through the shared cache: a repeat with no data change runs no SQL.

A result is keyed by the database, its data version, the function, who asks and the
arguments (period, filters, as_of). Who asks is the viewer by default; a function whose
result depends only on what the viewer may see (every KPI and breakdown here) passes
share="scope", so that everyone who sees everything shares one entry. On a miss the function
runs in a read transaction of its own.

After a write every result is a miss, and at 100,000 deals a page's data is 0.5-1 s of SQL.
So a server process remembers the few results viewed last (ISV_ANALYTICS_REFRESH, within 15
minutes) and recomputes them in a background thread as soon as the data version moves (a
write of this process wakes it at once; other processes' writes are seen within 2 s). The
next view of them is then a hit, with the write in it; a view that comes while its result is
still being computed waits for that computation instead of running its own.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from isv import cache
from isv.auth import Viewer
from isv.config import get_settings
from isv.db import get_engine, session_scope

from .kpis import scope_key

T = TypeVar("T")
log = logging.getLogger(__name__)
RECENT_SECONDS = 15 * 60   # a result not viewed for this long is no longer refreshed
POLL_SECONDS = 2.0         # how often the refresher looks for other processes' writes
REFRESH_THREAD = "isv-analytics-refresh"


def database(url: str | None = None) -> str:
    """The cache's name for the configured database (or the one at `url`)."""
    return cache.database_key(get_engine(url).url)


def data_version(url: str | None = None) -> int:
    """The current data version of the database; cheap (no SQL), for polling."""
    return cache.data_version(database(url))


def load(fn: Callable[..., T], /, *, viewer: Viewer, url: str | None = None,
         share: str = "viewer", **kwargs: Any) -> T:
    """Call a read function `fn(session=, viewer=, **kwargs)` through the shared cache.

    share="viewer": the entry is this viewer's alone; share="scope": viewers who see the same
    deals share it (only for results that depend on nothing else about the viewer).
    """
    if share == "scope":
        who = scope_key(viewer)
    elif share == "viewer":
        who = f"viewer:{viewer.id}:{viewer.role}:{viewer.email}"
    else:
        raise ValueError(f"share must be 'viewer' or 'scope', not {share!r}")
    parts = (fn.__module__, fn.__qualname__, who, tuple(sorted(kwargs.items())))

    def compute() -> T:
        with session_scope(url) as session:
            return fn(session=session, viewer=viewer, **kwargs)

    name = database(url)

    def get() -> T:
        return cache.get_cache().get_or_compute(name, parts, compute)

    limit = get_settings().analytics_refresh
    if limit > 0:
        refresher(limit).note(name, parts, get)
    return get()


class Refresher:
    """Recomputes the results viewed last as soon as the data changes, in a daemon thread."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._recent: dict[str, OrderedDict[Hashable, tuple[float, Callable[[], Any]]]] = {}
        self._done: dict[str, int] = {}  # the data version each database was refreshed at
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def note(self, name: str, parts: Hashable, get: Callable[[], Any]) -> None:
        """Remember a result as viewed now (`get` fetches or computes it)."""
        with self._lock:
            recent = self._recent.setdefault(name, OrderedDict())
            recent[parts] = (time.monotonic(), get)
            recent.move_to_end(parts)
            while len(recent) > self.limit:
                recent.popitem(last=False)
            if name not in self._done:
                self._done[name] = cache.data_version(name)

    def wake(self, _name: str | None = None) -> None:
        self._wake.set()

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=REFRESH_THREAD,
                                                daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(POLL_SECONDS)
            self._wake.clear()
            try:
                self.refresh()
            except Exception:  # the next view computes what it needs; nothing is lost
                log.exception("background refresh of analytics failed")

    def refresh(self) -> int:
        """Recompute the recent results of every database whose data version moved since
        they were last refreshed, the last viewed first; returns how many were fetched."""
        fetched = 0
        for name in list(self._recent):
            version = cache.data_version(name)
            if version < 0 or version == self._done.get(name):
                continue
            cutoff = time.monotonic() - RECENT_SECONDS
            with self._lock:
                gets = [get for used, get in reversed(self._recent[name].values())
                        if used >= cutoff]
            for get in gets:
                if cache.data_version(name) != version:
                    break  # changed again: start over from the newest version
                get()
                fetched += 1
            else:
                self._done[name] = version
        return fetched


_refresher: Refresher | None = None
_refresher_lock = threading.Lock()


def refresher(limit: int) -> Refresher:
    """This process's refresher, started on first use and woken by every local write."""
    global _refresher
    with _refresher_lock:
        if _refresher is None:
            _refresher = Refresher(limit)
            cache.on_bump(_refresher.wake)
            _refresher.start()
        return _refresher
