"""The board's aggregates: per-stage count, value and weighted value, and days in stage."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from isv.models import STAGES
from isv.services import opportunities as opps
from isv.services.opportunities import OpportunityFilters
from isv.types import utcnow
from tests.factories import make_opportunity, make_partner, make_user, viewer_of


def _totals(session, viewer, **filters):
    return opps.stage_totals(session=session, viewer=viewer,
                             filters=OpportunityFilters(**filters))


def test_totals_cover_every_matching_deal_exactly(session):
    vp = viewer_of(make_user(session, role="vp"))
    partner = make_partner(session, domain="Security")
    for value, probability in (("100.05", "33.33"), ("0.10", "10"), ("99999.99", "33.33")):
        make_opportunity(session, partner, stage="demo", deal_value=Decimal(value),
                         probability=Decimal(probability))
    make_opportunity(session, partner, stage="closed_lost", deal_value=Decimal("500.00"),
                     probability=Decimal(0), actual_close_date=datetime.now(UTC).date(),
                     lost_reason="Budget")
    totals = _totals(session, vp, partner_ids=(partner.id,))
    assert list(totals) == list(STAGES)  # every stage, in pipeline order
    demo = totals["demo"]
    assert demo.count == 3
    assert demo.value == Decimal("100100.14")
    # 100100.04 × 33.33 % + 0.10 × 10 %, with no rounding on the way.
    assert demo.weighted == Decimal("33363.343332") + Decimal("0.01")
    assert totals["closed_lost"].count == 1 and totals["closed_lost"].weighted == 0
    assert totals["lead"].count == 0 and totals["lead"].value == Decimal("0.00")


def test_totals_follow_the_filters_and_the_viewers_scope(session):
    pm = make_user(session, role="partnership_manager")
    vp = viewer_of(make_user(session, role="vp"))
    mine = make_partner(session, owner_id=pm.id, domain="FinOps")
    other = make_partner(session, domain="DevOps")
    make_opportunity(session, mine, stage="lead", deal_value=Decimal(1000))
    make_opportunity(session, other, stage="lead", deal_value=Decimal(3000))
    both = (mine.id, other.id)
    assert _totals(session, vp, partner_ids=both)["lead"].value == Decimal("4000.00")
    assert _totals(session, vp, partner_ids=both, domains=("DevOps",))["lead"].count == 1
    assert _totals(session, viewer_of(pm), partner_ids=both)["lead"].value == Decimal("1000.00")


def test_days_in_stage_start_at_the_latest_move_into_the_current_stage(session):
    vp = viewer_of(make_user(session, role="vp"))
    partner = make_partner(session)
    opp = make_opportunity(session, partner, stage="lead")
    moved = opps.move_stage(session=session, viewer=vp, opportunity_id=opp.id, to_stage="demo")
    fresh = make_opportunity(session, partner, stage="lead")
    entered = opps.stage_entered_at(session=session, viewer=vp,
                                    opportunity_ids=[moved.id, fresh.id])
    assert abs(entered[moved.id] - utcnow()) < timedelta(minutes=1)
    assert entered[moved.id].tzinfo is not None
    assert entered[fresh.id] == fresh.created_at


def test_days_in_stage_leave_out_deals_the_viewer_may_not_see(session):
    pm = viewer_of(make_user(session, role="partnership_manager"))
    opp = make_opportunity(session, make_partner(session))
    assert opps.stage_entered_at(session=session, viewer=pm, opportunity_ids=[opp.id]) == {}
    assert opps.stage_entered_at(session=session, viewer=pm, opportunity_ids=[]) == {}


def test_the_board_loads_the_largest_deals_of_each_stage_in_one_query(session):
    vp = viewer_of(make_user(session, role="vp"))
    partner = make_partner(session)
    for n in range(5):
        make_opportunity(session, partner, customer_name=f"Lead {n}", stage="lead",
                         deal_value=Decimal(1000 * (n + 1)))
    make_opportunity(session, partner, customer_name="Demo", stage="demo",
                     deal_value=Decimal(50), probability=Decimal(25))
    top = opps.top_by_stage(session=session, viewer=vp, stages=("lead", "demo", "poc"),
                            per_stage=3, filters=OpportunityFilters(partner_ids=(partner.id,)))
    assert [r.customer_name for r in top["lead"]] == ["Lead 4", "Lead 3", "Lead 2"]
    assert [r.customer_name for r in top["demo"]] == ["Demo"]
    assert top["poc"] == []
    row = top["demo"][0]
    assert (row.partner_name, row.deal_value, row.version) == (partner.name, Decimal("50.00"), 1)


def test_totals_for_the_shown_stages_only_leave_the_others_out(session):
    vp = viewer_of(make_user(session, role="vp"))
    partner = make_partner(session)
    make_opportunity(session, partner, stage="poc", deal_value=Decimal(700))
    make_opportunity(session, partner, stage="closed_lost", deal_value=Decimal(900),
                     probability=Decimal(0), actual_close_date=datetime.now(UTC).date(),
                     lost_reason="Budget")
    totals = opps.stage_totals(session=session, viewer=vp, stages=("lead", "poc"),
                               filters=OpportunityFilters(partner_ids=(partner.id,)))
    assert list(totals) == ["lead", "poc"]
    assert (totals["poc"].count, totals["poc"].value) == (1, Decimal("700.00"))
    assert totals["lead"].count == 0


def test_the_board_ranks_by_any_sort_within_filters_and_scope(session):
    pm = make_user(session, role="partnership_manager")
    owner = make_user(session, first_name="Zoe", last_name="Zeta")
    mine = make_partner(session, name="Alpha Pharma Partners", owner_id=pm.id,
                        domain="Security")
    other = make_partner(session, name="Beta Systems", domain="Security")
    make_opportunity(session, mine, customer_name="Small", deal_value=Decimal(10))
    make_opportunity(session, mine, customer_name="Big", deal_value=Decimal(99),
                     assigned_user_id=owner.id)
    make_opportunity(session, other, customer_name="Huge", deal_value=Decimal(500))
    vp = viewer_of(make_user(session, role="vp"))

    def names(viewer, sort="-deal_value", **filters):
        top = opps.top_by_stage(session=session, viewer=viewer, stages=("lead",), per_stage=5,
                                sort=sort, filters=OpportunityFilters(
                                    partner_ids=(mine.id, other.id), **filters))
        return [r.customer_name for r in top["lead"]]

    assert names(vp) == ["Huge", "Big", "Small"]
    assert names(vp, text="pharma") == ["Big", "Small"]  # the partner's name matches
    assert names(vp, domains=("Security",), sort="partner_name")[2] == "Huge"  # Beta last
    assert names(vp, sort="owner")[0] == "Big"  # the only deal with an owner; empty ones last
    assert names(viewer_of(pm)) == ["Big", "Small"]
