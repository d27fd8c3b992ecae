"""What the shared cache stores: typed JSON, signed with a key only the app holds.

Never pickle: whoever can write to Redis could otherwise run code in every app process.
Reading an entry only ever builds plain values (str, int, float, bool, None, list, tuple,
dict, set, Decimal, date, datetime, time, timedelta, UUID) and dataclasses of this
application's own package, field by field. On top of that each entry carries an HMAC of
its cache key and its bytes, so an entry written by anyone without the key, or copied from
another key (another viewer's scope), is refused before it is parsed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import importlib
import json
import math
import sys
import uuid
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

MAGIC = b"isv-cache-1:"
MAC_HEX_LENGTH = 64
# Dataclasses are rebuilt only from modules of these packages.
TRUSTED_PACKAGES = ("isv",)


class Uncacheable(TypeError):
    """The value holds a type the cache does not store: it is computed again next time."""


class BadEntry(ValueError):
    """The stored bytes are not an entry this app wrote for this key: treated as a miss."""


def entry_secret(app_secret: str) -> bytes:
    """The signing key of cache entries, derived from the app's secret (ISV_COOKIE_KEY).

    Derived rather than reused, so a cache signature can never stand for a cookie's.
    """
    return hmac.new(app_secret.encode(), b"isv shared cache entries v1", hashlib.sha256).digest()


def _mac(secret: bytes, key: str, payload: bytes) -> bytes:
    return hmac.new(secret, key.encode() + b"\0" + payload, hashlib.sha256).hexdigest().encode()


def seal(secret: bytes, key: str, value: Any) -> bytes:
    """The bytes to store under `key` for `value`; Uncacheable for a type it does not store."""
    payload = json.dumps(_encode(value), ensure_ascii=False, separators=(",", ":"),
                         allow_nan=False).encode()
    return MAGIC + _mac(secret, key, payload) + b":" + payload


def unseal(secret: bytes, key: str, raw: bytes) -> Any:
    """The value stored under `key`; BadEntry unless this app wrote it for this very key."""
    if not raw.startswith(MAGIC):
        raise BadEntry("not a signed cache entry")
    mac, sep, payload = raw[len(MAGIC):].partition(b":")
    if not sep or len(mac) != MAC_HEX_LENGTH:
        raise BadEntry("malformed cache entry")
    if not hmac.compare_digest(mac, _mac(secret, key, payload)):
        raise BadEntry("bad signature")
    try:
        return _decode(json.loads(payload))
    except (ValueError, TypeError, KeyError, AttributeError, ImportError) as exc:
        raise BadEntry(f"unreadable cache entry: {exc}") from exc


def _pairs(items: Any) -> list[list[Any]]:
    return [[_encode(k), _encode(v)] for k, v in items]


def _encode(value: Any) -> Any:
    # bool before int (a bool is an int); exact types, so a subclass is not silently flattened.
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return value
    if kind is float:
        return value if math.isfinite(value) else {"$": "float", "v": repr(value)}
    if kind is list:
        return [_encode(v) for v in value]
    if kind is tuple:
        return {"$": "tuple", "v": [_encode(v) for v in value]}
    if kind is dict:
        return {"$": "dict", "v": _pairs(value.items())}
    if kind in (set, frozenset):
        return {"$": kind.__name__, "v": [_encode(v) for v in value]}
    if kind is Decimal:
        return {"$": "decimal", "v": str(value)}
    if kind is datetime:
        zone = value.tzinfo.key if isinstance(value.tzinfo, ZoneInfo) else None
        return {"$": "datetime", "v": value.isoformat(), "zone": zone}
    if kind is date:
        return {"$": "date", "v": value.isoformat()}
    if kind is time:
        return {"$": "time", "v": value.isoformat()}
    if kind is timedelta:
        return {"$": "timedelta", "v": [value.days, value.seconds, value.microseconds]}
    if kind is uuid.UUID:
        return {"$": "uuid", "v": str(value)}
    if dataclasses.is_dataclass(value) and _trusted(kind.__module__):
        fields = [(f.name, getattr(value, f.name)) for f in dataclasses.fields(value) if f.init]
        return {"$": "dataclass", "t": f"{kind.__module__}:{kind.__qualname__}",
                "v": [[name, _encode(v)] for name, v in fields]}
    raise Uncacheable(f"the shared cache does not store {kind.__module__}.{kind.__qualname__}")


def _trusted(module: str) -> bool:
    return any(module == p or module.startswith(p + ".") for p in TRUSTED_PACKAGES)


def _dataclass(name: str) -> type:
    module_name, _, qualname = name.partition(":")
    if not _trusted(module_name):
        raise BadEntry(f"type {name!r} is not this application's")
    # Only modules of the app's own package are imported, and only by name.
    module = sys.modules.get(module_name) or importlib.import_module(module_name)
    found: Any = module
    for part in qualname.split("."):
        found = getattr(found, part)
    if not (isinstance(found, type) and dataclasses.is_dataclass(found)
            and found.__module__ == module_name):
        raise BadEntry(f"{name!r} is not a dataclass")
    return found


def _datetime(text: str, zone: str | None) -> datetime:
    value = datetime.fromisoformat(text)
    return value.astimezone(ZoneInfo(zone)) if zone else value


_TAGGED = {
    "float": lambda e: float(e["v"]),
    "tuple": lambda e: tuple(_decode(v) for v in e["v"]),
    "dict": lambda e: {_decode(k): _decode(v) for k, v in e["v"]},
    "set": lambda e: {_decode(v) for v in e["v"]},
    "frozenset": lambda e: frozenset(_decode(v) for v in e["v"]),
    "decimal": lambda e: Decimal(e["v"]),
    "datetime": lambda e: _datetime(e["v"], e["zone"]),
    "date": lambda e: date.fromisoformat(e["v"]),
    "time": lambda e: time.fromisoformat(e["v"]),
    "timedelta": lambda e: timedelta(*e["v"]),
    "uuid": lambda e: uuid.UUID(e["v"]),
    "dataclass": lambda e: _dataclass(e["t"])(**{n: _decode(v) for n, v in e["v"]}),
}


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        return _TAGGED[value["$"]](value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    raise BadEntry(f"unexpected {type(value).__name__} in a cache entry")
