"""Every edit surface changes only what the user edited (issue 12 §1, issue 18 #1).

For each surface a page is opened as a user would, then: a save with no change writes
nothing (no new audit entry, the stored row and its version unchanged), and a change of
exactly one field writes exactly that field, named alone in the one new audit entry. Where
someone else saves in between, the fields this user left alone keep the other person's
values. The field and value of each "one field" case are drawn by hypothesis (a few
examples on one open page, so the whole module stays quick). Every test runs on SQLite and
on PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import string
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs
from sqlalchemy import inspect, select

from isv.auth import Viewer
from isv.dates import monday_of
from isv.db import session_scope
from isv.models import (
    DOMAINS,
    HEALTH,
    PRIORITIES,
    STRUCTURE_TYPES,
    AuditEntry,
    CommissionStructure,
    Opportunity,
    Partner,
    PartnerActivity,
    QuarterlyGoal,
    Task,
    User,
    WeeklyStatus,
)
from isv.services import commissions, goals, partners, status, users
from isv.services import opportunities as opps
from isv.services import settings as app_settings
from isv.services.settings import local_today
from isv.ui.labels import PRIORITY_LABELS, stage_label
from isv.ui.widgets import same_as_stored
from tests.app.conftest import LOGINS, login_as, messages
from tests.factories import make_opportunity, make_partner, make_structure, make_task

# A few examples each, the same ones every run: the page stays open between them.
EXAMPLES = settings(max_examples=4, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
WEEK = monday_of(local_today())
DEAL_BOOKKEEPING = {"updated_at", "updated_by_id"}

words = hs.text(alphabet=string.ascii_letters + string.digits + " <>*_&.'",
                min_size=1, max_size=30).map(str.strip).filter(bool)
emails = hs.text(alphabet=string.ascii_lowercase, min_size=1, max_size=10).map(
    lambda name: f"{name}@example.com")
amounts = hs.integers(min_value=0, max_value=10**11).map(lambda cents: Decimal(cents) / 100)
days = hs.dates(min_value=date(2025, 1, 1), max_value=date(2030, 12, 31))


@pytest.fixture(autouse=True)
def _database(any_app_db):
    """Every test here on both databases (tests/app/conftest.py)."""
    return any_app_db


# --- what is stored -------------------------------------------------------------------------

def user_of(role: str) -> User:
    with session_scope() as s:
        return users.get_by_email(session=s, viewer=Viewer.system(), email=LOGINS[role].email)


def viewer_of(role: str) -> Viewer:
    return Viewer.of(user_of(role))


def stored(model, record_id) -> dict[str, Any]:
    """Every column of one row."""
    with session_scope() as s:
        row = s.get(model, record_id)
        return {attr.key: getattr(row, attr.key) for attr in inspect(model).column_attrs}


def audit_ids() -> set:
    with session_scope() as s:
        return set(s.scalars(select(AuditEntry.id)))


def entries_since(before: set) -> list[AuditEntry]:
    with session_scope() as s:
        return [e for e in s.scalars(select(AuditEntry)) if e.id not in before]


class Watch:
    """The stored row and the audit log before a save, to compare with after it."""

    def __init__(self, model, record_id, bookkeeping: set[str] = frozenset()) -> None:
        self.model, self.id, self.bookkeeping = model, record_id, set(bookkeeping)
        self.row, self.audit = stored(model, record_id), audit_ids()

    def nothing_written(self) -> None:
        assert stored(self.model, self.id) == self.row
        assert entries_since(self.audit) == []

    def only(self, *fields: str, audited: set[str] | None = None) -> dict[str, Any]:
        """Exactly `fields` changed (bookkeeping aside), a version went up by one, and one
        audit entry names them."""
        after = stored(self.model, self.id)
        changed = {k for k in after if after[k] != self.row[k]} - self.bookkeeping - {"version"}
        assert changed == set(fields)
        if "version" in after:
            assert after["version"] == self.row["version"] + 1
        [entry] = entries_since(self.audit)
        assert set(entry.new_values) == (audited if audited is not None else set(fields))
        return after


def key_with(widgets, prefix: str, suffix: str = "", *, but: str | None = None) -> str:
    """The key of the one widget whose key starts with `prefix` (keys carry a generation)."""
    [key] = [w.key for w in widgets if w.key and w.key.startswith(prefix)
             and w.key.endswith(suffix) and not (but and w.key.startswith(but))]
    return key


def open_page(role: str, page: str, **params: str):
    at = login_as(role, page, **params)
    assert not at.exception, at.exception
    return at


def clicked(at, key: str):
    at.button(key=key).click().run()
    assert not at.exception, at.exception
    return at


# --- opportunity detail ---------------------------------------------------------------------

@pytest.fixture
def deal() -> dict[str, Any]:
    """A deal assigned to the partnership manager, of a partner they own."""
    pm = user_of("partnership_manager")
    with session_scope() as s:
        partner = make_partner(s, name="Ledgerline", owner_id=pm.id)
        other = make_partner(s, name="Tracepoint")
        opp = make_opportunity(s, partner, customer_name="Acme", stage="demo",
                               probability=Decimal(25), deal_value=Decimal("20000.00"),
                               assigned_user_id=pm.id, notes="First call went well",
                               expected_close_date=local_today() + timedelta(days=40))
        make_opportunity(s, partner, customer_name="Bolt", stage="lead",
                         deal_value=Decimal("5000.00"))
        s.commit()
        return {"id": opp.id, "partner": partner.id, "other": other.id, "pm": pm.id}


DEAL_WIDGETS = {  # field -> (widget kind, key stem, the strategy of values a user types)
    "customer_name": ("text_input", "customer", words),
    "notes": ("text_area", "notes", words),
    "deal_value": ("text_input", "value", amounts.map(lambda v: f"{v:.2f}")),
    "probability": ("text_input", "prob", hs.integers(0, 100).map(str)),
    "customer_contact_email": ("text_input", "email", emails),
    "external_id": ("text_input", "external", hs.text(string.ascii_uppercase + string.digits,
                                                      min_size=1, max_size=12)),
    "expected_close_date": ("date_input", "expected", days),
}


def test_deal_detail_saves_only_the_field_edited_and_keeps_the_owner(deal):
    at = open_page("sales_manager", "pages/opportunity_detail.py", id=str(deal["id"]))

    def widget(kind: str, stem: str):
        version = stored(Opportunity, deal["id"])["version"]
        return getattr(at, kind)(key=f"d_{stem}_{deal['id']}_{version}")

    def save():
        version = stored(Opportunity, deal["id"])["version"]
        clicked(at, f"d_save_{deal['id']}_{version}")

    # The owner is pre-selected: the form shows who the deal is assigned to.
    assert widget("selectbox", "owner").value == str(deal["pm"])

    watch = Watch(Opportunity, deal["id"], DEAL_BOOKKEEPING)
    save()
    assert "Nothing changed." in messages(at.info)
    watch.nothing_written()

    # The case: only Notes edited; the deal stays assigned.
    watch = Watch(Opportunity, deal["id"], DEAL_BOOKKEEPING)
    widget("text_area", "notes").set_value("Pricing agreed with the CFO")
    save()
    assert watch.only("notes")["assigned_user_id"] == deal["pm"]

    @EXAMPLES
    @given(hs.data())
    def one_field(data):
        field = data.draw(hs.sampled_from(sorted(DEAL_WIDGETS)))
        kind, stem, values = DEAL_WIDGETS[field]
        current = stored(Opportunity, deal["id"])[field]
        value = data.draw(values.filter(lambda v: not same_as_stored(current, v)))
        watch = Watch(Opportunity, deal["id"], DEAL_BOOKKEEPING)
        widget(kind, stem).set_value(value)
        save()
        watch.only(field)

    one_field()

    watch = Watch(Opportunity, deal["id"], DEAL_BOOKKEEPING)
    widget("selectbox", "owner").set_value(str(user_of("vp").id))
    save()
    assert watch.only("assigned_user_id")["assigned_user_id"] == user_of("vp").id


# --- opportunity grid -----------------------------------------------------------------------

GRID_CELLS = {  # grid column -> (field, strategy of what the browser sends)
    "Customer": ("customer_name", words),
    "Notes": ("notes", words),
    "Value": ("deal_value", amounts.map(float)),
    "Probability": ("probability", hs.integers(0, 100).map(float)),
    "Contact email": ("customer_contact_email", emails),
    "Expected close": ("expected_close_date", days.map(date.isoformat)),
}


def grid_edit(at, row: int, cells: dict[str, Any]):
    key = at.session_state["opportunity_grid_key"]
    at.session_state[key] = {"edited_rows": {row: cells}, "added_rows": [], "deleted_rows": []}
    at.run()
    return clicked(at, "grid_save")


def test_the_grid_saves_only_the_cell_edited(deal):
    at = open_page("sales_manager", "pages/opportunities.py")
    at.selectbox(key="grid_sort").set_value("customer_name").run()   # row 0: Acme

    watch = Watch(Opportunity, deal["id"], DEAL_BOOKKEEPING)
    grid_edit(at, 0, {"Value": 20000.0, "Customer": "Acme", "Notes": "First call went well"})
    assert "Saved: nothing to save." in messages(at.success)
    watch.nothing_written()

    @EXAMPLES
    @given(hs.data())
    def one_cell(data):
        column = data.draw(hs.sampled_from(sorted(GRID_CELLS)))
        field, values = GRID_CELLS[column]
        current = stored(Opportunity, deal["id"])
        value = data.draw(values.filter(lambda v: not same_as_stored(current[field], v)))
        watch = Watch(Opportunity, deal["id"], DEAL_BOOKKEEPING)
        position = list(at.data_editor[0].value["Customer"]).index(current["customer_name"])
        grid_edit(at, position, {column: value})
        assert any(m.startswith("Saved: 1 changed") for m in messages(at.success))
        watch.only(field)

    one_cell()


# --- the board ------------------------------------------------------------------------------

def test_a_board_move_changes_the_stage_and_what_the_stage_rule_sets_only(deal):
    at = open_page("sales_manager", "pages/board.py")
    card = str(deal["id"])
    clicked(at, f"move_open_{card}")  # the card's Move button opens its dialog
    offered = at.selectbox(key=f"move_to_{card}").options
    assert stage_label("demo") not in offered   # a move to where it is cannot be made

    watch = Watch(Opportunity, deal["id"], DEAL_BOOKKEEPING)
    with session_scope() as s:   # and the service writes nothing for one
        opps.move_stage(session=s, viewer=viewer_of("sales_manager"), opportunity_id=card,
                        to_stage="demo", expected_version=watch.row["version"])
    watch.nothing_written()

    at.selectbox(key=f"move_to_{card}").set_value("poc")
    clicked(at, f"move_submit_{card}")
    after = watch.only("stage", "probability")
    assert (after["stage"], after["probability"]) == ("poc", Decimal(50))  # the stage default
    assert after["notes"] == "First call went well" and after["assigned_user_id"] == deal["pm"]

    # Someone else moves the deal on while this board is open: a move from the card as it
    # was drawn is refused, naming them, and their stage stays.
    with session_scope() as s:
        opps.move_stage(session=s, viewer=viewer_of("vp"), opportunity_id=card,
                        to_stage="proposal")
        s.commit()
    watch = Watch(Opportunity, deal["id"], DEAL_BOOKKEEPING)
    clicked(at, f"move_open_{card}")
    at.selectbox(key=f"move_to_{card}").set_value("demo")
    clicked(at, f"move_submit_{card}")
    assert any(m.startswith(f"Changed by {LOGINS['vp'].name} at ") for m in messages(at.error))
    watch.nothing_written()


# --- partner profile ------------------------------------------------------------------------

PARTNER_WIDGETS = {
    "name": ("text_input", "p_name_", words.map(lambda w: f"Partner {w}")),
    "notes": ("text_area", "p_notes_", words),
    "website": ("text_input", "p_website_",
                hs.text(string.ascii_lowercase, min_size=1, max_size=12).map(
                    lambda w: f"https://{w}.example")),
    "primary_contact_name": ("text_input", "p_contact_", words),
    "primary_contact_email": ("text_input", "p_contact_email_", emails),
    "relationship_health": ("selectbox", "p_health_", hs.sampled_from(HEALTH)),
    "domain": ("selectbox", "p_domain_", hs.sampled_from(DOMAINS)),
}


def partner_widget(at, field: str):
    kind, prefix, _ = PARTNER_WIDGETS[field]
    widgets = getattr(at, kind)
    return widgets(key=key_with(widgets, prefix, but="p_contact_email_"
                                if field == "primary_contact_name" else None))


def test_the_partner_profile_saves_only_the_field_edited(deal):
    at = open_page("sales_manager", "pages/partner_detail.py", id=str(deal["partner"]))

    def save():
        clicked(at, key_with(at.button, "p_submit_"))

    watch = Watch(Partner, deal["partner"], {"updated_at"})
    save()
    assert "Nothing changed." in messages(at.info)
    watch.nothing_written()

    @EXAMPLES
    @given(hs.data())
    def one_field(data):
        field = data.draw(hs.sampled_from(sorted(PARTNER_WIDGETS)))
        current = stored(Partner, deal["partner"])[field]
        value = data.draw(PARTNER_WIDGETS[field][2].filter(
            lambda v: not same_as_stored(current, v)))
        watch = Watch(Partner, deal["partner"], {"updated_at"})
        partner_widget(at, field).set_value(value)
        save()
        watch.only(field)

    one_field()


def test_a_partner_edit_never_overwrites_what_someone_else_saved_meanwhile(deal):
    """Issue 18 #1: B saves notes while A's form is open; A changes only Health."""
    at = open_page("sales_manager", "pages/partner_detail.py", id=str(deal["partner"]))
    with session_scope() as s:
        partners.update_partner(session=s, viewer=viewer_of("vp"), partner_id=deal["partner"],
                                notes="B's notes")
        s.commit()
    watch = Watch(Partner, deal["partner"], {"updated_at"})
    partner_widget(at, "relationship_health").set_value("at_risk")
    clicked(at, key_with(at.button, "p_submit_"))
    assert any(m.startswith(f"Changed by {LOGINS['vp'].name} at ") for m in messages(at.error))
    watch.nothing_written()   # refused: B's notes stay, A's health is not written blind

    clicked(at, key_with(at.button, f"partner@{deal['partner']}_reload"))
    assert partner_widget(at, "notes").value == "B's notes"
    partner_widget(at, "relationship_health").set_value("at_risk")
    clicked(at, key_with(at.button, "p_submit_"))
    assert watch.only("relationship_health")["notes"] == "B's notes"


