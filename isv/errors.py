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


class Unauthenticated(IsvError):
    """No valid credentials: a missing, expired, revoked or unknown token."""


class ValidationErrors(ValidationError):
    """Several values were rejected at once; the first one is `field` and `reason`."""

    def __init__(self, errors: list[ValidationError]):
        super().__init__(errors[0].field, errors[0].reason)
        self.errors = errors


def check_each(checks: dict[str, object]) -> None:
    """Run each field's check (a callable), raising every refusal together, if any."""
    found = []
    for check in checks.values():
        try:
            check()  # type: ignore[operator]
        except ValidationError as exc:
            found.append(exc)
    if len(found) == 1:
        raise found[0]
    if found:
        raise ValidationErrors(found)


class RateLimited(IsvError):
    """Too many requests of one kind in a short time; the message says when to try again."""
