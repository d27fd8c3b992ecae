"""The pipeline pages: the opportunity grid, the board, the deal's own page, the calculator."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from streamlit.components.v2.bidi_component.main import _make_trigger_id

from isv.auth import Viewer
from isv.db import session_scope
from isv.models import AuditEntry, Opportunity, StageHistory
from isv.services import opportunities as opps
from isv.services import users
from isv.services.settings import local_today
from isv.ui import board_drag
from tests.app.conftest import LOGINS, messages, plain
from tests.factories import make_opportunity, make_partner, make_structure

GRID = "pages/opportunities.py"
BOARD = "pages/board.py"
DETAIL = "pages/opportunity_detail.py"
CALCULATOR = "pages/commissions.py"


def _user(session, role):
    return users.get_by_email(session=session, viewer=Viewer.system(), email=LOGINS[role].email)


@pytest.fixture
def deals(app_db):
    """Three deals of a partner the partnership manager owns, one of another partner."""
    with session_scope() as s:
        pm = _user(s, "partnership_manager")
        own = make_partner(s, name="Ledgerline", domain="FinOps", owner_id=pm.id)
        other = make_partner(s, name="Tracepoint", domain="Observability")
        make_structure(s, own, structure_type="referral", commission_percentage=Decimal(10),
                       effective_from=date(2020, 1, 1))
        ids = {
            "acme": make_opportunity(s, own, customer_name="Acme", stage="demo",
                                     probability=Decimal(25), deal_value=Decimal("20000.00"),
                                     expected_close_date=local_today() - timedelta(days=3)).id,
            "bolt": make_opportunity(s, own, customer_name="Bolt", stage="lead",
                                     deal_value=Decimal("5000.00"),
                                     expected_close_date=local_today() + timedelta(days=30)).id,
            "<b>": make_opportunity(s, own, customer_name="<b>Crate</b> **Co**", stage="poc",
                                    probability=Decimal(50), deal_value=Decimal("7000.00")).id,
            "delta": make_opportunity(s, other, customer_name="Delta", stage="proposal",
                                      probability=Decimal(75),
                                      deal_value=Decimal("100000.00")).id,
        }
        s.commit()
    return ids


def _deal(opportunity_id) -> Opportunity:
    with session_scope() as s:
        return s.get(Opportunity, opportunity_id)


def _history(opportunity_id) -> list[tuple[str | None, str, str | None]]:
    with session_scope() as s:
        rows = s.scalars(select(StageHistory).where(StageHistory.opportunity_id == opportunity_id)
                         .order_by(StageHistory.changed_at))
        return [(h.from_stage, h.to_stage, h.notes) for h in rows]


def _open(login, role, page):
    at = login(role, page)
    assert not at.exception, at.exception
    return at


# --- the grid ------------------------------------------------------------------------------

def open_grid(login, role="sales_manager"):
    at = _open(login, role, GRID)
    at.selectbox(key="grid_sort").set_value("customer_name").run()
    return at


def grid(at):
    return at.data_editor[0].value if at.data_editor else at.dataframe[0].value


def edit(at, *, edited=None, added=None, deleted=None):
    """What the browser sends when cells are edited, rows added or deleted."""
    key = at.session_state["opportunity_grid_key"]
    at.session_state[key] = {"edited_rows": edited or {}, "added_rows": added or [],
                             "deleted_rows": deleted or []}
    return at.run()


def save(at):
    at.button(key="grid_save").click().run()
    assert not at.exception, at.exception
    return at


def table_with(at, *columns):
    """The first table on screen with these columns (read-only tables carry no key)."""
    for table in at.dataframe:
        if list(table.value.columns) == list(columns):
            return table.value
    return None


def problems(at):
    table = table_with(at, "Row", "Column", "Reason")
    return [] if table is None else table.to_dict("records")


def test_the_grid_shows_one_page_of_deals_sorted_and_counted(deals, login):
    at = open_grid(login)
    assert list(grid(at)["Customer"]) == ["<b>Crate</b> **Co**", "Acme", "Bolt", "Delta"]
    assert any("Deals 1–4 of 4" in c for c in messages(at.caption))


def test_a_partnership_manager_sees_only_their_partners_deals(deals, login):
    at = open_grid(login, "partnership_manager")
    assert sorted(grid(at)["Customer"]) == ["<b>Crate</b> **Co**", "Acme", "Bolt"]


def test_filters_narrow_the_grid_in_the_database(deals, login):
    at = open_grid(login)
    at.multiselect(key="grid_stages").set_value(["lead", "proposal"]).run()
    assert list(grid(at)["Customer"]) == ["Bolt", "Delta"]
    at.multiselect(key="grid_stages").set_value([]).run()
    at.text_input(key="grid_text").set_value("trace").run()  # the partner's name
    assert list(grid(at)["Customer"]) == ["Delta"]


def test_a_close_to_before_close_from_is_reported_next_to_it(deals, login):
    at = open_grid(login)
    at.date_input(key="grid_from").set_value(date(2026, 5, 1)).run()
    at.date_input(key="grid_to").set_value(date(2026, 4, 1)).run()
    assert any(m.startswith("Close to:") for m in messages(at.error))


def test_editing_a_cell_and_saving_writes_it_and_its_stage_history(deals, login):
    at = open_grid(login)
    edit(at, edited={1: {"Value": 25000.5, "Stage": "poc"}})  # row 2: Acme
    save(at)
    acme = _deal(deals["acme"])
    assert acme.deal_value == Decimal("25000.50") and acme.stage == "poc"
    assert acme.probability == Decimal(50)  # the new stage's default
    assert _history(deals["acme"])[-1][:2] == ("demo", "poc")
    assert any("Saved: 1 changed" in m for m in messages(at.success))
    assert grid(at).loc[1, "Value"] == 25000.5  # the grid read the saved row back


def test_an_invalid_row_saves_nothing_and_names_row_column_and_reason(deals, login):
    at = open_grid(login)
    edit(at, edited={1: {"Customer": "Acme Renamed"},
                     2: {"Stage": "closed_lost", "Contact email": "not-an-email"}})
    save(at)
    assert _deal(deals["acme"]).customer_name == "Acme"  # the valid row was not written
    assert _deal(deals["bolt"]).stage == "lead"
    found = {(p["Row"], p["Column"]) for p in problems(at)}
    assert ("Row 3 (Bolt)", "Contact email") in found
    assert ("Row 3 (Bolt)", "Lost reason") in found
    assert any("Nothing was saved: 2 problems" in m for m in messages(at.error))
    # The edits stay in the grid, ready to be corrected.
    assert at.session_state[at.session_state["opportunity_grid_key"]]["edited_rows"]


def test_a_row_changed_by_someone_else_is_refused_and_the_edits_stay(deals, login):
    at = open_grid(login)
    edit(at, edited={1: {"Value": 1.0}})
    with session_scope() as s:  # the VP saves the same deal meanwhile
        vp = Viewer.of(_user(s, "vp"))
        opps.update_opportunity(session=s, viewer=vp, opportunity_id=deals["acme"],
                                expected_version=1, deal_value="30000")
        s.commit()
    save(at)
    assert _deal(deals["acme"]).deal_value == Decimal("30000.00")  # nothing overwritten
    [problem] = problems(at)
    assert problem["Row"] == "Row 2 (Acme)"
    assert problem["Reason"].startswith(f"Changed by {LOGINS['vp'].name} at ")
    assert grid(at).loc[1, "Value"] == 20000.0  # the rows the user edited, not re-read
    assert at.session_state[at.session_state["opportunity_grid_key"]]["edited_rows"]

    at.button(key="grid_discard").click().run()
    assert grid(at).loc[1, "Value"] == 30000.0
    reapply = table_with(at, "Row", "Column", "Your value")
    assert reapply.to_dict("records") == [
        {"Row": "Row 2 (Acme)", "Column": "Value", "Your value": "1.0"}]


def test_rows_are_added_and_deleted_through_the_services(deals, login):
    at = open_grid(login)
    partner_id = str(_deal(deals["acme"]).partner_id)
    edit(at, added=[{"Customer": "Echo", "Partner": partner_id, "Value": 1200, "Stage": "demo"}],
         deleted=[3])  # Delta
    save(at)
    assert any("Saved: 1 added, 1 deleted" in m for m in messages(at.success))
    names = list(grid(at)["Customer"])
    assert "Echo" in names and "Delta" not in names
    assert _deal(deals["delta"]) is None


def test_a_save_holds_while_other_people_write_during_its_run(deals, login, monkeypatch):
    """Under load another person's save lands while this one's run is drawing the page; the
    data version then differs between the frame's read and the sidebar's poll. The save
    still happens: only the poll's own timed run may redraw the page for a newer version."""
    from isv.analytics import cached

    at = open_grid(login)
    edit(at, edited={1: {"Value": 21000}})
    reads = iter([10_000])  # the frame's read; every later read sees the other save
    monkeypatch.setattr(cached, "data_version", lambda: next(reads, 10_001))
    save(at)
    assert any("Saved: 1 changed" in m for m in messages(at.success))
    assert _deal(deals["acme"]).deal_value == Decimal("21000.00")


