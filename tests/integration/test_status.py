"""Weekly status: drafted from the data, saved as typed, submitted once; the team's week."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from isv.dates import monday_of
from isv.db import make_engine
from isv.errors import Forbidden, ValidationError
from isv.models import AuditEntry, PartnerActivity, StageHistory, WeeklyStatus
from isv.services import status
from isv.services.settings import local_today, local_zone
from tests.factories import make_opportunity, make_partner, make_task, make_user, viewer_of

WEEK = date(2026, 3, 2)          # a Monday
WEDNESDAY = date(2026, 3, 4)


def _person(session, role: str = "sales_manager", **overrides):
    user = make_user(session, role=role, **overrides)
    return user, viewer_of(user)


def _at(day: date, hour: int = 10, minute: int = 0) -> datetime:
    """A moment on `day` in the deployment's time zone."""
    return datetime.combine(day, time(hour, minute), tzinfo=local_zone())


def _rows(session) -> int:
    return session.scalar(select(func.count()).select_from(WeeklyStatus))


def _audits(session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEntry))


def _save(session, viewer, week=WEEK, **fields):
    values = dict(accomplishments="", upcoming_tasks="", blockers="", kpi_metrics=[])
    values.update(fields)
    return status.save_draft(session=session, viewer=viewer, week_start_date=week, **values)


def _submit(session, viewer, week=WEEK, **fields):
    values = dict(accomplishments="", upcoming_tasks="", blockers="", kpi_metrics=[])
    values.update(fields)
    return status.submit(session=session, viewer=viewer, week_start_date=week, **values)


# --- weeks -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("week", "message"), [
    ("2026-03-04", "2026-03-04 is a Wednesday: weeks start on Monday "
                   "(that week's Monday is 2026-03-02)"),
    (date(2026, 3, 8), "2026-03-08 is a Sunday: weeks start on Monday "
                       "(that week's Monday is 2026-03-02)"),
    ("1999-12-27", "1999-12-27 is outside 2000–2100"),
    ("2101-01-03", "2101-01-03 is outside 2000–2100"),
    ("next week", "'next week' is not a date like 2026-03-31"),
    (None, "is required"),
])
def test_a_week_that_does_not_start_on_a_monday_is_refused_and_nothing_is_written(
        session, week, message):
    _, me = _person(session)
    before = _rows(session), _audits(session)
    for call in (status.open_week, status.save_draft, status.submit):
        with pytest.raises(ValidationError) as refused:
            call(session=session, viewer=me, week_start_date=week)
        assert (refused.value.field, refused.value.reason) == ("week_start_date", message)
    assert (_rows(session), _audits(session)) == before


def test_an_admin_files_no_status(session):
    _, admin = _person(session, "admin")
    with pytest.raises(Forbidden):
        _save(session, admin, accomplishments="x")
    with pytest.raises(Forbidden):
        status.open_week(session=session, viewer=admin, week_start_date=WEEK)


# --- drafts and submitting -------------------------------------------------------------------

def test_each_change_saves_the_draft_and_reopening_the_week_shows_it(session):
    user, me = _person(session)
    _save(session, me, accomplishments="- Met Globex")
    _save(session, me, accomplishments="- Met Globex\n- Signed Initech", blockers="Legal",
          kpi_metrics=[("Calls", 12), ("Pipeline added", "25000.50")])
    [row] = session.scalars(select(WeeklyStatus).where(WeeklyStatus.user_id == user.id))
    assert row.state == "draft" and row.submitted_at is None
    reopened = status.open_week(session=session, viewer=me, week_start_date=WEEK)
    assert reopened.saved and not reopened.submitted
    assert reopened.accomplishments == "- Met Globex\n- Signed Initech"
    assert reopened.blockers == "Legal" and reopened.upcoming_tasks == ""
    assert reopened.kpi_metrics == [("Calls", Decimal(12)), ("Pipeline added", Decimal("25000.5"))]
    actions = list(session.scalars(select(AuditEntry.action).where(
        AuditEntry.entity_type == "weekly_status", AuditEntry.entity_id == str(row.id))))
    assert sorted(actions) == ["create", "update"]


