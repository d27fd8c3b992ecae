"""The applicable-structure rule of spec/KPIS.md and the commission math, without a database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from isv.models import CommissionStructure
from isv.services.commissions import (
    applicable_structure,
    covers,
    first_year_commission,
    in_effect,
    lifetime_projection,
)


@dataclass(frozen=True)
class S:
    commission_percentage: Decimal
    effective_from: date
    effective_to: date | None = None
    min_deal_size: Decimal = Decimal("0.00")
    max_deal_size: Decimal | None = None
    name: str = ""


D = date(2026, 3, 15)
V = Decimal("50000.00")


def pick(structures, *, close_date=D, deal_value=V, own=None):
    return applicable_structure(structures, close_date=close_date, deal_value=deal_value,
                                own=own)


def test_no_structures_means_none():
    assert pick([]) is None


def test_the_deals_own_structure_wins_even_when_another_would_apply():
    own = S(Decimal("5"), date(2020, 1, 1), effective_to=date(2020, 12, 31), name="own")
    better = S(Decimal("30"), date(2026, 1, 1), name="rule")
    assert pick([better], own=own) is own


def test_the_latest_effective_from_wins_over_a_higher_percentage():
    old = S(Decimal("20"), date(2025, 1, 1), name="old")
    new = S(Decimal("10"), date(2026, 1, 1), name="new")
    assert pick([old, new]) is new
    assert pick([new, old]) is new


def test_a_tie_on_effective_from_goes_to_the_highest_percentage():
    low = S(Decimal("10.00"), date(2026, 1, 1), name="low")
    high = S(Decimal("12.50"), date(2026, 1, 1), name="high")
    assert pick([low, high]) is high
    assert pick([high, low]) is high


def test_a_structure_starting_after_the_close_date_does_not_apply():
    assert pick([S(Decimal("10"), D + timedelta(days=1))]) is None


def test_effective_from_and_effective_to_are_inclusive():
    s = S(Decimal("10"), date(2026, 1, 1), effective_to=date(2026, 3, 15))
    assert pick([s], close_date=date(2026, 1, 1)) is s
    assert pick([s], close_date=date(2026, 3, 15)) is s
    assert pick([s], close_date=date(2026, 3, 16)) is None
    assert pick([s], close_date=date(2025, 12, 31)) is None


def test_deal_size_bands_are_inclusive_at_both_ends():
    band = S(Decimal("10"), date(2026, 1, 1), min_deal_size=Decimal("10000.00"),
             max_deal_size=Decimal("50000.00"))
    assert pick([band], deal_value=Decimal("10000.00")) is band
    assert pick([band], deal_value=Decimal("50000.00")) is band
    assert pick([band], deal_value=Decimal("9999.99")) is None
    assert pick([band], deal_value=Decimal("50000.01")) is None


def test_a_band_without_maximum_covers_every_larger_deal():
    band = S(Decimal("10"), date(2026, 1, 1), min_deal_size=Decimal("100000.00"))
    assert pick([band], deal_value=Decimal("9999999999.99")) is band


def test_bands_pick_the_structure_whose_band_holds_the_deal():
    small = S(Decimal("15"), date(2026, 1, 1), max_deal_size=Decimal("49999.99"), name="small")
    large = S(Decimal("10"), date(2026, 1, 1), min_deal_size=Decimal("50000.00"), name="large")
    assert pick([small, large], deal_value=Decimal("49999.99")) is small
    assert pick([small, large], deal_value=Decimal("50000.00")) is large


def test_an_ended_newer_structure_gives_way_to_an_older_open_one():
    older = S(Decimal("10"), date(2024, 1, 1), name="older")
    ended = S(Decimal("20"), date(2026, 1, 1), effective_to=date(2026, 2, 28), name="ended")
    assert pick([older, ended]) is older


def test_the_rule_works_on_unsaved_model_rows():
    row = CommissionStructure(structure_type="msp", commission_percentage=Decimal("7.50"),
                              min_deal_size=Decimal("0.00"), max_deal_size=None,
                              effective_from=date(2026, 1, 1), effective_to=None)
    assert pick([row]) is row


days = st.dates(min_value=date(2024, 1, 1), max_value=date(2027, 12, 31))
money = st.decimals(min_value=0, max_value=100000, places=2)
structures = st.builds(
    S,
    commission_percentage=st.decimals(min_value=0, max_value=100, places=2),
    effective_from=days,
    effective_to=st.one_of(st.none(), days),
    min_deal_size=money,
    max_deal_size=st.one_of(st.none(), money),
)


@given(st.lists(structures, max_size=8), days, money)
def test_the_chosen_structure_applies_and_none_applicable_beats_it(candidates, day, value):
    chosen = pick(candidates, close_date=day, deal_value=value)
    applicable = [s for s in candidates if in_effect(s, day) and covers(s, value)]
    if not applicable:
        assert chosen is None
        return
    assert chosen in applicable
    best = max((s.effective_from, s.commission_percentage) for s in applicable)
    assert (chosen.effective_from, chosen.commission_percentage) == best


# --- the math ------------------------------------------------------------------------------

def test_first_year_commission_is_exact_to_the_cent():
    assert first_year_commission(Decimal("12345.67"), Decimal("12.50")) == Decimal("1543.21")
    assert first_year_commission(Decimal("100000.00"), Decimal("10.00")) == Decimal("10000.00")
    assert first_year_commission(Decimal("0.00"), Decimal("15.00")) == Decimal("0.00")


def test_first_year_commission_rounds_half_to_even():
    # 1.25 × 10% = 0.125 → 0.12; 1.35 × 10% = 0.135 → 0.14 (a float would get these wrong).
    assert first_year_commission(Decimal("1.25"), Decimal("10")) == Decimal("0.12")
    assert first_year_commission(Decimal("1.35"), Decimal("10")) == Decimal("0.14")


def test_first_year_commission_handles_the_largest_deal_without_losing_cents():
    assert first_year_commission(Decimal("9999999999.99"), Decimal("99.99")) == Decimal(
        "9998999999.99")


def test_commission_is_a_decimal_with_two_places():
    result = first_year_commission(Decimal("333.33"), Decimal("33.33"))
    assert isinstance(result, Decimal)
    assert result == Decimal("111.10")
    assert result.as_tuple().exponent == -2


def test_a_lifetime_projection_is_the_first_year_times_the_years():
    assert lifetime_projection(Decimal("1543.21"), 3) == Decimal("4629.63")
    assert lifetime_projection(Decimal("0.01"), 1) == Decimal("0.01")
