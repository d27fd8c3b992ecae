"""The tier rule (isv/rules/tiers.py) and the commission rule's tier, without a database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from isv.rules.tiers import (
    DEFAULT_TIERS,
    DEMOTE,
    PROMOTE,
    Figures,
    Tier,
    earned,
    qualifies,
    shortfalls,
    suggest,
)
from isv.services.commissions import applicable_structure, for_tier

TIERS = (Tier("Registered"),
         Tier("Silver", Decimal("100000"), 2, Decimal("50000")),
         Tier("Gold", Decimal("500000"), 5, Decimal("250000")))


def figures(won: str = "0", deals: int = 0, pipeline: str = "0") -> Figures:
    return Figures(Decimal(won), deals, Decimal(pipeline))


def test_a_partner_meeting_every_minimum_exactly_qualifies():
    assert qualifies(TIERS[1], figures("100000", 2, "50000"))


def test_missing_one_minimum_is_enough_to_miss_the_tier_and_it_is_named():
    short = figures("600000", 4, "300000")
    assert not qualifies(TIERS[2], short)
    assert shortfalls(TIERS[2], short) == [("min_won_deals", 4, 5)]


def test_a_partner_earns_the_highest_tier_whose_minimums_it_all_meets():
    assert earned(TIERS, figures("600000", 6, "100000")).name == "Silver"
    assert earned(TIERS, figures("600000", 6, "300000")).name == "Gold"
    assert earned(TIERS, figures()).name == "Registered"


def test_without_an_entry_tier_a_partner_meeting_nothing_earns_no_tier():
    assert earned(TIERS[1:], figures("10")) is None


def test_a_partner_holding_what_it_earns_gets_no_suggestion():
    assert suggest(TIERS, "Silver", figures("150000", 3, "60000")) is None
    assert suggest(TIERS, "silver", figures("150000", 3, "60000")) is None  # any case


def test_better_figures_suggest_a_promotion_and_worse_a_demotion():
    up = suggest(TIERS, "Silver", figures("600000", 6, "300000"))
    assert (up.from_tier, up.to_tier, up.direction) == ("Silver", "Gold", PROMOTE)
    down = suggest(TIERS, "Gold", figures("150000", 3, "60000"))
    assert (down.from_tier, down.to_tier, down.direction) == ("Gold", "Silver", DEMOTE)


def test_an_untiered_partner_is_suggested_the_tier_it_earns():
    move = suggest(TIERS, None, figures())
    assert (move.from_tier, move.to_tier, move.direction) == (None, "Registered", PROMOTE)


def test_a_partner_earning_no_tier_is_suggested_to_lose_its_own():
    move = suggest(TIERS[1:], "Silver", figures("10"))
    assert (move.from_tier, move.to_tier, move.direction) == ("Silver", None, DEMOTE)


def test_the_default_tiers_go_up_in_every_minimum():
    for below, above in zip(DEFAULT_TIERS, DEFAULT_TIERS[1:], strict=False):
        assert above.min_won_revenue > below.min_won_revenue
        assert above.min_won_deals > below.min_won_deals
        assert above.min_open_pipeline >= below.min_open_pipeline


money = st.decimals(min_value=0, max_value=10**7, places=2)


@given(money, st.integers(0, 50), money)
def test_the_suggested_tier_is_always_one_the_figures_qualify_for(won, deals, pipeline):
    have = Figures(won, deals, pipeline)
    for current in (None, "Registered", "Silver", "Gold"):
        move = suggest(TIERS, current, have)
        target = move.to_tier if move else current
        assert qualifies(next(t for t in TIERS if t.name.lower() == target.lower()), have)


# --- the commission rule's tier (services/commissions.applicable_structure) ----------------

@dataclass(frozen=True)
class S:
    commission_percentage: Decimal
    effective_from: date = date(2026, 1, 1)
    effective_to: date | None = None
    min_deal_size: Decimal = Decimal("0.00")
    max_deal_size: Decimal | None = None
    tier: str | None = None


D, V = date(2026, 6, 1), Decimal("50000")


def pick(structures, tier):
    return applicable_structure(structures, close_date=D, deal_value=V, partner_tier=tier)


def test_a_structure_for_the_partners_tier_comes_before_the_general_one():
    general, gold = S(Decimal(10)), S(Decimal(8), tier="Gold")
    assert pick([general, gold], "Gold") is gold  # even at a lower percentage
    assert pick([general, gold], "gold") is gold


def test_a_structure_for_another_tier_never_pays():
    general, gold = S(Decimal(10)), S(Decimal(15), tier="Gold")
    assert pick([general, gold], "Silver") is general
    assert pick([general, gold], None) is general
    assert pick([gold], "Silver") is None


def test_among_structures_of_the_tier_the_rule_of_kpis_md_applies():
    older = S(Decimal(20), effective_from=date(2025, 1, 1), tier="Gold")
    newer = S(Decimal(12), effective_from=date(2026, 2, 1), tier="Gold")
    ended = S(Decimal(30), effective_to=date(2026, 3, 1), tier="Gold")
    assert pick([older, newer, ended], "Gold") is newer


def test_a_tier_structure_outside_its_band_or_dates_falls_back_to_the_general_one():
    general = S(Decimal(10))
    small_only = S(Decimal(15), max_deal_size=Decimal("10000"), tier="Gold")
    assert pick([general, small_only], "Gold") is general


def test_the_deals_own_structure_wins_over_any_tier():
    own, gold = S(Decimal(5)), S(Decimal(15), tier="Gold")
    assert applicable_structure([gold], close_date=D, deal_value=V, own=own,
                                partner_tier="Gold") is own


def test_structures_without_a_tier_attribute_pay_every_partner():
    @dataclass(frozen=True)
    class Old:
        commission_percentage: Decimal = Decimal(10)
        effective_from: date = date(2026, 1, 1)
        effective_to: date | None = None
        min_deal_size: Decimal = Decimal(0)
        max_deal_size: Decimal | None = None

    assert for_tier(Old(), "Gold") and for_tier(Old(), None)
