"""Importing partner touches: the partners service's touch rules, written in bulk."""

from __future__ import annotations

import uuid
from functools import partial
from typing import Any

from sqlalchemy import select

from isv.models import ACTIVITY_TYPES, AuditEntry, PartnerActivity
from isv.services import audit, partners, validate
from isv.services.validate import NOTES_MAX

from .bulk import audit_row, insert_rows
from .checks import Entity, Plan, differing, first_seen, plan_for, resolve_person
from .formats import COLUMNS
from .lookups import among, ids_of, partner_to_change, users_by_email
from .report import BAD


class ActivityRows(Entity):
    name, key_column = "activities", "partner"
    fields = {"partner_id": "partner", "user_id": "user_email",
              **{c.name: c.name for c in COLUMNS["activities"]}}
    TOUCH = {"activity_type", "occurred_on", "summary"}

    def check(self, run, rows, errors):
        session, viewer = run.session, run.viewer
        cleaners = {
            "partner": partial(validate.text, "partner", max_len=255, required=True),
            "activity_type": partial(validate.choice, "activity_type", options=ACTIVITY_TYPES),
            "occurred_on": partial(validate.day, "occurred_on", required=True),
            "user_email": partial(validate.email, "user_email"),
            "summary": partial(validate.text, "summary", max_len=NOTES_MAX),
        }
        cleaned = self._cleaned(run, rows, errors, cleaners)
        visible = partners.by_name(session=session, viewer=viewer)
        people = users_by_email(session, (c.values.get("user_email") for c in cleaned))
        stored: dict[tuple, PartnerActivity] = {}
        for match in among(session, PartnerActivity.partner_id, ids_of(visible, cleaned)):
            for a in session.scalars(select(PartnerActivity).where(match)
                                     .order_by(PartnerActivity.created_at)):
                stored.setdefault((a.partner_id, a.occurred_on, a.activity_type, a.summary), a)
        seen: dict[Any, int] = {}
        plans = []
        for c in cleaned:
            v = c.values
            partner = partner_to_change(errors, c, visible, viewer)
            ok = partner is not None and not c.bad
            touch = None
            if not self.TOUCH & c.bad:
                # The touch rules (a known type, not in the future) are the partners service's.
                touch = errors.attempt(c.number, "occurred_on", partners.clean_touch,
                                       activity_type=v["activity_type"],
                                       occurred_on=v["occurred_on"], summary=v.get("summary"),
                                       fields=self.fields)
                ok = ok and touch is not BAD
            ok = resolve_person(errors, c, "user_email", people, "user_id") and ok
            if not ok:
                continue
            activity_type, occurred_on, summary = touch
            key = (partner.id, occurred_on, activity_type, summary)
            if not first_seen(errors, seen, key, c.number, "occurred_on",
                              "partner, occurred_on, activity_type and summary"):
                continue
            current = stored.get(key)
            if current is None:
                plans.append(Plan(c.number, "create", {
                    "partner_id": partner.id, "activity_type": activity_type,
                    "occurred_on": occurred_on, "summary": summary,
                    # Like log_touch: a touch without a named user is the importer's own.
                    "user_id": v["user_id"] if "user_id" in v else viewer.id}))
            else:
                plans.append(plan_for(c.number, current, differing(current, v, ("user_id",))))
        return plans

    def write(self, run, plans, errors):
        rows, entries = [], []
        for plan in plans:
            if plan.action == "create":
                touch_id = uuid.uuid4()
                rows.append(dict(id=touch_id, created_at=run.now, **plan.values))
                entries.append(audit_row(run, "log_touch", "partner_activity", touch_id,
                                         new=plan.values))
            elif plan.action == "update":
                touch = plan.target
                old, new = audit.changes(touch, plan.values)
                for name, value in new.items():
                    setattr(touch, name, value)
                entries.append(audit_row(run, "update", "partner_activity", touch.id,
                                         old=old, new=new))
        insert_rows(run.session, PartnerActivity, rows)
        insert_rows(run.session, AuditEntry, entries)
