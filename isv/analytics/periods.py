"""Reading a period as people type it: `2026Q3`, `2026` (the fiscal year) or a date range.

The periods themselves, fiscal quarters and years, are a rule below the services
(isv.rules.periods); their names are also importable from here, where analytics reads them.
"""

from __future__ import annotations

import re
from datetime import date

from isv.errors import ValidationError
from isv.rules.periods import (
    MAX_DATE,
    MIN_DATE,
    QUARTER,
    RANGE,
    YEAR,
    Period,
    date_range,
    fiscal_start_month,
    previous,
    quarter_containing,
    quarter_of,
    quarter_options,
    quarter_range,
    quarters_overlapping,
    quarters_within,
    shift_quarter,
    span_text,
    year_range,
)
from isv.services import validate

__all__ = [  # the periods' names, read from here by analytics, and the reading of one
    "MAX_DATE", "MIN_DATE", "QUARTER", "RANGE", "YEAR", "Period", "date_range",
    "fiscal_start_month", "previous", "quarter_containing", "quarter_of", "quarter_options",
    "quarter_range", "quarters_overlapping", "quarters_within", "shift_quarter", "span_text",
    "year_range", "parse_period",
]

_QUARTER_RE = re.compile(r"^(\d{4})\s*-?\s*Q([1-4])$", re.IGNORECASE)
_YEAR_RE = re.compile(r"^(?:FY\s*)?(\d{4})$", re.IGNORECASE)
_RANGE_RE = re.compile(r"^(\S+)\s*\.\.\s*(\S+)$")


def _day(text: str) -> date:
    try:
        day = validate.parse_day(text)
    except ValueError:
        raise ValidationError("period", f"{text!r} is not a date like 2026-02-15") from None
    if not MIN_DATE <= day <= MAX_DATE:
        raise ValidationError("period", f"{day} is outside {MIN_DATE}.."
                                        f"{MAX_DATE}")
    return day


def parse_period(text: str) -> Period:
    """Read `2026Q3`, `2026` (the fiscal year when configured) or `2026-02-15..2026-05-31`."""
    raw = (text or "").strip()
    if not raw:
        raise ValidationError("period", "is required")
    if match := _QUARTER_RE.match(raw):
        return quarter_range(int(match[1]), int(match[2]))
    if match := _YEAR_RE.match(raw):
        return year_range(int(match[1]))
    if match := _RANGE_RE.match(raw):
        return date_range(_day(match[1]), _day(match[2]))
    raise ValidationError("period", f"{raw!r} is not a quarter like 2026Q3, a year like 2026 "
                                    "or a range like 2026-02-15..2026-05-31")
