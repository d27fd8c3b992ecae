"""Field checks shared by every service: each failure names the field and the reason."""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from isv.errors import ValidationError
from isv.rules.periods import MAX_DATE, MIN_DATE  # the days every date field takes

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SEARCH_MAX = 500
NOTES_MAX = 10_000

# C0 control characters (and DEL). NUL is the dangerous one: PostgreSQL refuses it in any
# text, so it must be refused here, by field, before a query is built; the rest have no
# business in a name or a search and can hide or rewrite text shown in a terminal. A
# multi-line field keeps tab and line breaks (LF, or CR LF as spreadsheets write them).
_CONTROLS = re.compile(r"[\x00-\x1f\x7f]")
_MULTILINE_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)")


def has_controls(value: str, *, multiline: bool = False) -> bool:
    """Whether `value` holds a control character that its kind of field refuses."""
    return bool((_MULTILINE_CONTROLS if multiline else _CONTROLS).search(value))


def legible(value: str) -> str:
    """`value` with each control character shown as U+FFFD, for a record of refused input."""
    return _CONTROLS.sub("\ufffd", value)


def refuse_controls(field: str, value: str, *, multiline: bool = False) -> str:
    """Refuse control characters in text from a user; every free-text input passes here."""
    if has_controls(value, multiline=multiline):
        raise ValidationError(field, "must not contain control characters")
    return value


def text(field: str, value: Any, *, max_len: int, required: bool = False,
         multiline: bool = False) -> str | None:
    """Strip surrounding blanks; empty becomes None unless the field is required.

    `multiline`: tab and line breaks are kept (notes, descriptions); elsewhere they are
    refused like every other control character.
    """
    if value is None or (isinstance(value, float) and value != value):
        value = ""
    value = str(value).strip()
    if not value:
        if required:
            raise ValidationError(field, "is required")
        return None
    if len(value) > max_len:
        raise ValidationError(field, f"is longer than {max_len} characters")
    return refuse_controls(field, value, multiline=multiline)


def search(field: str, value: Any) -> str | None:
    """What a search box or a filter parameter holds, checked like any typed text."""
    return text(field, value, max_len=SEARCH_MAX)


def like_pattern(searched: str) -> str:
    """A LIKE pattern (escape character backslash) matching `searched` anywhere, any case."""
    escaped = searched.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def email(field: str, value: Any, *, required: bool = False) -> str | None:
    value = text(field, value, max_len=255, required=required)
    if value is None:
        return None
    if not EMAIL_RE.match(value):
        raise ValidationError(field, f"{value!r} is not an email address")
    return value.lower()


def choice(field: str, value: Any, options: tuple[str, ...], *,
           required: bool = True) -> str | None:
    value = text(field, value, max_len=100, required=required)
    if value is None:
        return None
    if value not in options:
        raise ValidationError(field, f"{value!r} is not one of {', '.join(options)}")
    return value


def money(field: str, value: Any, *, required: bool = False, minimum: Decimal | None = Decimal(0),
          maximum: Decimal = Decimal("9999999999.99")) -> Decimal | None:
    if value is None or (isinstance(value, str) and not value.strip()) or (
            isinstance(value, float) and value != value):
        if required:
            raise ValidationError(field, "is required")
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValidationError(field, f"{value!r} is not an amount like 1234.50") from None
    if not number.is_finite():
        raise ValidationError(field, f"{value!r} is not an amount like 1234.50")
    # The range first: quantizing 1E+999999 (an API client can send it) raises instead.
    if minimum is not None and number < minimum:
        raise ValidationError(field, f"must be at least {minimum}")
    if number > maximum:
        raise ValidationError(field, f"must be at most {maximum}")
    if number != number.quantize(Decimal("0.01")):
        raise ValidationError(field, "has more than two decimals")
    return number.quantize(Decimal("0.01"))


def percent(field: str, value: Any, *, required: bool = False) -> Decimal | None:
    number = money(field, value, required=required, minimum=Decimal(0), maximum=Decimal(100))
    return number


# The one written form of a day (spec/IMPORT.md): YYYY-MM-DD, ASCII digits. Python's own
# reader also takes 20261231 and 2026-W53-1, which nobody here means to type.
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# A moment: such a day, then optionally a time (hours and minutes at least) and a zone.
_MOMENT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
                     r"(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
                     r"(?:Z|[+-][0-9]{2}:[0-9]{2})?)?")


def parse_day(value: str) -> date:
    """Read YYYY-MM-DD and nothing else: the one date parser of forms, CLI, import and links.

    Raises ValueError; callers name the field.
    """
    value = value.strip()
    if not _DAY.fullmatch(value):
        raise ValueError(f"{value!r} is not YYYY-MM-DD")
    return date.fromisoformat(value)


def parse_moment(value: str) -> datetime:
    """Read an ISO 8601 moment written YYYY-MM-DD[THH:MM[:SS[.ffffff]]][Z|±HH:MM].

    Raises ValueError; callers name the field.
    """
    value = value.strip()
    if not _MOMENT.fullmatch(value):
        raise ValueError(f"{value!r} is not a time like 2026-03-01T09:30:00")
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def day(field: str, value: Any, *, required: bool = False) -> date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValidationError(field, "is required")
        return None
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        try:
            value = parse_day(str(value))
        except ValueError:
            raise ValidationError(field, f"{value!r} is not a date like 2026-03-31") from None
    if not MIN_DATE <= value <= MAX_DATE:
        raise ValidationError(field, f"{value} is outside {MIN_DATE.year}–{MAX_DATE.year}")
    return value


def parse_id(field: str, value: Any) -> uuid.UUID:
    """Accept a UUID or its text form; anything else is a validation error on `field`."""
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value).strip())
    except (ValueError, AttributeError):
        raise ValidationError(field, f"{value!r} is not a valid id") from None


def blank(value: Any) -> bool:
    """None or text with nothing but spaces: a value not given."""
    return value is None or (isinstance(value, str) and not value.strip())
