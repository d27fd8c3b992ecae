"""Importing users: through the users service, row by row (files of people are short)."""

from __future__ import annotations

from functools import partial
from typing import Any

from isv.services import commissions, users
from isv.services.validate import blank

from .checks import Entity, Plan, differing, first_seen, plan_for
from .lookups import users_by_email


class UserRows(Entity):
    name, key_column = "users", "email"
    fields = {"email": "email", "first_name": "first_name", "last_name": "last_name",
              "role": "role", "is_active": "is_active"}
    CHANGEABLE = ("first_name", "last_name", "role", "is_active")

    def check(self, run, rows, errors):
        cleaners = {name: partial(users.clean_field, name)
                    for name in ("email", "first_name", "last_name", "role")}
        cleaners["is_active"] = lambda v: True if blank(v) else commissions.flag("is_active", v)
        cleaned = self._cleaned(run, rows, errors, cleaners)
        stored = users_by_email(run.session, (c.values.get("email") for c in cleaned))
        seen: dict[Any, int] = {}
        plans = []
        for c in cleaned:
            v = c.values
            if "email" in v and not first_seen(errors, seen, v["email"], c.number, "email",
                                               "email"):
                continue
            if c.bad:
                continue
            user = stored.get(v["email"])
            if user is None:
                plans.append(Plan(c.number, "create", {"is_active": True, **v}))
            else:
                plans.append(plan_for(c.number, user, differing(user, v, self.CHANGEABLE)))
        return plans

    def write(self, run, plans, errors):
        for plan in plans:
            with errors.for_row(plan.row, self.key_column, self.fields):
                if plan.action == "create":
                    users.create_user(session=run.session, viewer=run.viewer, **plan.values)
                    continue
                names = {k: v for k, v in plan.values.items() if k != "is_active"}
                if names:
                    users.update_user(session=run.session, viewer=run.viewer,
                                      user_id=plan.target.id, **names)
                if "is_active" in plan.values:
                    users.set_active(session=run.session, viewer=run.viewer,
                                     user_id=plan.target.id, active=plan.values["is_active"])
