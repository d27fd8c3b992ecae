"""The one number, date and label language: how figures read on screen, charts, the board,
alerts, status drafts and the exec pack.

Everything a person reads goes through here, so the same figure is written the same way on
every page and in every slide. Machine exports (CSV/XLSX exports, `isv report kpis --format
json`, the import/export round trip) keep exact values and do not use this module.

The rules, and the choices made where the issue left them open:

- Money is exact Decimal; it is rounded half-even only here, when it is shown.
- ``money`` (tables, details, alerts): whole currency with thousands separators, cents only
  where they exist: ``$166,000``, ``$166,000.50``.
- ``money_short`` (KPI cards, bars, the board): one decimal with a lowercase ``k``, ``M`` or
  ``B``: ``$61.9k``, ``$13.3M``, ``$1.0B``. Rounding carries into the next unit, so 999,999
  is ``$1.0M``, never ``$1000.0k``; below 1,000 whole currency (``$950``). Above a thousand
  billion the B stays (``$1,234.5B``).
- Negative amounts carry the true minus sign ``−`` (U+2212) before the symbol, never an
  ASCII hyphen: ``−$1.5k``. An amount that rounds to zero has no sign (``$0``).
- The currency symbol is the Settings page's (``$`` by default), always before the number.
- Percentages are written ``10 %``: the number, a no-break space (U+00A0, so a narrow cell
  or a slide never wraps the sign away from its number), then ``%``. A ratio (win rate, goal
  attainment, conversion) is shown to one decimal (``387.7 %``), a threshold (a setting such
  as the 60 % concentration limit) whole (``60 %``); a percentage stored as a
  number (probability, commission rate) shows its decimals only where they exist (``10 %``,
  ``12.5 %``).
- Counts have thousands separators (``1,234``).
- One date form, ``2 Dec 2026``, and one timestamp form, ``2 Dec 2026, 14:05``, in the
  program's time zone (Settings page); ranges ``1 Jul – 30 Sep 2026``, months ``Jul 2026``.
  Day first with the month's name cannot be misread by American or European readers,
  unlike 12/02/2026.
- Missing values are an em dash ``—``, never ``None`` or ``nan``.
- Streamlit tables format numbers in the browser; ``table_money_format`` and friends give
  the NumberColumn/DateColumn formats that write the same language there. A money column
  shows cents on every row when one row has them (printf cannot drop them row by row), and
  percentages in tables are numbers of percent (ratio × 100).
- Date inputs (st.date_input) keep YYYY-MM-DD: a typing format, not a reading one, and the
  only unambiguous one Streamlit's picker offers.
- Chart axes use plotly's ticks with the currency symbol and the same unit letters
  (``exponentformat="B"``: $500k, $1.5M, $2B, never the SI G); the bars, hovers and
  tables carry the figures in this language.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from isv.config import get_settings

NONE = "—"
MINUS = "\u2212"  # the true minus sign
NBSP = "\u00a0"  # no-break space between a number and its unit
PERCENT = f"{NBSP}%"

_CENT = Decimal("0.01")
_WHOLE = Decimal(1)
_TENTH = Decimal("0.1")
_UNITS = ((Decimal(10) ** 3, "k"), (Decimal(10) ** 6, "M"), (Decimal(10) ** 9, "B"))

DATE_FORMAT = "%-d %b %Y"
TIMESTAMP_FORMAT = "%-d %b %Y, %H:%M"
# The same forms in the day.js tokens st.column_config.DateColumn/DatetimeColumn take.
TABLE_DATE_FORMAT = "D MMM YYYY"
TABLE_TIMESTAMP_FORMAT = "D MMM YYYY, HH:mm"


def _decimal(value: Any) -> Decimal | None:
    """An exact Decimal for a number of any type, or None for a missing one (None, NaN)."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return None if value.is_nan() else value
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return Decimal(str(value))  # the float as written, not its binary expansion
    try:
        return Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        try:
            number = float(value)  # numpy and pandas scalars
        except (TypeError, ValueError):
            return None
        return None if math.isnan(number) else Decimal(str(number))


