"""The file formats of spec/IMPORT.md: each entity's columns, in order, and natural keys.

The importer reads these and the exporter writes them, so a file exported imports again.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    """One column of an import/export file.

    `kind` says how an .xlsx cell is read and written: text, flag, money (also percentages),
    whole (a whole number), date or timestamp.
    """

    name: str
    required: bool = False
    kind: str = "text"


def _c(name: str, kind: str = "text") -> Column:
    return Column(name, False, kind)


def _r(name: str, kind: str = "text") -> Column:
    return Column(name, True, kind)


# In the order of IMPORT.md; exports write them in this order too.
COLUMNS: dict[str, tuple[Column, ...]] = {
    "users": (_r("email"), _r("first_name"), _r("last_name"), _r("role"),
              _c("is_active", "flag")),
    "partners": (_r("name"), _r("domain"), _c("website"), _c("primary_contact_name"),
                 _c("primary_contact_email"), _c("relationship_health"), _c("owner_email"),
                 _c("notes"), _c("health_reason"), _c("health_until", "date"), _c("tier")),
    "commissions": (_r("partner"), _r("structure_type"), _r("commission_percentage", "money"),
                    _c("is_lifetime", "flag"), _c("min_deal_size", "money"),
                    _c("max_deal_size", "money"), _r("effective_from", "date"),
                    _c("effective_to", "date"), _c("notes"), _c("tier")),
    "opportunities": (_c("external_id"), _r("partner"), _r("customer_name"),
                      _c("customer_contact_email"), _r("deal_value", "money"), _r("stage"),
                      _c("probability", "money"), _c("expected_close_date", "date"),
                      _c("actual_close_date", "date"), _c("owner_email"), _c("lost_reason"),
                      _c("notes"), _c("created_at", "timestamp")),
    "stage_history": (_r("opportunity_external_id"), _c("from_stage"), _r("to_stage"),
                      _r("changed_at", "timestamp"), _c("changed_by_email"), _c("notes")),
    "goals": (_r("user_email"), _r("year", "whole"), _r("quarter", "whole"), _c("goal_type"),
              _r("revenue_target", "money"), _c("current_progress", "money"), _c("notes")),
    "activities": (_r("partner"), _r("activity_type"), _r("occurred_on", "date"),
                   _c("user_email"), _c("summary")),
}
# Also the order `import all` loads them in: each refers only to those before it.
ENTITIES: tuple[str, ...] = tuple(COLUMNS)
NATURAL_KEYS: dict[str, str] = {
    "users": "email",
    "partners": "name",
    "commissions": "partner, structure_type, effective_from and min_deal_size",
    "opportunities": "external_id (a row without one is always a new deal)",
    "stage_history": "opportunity_external_id, changed_at and to_stage",
    "goals": "user_email, year, quarter and goal_type",
    "activities": "partner, occurred_on, activity_type and summary",
}
