"""Calendar helpers, pure: the zone is passed in. isv.services.settings supplies the
program's zone (`local_zone`, `local_today`, `local_date`), so this floor reads nothing."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo


def today_in(zone: ZoneInfo) -> date:
    """Today in a time zone."""
    return datetime.now(zone).date()


def date_in(moment: datetime, zone: ZoneInfo) -> date:
    """The calendar day a timestamp falls on in a time zone."""
    return moment.astimezone(zone).date()


def monday_of(day: date) -> date:
    """The Monday that starts the week holding `day`."""
    return day - timedelta(days=day.weekday())
