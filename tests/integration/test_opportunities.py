"""Opportunities: stages and their history, scope, optimistic locking, the grid query."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import PendingRollbackError
from sqlalchemy.orm import Session

from isv import display
from isv.auth import Viewer
from isv.db import make_engine
from isv.errors import Conflict, Forbidden, NotFound, ValidationError
from isv.models import AuditEntry, Opportunity, StageHistory, Task
from isv.rules.defaults import DEFAULT_PROBABILITY
from isv.services import opportunities as opps
from isv.services.opportunities import OpportunityFilters, settle_stage
from isv.services.partners import local_today
from tests.factories import make_opportunity, make_partner, make_structure, make_user, viewer_of


def _viewer(session, role: str = "sales_manager", **overrides) -> Viewer:
    return viewer_of(make_user(session, role=role, **overrides))


def _history(session, opp) -> list[StageHistory]:
    return list(session.scalars(select(StageHistory)
                                .where(StageHistory.opportunity_id == opp.id)
                                .order_by(StageHistory.changed_at)))


def _audit(session, opp) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(
        AuditEntry.entity_type == "opportunity", AuditEntry.entity_id == str(opp.id))))


def _create(session, viewer, partner, **overrides) -> Opportunity:
    values = dict(customer_name="Globex", deal_value="25000.00")
    values.update(overrides)
    return opps.create_opportunity(session=session, viewer=viewer, partner_id=partner.id,
                                   **values)


# --- creating ----------------------------------------------------------------------------

@pytest.mark.parametrize("stage", ["lead", "demo", "poc", "proposal"])
def test_a_new_deal_gets_its_stages_default_probability_and_a_first_history_row(session, stage):
    sm = _viewer(session)
    opp = _create(session, sm, make_partner(session), stage=stage)
    assert opp.probability == DEFAULT_PROBABILITY[stage]
    assert opp.version == 1 and opp.updated_by_id == sm.id
    [first] = _history(session, opp)
    assert first.from_stage is None and first.to_stage == stage
    assert first.changed_by == sm.id
    assert _audit(session, opp)[0].action == "create"


def test_the_default_probabilities_are_the_agreed_ones():
    assert {k: int(v) for k, v in DEFAULT_PROBABILITY.items()} == {
        "lead": 10, "demo": 25, "poc": 50, "proposal": 75, "closed_won": 100, "closed_lost": 0}


def test_a_given_probability_is_kept(session):
    sm = _viewer(session)
    opp = _create(session, sm, make_partner(session), stage="demo", probability="33.5")
    assert opp.probability == Decimal("33.50")


def test_a_deal_created_won_closes_today_unless_told_otherwise(session):
    sm = _viewer(session)
    partner = make_partner(session)
    won = _create(session, sm, partner, stage="closed_won")
    assert won.actual_close_date == local_today() and won.probability == 100
    old = _create(session, sm, partner, stage="closed_lost", lost_reason="Budget",
                  created_at=datetime(2025, 1, 10, 9, 30, tzinfo=UTC),
                  actual_close_date="2025-03-01")
    assert old.actual_close_date == date(2025, 3, 1)
    assert _history(session, old)[0].changed_at == datetime(2025, 1, 10, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize("overrides, field", [
    ({"customer_name": " "}, "customer_name"),
    ({"customer_name": "x" * 256}, "customer_name"),
    ({"deal_value": "-1"}, "deal_value"),
    ({"deal_value": "10.001"}, "deal_value"),
    ({"deal_value": None}, "deal_value"),
    ({"probability": "101"}, "probability"),
    ({"stage": "won"}, "stage"),
    ({"expected_close_date": "1999-12-31"}, "expected_close_date"),
    ({"expected_close_date": "31/12/2026"}, "expected_close_date"),
    ({"customer_contact_email": "bob at globex"}, "customer_contact_email"),
    ({"external_id": "x" * 101}, "external_id"),
    ({"stage": "closed_lost"}, "lost_reason"),
    ({"stage": "lead", "actual_close_date": "2026-01-01"}, "actual_close_date"),
    ({"stage": "lead", "lost_reason": "Budget"}, "lost_reason"),
    ({"assigned_user_id": uuid.UUID(int=7)}, "assigned_user_id"),
    ({"created_at": "2999-01-01T00:00:00"}, "created_at"),
])
def test_bad_deal_values_name_the_field(session, overrides, field):
    sm = _viewer(session)
    with pytest.raises(ValidationError) as err:
        _create(session, sm, make_partner(session), **overrides)
    assert err.value.field == field


def test_an_external_id_is_unique(session):
    sm = _viewer(session)
    partner = make_partner(session)
    _create(session, sm, partner, external_id="CRM-1")
    with pytest.raises(ValidationError) as err:
        _create(session, sm, partner, external_id="CRM-1")
    assert err.value.field == "external_id"


def test_a_deal_may_not_be_assigned_to_a_deactivated_user(session):
    sm = _viewer(session)
    gone = make_user(session, is_active=False)
    with pytest.raises(ValidationError) as err:
        _create(session, sm, make_partner(session), assigned_user_id=gone.id)
    assert err.value.field == "assigned_user_id"


def test_a_pinned_structure_must_belong_to_the_deals_partner(session):
    sm = _viewer(session)
    partner = make_partner(session)
    foreign = make_structure(session, make_partner(session))
    with pytest.raises(ValidationError) as err:
        _create(session, sm, partner, commission_structure_id=foreign.id)
    assert err.value.field == "commission_structure_id"
    own = make_structure(session, partner)
    assert _create(session, sm, partner, commission_structure_id=own.id)


def test_a_partnership_manager_adds_deals_only_to_their_own_partners(session):
    pm = _viewer(session, role="partnership_manager")
    mine = make_partner(session, owner_id=pm.id)
    theirs = make_partner(session, owner_id=make_user(session, role="partnership_manager").id)
    assert _create(session, pm, mine).partner_id == mine.id
    with pytest.raises(ValidationError) as err:
        _create(session, pm, theirs)
    assert err.value.field == "partner_id"


def test_admin_may_not_add_or_change_deals(session):
    admin = _viewer(session, role="admin")
    partner = make_partner(session)
    deal = make_opportunity(session, partner)
    with pytest.raises(Forbidden):
        _create(session, admin, partner)
    with pytest.raises(Forbidden):
        opps.move_stage(session=session, viewer=admin, opportunity_id=deal.id, to_stage="demo")
    assert deal.stage == "lead" and len(_history(session, deal)) == 1


# --- scope -------------------------------------------------------------------------------

def test_a_partnership_manager_changing_another_managers_deal_is_refused_as_unknown(session):
    pm = _viewer(session, role="partnership_manager")
    other = make_user(session, role="partnership_manager")
    partner = make_partner(session, owner_id=other.id)
    deal = make_opportunity(session, partner, assigned_user_id=other.id,
                            deal_value=Decimal("5000.00"))
    history_before = len(_history(session, deal))

    with pytest.raises(NotFound, match=r"^No such opportunity\.$"):
        opps.move_stage(session=session, viewer=pm, opportunity_id=deal.id, to_stage="demo")
    with pytest.raises(NotFound, match=r"^No such opportunity\.$"):
        opps.update_opportunity(session=session, viewer=pm, opportunity_id=deal.id,
                                expected_version=deal.version, deal_value="1.00")
    with pytest.raises(NotFound, match=r"^No such opportunity\.$"):
        opps.delete_opportunity(session=session, viewer=pm, opportunity_id=deal.id)

    session.expire_all()
    fresh = session.get(Opportunity, deal.id)
    assert fresh.stage == "lead" and fresh.deal_value == Decimal("5000.00")
    assert fresh.version == 1 and fresh.updated_by_id is None
    assert len(_history(session, fresh)) == history_before
    assert _audit(session, fresh) == []


def test_a_partnership_manager_may_work_a_deal_assigned_to_them_on_someone_elses_partner(session):
    pm = _viewer(session, role="partnership_manager")
    partner = make_partner(session, owner_id=make_user(session, role="vp").id)
    deal = make_opportunity(session, partner, assigned_user_id=pm.id)
    opps.move_stage(session=session, viewer=pm, opportunity_id=deal.id, to_stage="poc")
    assert deal.stage == "poc"
    assert opps.get_opportunity(session=session, viewer=pm, opportunity_id=deal.id) is deal


def test_a_deal_outside_a_partnership_managers_scope_is_not_found_when_read(session):
    pm = _viewer(session, role="partnership_manager")
    deal = make_opportunity(session, make_partner(session))
    with pytest.raises(NotFound):
        opps.get_opportunity(session=session, viewer=pm, opportunity_id=deal.id)
    with pytest.raises(NotFound):
        opps.stage_history(session=session, viewer=pm, opportunity_id=deal.id)


def test_moving_a_deal_to_a_partner_one_does_not_own_is_refused(session):
    pm = _viewer(session, role="partnership_manager")
    mine = make_partner(session, owner_id=pm.id)
    theirs = make_partner(session)
    deal = make_opportunity(session, mine)
    with pytest.raises(ValidationError) as err:
        opps.update_opportunity(session=session, viewer=pm, opportunity_id=deal.id,
                                expected_version=1, partner_id=theirs.id)
    assert err.value.field == "partner_id"
    assert deal.partner_id == mine.id


# --- optimistic locking ------------------------------------------------------------------

def test_second_save_of_stale_row_is_refused_and_names_the_first_saver(session):
    first = make_user(session, first_name="Ada", last_name="Lovelace")
    second = _viewer(session)
    deal = make_opportunity(session, make_partner(session))
    read_version = deal.version

    opps.update_opportunity(session=session, viewer=viewer_of(first), opportunity_id=deal.id,
                            expected_version=read_version, customer_name="First wins")
    assert deal.version == read_version + 1 and deal.updated_by_id == first.id

    with pytest.raises(Conflict) as err:
        opps.update_opportunity(session=session, viewer=second, opportunity_id=deal.id,
                                expected_version=read_version, customer_name="Second loses")
    message = str(err.value)
    assert message.startswith("Changed by Ada Lovelace at ")
    assert f"at {display.moment(deal.updated_at)} —" in message  # in the program's zone
    assert message.endswith("reload to see their change")
    assert deal.customer_name == "First wins"


def test_a_stale_stage_move_is_refused_too(session):
    sm = _viewer(session)
    deal = make_opportunity(session, make_partner(session))
    opps.move_stage(session=session, viewer=sm, opportunity_id=deal.id, to_stage="demo",
                    expected_version=1)
    with pytest.raises(Conflict):
        opps.move_stage(session=session, viewer=sm, opportunity_id=deal.id, to_stage="poc",
                        expected_version=1)
    assert deal.stage == "demo" and len(_history(session, deal)) == 2


def test_a_save_that_changes_nothing_does_not_bump_the_version(session):
    sm = _viewer(session)
    deal = make_opportunity(session, make_partner(session), customer_name="Same")
    opps.update_opportunity(session=session, viewer=sm, opportunity_id=deal.id,
                            expected_version=1, customer_name="Same ")
    assert deal.version == 1 and _audit(session, deal) == []


def test_a_concurrent_commit_between_check_and_save_becomes_a_conflict_naming_the_winner(
        committed_url):
    engine = make_engine(committed_url)
    try:
        with Session(engine) as setup:
            winner = make_user(setup, first_name="Grace", last_name="Hopper")
            loser = make_user(setup)
            deal = make_opportunity(setup, make_partner(setup))
            setup.commit()
            ids = deal.id, viewer_of(winner), viewer_of(loser)
        deal_id, winner_viewer, loser_viewer = ids

        slow = Session(engine)
        # Read at version 1 and held (the identity map keeps only what is referenced).
        held = slow.get(Opportunity, deal_id)
        with Session(engine) as fast:
            opps.update_opportunity(session=fast, viewer=winner_viewer, opportunity_id=deal_id,
                                    expected_version=1, customer_name="Fast")
            fast.commit()
        # The slow session still holds version 1, so its own check passes; the database's
        # "WHERE version = 1" is what catches it.
        with pytest.raises(Conflict, match="^Changed by Grace Hopper at .* — reload"):
            opps.update_opportunity(session=slow, viewer=loser_viewer, opportunity_id=deal_id,
                                    expected_version=1, customer_name="Slow")
        # The service does not roll back behind its caller's back: the unit of work is
        # refused until the caller (session_scope) rolls it back.
        with pytest.raises(PendingRollbackError):
            slow.execute(select(1))
        slow.rollback()
        assert held.customer_name == "Fast"
        slow.close()
        with Session(engine) as check:
            assert check.get(Opportunity, deal_id).customer_name == "Fast"
    finally:
        engine.dispose()


# --- stages ------------------------------------------------------------------------------

def test_stage_moves_write_history_with_who_when_and_the_note(session):
    sm = _viewer(session)
    deal = make_opportunity(session, make_partner(session))
    opps.move_stage(session=session, viewer=sm, opportunity_id=deal.id, to_stage="demo",
                    note="Demo booked")
    opps.move_stage(session=session, viewer=sm, opportunity_id=deal.id, to_stage="poc")
    rows = opps.stage_history(session=session, viewer=sm, opportunity_id=deal.id)
    assert [(r.from_stage, r.to_stage) for r in rows] == [
        (None, "lead"), ("lead", "demo"), ("demo", "poc")]
    assert rows[1].changed_by == sm.id and rows[1].notes == "Demo booked"
    assert rows[1].changed_at <= rows[2].changed_at
    assert deal.probability == Decimal(50)
    moves = [e for e in _audit(session, deal) if e.action == "move_stage"]
    assert moves[0].old_values["stage"] in ("lead", "demo")


def test_moving_to_the_same_stage_writes_nothing(session):
    sm = _viewer(session)
    deal = make_opportunity(session, make_partner(session))
    opps.move_stage(session=session, viewer=sm, opportunity_id=deal.id, to_stage="lead")
    assert len(_history(session, deal)) == 1 and deal.version == 1


def test_closing_lost_without_a_reason_is_refused_on_lost_reason(session):
    sm = _viewer(session)
    deal = make_opportunity(session, make_partner(session))
    for reason in (None, "   "):
        with pytest.raises(ValidationError) as err:
            opps.move_stage(session=session, viewer=sm, opportunity_id=deal.id,
                            to_stage="closed_lost", lost_reason=reason)
        assert err.value.field == "lost_reason"
    assert deal.stage == "lead" and len(_history(session, deal)) == 1


def test_closing_lost_with_a_reason_closes_today_at_zero_probability(session):
    sm = _viewer(session)
    deal = make_opportunity(session, make_partner(session))
    opps.move_stage(session=session, viewer=sm, opportunity_id=deal.id,
                    to_stage="closed_lost", lost_reason="Went with a competitor")
    assert deal.actual_close_date == local_today()
    assert deal.probability == 0 and deal.lost_reason == "Went with a competitor"


def test_a_close_date_may_be_neither_in_the_future_nor_before_creation(session):
    sm = _viewer(session)
    deal = make_opportunity(session, make_partner(session),
                            created_at=datetime(2026, 1, 15, 12, 0, tzinfo=UTC))
    for bad in (local_today() + timedelta(days=1), date(2026, 1, 14)):
        with pytest.raises(ValidationError) as err:
            opps.move_stage(session=session, viewer=sm, opportunity_id=deal.id,
                            to_stage="closed_won", actual_close_date=bad)
        assert err.value.field == "actual_close_date"
    opps.move_stage(session=session, viewer=sm, opportunity_id=deal.id, to_stage="closed_won",
                    actual_close_date=date(2026, 1, 15))
    assert deal.actual_close_date == date(2026, 1, 15)


def test_reopening_a_lost_deal_clears_its_close_date_and_reason(session):
    sm = _viewer(session)
    deal = make_opportunity(session, make_partner(session))
    opps.move_stage(session=session, viewer=sm, opportunity_id=deal.id,
                    to_stage="closed_lost", lost_reason="No budget")
    opps.move_stage(session=session, viewer=sm, opportunity_id=deal.id, to_stage="proposal",
                    note="Budget found")
    session.flush()
    session.expire(deal)
    assert deal.stage == "proposal"
    assert deal.actual_close_date is None and deal.lost_reason is None
    assert deal.probability == 75
    assert _history(session, deal)[-1].from_stage == "closed_lost"


def test_moving_between_closed_stages_keeps_the_close_date_and_drops_the_reason(session):
    sm = _viewer(session)
    deal = make_opportunity(session, make_partner(session),
                            created_at=datetime(2025, 1, 1, tzinfo=UTC))
    opps.move_stage(session=session, viewer=sm, opportunity_id=deal.id,
                    to_stage="closed_lost", lost_reason="Lost", actual_close_date="2025-06-01")
    opps.move_stage(session=session, viewer=sm, opportunity_id=deal.id, to_stage="closed_won")
    assert deal.actual_close_date == date(2025, 6, 1) and deal.lost_reason is None


def test_a_stage_change_through_update_follows_the_same_rules(session):
    sm = _viewer(session)
    deal = make_opportunity(session, make_partner(session))
    with pytest.raises(ValidationError) as err:
        opps.update_opportunity(session=session, viewer=sm, opportunity_id=deal.id,
                                expected_version=1, stage="closed_lost")
    assert err.value.field == "lost_reason"
    opps.update_opportunity(session=session, viewer=sm, opportunity_id=deal.id,
                            expected_version=1, stage="closed_lost", lost_reason="Timing",
                            deal_value="999.99", note="Grid edit")
    assert deal.actual_close_date == local_today() and deal.deal_value == Decimal("999.99")
    last = _history(session, deal)[-1]
    assert (last.from_stage, last.to_stage, last.notes) == ("lead", "closed_lost", "Grid edit")
    [entry] = [e for e in _audit(session, deal) if e.action == "update"]
    assert entry.new_values["stage"] == "closed_lost"
    assert entry.new_values["deal_value"] == "999.99"
    assert entry.old_values["deal_value"] == "10000.00"


def test_an_open_deal_has_no_close_date_or_lost_reason_to_edit(session):
    sm = _viewer(session)
    deal = make_opportunity(session, make_partner(session))
    for field, value in (("actual_close_date", "2026-01-01"), ("lost_reason", "Nope")):
        with pytest.raises(ValidationError) as err:
            opps.update_opportunity(session=session, viewer=sm, opportunity_id=deal.id,
                                    expected_version=1, **{field: value})
        assert err.value.field == field


def test_a_lost_deal_keeps_needing_its_reason(session):
    sm = _viewer(session)
    deal = make_opportunity(session, make_partner(session))
    opps.move_stage(session=session, viewer=sm, opportunity_id=deal.id,
                    to_stage="closed_lost", lost_reason="Price")
    with pytest.raises(ValidationError) as err:
        opps.update_opportunity(session=session, viewer=sm, opportunity_id=deal.id,
                                expected_version=deal.version, lost_reason="")
    assert err.value.field == "lost_reason"
    opps.update_opportunity(session=session, viewer=sm, opportunity_id=deal.id,
                            expected_version=deal.version, lost_reason="Price, and timing")
    assert deal.lost_reason == "Price, and timing"


def test_unknown_fields_are_refused_by_name(session):
    sm = _viewer(session)
    deal = make_opportunity(session, make_partner(session))
    with pytest.raises(ValidationError) as err:
        opps.update_opportunity(session=session, viewer=sm, opportunity_id=deal.id,
                                expected_version=1, version=7)
    assert err.value.field == "version"


def test_the_cli_writes_with_no_user_behind_it(session):
    deal = make_opportunity(session, make_partner(session))
    opps.move_stage(session=session, viewer=Viewer.system(), opportunity_id=deal.id,
                    to_stage="demo")
    assert deal.updated_by_id is None and _history(session, deal)[-1].changed_by is None


def test_settle_stage_is_a_pure_rule():
    today = date(2026, 5, 1)
    out = settle_stage(current_stage="closed_won", current_close=date(2026, 4, 1),
                       current_reason=None, given={"stage": "demo"},
                       created_on=date(2026, 1, 1), today=today)
    assert out == {"stage": "demo", "probability": Decimal(25), "actual_close_date": None,
                   "lost_reason": None}


def test_deleting_a_deal_removes_its_history_and_unlinks_its_tasks(session):
    sm = _viewer(session)
    deal = make_opportunity(session, make_partner(session))
    task = Task(user_id=sm.id, opportunity_id=deal.id, title="Call back")
    session.add(task)
    session.flush()
    opps.delete_opportunity(session=session, viewer=sm, opportunity_id=deal.id,
                            expected_version=1)
    assert session.get(Opportunity, deal.id) is None
    assert _history(session, deal) == []
    session.refresh(task)
    assert task.opportunity_id is None
    assert [e.action for e in _audit(session, deal)] == ["delete"]


# --- the grid query ----------------------------------------------------------------------

@pytest.fixture
def grid(session):
    """Two managers' partners and their deals, for the list tests."""
    pm = make_user(session, role="partnership_manager", first_name="Pat", last_name="Manager")
    other = make_user(session, role="partnership_manager")
    mine = make_partner(session, name="Zeta Security", domain="Security", owner_id=pm.id)
    theirs = make_partner(session, name="Omega FinOps", domain="FinOps", owner_id=other.id)
    deals = [
        make_opportunity(session, mine, customer_name=f"Mine {i}",
                         deal_value=Decimal(1000 * (i + 1)), stage="lead",
                         expected_close_date=date(2026, 1, 1) + timedelta(days=i))
        for i in range(5)
    ]
    assigned = make_opportunity(session, theirs, customer_name="Assigned to Pat",
                                assigned_user_id=pm.id, stage="demo", probability=Decimal(25),
                                notes="100% sure", expected_close_date=date(2026, 7, 1))
    hidden = make_opportunity(session, theirs, customer_name="Hidden", stage="closed_won",
                              probability=Decimal(100), actual_close_date=local_today())
    return dict(pm=viewer_of(pm), mine=mine, theirs=theirs, deals=deals, assigned=assigned,
                hidden=hidden)


