"""How codes read on screen: roles, relationship health, domains, dates."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from isv.config import get_settings
from isv.models import DOMAINS, HEALTH, ROLES

__all__ = ["DOMAINS", "HEALTH", "ROLES", "role_label", "health_label", "day_label",
           "moment_label"]

ROLE_LABELS = {
    "vp": "VP",
    "sales_manager": "Sales manager",
    "partnership_manager": "Partnership manager",
    "admin": "Admin",
}

# A distinct symbol per level, so health never depends on colour alone (colour-blind
# readers, greyscale printouts of exec decks).
HEALTH_LABELS = {
    "excellent": "● Excellent",
    "healthy": "○ Healthy",
    "needs_attention": "▲ Needs attention",
    "at_risk": "✖ At risk",
}


def role_label(role: str) -> str:
    return ROLE_LABELS.get(role, role)


def health_label(health: str | None) -> str:
    if health is None:
        return "All"
    return HEALTH_LABELS.get(health, health)


def day_label(value: date | None, *, none: str = "never") -> str:
    return value.isoformat() if value else none


def moment_label(value: datetime | None, *, none: str = "never") -> str:
    """A timestamp in the configured time zone, to the minute."""
    if value is None:
        return none
    return value.astimezone(ZoneInfo(get_settings().timezone)).strftime("%Y-%m-%d %H:%M")
