"""Tasks: each person's list, what is refused, and the weekly rollover of unfinished work."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from isv.auth import Viewer
from isv.db import make_engine
from isv.errors import Forbidden, NotFound, ValidationError
from isv.models import AuditEntry, Task
from isv.services import tasks
from isv.services.settings import local_today
from isv.services.tasks import TaskFilters
from tests.factories import make_opportunity, make_partner, make_task, make_user, viewer_of

WEDNESDAY = date(2026, 3, 11)      # the week of Monday 2026-03-09
THIS_MONDAY = date(2026, 3, 9)


def _person(session, role: str = "sales_manager"):
    user = make_user(session, role=role)
    return user, viewer_of(user)


def _tasks_of(session, user) -> list[Task]:
    return list(session.scalars(select(Task).where(Task.user_id == user.id)
                                .order_by(Task.rollover_count, Task.due_date, Task.title)))


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def _audit(session, task) -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(
        AuditEntry.entity_type == "task", AuditEntry.entity_id == str(task.id))
        .order_by(AuditEntry.at, AuditEntry.id)))


# --- the list ------------------------------------------------------------------------------

def test_a_new_task_goes_on_the_viewers_own_list_and_is_audited(session):
    user, me = _person(session)
    deal = make_opportunity(session, make_partner(session, name="Ledgerline"),
                            customer_name="Globex")
    task = tasks.create_task(session=session, viewer=me, title="  Send the MSA  ",
                             priority="high", due_date="2026-03-12", opportunity_id=str(deal.id))
    assert (task.user_id, task.title, task.priority, task.status) == (
        user.id, "Send the MSA", "high", "pending")
    [row] = tasks.list_tasks(session=session, viewer=me, today=WEDNESDAY)
    assert row.opportunity_label == "Globex — Ledgerline"
    assert row.due_date == date(2026, 3, 12) and not row.overdue
    [entry] = _audit(session, task)
    assert entry.action == "create" and entry.new_values["title"] == "Send the MSA"


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"title": "   "}, "title", "is required"),
    ({"title": "x" * 501}, "title", "is longer than 500 characters"),
    ({"priority": "extreme"}, "priority", "'extreme' is not one of low, medium, high, urgent"),
    ({"status": "done"}, "status",
     "'done' is not one of pending, in_progress, completed, cancelled, rolled_over"),
    ({"status": "rolled_over"}, "status", "'rolled_over' is set by the rollover only"),
    ({"due_date": "1999-12-31"}, "due_date", "1999-12-31 is outside 2000–2100"),
    ({"due_date": "2101-01-01"}, "due_date", "2101-01-01 is outside 2000–2100"),
    ({"due_date": "31/12/2026"}, "due_date", "'31/12/2026' is not a date like 2026-03-31"),
    ({"description": "d" * 10_001}, "description", "is longer than 10000 characters"),
    ({"opportunity_id": "not-an-id"}, "opportunity_id", "'not-an-id' is not a valid id"),
])
def test_bad_task_input_is_refused_with_field_and_reason_and_nothing_is_written(
        session, fields, field, message):
    _, me = _person(session)
    values = {"title": "Call Globex", **fields}
    before = _count(session, Task), _count(session, AuditEntry)
    with pytest.raises(ValidationError) as refused:
        tasks.create_task(session=session, viewer=me, **values)
    assert (refused.value.field, refused.value.reason) == (field, message)
    assert (_count(session, Task), _count(session, AuditEntry)) == before


def test_a_task_cannot_point_at_a_deal_the_viewer_may_not_see(session):
    pm_user, pm = _person(session, "partnership_manager")
    hidden = make_opportunity(session, make_partner(session))   # not theirs, not assigned
    with pytest.raises(ValidationError) as refused:
        tasks.create_task(session=session, viewer=pm, title="Peek", opportunity_id=hidden.id)
    assert refused.value.field == "opportunity_id"
    assert refused.value.reason == "no such opportunity among those you may see"
    own = make_opportunity(session, make_partner(session, owner_id=pm_user.id))
    assert tasks.create_task(session=session, viewer=pm, title="Fine",
                             opportunity_id=own.id).opportunity_id == own.id


def test_an_admin_keeps_no_tasks(session):
    _, admin = _person(session, "admin")
    with pytest.raises(Forbidden):
        tasks.create_task(session=session, viewer=admin, title="Nope")
    with pytest.raises(Forbidden):
        tasks.list_tasks(session=session, viewer=admin)


def test_someone_elses_task_is_not_found_for_changes_or_deletes(session):
    owner, _ = _person(session)
    _, other = _person(session, "vp")
    task = make_task(session, owner)
    with pytest.raises(NotFound):
        tasks.update_task(session=session, viewer=other, task_id=task.id, title="Mine now")
    with pytest.raises(NotFound):
        tasks.delete_task(session=session, viewer=other, task_id=task.id)
    assert task.title.startswith("Task ")


def test_completing_a_task_dates_it_and_reopening_clears_the_date(session):
    user, me = _person(session)
    task = make_task(session, user)
    tasks.update_task(session=session, viewer=me, task_id=task.id, status="completed")
    assert task.completed_date == local_today()
    tasks.update_task(session=session, viewer=me, task_id=task.id, status="in_progress")
    assert task.completed_date is None
    assert [e.action for e in _audit(session, task)] == ["update", "update"]


def test_saving_unchanged_values_writes_nothing(session):
    user, me = _person(session)
    task = make_task(session, user, title="Same")
    tasks.update_task(session=session, viewer=me, task_id=task.id, title=" Same ")
    assert _audit(session, task) == []


def test_a_rolled_over_task_is_history_and_cannot_be_edited(session):
    user, me = _person(session)
    task = make_task(session, user, status="rolled_over", due_date=date(2026, 3, 2))
    with pytest.raises(ValidationError) as refused:
        tasks.update_task(session=session, viewer=me, task_id=task.id, title="Edited")
    assert refused.value.field == "status"
    assert "rolled over" in refused.value.reason


def test_overdue_tasks_say_by_how_many_days_and_can_be_listed_alone(session):
    user, me = _person(session)
    make_task(session, user, title="Late", due_date=date(2026, 3, 6))
    make_task(session, user, title="Today", due_date=WEDNESDAY)
    make_task(session, user, title="Done late", status="completed", due_date=date(2026, 3, 1),
              completed_date=date(2026, 3, 2))
    make_task(session, user, title="Someday")
    rows = {r.title: r for r in tasks.list_tasks(session=session, viewer=me, today=WEDNESDAY)}
    assert rows["Late"].days_overdue == 5
    assert not rows["Today"].overdue and not rows["Done late"].overdue
    assert not rows["Someday"].overdue
    overdue = tasks.list_tasks(session=session, viewer=me, today=WEDNESDAY,
                               filters=TaskFilters(overdue_only=True))
    assert [r.title for r in overdue] == ["Late"]


def test_filters_narrow_by_status_priority_due_dates_and_text(session):
    user, me = _person(session)
    make_task(session, user, title="Call Initech", priority="urgent", due_date=date(2026, 3, 10))
    make_task(session, user, title="Email Globex", priority="low", due_date=date(2026, 4, 1))
    make_task(session, user, title="Old", status="cancelled", due_date=date(2026, 3, 10))
    make_task(session, make_user(session), title="Not mine: Initech")

    def titles(**filters):
        return [r.title for r in tasks.list_tasks(session=session, viewer=me,
                                                  filters=TaskFilters(**filters))]

    assert titles() == ["Call Initech", "Old", "Email Globex"]
    assert titles(statuses=("pending",)) == ["Call Initech", "Email Globex"]
    assert titles(priorities=("low",)) == ["Email Globex"]
    assert titles(due_from=date(2026, 3, 15), due_to=date(2026, 4, 30)) == ["Email Globex"]
    assert titles(text="initech") == ["Call Initech"]
    with pytest.raises(ValidationError) as refused:
        titles(due_from=date(2026, 4, 1), due_to=date(2026, 3, 1))
    assert (refused.value.field, refused.value.reason) == ("due_to", "is before due_from")


def test_opportunity_choices_are_the_open_deals_in_the_viewers_scope(session):
    pm_user, pm = _person(session, "partnership_manager")
    mine = make_partner(session, name="Mine", owner_id=pm_user.id)
    make_opportunity(session, mine, customer_name="Acme", stage="demo")
    make_opportunity(session, mine, customer_name="Acme", stage="poc")
    make_opportunity(session, mine, customer_name="Won Co", stage="closed_won",
                     actual_close_date=date(2026, 3, 1))
    make_opportunity(session, make_partner(session), customer_name="Elsewhere")
    labels = [c.label for c in tasks.opportunity_choices(session=session, viewer=pm)]
    assert len(labels) == 2 and len(set(labels)) == 2   # same customer, told apart
    assert all(label.startswith("Acme — Mine · #") for label in labels)


def test_deleting_a_task_keeps_its_successors_count(session):
    user, me = _person(session)
    first = make_task(session, user, due_date=date(2026, 3, 2))
    tasks.rollover(session=session, viewer=me, today=WEDNESDAY)
    successor = session.scalar(select(Task).where(Task.rolled_over_from == first.id))
    # A rolled-over task is history, but its owner may still throw it away.
    tasks.delete_task(session=session, viewer=me, task_id=first.id)
    session.refresh(successor)
    assert successor.rolled_over_from is None and successor.rollover_count == 1
    assert [e.action for e in _audit(session, first)][-1] == "delete"


# --- rollover --------------------------------------------------------------------------------

def test_rollover_gives_each_unfinished_past_task_a_successor_this_week(session):
    user, me = _person(session)
    deal = make_opportunity(session, make_partner(session))
    late = make_task(session, user, title="Send deck", description="v2", priority="high",
                     due_date=date(2026, 3, 5), opportunity_id=deal.id)          # Thursday
    older = make_task(session, user, title="Chase PO", status="in_progress",
                      due_date=date(2026, 2, 20))                                # a Friday
    make_task(session, user, title="Due Monday", due_date=THIS_MONDAY)
    make_task(session, user, title="Finished", status="completed",
              due_date=date(2026, 3, 2), completed_date=date(2026, 3, 2))
    make_task(session, user, title="Dropped", status="cancelled", due_date=date(2026, 3, 2))
    make_task(session, user, title="Undated")

    result = tasks.rollover(session=session, viewer=me, today=WEDNESDAY)

    assert (result.week_start, result.rolled, result.flagged) == (THIS_MONDAY, 2, 0)
    assert (late.status, older.status) == ("rolled_over", "rolled_over")
    successor = session.scalar(select(Task).where(Task.rolled_over_from == late.id))
    assert successor.due_date == date(2026, 3, 12)          # Thursday of this week
    assert (successor.title, successor.description, successor.priority,
            successor.opportunity_id, successor.status, successor.rollover_count) == (
        "Send deck", "v2", "high", deal.id, "pending", 1)
    chased = session.scalar(select(Task).where(Task.rolled_over_from == older.id))
    assert (chased.due_date, chased.status) == (date(2026, 3, 13), "in_progress")
    statuses = {t.title: t.status for t in _tasks_of(session, user) if t.rollover_count == 0}
    assert statuses["Due Monday"] == "pending" and statuses["Finished"] == "completed"
    assert [e.action for e in _audit(session, late)] == ["rollover"]


def test_a_second_rollover_in_the_same_week_changes_nothing(session):
    user, me = _person(session)
    make_task(session, user, due_date=date(2026, 3, 3))
    make_task(session, user, due_date=date(2026, 2, 24), status="in_progress")
    tasks.rollover(session=session, viewer=me, today=WEDNESDAY)
    snapshot = [(t.id, t.status, t.due_date, t.rollover_count) for t in _tasks_of(session, user)]
    audits = _count(session, AuditEntry)

    again = tasks.rollover(session=session, viewer=me, today=date(2026, 3, 15))  # Sunday

    assert again.rolled == 0
    assert [(t.id, t.status, t.due_date, t.rollover_count)
            for t in _tasks_of(session, user)] == snapshot
    assert _count(session, AuditEntry) == audits


def test_a_chain_of_rollovers_keeps_counting_and_flags_the_second(session):
    user, me = _person(session)
    first = make_task(session, user, title="Stuck", due_date=date(2026, 3, 4))
    tasks.rollover(session=session, viewer=me, today=WEDNESDAY)
    week_two = tasks.rollover(session=session, viewer=me, today=date(2026, 3, 18))
    week_three = tasks.rollover(session=session, viewer=me, today=date(2026, 3, 25))
    chain = _tasks_of(session, user)
    assert [(t.rollover_count, t.due_date, t.status) for t in chain] == [
        (0, date(2026, 3, 4), "rolled_over"),
        (1, date(2026, 3, 11), "rolled_over"),
        (2, date(2026, 3, 18), "rolled_over"),
        (3, date(2026, 3, 25), "pending"),
    ]
    assert [t.rolled_over_from for t in chain[1:]] == [t.id for t in chain[:-1]]
    assert chain[0].id == first.id
    assert (week_two.flagged, week_three.flagged) == (1, 1)
    [row] = tasks.list_tasks(session=session, viewer=me, today=date(2026, 3, 25),
                             filters=TaskFilters(statuses=("pending",)))
    assert row.flagged and row.rollover_count == 3


def test_a_sales_manager_rolls_only_their_own_tasks(session):
    user, me = _person(session)
    other = make_user(session)
    make_task(session, user, due_date=date(2026, 3, 2))
    theirs = make_task(session, other, due_date=date(2026, 3, 2))
    assert tasks.rollover(session=session, viewer=me, today=WEDNESDAY).rolled == 1
    assert theirs.status == "pending"
    with pytest.raises(Forbidden):
        tasks.rollover(session=session, viewer=me, today=WEDNESDAY, user_id=other.id)
    assert theirs.status == "pending"


@pytest.mark.parametrize("who", ["vp", "system"])
def test_the_vp_and_the_scheduler_roll_everyones_tasks(session, who):
    viewer = viewer_of(make_user(session, role="vp")) if who == "vp" else Viewer.system("jobs")
    one, two = make_user(session), make_user(session, role="partnership_manager")
    a = make_task(session, one, due_date=date(2026, 3, 2))
    b = make_task(session, two, due_date=date(2026, 3, 6))
    result = tasks.rollover(session=session, viewer=viewer, today=WEDNESDAY)
    assert result.rolled >= 2 and (a.status, b.status) == ("rolled_over", "rolled_over")
    only_one = make_task(session, one, due_date=date(2026, 3, 3))
    spared = make_task(session, two, due_date=date(2026, 3, 3))
    assert tasks.rollover(session=session, viewer=viewer, today=WEDNESDAY,
                          user_id=one.id).rolled == 1
    assert (only_one.status, spared.status) == ("rolled_over", "pending")


def test_an_admin_rolls_nothing(session):
    _, admin = _person(session, "admin")
    with pytest.raises(Forbidden):
        tasks.rollover(session=session, viewer=admin, today=WEDNESDAY)


def test_the_database_refuses_a_second_successor_of_one_task(session):
    user, _ = _person(session)
    original = make_task(session, user, status="rolled_over", due_date=date(2026, 3, 2))
    make_task(session, user, rolled_over_from=original.id, rollover_count=1)
    with pytest.raises(IntegrityError):
        with session.begin_nested():
            make_task(session, user, rolled_over_from=original.id, rollover_count=1)


def test_a_rollover_racing_another_rolls_each_task_exactly_once(committed_url):
    engine = make_engine(committed_url)
    try:
        with Session(engine) as setup:
            user = make_user(setup)
            make_task(setup, user, due_date=date(2026, 3, 3))
            make_task(setup, user, due_date=date(2026, 3, 4))
            setup.commit()
            me = viewer_of(user)

        slow = Session(engine)
        raced = []

        @event.listens_for(slow, "do_orm_execute")
        def the_other_run_commits_right_after_our_read(state):
            # Between reading the candidates and claiming them, a whole other rollover
            # (another replica, the scheduler) runs and commits.
            if raced or not state.is_select or Task not in [m.class_ for m in state.all_mappers]:
                return None
            ours = state.invoke_statement().freeze()
            raced.append(True)
            with Session(engine) as fast:
                assert tasks.rollover(session=fast, viewer=me, today=WEDNESDAY).rolled == 2
                fast.commit()
            return ours()

        result = tasks.rollover(session=slow, viewer=me, today=WEDNESDAY)
        slow.commit()
        slow.close()
        assert raced and result.rolled == 0
        with Session(engine) as check:
            rows = list(check.scalars(select(Task).where(Task.user_id == user.id)))
            assert len(rows) == 4
            assert sorted(t.rollover_count for t in rows) == [0, 0, 1, 1]
    finally:
        engine.dispose()