def _list(session, viewer, **kwargs):
    return opps.list_opportunities(session=session, viewer=viewer, **kwargs)


def test_the_list_pages_in_sql_and_reports_the_total(session, grid):
    vp = _viewer(session, role="vp")
    f = OpportunityFilters(partner_ids=(grid["mine"].id,))
    statements: list[str] = []

    def capture(conn, cursor, statement, *args):
        statements.append(statement)

    engine = session.get_bind().engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        page1, total = _list(session, vp, filters=f, limit=2, sort="deal_value")
        page3, _ = _list(session, vp, filters=f, offset=4, limit=2, sort="deal_value")
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert total == 5
    assert [r.customer_name for r in page1] == ["Mine 0", "Mine 1"]
    assert [r.customer_name for r in page3] == ["Mine 4"]
    selects = [s for s in statements if "LIMIT" in s.upper()]
    assert len(selects) == 2 and all("OFFSET" in s.upper() for s in selects)
    assert any("count(" in s.lower() for s in statements)


def test_the_list_is_scoped_to_what_a_partnership_manager_may_see(session, grid):
    rows, total = _list(session, grid["pm"], limit=100)
    names = {r.customer_name for r in rows}
    assert total == 6
    assert "Assigned to Pat" in names and "Hidden" not in names


