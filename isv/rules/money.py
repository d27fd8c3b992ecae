"""Money as the machine-readable outputs write it: the KPI JSON and the data exports agree."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

CENT = Decimal("0.01")


def money_text(value: Decimal) -> str:
    """Money as exported: two decimals, rounded half-even."""
    return str(Decimal(value).quantize(CENT, rounding=ROUND_HALF_EVEN))
