"""Importing stage history: real history replaces a deal's synthesized first row."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import bindparam, delete, select, update

from isv.models import STAGES, AuditEntry, StageHistory
from isv.services import opportunities as opps
from isv.services import validate
from isv.services.validate import NOTES_MAX

from .bulk import audit_row, insert_rows
from .checks import (
    Entity,
    Plan,
    differing,
    first_seen,
    moment_cleaner,
    plan_for,
    required,
    resolve_person,
)
from .formats import COLUMNS
from .lookups import among, deals_by_key, users_by_email


@dataclass(frozen=True)
class _StoredStep:
    id: uuid.UUID
    opportunity_id: uuid.UUID
    from_stage: str | None
    to_stage: str
    changed_by: uuid.UUID | None
    changed_at: datetime
    notes: str | None
    synthesized: bool


class StageHistoryRows(Entity):
    name, key_column = "stage_history", "opportunity_external_id"
    fields = {"note": "notes", **{c.name: c.name for c in COLUMNS["stage_history"]}}
    CHANGEABLE = ("from_stage", "changed_by", "notes")

    def check(self, run, rows, errors):
        session, viewer = run.session, run.viewer
        cleaners = {
            "opportunity_external_id": partial(validate.text, "opportunity_external_id",
                                               max_len=100, required=True),
            "from_stage": partial(validate.choice, "from_stage", options=STAGES,
                                  required=False),
            "to_stage": partial(validate.choice, "to_stage", options=STAGES),
            "changed_at": required("changed_at", moment_cleaner("changed_at", run.zone)),
            "changed_by_email": partial(validate.email, "changed_by_email"),
            "notes": partial(validate.text, "notes", max_len=NOTES_MAX),
        }
        cleaned = self._cleaned(run, rows, errors, cleaners)
        deals = deals_by_key(session, (c.values["opportunity_external_id"] for c in cleaned
                                       if "opportunity_external_id" in c.values))
        people = users_by_email(session, (c.values.get("changed_by_email") for c in cleaned))
        stored: dict[uuid.UUID, list[_StoredStep]] = defaultdict(list)
        for match in among(session, StageHistory.opportunity_id,
                            {d.id for d in deals.values()}):
            for r in session.execute(select(
                    StageHistory.id, StageHistory.opportunity_id, StageHistory.from_stage,
                    StageHistory.to_stage, StageHistory.changed_by, StageHistory.changed_at,
                    StageHistory.notes, StageHistory.synthesized)
                    .where(match)):
                stored[r[1]].append(_StoredStep(*r))
        # A lone synthesized row is a placeholder: real history replaces it, never matches it.
        by_key = {(s.opportunity_id, s.changed_at, s.to_stage): s
                  for steps in stored.values() for s in steps
                  if not (len(steps) == 1 and steps[0].synthesized)}
        seen: dict[Any, int] = {}
        plans = []
        for done, c in enumerate(cleaned, start=1):
            run.tick("Matching stage history", done, len(cleaned))
            v = c.values
            ok = not c.bad
            deal = None
            if "opportunity_external_id" in v:
                deal = deals.get(v["opportunity_external_id"])
                if deal is None or not opps.can_write(viewer, deal):
                    errors.add(c.number, "opportunity_external_id",
                               "no such opportunity among those you may change")
                    ok = False
            if v.get("from_stage") is not None and v["from_stage"] == v.get("to_stage"):
                errors.add(c.number, "to_stage", "is the same as from_stage; a stage change "
                                                 "goes from one stage to another")
                ok = False
            ok = resolve_person(errors, c, "changed_by_email", people, "changed_by") and ok
            if not ok:
                continue
            key = (deal.id, v["changed_at"], v["to_stage"])
            if not first_seen(errors, seen, key, c.number, "changed_at",
                              "opportunity_external_id, changed_at and to_stage"):
                continue
            current = by_key.get(key)
            if current is None:
                steps = stored.get(deal.id, [])
                replaces = steps[0] if len(steps) == 1 and steps[0].synthesized else None
                plans.append(Plan(c.number, "create", {
                    "opportunity_id": deal.id, "from_stage": v.get("from_stage"),
                    "to_stage": v["to_stage"], "changed_at": v["changed_at"],
                    "changed_by": v.get("changed_by"), "notes": v.get("notes"),
                }, replaces))
            else:
                plans.append(plan_for(c.number, current, differing(current, v, self.CHANGEABLE)))
        return plans

    def write(self, run, plans, errors):
        session = run.session
        created = [p for p in plans if p.action == "create"]
        replaced = {p.target.id: p.target for p in created if p.target is not None}
        entries = [audit_row(run, "replace_synthesized", "stage_history", step.id,
                             old={"opportunity_id": step.opportunity_id,
                                  "to_stage": step.to_stage, "changed_at": step.changed_at})
                   for step in replaced.values()]
        for match in among(session, StageHistory.id, replaced):
            session.execute(delete(StageHistory).where(match),
                            execution_options={"synchronize_session": False})
        rows = []
        for done, plan in enumerate(created, start=1):
            step_id = uuid.uuid4()
            rows.append(dict(id=step_id, synthesized=False, **plan.values))
            entries.append(audit_row(run, "create", "stage_history", step_id, new=plan.values))
            run.tick("Writing stage history", done, len(created))
        insert_rows(session, StageHistory, rows)
        changed = [p for p in plans if p.action == "update"]
        for plan in changed:
            entries.append(audit_row(
                run, "update", "stage_history", plan.target.id,
                old={f: getattr(plan.target, f) for f in plan.values}, new=plan.values))
        table = StageHistory.__table__
        for name in self.CHANGEABLE:
            batch = [{"_id": p.target.id, "_value": p.values[name]}
                     for p in changed if name in p.values]
            if batch:
                session.execute(update(table).where(table.c.id == bindparam("_id"))
                                .values({name: bindparam("_value")}), batch)
        insert_rows(session, AuditEntry, entries)