def test_the_list_filters_by_stage_domain_owner_and_close_dates(session, grid):
    vp = _viewer(session, role="vp")
    in_grid = OpportunityFilters(partner_ids=(grid["mine"].id, grid["theirs"].id))

    def names(**kw):
        f = OpportunityFilters(**{"partner_ids": in_grid.partner_ids, **kw})
        rows, total = _list(session, vp, filters=f, limit=100, sort="customer_name")
        assert total == len(rows)
        return [r.customer_name for r in rows]

    assert names(stages=("demo", "closed_won")) == ["Assigned to Pat", "Hidden"]
    assert names(domains=("Security",)) == [f"Mine {i}" for i in range(5)]
    assert names(owner_ids=(grid["pm"].id,)) == ["Assigned to Pat"]
    assert names(close_from=date(2026, 1, 2), close_to=date(2026, 1, 3)) == ["Mine 1", "Mine 2"]
    # A closed deal is dated by its actual close date.
    assert "Hidden" in names(close_from=local_today(), close_to=local_today())


def test_free_text_searches_customer_notes_and_partner_name_literally(session, grid):
    vp = _viewer(session, role="vp")
    scope = (grid["mine"].id, grid["theirs"].id)

    def names(text):
        rows, _ = _list(session, vp, filters=OpportunityFilters(partner_ids=scope, text=text),
                        limit=100, sort="customer_name")
        return [r.customer_name for r in rows]

    assert names("assigned TO") == ["Assigned to Pat"]
    assert names("100%") == ["Assigned to Pat"]
    assert names("%") == ["Assigned to Pat"]  # a literal percent sign, not a wildcard
    assert names("omega") == ["Assigned to Pat", "Hidden"]
    assert names("nothing like this") == []


