"""Importing partners: through the partners service, which owns every rule on them."""

from __future__ import annotations

from functools import partial
from typing import Any

from isv.services import partners, validate
from isv.services.validate import blank

from .checks import Entity, Plan, differing, first_seen, plan_for, resolve_person
from .lookups import users_by_email
from .report import BAD


class PartnerRows(Entity):
    name, key_column = "partners", "name"
    # The health override (reason and expiry) and the tier travel with the partner, so an
    # export imports back as it was; the services' rules apply (both parts of an override or
    # neither, a tier changed only by a vp or sales manager).
    WRITTEN = (*partners.PARTNER_FIELDS, *partners.OVERRIDE_FIELDS, partners.TIER_FIELD)
    fields = {"owner_id": "owner_email", **{f: f for f in WRITTEN if f != "owner_id"}}

    def check(self, run, rows, errors):
        session = run.session
        cleaners = {name: partial(partners.clean_field, session, name)
                    for name in self.WRITTEN if name != "owner_id"}
        cleaners["relationship_health"] = lambda v: partners.clean_field(
            session, "relationship_health", "healthy" if blank(v) else v)
        cleaners["owner_email"] = partial(validate.email, "owner_email")
        cleaned = self._cleaned(run, rows, errors, cleaners)
        owners = users_by_email(session, (c.values.get("owner_email") for c in cleaned))
        stored = partners.by_name(session=session, viewer=run.viewer)
        seen: dict[Any, int] = {}
        plans = []
        for c in cleaned:
            v = c.values
            if "name" in v and not first_seen(errors, seen, v["name"].lower(), c.number,
                                              "name", "name"):
                continue
            ok = resolve_person(errors, c, "owner_email", owners, "owner_id") and not c.bad
            if ok and "owner_id" in v:
                # The owner rules (active, a role that may own partners) are the service's.
                owner_id = errors.attempt(c.number, "owner_email", partners.clean_field,
                                          session, "owner_id", v["owner_id"],
                                          fields=self.fields)
                ok = owner_id is not BAD
            if not ok:
                continue
            partner = stored.get(v["name"].lower())
            if partner is None:
                plans.append(Plan(c.number, "create", v))
            elif errors.attempt(c.number, "name", partners.check_partner_writable,
                                run.viewer, partner) is not BAD:
                # The name is the key: "ledgerline" finds "Ledgerline" and leaves it so.
                plans.append(plan_for(c.number, partner, differing(
                    partner, v, [f for f in self.WRITTEN if f != "name"])))
        return plans

    def write(self, run, plans, errors):
        for plan in plans:
            with errors.for_row(plan.row, self.key_column, self.fields):
                if plan.action == "create":
                    partners.create_partner(session=run.session, viewer=run.viewer,
                                            **plan.values)
                else:
                    partners.update_partner(session=run.session, viewer=run.viewer,
                                            partner_id=plan.target.id, **plan.values)
