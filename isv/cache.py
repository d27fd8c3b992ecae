"""The shared cache: Redis when ISV_REDIS_URL is set, in-process otherwise.

It holds two things:

- the data version, one integer per database, bumped after every commit that wrote program
  data (isv/datastamp.py hooks that into every session). Reading it is cheap (a Redis GET or
  a small file read), never SQL, so pages can poll it;
- computed results (analytics), stored under keys that include the data version: after a
  write the next request misses and recomputes; old entries expire (Redis) or are evicted.

Without Redis the results live in this process, but the data version lives in a small file
in the temp folder, so the app, the scheduler and `isv` commands on one machine (the embedded
setup) still see each other's writes. Counter files idle for two days are removed.

Values are stored as signed, typed JSON (isv/cache_format.py), never pickled: an entry that
anyone without the app's secret wrote, or that was moved from another key, is refused and
counts as a miss (with a warning), so a writable Redis is no way to run code in the app.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol, TypeVar

import redis
from sqlalchemy.engine import make_url

from isv import cache_format, metrics
from isv.config import get_settings

log = logging.getLogger(__name__)
T = TypeVar("T")
RESULT_TTL_SECONDS = 3600
LOCAL_MAX_ENTRIES = 256
COUNTER_MAX_IDLE_SECONDS = 2 * 24 * 3600


class Backend(Protocol):
    def get(self, key: str) -> bytes | None: ...
    def exists(self, key: str) -> bool: ...
    def set(self, key: str, value: bytes, ttl: int) -> None: ...
    def counter(self, key: str) -> int: ...
    def increment(self, key: str) -> int: ...


class RedisBackend:
    """Values and counters in Redis, shared by every app replica and the scheduler."""

    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def get(self, key: str) -> bytes | None:
        return self.client.get(key)

    def exists(self, key: str) -> bool:
        return bool(self.client.exists(key))

    def set(self, key: str, value: bytes, ttl: int) -> None:
        self.client.set(key, value, ex=ttl)

    def counter(self, key: str) -> int:
        raw = self.client.get(key)
        return int(raw) if raw is not None else 0

    def increment(self, key: str) -> int:
        # A counter expires after long idleness (throwaway databases leave none behind). It
        # then restarts at 1, which is safe: results live an hour, so none is left under it.
        with self.client.pipeline() as pipe:
            value, _ = pipe.incr(key).expire(key, COUNTER_MAX_IDLE_SECONDS).execute()
        return int(value)


def default_counter_folder() -> Path:
    return Path(tempfile.gettempdir()) / f"isv-data-versions-{os.getuid()}"


class LocalBackend:
    """Values in a bounded dict of this process; counters in files shared on this machine."""

    def __init__(self, folder: str | Path | None = None,
                 max_entries: int = LOCAL_MAX_ENTRIES) -> None:
        self.folder = Path(folder) if folder else default_counter_folder()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.max_entries = max_entries
        self._values: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self._prune()

    def _prune(self) -> None:
        # Throwaway databases (tests, benchmarks) leave counters behind. Dropping one that is
        # still in use is harmless: it reads as 0, then restarts from the clock (increment),
        # a version no process has results for.
        cutoff = time.time() - COUNTER_MAX_IDLE_SECONDS
        for path in self.folder.glob("counter-*"):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
            except OSError:
                continue

    def get(self, key: str) -> bytes | None:
        with self._lock:
            entry = self._values.get(key)
            if entry is None:
                return None
            expires, value = entry
            if expires < time.monotonic():
                del self._values[key]
                return None
            self._values.move_to_end(key)
            return value

    def exists(self, key: str) -> bool:
        with self._lock:
            entry = self._values.get(key)
            return entry is not None and entry[0] >= time.monotonic()

    def set(self, key: str, value: bytes, ttl: int) -> None:
        with self._lock:
            self._values[key] = (time.monotonic() + ttl, value)
            self._values.move_to_end(key)
            while len(self._values) > self.max_entries:
                self._values.popitem(last=False)

    def _path(self, key: str) -> Path:
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        return self.folder / f"counter-{digest}"

    def counter(self, key: str) -> int:
        try:
            return int(self._path(key).read_text() or 0)
        except (FileNotFoundError, ValueError):
            return 0

    def increment(self, key: str) -> int:
        path = self._path(key)
        with open(path, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            handle.seek(0)
            text = handle.read().strip()
            # A counter file that went missing restarts from the clock, not from 0, so it
            # cannot come back to a version whose results are still cached in some process.
            value = int(text) + 1 if text.isdigit() else time.time_ns() // 1000
            handle.seek(0)
            handle.truncate()
            handle.write(str(value))
            handle.flush()
        return value


def database_key(url: Any) -> str:
    """A short, stable name for a database (its URL, password included, hashed).

    The query string is left out: connection options (the scheduler adds its
    application_name) do not make another database, and the app and the scheduler must
    bump and read the same data version.
    """
    text = make_url(url).set(query={}).render_as_string(hide_password=False)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


_BUMP_LISTENERS: list[Callable[[str], None]] = []


def on_bump(listener: Callable[[str], None]) -> None:
    """Call `listener(database)` after this process bumps a database's data version."""
    if listener not in _BUMP_LISTENERS:
        _BUMP_LISTENERS.append(listener)