def test_text_is_stored_as_typed(session):
    _, me = _person(session)
    typed = "  - <b>bold</b> **not bold**\n    - indented $x$"
    saved = _save(session, me, accomplishments=typed)
    assert saved.accomplishments == typed


def test_submitting_marks_the_week_submitted_with_the_time(session):
    _, me = _person(session)
    _save(session, me, accomplishments="draft text")
    done = _submit(session, me, accomplishments="final text", kpi_metrics={"Calls": 3})
    assert done.submitted and done.submitted_at is not None
    assert done.accomplishments == "final text"
    reopened = status.open_week(session=session, viewer=me, week_start_date=WEEK)
    assert reopened.submitted and reopened.kpi_metrics == [("Calls", Decimal(3))]


def test_a_week_can_be_submitted_without_a_draft_first(session):
    _, me = _person(session)
    assert _submit(session, me, blockers="Waiting on legal").submitted


def test_an_empty_submit_is_refused_and_nothing_is_written(session):
    _, me = _person(session)
    before = _rows(session), _audits(session)
    with pytest.raises(ValidationError) as refused:
        _submit(session, me, accomplishments="  ", upcoming_tasks="\n", blockers=None,
                kpi_metrics={"Calls": 3})
    assert refused.value.field == "accomplishments"
    assert refused.value.reason == ("is empty, and so are upcoming and blockers: write at "
                                    "least one before submitting")
    assert (_rows(session), _audits(session)) == before


def test_a_week_is_submitted_once_and_then_cannot_change(session):
    _, me = _person(session)
    _submit(session, me, accomplishments="first")
    before = _rows(session), _audits(session)
    for call in (_submit, _save):
        with pytest.raises(ValidationError) as refused:
            call(session, me, accomplishments="second")
        assert refused.value.field == "week_start_date"
        assert refused.value.reason.startswith(
            "your status for the week of 2 Mar 2026 was already submitted on ")
        assert refused.value.reason.endswith("; a submitted status cannot be changed")
    assert (_rows(session), _audits(session)) == before
    assert status.open_week(session=session, viewer=me,
                            week_start_date=WEEK).accomplishments == "first"


def test_each_person_has_their_own_status_for_the_same_week(session):
    _, one = _person(session)
    _, two = _person(session, "partnership_manager")
    _submit(session, one, accomplishments="one")
    _submit(session, two, accomplishments="two")
    assert status.open_week(session=session, viewer=two,
                            week_start_date=WEEK).accomplishments == "two"


@pytest.mark.parametrize(("metrics", "reason"), [
    ([("", 5)], "row 1: the name is missing"),
    ([("Calls", 1), ("  ", "2")], "row 2: the name is missing"),
    ([("Calls", None)], "'Calls' has no number"),
    ([("Calls", "many")], "'Calls': 'many' is not a number"),
    ([("Calls", True)], "'Calls': True is not a number"),
    ([("Calls", "inf")], "'Calls': 'inf' is not a number"),
    ([("Calls", "1.234")], "'Calls' has more than two decimals"),
    ([("Calls", 10 ** 12)], "'Calls' is too large"),
    ([("Deals won", 1), ("deals_won", 2)], "'deals_won' is listed twice"),
    ([("x" * 61, 1)], "row 1: the name is longer than 60 characters"),
    ([(f"m{n}", n) for n in range(31)], "has more than 30 metrics"),
    ([("Calls",)], "row 1 is not a name and a number"),
])
def test_bad_kpi_metrics_are_refused_with_the_row_or_name(session, metrics, reason):
    _, me = _person(session)
    before = _rows(session)
    with pytest.raises(ValidationError) as refused:
        _save(session, me, accomplishments="x", kpi_metrics=metrics)
    assert (refused.value.field, refused.value.reason) == ("kpi_metrics", reason)
    assert _rows(session) == before


def test_kpi_rows_left_blank_are_ignored_and_numbers_are_kept_exactly(session):
    _, me = _person(session)
    saved = _save(session, me, kpi_metrics=[("Calls", 4), (None, None), ("Rate", "12.5"),
                                            ("", float("nan")), ("Refunds", "-3")])
    assert saved.kpi_metrics == [("Calls", Decimal(4)), ("Rate", Decimal("12.5")),
                                 ("Refunds", Decimal(-3))]


