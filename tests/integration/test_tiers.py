"""Partner tiers on SQLite and PostgreSQL: the review's figures, decisions, settings, filters,
commissions and imports."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from isv.analytics import tiers as review
from isv.analytics.kpis import Filters, compute_kpis
from isv.analytics.periods import quarter_range
from isv.auth import Viewer
from isv.errors import Conflict, Forbidden, ValidationError
from isv.models import AuditEntry, TierReview
from isv.rules.tiers import DEMOTE, PROMOTE, Figures, Move
from isv.services import commissions, importing, partners, tiers
from isv.services.settings import current_settings, local_today, update_settings
from tests.factories import make_opportunity, make_partner, make_structure, make_user, viewer_of

SYSTEM = Viewer.system("tests")
AS_OF = date(2026, 11, 18)            # in 2026Q4: the review counts 2025Q4 to 2026Q3
IN_WINDOW = date(2026, 5, 12)
BEFORE_WINDOW = date(2025, 9, 30)


@pytest.fixture
def vp(session):
    return viewer_of(make_user(session, role="vp"))


@pytest.fixture
def manager(session):
    return make_user(session, role="partnership_manager")


def won(session, partner, value: str, on: date = IN_WINDOW):
    return make_opportunity(session, partner, stage="closed_won", probability=Decimal(100),
                            deal_value=Decimal(value), expected_close_date=on,
                            actual_close_date=on)


def silver_partner(session, **overrides):
    """Two wins of 60,000 in the window, one of 1,000,000 before it, 60,000 open."""
    partner = make_partner(session, **overrides)
    won(session, partner, "60000")
    won(session, partner, "60000", date(2025, 10, 1))
    won(session, partner, "1000000", BEFORE_WINDOW)
    make_opportunity(session, partner, stage="proposal", probability=Decimal(60),
                     deal_value=Decimal("60000"))
    return partner


def suggestion(session, viewer, partner):
    found = [s for s in review.tier_review(session=session, viewer=viewer, as_of=AS_OF).suggestions
             if s.partner_id == partner.id]
    return found[0] if found else None


def test_the_review_counts_the_four_quarters_before_its_own(session, vp):
    quarter, window = review.review_window(AS_OF)
    assert quarter.label == "2026Q4"
    assert (window.start, window.end) == (date(2025, 10, 1), date(2026, 9, 30))


def test_the_figures_are_the_kpi_engines_and_earn_the_tier_they_meet(session, vp):
    partner = silver_partner(session)

    found = suggestion(session, vp, partner)

    _, window = review.review_window(AS_OF)
    kpis = compute_kpis(session=session, viewer=vp, period=window, as_of=AS_OF,
                        filters=Filters.of(partner_ids=[partner.id]))
    assert found.figures == Figures(kpis.won_revenue, kpis.won_count, kpis.pipeline_total)
    assert found.figures == Figures(Decimal("120000.00"), 2, Decimal("60000.00"))
    assert found.move == Move(None, "Silver", PROMOTE)
    assert any(line.startswith("Meets Silver") for line in found.reasons)
    assert any(line.startswith("Short of Gold") for line in found.reasons)


def test_a_partner_holding_the_tier_it_earns_is_not_suggested(session, vp):
    partner = silver_partner(session, tier="Silver")
    assert suggestion(session, vp, partner) is None


def test_a_partner_whose_figures_fell_is_suggested_a_demotion(session, vp):
    partner = silver_partner(session, tier="Gold")
    assert suggestion(session, vp, partner).move == Move("Gold", "Silver", DEMOTE)


def test_accepting_sets_the_tier_keeps_the_figures_and_is_audited(session, vp):
    partner = silver_partner(session)

    review.decide(session=session, viewer=vp, partner_id=partner.id, accept=True,
                  note="Strong year", as_of=AS_OF)

    assert partner.tier == "Silver"
    kept = session.scalar(select(TierReview).where(TierReview.partner_id == partner.id))
    assert (kept.quarter, kept.decision, kept.from_tier, kept.to_tier, kept.note,
            kept.won_revenue, kept.won_deals, kept.open_pipeline) == (
        "2026Q4", "accepted", None, "Silver", "Strong year", Decimal("120000.00"), 2,
        Decimal("60000.00"))
    entries = session.scalars(select(AuditEntry).where(
        AuditEntry.entity_id == str(partner.id)).order_by(AuditEntry.at)).all()
    assert [(e.action, e.new_values.get("tier", e.new_values.get("to_tier")))
            for e in entries if e.action != "create"] == [("update", "Silver"),
                                                          ("tier_accept", "Silver")]
    assert suggestion(session, vp, partner) is None  # decided for this quarter


def test_rejecting_keeps_the_tier_and_the_note(session, vp):
    partner = silver_partner(session)

    review.decide(session=session, viewer=vp, partner_id=partner.id, accept=False,
                  note="Wait for the renewal", as_of=AS_OF)

    assert partner.tier is None
    [decided] = tiers.list_decisions(session=session, viewer=vp, quarter="2026Q4")
    assert (decided.decision, decided.note, decided.to_tier) == (
        "rejected", "Wait for the renewal", "Silver")
    assert suggestion(session, vp, partner) is None


def test_a_sales_manager_decides_too(session):
    seller = viewer_of(make_user(session, role="sales_manager"))
    partner = silver_partner(session)
    review.decide(session=session, viewer=seller, partner_id=partner.id, accept=True,
                  note="ok", as_of=AS_OF)
    assert partner.tier == "Silver"


def test_a_partnership_manager_sees_suggestions_for_their_partners_but_cannot_decide(
        session, manager):
    own = silver_partner(session, owner_id=manager.id)
    viewer = viewer_of(manager)

    assert suggestion(session, viewer, own) is not None
    with pytest.raises(Forbidden):
        review.decide(session=session, viewer=viewer, partner_id=own.id, accept=True,
                      note="mine", as_of=AS_OF)
    assert own.tier is None


def test_a_decision_needs_a_note(session, vp):
    partner = silver_partner(session)
    with pytest.raises(ValidationError) as refused:
        review.decide(session=session, viewer=vp, partner_id=partner.id, accept=True,
                      note="  ", as_of=AS_OF)
    assert refused.value.field == "note"
    assert partner.tier is None


def test_a_second_decision_or_a_stale_suggestion_is_refused(session, vp):
    partner = silver_partner(session)
    review.decide(session=session, viewer=vp, partner_id=partner.id, accept=False, note="no",
                  as_of=AS_OF)
    with pytest.raises(Conflict):
        review.decide(session=session, viewer=vp, partner_id=partner.id, accept=True,
                      note="yes after all", as_of=AS_OF)
    other = silver_partner(session, tier="Registered")
    with pytest.raises(Conflict, match="is now Registered"):
        tiers.record_decision(session=session, viewer=vp, partner_id=other.id,
                              quarter="2026Q4", move=Move(None, "Silver", PROMOTE),
                              figures=Figures(Decimal(1), 1, Decimal(1)), accept=True,
                              note="stale")


# --- commissions: a structure may name the tier it pays ------------------------------------

def test_won_deals_earn_under_the_structure_of_the_partners_tier(session, vp):
    partner = make_partner(session, tier="Gold")
    make_structure(session, partner, commission_percentage=Decimal("10.00"))
    make_structure(session, partner, commission_percentage=Decimal("15.00"),
                   effective_from=date(2025, 1, 2), tier="Gold")
    make_structure(session, partner, commission_percentage=Decimal("40.00"),
                   effective_from=date(2025, 1, 3), tier="Platinum")
    won(session, partner, "100000")
    period = quarter_range(2026, 2)

    kpis = compute_kpis(session=session, viewer=vp, period=period, as_of=AS_OF,
                        filters=Filters.of(partner_ids=[partner.id]))
    assert kpis.commission_earned == Decimal("15000.00")

    partner.tier = "Silver"
    session.flush()
    kpis = compute_kpis(session=session, viewer=vp, period=period, as_of=AS_OF,
                        filters=Filters.of(partner_ids=[partner.id]))
    assert kpis.commission_earned == Decimal("10000.00")


def test_a_structure_naming_an_unknown_tier_is_refused_by_field(session, vp):
    partner = make_partner(session)
    with pytest.raises(ValidationError) as refused:
        commissions.create_structure(session=session, viewer=vp, partner_id=partner.id,
                                     structure_type="referral", commission_percentage="10",
                                     effective_from="2026-01-01", tier="Diamond")
    assert refused.value.field == "tier" and "Diamond" in refused.value.reason


# --- the tiers on the Settings page ----------------------------------------------------------

def tiers_as(*rows):
    return [dict(zip(("name", "min_won_revenue", "min_won_deals", "min_open_pipeline"), row,
                     strict=True)) for row in rows]


def test_tiers_that_do_not_go_up_are_refused_naming_the_field(session, vp):
    with pytest.raises(ValidationError) as refused:
        update_settings(session=session, viewer=vp, partner_tiers=tiers_as(
            ("Base", "0", "0", "0"), ("Top", "-5", "1", "0")))
    assert refused.value.field == "partner_tiers.1.min_won_revenue"
    with pytest.raises(ValidationError) as refused:
        update_settings(session=session, viewer=vp, partner_tiers=tiers_as(
            ("Base", "0", "0", "0"), ("Mid", "100", "1", "0"), ("Top", "50", "2", "0")))
    assert refused.value.field == "partner_tiers.2.min_won_revenue"
    assert "Mid" in refused.value.reason
    with pytest.raises(ValidationError) as refused:
        update_settings(session=session, viewer=vp, partner_tiers=tiers_as(
            ("Base", "0", "0", "0"), ("base", "100", "1", "0")))
    assert refused.value.field == "partner_tiers.1.name"
    with pytest.raises(ValidationError) as refused:
        update_settings(session=session, viewer=vp, partner_tiers=tiers_as(
            ("Base", "0", "x", "0")))
    assert refused.value.field == "partner_tiers.0.min_won_deals"
    assert current_settings(session).partner_tiers[1].name == "Silver"


def test_a_tier_renamed_in_its_row_carries_its_partners_and_structures(session, vp):
    partner = make_partner(session, tier="Gold")
    structure = make_structure(session, partner, tier="Gold")
    rows = [(t.name, t.min_won_revenue, t.min_won_deals, t.min_open_pipeline)
            for t in current_settings(session).partner_tiers]
    rows[2] = ("Gold Elite", *rows[2][1:])

    update_settings(session=session, viewer=vp, partner_tiers=tiers_as(*rows))

    session.refresh(partner)
    session.refresh(structure)
    assert (partner.tier, structure.tier) == ("Gold Elite", "Gold Elite")
    assert [t.name for t in current_settings(session).partner_tiers][2] == "Gold Elite"


def test_removing_a_tier_a_partner_holds_is_refused(session, vp):
    make_partner(session, tier="Platinum")
    rows = [(t.name, t.min_won_revenue, t.min_won_deals, t.min_open_pipeline)
            for t in current_settings(session).partner_tiers][:3]
    with pytest.raises(ValidationError) as refused:
        update_settings(session=session, viewer=vp, partner_tiers=tiers_as(*rows))
    assert refused.value.field == "partner_tiers" and "Platinum" in refused.value.reason


def test_saving_the_same_tiers_writes_nothing(session, vp):
    before = set(session.scalars(select(AuditEntry.id)))
    same = current_settings(session).partner_tiers
    update_settings(session=session, viewer=vp, partner_tiers=same)
    assert set(session.scalars(select(AuditEntry.id))) == before


# --- the directory's filters --------------------------------------------------------------

def test_the_directory_filters_by_tier_and_by_no_tier(session, vp):
    gold = make_partner(session, tier="Gold")
    plain = make_partner(session)

    assert [r.id for r in partners.list_directory(session=session, viewer=vp, tier="gold")] \
        == [gold.id]
    assert plain.id in [r.id for r in partners.list_directory(session=session, viewer=vp,
                                                              tier=partners.NO_TIER)]
    [row] = [r for r in partners.list_directory(session=session, viewer=vp) if r.id == gold.id]
    assert row.tier == "Gold"
    with pytest.raises(ValidationError) as refused:
        partners.list_directory(session=session, viewer=vp, tier="Diamond")
    assert refused.value.field == "tier"


def test_the_health_filter_uses_the_label_the_partner_shows(session, vp):
    stale = make_partner(session, relationship_health="at_risk")  # no override: score's label
    held = make_partner(session, relationship_health="at_risk", health_reason="Champion left",
                        health_until=local_today() + timedelta(days=10))

    found = {r.id for r in partners.list_directory(session=session, viewer=vp,
                                                   health="at_risk")}

    assert held.id in found and stale.id not in found


def test_only_a_vp_or_sales_manager_changes_a_tier_by_hand(session, vp, manager):
    own = make_partner(session, owner_id=manager.id)
    with pytest.raises(Forbidden):
        partners.update_partner(session=session, viewer=viewer_of(manager), partner_id=own.id,
                                tier="Gold")
    partners.update_partner(session=session, viewer=vp, partner_id=own.id, tier="gold")
    assert own.tier == "Gold"


# --- imports carry the health override and the tier ----------------------------------------

def test_a_partner_import_carries_the_override_and_the_tier(session):
    until = (local_today() + timedelta(days=20)).isoformat()
    report = importing.import_file(
        session=session, viewer=SYSTEM, entity="partners",
        data=("name,domain,relationship_health,health_reason,health_until,tier\n"
              f"Ledgerline,FinOps,at_risk,Champion left,{until},Gold\n").encode(),
        filename="partners.csv", dry_run=False)
    assert not report.errors, report.errors
    [row] = [r for r in partners.list_directory(session=session, viewer=SYSTEM)
             if r.name == "Ledgerline"]
    partner = partners.get_partner(session=session, viewer=SYSTEM, partner_id=row.id)
    assert (partner.relationship_health, partner.health_reason, partner.health_until.isoformat(),
            partner.tier) == ("at_risk", "Champion left", until, "Gold")


def test_an_override_without_its_expiry_is_refused_by_row_and_column(session):
    report = importing.import_file(
        session=session, viewer=SYSTEM, entity="partners",
        data=b"name,domain,relationship_health,health_reason\nLedgerline,FinOps,at_risk,Why\n",
        filename="partners.csv", dry_run=False)
    assert [e.column for e in report.errors] == ["health_until"]
