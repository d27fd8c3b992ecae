"""A partner's health score, 0-100, and the parts that explain it: pure, no database.

The score is a sum of parts, each with its points and a reason a person can check:

- base: every partner starts here (Settings, 50 by default);
- touch: days since the last logged touch (since the partner was added, if never) against
  the relationship cadence. A touch today earns the full weight, one a cadence ago 0,
  two cadences ago or more the full weight off: weight × (1 − days / cadence), bounded;
- pipeline: new pipeline this fiscal quarter (deal value of the deals created in it, to
  the day) against the pace of the previous quarters: their average per quarter times the
  share of this quarter gone. Up 100 % or more earns the full weight, none at all takes it
  off; quarters before the partner was added do not count. No earlier quarter: 0 points;
- win rate: deals won of those closed in the last 365 days against the program's win rate
  over the same days: as far above the program as it can be earns the full weight, as far
  below takes it off. Nothing closed: 0 points;
- stalled: the share of the partner's open deals whose stage has not changed for longer
  than the stall setting takes up to the full weight off;
- slipped: the share of its open deals past their expected close date takes up to the full
  weight off.

Each part is rounded to whole points, so the parts add up to the score exactly; only a sum
below 0 or above 100 is clamped (and says so). With the default weights a partner can
reach 100 and fall to 0.

Weekly statuses are left out: a status has a free-text blockers field per user, with no
link to a partner, so which partner a blocker names cannot be told from the data.

Numbers in the reasons are written by the display module the caller hands in (isv/display
for the app, the CLI and alerts); this module imports nothing of the program's.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

MIN_SCORE, MAX_SCORE = 0, 100
WIN_RATE_DAYS = 365
PREVIOUS_QUARTERS = 3

PART_LABELS = {
    "base": "Base",
    "touch": "Touch recency",
    "pipeline": "New pipeline",
    "win_rate": "Win rate",
    "stalled": "Stalled deals",
    "slipped": "Slipped deals",
}


@dataclass(frozen=True)
class Weights:
    """The most points each part can move the score; the Settings page changes them."""

    base: int = 50
    touch: int = 20
    pipeline: int = 15
    win_rate: int = 15
    stalled: int = 10
    slipped: int = 10
    stall_days: int = 30


class Words(Protocol):
    """How numbers read (isv/display): passed in so the rules stay below the services."""

    def days(self, value: Any) -> str: ...
    def percent(self, ratio: Any, *, places: int = 1, none: str = ...) -> str: ...
    def money_short(self, value: Any, *, none: str = ...) -> str: ...
    def count(self, value: Any, *, none: str = ...) -> str: ...


@dataclass(frozen=True)
class Facts:
    """What the score is worked out from, for one partner on one day."""

    partner_id: uuid.UUID
    name: str
    as_of: date
    added_on: date
    last_touch: date | None
    cadence_days: int
    new_pipeline: Decimal                 # created this quarter, up to as_of
    previous_pipeline: tuple[Decimal, ...]  # each earlier quarter, most recent first
    quarter_days: int                     # days in this quarter
    quarter_elapsed_days: int             # of them, up to and including as_of
    won: int                              # closed won in the last WIN_RATE_DAYS
    lost: int
    program_won: int                      # every partner's, same days
    program_lost: int
    open_deals: int
    stalled: int
    slipped: int


@dataclass(frozen=True)
class Part:
    name: str
    points: int
    reason: str

    @property
    def label(self) -> str:
        return PART_LABELS[self.name]


@dataclass(frozen=True)
class Score:
    partner_id: uuid.UUID
    partner: str
    score: int
    parts: tuple[Part, ...]
    clamped: bool

    @property
    def total(self) -> int:
        """The parts' sum before clamping."""
        return sum(p.points for p in self.parts)