def test_logging_a_touch_adds_one_touch_and_changes_nothing_else(deal):
    at = open_page("partnership_manager", "pages/partner_detail.py", id=str(deal["partner"]))
    partner_before = stored(Partner, deal["partner"])
    audit = audit_ids()
    at.selectbox(key=f"t_kind_{deal['partner']}").set_value("qbr")
    at.text_area(key=f"t_summary_{deal['partner']}").set_value("Expansion in EMEA")
    clicked(at, f"t_submit_{deal['partner']}")
    at.run()   # a rerun after the save logs nothing again
    with session_scope() as s:
        [touch] = s.scalars(select(PartnerActivity))
        assert (touch.activity_type, touch.summary) == ("qbr", "Expansion in EMEA")
    [entry] = entries_since(audit)
    assert entry.action == "log_touch"
    assert set(entry.new_values) == {"partner_id", "activity_type", "occurred_on", "summary"}
    assert stored(Partner, deal["partner"]) == partner_before


# --- commission structures ------------------------------------------------------------------

STRUCTURE_WIDGETS = {
    "commission_percentage": ("text_input", "_pct",
                              hs.integers(0, 10000).map(lambda n: f"{Decimal(n) / 100:.2f}")),
    "notes": ("text_input", "_notes", words),
    "max_deal_size": ("text_input", "_max", amounts.map(lambda v: f"{v + 1:.2f}")),
    "is_lifetime": ("checkbox", "_life", hs.booleans()),
    "effective_to": ("date_input", "_to", days),
    "structure_type": ("selectbox", "_type", hs.sampled_from(STRUCTURE_TYPES)),
}


