"""Partner health scores from the database: the facts query and `isv report health`."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from isv import cli
from isv.analytics import partners as partner_health
from isv.auth import Viewer
from isv.db import session_scope
from isv.errors import ValidationError
from isv.models import Alert, PartnerActivity, PartnerHealthSnapshot, StageHistory
from isv.services import alerts, health, settings
from isv.services.settings import local_today
from scheduler import jobs as scheduler_jobs
from tests.factories import make_opportunity, make_partner, make_user, viewer_of
from tests.integration.conftest import statements

SYSTEM = Viewer.system("tests")
AS_OF = date(2026, 11, 15)  # Q4 of a calendar fiscal year: Oct-Dec


def at(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, tzinfo=UTC)


def partner(session, name: str, *, added: date = date(2025, 1, 1), **overrides):
    return make_partner(session, name=name, created_at=at(added), **overrides)


def touch(session, partner_, day: date) -> None:
    session.add(PartnerActivity(partner_id=partner_.id, activity_type="call", occurred_on=day))
    session.flush()


def deal(session, partner_, *, created: date, value: int = 10000, stage: str = "lead",
         moved: date | None = None, **overrides):
    closed = overrides.pop("closed", None)
    opp = make_opportunity(session, partner_, created_at=at(created), deal_value=Decimal(value),
                           stage=stage, actual_close_date=closed, **overrides)
    if moved is not None:
        session.add(StageHistory(opportunity_id=opp.id, from_stage="lead", to_stage=stage,
                                 changed_at=at(moved)))
        session.flush()
    return opp


def scores(session, **kwargs) -> dict[str, health.PartnerHealth]:
    return {s.partner: s for s in health.partner_scores(session=session, viewer=SYSTEM,
                                                        as_of=AS_OF, **kwargs)}


def points(result: health.PartnerHealth, name: str) -> int:
    return next(p.points for p in result.parts if p.name == name)


def test_facts_count_touches_pipeline_wins_stalls_and_slips_as_of_the_day(session):
    acme = partner(session, "Acme")
    touch(session, acme, date(2026, 10, 5))
    touch(session, acme, date(2026, 11, 20))  # after as_of: not seen
    deal(session, acme, created=date(2026, 10, 20), value=30000)            # this quarter
    deal(session, acme, created=date(2026, 11, 16), value=99000)            # after as_of
    deal(session, acme, created=date(2026, 8, 1), value=60000, stage="demo",
         moved=date(2026, 8, 2), expected_close_date=date(2026, 11, 1))      # stalled, slipped
    deal(session, acme, created=date(2026, 5, 1), stage="closed_won", probability=100,
         closed=date(2026, 6, 1))
    deal(session, acme, created=date(2026, 5, 1), stage="closed_lost", closed=date(2026, 7, 1),
         lost_reason="budget")
    deal(session, acme, created=date(2025, 1, 2), stage="closed_won", probability=100,
         closed=date(2025, 2, 1))                                           # outside 12 months
    [fact] = health.partner_facts(session=session, viewer=SYSTEM, as_of=AS_OF,
                                  partner_ids=[acme.id])
    assert fact.last_touch == date(2026, 10, 5)
    assert fact.new_pipeline == Decimal(30000)
    assert fact.previous_pipeline == (Decimal(60000), Decimal(20000), Decimal(0))
    assert (fact.quarter_days, fact.quarter_elapsed_days) == (92, 46)
    assert (fact.won, fact.lost) == (1, 1)
    assert (fact.open_deals, fact.stalled, fact.slipped) == (2, 1, 1)


def test_the_parts_add_up_to_the_score_for_every_partner(session):
    quiet = partner(session, "Quiet")
    busy = partner(session, "Busy")
    touch(session, busy, AS_OF)
    for day in (date(2026, 10, 2), date(2026, 11, 2)):
        deal(session, busy, created=day, value=50000)
    deal(session, quiet, created=date(2026, 6, 1), stage="closed_lost",
         closed=date(2026, 6, 20), lost_reason="price")
    found = scores(session)
    for result in found.values():
        assert result.total == result.score or result.clamped
    assert found["Busy"].score > found["Quiet"].score
    assert points(found["Quiet"], "touch") == -20


def test_a_stage_change_within_the_stall_setting_keeps_a_deal_from_counting_as_stalled(session):
    acme = partner(session, "Acme")
    deal(session, acme, created=date(2026, 8, 1), moved=date(2026, 11, 1), stage="demo")
    assert points(scores(session)["Acme"], "stalled") == 0
    admin = viewer_of(make_user(session, role="admin"))
    settings.update_settings(session=session, viewer=admin, health_stall_days=10)
    assert points(scores(session)["Acme"], "stalled") == -10


def test_weights_from_the_settings_change_the_score(session):
    acme = partner(session, "Acme")
    before = scores(session)["Acme"]
    admin = viewer_of(make_user(session, role="admin"))
    settings.update_settings(session=session, viewer=admin, health_base="60",
                             health_touch_points="0")
    after = scores(session)["Acme"]
    assert points(after, "base") == 60 and points(after, "touch") == 0
    assert after.score == before.score + 10 + 20
    assert acme.id == after.partner_id


def test_a_partnership_manager_sees_only_their_partners_scores(session):
    manager = make_user(session, role="partnership_manager")
    partner(session, "Theirs", owner_id=manager.id)
    partner(session, "Others")
    names = [s.partner for s in health.partner_scores(session=session,
                                                      viewer=viewer_of(manager), as_of=AS_OF)]
    assert names == ["Theirs"]


def test_the_facts_take_the_same_statements_for_one_partner_or_many(session):
    first = partner(session, "First")
    deal(session, first, created=date(2026, 10, 3))

    def run():
        health.partner_scores(session=session, viewer=SYSTEM, as_of=AS_OF)

    one = statements(session, run)
    for n in range(6):
        extra = partner(session, f"More {n}")
        touch(session, extra, date(2026, 11, 1))
        deal(session, extra, created=date(2026, 9, 3), stage="demo", moved=date(2026, 9, 4))
    assert statements(session, run) == one


def _report(*args: str):
    return CliRunner().invoke(cli.main, ["report", "health", *args])


def test_report_health_prints_each_partners_score_and_parts_as_json(cli_url):
    result = _report("--format", "json")
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    assert row["partner"] == "Ledgerline"
    assert set(row) == {"partner", "score", "parts"}
    assert sum(p["points"] for p in row["parts"]) == row["score"]
    assert all(set(p) == {"name", "points", "reason"} for p in row["parts"])
    assert row["parts"][0] == {"name": "base", "points": 50,
                               "reason": "the base every partner starts from"}


def test_report_health_as_a_table_names_the_partner_and_its_reasons(cli_url):
    result = _report("--as-of", "2026-11-15")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Ledgerline")
    assert "no touch since the partner was added" in result.stdout


def test_report_health_with_a_malformed_day_is_refused_naming_the_flag(cli_url):
    result = _report("--as-of", "15/11/2026")
    assert result.exit_code == 1
    assert result.stderr.strip().startswith("Error: as-of:")


def test_a_hand_set_label_overrides_the_score_until_its_expiry(session):
    from isv.services import partners

    vp = viewer_of(make_user(session, role="vp"))
    acme = partner(session, "Acme")
    assert scores(session)["Acme"].health == "needs_attention"  # 50, never touched: −20
    partners.update_partner(session=session, viewer=vp, partner_id=acme.id,
                            relationship_health="at_risk", health_reason="Champion left",
                            health_until=local_today() + timedelta(days=10))
    now = health.partner_scores(session=session, viewer=SYSTEM)[0]
    assert now.overridden and now.health == "at_risk" and now.reason == "Champion left"
    later = health.partner_scores(session=session, viewer=SYSTEM,
                                  as_of=local_today() + timedelta(days=11))[0]
    assert not later.overridden and later.health == "needs_attention"


@pytest.mark.parametrize(("changes", "field"), [
    ({"health_reason": "Champion left"}, "health_until"),
    ({"health_until": "2099-01-01", "health_reason": "Far"}, "health_until"),
    ({"health_until": "2000-01-01", "health_reason": "Past"}, "health_until"),
])
def test_an_override_without_its_pair_or_out_of_range_is_refused_by_field(session, changes,
                                                                          field):
    from isv.services import partners

    vp = viewer_of(make_user(session, role="vp"))
    acme = partner(session, "Acme")
    with pytest.raises(ValidationError) as refused:
        partners.update_partner(session=session, viewer=vp, partner_id=acme.id, **changes)
    assert refused.value.field == field
    session.refresh(acme)
    assert acme.health_reason is None and acme.health_until is None


# --- weekly snapshots ---------------------------------------------------------------------

def test_a_snapshot_keeps_each_partners_score_once_a_day_and_history_reads_it_back(session):
    acme = partner(session, "Acme")
    touch(session, acme, date(2026, 11, 2))
    for day in (date(2026, 11, 2), date(2026, 11, 9), date(2026, 11, 9)):
        counts = health.take_snapshots(session=session, viewer=SYSTEM, today=day)
        assert counts == {"partners": 1}
    trend = health.history(session=session, viewer=SYSTEM, partner_id=acme.id)
    assert [day for day, _ in trend] == [date(2026, 11, 2), date(2026, 11, 9)]
    assert trend[0][1] > trend[1][1]  # a week further from the last touch
    stored = session.scalar(select(PartnerHealthSnapshot)
                            .where(PartnerHealthSnapshot.taken_on == date(2026, 11, 9)))
    assert sum(p["points"] for p in stored.parts) == stored.score


def test_the_change_is_measured_from_the_last_snapshot_before_the_day(session):
    acme = partner(session, "Acme")
    touch(session, acme, date(2026, 11, 2))
    health.take_snapshots(session=session, viewer=SYSTEM, today=date(2026, 11, 2))
    [change] = partner_health.health_changes(session=session, viewer=SYSTEM, as_of=AS_OF)
    then = health.history(session=session, viewer=SYSTEM, partner_id=acme.id)[0][1]
    assert change.previous == then
    assert change.change == change.score - then < 0


def test_the_scheduler_job_takes_the_weekly_snapshot(committed_url):
    with session_scope(committed_url) as s:
        make_partner(s, name="Acme", domain="FinOps")
        s.commit()
    outcome = scheduler_jobs.run_job("health_snapshot", url=committed_url,
                                     instance_id="host:1:once")
    assert outcome.ok, outcome.error
    assert outcome.counts == {"partners": 1}
    with session_scope(committed_url) as s:
        assert s.scalar(select(func.count()).select_from(PartnerHealthSnapshot)) == 1


# --- the maintenance alert -----------------------------------------------------------------

def maintenance_alerts(session) -> list[str]:
    return [a.message for a in session.scalars(
        select(Alert).where(Alert.alert_type == "relationship_maintenance"))
        if "health score" in a.message]


def test_a_score_falling_below_the_threshold_raises_one_alert_naming_the_part(session):
    owner = make_user(session, role="partnership_manager")
    acme = partner(session, "Acme", owner_id=owner.id)
    today = local_today()
    touch(session, acme, today - timedelta(days=20))
    deal(session, acme, created=today - timedelta(days=20), stage="closed_won",
         probability=100, closed=today - timedelta(days=10))
    health.take_snapshots(session=session, viewer=SYSTEM, today=today - timedelta(days=7))
    admin = viewer_of(make_user(session, role="admin"))
    settings.update_settings(session=session, viewer=admin, health_alert_threshold=75)
    # The win rate part is as it was; a week further from the touch is what moved it.
    [crossing] = health.crossings(session=session, viewer=SYSTEM, today=today)
    assert crossing.moved.name == "touch"
    alerts.relationship_maintenance(session=session, today=today)
    alerts.relationship_maintenance(session=session, today=today)
    [message] = maintenance_alerts(session)
    assert message.startswith(f"Acme's health score is {crossing.score}, below 75 (was ")
    assert "Moved most by touch recency" in message and "last touch 20" in message


def test_a_score_already_below_at_the_last_snapshot_raises_nothing_new(session):
    acme = partner(session, "Acme")
    today = local_today()
    health.take_snapshots(session=session, viewer=SYSTEM, today=today - timedelta(days=7))
    admin = viewer_of(make_user(session, role="admin"))
    settings.update_settings(session=session, viewer=admin, health_alert_threshold=90)
    assert health.partner_scores(session=session, viewer=SYSTEM)[0].score < 90
    assert acme.id and health.crossings(session=session, viewer=SYSTEM, today=today) == []