def _whole(value: float | Decimal) -> int:
    # Half away from zero, the way people round: 2.5 → 3, −2.5 → −3.
    return int(Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _bounded(value: float, limit: float = 1.0) -> float:
    return max(-limit, min(limit, value))


def _plural(n: int, one: str, many: str) -> str:
    return one if n == 1 else many


def touch_part(facts: Facts, weight: int, words: Words) -> Part:
    since = facts.last_touch or facts.added_on
    days = max((facts.as_of - since).days, 0)
    cadence = facts.cadence_days
    points = _whole(weight * _bounded(1 - days / cadence))
    cadence_text = f"cadence {words.days(cadence)}"
    if facts.last_touch is None:
        reason = f"no touch since the partner was added {words.days(days)} ago, {cadence_text}"
    elif days > cadence:
        reason = f"no touch in {words.days(days)}, {cadence_text}"
    else:
        when = "today" if days == 0 else f"{words.days(days)} ago"
        reason = f"last touch {when}, {cadence_text}"
    return Part("touch", points, reason)


def pipeline_part(facts: Facts, weight: int, words: Words) -> Part:
    new, earlier = facts.new_pipeline, facts.previous_pipeline
    now_text = f"new pipeline {words.money_short(new)} this quarter"
    if not earlier:
        return Part("pipeline", 0, f"{now_text}; no earlier quarter to compare with")
    n = len(earlier)
    quarters = f"the previous {n} {_plural(n, 'quarter', 'quarters')}" if n > 1 \
        else "last quarter"
    average = sum(earlier, start=Decimal(0)) / n
    if average == 0:
        if new == 0:
            return Part("pipeline", 0, f"no new pipeline this quarter nor in {quarters}")
        return Part("pipeline", weight, f"{now_text}, none in {quarters}")
    pace = average * Decimal(facts.quarter_elapsed_days) / Decimal(facts.quarter_days)
    change = float(new / pace) - 1 if pace else 1.0
    points = _whole(weight * _bounded(change))
    direction = "up" if change >= 0 else "down"
    return Part("pipeline", points,
                f"{now_text}, {direction} {words.percent(abs(change))} on the pace of "
                f"{quarters} ({words.money_short(average)} a quarter)")


def win_rate_part(facts: Facts, weight: int, words: Words) -> Part:
    closed = facts.won + facts.lost
    if closed == 0:
        return Part("win_rate", 0, "no deal closed in the last 12 months")
    rate = facts.won / closed
    program_closed = facts.program_won + facts.program_lost
    program = facts.program_won / program_closed if program_closed else 0.5
    room = max(program, 1 - program)
    points = _whole(weight * _bounded((rate - program) / room)) if room else 0
    return Part("win_rate", points,
                f"win rate {words.percent(rate)} ({words.count(facts.won)} of "
                f"{words.count(closed)} closed in 12 months), program "
                f"{words.percent(program)}")


def stalled_part(facts: Facts, weight: int, stall_days: int, words: Words) -> Part:
    if facts.open_deals == 0:
        return Part("stalled", 0, "no open deals")
    points = -_whole(weight * facts.stalled / facts.open_deals)
    return Part("stalled", points,
                f"{words.count(facts.stalled)} of {words.count(facts.open_deals)} open "
                f"{_plural(facts.open_deals, 'deal', 'deals')} without a stage change in "
                f"over {words.days(stall_days)}")


def slipped_part(facts: Facts, weight: int, words: Words) -> Part:
    if facts.open_deals == 0:
        return Part("slipped", 0, "no open deals")
    points = -_whole(weight * facts.slipped / facts.open_deals)
    return Part("slipped", points,
                f"{words.count(facts.slipped)} of {words.count(facts.open_deals)} open "
                f"{_plural(facts.open_deals, 'deal', 'deals')} past the expected close date")


def score(facts: Facts, weights: Weights, words: Words) -> Score:
    """The partner's score and its parts; the parts add up to it unless it is clamped."""
    parts = (
        Part("base", weights.base, "the base every partner starts from"),
        touch_part(facts, weights.touch, words),
        pipeline_part(facts, weights.pipeline, words),
        win_rate_part(facts, weights.win_rate, words),
        stalled_part(facts, weights.stalled, weights.stall_days, words),
        slipped_part(facts, weights.slipped, words),
    )
    total = sum(p.points for p in parts)
    final = max(MIN_SCORE, min(MAX_SCORE, total))
    return Score(facts.partner_id, facts.name, final, parts, clamped=final != total)


def explain(result: Score, words: Words) -> str:
    """The parts on one line each, as tooltips and alerts show them: '−18: no touch in …'."""
    lines = [f"{signed(p.points, words)}: {p.reason}" for p in result.parts]
    if result.clamped:
        lines.append(f"sum {signed(result.total, words)}, held at {result.score}")
    return "\n".join(lines)


def signed(points: int, words: Words) -> str:
    """Points with their sign written out: '+12', '−18', '0'."""
    if points == 0:
        return "0"
    return ("+" if points > 0 else "\u2212") + words.count(abs(points))


# --- what moved a score ------------------------------------------------------------------

DEFAULT_ALERT_THRESHOLD = 40


def moved_most(now: Sequence[Part], before: Sequence[tuple[str, int]] = ()) -> Part:
    """The part that pulled the score down the most: against the points each part had
    before when there is a before, else the part with the fewest points."""
    earlier = dict(before)
    if earlier:
        return min(now, key=lambda p: (p.points - earlier.get(p.name, 0), p.points))
    return min(now, key=lambda p: p.points)


def crossed(score_now: int, before: int | None, threshold: int) -> bool:
    """The score is below the threshold and was not at the last snapshot (or there was none)."""
    return score_now < threshold and (before is None or before >= threshold)


# --- the label a score reads as ----------------------------------------------------------

# The lowest score of each label, best first: the label a partner shows unless a hand-set
# one overrides it (isv.models.HEALTH's codes).
BANDS = (("excellent", 75), ("healthy", 50), ("needs_attention", 30), ("at_risk", 0))


def band(value: int) -> str:
    """The health label a score reads as: 80 → 'excellent', 20 → 'at_risk'."""
    return next(label for label, lowest in BANDS if value >= lowest)


def override_in_force(until: date | None, today: date) -> bool:
    """A hand-set label overrides the score through its expiry day."""
    return until is not None and until >= today


# --- fiscal quarters, for the facts' windows -----------------------------------------------

def quarter_start(day: date, start_month: int) -> date:
    """The first day of the fiscal quarter holding `day` (quarters start in start_month)."""
    offset = (day.month - start_month) % 3
    month = day.month - offset
    year = day.year
    if month < 1:
        month += 12
        year -= 1
    return date(year, month, 1)


def shift_months(day: date, months: int) -> date:
    """The first of the month `months` after (or before) `day`'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def quarter_bounds(as_of: date, start_month: int,
                   back: int = PREVIOUS_QUARTERS) -> tuple[date, date, list[date]]:
    """This quarter's first day, the next quarter's first day, and the previous `back`
    quarters' first days, most recent first."""
    start = quarter_start(as_of, start_month)
    return start, shift_months(start, 3), [shift_months(start, -3 * i) for i in
                                           range(1, back + 1)]


def quarters_since(starts: Sequence[date], added_on: date) -> int:
    """How many of the earlier quarters (most recent first) ended after the partner was added."""
    return sum(1 for first in starts if shift_months(first, 3) - timedelta(days=1) >= added_on)