def _signed(negative: bool, text: str) -> str:
    return f"{MINUS}{text}" if negative else text


# --- the Settings page's currency and time zone ----------------------------------------
# This module sits below the services and imports none of them: isv.services.settings, when
# it is imported (by every service, page and command before anything is shown), tells it how
# to read the settings in force. Until then, the settings' own defaults.

@dataclass(frozen=True)
class ShownIn:
    """What display reads of the settings: the currency symbol and the time zone's name."""

    currency_symbol: str
    time_zone: str


def _defaults() -> ShownIn:
    return ShownIn(currency_symbol="$", time_zone=get_settings().timezone)


_settings: Callable[[], Any] = _defaults


def read_settings_from(read: Callable[[], Any]) -> None:
    """Read the currency symbol and time zone through `read()` (anything with
    `currency_symbol` and `time_zone`, such as isv.services.settings.AppSettings)."""
    global _settings
    _settings = read


def currency() -> str:
    """The currency symbol money is shown with (Settings page; '$' by default)."""
    return _settings().currency_symbol


def local_zone() -> ZoneInfo:
    """The program's time zone (Settings page, else ISV_TIMEZONE)."""
    return ZoneInfo(_settings().time_zone)


# --- labels: how codes read, the same on every page, chart, draft and slide --------------

STAGE_LABELS = {
    "lead": "Lead",
    "demo": "Demo",
    "poc": "PoC",
    "proposal": "Proposal",
    "closed_won": "Closed won",
    "closed_lost": "Closed lost",
}


def stage(code: str | None) -> str:
    """A stage as people say it: 'poc' → 'PoC', 'closed_won' → 'Closed won'."""
    return STAGE_LABELS.get(code, code) if code else NONE


# A symbol and a word for each level, the same for tasks and alerts, so priority never
# depends on colour alone and reads alike wherever it appears.
PRIORITY_LABELS = {
    "low": "▽ Low",
    "medium": "◆ Medium",
    "high": "▲ High",
    "urgent": "‼ Urgent",
}


def priority(code: str | None) -> str:
    """A task's or an alert's priority: 'high' → '▲ High'."""
    return PRIORITY_LABELS.get(code, code) if code else NONE


# --- money -------------------------------------------------------------------------------

def money(value: Any, *, none: str = NONE) -> str:
    """'$166,000', or '$166,000.50' when there are cents; negatives '−$20'."""
    amount = _decimal(value)
    if amount is None:
        return none
    cents = amount.quantize(_CENT, rounding=ROUND_HALF_EVEN)
    magnitude = abs(cents)
    whole = magnitude == magnitude.to_integral_value()
    text = f"{magnitude:,.0f}" if whole else f"{magnitude:,.2f}"
    return _signed(cents < 0, f"{currency()}{text}")


def money_short(value: Any, *, none: str = NONE) -> str:
    """'$13.3M', '$61.9k', '$950': for cards, bars and cards on the board."""
    amount = _decimal(value)
    if amount is None:
        return none
    magnitude = abs(amount)
    whole = magnitude.quantize(_WHOLE, rounding=ROUND_HALF_EVEN)
    if whole < 1000:
        return _signed(amount < 0 and whole > 0, f"{currency()}{whole:f}")
    for size, suffix in _UNITS:
        scaled = (magnitude / size).quantize(_TENTH, rounding=ROUND_HALF_EVEN)
        if scaled < 1000 or suffix == _UNITS[-1][1]:
            return _signed(amount < 0, f"{currency()}{scaled:,.1f}{suffix}")
    raise AssertionError("unreachable: the last unit takes every size")


# --- percentages, counts, plain numbers --------------------------------------------------

def percent(ratio: Any, *, places: int = 1, none: str = NONE) -> str:
    """A ratio as a percentage to one decimal: 3.8772 → '387.7 %'; None is '—'."""
    value = _decimal(ratio)
    if value is None:
        return none
    scaled = (value * 100).quantize(_WHOLE.scaleb(-places), rounding=ROUND_HALF_EVEN)
    return _signed(scaled < 0, f"{abs(scaled):,f}{PERCENT}")