@pytest.mark.parametrize("field", ["accomplishments", "upcoming_tasks", "blockers"])
def test_a_text_longer_than_the_limit_is_refused(session, field):
    _, me = _person(session)
    with pytest.raises(ValidationError) as refused:
        _save(session, me, **{field: "x" * 20_001})
    assert (refused.value.field, refused.value.reason) == (
        field, "is longer than 20000 characters")


def test_history_lists_the_viewers_own_weeks_newest_first(session):
    _, me = _person(session)
    _, other = _person(session)
    _submit(session, me, week=WEEK, accomplishments="older")
    _save(session, me, week=WEEK + timedelta(weeks=1), accomplishments="newer")
    _save(session, other, week=WEEK, accomplishments="not mine")
    rows = status.history(session=session, viewer=me)
    assert [(r.week_start, r.state, r.accomplishments) for r in rows] == [
        (date(2026, 3, 9), "draft", "newer"), (WEEK, "submitted", "older")]


def test_two_windows_saving_a_new_week_at_once_get_a_clear_message(committed_url):
    engine = make_engine(committed_url)
    try:
        with Session(engine) as setup:
            me = viewer_of(make_user(setup))
            setup.commit()
        slow = Session(engine)
        raced = []

        @event.listens_for(slow, "do_orm_execute")
        def the_other_window_saves_right_after_our_look_up(state):
            if raced or not state.is_select:
                return None
            ours = state.invoke_statement().freeze()
            raced.append(True)
            with Session(engine) as fast:
                _save(fast, me, accomplishments="from the other window")
                fast.commit()
            return ours()

        with pytest.raises(ValidationError) as refused:
            _save(slow, me, accomplishments="from this window")
        slow.rollback()
        slow.close()
        assert raced and refused.value.field == "week_start_date"
        assert refused.value.reason == (
            "you already have a status for the week of 2026-03-02 (saved from another window "
            "a moment ago); reload to see it")
        with Session(engine) as check:
            [row] = check.scalars(select(WeeklyStatus))
            assert row.accomplishments == "from the other window"
    finally:
        engine.dispose()


# --- the auto-draft ----------------------------------------------------------------------

def _move(session, opp, from_stage, to_stage, by, at):
    session.add(StageHistory(opportunity_id=opp.id, from_stage=from_stage, to_stage=to_stage,
                             changed_by=by.id if by else None, changed_at=at))
    session.flush()


def test_the_auto_draft_of_the_current_week_lists_exactly_its_stage_advances_and_won_deals(
        session):
    today = local_today()
    monday = monday_of(today)
    last_sunday = monday - timedelta(days=1)
    user, me = _person(session)
    other = make_user(session)
    partner = make_partner(session, name="Ledgerline")

    def deal(customer, stage="lead", **extra):
        return make_opportunity(session, partner, customer_name=customer, stage=stage, **extra)

    globex, initech, hooli = deal("Globex"), deal("Initech"), deal("Hooli")
    _move(session, globex, "lead", "demo", user, _at(monday, 0, 5))
    _move(session, initech, "demo", "proposal", user, _at(monday, 11))
    _move(session, hooli, "proposal", "demo", user, _at(monday, 12))        # backwards
    _move(session, deal("Umbrella"), "lead", "poc", other, _at(monday, 13))   # not theirs
    _move(session, deal("Soylent"), "lead", "demo", user, _at(last_sunday, 23, 55))  # last week
    _move(session, deal("Acme"), "poc", "closed_lost", user, _at(monday, 14))  # a loss
    _move(session, deal("Stark"), None, "demo", user, _at(monday, 15))         # created there

    deal("Wayne", "closed_won", assigned_user_id=user.id, actual_close_date=monday,
         deal_value=Decimal("45000.00"))
    deal("Tyrell", "closed_won", assigned_user_id=user.id, actual_close_date=today,
         deal_value=Decimal("1234.56"))
    deal("Cyberdyne", "closed_won", assigned_user_id=user.id, actual_close_date=last_sunday)
    deal("Oscorp", "closed_won", assigned_user_id=other.id, actual_close_date=monday)
    deal("Gringotts", "closed_lost", assigned_user_id=user.id, actual_close_date=monday,
         lost_reason="Budget")

    draft = status.draft_week(session=session, viewer=me, week_start_date=monday)

    assert draft.stage_advances == [
        "Advanced Globex (Ledgerline) from Lead to Demo",
        "Advanced Initech (Ledgerline) from Demo to Proposal",
    ]
    expected_won = ["Won Wayne (Ledgerline): $45,000", "Won Tyrell (Ledgerline): $1,234.56"]
    if today == monday:  # both closed on the same day: by name
        expected_won.reverse()
    assert draft.deals_won == expected_won
    assert draft.metrics["Deals won"] == 2 and draft.metrics["Revenue won"] == 46234.56
    form = status.open_week(session=session, viewer=me, week_start_date=monday)
    assert not form.saved
    assert form.accomplishments.splitlines()[:4] == [
        f"- {line}" for line in draft.stage_advances + draft.deals_won]


