"""Partner health scores: the facts each partner's score needs, read in three statements.

The rules are in isv/rules/health.py; this module gathers their facts from the database and
hands them the Settings page's weights and the display module's wording. Three statements,
whatever the number of partners: the partners with their last touch, their deals
aggregated per partner, and the program's win rate.

`as_of` moves the day every window and age counts from (touches and deals after it are not
seen); deal stages are taken as they are now.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.orm import Session

from isv import display
from isv.auth import Viewer
from isv.models import (
    OPEN_STAGES,
    Opportunity,
    Partner,
    PartnerActivity,
    PartnerHealthSnapshot,
    StageHistory,
)
from isv.rules import health as rules
from isv.services import scope, validate
from isv.services.settings import (
    AppSettings,
    current_settings,
    local_date,
    local_today,
    local_zone,
)
from isv.services.validate import parse_id


@dataclass(frozen=True)
class PartnerHealth:
    """One partner's score with its parts, and the hand-set label shown beside it."""

    partner_id: uuid.UUID
    partner: str
    score: int
    parts: tuple[rules.Part, ...]
    clamped: bool
    label: str                # the hand-set label
    reason: str | None        # why it was set
    until: date | None        # it overrides the score's band through this day
    as_of: date

    @property
    def total(self) -> int:
        return sum(p.points for p in self.parts)

    @property
    def overridden(self) -> bool:
        """The hand-set label shows instead of the score's band."""
        return rules.override_in_force(self.until, self.as_of)

    @property
    def health(self) -> str:
        """The label the partner shows: the hand-set one while in force, else the score's."""
        return self.label if self.overridden else rules.band(self.score)

    def explained(self) -> str:
        """Each part on a line: '−7: touch recency, no touch in 41 days, cadence 30 days'."""
        return rules.explain(rules.Score(self.partner_id, self.partner, self.score, self.parts,
                                         self.clamped), display)

    def summary(self) -> str:
        """The parts that moved the score, on one line: '+50 base · −20 touch recency · …'."""
        moved = [f"{signed(p.points)} {p.label.lower()}" for p in self.parts if p.points]
        if self.clamped:
            moved.append(f"held at {display.count(self.score)}")
        return " · ".join(moved)

    def to_dict(self) -> dict[str, Any]:
        """The form of `isv report health --format json`."""
        return {"partner": self.partner, "score": self.score,
                "parts": [{"name": p.name, "points": p.points, "reason": p.reason}
                          for p in self.parts]}


def signed(points: int) -> str:
    """Points with their sign written out: '+12', '−18', '0'."""
    return rules.signed(points, display)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=local_zone())


def partner_facts(*, session: Session, viewer: Viewer, as_of: date | None = None,
                  partner_ids: Iterable[uuid.UUID] | None = None) -> list[rules.Facts]:
    """The score's facts for every partner the viewer may see (or only `partner_ids`)."""
    return [fact for fact, _ in _gather(session, viewer, as_of, partner_ids,
                                        current_settings(session))]