def test_a_new_row_without_a_customer_is_refused_by_column(deals, login):
    at = open_grid(login)
    edit(at, added=[{"Value": 10}])
    save(at)
    found = {(p["Row"], p["Column"]) for p in problems(at)}
    assert ("New row 1", "Partner") in found


def test_text_with_markup_is_stored_and_shown_as_typed(deals, login):
    at = open_grid(login)
    edit(at, edited={1: {"Notes": "<script>alert(1)</script>"}})
    save(at)
    assert _deal(deals["acme"]).notes == "<script>alert(1)</script>"
    assert grid(at).loc[1, "Notes"] == "<script>alert(1)</script>"


def test_admin_reads_the_grid_but_cannot_edit(deals, login):
    at = _open(login, "admin", GRID)
    assert not at.data_editor and len(grid(at)) == 4
    assert not [b for b in at.button if b.key == "grid_save"]
    assert any("Read only" in c for c in messages(at.caption))


def test_the_grid_pages_through_the_database(app_db, login):
    with session_scope() as s:
        partner = make_partner(s, name="Bulkco")
        for n in range(55):
            make_opportunity(s, partner, customer_name=f"Customer {n:02d}")
        s.commit()
    at = open_grid(login)
    assert len(grid(at)) == 50
    assert any("Deals 1–50 of 55" in c for c in messages(at.caption))
    at.number_input(key="grid_page").set_value(2).run()
    assert list(grid(at)["Customer"]) == [f"Customer {n}" for n in range(50, 55)]


