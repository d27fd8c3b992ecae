"""Field checks shared by every service: each failure names the field and the reason."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from isv.errors import ValidationError

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MIN_DATE = date(2000, 1, 1)
MAX_DATE = date(2100, 12, 31)


def text(field: str, value: Any, *, max_len: int, required: bool = False) -> str | None:
    """Strip surrounding blanks; empty becomes None unless the field is required."""
    if value is None or (isinstance(value, float) and value != value):
        value = ""
    value = str(value).strip()
    if not value:
        if required:
            raise ValidationError(field, "is required")
        return None
    if len(value) > max_len:
        raise ValidationError(field, f"is longer than {max_len} characters")
    return value


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
    if number != number.quantize(Decimal("0.01")):
        raise ValidationError(field, "has more than two decimals")
    if minimum is not None and number < minimum:
        raise ValidationError(field, f"must be at least {minimum}")
    if number > maximum:
        raise ValidationError(field, f"must be at most {maximum}")
    return number.quantize(Decimal("0.01"))


def percent(field: str, value: Any, *, required: bool = False) -> Decimal | None:
    number = money(field, value, required=required, minimum=Decimal(0), maximum=Decimal(100))
    return number


def day(field: str, value: Any, *, required: bool = False) -> date | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValidationError(field, "is required")
        return None
    if isinstance(value, datetime):
        value = value.date()
    if not isinstance(value, date):
        try:
            value = date.fromisoformat(str(value).strip())
        except ValueError:
            raise ValidationError(field, f"{value!r} is not a date like 2026-03-31") from None
    if not MIN_DATE <= value <= MAX_DATE:
        raise ValidationError(field, f"{value} is outside {MIN_DATE.year}–{MAX_DATE.year}")
    return value