def test_the_auto_draft_lists_tasks_new_deals_touches_whats_next_and_whats_stuck(session):
    user, me = _person(session)
    other = make_user(session)
    partner = make_partner(session, name="Keyward")
    make_task(session, user, title="Sent the deck", status="completed",
              completed_date=date(2026, 3, 3))
    make_task(session, user, title="Done last week", status="completed",
              completed_date=date(2026, 2, 27))
    make_task(session, other, title="Not mine", status="completed",
              completed_date=date(2026, 3, 3))
    make_opportunity(session, partner, customer_name="Fresh", assigned_user_id=user.id,
                     deal_value=Decimal("8000.00"), created_at=_at(date(2026, 3, 3)))
    make_opportunity(session, partner, customer_name="Older", assigned_user_id=user.id,
                     created_at=_at(date(2026, 2, 20)))
    session.add_all([
        PartnerActivity(partner_id=partner.id, user_id=user.id, activity_type="qbr",
                        occurred_on=date(2026, 3, 5)),
        PartnerActivity(partner_id=partner.id, user_id=other.id, activity_type="call",
                        occurred_on=date(2026, 3, 5)),
    ])
    make_task(session, user, title="Prep QBR", due_date=date(2026, 3, 10))
    make_task(session, user, title="Far off", due_date=date(2026, 3, 20))
    make_opportunity(session, partner, customer_name="Closing", stage="proposal",
                     probability=Decimal(75), assigned_user_id=user.id,
                     expected_close_date=date(2026, 3, 12), deal_value=Decimal("30000.00"),
                     created_at=_at(date(2026, 1, 5)))
    make_opportunity(session, partner, customer_name="Late", stage="poc",
                     assigned_user_id=user.id, expected_close_date=date(2026, 3, 1),
                     created_at=_at(date(2026, 1, 5)))
    make_task(session, user, title="Stuck one", rollover_count=2, due_date=date(2026, 3, 4))
    make_task(session, user, title="Once", rollover_count=1, due_date=date(2026, 3, 4))

    draft = status.draft_week(session=session, viewer=me, week_start_date=WEEK,
                              today=WEDNESDAY)

    assert draft.tasks_completed == ["Completed: Sent the deck"]
    assert draft.new_opportunities == ["New opportunity: Fresh (Keyward), $8,000"]
    assert draft.partner_touches == ["QBR with Keyward on 5 Mar 2026"]
    assert draft.tasks_due == ["Due 10 Mar 2026: Prep QBR"]
    assert draft.expected_closes == [
        "Expected to close 12 Mar 2026: Closing (Keyward), $30,000, in Proposal"]
    assert draft.slipped_deals == [
        "Slipped: Late (Keyward) was expected to close 1 Mar 2026, still in PoC"]
    assert draft.stuck_tasks == ["Rolled over 2 times: Stuck one"]
    assert draft.metrics == {"Partner touches": 1, "New opportunities": 1, "Deals won": 0,
                             "Revenue won": 0}


