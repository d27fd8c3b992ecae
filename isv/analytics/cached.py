"""Analytics through the shared cache: a repeat with no data change runs no SQL.

A result is keyed by the database, its data version, the function, who asks and the
arguments (period, filters, as_of). Who asks is the viewer by default; a function whose
result depends only on what the viewer may see (every KPI and breakdown here) passes
share="scope", so that everyone who sees everything shares one entry. On a miss the function
runs in a read transaction of its own.

After a write every result is a miss, and at 100,000 deals a page's data is 0.5-1 s of SQL.
So a server process remembers the few results viewed last (ISV_ANALYTICS_REFRESH, within 15
minutes) that took a quarter second or more to get, and recomputes them in a background
thread once the data version moves (a write of this process wakes it at once; other
processes' writes are seen within 2 s) and no page run is under way: the rerun that shows
the write goes first, and a page run that starts while a result is being recomputed stops it
at its next statement (it is recomputed once idle again). The dashboard goes first: people
land on it and come back to it between the other pages. The next view of them is then a hit,
with the write in it; a view that comes while its result is still being computed waits for
that computation instead of running its own.

The four analytics pages share their filters, and a person who looked at one for some filters
often opens another with them. So when a page's data is viewed, the others' for the same
filters are queued (`prefetch`) and computed while no page run is under way in the process
(`foreground`), newest first, a few at most; a view that comes first waits for or does that
computation once. Both background jobs are off with ISV_ANALYTICS_REFRESH=0.

Pages ask for the same quarters' KPIs: the dashboard for the period and the one before,
pipeline analytics for those and two more, partner analytics and the team view for the
period. Within a load, `compute_kpis` goes through the cache as a result of its own, so a
quarter's KPIs are computed once per scope, filters and data version, whichever page asks.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from sqlalchemy import Engine, event

from isv import cache
from isv.auth import Viewer
from isv.config import get_settings
from isv.db import get_engine, session_scope
from isv.errors import IsvError

from . import together
from .kpis import Filters, Kpis, compute_kpis, scope_key, shared_by

T = TypeVar("T")
log = logging.getLogger(__name__)
RECENT_SECONDS = 15 * 60   # a result not viewed for this long is no longer refreshed
REFRESH_MIN_SECONDS = 0.25  # a result quicker to get than this is left to the next view
COSTS_KEPT = 1024          # results whose cost is remembered, the last viewed
POLL_SECONDS = 2.0         # how often the refresher looks for other processes' writes
REFRESH_THREAD = "isv-analytics-refresh"


def database(url: str | None = None) -> str:
    """The cache's name for the configured database (or the one at `url`)."""
    return cache.database_key(get_engine(url).url)


def data_version(url: str | None = None) -> int:
    """The current data version of the database; cheap (no SQL), for polling."""
    return cache.data_version(database(url))


def _entry(fn: Callable[..., T], viewer: Viewer, url: str | None, share: str,
           kwargs: dict[str, Any]) -> tuple[str, Hashable, Callable[[], T]]:
    """The cache's database name, the key parts and the getter of one result."""
    if share == "scope":
        who = scope_key(viewer)
    elif share == "viewer":
        who = f"viewer:{viewer.id}:{viewer.role}:{viewer.email}"
    else:
        raise ValueError(f"share must be 'viewer' or 'scope', not {share!r}")
    parts = (fn.__module__, fn.__qualname__, who, tuple(sorted(kwargs.items())))

    name = database(url)

    def compute() -> T:
        with session_scope(url) as session, shared_by(_shared_kpis(name)):
            return fn(session=session, viewer=viewer, **kwargs)

    def get() -> T:
        return cache.get_cache().get_or_compute(name, parts, compute)

    return name, parts, get


def load(fn: Callable[..., T], /, *, viewer: Viewer, url: str | None = None,
         share: str = "viewer", landing: bool = False, **kwargs: Any) -> T:
    """Call a read function `fn(session=, viewer=, **kwargs)` through the shared cache.

    share="viewer": the entry is this viewer's alone; share="scope": viewers who see the same
    deals share it (only for results that depend on nothing else about the viewer).
    landing: a page people come back to (the dashboard), refreshed before the others.
    """
    name, parts, get = _entry(fn, viewer, url, share, kwargs)
    started = time.perf_counter()
    value = get()
    limit = get_settings().analytics_refresh
    if limit > 0:
        refresher(limit).note(name, parts, get, cost=time.perf_counter() - started,
                              landing=landing)
    return value