def test_the_commission_structure_editor_saves_only_the_field_edited(deal):
    with session_scope() as s:
        structure = make_structure(s, s.get(Partner, deal["partner"]), notes="Standard terms",
                                   effective_from=date(2025, 1, 1)).id
        s.commit()
    at = open_page("sales_manager", "pages/partner_detail.py", id=str(deal["partner"]))

    def widget(field: str):
        kind, suffix, _ = STRUCTURE_WIDGETS[field]
        widgets = getattr(at, kind)
        return widgets(key=key_with(widgets, f"s_edit_{structure}", suffix))

    watch = Watch(CommissionStructure, structure)
    clicked(at, f"s_edit_submit_{structure}")
    assert "Nothing changed." in messages(at.info)
    watch.nothing_written()

    @EXAMPLES
    @given(hs.data())
    def one_field(data):
        field = data.draw(hs.sampled_from(sorted(STRUCTURE_WIDGETS)))
        current = stored(CommissionStructure, structure)[field]
        value = data.draw(STRUCTURE_WIDGETS[field][2].filter(
            lambda v: not same_as_stored(current, v)))
        watch = Watch(CommissionStructure, structure)
        widget(field).set_value(value)
        clicked(at, f"s_edit_submit_{structure}")
        watch.only(field)

    one_field()

    # Someone else changes the notes while the form is open: this user's save is refused,
    # naming them; after a reload the rate is saved and the notes stay theirs.
    with session_scope() as s:
        commissions.update_structure(session=s, viewer=viewer_of("vp"), structure_id=structure,
                                     notes="Renegotiated")
        s.commit()
    watch = Watch(CommissionStructure, structure)
    rate = "12.50" if watch.row["commission_percentage"] != Decimal("12.50") else "13.00"
    widget("commission_percentage").set_value(rate)
    clicked(at, f"s_edit_submit_{structure}")
    assert any(m.startswith(f"Changed by {LOGINS['vp'].name} at ") for m in messages(at.error))
    watch.nothing_written()
    clicked(at, f"structure@{structure}_reload")
    widget("commission_percentage").set_value(rate)
    clicked(at, f"s_edit_submit_{structure}")
    assert watch.only("commission_percentage")["notes"] == "Renegotiated"


