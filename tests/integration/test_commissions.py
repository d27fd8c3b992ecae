"""Commission structures: validation, who may change them, and the calculator."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from isv.errors import Forbidden, NotFound, ValidationError
from isv.models import AuditEntry
from isv.services import commissions
from tests.factories import make_opportunity, make_partner, make_structure, make_user, viewer_of


def _viewer(session, role: str = "vp"):
    return viewer_of(make_user(session, role=role))


def _create(session, viewer, partner, **overrides):
    values = dict(structure_type="referral", commission_percentage="10.00",
                  effective_from=date(2026, 1, 1))
    values.update(overrides)
    return commissions.create_structure(session=session, viewer=viewer, partner_id=partner.id,
                                        **values)


def test_a_structure_is_created_with_exact_values_and_audited(session):
    vp = _viewer(session)
    partner = make_partner(session)
    row = _create(session, vp, partner, commission_percentage="12.5", is_lifetime=True,
                  min_deal_size="1000", max_deal_size="50000.50")
    session.expire(row)
    assert row.commission_percentage == Decimal("12.50")
    assert row.min_deal_size == Decimal("1000.00")
    assert row.max_deal_size == Decimal("50000.50")
    assert row.is_lifetime is True
    entry = session.scalar(select(AuditEntry).where(AuditEntry.entity_id == str(row.id)))
    assert entry.action == "create"
    assert entry.new_values["commission_percentage"] == "12.50"


@pytest.mark.parametrize("overrides, field", [
    ({"commission_percentage": "100.01"}, "commission_percentage"),
    ({"commission_percentage": "-1"}, "commission_percentage"),
    ({"commission_percentage": None}, "commission_percentage"),
    ({"min_deal_size": "-0.01"}, "min_deal_size"),
    ({"min_deal_size": "500", "max_deal_size": "499.99"}, "max_deal_size"),
    ({"effective_to": date(2025, 12, 31)}, "effective_to"),
    ({"structure_type": "agency"}, "structure_type"),
    ({"effective_from": None}, "effective_from"),
    ({"is_lifetime": "maybe"}, "is_lifetime"),
])
def test_bad_structure_values_name_the_field(session, overrides, field):
    vp = _viewer(session)
    partner = make_partner(session)
    with pytest.raises(ValidationError) as err:
        _create(session, vp, partner, **overrides)
    assert err.value.field == field


def test_the_edges_of_each_range_are_accepted(session):
    vp = _viewer(session)
    partner = make_partner(session)
    row = _create(session, vp, partner, commission_percentage="100", min_deal_size="500",
                  max_deal_size="500", effective_to=date(2026, 1, 1))
    assert row.effective_to == row.effective_from
    assert _create(session, vp, partner, commission_percentage="0", structure_type="msp")


def test_a_second_structure_with_the_same_natural_key_is_refused_clearly(session):
    vp = _viewer(session)
    partner = make_partner(session, name="Dup Partner")
    _create(session, vp, partner, min_deal_size="0")
    with pytest.raises(ValidationError) as err:
        _create(session, vp, partner, min_deal_size="0.00", commission_percentage="20")
    assert err.value.field == "effective_from"
    assert "Dup Partner already has a referral structure starting 2026-01-01" in err.value.reason
    # Another band, type or start is a different structure.
    _create(session, vp, partner, min_deal_size="10000")
    _create(session, vp, partner, structure_type="reseller")
    _create(session, vp, partner, effective_from=date(2026, 2, 1))


def test_admin_may_not_touch_commissions(session):
    admin = _viewer(session, role="admin")
    partner = make_partner(session)
    row = make_structure(session, partner)
    with pytest.raises(Forbidden):
        _create(session, admin, partner)
    with pytest.raises(Forbidden):
        commissions.update_structure(session=session, viewer=admin, structure_id=row.id,
                                     commission_percentage="50")
    with pytest.raises(Forbidden):
        commissions.delete_structure(session=session, viewer=admin, structure_id=row.id)
    assert row.commission_percentage == Decimal("10.00")


def test_a_partnership_manager_writes_commissions_of_their_own_partners_only(session):
    pm = _viewer(session, role="partnership_manager")
    mine = make_partner(session, owner_id=pm.id)
    theirs = make_partner(session, owner_id=make_user(session, role="partnership_manager").id)
    assert _create(session, pm, mine).partner_id == mine.id
    with pytest.raises(NotFound, match=r"^No such partner\.$"):
        _create(session, pm, theirs)
    other_row = make_structure(session, theirs)
    with pytest.raises(NotFound, match=r"^No such commission structure\.$"):
        commissions.end_structure(session=session, viewer=pm, structure_id=other_row.id,
                                  effective_to=date(2026, 6, 30))
    with pytest.raises(NotFound):
        commissions.list_structures(session=session, viewer=pm, partner_id=theirs.id)
    assert other_row.effective_to is None


def test_ending_a_structure_sets_its_last_day(session):
    vp = _viewer(session)
    row = _create(session, vp, make_partner(session))
    commissions.end_structure(session=session, viewer=vp, structure_id=row.id,
                              effective_to="2026-06-30")
    assert row.effective_to == date(2026, 6, 30)
    with pytest.raises(ValidationError) as err:
        commissions.end_structure(session=session, viewer=vp, structure_id=row.id,
                                  effective_to=date(2025, 6, 30))
    assert err.value.field == "effective_to"
    with pytest.raises(ValidationError):
        commissions.end_structure(session=session, viewer=vp, structure_id=row.id,
                                  effective_to=None)


def test_updating_checks_the_whole_structure_and_the_natural_key(session):
    vp = _viewer(session)
    partner = make_partner(session)
    first = _create(session, vp, partner, max_deal_size="1000")
    second = _create(session, vp, partner, effective_from=date(2026, 2, 1))
    with pytest.raises(ValidationError) as err:
        commissions.update_structure(session=session, viewer=vp, structure_id=first.id,
                                     min_deal_size="2000")
    assert err.value.field == "max_deal_size"
    with pytest.raises(ValidationError) as err:
        commissions.update_structure(session=session, viewer=vp, structure_id=second.id,
                                     effective_from=date(2026, 1, 1))
    assert err.value.field == "effective_from"
    commissions.update_structure(session=session, viewer=vp, structure_id=second.id,
                                 commission_percentage="15", notes="renegotiated")
    assert second.commission_percentage == Decimal("15.00")


def test_structures_are_listed_newest_first(session):
    vp = _viewer(session)
    partner = make_partner(session)
    _create(session, vp, partner, effective_from=date(2024, 1, 1))
    _create(session, vp, partner, effective_from=date(2026, 1, 1))
    rows = commissions.list_structures(session=session, viewer=vp, partner_id=partner.id)
    assert [r.effective_from.year for r in rows] == [2026, 2024]


def test_deleting_a_structure_unpins_the_deals_that_used_it(session):
    vp = _viewer(session)
    partner = make_partner(session)
    row = make_structure(session, partner)
    deal = make_opportunity(session, partner, commission_structure_id=row.id)
    commissions.delete_structure(session=session, viewer=vp, structure_id=row.id)
    assert deal.commission_structure_id is None
    assert commissions.list_structures(session=session, viewer=vp, partner_id=partner.id) == []


# --- the calculator --------------------------------------------------------------------

def test_the_calculator_applies_the_rule_and_projects_a_lifetime_structure(session):
    vp = _viewer(session)
    partner = make_partner(session)
    make_structure(session, partner, structure_type="referral",
                   commission_percentage=Decimal("10.00"), effective_from=date(2025, 1, 1))
    winner = make_structure(session, partner, structure_type="msp",
                            commission_percentage=Decimal("12.50"), is_lifetime=True,
                            effective_from=date(2026, 1, 1))
    quote = commissions.calculate(session=session, viewer=vp, partner_id=partner.id,
                                  deal_value="12345.67", close_date="2026-03-15", years=5)
    assert quote.applicable.structure is winner
    assert quote.applicable.first_year == Decimal("1543.21")
    assert quote.applicable.projection == Decimal("7716.05")
    assert quote.reason is None
    by_type = {line.structure_type: line for line in quote.comparison}
    assert set(by_type) == {"referral", "msp"}
    assert by_type["referral"].first_year == Decimal("1234.57")
    assert by_type["referral"].projection is None
    assert by_type["msp"].first_year == Decimal("1543.21")


def test_the_calculator_defaults_to_a_three_year_projection(session):
    vp = _viewer(session)
    partner = make_partner(session)
    make_structure(session, partner, commission_percentage=Decimal("10"), is_lifetime=True)
    quote = commissions.calculate(session=session, viewer=vp, partner_id=partner.id,
                                  deal_value=Decimal("1000.00"), close_date=date(2026, 1, 1))
    assert quote.years == 3
    assert quote.applicable.projection == Decimal("300.00")


def test_no_applicable_structure_is_said_plainly_and_earns_nothing(session):
    vp = _viewer(session)
    partner = make_partner(session)
    make_structure(session, partner, min_deal_size=Decimal("50000.00"))
    quote = commissions.calculate(session=session, viewer=vp, partner_id=partner.id,
                                  deal_value="100", close_date=date(2026, 1, 1))
    assert quote.applicable.structure is None
    assert quote.applicable.first_year == Decimal("0.00")
    assert quote.reason == "no applicable structure"
    [referral] = quote.comparison
    assert referral.structure is None and "outside" in referral.reason


def test_the_comparison_leaves_out_types_not_in_effect_that_day(session):
    vp = _viewer(session)
    partner = make_partner(session)
    make_structure(session, partner, structure_type="reseller",
                   effective_from=date(2027, 1, 1))
    make_structure(session, partner, structure_type="referral",
                   effective_from=date(2024, 1, 1), effective_to=date(2025, 12, 31))
    quote = commissions.calculate(session=session, viewer=vp, partner_id=partner.id,
                                  deal_value="100", close_date=date(2026, 1, 1))
    assert quote.comparison == []


@pytest.mark.parametrize("kwargs, field", [
    ({"deal_value": "-5"}, "deal_value"),
    ({"deal_value": "abc"}, "deal_value"),
    ({"close_date": "2026-13-01"}, "close_date"),
    ({"years": 0}, "years"),
    ({"years": 51}, "years"),
])
def test_bad_calculator_input_names_the_field(session, kwargs, field):
    vp = _viewer(session)
    partner = make_partner(session)
    values = dict(deal_value="100", close_date=date(2026, 1, 1))
    values.update(kwargs)
    with pytest.raises(ValidationError) as err:
        commissions.calculate(session=session, viewer=vp, partner_id=partner.id, **values)
    assert err.value.field == field


def test_a_deals_own_structure_wins_over_the_rule(session):
    vp = _viewer(session)
    partner = make_partner(session)
    own = make_structure(session, partner, commission_percentage=Decimal("5"),
                         effective_from=date(2020, 1, 1), effective_to=date(2020, 12, 31))
    rule = make_structure(session, partner, commission_percentage=Decimal("20"),
                          effective_from=date(2026, 1, 1))
    pinned = make_opportunity(session, partner, commission_structure_id=own.id,
                              expected_close_date=date(2026, 5, 1))
    free = make_opportunity(session, partner, expected_close_date=date(2026, 5, 1))
    assert commissions.applicable_for_opportunity(
        session=session, viewer=vp, opportunity=pinned) is own
    assert commissions.applicable_for_opportunity(
        session=session, viewer=vp, opportunity=free) is rule


def test_the_rule_for_a_closed_deal_uses_its_actual_close_date(session):
    vp = _viewer(session)
    partner = make_partner(session)
    old = make_structure(session, partner, effective_from=date(2024, 1, 1),
                         effective_to=date(2025, 12, 31))
    make_structure(session, partner, effective_from=date(2026, 1, 1), structure_type="msp")
    deal = make_opportunity(session, partner, stage="closed_won", probability=Decimal(100),
                            actual_close_date=date(2025, 12, 31),
                            expected_close_date=date(2026, 6, 1))
    assert commissions.applicable_for_opportunity(
        session=session, viewer=vp, opportunity=deal) is old


def test_a_lost_deal_earns_nothing_where_a_won_one_earns_its_first_year(session):
    vp = _viewer(session)
    partner = make_partner(session)
    make_structure(session, partner, commission_percentage=Decimal("10"),
                   effective_from=date(2026, 1, 1))

    def closed(stage, **more):
        deal = make_opportunity(session, partner, stage=stage, deal_value=Decimal("166000.50"),
                                actual_close_date=date(2026, 5, 1), **more)
        structure = commissions.applicable_for_opportunity(session=session, viewer=vp,
                                                           opportunity=deal)
        assert structure is not None  # a structure applies; only the outcome differs
        return commissions.deal_first_year(deal, structure)

    assert closed("closed_won", probability=Decimal(100)) == Decimal("16600.05")
    assert closed("closed_lost", probability=Decimal(0), lost_reason="Price") == Decimal("0.00")


def test_a_partnership_manager_cannot_ask_about_a_deal_outside_their_scope(session):
    pm = _viewer(session, role="partnership_manager")
    partner = make_partner(session)
    deal = make_opportunity(session, partner)
    with pytest.raises(NotFound):
        commissions.applicable_for_opportunity(session=session, viewer=pm, opportunity=deal)
    with pytest.raises(NotFound):
        commissions.calculate(session=session, viewer=pm, partner_id=partner.id,
                              deal_value="1", close_date=date(2026, 1, 1))
