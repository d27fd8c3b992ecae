"""How codes read on screen: roles, relationship health, stages and the rest.

Numbers, money and dates are written by isv.display."""

from __future__ import annotations

from isv import display
from isv.models import DOMAINS, HEALTH, ROLES

__all__ = ["DOMAINS", "HEALTH", "ROLES", "role_label", "health_label"]

ROLE_LABELS = {
    "vp": "VP",
    "sales_manager": "Sales manager",
    "partnership_manager": "Partnership manager",
    "admin": "Admin",
}

# A distinct symbol per level, so health never depends on colour alone (colour-blind
# readers, greyscale printouts of exec decks).
HEALTH_LABELS = {
    "excellent": "● Excellent",
    "healthy": "○ Healthy",
    "needs_attention": "▲ Needs attention",
    "at_risk": "✖ At risk",
}


def role_label(role: str) -> str:
    return ROLE_LABELS.get(role, role)


def health_label(health: str | None) -> str:
    if health is None:
        return "All"
    return HEALTH_LABELS.get(health, health)


# --- deals and commissions (pipeline pages) ---------------------------------------------

STAGE_LABELS = display.STAGE_LABELS
STRUCTURE_TYPE_LABELS = {"referral": "Referral", "msp": "MSP", "reseller": "Reseller"}
ACTIVITY_LABELS = {"call": "Call", "meeting": "Meeting", "email": "Email", "qbr": "QBR",
                   "event": "Event", "other": "Other"}
# Text, not colour: a slipped deal is flagged with a symbol and a word.
SLIPPED_LABEL = "⚠ Slipped"


# The audit trail names fields as the forms and the grid do, never by their column names.
FIELD_LABELS = {
    "partner_id": "Partner",
    "customer_name": "Customer",
    "customer_contact_email": "Contact email",
    "deal_value": "Value",
    "stage": "Stage",
    "probability": "Probability",
    "expected_close_date": "Expected close",
    "actual_close_date": "Actual close",
    "assigned_user_id": "Owner",
    "lost_reason": "Lost reason",
    "notes": "Notes",
    "external_id": "External id",
    "commission_structure_id": "Commission structure",
    "tier": "Tier",
}
# A stage move comes from the board, the REST API or a script alike: the label names the move,
# not where it was made (the entry's actor says who).
ACTION_LABELS = {"create": "Created", "update": "Changed", "move_stage": "Moved to another stage",
                 "delete": "Deleted", "import": "Imported", "anonymise": "Anonymised",
                 "tier_accept": "Tier change accepted", "tier_reject": "Tier change rejected"}


def tier_label(tier: str | None) -> str:
    """A partner's tier as its badge reads, in words only (no colour): 'Gold', 'No tier'."""
    return tier if tier else "No tier"


def field_label(field: str) -> str:
    """'deal_value' → 'Value'; an unknown field reads as words ('lead_source' → 'Lead source')."""
    return FIELD_LABELS.get(field) or field.replace("_", " ").capitalize()


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action) or action.replace("_", " ").capitalize()


stage_label = display.stage


def structure_type_label(kind: str | None) -> str:
    return STRUCTURE_TYPE_LABELS.get(kind, kind) if kind else "—"


def activity_label(kind: str | None) -> str:
    return ACTIVITY_LABELS.get(kind, kind) if kind else "—"


# --- my week (weekly status, tasks, goals) ----------------------------------------------

PRIORITY_LABELS = display.PRIORITY_LABELS
TASK_STATUS_LABELS = {
    "pending": "Pending",
    "in_progress": "In progress",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "rolled_over": "↻ Rolled over",
}
GOAL_TYPE_LABELS = {"revenue": "Revenue", "opportunities": "New opportunities",
                    "partnerships": "New partners"}
STATUS_STATE_LABELS = {"submitted": "✔ Submitted", "draft": "✎ Draft, not submitted",
                       "missing": "✖ Not started"}


priority_label = display.priority


def task_status_label(status: str | None) -> str:
    return TASK_STATUS_LABELS.get(status, status) if status else "—"


def goal_type_label(goal_type: str | None) -> str:
    return GOAL_TYPE_LABELS.get(goal_type, goal_type) if goal_type else "—"


def status_state_label(state: str | None) -> str:
    return STATUS_STATE_LABELS.get(state, state) if state else "—"


# --- import / export (spec/IMPORT.md) ---------------------------------------------------

ENTITY_LABELS = {
    "users": "Users",
    "partners": "Partners",
    "commissions": "Commission structures",
    "opportunities": "Opportunities",
    "stage_history": "Stage history",
    "goals": "Quarterly goals",
    "activities": "Partner touches",
}


def entity_label(entity: str | None) -> str:
    return ENTITY_LABELS.get(entity, entity) if entity else "—"