# --- tasks ----------------------------------------------------------------------------------

@pytest.fixture
def task() -> Any:
    with session_scope() as s:
        done = make_task(s, s.get(User, user_of("sales_manager").id), title="Call Acme",
                         description="About the renewal", priority="medium",
                         due_date=WEEK + timedelta(days=3)).id
        s.commit()
        return done


TASK_CELLS = {
    "Title": ("title", words),
    "Priority": ("priority", hs.sampled_from(PRIORITIES).map(PRIORITY_LABELS.get)),
    "Due": ("due_date", days.map(date.isoformat)),
}


def test_the_tasks_grid_saves_only_the_cell_edited(task):
    at = open_page("sales_manager", "pages/tasks.py")

    def edit(cells):
        at.session_state[at.session_state["tasks_grid_drawn"][0]] = {
            "edited_rows": {0: cells}, "added_rows": [], "deleted_rows": []}
        at.run()
        assert not at.exception, at.exception

    watch = Watch(Task, task, {"updated_at"})
    edit({"Title": "Call Acme", "Priority": "◆ Medium"})   # typed back as they were
    watch.nothing_written()

    @EXAMPLES
    @given(hs.data())
    def one_cell(data):
        column = data.draw(hs.sampled_from(sorted(TASK_CELLS)))
        field, values = TASK_CELLS[column]
        current = stored(Task, task)[field]
        value = data.draw(values.filter(
            lambda v: not same_as_stored(current, v)
            and PRIORITY_LABELS.get(current) != v))
        watch = Watch(Task, task, {"updated_at"})
        edit({column: value})
        watch.only(field)

    one_cell()