# --- the board -----------------------------------------------------------------------------

def card_links(at) -> dict[str, str]:
    """Each card's title link: its text (as read) -> the address it opens."""
    return {plain(link.proto.label).replace("**", ""):
            f"{link.proto.page}?{link.proto.query_string}"
            for link in at.get("page_link") if "opportunity_detail" in link.proto.page}


def board_text(at) -> str:
    """The board's text as read: escapes, bold and small-print markers taken out."""
    text = "\n".join([*messages(at.markdown), *card_links(at)]).replace("**", "")
    return text.replace(":small[", "").replace("]", "")


def test_board_columns_total_every_matching_deal_not_just_the_cards(app_db, login):
    with session_scope() as s:
        partner = make_partner(s, name="Bulkco")
        for n in range(12):
            make_opportunity(s, partner, customer_name=f"Lead {n}", stage="lead",
                             deal_value=Decimal(1000 + n), probability=Decimal(10))
        s.commit()
    at = _open(login, "vp", BOARD)
    at.segmented_control(key="board_per_column").set_value(10).run()
    text = board_text(at)
    assert "Lead · 12 deals" in text
    # Σ value 12,066 and weighted 1,206.60 over all twelve, exactly.
    header = [m for m in at.markdown if "Lead" in m.value and "deals" in m.value][0]
    assert "$12,066," in plain(header.proto.help) and "$1,206.60" in plain(header.proto.help)
    cards = [line for line in text.splitlines() if line.startswith("Lead ") and "·" not in line]
    assert cards == [f"Lead {n}" for n in range(11, 1, -1)]  # the ten largest
    assert any("2 more" in c for c in messages(at.caption))