def _gather(session: Session, viewer: Viewer, as_of: date | None,
            partner_ids: Iterable[uuid.UUID] | None,
            settings: AppSettings) -> list[tuple[rules.Facts, tuple]]:
    """Each partner's facts with its hand-set label, in three statements."""
    today = as_of or local_today()
    end = _midnight(today + timedelta(days=1))  # the end of as_of: nothing after it counts
    start, _, earlier = rules.quarter_bounds(today, settings.fiscal_year_start_month)
    quarter_days = (rules.shift_months(start, 3) - start).days
    elapsed = (today - start).days + 1
    win_from = today - timedelta(days=rules.WIN_RATE_DAYS - 1)
    stall_cutoff = _midnight(today - timedelta(days=settings.health_stall_days))

    chosen = select(Partner.id).where(scope.partners_visible(viewer))
    if partner_ids is not None:
        chosen = chosen.where(Partner.id.in_(list(partner_ids)))

    last_touch = (
        select(PartnerActivity.partner_id, func.max(PartnerActivity.occurred_on).label("last"))
        .where(PartnerActivity.occurred_on <= today)
        .group_by(PartnerActivity.partner_id)
        .subquery())
    partners = session.execute(
        select(Partner.id, Partner.name, Partner.created_at, last_touch.c.last,
               Partner.relationship_health, Partner.health_reason, Partner.health_until)
        .outerjoin(last_touch, last_touch.c.partner_id == Partner.id)
        .where(Partner.id.in_(chosen))
        .order_by(func.lower(Partner.name), Partner.id)).all()
    if not partners:
        return []

    last_move = (
        select(StageHistory.opportunity_id, func.max(StageHistory.changed_at).label("moved"))
        .where(StageHistory.changed_at < end)
        .group_by(StageHistory.opportunity_id)
        .subquery())
    created = Opportunity.created_at
    is_open = and_(Opportunity.stage.in_(OPEN_STAGES), created < end)
    closed_recently = Opportunity.actual_close_date.between(win_from, today)

    def value_between(first: date, after: date):
        window = and_(created >= _midnight(first), created < min(_midnight(after), end))
        return func.coalesce(func.sum(case((window, Opportunity.deal_value),
                                           else_=literal(0))), 0)

    def counted(condition):
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    windows = [value_between(start, rules.shift_months(start, 3))]
    windows += [value_between(first, rules.shift_months(first, 3)) for first in earlier]
    deals = {row[0]: row[1:] for row in session.execute(
        select(Opportunity.partner_id, *windows,
               counted(and_(Opportunity.stage == "closed_won", closed_recently)),
               counted(and_(Opportunity.stage == "closed_lost", closed_recently)),
               counted(is_open),
               counted(and_(is_open, func.coalesce(last_move.c.moved, created) < stall_cutoff)),
               counted(and_(is_open, Opportunity.expected_close_date < today)))
        .outerjoin(last_move, last_move.c.opportunity_id == Opportunity.id)
        .where(Opportunity.partner_id.in_(chosen))
        .group_by(Opportunity.partner_id))}

    program_won, program_lost = session.execute(
        select(counted(Opportunity.stage == "closed_won"),
               counted(Opportunity.stage == "closed_lost"))
        .where(closed_recently)).one()

    empty = (0,) * (len(windows) + 5)
    facts = []
    for partner_id, name, added_at, last, *hand_set in partners:
        row = deals.get(partner_id, empty)
        added_on = local_date(added_at)
        values = [Decimal(v) for v in row[:len(windows)]]
        won, lost, open_deals, stalled, slipped = (int(v) for v in row[len(windows):])
        facts.append((rules.Facts(
            partner_id=partner_id, name=name, as_of=today, added_on=added_on,
            last_touch=last, cadence_days=settings.relationship_cadence_days,
            new_pipeline=values[0],
            previous_pipeline=tuple(values[1:1 + rules.quarters_since(earlier, added_on)]),
            quarter_days=quarter_days, quarter_elapsed_days=elapsed,
            won=won, lost=lost, program_won=int(program_won), program_lost=int(program_lost),
            open_deals=open_deals, stalled=stalled, slipped=slipped), tuple(hand_set)))
    return facts


def partner_scores(*, session: Session, viewer: Viewer, as_of: date | None = None,
                   partner_ids: Iterable[uuid.UUID] | None = None) -> list[PartnerHealth]:
    """Every visible partner's health score with its parts, by partner name."""
    settings = current_settings(session)
    weights = settings.health_weights()
    out = []
    for fact, (label, reason, until) in _gather(session, viewer, as_of, partner_ids, settings):
        result = rules.score(fact, weights, display)
        out.append(PartnerHealth(partner_id=result.partner_id, partner=result.partner,
                                 score=result.score, parts=result.parts,
                                 clamped=result.clamped, label=label, reason=reason,
                                 until=until, as_of=fact.as_of))
    return out


def partner_score(*, session: Session, viewer: Viewer, partner_id: Any,
                  as_of: date | None = None) -> PartnerHealth | None:
    """One partner's health score, or None if the viewer may not see the partner."""
    found = partner_scores(session=session, viewer=viewer, as_of=as_of,
                           partner_ids=[parse_id("partner_id", partner_id)])
    return found[0] if found else None


def health_report(*, session: Session, viewer: Viewer,
                  as_of: str | None = None) -> list[PartnerHealth]:
    """`isv report health`: every partner's score as of a day (YYYY-MM-DD, default today)."""
    day = validate.day("as_of", as_of) if as_of else None
    return partner_scores(session=session, viewer=viewer, as_of=day)


# --- weekly snapshots: the score's history --------------------------------------------------

def take_snapshots(*, session: Session, viewer: Viewer,
                   today: date | None = None) -> dict[str, int]:
    """Keep every partner's score and parts for today (the weekly job); a second run the
    same day replaces that day's snapshot. Returns how many were taken."""
    day = today or local_today()
    results = partner_scores(session=session, viewer=viewer, as_of=day)
    existing = {row.partner_id: row for row in session.scalars(
        select(PartnerHealthSnapshot).where(PartnerHealthSnapshot.taken_on == day))}
    for result in results:
        parts = [{"name": p.name, "points": p.points, "reason": p.reason} for p in result.parts]
        row = existing.get(result.partner_id)
        if row is None:
            session.add(PartnerHealthSnapshot(partner_id=result.partner_id, taken_on=day,
                                              score=result.score, parts=parts))
        else:
            row.score, row.parts = result.score, parts
    session.flush()
    return {"partners": len(results)}