def prefetch(fn: Callable[..., Any], /, *, viewer: Viewer, url: str | None = None,
             share: str = "viewer", **kwargs: Any) -> None:
    """Queue `load(fn, ...)` to be computed while the process is idle; returns at once."""
    settings = get_settings()
    if settings.analytics_refresh <= 0 or not settings.analytics_prefetch:
        return
    name, parts, get = _entry(fn, viewer, url, share, kwargs)
    prefetcher().want(name, parts, get)


def _shared_kpis(name: str) -> Callable[..., Kpis]:
    """compute_kpis through the cache, under the key `load(compute_kpis, share="scope")` uses."""

    def source(*, session: Any, viewer: Viewer, period: Any, as_of: Any,
               filters: Filters) -> Kpis:
        kwargs = dict(period=period, as_of=as_of, filters=filters)
        parts = (compute_kpis.__module__, compute_kpis.__qualname__, scope_key(viewer),
                 tuple(sorted(kwargs.items())))
        return cache.get_cache().get_or_compute(
            name, parts, lambda: compute_kpis(session=session, viewer=viewer, **kwargs))

    return source


class Refresher:
    """Recomputes the results viewed last as soon as the data changes, in a daemon thread.

    Only results that took at least `min_seconds` to get: a view computes a cheaper one itself
    about as fast as it would read it, and recomputing it in the background would only take
    the processor from the page runs that follow a write (on the 800-deal demo, every result).
    A cheaper one takes no place among the `limit` kept either: the grid's rows and the board
    opened after the dashboard must not push the dashboard out (at 100,000 deals they take
    0.02-0.2 s, the dashboard 0.6-2 s).
    """

    def __init__(self, limit: int, min_seconds: float = REFRESH_MIN_SECONDS) -> None:
        self.limit = limit
        self.min_seconds = min_seconds
        self._lock = threading.Lock()
        # Per database: each kept result's last view, getter and whether it is a landing page.
        self._recent: dict[str, OrderedDict[Hashable, tuple[float, Callable[[], Any], bool]]] = {}
        # The longest get seen of each result viewed lately, kept or not.
        self._cost: OrderedDict[tuple[str, Hashable], float] = OrderedDict()
        self._done: dict[str, int] = {}  # the data version each database was refreshed at
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def note(self, name: str, parts: Hashable, get: Callable[[], Any],
             cost: float = math.inf, landing: bool = False) -> None:
        """Remember a result as viewed now (`get` fetches or computes it, and took `cost`
        seconds this time: the longest time seen is what counts); `landing` results are
        refreshed first."""
        with self._lock:
            if name not in self._done:
                self._done[name] = cache.data_version(name)
            longest = max(cost, self._cost.pop((name, parts), 0.0))
            self._cost[(name, parts)] = longest
            while len(self._cost) > COSTS_KEPT:
                self._cost.popitem(last=False)
            if longest < self.min_seconds:
                return
            recent = self._recent.setdefault(name, OrderedDict())
            recent[parts] = (time.monotonic(), get, landing)
            recent.move_to_end(parts)
            while len(recent) > self.limit:
                recent.popitem(last=False)

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

    def refresh(self, idle_timeout: float | None = None) -> int:
        """Recompute the recent results of every database whose data version moved since
        they were last refreshed, landing pages first, each group the last viewed first;
        returns how many were fetched.

        Each waits until no page run is under way (the click being answered goes first; the
        result is for the view after it) and gives way to a page run that starts meanwhile,
        unless that run waits for this very result; what gave way is taken up again.
        """
        _listen_for_page_runs()
        fetched = 0
        for name in list(self._recent):
            version = cache.data_version(name)
            if version < 0 or version == self._done.get(name):
                continue
            cutoff = time.monotonic() - RECENT_SECONDS
            with self._lock:
                newest = [(parts, get, landing) for parts, (used, get, landing)
                          in reversed(self._recent[name].items()) if used >= cutoff]
            gets = [(parts, get) for parts, get, landing in newest if landing] + [
                (parts, get) for parts, get, landing in newest if not landing]
            for parts, get in gets:
                if cache.data_version(name) != version:
                    break  # changed again: start over from the newest version
                if not wait_idle(idle_timeout):
                    break
                _background.entry = (name, parts)
                try:
                    with together.one_at_a_time():
                        get()
                except Yielded:
                    self._wake.set()  # once idle again; the results done are hits then
                    break
                finally:
                    _background.entry = None
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


