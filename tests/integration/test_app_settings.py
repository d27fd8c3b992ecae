"""Settings: saved values win over the defaults, are checked, audited, and used where they apply."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import Engine, event, select

from isv import display
from isv.analytics.periods import parse_period, quarter_containing
from isv.auth import Viewer
from isv.db import session_scope
from isv.errors import Forbidden, ValidationError
from isv.models import Alert, AppSetting, AuditEntry, PartnerActivity
from isv.services import alerts, settings
from isv.services import opportunities as opps
from isv.services.settings import current_settings, local_zone, update_settings
from tests.factories import make_opportunity, make_partner, make_user, viewer_of

TODAY = date(2026, 11, 18)
NOW = datetime(2026, 11, 18, 9, 30, tzinfo=UTC)
SYSTEM = Viewer.system("tests")


@pytest.fixture
def vp(session):
    return viewer_of(make_user(session, role="vp"))


@pytest.fixture
def configured(fresh_url):
    """A migrated database that the app reads its settings from (no session passed)."""
    return fresh_url


def save(**changes):
    with session_scope() as s:
        done = update_settings(session=s, viewer=SYSTEM, **changes)
        s.commit()
        return done


# --- defaults and saving -----------------------------------------------------------------

def test_before_anyone_saves_the_settings_are_todays_defaults(session):
    now = current_settings(session)
    assert now.fiscal_year_start_month == 1 and now.time_zone == "UTC"
    assert now.currency_symbol == "$" and now.relationship_cadence_days == 30
    assert dict(now.stage_probabilities) == {"lead": 10, "demo": 25, "poc": 50, "proposal": 75,
                                             "closed_won": 100, "closed_lost": 0}
    assert (now.alert_due_soon_days, now.alert_due_very_soon_days) == (7, 2)
    assert now.alert_goal_milestones == (50, 75, 100)
    assert now.audit_retention_days is None and now.read_alert_retention_days is None


def test_a_saved_value_wins_and_the_others_keep_their_defaults(session, vp):
    update_settings(session=session, viewer=vp, relationship_cadence_days="14",
                    audit_retention_days=365)
    now = current_settings(session)
    assert now.relationship_cadence_days == 14 and now.audit_retention_days == 365
    assert now.currency_symbol == "$" and now.fiscal_year_start_month == 1


def test_a_save_is_audited_with_old_and_new_values(session, vp):
    update_settings(session=session, viewer=vp, currency_symbol="€",
                    stage_probabilities={"lead": 5, "demo": 25, "poc": 50, "proposal": 75})
    [entry] = session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "settings"))
    assert entry.action == "update" and entry.actor_id == vp.id
    assert entry.old_values == {"currency_symbol": "$",
                                "stage_probabilities": {"lead": 10, "demo": 25, "poc": 50,
                                                        "proposal": 75, "closed_won": 100,
                                                        "closed_lost": 0}}
    assert entry.new_values["currency_symbol"] == "€"
    assert entry.new_values["stage_probabilities"]["lead"] == 5


def test_saving_what_is_already_in_force_writes_and_audits_nothing(session, vp):
    update_settings(session=session, viewer=vp, currency_symbol="$", fiscal_year_start_month=1)
    assert session.scalars(select(AppSetting)).all() == []
    assert session.scalars(select(AuditEntry).where(AuditEntry.entity_type == "settings")
                           ).all() == []


def test_clearing_a_retention_keeps_entries_forever_again(session, vp):
    update_settings(session=session, viewer=vp, read_alert_retention_days="30")
    update_settings(session=session, viewer=vp, read_alert_retention_days="")
    assert current_settings(session).read_alert_retention_days is None


# --- who may ---------------------------------------------------------------------------

@pytest.mark.parametrize("role", ["sales_manager", "partnership_manager"])
def test_only_vp_and_admin_may_change_settings(session, role):
    someone = viewer_of(make_user(session, role=role))
    with pytest.raises(Forbidden, match="may not change settings"):
        update_settings(session=session, viewer=someone, currency_symbol="€")
    assert current_settings(session).currency_symbol == "$"


def test_an_admin_may_change_settings(session):
    admin = viewer_of(make_user(session, role="admin"))
    assert update_settings(session=session, viewer=admin, time_zone="Europe/Berlin"
                           ).time_zone == "Europe/Berlin"


# --- bad input -------------------------------------------------------------------------

@pytest.mark.parametrize(("changes", "field", "reason"), [
    ({"fiscal_year_start_month": 13}, "fiscal_year_start_month", "must be 1 to 12, got 13"),
    ({"fiscal_year_start_month": "March"}, "fiscal_year_start_month", "is not a whole number"),
    ({"relationship_cadence_days": 0}, "relationship_cadence_days", "must be 1 to 365"),
    ({"alert_due_soon_days": 3, "alert_due_very_soon_days": 3}, "alert_due_very_soon_days",
     "must be fewer days than 'due soon' (3)"),
    ({"alert_goal_milestones": "50, 150"}, "alert_goal_milestones", "must be 1 to 100"),
    ({"alert_goal_milestones": ""}, "alert_goal_milestones", "give 1 to 5 percentages"),
    ({"time_zone": "Mars/Olympus"}, "time_zone", "is not a time zone"),
    ({"currency_symbol": ""}, "currency_symbol", "is required"),
    ({"currency_symbol": "US$$$"}, "currency_symbol", "at most 4 characters"),
    ({"currency_symbol": "1€"}, "currency_symbol", "may not hold digits"),
    ({"stage_probabilities": {"lead": 10, "demo": 25, "poc": 101, "proposal": 75}},
     "stage_probabilities.poc", "must be 0 to 100, got 101"),
    ({"stage_probabilities": {"lead": 10, "demo": 25, "poc": 50}},
     "stage_probabilities", "proposal needs a probability"),
    ({"stage_probabilities": {"lead": 10, "demo": 25, "poc": 50, "proposal": 75,
                              "closed_won": 90}},
     "stage_probabilities.closed_won", "is always 100 %"),
    ({"audit_retention_days": -5}, "audit_retention_days", "must be 1 to 36500"),
    ({"colour": "blue"}, "colour", "is not a setting"),
])
def test_a_bad_value_is_refused_naming_its_field_and_nothing_is_saved(session, vp, changes,
                                                                      field, reason):
    with pytest.raises(ValidationError) as refused:
        # A good value beside the bad one: nothing is saved, not even the good one.
        update_settings(session=session, viewer=vp, **{"read_alert_retention_days": 10,
                                                        **changes})
    assert refused.value.field == field and reason in refused.value.reason
    assert session.scalars(select(AppSetting)).all() == []


# --- used where they apply: alerts and deals (through the session) -----------------------

def test_the_saved_relationship_cadence_decides_when_a_quiet_partner_raises_an_alert(
        session, vp):
    owner = make_user(session, role="partnership_manager")
    partner = make_partner(session, owner_id=owner.id)
    session.add(PartnerActivity(partner_id=partner.id, activity_type="call",
                                occurred_on=TODAY - timedelta(days=12)))
    session.flush()
    assert alerts.relationship_maintenance(session=session, today=TODAY, now=NOW) == 0
    update_settings(session=session, viewer=vp, relationship_cadence_days=10)
    assert alerts.relationship_maintenance(session=session, today=TODAY, now=NOW) == 1


def test_the_saved_due_soon_days_decide_which_deals_raise_alerts_and_how_loud(session, vp):
    partner = make_partner(session)
    seller = make_user(session, role="sales_manager")
    deal = make_opportunity(session, partner, assigned_user_id=seller.id,
                            expected_close_date=TODAY + timedelta(days=10))
    assert alerts.opportunity_due(session=session, today=TODAY, now=NOW) == 0
    update_settings(session=session, viewer=vp, alert_due_soon_days=14,
                    alert_due_very_soon_days=10)
    assert alerts.opportunity_due(session=session, today=TODAY, now=NOW) == 1
    [alert] = session.scalars(select(Alert).where(Alert.entity_id == deal.id))
    assert alert.priority == "high"


def test_a_new_deal_and_a_stage_move_take_the_saved_default_probability(session, vp):
    update_settings(session=session, viewer=vp,
                    stage_probabilities={"lead": 5, "demo": 20, "poc": 40, "proposal": 70})
    seller = viewer_of(make_user(session, role="sales_manager"))
    deal = opps.create_opportunity(session=session, viewer=seller,
                                   partner_id=make_partner(session).id,
                                   customer_name="Globex", deal_value="1000", stage="poc")
    assert deal.probability == Decimal(40)
    moved = opps.move_stage(session=session, viewer=seller, opportunity_id=deal.id,
                            to_stage="proposal")
    assert moved.probability == Decimal(70)


# --- used where they apply: periods, money, time zone (the configured database) ---------

def test_a_saved_fiscal_year_start_moves_every_quarter(configured):
    assert parse_period("2027Q1").start == date(2027, 1, 1)
    save(fiscal_year_start_month=2)
    assert quarter_containing(date(2026, 2, 15)).label == "2027Q1"
    q1 = parse_period("2027Q1")
    assert (q1.start, q1.end, q1.title) == (date(2026, 2, 1), date(2026, 4, 30), "Q1 FY2027")


def test_a_saved_currency_symbol_is_how_money_reads_on_cards_charts_and_tables(configured):
    save(currency_symbol="€")
    assert display.money(Decimal("1234567.891")) == "€1,234,567.89"
    assert display.money_short(Decimal("1250000")) == "€1.2M"  # half-even
    assert display.money(Decimal("-12.5")) == "−€12.50"
    assert display.table_money_format([Decimal("5")]) == "€%,.0f"
    save(currency_symbol="CHF")
    assert display.table_money_format([Decimal("5.5")]) == "CHF%,.2f"


def test_a_saved_time_zone_is_what_today_means(configured):
    save(time_zone="Pacific/Kiritimati")
    assert local_zone().key == "Pacific/Kiritimati"


def test_reading_the_settings_again_runs_no_sql_until_something_is_saved(configured, request):
    statements: list[str] = []

    def count(conn, _cursor, statement, *_args):
        if str(conn.engine.url) == configured:
            statements.append(statement)

    event.listen(Engine, "before_cursor_execute", count)
    request.addfinalizer(lambda: event.remove(Engine, "before_cursor_execute", count))
    assert current_settings().currency_symbol == "$"
    statements.clear()
    assert current_settings().currency_symbol == "$"
    assert statements == []
    save(currency_symbol="£")
    assert current_settings().currency_symbol == "£"  # a save is seen at the next read


def test_a_stored_value_that_no_longer_validates_falls_back_to_its_default(configured):
    with session_scope() as s:
        s.add(AppSetting(key="fiscal_year_start_month", value="14"))
        s.commit()
    assert current_settings().fiscal_year_start_month == 1
    assert settings.defaults().fiscal_year_start_month == 1