def history(*, session: Session, viewer: Viewer, partner_id: Any,
            limit: int = 104) -> list[tuple[date, int]]:
    """A partner's weekly scores, oldest first (the last `limit`); empty if not visible."""
    stmt = (select(PartnerHealthSnapshot.taken_on, PartnerHealthSnapshot.score)
            .join(Partner, Partner.id == PartnerHealthSnapshot.partner_id)
            .where(PartnerHealthSnapshot.partner_id == parse_id("partner_id", partner_id),
                   scope.partners_visible(viewer))
            .order_by(PartnerHealthSnapshot.taken_on.desc()).limit(limit))
    return list(reversed([(day, score) for day, score in session.execute(stmt)]))


def previous_scores(*, session: Session, viewer: Viewer,
                    before: date | None = None) -> dict[uuid.UUID, tuple[date, int]]:
    """Each visible partner's latest snapshot taken before `before` (default today): what a
    score's change is measured from."""
    day = before or local_today()
    latest = (select(PartnerHealthSnapshot.partner_id,
                     func.max(PartnerHealthSnapshot.taken_on).label("day"))
              .where(PartnerHealthSnapshot.taken_on < day)
              .group_by(PartnerHealthSnapshot.partner_id).subquery())
    rows = session.execute(
        select(PartnerHealthSnapshot.partner_id, PartnerHealthSnapshot.taken_on,
               PartnerHealthSnapshot.score)
        .join(latest, and_(latest.c.partner_id == PartnerHealthSnapshot.partner_id,
                           latest.c.day == PartnerHealthSnapshot.taken_on))
        .join(Partner, Partner.id == PartnerHealthSnapshot.partner_id)
        .where(scope.partners_visible(viewer)))
    return {partner_id: (taken_on, score) for partner_id, taken_on, score in rows}


def last_above_at_risk(*, session: Session, before: date,
                       partner_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, date]:
    """The day of each partner's latest snapshot before `before` whose score was above the
    at_risk band: when its present at-risk spell began (absent: it never was above)."""
    ids = list(partner_ids)
    if not ids:
        return {}
    floor = dict(rules.BANDS)["needs_attention"]
    return dict(session.execute(
        select(PartnerHealthSnapshot.partner_id, func.max(PartnerHealthSnapshot.taken_on))
        .where(PartnerHealthSnapshot.partner_id.in_(ids), PartnerHealthSnapshot.taken_on < before,
               PartnerHealthSnapshot.score >= floor)
        .group_by(PartnerHealthSnapshot.partner_id)).all())


@dataclass(frozen=True)
class Crossing:
    """A partner whose score fell below the alert threshold since its last snapshot."""

    partner_id: uuid.UUID
    partner: str
    score: int
    threshold: int
    before: tuple[date, int] | None   # the last snapshot's day and score, if any
    moved: rules.Part                 # the part that pulled it down the most

    def message(self) -> str:
        was = (f" (was {display.count(self.before[1])} on {display.day(self.before[0])})"
               if self.before else "")
        return (f"{self.partner}'s health score is {display.count(self.score)}, below "
                f"{display.count(self.threshold)}{was}. Moved most by "
                f"{self.moved.label.lower()}, {signed(self.moved.points)}: {self.moved.reason}.")


def crossings(*, session: Session, viewer: Viewer, today: date | None = None) -> list[Crossing]:
    """Partners whose score is below the Settings page's threshold and was not at their last
    weekly snapshot before today (or have none): what the maintenance alert raises."""
    day = today or local_today()
    threshold = current_settings(session).health_alert_threshold
    results = [r for r in partner_scores(session=session, viewer=viewer, as_of=day)
               if r.score < threshold]
    if not results:
        return []
    latest = (select(PartnerHealthSnapshot.partner_id,
                     func.max(PartnerHealthSnapshot.taken_on).label("day"))
              .where(PartnerHealthSnapshot.taken_on < day,
                     PartnerHealthSnapshot.partner_id.in_([r.partner_id for r in results]))
              .group_by(PartnerHealthSnapshot.partner_id).subquery())
    before = {row[0]: row[1:] for row in session.execute(
        select(PartnerHealthSnapshot.partner_id, PartnerHealthSnapshot.taken_on,
               PartnerHealthSnapshot.score, PartnerHealthSnapshot.parts)
        .join(latest, and_(latest.c.partner_id == PartnerHealthSnapshot.partner_id,
                           latest.c.day == PartnerHealthSnapshot.taken_on)))}
    found = []
    for result in results:
        taken_on, score, parts = before.get(result.partner_id, (None, None, []))
        if not rules.crossed(result.score, score, threshold):
            continue
        moved = rules.moved_most(result.parts, [(p["name"], p["points"]) for p in parts])
        found.append(Crossing(partner_id=result.partner_id, partner=result.partner,
                              score=result.score, threshold=threshold,
                              before=(taken_on, score) if taken_on else None, moved=moved))
    return found