# --- prefetching while idle ----------------------------------------------------------------

PREFETCH_QUEUE = 3        # requests kept; older ones are dropped (the person moved on)
IDLE_SECONDS = 0.3        # no page run for this long before a prefetch starts
PREFETCH_THREAD = "isv-analytics-prefetch"
_foreground_lock = threading.Condition()
_foreground_runs = 0
_foreground_ended = 0.0


@contextmanager
def foreground() -> Iterator[None]:
    """Mark a page run under way: prefetching waits until none has run for IDLE_SECONDS."""
    global _foreground_runs, _foreground_ended
    with _foreground_lock:
        _foreground_runs += 1
    try:
        yield
    finally:
        with _foreground_lock:
            _foreground_runs -= 1
            _foreground_ended = time.monotonic()
            _foreground_lock.notify_all()


def wait_idle(timeout: float | None = None) -> bool:
    """Block until no page run has been under way for IDLE_SECONDS; False on timeout."""
    deadline = None if timeout is None else time.monotonic() + timeout
    with _foreground_lock:
        while True:
            quiet = time.monotonic() - _foreground_ended
            if _foreground_runs == 0 and quiet >= IDLE_SECONDS:
                return True
            wait = IDLE_SECONDS - quiet if _foreground_runs == 0 else IDLE_SECONDS
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                wait = min(wait, left)
            _foreground_lock.wait(max(wait, 0.01))


class Yielded(Exception):
    """A background computation gave way to a page run that started while it was computing."""


_background = threading.local()  # .entry: the result a background thread is computing


def _give_way(*_args: Any) -> None:
    # Before each statement of a refresh or prefetch (every engine's before_cursor_execute):
    # a page run that started meanwhile goes first, and the computation is abandoned and
    # taken up again later; unless that run waits for this very result, which is then
    # finished for it.
    entry = getattr(_background, "entry", None)
    if entry is not None and _foreground_runs > 0 and not cache.get_cache().awaited(*entry):
        raise Yielded


def _listen_for_page_runs() -> None:
    if not event.contains(Engine, "before_cursor_execute", _give_way):
        event.listen(Engine, "before_cursor_execute", _give_way)


class Prefetcher:
    """Computes queued results, newest first, only while no page run is under way; a page
    run that starts meanwhile stops it at its next SQL statement."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: OrderedDict[tuple[str, Hashable], tuple[int, Callable[[], Any]]] = (
            OrderedDict())
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def want(self, name: str, parts: Hashable, get: Callable[[], Any]) -> None:
        with self._lock:
            self._queue[(name, parts)] = (cache.data_version(name), get)
            self._queue.move_to_end((name, parts))
            while len(self._queue) > PREFETCH_QUEUE:
                self._queue.popitem(last=False)
        self._wake.set()

    def start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=PREFETCH_THREAD,
                                                daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            while self.step():
                pass

    def step(self, idle_timeout: float | None = None) -> bool:
        """Wait for idleness, then compute the newest queued result that is still current;
        False when the queue is empty (or idleness did not come within idle_timeout)."""
        if not wait_idle(idle_timeout):
            return False
        with self._lock:
            if not self._queue:
                return False
            (name, parts), (version, get) = self._queue.popitem(last=True)
        try:
            if cache.data_version(name) != version or cache.get_cache().has(name, parts):
                return True  # the data moved on (the next view computes it), or it is there
            _background.entry = (name, parts)
            try:
                with together.one_at_a_time():
                    get()
            finally:
                _background.entry = None
        except Yielded:
            with self._lock:  # again once idle, unless newer wishes pushed it out
                if (name, parts) not in self._queue and len(self._queue) < PREFETCH_QUEUE:
                    self._queue[(name, parts)] = (version, get)
                    self._queue.move_to_end((name, parts), last=False)
        except IsvError as exc:  # the viewer may not see that page: nothing to prepare
            log.debug("prefetch skipped: %s", exc)
        except Exception:  # the view computes what it needs; nothing is lost
            log.exception("prefetch of analytics failed")
        return True


_prefetcher: Prefetcher | None = None


def prefetcher() -> Prefetcher:
    """This process's prefetcher, started on first use."""
    global _prefetcher
    with _refresher_lock:
        if _prefetcher is None:
            _listen_for_page_runs()
            _prefetcher = Prefetcher()
            _prefetcher.start()
        return _prefetcher
