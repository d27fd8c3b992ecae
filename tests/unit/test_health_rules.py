"""The health score's rules on hand-made facts: parts add up, clamp, and move the right way."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest

from isv import display
from isv.rules import health as rules

TODAY = date(2026, 11, 15)  # day 46 of the quarter Oct-Dec (92 days)


def facts(**overrides) -> rules.Facts:
    """A middling partner: touched on cadence's half, pipeline on pace, average win rate."""
    values = dict(
        partner_id=uuid.uuid4(), name="Acme", as_of=TODAY, added_on=date(2024, 1, 1),
        last_touch=date(2026, 11, 1), cadence_days=30,
        new_pipeline=Decimal(50000), previous_pipeline=(Decimal(100000),) * 3,
        quarter_days=92, quarter_elapsed_days=46, won=4, lost=6, program_won=40,
        program_lost=60, open_deals=4, stalled=0, slipped=0)
    values.update(overrides)
    return rules.Facts(**values)


def score(weights: rules.Weights = rules.Weights(), **overrides) -> rules.Score:
    return rules.score(facts(**overrides), weights, display)


def part(result: rules.Score, name: str) -> rules.Part:
    return next(p for p in result.parts if p.name == name)


def test_the_parts_add_up_to_the_score():
    result = score(last_touch=date(2026, 10, 1), stalled=1, slipped=2, won=7, lost=3)
    assert not result.clamped
    assert sum(p.points for p in result.parts) == result.score
    assert [p.name for p in result.parts] == ["base", "touch", "pipeline", "win_rate",
                                              "stalled", "slipped"]


def test_the_base_is_a_part_of_its_own():
    result = score(rules.Weights(base=40))
    assert part(result, "base").points == 40


def test_a_sum_below_zero_is_held_at_zero_and_says_so():
    result = score(last_touch=None, added_on=date(2025, 1, 1), new_pipeline=Decimal(0),
                   won=0, lost=10, stalled=4, slipped=4)
    assert result.total < 0
    assert result.score == 0 and result.clamped
    assert "held at 0" in rules.explain(result, display)


def test_a_sum_above_a_hundred_is_held_at_a_hundred():
    result = score(rules.Weights(base=90), last_touch=TODAY, new_pipeline=Decimal(200000),
                   won=10, lost=0)
    assert result.total > 100 and result.score == 100 and result.clamped


def test_a_partner_quiet_past_its_cadence_loses_points_and_is_told_why():
    quiet = part(score(last_touch=date(2026, 10, 5)), "touch")  # 41 days
    assert quiet.points == -7
    assert quiet.reason == "no touch in 41\u00a0days, cadence 30\u00a0days"
    assert part(score(last_touch=TODAY), "touch").points == 20
    assert part(score(last_touch=date(2026, 9, 1)), "touch").points == -20


def test_a_partner_never_touched_counts_from_the_day_it_was_added():
    never = part(score(last_touch=None, added_on=date(2026, 11, 5)), "touch")
    assert never.points == 13
    assert "since the partner was added 10\u00a0days ago" in never.reason


def test_more_new_pipeline_than_the_previous_quarters_pace_raises_the_score():
    on_pace = part(score(), "pipeline")
    up = part(score(new_pipeline=Decimal(67500)), "pipeline")
    down = part(score(new_pipeline=Decimal(25000)), "pipeline")
    assert on_pace.points == 0
    assert up.points == 5 and "up 35.0\u00a0% on the pace of the previous 3 quarters" in up.reason
    assert down.points == -8 and "down 50.0\u00a0%" in down.reason


def test_a_new_partner_has_no_pipeline_comparison():
    new = part(score(previous_pipeline=()), "pipeline")
    assert new.points == 0 and "no earlier quarter" in new.reason


def test_pipeline_after_quarters_without_any_earns_the_full_weight():
    first = part(score(previous_pipeline=(Decimal(0),)), "pipeline")
    assert first.points == 15 and "none in last quarter" in first.reason


def test_a_win_rate_above_the_programs_raises_the_score_and_below_lowers_it():
    assert part(score(won=4, lost=6), "win_rate").points == 0
    better = part(score(won=7, lost=3), "win_rate")
    worse = part(score(won=1, lost=9), "win_rate")
    assert better.points > 0 > worse.points
    assert better.reason == ("win rate 70.0\u00a0% (7 of 10 closed in 12 months), "
                             "program 40.0\u00a0%")
    assert part(score(won=0, lost=0), "win_rate").points == 0


@pytest.mark.parametrize("name", ["stalled", "slipped"])
def test_stalled_and_slipped_deals_lower_the_score_by_their_share(name):
    assert part(score(), name).points == 0
    assert part(score(**{name: 1}), name).points == -3  # 1 of 4: a quarter of 10, rounded
    assert part(score(**{name: 4}), name).points == -10
    assert part(score(open_deals=0), name).reason == "no open deals"


def test_each_weight_scales_its_part():
    heavy = rules.Weights(touch=40, stall_days=14)
    result = score(heavy, last_touch=date(2026, 10, 5), stalled=2)
    assert part(result, "touch").points == -15
    assert "over 14\u00a0days" in part(result, "stalled").reason


def test_explain_lists_every_part_with_its_sign():
    lines = rules.explain(score(last_touch=date(2026, 10, 5)), display).splitlines()
    assert lines[0] == "+50: the base every partner starts from"
    assert lines[1].startswith("\u22127: no touch in 41")


@pytest.mark.parametrize(("day", "start_month", "first"), [
    (date(2026, 11, 15), 1, date(2026, 10, 1)),
    (date(2026, 1, 31), 2, date(2025, 11, 1)),
    (date(2026, 2, 1), 2, date(2026, 2, 1)),
])
def test_fiscal_quarters_start_where_the_fiscal_year_says(day, start_month, first):
    assert rules.quarter_start(day, start_month) == first


def test_earlier_quarters_before_the_partner_was_added_do_not_count():
    _, _, earlier = rules.quarter_bounds(TODAY, 1)
    assert earlier == [date(2026, 7, 1), date(2026, 4, 1), date(2026, 1, 1)]
    assert rules.quarters_since(earlier, date(2026, 5, 10)) == 2
    assert rules.quarters_since(earlier, date(2020, 1, 1)) == 3


def test_the_part_that_fell_most_since_the_snapshot_is_the_one_that_moved_the_score():
    now = score(last_touch=date(2026, 10, 5), stalled=1).parts
    before = [("base", 50), ("touch", 10), ("pipeline", 0), ("win_rate", 0), ("stalled", 0),
              ("slipped", 0)]
    assert rules.moved_most(now, before).name == "touch"   # 10 → −7
    assert rules.moved_most(now).name == "touch"           # without a before: the lowest


@pytest.mark.parametrize(("now", "before", "crossed"), [
    (39, 40, True), (39, None, True), (39, 30, False), (40, 60, False),
])
def test_a_score_crosses_the_threshold_only_on_its_way_down_past_it(now, before, crossed):
    assert rules.crossed(now, before, 40) is crossed