def test_board_cards_show_owner_days_and_a_slipped_flag_in_words(deals, login):
    at = _open(login, "sales_manager", BOARD)
    text = board_text(at)
    assert "Acme" in text and "⚠ Slipped" in text
    assert "0 days in stage" in text
    assert "<b>Crate</b> Co" in text  # markup shown as typed (the ** are stripped above)
    labels = [link.proto.label for link in at.get("page_link")]
    assert r"**\<b\>Crate\<\/b\> \*\*Co\*\***" in labels  # escaped inside the bold title


def test_a_board_card_opens_its_deal_in_the_same_tab(deals, login):
    at = _open(login, "sales_manager", BOARD)
    links = card_links(at)
    assert links["Acme"].endswith(f"opportunity_detail?id={deals['acme']}")
    link = next(p for p in at.get("page_link") if p.proto.query_string.endswith(
        str(deals["acme"])))
    assert not link.proto.external  # Streamlit's own navigation: same tab, no new window


def drop(at, opportunity_id, to_stage, version):
    """Run the board as after the browser's drag component reports a card dropped on a column.

    AppTest knows the component only as a custom element, so its trigger is sent by hand.
    """
    component = next(e for e in at.get("bidi_component") if e.key == board_drag.KEY)
    states = at.main.root.get_widget_states()
    state = states.widgets.add()
    state.id = _make_trigger_id(component.proto.id, "events")
    state.json_trigger_value = json.dumps(
        [{"event": "drop", "value": {"id": str(opportunity_id), "to": to_stage,
                                     "version": version}}])
    at._run(states)
    assert not at.exception, at.exception
    return at


def _audit(opportunity_id) -> list[AuditEntry]:
    with session_scope() as s:
        return list(s.scalars(select(AuditEntry).where(
            AuditEntry.entity_id == str(opportunity_id)).order_by(AuditEntry.at)))


def _stored(opportunity_id) -> dict:
    deal = _deal(opportunity_id)
    return {c.name: getattr(deal, c.name) for c in Opportunity.__table__.columns}


def test_a_drop_on_another_column_saves_the_stage_change_and_one_history_row(deals, login):
    at = _open(login, "sales_manager", BOARD)
    before, history, trail = _stored(deals["bolt"]), _history(deals["bolt"]), \
        _audit(deals["bolt"])
    drop(at, deals["bolt"], "demo", before["version"])

    after = _stored(deals["bolt"])
    changed = {k for k in before if before[k] != after[k]}
    # The stage, the probability that follows it (the stage's default), and the bookkeeping.
    assert changed == {"stage", "probability", "version", "updated_at", "updated_by_id"}
    assert after["stage"] == "demo" and after["version"] == before["version"] + 1
    assert _history(deals["bolt"]) == [*history, ("lead", "demo", None)]
    new_entries = _audit(deals["bolt"])[len(trail):]
    assert [(e.action, set(e.new_values)) for e in new_entries] == [
        ("move_stage", {"stage", "probability"})]
    assert any("Moved Bolt to Demo" in m for m in messages(at.success))
    assert "Demo · 2 deals" in board_text(at)  # redrawn: Acme and Bolt


