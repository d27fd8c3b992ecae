"""Use cases the pages call in one go: saving the deal grid, the task list's edits, the views."""

from __future__ import annotations

from decimal import Decimal

from isv.db import session_scope
from isv.models import Opportunity, Task
from isv.services import deal_grid, tasks
from isv.services.deal_view import deal_view
from isv.services.partner_view import partner_view
from tests.factories import make_opportunity, make_partner, make_task, make_user, viewer_of


def _two_deals():
    with session_scope() as s:
        vp = viewer_of(make_user(s, role="vp"))
        partner = make_partner(s, name="Ledgerline")
        first = make_opportunity(s, partner, customer_name="Acme")
        second = make_opportunity(s, partner, customer_name="Globex")
        done = vp, partner.id, (first.id, first.version), (second.id, second.version)
        s.commit()
        return done


def _customer(deal_id) -> str:
    with session_scope() as s:
        return s.get(Opportunity, deal_id).customer_name


def test_a_grid_save_with_one_refused_row_writes_none_of_its_rows(fresh_url):
    vp, partner_id, (first, v1), (second, v2) = _two_deals()
    saved = deal_grid.save_grid(
        viewer=vp, deleted=[],
        changed=[deal_grid.ChangedRow("Row 1", first, v1, {"customer_name": "Acme Corp"}),
                 deal_grid.ChangedRow("Row 2", second, v2, {"deal_value": "lots",
                                                            "customer_name": "Globex AG"})],
        added=[deal_grid.NewRow("New row 1", {"customer_name": "Initech"})])
    assert (saved.updated, saved.added, saved.deleted) == (0, 0, 0)
    assert [(p.row, p.field) for p in saved.problems] == [
        ("Row 2", "deal_value"), ("New row 1", "partner_id")]
    assert (_customer(first), _customer(second)) == ("Acme", "Globex")


def test_a_grid_save_without_problems_writes_every_row(fresh_url):
    vp, partner_id, (first, v1), (second, v2) = _two_deals()
    saved = deal_grid.save_grid(
        viewer=vp, deleted=[deal_grid.DeletedRow("Row 2", second, v2)],
        changed=[deal_grid.ChangedRow("Row 1", first, v1, {"customer_name": "Acme Corp"})],
        added=[deal_grid.NewRow("New row 1", {"customer_name": "Initech",
                                              "partner_id": partner_id,
                                              "deal_value": Decimal("500.00")})])
    assert saved.ok and (saved.updated, saved.added, saved.deleted) == (1, 1, 1)
    assert _customer(first) == "Acme Corp"
    with session_scope() as s:
        assert s.get(Opportunity, second) is None
        assert {o.customer_name for o in s.query(Opportunity)} == {"Acme Corp", "Initech"}


def test_a_stale_row_refuses_the_whole_grid_save(fresh_url):
    vp, _, (first, v1), (second, v2) = _two_deals()
    saved = deal_grid.save_grid(
        viewer=vp, deleted=[],
        changed=[deal_grid.ChangedRow("Row 1", first, v1, {"customer_name": "Acme Corp"}),
                 deal_grid.ChangedRow("Row 2", second, v2 - 1, {"customer_name": "Old"})],
        added=[])
    assert [(p.row, p.field) for p in saved.problems] == [("Row 2", deal_grid.WHOLE_ROW)]
    assert _customer(first) == "Acme"


def test_a_refused_task_edit_leaves_the_other_edits_saved(session):
    owner = make_user(session)
    me = viewer_of(owner)
    keep = make_task(session, owner, title="Call Acme")
    refuse = make_task(session, owner, title="Send the MSA")
    theirs = make_task(session, make_user(session), title="Not mine")
    result = tasks.save_task_edits(session=session, viewer=me, edits=[
        tasks.TaskEdit(keep.id, "Call Acme", {"priority": "high"}),
        tasks.TaskEdit(refuse.id, "Send the MSA", {"title": "  "}),
        tasks.TaskEdit(theirs.id, "Not mine", {"priority": "low"})])
    assert result.saved == [(keep.id, "Call Acme")]
    assert [(p.title, p.field) for p in result.problems] == [
        ("Send the MSA", "title"), ("Not mine", None)]
    session.expire_all()
    assert [session.get(Task, t.id).priority for t in (keep, refuse, theirs)] == [
        "high", "medium", "medium"]
    assert session.get(Task, refuse.id).title == "Send the MSA"


def test_the_deal_and_partner_views_read_what_their_pages_show(session):
    vp = viewer_of(make_user(session, role="vp"))
    partner = make_partner(session, name="Ledgerline")
    deal = make_opportunity(session, partner, customer_name="Acme", stage="demo")
    view = deal_view(session=session, viewer=vp, opportunity_id=deal.id)
    assert (view.fields["customer_name"], view.partner_name, view.can_write) == (
        "Acme", "Ledgerline", True)
    assert [(h.from_stage, h.to_stage, h.who) for h in view.history] == [(None, "demo", "system")]
    shown = partner_view(session=session, viewer=vp, partner_id=partner.id)
    assert [d.customer_name for d in shown.deals] == ["Acme"]
    assert (shown.deal_total, shown.open_count, shown.counts["deals"]) == (1, 1, 1)
