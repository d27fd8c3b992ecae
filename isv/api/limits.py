"""Rate limits and bounded bodies, as ASGI middleware in front of every route.

Fixed one-minute windows counted per client address and per token: in Redis when
configured (every API replica and worker counts together); without Redis, in a small SQLite
file that the worker processes of one `isv api` share (isv/api/workers.py), or in memory
when it serves with a single process. Either way a limit means what it says whatever the
number of workers: counting in each worker alone would let a client through N times over,
as the kernel spreads its connections. Only separate `isv api` servers without Redis count
apart (compose always gives the API Redis). Login gets its own, stricter budget per address:
the account lockout stops guessing one password, this stops one address trying many accounts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import redis

from isv.api import workers
from isv.api.envelope import error
from isv.config import get_settings

log = logging.getLogger("isv.api")

WINDOW = 60
clock = time.time  # the windows' clock; tests hold it still so no window turns mid-test
LOGIN_PATHS = ("/api/v1/auth/login", "/api/v1/auth/refresh")


class LocalCounter:
    """Counts per key and window in this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}
        self._window = 0

    def hit(self, key: str, window: int) -> int:
        with self._lock:
            if window != self._window:
                self._counts.clear()
                self._window = window
            self._counts[key] = self._counts.get(key, 0) + 1
            return self._counts[key]


class RedisCounter:
    def __init__(self, url: str) -> None:
        self.client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)

    def hit(self, key: str, window: int) -> int:
        name = f"isv:api:rate:{window}:{key}"
        with self.client.pipeline() as pipe:
            value, _ = pipe.incr(name).expire(name, WINDOW * 2).execute()
        return int(value)


class SharedFileCounter:
    """Counts per key and window in a SQLite file the workers of one `isv api` share.

    One upsert per count, in WAL mode without fsync (the counts need not survive a crash):
    tens of microseconds, serialised by SQLite's own file lock across the processes.
    """

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._window = 0
        self._db = sqlite3.connect(path, timeout=2, isolation_level=None,
                                   check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=OFF")
        self._db.execute("CREATE TABLE IF NOT EXISTS hits (key TEXT NOT NULL, minute INTEGER "
                         "NOT NULL, used INTEGER NOT NULL, PRIMARY KEY (key, minute))")

    def hit(self, key: str, window: int) -> int:
        with self._lock:
            if window != self._window:
                self._window = window
                self._db.execute("DELETE FROM hits WHERE minute < ?", (window - 1,))
            (used,) = self._db.execute(
                "INSERT INTO hits (key, minute, used) VALUES (?, ?, 1) ON CONFLICT (key, "
                "minute) DO UPDATE SET used = used + 1 RETURNING used", (key, window)
            ).fetchone()
            return int(used)


@lru_cache(maxsize=4)
def _shared_counter(folder: Path) -> SharedFileCounter:
    return SharedFileCounter(folder / "rate-limits.sqlite3")


@lru_cache(maxsize=4)
def _redis_counter(url: str) -> RedisCounter:
    return RedisCounter(url)


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


async def _send_error(send: Any, status: int, code: str, message: str,
                      headers: list[tuple[bytes, bytes]] | None = None) -> None:
    body = json.dumps(error(code, message)).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *(headers or [])]})
    await send({"type": "http.response.body", "body": body})


class RateLimit:
    """Refuse with 429 and Retry-After once a key has used up its minute."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._local = LocalCounter()

    def _counter(self) -> Any:
        # Read per request (the settings are cached): limits follow the settings in force.
        url = get_settings().redis_url
        if url:
            return _redis_counter(url)
        folder = workers.shared_dir()
        return _shared_counter(folder) if folder else self._local

    def _keys(self, scope: dict[str, Any]) -> list[tuple[str, int]]:
        settings = get_settings()
        client = scope.get("client") or ("unknown", 0)
        address = client[0]
        if scope.get("path") in LOGIN_PATHS:
            return [(f"login:{address}", settings.api_login_rate_per_minute)]
        keys = [(f"addr:{address}", settings.api_rate_per_minute)]
        token = _header(scope, b"authorization")
        if token:
            digest = hashlib.sha256(token.encode()).hexdigest()[:32]
            keys.append((f"token:{digest}", settings.api_rate_per_minute))
        return keys

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") == "/api/v1/health":
            await self.app(scope, receive, send)
            return
        now = clock()
        window = int(now // WINDOW)
        counter = self._counter()
        for key, limit in self._keys(scope):
            try:
                used = counter.hit(key, window)
            except (redis.RedisError, sqlite3.Error) as exc:
                # Counting is a guard, not a dependency: an unreachable Redis lets calls on.
                log.warning("rate limit not counted, counter unavailable: %s", exc)
                break
            if used > limit:
                retry = max(1, int((window + 1) * WINDOW - now) + 1)
                await _send_error(send, 429, "RATE_LIMITED",
                                  f"Too many requests; try again in {retry} seconds.",
                                  [(b"retry-after", str(retry).encode())])
                return
        await self.app(scope, receive, send)


class BodyLimit:
    """Refuse a request body larger than ISV_API_MAX_BODY_BYTES with 413, declared or not."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = get_settings().api_max_body_bytes
        declared = _header(scope, b"content-length")
        too_big = f"The request body is larger than {max_bytes} bytes."
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            await _send_error(send, 413, "PAYLOAD_TOO_LARGE", too_big)
            return
        # Read the body here, bounded, and hand it on whole: a route never sees a body
        # that is too big, however it was sent (chunked bodies declare no length).
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message], receive), send)
                return
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > max_bytes:
                await _send_error(send, 413, "PAYLOAD_TOO_LARGE", too_big)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        whole = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([whole], receive), send)


def _replay(messages: list[dict[str, Any]], receive: Any) -> Any:
    pending = list(messages)

    async def replay() -> dict[str, Any]:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
