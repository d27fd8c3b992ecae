"""Logging for every process (app, scheduler, `isv`): one setup, text or one JSON object a line.

`LOG_FORMAT=json` writes `{"time", "level", "logger", "message", ...context}` per line, the
context being the `extra={...}` fields of the call, so a log collector can filter on them;
`LOG_LEVEL` sets the level. Whatever the format, the configured secrets (cookie key,
database and Redis passwords) and any password in a URL are masked in the written line: an
exception text or a message may carry them without anyone noticing.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, TextIO
from urllib.parse import unquote, urlsplit

from isv.config import Settings, get_settings

MASK = "***"
# The attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(vars(logging.LogRecord("x", 0, "x", 0, "x", None, None))) | {
    "message", "asctime", "taskName"}
# user:password@ in any URL (postgresql://isv:secret@db/isv, redis://:secret@cache:6379/0).
_URL_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*):[^@\s]+@")
# password=... as in a libpq connection string.
_PASSWORD_FIELD = re.compile(r"(?i)\b(password|passwd|pwd)(\s*=\s*)([^\s,;&'\"]+)")
_configured_key: tuple[str, str] | None = None


def _url_password(url: str | None) -> str | None:
    if not url:
        return None
    # Read as SQLAlchemy reads a database URL, without importing it (`isv --help` is quick).
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return None if password is None else unquote(password)


def secrets_of(settings: Settings) -> list[str]:
    """The configured secret values that must never reach a log line."""
    values = [settings.cookie_key, _url_password(settings.database_url),
              _url_password(settings.redis_url)]
    # Longest first, so a secret that contains another is masked whole.
    return sorted({v for v in values if v and len(v) >= 4}, key=len, reverse=True)


class Redactor:
    """Masks secrets in a finished log line."""

    def __init__(self, secrets: list[str]) -> None:
        # As written, and as JSON writes it (a secret with a quote or backslash in it).
        forms = {form for secret in secrets for form in (secret, json.dumps(secret)[1:-1])}
        self.secrets = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        text = _URL_PASSWORD.sub(rf"\g<scheme>:{MASK}@", text)
        return _PASSWORD_FIELD.sub(rf"\1\2{MASK}", text)


def context_of(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, context."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        for key, value in context_of(record).items():
            entry.setdefault(key, value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return self.redact(json.dumps(entry, default=str, ensure_ascii=False))


class TextFormatter(logging.Formatter):
    """The classic line, with the context appended as key=value."""

    def __init__(self, redact: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self.redact = redact

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = context_of(record)
        if context:
            extra = " ".join(f"{k}={v}" for k, v in context.items())
            first, newline, rest = line.partition("\n")
            line = f"{first} [{extra}]{newline}{rest}"
        return self.redact(line)


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (test runners swap it per test)."""

    @property
    def stream(self) -> TextIO:  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def make_handler(settings: Settings, stream: TextIO | None = None) -> logging.Handler:
    handler = logging.StreamHandler(stream) if stream is not None else _CurrentStderr()
    redact = Redactor(secrets_of(settings))
    handler.setFormatter(JsonFormatter(redact) if settings.log_format.lower() == "json"
                         else TextFormatter(redact))
    return handler


def configure(settings: Settings | None = None, *, stream: TextIO | None = None,
              force: bool = False) -> None:
    """Set up the root logger once per process (the app calls this on every rerun).

    Streamlit's own loggers keep their level but write through the same handler, so an app
    process emits one format only.
    """
    global _configured_key
    settings = settings or get_settings()
    key = (settings.log_format, settings.log_level)
    if _configured_key == key and not force and stream is None:
        return
    level = settings.log_level.upper()
    if level not in logging.getLevelNamesMapping():
        raise RuntimeError(f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, "
                           f"got {settings.log_level!r}")
    handler = make_handler(settings, stream)
    handler.isv_logs = True  # ours, replaced by the next configure(); others are left alone
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not getattr(h, "isv_logs", False)]
    root.addHandler(handler)
    root.setLevel(level)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if name.startswith("streamlit") and isinstance(logger, logging.Logger) \
                and logger.handlers:
            logger.handlers[:] = [handler]
    _configured_key = key


def service_context(fn: Any, viewer: Any, error: BaseException | None = None) -> dict[str, Any]:
    """The `extra=` fields for a service call that failed: which service, who, what error.

    The viewer is named by id and role, not email: logs outlive a user's right to erasure.
    """
    context: dict[str, Any] = {
        "service": f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', fn)}",
        "viewer_id": str(viewer.id) if getattr(viewer, "id", None) else None,
        "viewer_role": getattr(viewer, "role", None)}
    if error is not None:
        context["error"] = type(error).__name__
        field = getattr(error, "field", None)
        if field is not None:
            context["field"] = field
    return context
