"""The services against a plain in-memory model: thousands of random steps, no divergence.

A hypothesis state machine adds partners and deals, moves deals between stages (now and
then from a stale page, which must be refused and change nothing), adds and finishes tasks
and rolls them over, sets goals, raises alerts and reads and deletes them. After every step
the database, read back through the services the pages use, must say what the model says:
how many of each there are, each deal's stage and version, one stage-history row per
recorded move, the board's per-stage totals and each goal's progress.

Runs are derandomized, so CI sees the same steps every time; each example works inside a
savepoint of the test's rolled-back transaction.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import func, select

from isv.errors import Conflict
from isv.models import STAGES, Alert, Opportunity, Partner, StageHistory, Task
from isv.services import alerts, goals, partners, tasks
from isv.services import opportunities as opps
from isv.services.goals import current_quarter
from isv.services.settings import local_today
from tests.factories import make_user, viewer_of

# 5 runs of up to 100 steps per database in `make test` (some 1,000 steps over both), the
# same ones every time; `make test-long` runs 30 (tests/README.md).
STEPS = settings(max_examples=int(os.environ.get("ISV_MODEL_EXAMPLES", "5")),
                 stateful_step_count=100, deadline=None, derandomize=True, database=None,
                 suppress_health_check=list(HealthCheck))
OPEN_TASK = ("pending", "in_progress")


@dataclass
class Deal:
    stage: str
    value: Decimal
    version: int = 1
    moves: int = 1  # stage-history rows: the first one is written when the deal is added


@dataclass
class TaskModel:
    status: str
    due: date | None
    rollovers: int = 0


def monday_of(day: date) -> date:
    return day - timedelta(days=day.weekday())


def run_model(session, viewer):
    class ServiceModel(RuleBasedStateMachine):
        partner_ids = Bundle("partners")
        deal_ids = Bundle("deals")
        task_ids = Bundle("tasks")

        def __init__(self) -> None:
            super().__init__()
            self.savepoint = session.begin_nested()
            self.partners: set = set()
            self.deals: dict = {}
            self.tasks: dict = {}
            self.goals: dict = {}
            self.alerts: dict = {}  # id -> read
            self.today = local_today()
            self.n = 0

        def teardown(self) -> None:
            self.savepoint.rollback()

        # --- partners and deals ------------------------------------------------------
        @rule(target=partner_ids)
        def add_partner(self):
            self.n += 1
            partner = partners.create_partner(session=session, viewer=viewer,
                                              name=f"Model partner {self.n}", domain="FinOps")
            self.partners.add(partner.id)
            return partner.id

        @rule(target=deal_ids, partner_id=partner_ids,
              value=st.decimals(min_value=1, max_value=10**7, places=2),
              stage=st.sampled_from(STAGES))
        def add_deal(self, partner_id, value, stage):
            deal = opps.create_opportunity(
                session=session, viewer=viewer, partner_id=partner_id,
                customer_name=f"Customer {self.n}", deal_value=value, stage=stage,
                assigned_user_id=viewer.id,
                lost_reason="No budget" if stage == "closed_lost" else None)
            self.deals[deal.id] = Deal(stage=stage, value=value)
            return deal.id

        @rule(deal_id=deal_ids, to=st.sampled_from(STAGES), stale=st.booleans())
        def move_deal(self, deal_id, to, stale):
            model = self.deals[deal_id]
            if stale and model.version > 1:
                with pytest.raises(Conflict, match="^Changed by "):
                    opps.move_stage(session=session, viewer=viewer, opportunity_id=deal_id,
                                    to_stage=to, expected_version=model.version - 1,
                                    lost_reason="No budget")
                return
            opps.move_stage(session=session, viewer=viewer, opportunity_id=deal_id,
                            to_stage=to, expected_version=model.version,
                            lost_reason="No budget" if to == "closed_lost" else None)
            if to != model.stage:
                model.stage, model.version, model.moves = to, model.version + 1, \
                    model.moves + 1

        @rule(deal_id=deal_ids, value=st.decimals(min_value=1, max_value=10**7, places=2))
        def change_value(self, deal_id, value):
            model = self.deals[deal_id]
            opps.update_opportunity(session=session, viewer=viewer, opportunity_id=deal_id,
                                    expected_version=model.version, deal_value=value)
            if value != model.value:
                model.value, model.version = value, model.version + 1

        @rule(deal_id=consumes(deal_ids))
        def delete_deal(self, deal_id):
            opps.delete_opportunity(session=session, viewer=viewer, opportunity_id=deal_id,
                                    expected_version=self.deals.pop(deal_id).version)

        # --- tasks and rollover ------------------------------------------------------
        @rule(target=task_ids, days=st.integers(-30, 10), status=st.sampled_from(OPEN_TASK))
        def add_task(self, days, status):
            self.n += 1
            due = self.today + timedelta(days=days)
            task = tasks.create_task(session=session, viewer=viewer, title=f"Task {self.n}",
                                     status=status, due_date=due)
            self.tasks[task.id] = TaskModel(status=status, due=due)
            return task.id

        @rule(task_id=task_ids)
        def complete_task(self, task_id):
            if self.tasks[task_id].status == "rolled_over":
                return  # its successor is the one to work on
            tasks.update_task(session=session, viewer=viewer, task_id=task_id,
                              status="completed")
            self.tasks[task_id].status = "completed"

        @rule(weeks=st.integers(0, 3))
        def roll_over(self, weeks):
            today = self.today + timedelta(weeks=weeks)
            monday = monday_of(today)
            due = [(tid, t) for tid, t in self.tasks.items()
                   if t.status in OPEN_TASK and t.due is not None and t.due < monday]
            result = tasks.rollover(session=session, viewer=viewer, today=today)
            assert result.rolled == len(due)
            for tid, t in due:
                successor = session.scalar(select(Task).where(Task.rolled_over_from == tid))
                assert successor is not None
                assert successor.due_date == tasks.successor_due(t.due, monday)
                self.tasks[successor.id] = TaskModel(
                    status=t.status, due=successor.due_date, rollovers=t.rollovers + 1)
                t.status = "rolled_over"

        # --- goals ---------------------------------------------------------------------
        @rule(target_value=st.decimals(min_value=1, max_value=10**8, places=2))
        def set_revenue_goal(self, target_value):
            year, quarter = current_quarter()
            goals.set_goal(session=session, viewer=viewer, year=year, quarter=quarter,
                           goal_type="revenue", target=target_value)
            self.goals[(year, quarter, "revenue")] = target_value

        # --- alerts --------------------------------------------------------------------
        @rule()
        def raise_alerts(self):
            alerts.run_alert_rules(session=session)
            again = alerts.run_alert_rules(session=session)
            assert again["alerts"] == 0, "a second run raised the same conditions again"
            for row in alerts.list_alerts(session=session, viewer=viewer):
                self.alerts.setdefault(row.id, row.is_read)

        @rule(data=st.data())
        def read_some_alerts(self, data):
            if not self.alerts:
                return
            ids = data.draw(st.lists(st.sampled_from(sorted(self.alerts)), min_size=1,
                                     max_size=3, unique=True))
            changed = alerts.mark_read(session=session, viewer=viewer, alert_ids=ids)
            assert changed == sum(1 for i in ids if not self.alerts[i])
            for i in ids:
                self.alerts[i] = True

        @rule(data=st.data())
        def delete_some_alerts(self, data):
            if not self.alerts:
                return
            ids = data.draw(st.lists(st.sampled_from(sorted(self.alerts)), min_size=1,
                                     max_size=3, unique=True))
            assert alerts.delete_alerts(session=session, viewer=viewer,
                                        alert_ids=ids) == len(ids)
            for i in ids:
                del self.alerts[i]

        # --- what must hold after every step -------------------------------------------
        @invariant()
        def deals_match(self):
            assert session.scalar(select(func.count()).select_from(Partner)) == \
                len(self.partners) + 1  # and the test's baseline partner
            stored = {o.id: (o.stage, o.deal_value, o.version)
                      for o in session.scalars(select(Opportunity))}
            assert stored == {i: (d.stage, d.value, d.version) for i, d in self.deals.items()}
            moves = dict(session.execute(
                select(StageHistory.opportunity_id, func.count())
                .group_by(StageHistory.opportunity_id)).all())
            assert moves == {i: d.moves for i, d in self.deals.items()}

        @invariant()
        def board_totals_match(self):
            totals = opps.stage_totals(session=session, viewer=viewer)
            for stage in STAGES:
                mine = [d for d in self.deals.values() if d.stage == stage]
                assert totals[stage].count == len(mine)
                assert totals[stage].value == sum((d.value for d in mine), Decimal("0.00"))

        @invariant()
        def tasks_match(self):
            stored = {t.id: (t.status, t.due_date, t.rollover_count)
                      for t in session.scalars(select(Task))}
            assert stored == {i: (t.status, t.due, t.rollovers) for i, t in self.tasks.items()}

        @invariant()
        def goals_match(self):
            year, quarter = current_quarter()
            views = goals.list_goals(session=session, viewer=viewer, year=year,
                                     quarter=quarter)
            assert {(v.year, v.quarter, v.goal_type): v.target for v in views} == self.goals
            won = sum((d.value for d in self.deals.values() if d.stage == "closed_won"),
                      Decimal("0.00"))
            for v in views:
                assert v.progress == won  # every won deal closed today, assigned to the viewer

        @invariant()
        def alerts_match(self):
            rows = {r.id: r.is_read for r in alerts.list_alerts(session=session, viewer=viewer)}
            assert rows == self.alerts
            assert alerts.unread_count(session=session, viewer=viewer) == \
                sum(1 for read in self.alerts.values() if not read)
            assert session.scalar(select(func.count()).select_from(Alert).where(
                Alert.user_id != viewer.id)) == 0

    run_state_machine_as_test(ServiceModel, settings=STEPS)


@pytest.mark.postgres
def test_services_agree_with_a_plain_model_over_thousands_of_random_steps(session):
    vp = make_user(session, role="vp", first_name="Vera", last_name="Model")
    partners.create_partner(session=session, viewer=viewer_of(vp), name="Baseline partner",
                            domain="FinOps")
    run_model(session, viewer_of(vp))