def test_list_rows_carry_what_the_grid_shows(session, grid):
    rows, _ = _list(session, grid["pm"],
                    filters=OpportunityFilters(owner_ids=(grid["pm"].id,)))
    [row] = rows
    assert row.partner_name == "Omega FinOps" and row.domain == "FinOps"
    assert row.assigned_user_name == "Pat Manager"
    assert row.deal_value == Decimal("10000.00") and row.version == 1


def test_sorting_puts_empty_values_last_and_follows_pipeline_order(session, grid):
    vp = _viewer(session, role="vp")
    f = OpportunityFilters(partner_ids=(grid["theirs"].id,))
    rows, _ = _list(session, vp, filters=f, sort="expected_close_date")
    assert [r.customer_name for r in rows] == ["Assigned to Pat", "Hidden"]
    rows, _ = _list(session, vp, filters=f, sort="-expected_close_date")
    assert [r.customer_name for r in rows] == ["Assigned to Pat", "Hidden"]
    rows, _ = _list(session, vp, filters=f, sort="-stage")
    assert [r.stage for r in rows] == ["closed_won", "demo"]


@pytest.mark.parametrize("kwargs, field", [
    ({"sort": "password"}, "sort"),
    ({"limit": 0}, "limit"),
    ({"offset": -1}, "offset"),
    ({"filters": OpportunityFilters(stages=("won",))}, "stage"),
    ({"filters": OpportunityFilters(domains=("Retail",))}, "domain"),
    ({"filters": OpportunityFilters(close_from=date(2026, 2, 1), close_to=date(2026, 1, 1))},
     "close_to"),
])
def test_bad_list_arguments_name_what_is_wrong(session, kwargs, field):
    vp = _viewer(session, role="vp")
    with pytest.raises(ValidationError) as err:
        _list(session, vp, **kwargs)
    assert err.value.field == field


def test_an_empty_database_lists_nothing(session):
    pm = _viewer(session, role="partnership_manager")
    assert _list(session, pm) == ([], 0)
    assert session.scalar(select(func.count()).select_from(Opportunity)) is not None


def test_partner_choices_are_the_partners_the_viewer_sees_by_name_with_their_owner(session):
    pm = make_user(session, role="partnership_manager")
    make_partner(session, name="zeta Labs", owner_id=pm.id)
    make_partner(session, name="Alpha Works", owner_id=pm.id)
    make_partner(session, name="Someone Else's")
    mine = opps.partner_choices(session=session, viewer=viewer_of(pm))
    assert [(c.name, c.owner_id) for c in mine] == [("Alpha Works", pm.id), ("zeta Labs", pm.id)]
