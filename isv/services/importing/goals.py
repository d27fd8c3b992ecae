"""Importing quarterly goals: written in bulk, with the goals service's rules."""

from __future__ import annotations

import uuid
from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy import select

from isv.models import GOAL_TYPES, AuditEntry, QuarterlyGoal
from isv.services import audit, goals, validate
from isv.services.validate import NOTES_MAX, blank

from .bulk import audit_row, insert_rows
from .checks import Entity, Plan, differing, first_seen, plan_for, whole
from .formats import COLUMNS
from .lookups import among, users_by_email
from .report import BAD


class GoalRows(Entity):
    """Quarterly goals: written here in bulk, checked by the goals service's rules."""

    name, key_column = "goals", "user_email"
    # The goals service names the person user_id and the target target.
    fields = {"user_id": "user_email", "target": "revenue_target",
              **{c.name: c.name for c in COLUMNS["goals"]}}
    CHANGEABLE = ("revenue_target", "current_progress", "notes")

    def check(self, run, rows, errors):
        session, viewer = run.session, run.viewer
        cleaners = {
            "user_email": partial(validate.email, "user_email", required=True),
            "year": whole("year", validate.MIN_DATE.year, validate.MAX_DATE.year),
            "quarter": whole("quarter", 1, 4),
            "goal_type": lambda v: validate.choice("goal_type", "revenue" if blank(v) else v,
                                                   GOAL_TYPES),
            "revenue_target": partial(validate.money, "revenue_target", required=True),
            "current_progress": lambda v: validate.money("current_progress", v)
            or Decimal("0.00"),
            "notes": partial(validate.text, "notes", max_len=NOTES_MAX),
        }
        cleaned = self._cleaned(run, rows, errors, cleaners)
        people = users_by_email(session, (c.values.get("user_email") for c in cleaned))
        stored: dict[tuple, QuarterlyGoal] = {}
        for match in among(session, QuarterlyGoal.user_id, {u.id for u in people.values()}):
            for g in session.scalars(select(QuarterlyGoal).where(match)):
                stored[(g.user_id, g.year, g.quarter, g.goal_type)] = g
        seen: dict[Any, int] = {}
        plans = []
        for c in cleaned:
            v = c.values
            ok = not c.bad
            if "user_email" in v:
                person = people.get(v["user_email"])
                if person is None:
                    errors.add(c.number, "user_email", f"no user with email {v['user_email']!r}")
                    ok = False
                elif not goals.may_set_goals_of(viewer, person.id):
                    errors.add(c.number, "user_email",
                               f"your role ({viewer.role}) may set only your own goals")
                    ok = False
                elif errors.attempt(c.number, "user_email", goals.check_goal_person, person,
                                    fields=self.fields) is BAD:
                    ok = False
                else:
                    v["user_id"] = person.id
            v.setdefault("goal_type", "revenue")
            target = v.get("revenue_target")
            if target is not None and errors.attempt(
                    c.number, "revenue_target", goals.check_target, v["goal_type"], target,
                    fields=self.fields) is BAD:
                ok = False
            if not ok:
                continue
            key = (v["user_id"], v["year"], v["quarter"], v["goal_type"])
            if not first_seen(errors, seen, key, c.number, "quarter",
                              "user_email, year, quarter and goal_type"):
                continue
            current = stored.get(key)
            if current is None:
                plans.append(Plan(c.number, "create", {
                    "user_id": v["user_id"], "year": v["year"], "quarter": v["quarter"],
                    "goal_type": v["goal_type"], "revenue_target": v["revenue_target"],
                    "current_progress": v.get("current_progress", Decimal("0.00")),
                    "notes": v.get("notes")}))
            else:
                plans.append(plan_for(c.number, current, differing(current, v, self.CHANGEABLE)))
        return plans

    def write(self, run, plans, errors):
        rows, entries = [], []
        for plan in plans:
            if plan.action == "create":
                goal_id = uuid.uuid4()
                rows.append(dict(id=goal_id, created_at=run.now, updated_at=run.now,
                                 **plan.values))
                entries.append(audit_row(run, "create", "goal", goal_id, new=plan.values))
            elif plan.action == "update":
                goal = plan.target
                old, new = audit.changes(goal, plan.values)
                for name, value in new.items():
                    setattr(goal, name, value)
                entries.append(audit_row(run, "update", "goal", goal.id, old=old, new=new))
        insert_rows(run.session, QuarterlyGoal, rows)
        insert_rows(run.session, AuditEntry, entries)
