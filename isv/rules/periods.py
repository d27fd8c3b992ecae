"""Reporting periods: quarters, years and explicit ranges, fiscal-aware (spec/KPIS.md, Period).

A quarter is named by its fiscal year and number. With a fiscal year starting in month m
(the Settings page, else `ISV_FISCAL_YEAR_START_MONTH`), fiscal year Y ends in the calendar
year Y: it runs from month m of Y-1 to month m-1 of Y (for m > 1), so `2027Q1` with a
February start is [2026-02-01, 2026-04-30]. With m = 1 quarters are calendar quarters.

A rule below the services and analytics, which both name periods: the fiscal start month is
read through the reader isv.services.settings registers (`read_fiscal_start_from`), the
environment's until it does. Reading a typed period is isv.analytics.periods'.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from isv import display
from isv.config import get_settings
from isv.errors import ValidationError

MIN_DATE = date(2000, 1, 1)   # the days the program takes at all (every date field)
MAX_DATE = date(2100, 12, 31)

QUARTER = "quarter"
YEAR = "year"
RANGE = "range"


@dataclass(frozen=True)
class Period:
    """An inclusive date range with the name it is known by (`2026Q3`, `2026`, `a..b`)."""

    start: date
    end: date
    label: str
    kind: str = RANGE
    year: int | None = None     # fiscal year, for quarters and years
    quarter: int | None = None  # 1-4, for quarters

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"period {self.label!r} ends before it starts")

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end

    def elapsed_days(self, as_of: date) -> int:
        """How many of its days lie on or before `as_of`: 0 before it, all of them after it."""
        return min(max((as_of - self.start).days + 1, 0), self.days)

    @property
    def title(self) -> str:
        """How it reads on screen and on slides: 'Q3 2026', 'FY2027', '15 Feb – 31 May 2026'."""
        if self.kind == QUARTER:
            fy = "FY" if fiscal_start_month() != 1 else ""
            return f"Q{self.quarter} {fy}{self.year}"
        if self.kind == YEAR:
            return f"FY{self.year}" if fiscal_start_month() != 1 else str(self.year)
        return span_text(self.start, self.end)

    @property
    def span(self) -> str:
        """The dates it covers, e.g. '1 Jul – 30 Sep 2026'."""
        return span_text(self.start, self.end)


def span_text(start: date, end: date) -> str:
    """The days a range covers, in the display language: '1 Jul – 30 Sep 2026'."""
    return display.day_span(start, end)


def _environment_start_month() -> int:
    return get_settings().fiscal_year_start_month


_start_month: Callable[[], int] = _environment_start_month


def read_fiscal_start_from(read: Callable[[], int]) -> None:
    """Read the fiscal year's start month through `read()` (isv.services.settings's)."""
    global _start_month
    _start_month = read


def fiscal_start_month() -> int:
    """The month (1-12) in which the fiscal year starts (Settings page, else the environment)."""
    month = _start_month()
    if not 1 <= month <= 12:
        raise RuntimeError(f"ISV_FISCAL_YEAR_START_MONTH must be 1 to 12, got {month}")
    return month


def _add_months(day: date, months: int) -> date:
    """The first of the month `months` after day's month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _fiscal_year_start(year: int, start_month: int) -> date:
    return date(year if start_month == 1 else year - 1, start_month, 1)


def _check_year(field: str, year: int) -> None:
    if not MIN_DATE.year <= year <= MAX_DATE.year:
        raise ValidationError(field, f"year {year} is outside "
                                     f"{MIN_DATE.year}-{MAX_DATE.year}")


def quarter_range(year: int, quarter: int, *, start_month: int | None = None) -> Period:
    """Fiscal quarter `quarter` (1-4) of fiscal year `year`: the year in which it ends."""
    if quarter not in (1, 2, 3, 4):
        raise ValidationError("quarter", f"{quarter!r} is not 1, 2, 3 or 4")
    _check_year("period", year)
    month = start_month or fiscal_start_month()
    start = _add_months(_fiscal_year_start(year, month), 3 * (quarter - 1))
    end = _add_months(start, 3) - timedelta(days=1)
    return Period(start, end, f"{year}Q{quarter}", QUARTER, year, quarter)


def year_range(year: int, *, start_month: int | None = None) -> Period:
    """Fiscal year `year` (named by the calendar year in which it ends)."""
    _check_year("period", year)
    month = start_month or fiscal_start_month()
    start = _fiscal_year_start(year, month)
    end = _add_months(start, 12) - timedelta(days=1)
    return Period(start, end, str(year), YEAR, year)


def quarter_of(day: date, *, start_month: int | None = None) -> tuple[int, int]:
    """The (fiscal year, quarter) holding `day`."""
    month = start_month or fiscal_start_month()
    months_in = (day.month - month) % 12
    year = day.year + (1 if month != 1 and day.month >= month else 0)
    return year, months_in // 3 + 1


def quarter_containing(day: date, *, start_month: int | None = None) -> Period:
    """The fiscal quarter that holds `day`."""
    month = start_month or fiscal_start_month()
    year, quarter = quarter_of(day, start_month=month)
    return quarter_range(year, quarter, start_month=month)


def shift_quarter(year: int, quarter: int, n: int) -> tuple[int, int]:
    """The (year, quarter) n quarters after (before, when negative) the given one."""
    index = year * 4 + quarter - 1 + n
    return index // 4, index % 4 + 1


def previous(period: Period) -> Period:
    """The period before: the previous quarter or year, or an equal range ending the day before."""
    if period.kind == QUARTER:
        year, quarter = shift_quarter(period.year, period.quarter, -1)
        return quarter_range(year, quarter)
    if period.kind == YEAR:
        return year_range(period.year - 1)
    end = period.start - timedelta(days=1)
    return date_range(end - timedelta(days=period.days - 1), end)


def date_range(start: date, end: date) -> Period:
    """An explicit inclusive range."""
    if end < start:
        raise ValidationError("period", f"{end} is before {start}")
    return Period(start, end, f"{start.isoformat()}..{end.isoformat()}", RANGE)


def quarters_overlapping(start: date, end: date) -> list[Period]:
    """Every fiscal quarter that shares at least one day with [start, end], in order."""
    month = fiscal_start_month()
    year, quarter = quarter_of(start, start_month=month)
    out = []
    while True:
        q = quarter_range(year, quarter, start_month=month)
        if q.start > end:
            return out
        out.append(q)
        year, quarter = shift_quarter(year, quarter, 1)


def quarters_within(period: Period) -> list[Period]:
    """The fiscal quarters that lie entirely inside the period."""
    return [q for q in quarters_overlapping(period.start, period.end)
            if period.start <= q.start and q.end <= period.end]


def quarter_options(today: date, *, back: int = 7, ahead: int = 2) -> list[Period]:
    """Quarters for a selector, newest first: `ahead` coming ones, this one, `back` past ones."""
    month = fiscal_start_month()
    year, quarter = quarter_of(today, start_month=month)
    return [quarter_range(*shift_quarter(year, quarter, n), start_month=month)
            for n in range(ahead, -back - 1, -1)]
