"""Partner tiers: which tier a partner's trailing-year figures earn, and the move that follows.

Tiers are ranked lowest first (the Settings page's order). A partner earns the highest tier
whose every minimum it meets: won revenue and won deals over the trailing four quarters, and
open pipeline now. A partner that meets no tier's minimums earns none. The review suggests
moving a partner whose tier differs from the one it earns; a person decides.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

MAX_NAME_CHARS = 40
MAX_TIERS = 6
TRAILING_QUARTERS = 4
PROMOTE, DEMOTE = "promote", "demote"


@dataclass(frozen=True)
class Tier:
    """A tier and the minimums a partner must meet, all of them, to hold it."""

    name: str
    min_won_revenue: Decimal = Decimal(0)
    min_won_deals: int = 0
    min_open_pipeline: Decimal = Decimal(0)


@dataclass(frozen=True)
class Figures:
    """What a partner's tier is judged on."""

    won_revenue: Decimal
    won_deals: int
    open_pipeline: Decimal


@dataclass(frozen=True)
class Move:
    """A suggested change of tier; `to_tier` None means the partner earns no tier."""

    from_tier: str | None
    to_tier: str | None
    direction: str  # PROMOTE or DEMOTE


DEFAULT_TIERS = (
    Tier("Registered"),
    Tier("Silver", Decimal("100000"), 2, Decimal("50000")),
    Tier("Gold", Decimal("500000"), 5, Decimal("250000")),
    Tier("Platinum", Decimal("1500000"), 10, Decimal("750000")),
)


def shortfalls(tier: Tier, figures: Figures) -> list[tuple[str, object, object]]:
    """The minimums of `tier` the figures miss, as (field, have, need)."""
    missed: list[tuple[str, object, object]] = []
    if figures.won_revenue < tier.min_won_revenue:
        missed.append(("min_won_revenue", figures.won_revenue, tier.min_won_revenue))
    if figures.won_deals < tier.min_won_deals:
        missed.append(("min_won_deals", figures.won_deals, tier.min_won_deals))
    if figures.open_pipeline < tier.min_open_pipeline:
        missed.append(("min_open_pipeline", figures.open_pipeline, tier.min_open_pipeline))
    return missed


def qualifies(tier: Tier, figures: Figures) -> bool:
    """Whether the figures meet every minimum of the tier."""
    return not shortfalls(tier, figures)


def earned(tiers: Sequence[Tier], figures: Figures) -> Tier | None:
    """The highest tier whose minimums the figures all meet; None when they meet none."""
    best = None
    for tier in tiers:
        if qualifies(tier, figures):
            best = tier
    return best


def rank(tiers: Sequence[Tier], name: str | None) -> int:
    """A tier's place, lowest 0; no tier (or one no longer defined) ranks below them all."""
    for k, tier in enumerate(tiers):
        if name is not None and tier.name.lower() == name.lower():
            return k
    return -1


def suggest(tiers: Sequence[Tier], current: str | None, figures: Figures) -> Move | None:
    """The move the figures call for, or None when the partner holds the tier it earns."""
    target = earned(tiers, figures)
    to_name = target.name if target is not None else None
    if rank(tiers, current) == rank(tiers, to_name) and (current is None) == (to_name is None):
        return None
    direction = PROMOTE if rank(tiers, to_name) > rank(tiers, current) else DEMOTE
    return Move(from_tier=current, to_tier=to_name, direction=direction)


def tier_named(tiers: Sequence[Tier], name: str | None) -> Tier | None:
    """The tier of that name (any case), or None."""
    k = rank(tiers, name)
    return tiers[k] if k >= 0 else None