def test_the_task_form_saves_only_the_field_edited(task):
    at = open_page("sales_manager", "pages/tasks.py")

    def widget(kind: str, suffix: str):
        widgets = getattr(at, kind)
        return widgets(key=key_with(widgets, f"task_edit_{task}", suffix))

    def save():
        clicked(at, key_with(at.button, f"task_edit_{task}", "_save"))

    watch = Watch(Task, task, {"updated_at"})
    save()
    assert "Nothing changed." in messages(at.info)
    watch.nothing_written()

    widget("selectbox", "_priority").set_value("high")
    save()
    watch.only("priority")

    # Another window changes the description; this one changes only the title.
    with session_scope() as s:
        from isv.services import tasks
        tasks.update_task(session=s, viewer=viewer_of("sales_manager"), task_id=task,
                          description="Renewal and upsell")
        s.commit()
    watch = Watch(Task, task, {"updated_at"})
    widget("text_input", "_title").set_value("Call Acme's CFO")
    save()
    assert watch.only("title")["description"] == "Renewal and upsell"


# --- goals ----------------------------------------------------------------------------------

def test_a_goal_change_writes_only_the_field_edited():
    year, quarter = goals.current_quarter()
    with session_scope() as s:
        goals.set_goal(session=s, viewer=viewer_of("sales_manager"), year=year,
                       quarter=quarter, goal_type="revenue", target="100000",
                       notes="Stretch target")
        goal = s.scalar(select(QuarterlyGoal.id))
        s.commit()
    at = open_page("sales_manager", "pages/goals.py")
    assert at.text_input(key="goal_set_target").value == "100000.00"
    assert at.text_input(key="goal_set_notes").value == "Stretch target"

    watch = Watch(QuarterlyGoal, goal, {"updated_at"})
    clicked(at, "goal_set_submit")
    assert "Nothing changed." in messages(at.info)
    watch.nothing_written()

    @EXAMPLES
    @given(hs.data())
    def one_field(data):
        field = data.draw(hs.sampled_from(["revenue_target", "notes"]))
        current = stored(QuarterlyGoal, goal)[field]
        if field == "notes":
            value = data.draw(words.filter(lambda v: not same_as_stored(current, v)))
        else:
            value = data.draw(amounts.map(lambda v: f"{v + 1:.2f}").filter(
                lambda v: not same_as_stored(current, v)))
        watch = Watch(QuarterlyGoal, goal, {"updated_at"})
        key = "goal_set_notes" if field == "notes" else "goal_set_target"
        at.text_input(key=key).set_value(value)
        clicked(at, "goal_set_submit")
        watch.only(field)

    one_field()


