"""Analytics through the shared cache: a repeat with no data change runs no SQL.

A result is keyed by the database, its data version, the function, who asks and the
arguments (period, filters, as_of). Who asks is the viewer by default; a function whose
result depends only on what the viewer may see (every KPI and breakdown here) passes
share="scope", so that everyone who sees everything shares one entry. On a miss the function
runs in a read transaction of its own.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from isv import cache
from isv.auth import Viewer
from isv.db import get_engine, session_scope

from .kpis import scope_key

T = TypeVar("T")


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

    return cache.get_cache().get_or_compute(database(url), parts, compute)
