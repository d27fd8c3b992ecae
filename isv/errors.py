"""Errors that services raise and every front end (pages, CLI, importer) reports."""

from __future__ import annotations


class IsvError(Exception):
    """Base of every error a user may be shown."""


class ValidationError(IsvError):
    """A value was rejected: names the field and the reason."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class NotFound(IsvError):
    """The record does not exist, or the viewer may not know it exists."""


class Forbidden(IsvError):
    """The viewer's role or scope does not allow this."""


class Conflict(IsvError):
    """The record changed since the caller read it, or a unique value is taken."""


class LoginRefused(IsvError):
    """Login failed; the message never says whether the account exists."""