# --- users ----------------------------------------------------------------------------------

def test_a_role_change_writes_only_the_role_and_a_stale_button_never_undoes_a_change():
    pm = user_of("partnership_manager")
    at = open_page("vp", "pages/users.py")
    at.selectbox(key="change_user").set_value(pm.id).run()

    watch = Watch(User, pm.id, {"updated_at"})
    clicked(at, "role_submit")
    assert "Nothing changed." in messages(at.info)
    watch.nothing_written()

    at.selectbox(key=key_with(at.selectbox, f"role_{pm.id}")).set_value("sales_manager")
    clicked(at, "role_submit")
    watch.only("role")

    # The page says "Deactivate"; meanwhile someone else deactivates the user. The click
    # asks for what the button said: the user stays inactive, nothing is written.
    assert at.button(key="active_submit").label == "Deactivate"
    with session_scope() as s:
        users.set_active(session=s, viewer=viewer_of("vp"), user_id=pm.id, active=False)
        s.commit()
    watch = Watch(User, pm.id, {"updated_at"})
    clicked(at, "active_submit")
    watch.nothing_written()
    assert at.button(key="active_submit").label == "Reactivate"


# --- settings -------------------------------------------------------------------------------

SETTING_INPUTS = {  # setting -> (widget kind, key, strategy)
    "currency_symbol": ("text_input", "set_currency", hs.sampled_from(["€", "£", "CHF", "kr"])),
    "relationship_cadence_days": ("text_input", "set_cadence", hs.integers(1, 365).map(str)),
    "audit_retention_days": ("text_input", "set_audit_days", hs.integers(1, 36_500).map(str)),
    "fiscal_year_start_month": ("selectbox", "set_fiscal_month", hs.integers(1, 12)),
    "alert_goal_milestones": ("text_input", "set_milestones",
                              hs.sets(hs.integers(1, 100), min_size=1, max_size=5).map(
                                  lambda ms: ", ".join(str(m) for m in sorted(ms)))),
    "health_touch_points": ("text_input", "set_health_touch", hs.integers(0, 100).map(str)),
    "health_base": ("text_input", "set_health_base", hs.integers(0, 100).map(str)),
    "health_stall_days": ("text_input", "set_health_stall_days", hs.integers(1, 365).map(str)),
    "health_alert_threshold": ("text_input", "set_health_alert", hs.integers(0, 100).map(str)),
}


