"""Importing commission structures: through the commissions service and its terms rule."""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import Any

from sqlalchemy import select

from isv.models import CommissionStructure
from isv.services import commissions, partners, validate

from .checks import Entity, Plan, differing, first_seen, plan_for
from .lookups import among, ids_of, partner_to_change
from .report import BAD


class CommissionRows(Entity):
    name, key_column = "commissions", "partner"
    fields = {f: f for f in commissions.STRUCTURE_FIELDS} | {"partner_id": "partner",
                                                             "structure_id": "partner"}
    DEFAULTS = {"is_lifetime": False, "min_deal_size": Decimal("0.00"), "max_deal_size": None,
                "effective_to": None, "notes": None, "tier": None}

    def check(self, run, rows, errors):
        session = run.session
        cleaners = {name: partial(commissions.clean_field, name)
                    for name in commissions.STRUCTURE_FIELDS}
        cleaners["partner"] = partial(validate.text, "partner", max_len=255, required=True)
        cleaned = self._cleaned(run, rows, errors, cleaners)
        visible = partners.by_name(session=session, viewer=run.viewer)
        stored: dict[tuple, CommissionStructure] = {}
        for match in among(session, CommissionStructure.partner_id,
                           ids_of(visible, cleaned)):
            for s in session.scalars(select(CommissionStructure).where(match)):
                stored[(s.partner_id, s.structure_type, s.effective_from, s.min_deal_size)] = s
        seen: dict[Any, int] = {}
        plans = []
        for c in cleaned:
            partner = partner_to_change(errors, c, visible, run.viewer)
            if partner is None or c.bad:
                continue
            v = {k: value for k, value in c.values.items() if k != "partner"}
            v.setdefault("min_deal_size", Decimal("0.00"))
            key = (partner.id, v["structure_type"], v["effective_from"], v["min_deal_size"])
            if not first_seen(errors, seen, key, c.number, "effective_from",
                              "partner, structure_type, effective_from and min_deal_size"):
                continue
            current = stored.get(key)
            whole = {f: v.get(f, getattr(current, f) if current is not None
                              else self.DEFAULTS.get(f)) for f in commissions.STRUCTURE_FIELDS}
            if errors.attempt(c.number, "effective_from", commissions.check_terms, whole,
                              fields=self.fields) is BAD:
                continue
            if current is None:
                plans.append(Plan(c.number, "create", {"partner_id": partner.id, **whole}))
            else:
                plans.append(plan_for(c.number, current,
                                      differing(current, v, commissions.STRUCTURE_FIELDS)))
        return plans

    def write(self, run, plans, errors):
        for plan in plans:
            with errors.for_row(plan.row, self.key_column, self.fields):
                if plan.action == "create":
                    commissions.create_structure(session=run.session, viewer=run.viewer,
                                                 **plan.values)
                else:
                    commissions.update_structure(session=run.session, viewer=run.viewer,
                                                 structure_id=plan.target.id, **plan.values)