def percentage(value: Any, *, none: str = NONE) -> str:
    """A number that is already a percentage (probability, commission rate): 10.00 → '10 %',
    12.50 → '12.5 %'; decimals only where they exist, to two at most."""
    number = _decimal(value)
    if number is None:
        return none
    rounded = number.quantize(_CENT, rounding=ROUND_HALF_EVEN)
    text = f"{abs(rounded):f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return _signed(rounded < 0, f"{text}{PERCENT}")


def count(value: Any, *, none: str = NONE) -> str:
    """A count with thousands separators: 12345 → '12,345'."""
    number = _decimal(value)
    if number is None:
        return none
    rounded = number.quantize(_WHOLE, rounding=ROUND_HALF_EVEN)
    return _signed(rounded < 0, f"{abs(rounded):,f}")


def number(value: Any, *, places: int = 1, none: str = NONE) -> str:
    """A plain measure, rounded half-even: 74.8333 → '74.8'; separators above a thousand."""
    figure = _decimal(value)
    if figure is None:
        return none
    rounded = figure.quantize(_WHOLE.scaleb(-places), rounding=ROUND_HALF_EVEN)
    return _signed(rounded < 0, f"{abs(rounded):,f}")


def points(value: Any) -> str:
    """A change of a rate, in percentage points: 0.105 → '10.5 pts'."""
    figure = _decimal(value)
    return NONE if figure is None else f"{number(figure * 100)}{NBSP}pts"


def times(value: Any) -> str:
    """A multiple: 2.456 → '2.46×'."""
    figure = _decimal(value)
    return NONE if figure is None else f"{number(figure, places=2)}×"


def days(value: Any) -> str:
    """A duration in days: 74.83 → '74.8 days'; exactly one is '1 day'."""
    figure = _decimal(value)
    if figure is None:
        return NONE
    text = number(figure) if figure != figure.to_integral_value() else count(figure)
    return f"{text}{NBSP}{'day' if abs(figure) == 1 else 'days'}"


def change(now: Any, before: Any, show) -> str | None:
    """The signed change from `before` to `now`, written by `show` (money_short, points…);
    None if either is missing. The sign is written out: a card's arrow and colour are never
    the only signal."""
    a, b = _decimal(now), _decimal(before)
    if a is None or b is None:
        return None
    diff = a - b
    if diff == 0:
        return show(diff)  # no change: no sign, so no arrow either
    return ("+" if diff > 0 else MINUS) + show(abs(diff))


# --- dates and times ---------------------------------------------------------------------

def day(value: date | datetime | None, *, none: str = NONE) -> str:
    """A calendar day: '2 Dec 2026'."""
    if value is None:
        return none
    if isinstance(value, datetime):
        value = _local(value).date()
    return value.strftime(DATE_FORMAT)


def day_span(start: date, end: date) -> str:
    """An inclusive range of days, the year written once when it is shared:
    '1 Jul – 30 Sep 2026', '1 Dec 2026 – 28 Feb 2027'."""
    if start.year == end.year:
        return f"{start:%-d %b} – {day(end)}"
    return f"{day(start)} – {day(end)}"


def month(value: date) -> str:
    """A calendar month: 'Jul 2026'."""
    return f"{value:%b %Y}"


def moment(value: datetime | None, *, none: str = NONE) -> str:
    """A timestamp in the program's time zone, to the minute: '2 Dec 2026, 14:05'."""
    if value is None:
        return none
    return _local(value).strftime(TIMESTAMP_FORMAT)


def _local(value: datetime) -> datetime:
    return value.astimezone(local_zone())


def time_zone() -> str:
    """The time zone timestamps are shown in (for DatetimeColumn(timezone=…))."""
    return _settings().time_zone


# --- the same language in Streamlit's table formats ---------------------------------------