def settings_now() -> dict[str, Any]:
    now = app_settings.current_settings()
    return {name: getattr(now, name) for name in app_settings.FIELDS}


def settings_entries(before: set) -> list[AuditEntry]:
    return [e for e in entries_since(before) if e.entity_type == "settings"]


def test_settings_send_only_what_was_changed_on_the_page():
    at = open_page("vp", "pages/settings.py")
    before, audit = settings_now(), audit_ids()
    clicked(at, "set_submit")
    assert settings_now() == before and entries_since(audit) == []

    # Issue 18 #1: the admin saves € while the vp's page is open; the vp changes the cadence.
    with session_scope() as s:
        app_settings.update_settings(session=s, viewer=viewer_of("admin"), currency_symbol="€")
        s.commit()
    before, audit = settings_now(), audit_ids()
    at.text_input(key="set_cadence").set_value("21")
    clicked(at, "set_submit")
    after = settings_now()
    assert after["currency_symbol"] == "€" and after["relationship_cadence_days"] == 21
    assert {k for k in after if after[k] != before[k]} == {"relationship_cadence_days"}
    [entry] = settings_entries(audit)
    assert set(entry.new_values) == {"relationship_cadence_days"}
    assert at.text_input(key="set_currency").value == "€"   # the page now shows what is stored

    # One stage's default: the others keep theirs.
    before, audit = settings_now(), audit_ids()
    at.text_input(key="set_prob_poc").set_value("45")
    clicked(at, "set_submit")
    after = settings_now()
    assert {k for k in after if after[k] != before[k]} == {"stage_probabilities"}
    assert {s for s, p in after["stage_probabilities"].items()
            if p != before["stage_probabilities"][s]} == {"poc"}

    # One health score weight: the other weights keep theirs.
    before, audit = settings_now(), audit_ids()
    at.text_input(key="set_health_slipped").set_value("25")
    clicked(at, "set_submit")
    after = settings_now()
    assert after["health_slipped_points"] == 25
    assert {k for k in after if after[k] != before[k]} == {"health_slipped_points"}

    # One tier's minimum: the other tiers, and that tier's other minimums, keep theirs.
    before, audit = settings_now(), audit_ids()
    at.text_input(key="set_tier_2_min_won_revenue").set_value("600000")
    clicked(at, "set_submit")
    after = settings_now()
    assert {k for k in after if after[k] != before[k]} == {"partner_tiers"}
    assert [(b, a) for b, a in zip(before["partner_tiers"], after["partner_tiers"], strict=True)
            if a != b] == [(before["partner_tiers"][2], dataclasses.replace(
                before["partner_tiers"][2], min_won_revenue=Decimal("600000")))]
    [entry] = settings_entries(audit)
    assert set(entry.new_values) == {"partner_tiers"}

    @EXAMPLES
    @given(hs.data())
    def one_setting(data):
        name = data.draw(hs.sampled_from(sorted(SETTING_INPUTS)))
        kind, key, values = SETTING_INPUTS[name]
        before, audit = settings_now(), audit_ids()
        shown = getattr(at, kind)(key=key).value
        value = data.draw(values.filter(lambda v: str(v) != str(shown)
                                        and str(v) != str(before[name])))
        getattr(at, kind)(key=key).set_value(value)
        clicked(at, "set_submit")
        after = settings_now()
        assert {k for k in after if after[k] != before[k]} == {name}
        [entry] = settings_entries(audit)
        assert set(entry.new_values) == {name}

    one_setting()


