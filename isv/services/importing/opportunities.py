"""Importing deals: checked by the opportunities service's rules, new ones written in bulk.

A new deal is inserted (COPY on PostgreSQL) with the first stage history and the audit entry
the service would write; a changed deal goes through `opportunities.update_opportunity`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from isv.models import CLOSED_STAGES, STAGES, AuditEntry, Opportunity, Partner, StageHistory, User
from isv.services import opportunities as opps
from isv.services import partners, validate

from .bulk import JsonEncoder, audit_row, insert_rows, new_ids
from .checks import (
    Cleaned,
    Entity,
    Plan,
    Run,
    differing,
    first_seen,
    moment_cleaner,
    plan_for,
)
from .formats import COLUMNS
from .lookups import Deal, deals_by_key, users_by_email
from .report import BAD, Errors


class OpportunityRows(Entity):
    name, key_column = "opportunities", "external_id"
    fields = {"partner_id": "partner", "assigned_user_id": "owner_email",
              "commission_structure_id": "partner", "version": "external_id",
              "opportunity_id": "external_id",
              **{c.name: c.name for c in COLUMNS["opportunities"]}}
    PLAIN = ("customer_name", "customer_contact_email", "deal_value", "expected_close_date",
             "notes")
    STAGE_INPUTS = {"stage", "probability", "actual_close_date", "lost_reason", "created_at"}

    def check(self, run, rows, errors):
        session, viewer = run.session, run.viewer
        cleaners: dict[str, Callable[[str], Any]] = {
            name: partial(opps.clean_field, name) for name in (*self.PLAIN, "external_id")}
        cleaners.update(
            partner=partial(validate.text, "partner", max_len=255, required=True),
            stage=partial(validate.choice, "stage", options=STAGES),
            probability=partial(validate.percent, "probability"),
            actual_close_date=partial(validate.day, "actual_close_date"),
            owner_email=partial(validate.email, "owner_email"),
            lost_reason=partial(validate.text, "lost_reason", max_len=500),
            created_at=moment_cleaner("created_at", run.zone),
        )
        cleaned = self._cleaned(run, rows, errors, cleaners)
        visible = partners.by_name(session=session, viewer=viewer)
        owners = users_by_email(session, (c.values.get("owner_email") for c in cleaned))
        deals = deals_by_key(session, (c.values["external_id"] for c in cleaned
                                       if c.values.get("external_id")))
        seen: dict[Any, int] = {}
        plans = []
        without_key = 0
        for done, c in enumerate(cleaned, start=1):
            run.tick("Matching opportunities", done, len(cleaned))
            key = c.values.get("external_id")
            if key is None and "external_id" not in c.bad:
                without_key += 1
            elif key is not None and not first_seen(errors, seen, key, c.number, "external_id",
                                                    "external_id"):
                continue
            plan = self._row_plan(run, c, deals.get(key) if key else None, visible, owners,
                                  errors)
            if plan is not None:
                plans.append(plan)
        if without_key:
            self.notice = (f"{without_key} row{'s have' if without_key != 1 else ' has'} no "
                           "external_id: such rows are always added as new deals, so importing "
                           "this file again would add them again.")
        return plans

    def _row_plan(self, run: Run, c: Cleaned, deal: Deal | None,
                  visible: dict[str, Partner], owners: dict[str, User],
                  errors: Errors) -> Plan | None:
        viewer, v, number = run.viewer, c.values, c.number
        if deal is not None and not opps.can_write(viewer, deal):
            errors.add(number, "external_id", "You may only change deals of your own partners "
                                              "or assigned to you.")
            return None
        ok = not c.bad
        partner_id = None
        if "partner" in v:
            partner_name = v["partner"].lower()
            if deal is not None and partner_name == deal.partner_name.lower():
                partner_id = deal.partner_id  # unchanged, even where the viewer may not add
            else:
                partner = visible.get(partner_name)
                if partner is None or not opps.may_add_deals(viewer, partner):
                    errors.add(number, "partner",
                               "no such partner among those you may add deals to")
                    ok = False
                else:
                    partner_id = partner.id

        assignee = None
        if v.get("owner_email"):
            user = owners.get(v["owner_email"])
            if user is None:
                errors.add(number, "owner_email", f"no user with email {v['owner_email']!r}")
                ok = False
            elif "stage" in v:
                assignee = errors.attempt(number, "owner_email", opps.check_assignee, user,
                                          closed=v["stage"] in CLOSED_STAGES,
                                          fields=self.fields)
                ok = ok and assignee is not BAD

        created = v.get("created_at")
        if deal is not None and created is not None and created != deal.created_at:
            errors.add(number, "created_at",
                       f"differs from the deal's stored creation time "
                       f"{deal.created_at.isoformat()}; it cannot be changed")
            ok = False
        created = created or (deal.created_at if deal is not None else run.now)

        if self.STAGE_INPUTS & c.bad:
            return None  # the stage rules need every one of their cells
        given: dict[str, Any] = {"stage": v["stage"]}
        if v.get("probability") is not None:
            given["probability"] = v["probability"]
        for name in ("actual_close_date", "lost_reason"):
            if name in v:
                given[name] = v[name]
        keeps_close = deal is not None and "actual_close_date" not in v and (
            deal.stage in CLOSED_STAGES)
        if v["stage"] in CLOSED_STAGES and v.get("actual_close_date") is None \
                and not keeps_close:
            errors.add(number, "actual_close_date", "is required for closed stages")
            return None
        settled = errors.attempt(
            number, "stage", opps.settle_stage,
            current_stage=deal.stage if deal else None,
            current_close=deal.actual_close_date if deal else None,
            current_reason=deal.lost_reason if deal else None,
            given=given, created_on=created.astimezone(run.zone).date(), today=run.today,
            probabilities=run.probabilities, fields=self.fields)
        if settled is BAD or not ok:
            return None

        if deal is None:
            values = {f: v.get(f) for f in self.PLAIN}
            values.update(settled, external_id=v.get("external_id"), partner_id=partner_id,
                          assigned_user_id=assignee, created_at=created)
            return Plan(number, "create", values)
        changes = differing(deal, v, self.PLAIN)
        if partner_id != deal.partner_id:
            changes["partner_id"] = partner_id
        if "owner_email" in v and assignee != deal.assigned_user_id:
            changes["assigned_user_id"] = assignee
        if any(getattr(deal, f) != settled[f] for f in settled):
            changes.update(given)  # the service settles the stage again, the same way
        return plan_for(number, deal, changes)

    def write(self, run, plans, errors):
        created = [p for p in plans if p.action == "create"]
        viewer = run.viewer
        ids = new_ids()
        history: list[dict[str, Any]] = []
        entries: list[dict[str, Any]] = []
        encode = JsonEncoder()

        def deals() -> Iterator[dict[str, Any]]:
            for done, plan in enumerate(created, start=1):
                deal_id, values = next(ids), plan.values
                yield dict(id=deal_id, commission_structure_id=None, version=1,
                           updated_by_id=viewer.id, updated_at=run.now, **values)
                # Made while PostgreSQL loads the deals before this one (loading them is the
                # slower part), so the two COPYs after these have little left to make.
                # No history of its own yet: a synthesized first row keeps "every deal has
                # a history"; real history imported later replaces it.
                history.append(dict(id=next(ids), opportunity_id=deal_id, from_stage=None,
                                    to_stage=values["stage"], changed_by=viewer.id,
                                    changed_at=values["created_at"], notes=None,
                                    synthesized=True))
                audited = {k: v for k, v in values.items() if k != "created_at"}
                entries.append(audit_row(
                    run, "create", "opportunity", deal_id, entry_id=next(ids),
                    new=encode({**audited, "commission_structure_id": None})))
                run.tick("Writing opportunities", done, len(created))

        insert_rows(run.session, Opportunity, deals())
        insert_rows(run.session, StageHistory, history)
        insert_rows(run.session, AuditEntry, entries)
        for plan in plans:
            if plan.action != "update":
                continue
            with errors.for_row(plan.row, self.key_column, self.fields):
                opps.update_opportunity(session=run.session, viewer=viewer,
                                        opportunity_id=plan.target.id,
                                        expected_version=plan.target.version, **plan.values)