class Cache:
    """Results keyed by data version; `prefix` separates deployments (and tests).

    Entries are signed with `secret` (by default derived from ISV_COOKIE_KEY, which the app
    replicas, the scheduler and `isv` commands share).
    """

    def __init__(self, backend: Backend, prefix: str = "isv", secret: bytes | None = None) -> None:
        self.backend = backend
        self.kind = "redis" if isinstance(backend, RedisBackend) else "local"
        self.prefix = prefix
        self.secret = secret or cache_format.entry_secret(get_settings().cookie_key)
        self._flights: dict[str, tuple[threading.Lock, int]] = {}
        self._flights_lock = threading.Lock()

    def _version_key(self, database: str) -> str:
        return f"{self.prefix}:{database}:data_version"

    def data_version(self, database: str) -> int:
        """The current data version of a database (0 before its first recorded write)."""
        return self.backend.counter(self._version_key(database))

    def bump(self, database: str) -> int:
        """Record that the database's data changed: every cached result for it is now old.

        Then tell this process's listeners (`on_bump`), so results can be recomputed at once.
        """
        version = self.backend.increment(self._version_key(database))
        for listener in list(_BUMP_LISTENERS):
            try:
                listener(database)
            except Exception:  # a listener must never turn a committed write into an error
                log.exception("data version listener failed")
        return version

    def key(self, database: str, version: int, parts: Hashable) -> str:
        digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:32]
        return f"{self.prefix}:{database}:v{version}:{digest}"

    def get_or_compute(self, database: str, parts: Hashable, compute: Callable[[], T],
                       *, ttl: int = RESULT_TTL_SECONDS) -> T:
        """The cached result for `parts` at the current data version, computing it on a miss.

        `parts` must name everything the result depends on besides the data: who asks (their
        scope), the period, the filters, as_of. If the cache is unreachable the result is
        computed every time: slower, never wrong. Threads of this process asking for the same
        missing entry compute it once: the others wait for it (sessions opening the same page
        after a change, and the background refresh of isv/analytics/cached.py).
        """
        try:
            key = self.key(database, self.data_version(database), parts)
            found, value = self._read(key)
        except redis.RedisError as exc:
            log.warning("cache unavailable, computing directly: %s", exc)
            metrics.cache_lookup(self.kind, "error")
            return compute()
        if found:
            metrics.cache_lookup(self.kind, "hit")
            return value
        with self._flight(key):
            try:
                found, value = self._read(key)  # computed by another thread meanwhile
            except redis.RedisError:
                found = False
            if found:
                metrics.cache_lookup(self.kind, "hit")
                return value
            metrics.cache_lookup(self.kind, "miss")
            value = compute()
            try:
                self.backend.set(key, cache_format.seal(self.secret, key, value), ttl)
            except cache_format.Uncacheable as exc:
                log.warning("result not cached: %s", exc)
            except redis.RedisError as exc:
                log.warning("cache unavailable, result not stored: %s", exc)
            return value

    def has(self, database: str, parts: Hashable) -> bool:
        """Whether a result is stored at the current data version (read without decoding)."""
        return self.backend.exists(self.key(database, self.data_version(database), parts))

    def awaited(self, database: str, parts: Hashable) -> bool:
        """Whether another thread of this process waits for this result's computation."""
        key = self.key(database, self.data_version(database), parts)
        with self._flights_lock:
            return self._flights.get(key, (None, 0))[1] > 1

    def _read(self, key: str) -> tuple[bool, Any]:
        raw = self.backend.get(key)
        if raw is None:
            return False, None
        try:
            return True, cache_format.unseal(self.secret, key, raw)
        except cache_format.BadEntry as exc:
            log.warning("cache entry %s refused, computing again: %s", key, exc)
            return False, None

    @contextmanager
    def _flight(self, key: str) -> Iterator[None]:
        """Hold the key's computation lock; the lock is forgotten once nobody holds it."""
        with self._flights_lock:
            lock, holders = self._flights.get(key, (threading.Lock(), 0))
            self._flights[key] = (lock, holders + 1)
        try:
            with lock:
                yield
        finally:
            with self._flights_lock:
                lock, holders = self._flights[key]
                if holders == 1:
                    del self._flights[key]
                else:
                    self._flights[key] = (lock, holders - 1)


@lru_cache(maxsize=4)
def _cache_for(redis_url: str | None, app_secret: str) -> Cache:
    backend = RedisBackend(redis_url) if redis_url else LocalBackend()
    return Cache(backend, secret=cache_format.entry_secret(app_secret))


def get_cache() -> Cache:
    """The configured cache: Redis when ISV_REDIS_URL is set, in-process otherwise."""
    settings = get_settings()
    return _cache_for(settings.redis_url, settings.cookie_key)


def data_version(database: str) -> int:
    """The data version of a database in the configured cache; -1 when Redis is unreachable.

    -1 never matches a stored version, so a page that polls it simply keeps what it shows.
    """
    try:
        return get_cache().data_version(database)
    except redis.RedisError as exc:
        log.warning("cache unavailable, data version unknown: %s", exc)
        return -1
