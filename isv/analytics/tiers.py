"""The quarterly tier review: which partners' figures call for another tier, and why.

Each quarter is reviewed on the four quarters before it: won revenue and won deals are
spec/KPIS.md's won_revenue and won_count over that window (kpis_by_partner, the KPI engine's
grouped form), open pipeline its pipeline_total now. The tiers and their minimums are the
Settings page's; the rule is isv/rules/tiers.py. A partner whose review of the quarter is
decided is not suggested again until the next quarter.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from isv import display
from isv.auth import DECIDE_TIERS, Viewer, require
from isv.errors import Conflict
from isv.models import Partner, TierReview
from isv.rules import tiers as rules
from isv.services import scope
from isv.services import tiers as reviews
from isv.services.partners import get_partner
from isv.services.settings import current_settings, local_today
from isv.services.validate import parse_id

from .kpis import kpis_by_partner
from .periods import (
    Period,
    date_range,
    quarter_containing,
    quarter_of,
    quarter_range,
    shift_quarter,
)

FIELD_WORDS = {"min_won_revenue": "won revenue", "min_won_deals": "won deals",
               "min_open_pipeline": "open pipeline"}


@dataclass(frozen=True)
class Suggestion:
    """One partner's suggested move, with the figures behind it and the reasons in words."""

    partner_id: uuid.UUID
    partner: str
    domain: str
    move: rules.Move
    figures: rules.Figures
    reasons: tuple[str, ...]

    @property
    def summary(self) -> str:
        """'Promote Silver → Gold' / 'Demote Gold → Silver'."""
        verb = "Promote" if self.move.direction == rules.PROMOTE else "Demote"
        return (f"{verb}: {reviews.tier_text(self.move.from_tier)} → "
                f"{reviews.tier_text(self.move.to_tier)}")


@dataclass(frozen=True)
class Review:
    """The review of one quarter: its window, the tiers, and the open suggestions."""

    quarter: Period         # the quarter under review (the one holding as_of)
    window: Period          # the four quarters before it, over which wins are counted
    as_of: date
    tiers: tuple[rules.Tier, ...]
    suggestions: tuple[Suggestion, ...]


def review_window(as_of: date) -> tuple[Period, Period]:
    """The quarter holding `as_of` and the trailing four quarters before it."""
    quarter = quarter_containing(as_of)
    year, number = quarter_of(as_of)
    first = quarter_range(*shift_quarter(year, number, -rules.TRAILING_QUARTERS))
    last = quarter_range(*shift_quarter(year, number, -1))
    return quarter, date_range(first.start, last.end)


def _amount(field: str, value: Any) -> str:
    return display.count(value) if field == "min_won_deals" else display.money_short(value)


def reasons(tiers: tuple[rules.Tier, ...], move: rules.Move,
            figures: rules.Figures) -> tuple[str, ...]:
    """Why the move: the minimums of the tier it earns met, those of the tier above missed."""
    lines = []
    target = rules.tier_named(tiers, move.to_tier)
    if target is not None:
        met = ", ".join(f"{FIELD_WORDS[f]} {_amount(f, getattr(figures, f[4:]))} ≥ "
                        f"{_amount(f, getattr(target, f))}" for f in FIELD_WORDS
                        if getattr(target, f))
        lines.append(f"Meets {target.name}: {met}." if met
                     else f"{target.name} asks no minimum.")
    above = rules.rank(tiers, move.to_tier) + 1
    missed = rules.shortfalls(tiers[above], figures) if above < len(tiers) else []
    if missed:
        lines.append(f"Short of {tiers[above].name}: " + ", ".join(
            f"{FIELD_WORDS[f]} {_amount(f, have)} < {_amount(f, need)}"
            for f, have, need in missed) + ".")
    return tuple(lines)


def _figures(session: Session, viewer: Viewer, window: Period) -> dict[uuid.UUID, rules.Figures]:
    """Won revenue and deals over the window, and open pipeline now, per partner with deals."""
    return {p.partner_id: rules.Figures(won_revenue=p.won_revenue, won_deals=p.won_count,
                                        open_pipeline=p.pipeline_total)
            for p in kpis_by_partner(session=session, viewer=viewer, period=window)}


def tier_review(*, session: Session, viewer: Viewer, as_of: date | None = None) -> Review:
    """The open suggestions of the quarter holding `as_of` (default today), by partner name."""
    today = as_of or local_today()
    quarter, window = review_window(today)
    tiers = tuple(current_settings(session).partner_tiers)
    figures = _figures(session, viewer, window)
    decided = reviews.decided_partners(session=session, viewer=viewer, quarter=quarter.label)
    zero = rules.Figures(Decimal("0.00"), 0, Decimal("0.00"))
    suggestions = []
    for partner_id, name, domain, tier in session.execute(
            select(Partner.id, Partner.name, Partner.domain, Partner.tier)
            .where(scope.partners_visible(viewer))
            .order_by(func.lower(Partner.name), Partner.id)):
        if partner_id in decided:
            continue
        have = figures.get(partner_id, zero)
        move = rules.suggest(tiers, tier, have)
        if move is not None:
            suggestions.append(Suggestion(partner_id=partner_id, partner=name, domain=domain,
                                          move=move, figures=have,
                                          reasons=reasons(tiers, move, have)))
    return Review(quarter=quarter, window=window, as_of=today, tiers=tiers,
                  suggestions=tuple(suggestions))


def decide(*, session: Session, viewer: Viewer, partner_id: Any, accept: bool, note: Any,
           as_of: date | None = None) -> TierReview:
    """Accept or reject a partner's suggestion, as the review computes it now.

    The suggestion is worked out again in this transaction, so the figures kept with the
    decision are the ones it rests on, and a partner with nothing to decide is refused.
    """
    require(viewer, DECIDE_TIERS, "decide tier reviews")
    wanted = parse_id("partner_id", partner_id)
    partner = get_partner(session=session, viewer=viewer, partner_id=wanted)
    review = tier_review(session=session, viewer=viewer, as_of=as_of)
    found = next((s for s in review.suggestions if s.partner_id == wanted), None)
    if found is None:
        raise Conflict(f"{partner.name} has no open tier suggestion this quarter: it was "
                       "decided already, or its figures no longer call for a move. Reload "
                       "the page.")
    return reviews.record_decision(session=session, viewer=viewer, partner_id=wanted,
                                   quarter=review.quarter.label, move=found.move,
                                   figures=found.figures, accept=accept, note=note)
