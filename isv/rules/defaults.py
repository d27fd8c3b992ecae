"""What the Settings page starts from before anyone saves: stage probabilities and alert
thresholds. services/settings.py builds its defaults from these."""

from __future__ import annotations

from decimal import Decimal

# The probability a deal gets when it enters a stage and none is given, until the Settings
# page changes it.
DEFAULT_PROBABILITY: dict[str, Decimal] = {
    "lead": Decimal(10),
    "demo": Decimal(25),
    "poc": Decimal(50),
    "proposal": Decimal(75),
    "closed_won": Decimal(100),
    "closed_lost": Decimal(0),
}

# Alert thresholds: days before a deal's close date, and goal attainment milestones (%).
DUE_SOON_DAYS = 7
DUE_VERY_SOON_DAYS = 2
MILESTONES = (50, 75, 100)
