"""Calendar helpers in the deployment's time zone: what users mean by "today" and "this week"."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from isv.services.settings import current_settings


def local_zone() -> ZoneInfo:
    """The program's time zone: the Settings page's, else ISV_TIMEZONE."""
    return ZoneInfo(current_settings().time_zone)


def local_today() -> date:
    """Today in the program's time zone."""
    return datetime.now(local_zone()).date()


def local_date(moment: datetime) -> date:
    """The calendar day a timestamp falls on in the deployment's time zone."""
    return moment.astimezone(local_zone()).date()


def monday_of(day: date) -> date:
    """The Monday that starts the week holding `day`."""
    return day - timedelta(days=day.weekday())