# --- weekly status --------------------------------------------------------------------------

def test_the_weekly_status_saves_only_the_box_typed_in():
    from tests.app.test_weekly_pages import type_into

    with session_scope() as s:
        status.save_draft(session=s, viewer=viewer_of("sales_manager"), week_start_date=WEEK,
                          accomplishments="- Met Globex", upcoming_tasks="- QBR prep",
                          blockers="- Legal review", kpi_metrics=[("Calls", 12)])
        row = s.scalar(select(WeeklyStatus.id))
        s.commit()
    at = open_page("sales_manager", "pages/weekly_status.py")

    watch = Watch(WeeklyStatus, row, {"updated_at"})
    type_into(at, accomplishments="- Met Globex")   # the same text: nothing to save
    watch.nothing_written()

    type_into(at, accomplishments="- Met Globex\n- Signed Initech")
    watch.only("accomplishments")

    # Another window saves the blockers; this one then types in Upcoming only.
    with session_scope() as s:
        status.save_draft(session=s, viewer=viewer_of("sales_manager"), week_start_date=WEEK,
                          blockers="- Waiting on procurement")
        s.commit()
    watch = Watch(WeeklyStatus, row, {"updated_at"})
    type_into(at, upcoming_tasks="- QBR prep\n- Renewal call")
    assert watch.only("upcoming_tasks")["blockers"] == "- Waiting on procurement"

    # A KPI edited in its table saves the metrics only.
    watch = Watch(WeeklyStatus, row, {"updated_at"})
    at.session_state[f"weekly_{WEEK.isoformat()}_kpi"] = {
        "edited_rows": {0: {"Value": 15}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert watch.only("kpi_metrics")["kpi_metrics"] == {"Calls": 15}

    # Submitting sends nothing this window has not changed: the other window's blockers stay.
    with session_scope() as s:
        status.save_draft(session=s, viewer=viewer_of("sales_manager"), week_start_date=WEEK,
                          blockers="- Procurement signed off")
        s.commit()
    watch = Watch(WeeklyStatus, row, {"updated_at", "submitted_at"})
    clicked(at, "weekly_submit")
    after = watch.only("state", audited={"state", "submitted_at"})
    assert after["blockers"] == "- Procurement signed off"