def test_a_drop_from_a_stale_board_is_refused_and_writes_nothing(deals, login):
    at = _open(login, "sales_manager", BOARD)
    version = _deal(deals["bolt"]).version
    with session_scope() as s:  # someone else saves the deal meanwhile
        opps.update_opportunity(session=s, viewer=Viewer.system(), opportunity_id=deals["bolt"],
                                expected_version=version, notes="Called")
        s.commit()
    before = _stored(deals["bolt"])
    drop(at, deals["bolt"], "demo", version)
    assert _stored(deals["bolt"]) == before
    assert any("changed by" in m.lower() for m in messages(at.error))


def test_a_drop_on_closed_lost_asks_for_the_reason_and_writes_nothing_until_given(
        deals, login):
    at = _open(login, "sales_manager", BOARD)
    before, trail = _stored(deals["acme"]), _audit(deals["acme"])
    drop(at, deals["acme"], "closed_lost", before["version"])
    assert _stored(deals["acme"]) == before
    assert at.text_area(key="board_lost_reason").label == "Lost reason"
    assert any("Why was **Acme** lost?" in m for m in messages(at.markdown))

    at.button(key="board_lost_save").click().run()  # no reason given
    assert any(m.startswith("Lost reason:") for m in messages(at.error))
    assert _stored(deals["acme"]) == before and _audit(deals["acme"]) == trail

    at.text_area(key="board_lost_reason").set_value("Chose to build in-house")
    at.button(key="board_lost_save").click().run()
    acme = _deal(deals["acme"])
    assert acme.stage == "closed_lost" and acme.lost_reason == "Chose to build in-house"
    assert _history(deals["acme"])[-1][:2] == ("demo", "closed_lost")
    assert any("Moved Acme to Closed lost" in m for m in messages(at.success))
    assert not [t for t in at.text_area if t.key == "board_lost_reason"]  # the dialog closed


def test_cancelling_the_lost_reason_leaves_the_deal_where_it_was(deals, login):
    at = _open(login, "sales_manager", BOARD)
    before, trail = _stored(deals["acme"]), _audit(deals["acme"])
    drop(at, deals["acme"], "closed_lost", before["version"])
    at.text_area(key="board_lost_reason").set_value("Half typed")
    at.button(key="board_lost_cancel").click().run()
    assert _stored(deals["acme"]) == before and _audit(deals["acme"]) == trail
    assert not [t for t in at.text_area if t.key == "board_lost_reason"]
    assert "Demo · 1 deal" in board_text(at)


def test_the_move_menu_asks_for_a_lost_reason_only_when_moving_to_closed_lost(deals, login):
    at = _open(login, "sales_manager", BOARD)
    card = str(deals["acme"])
    assert not [t for t in at.text_input if t.key.startswith("move_reason_")]
    assert not [s for s in at.selectbox if s.key.startswith("move_to_")]  # no dialog yet
    at.button(key=f"move_open_{card}").click().run()
    at.selectbox(key=f"move_to_{card}").set_value("closed_lost")
    at.button(key=f"move_submit_{card}").click().run()
    assert _deal(deals["acme"]).stage == "demo"
    at.text_area(key="board_lost_reason").set_value("No budget")
    at.button(key="board_lost_save").click().run()
    assert _deal(deals["acme"]).lost_reason == "No budget"

    bolt = str(deals["bolt"])
    at.button(key=f"move_open_{bolt}").click().run()
    at.selectbox(key=f"move_to_{bolt}").set_value("poc")
    at.button(key=f"move_submit_{bolt}").click().run()
    assert _deal(deals["bolt"]).stage == "poc"
    assert not [t for t in at.text_area if t.key == "board_lost_reason"]


def test_admin_sees_the_board_without_move_controls(deals, login):
    at = _open(login, "admin", BOARD)
    assert "Delta" in board_text(at)
    assert not [b for b in at.button if (b.key or "").startswith(("move_open_", "move_submit_"))]


# --- the deal's own page -------------------------------------------------------------------