def test_an_empty_week_is_drafted_but_nothing_is_stored_until_the_user_types(session):
    user, me = _person(session)
    make_task(session, user, title="Stuck", rollover_count=3, due_date=date(2026, 3, 4))
    before = _rows(session), _audits(session)
    form = status.open_week(session=session, viewer=me, week_start_date=WEEK, today=WEDNESDAY)
    assert not form.saved and form.state == "draft"
    assert form.blockers == "- Rolled over 3 times: Stuck"
    assert (_rows(session), _audits(session)) == before


def test_a_saved_draft_is_shown_as_saved_even_when_emptied(session):
    user, me = _person(session)
    make_task(session, user, title="Stuck", rollover_count=3, due_date=date(2026, 3, 4))
    _save(session, me, blockers="")
    form = status.open_week(session=session, viewer=me, week_start_date=WEEK, today=WEDNESDAY)
    assert form.saved and form.blockers == ""


# --- the team's week -----------------------------------------------------------------------

def test_team_status_shows_who_submitted_every_blocker_and_kpis_against_last_week(session):
    _, vp = _person(session, "vp", first_name="Vera", last_name="Vale")
    _, sam = _person(session, first_name="Sam", last_name="Sato")
    _, pia = _person(session, "partnership_manager", first_name="Pia", last_name="Park")
    _, tom = _person(session, "partnership_manager", first_name="Tom", last_name="Tan")
    make_user(session, role="admin", first_name="Ada")
    make_user(session, first_name="Gone", is_active=False)
    previous = WEEK - timedelta(weeks=1)
    _submit(session, sam, week=previous, accomplishments="x",
            kpi_metrics={"Calls": 10, "Demos": 2, "Dropped metric": 1})
    _submit(session, sam, accomplishments="x", blockers="- Legal review\n\n* Pricing sign-off",
            kpi_metrics={"calls": 14, "Demos": 1, "New metric": 5})
    _submit(session, pia, accomplishments="x", blockers="1. Partner portal down")
    _save(session, tom, blockers="draft blocker")

    week = status.team_week(session=session, viewer=vp, week_start_date=WEEK)

    people = {m.name: m for m in week.members}
    assert set(people) >= {"Vera Vale", "Sam Sato", "Pia Park", "Tom Tan"}
    assert not any(name.startswith(("Ada ", "Gone ")) for name in people)
    assert {m.name for m in week.submitted} >= {"Sam Sato", "Pia Park"}
    assert (people["Tom Tan"].state, people["Vera Vale"].state) == ("draft", "missing")
    assert people["Sam Sato"].blockers == ["Legal review", "Pricing sign-off"]
    assert people["Pia Park"].blockers == ["Partner portal down"]
    assert people["Tom Tan"].blockers == []          # a draft is still its author's
    metrics = {(m.name, m.this_week, m.last_week, m.change) for m in people["Sam Sato"].metrics}
    assert metrics == {("calls", 14, 10, 4), ("Demos", 1, 2, -1), ("New metric", 5, None, None),
                       ("Dropped metric", None, 1, None)}


@pytest.mark.parametrize("role", ["vp", "sales_manager", "admin"])
def test_vp_sales_managers_and_admins_read_team_status(session, role):
    _, viewer = _person(session, role)
    _, filer = _person(session, "partnership_manager", first_name="Filed", last_name="It")
    _submit(session, filer, blockers="Visa delay")
    week = status.team_week(session=session, viewer=viewer, week_start_date=WEEK)
    [filed] = [m for m in week.submitted if m.name == "Filed It"]
    assert filed.blockers == ["Visa delay"]


def test_a_partnership_manager_does_not_see_team_status(session):
    _, pm = _person(session, "partnership_manager")
    with pytest.raises(Forbidden):
        status.team_week(session=session, viewer=pm, week_start_date=WEEK)


def test_team_status_refuses_a_week_not_starting_on_monday(session):
    _, vp = _person(session, "vp")
    with pytest.raises(ValidationError) as refused:
        status.team_week(session=session, viewer=vp, week_start_date="2026-03-03")
    assert refused.value.field == "week_start_date"
    assert refused.value.reason.startswith("2026-03-03 is a Tuesday: weeks start on Monday")