def table_money_format(values: Any = ()) -> str:
    """The NumberColumn format for a money column holding `values`: whole currency when none
    has cents ('$166,000'), otherwise cents on every row so the column lines up.

    The browser formats NumberColumns with printf, which cannot drop cents row by row; a
    numeric column (not text) keeps sorting by amount and in-place editing.
    """
    symbol = currency().replace("%", "%%")
    for value in values:
        amount = _decimal(value)
        if amount is not None and amount != amount.to_integral_value():
            return f"{symbol}%,.2f"
    return f"{symbol}%,.0f"


# NumberColumn formats: percentages are given as numbers of percent (ratio × 100).
TABLE_PERCENT_FORMAT = f"%.1f{NBSP}%%"
TABLE_PERCENTAGE_FORMAT = f"%g{NBSP}%%"
TABLE_COUNT_FORMAT = "%,d"


# --- schedules (crontab lines) in words ----------------------------------------------------

_WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_WEEKDAY_NUMBERS = {name[:3].lower(): k for k, name in enumerate(_WEEKDAYS)}


def series(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c': a list as a sentence writes it."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _weekday(token: str) -> int | None:
    token = token.strip().lower()
    if token.isdigit() and int(token) <= 7:
        return int(token) % 7  # crontab: 0 and 7 are both Sunday
    return _WEEKDAY_NUMBERS.get(token[:3]) if len(token) >= 3 else None


def _weekdays(field: str) -> str | None:
    """'mon' → 'Mondays', 'mon,thu' → 'Mondays and Thursdays', '1-5' → 'Monday to Friday'."""
    if "-" in field and "," not in field:
        first, _, last = field.partition("-")
        a, b = _weekday(first), _weekday(last)
        return None if a is None or b is None else f"{_WEEKDAYS[a]} to {_WEEKDAYS[b]}"
    days = [_weekday(token) for token in field.split(",")]
    if any(d is None for d in days):
        return None
    names = [f"{_WEEKDAYS[d]}s" for d in days]
    return series(names)


def _ordinal(n: int) -> str:
    suffix = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def schedule(expression: str) -> str:
    """A crontab line in words: '*/15 * * * *' → 'every 15 minutes', '5 0 * * mon' →
    'Mondays at 00:05', '30 3 * * *' → 'daily at 03:30'. A line with no plain reading is
    given as written ('on the schedule 0 9-17 * * 1-5')."""
    fields = expression.split()
    if len(fields) == 6:
        second, *fields = fields
        if second != "0":
            return f"on the schedule {expression}"
    if len(fields) != 5:
        return f"on the schedule {expression}"
    minute, hour, day, month, weekday = fields
    every_day = day == "*" and month == "*" and weekday == "*"
    if every_day and hour == "*":
        if minute == "*":
            return "every minute"
        if minute.startswith("*/") and minute[2:].isdigit():
            n = int(minute[2:])
            return "every minute" if n == 1 else f"every {n} minutes"
        if minute.isdigit():
            return f"hourly at {int(minute)} past" if int(minute) else "hourly, on the hour"
    if not minute.isdigit() or month != "*":
        return f"on the schedule {expression}"
    if hour.startswith("*/") and hour[2:].isdigit() and every_day:
        n = int(hour[2:])
        return f"every {n} hours at {int(minute)} past" if int(minute) else f"every {n} hours"
    hours = hour.split(",")
    if not all(h.isdigit() and int(h) < 24 for h in hours) or int(minute) > 59:
        return f"on the schedule {expression}"
    times = [f"{int(h):02d}:{int(minute):02d}" for h in hours]
    at = series(times)
    if every_day:
        return f"daily at {at}"
    if day == "*":
        days = _weekdays(weekday)
        return f"{days} at {at}" if days else f"on the schedule {expression}"
    if weekday == "*" and day.isdigit() and 1 <= int(day) <= 31:
        return f"monthly on the {_ordinal(int(day))} at {at}"
    return f"on the schedule {expression}"