def test_without_an_id_the_detail_page_offers_a_picker(deals, login):
    at = _open(login, "sales_manager", DETAIL)
    at.text_input(key="deal_picker_text").set_value("bolt").run()
    at.button(key="deal_picker_open").click().run()
    assert "Bolt" in [plain for plain in messages(at.subheader)]


def open_deal(login, deal_id, role="sales_manager"):
    at = login(role, DETAIL, id=str(deal_id))
    assert not at.exception, at.exception
    return at


def test_the_detail_page_edits_any_field_and_shows_history_audit_and_commission(deals, login):
    at = open_deal(login, deals["acme"])
    k = f"{deals['acme']}_1"
    at.text_input(key=f"d_value_{k}").set_value("30000.00")
    at.selectbox(key=f"d_stage_{k}").set_value("proposal")
    at.text_input(key=f"d_note_{k}").set_value("Pricing agreed")
    at.button(key=f"d_save_{k}").click().run()
    acme = _deal(deals["acme"])
    assert acme.deal_value == Decimal("30000.00") and acme.stage == "proposal"
    assert _history(deals["acme"])[-1] == ("demo", "proposal", "Pricing agreed")
    history = table_with(at, "When", "Who", "From", "To", "Note")
    assert history.iloc[0][["From", "To", "Note"]].tolist() == ["Demo", "Proposal",
                                                               "Pricing agreed"]
    trail = table_with(at, "When", "Who", "Action", "Field", "Before", "After")
    changed = trail.set_index("Field").loc[["Stage", "Value"], ["Who", "Before", "After"]]
    assert changed.values.tolist() == [[LOGINS["sales_manager"].name, "Demo", "Proposal"],
                                       [LOGINS["sales_manager"].name, "$20,000", "$30,000"]]
    assert any(m.label == "First-year commission" and m.value == "$3,000" for m in at.metric)


def test_the_audit_trail_names_people_and_labels_never_ids_or_codes(deals, login):
    with session_scope() as s:
        vp, sales = _user(s, "vp"), _user(s, "sales_manager")
        opps.update_opportunity(session=s, viewer=Viewer.of(vp), opportunity_id=deals["acme"],
                                expected_version=1, assigned_user_id=sales.id)
        opps.update_opportunity(session=s, viewer=Viewer.of(vp), opportunity_id=deals["acme"],
                                expected_version=2, assigned_user_id=vp.id, stage="poc")
        s.commit()
    at = open_deal(login, deals["acme"])
    trail = table_with(at, "When", "Who", "Action", "Field", "Before", "After")
    rows = [f"{r.Field}: {r.Before} → {r.After}" for r in trail.itertuples()]
    assert f"Owner: {LOGINS['sales_manager'].name} → {LOGINS['vp'].name}" in rows
    assert f"Owner: Unassigned → {LOGINS['sales_manager'].name}" in rows
    assert "Stage: Demo → PoC" in rows
    assert set(trail["Who"]) == {LOGINS["vp"].name}
    assert set(trail["Action"]) == {"Changed"}
    cells = " ".join(str(v) for v in trail.drop(columns="When").to_numpy().ravel())
    for code in ("assigned_user_id", "poc", "demo", "@", "None", str(vp.id), str(sales.id)):
        assert code not in cells


def test_a_stage_move_reads_as_a_move_wherever_it_was_made(deals, login):
    with session_scope() as s:  # the board, the REST API and scripts all move through here
        opps.move_stage(session=s, viewer=Viewer.of(_user(s, "vp")),
                        opportunity_id=deals["acme"], to_stage="poc")
        s.commit()
    at = open_deal(login, deals["acme"])
    trail = table_with(at, "When", "Who", "Action", "Field", "Before", "After")
    moves = trail[trail["Field"] == "Stage"]
    assert list(moves["Action"]) == ["Moved to another stage"]
    assert "board" not in " ".join(trail["Action"])


def test_a_closed_lost_deal_says_it_earns_no_commission(deals, login):
    with session_scope() as s:
        opps.update_opportunity(session=s, viewer=Viewer.system("tests"),
                                opportunity_id=deals["acme"], expected_version=1,
                                stage="closed_lost", lost_reason="Chose a competitor")
        s.commit()
    at = open_deal(login, deals["acme"])
    assert "First-year commission" not in {m.label for m in at.metric}
    assert any(m.startswith("Closed lost: a lost deal earns no commission")
               for m in messages(at.info))


def test_a_bad_value_on_the_detail_page_is_shown_next_to_its_field(deals, login):
    at = open_deal(login, deals["acme"])
    k = f"{deals['acme']}_1"
    at.text_input(key=f"d_value_{k}").set_value("lots")
    at.button(key=f"d_save_{k}").click().run()
    assert any(m.startswith("Value:") and "amount" in m for m in messages(at.error))
    assert _deal(deals["acme"]).deal_value == Decimal("20000.00")


def test_a_stale_detail_save_is_refused_and_overwrites_nothing(deals, login):
    at = open_deal(login, deals["acme"])
    with session_scope() as s:
        vp = Viewer.of(_user(s, "vp"))
        opps.update_opportunity(session=s, viewer=vp, opportunity_id=deals["acme"],
                                expected_version=1, customer_name="Acme Group")
        s.commit()
    k = f"{deals['acme']}_1"
    at.text_input(key=f"d_value_{k}").set_value("1.00")
    at.button(key=f"d_save_{k}").click().run()
    assert any(m.startswith(f"Changed by {LOGINS['vp'].name}") for m in messages(at.error))
    acme = _deal(deals["acme"])
    assert acme.customer_name == "Acme Group" and acme.deal_value == Decimal("20000.00")


def test_a_deal_outside_scope_falls_back_to_the_picker(deals, login):
    at = open_deal(login, deals["delta"], role="partnership_manager")
    assert any("No such opportunity" in m for m in messages(at.error))
    assert at.text_input(key="deal_picker_text") is not None


# --- the calculator ------------------------------------------------------------------------

@pytest.fixture
def structures(app_db):
    with session_scope() as s:
        partner = make_partner(s, name="Keyward")
        make_structure(s, partner, structure_type="referral", commission_percentage=Decimal(10),
                       effective_from=date(2025, 1, 1), max_deal_size=Decimal(100000))
        make_structure(s, partner, structure_type="reseller", commission_percentage=Decimal(20),
                       effective_from=date(2025, 6, 1), is_lifetime=True)
        s.commit()
        return str(partner.id)


def calculate(login, value, day, years=None):
    at = _open(login, "vp", CALCULATOR)
    at.text_input(key="calc_value").set_value(value)
    at.date_input(key="calc_day").set_value(day)
    if years is not None:
        at.number_input(key="calc_years").set_value(years)
    return at.run()


def test_the_calculator_applies_the_rule_and_projects_a_lifetime_structure(structures, login):
    at = calculate(login, "50000", date(2026, 1, 15), years=5)
    metrics = {m.label: m.value for m in at.metric}
    # Latest start wins: the lifetime reseller structure at 20 %.
    assert metrics["First-year commission"] == "$10,000"
    assert metrics["5-year projection"] == "$50,000"
    comparison = table_with(at, "Type", "Percent", "Lifetime", "First year", "5-year total",
                            "Structure")
    assert comparison.set_index("Type")["First year"].to_dict() == {
        "Referral": "$5,000", "Reseller": "$10,000"}


def test_the_calculator_says_plainly_when_no_structure_applies(structures, login):
    at = calculate(login, "50000", date(2024, 6, 1))
    assert any(m.startswith("No applicable structure: commission $0")
               for m in messages(at.warning))


def test_a_bad_deal_value_is_shown_next_to_its_field(structures, login):
    at = calculate(login, "-5", date(2026, 1, 15))
    assert any(m.startswith("Deal value:") for m in messages(at.error))
