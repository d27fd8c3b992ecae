"""The opportunity detail page: picker, every field in one form, history, audit, commission.

What it shows is read by services/deal_view.py; this module lays it out.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from isv import display
from isv.auth import Viewer
from isv.models import STAGES
from isv.services import commissions
from isv.services import opportunities as opps
from isv.services.deal_view import DealView, StructureInfo
from isv.services.opportunities import OpportunityFilters
from isv.ui import edits, widgets
from isv.ui.labels import action_label, field_label, stage_label, structure_type_label
from isv.ui.pipeline import MAX_DAY, MIN_DAY, Choices
from isv.ui.tables import table_height

SELECTED = "opportunity_detail_id"
PICKER_SIZE = 20


def structure_label(s: StructureInfo) -> str:
    """A structure in one line: type, percentage, band, dates and the tier it is for."""
    band = (f"{display.money(s.min_deal_size)}–{display.money(s.max_deal_size)}"
            if s.max_deal_size is not None else f"from {display.money(s.min_deal_size)}")
    until = f" to {display.day(s.effective_to)}" if s.effective_to else ""
    lifetime = ", lifetime" if s.is_lifetime else ""
    tier = f" · {s.tier} tier only" if s.tier else ""
    return (f"{structure_type_label(s.structure_type)} {display.percentage(s.percentage)}"
            f"{lifetime} · deals {band} · from {display.day(s.effective_from)}{until}{tier}")


# --- the audit trail in words: labels and people's names, never codes or ids ---------------

def _trail(view: DealView) -> pd.DataFrame:
    """One row per changed field: 'Owner: Priya Nair → Sam Lee', 'Stage: Demo → PoC'."""
    people, partners = view.people, view.partners
    structures = {str(s.id): structure_label(s) for s in view.structures}

    def shown(field: str, value: Any) -> str:
        if value is None or value == "":
            return {"assigned_user_id": "Unassigned",
                    "commission_structure_id": "By the rule"}.get(field, display.NONE)
        text = str(value)
        match field:
            case "stage":
                return stage_label(text)
            case "assigned_user_id":
                return people.get(text, "a former user")
            case "partner_id":
                return partners.get(text, "another partner")
            case "commission_structure_id":
                return structures.get(text, "a structure no longer listed")
            case "deal_value":
                return display.money(text)
            case "probability":
                return display.percentage(text)
            case "expected_close_date" | "actual_close_date":
                return display.day(date.fromisoformat(text[:10]))
        return text

    rows = []
    for change in view.changes:
        old, new = change.old, change.new
        for name in sorted(set(old) | set(new), key=lambda f: field_label(f).lower()):
            rows.append({"When": display.moment(change.at),
                         "Who": change.who,
                         "Action": action_label(change.action),
                         "Field": field_label(name),
                         "Before": shown(name, old.get(name)),
                         "After": shown(name, new.get(name))})
    return pd.DataFrame(rows, columns=["When", "Who", "Action", "Field", "Before", "After"])


# --- choosing a deal ---------------------------------------------------------------------

def chosen_id() -> str | None:
    """The deal to show: ?id= in the address, else the one picked earlier in this session."""
    from_link = st.query_params.get("id")
    if from_link:
        st.session_state[SELECTED] = from_link
        return from_link
    return st.session_state.get(SELECTED)


def open_deal(opportunity_id: Any) -> None:
    st.session_state[SELECTED] = str(opportunity_id)
    st.query_params["id"] = str(opportunity_id)
    st.rerun()


def forget_choice() -> None:
    st.session_state.pop(SELECTED, None)
    st.query_params.pop("id", None)


def picker() -> None:
    """Find a deal by customer, partner or notes; never a dead end without an id."""
    st.subheader("Choose a deal")
    text = st.text_input("Find a deal", key="deal_picker_text",
                         placeholder="Customer, partner or notes")
    listed = widgets.run(opps.list_opportunities, filters=OpportunityFilters(
        text=text.strip() or None), limit=PICKER_SIZE, sort="-updated_at")
    if listed is None:
        return
    rows, total = listed
    if not rows:
        st.info("No deal matches." if text.strip() else "There are no deals you may see yet.")
        return
    by_id = {str(r.id): r for r in rows}
    choice = st.selectbox(
        "Deal", list(by_id), key="deal_picker_choice",
        format_func=lambda i: (f"{by_id[i].customer_name} — {by_id[i].partner_name} — "
                               f"{stage_label(by_id[i].stage)} — "
                               f"{display.money(by_id[i].deal_value)}"))
    st.caption(f"Showing {len(rows)} of {total:,} matching deals, most recently changed first.")
    if st.button("Open", key="deal_picker_open", type="primary"):
        open_deal(choice)


# --- the page's parts ------------------------------------------------------------------------

def summary(view: DealView) -> None:
    f = view.fields
    st.subheader(widgets.escape_md(f["customer_name"]), anchor=False)
    st.markdown(
        f"{widgets.escape_md(view.partner_name)} · **{stage_label(f['stage'])}** · "
        f"{widgets.escape_md(display.money(f['deal_value']))} at "
        f"{widgets.escape_md(display.percentage(f['probability']))}")
    who = f" by {view.updated_by}" if view.updated_by else ""
    st.caption(widgets.escape_md(
        f"Created {display.moment(view.created_at)} · last changed "
        f"{display.moment(view.updated_at)}{who} · version {view.version}"))


def commission(view: DealView) -> None:
    st.subheader("Commission", anchor=False)
    if view.fields["stage"] == "closed_lost":
        st.info(commissions.LOST_EARNS_NOTHING, icon=":material/money_off:")
        return
    if view.applicable is None:
        st.info("No applicable structure: commission 0. Add a structure on the partner's "
                "page, or check the deal's value and close date.", icon=":material/info:")
        return
    pinned = view.fields["commission_structure_id"] is not None
    how = "chosen for this deal" if pinned else "by the rule (latest start, then highest %)"
    st.markdown(widgets.escape_md(f"{structure_label(view.applicable)} — {how}"))
    lifetime = " a year while the customer stays (lifetime structure)" \
        if view.applicable.is_lifetime else ""
    st.metric("First-year commission", display.money(view.first_year))
    if lifetime:
        st.caption(widgets.escape_md(f"Earns {display.money(view.first_year)}{lifetime}."))


def _base_key(view: DealView) -> str:
    return f"deal_base_{view.id}"


def edit_form(view: DealView, options: Choices, viewer: Viewer) -> None:
    """Every field in one form, saved with the version the user started from."""
    base_key = _base_key(view)
    base = st.session_state.setdefault(base_key, view.version)
    if f"d_customer_{view.id}_{base}" not in st.session_state:
        # The form is being opened (not on screen in the previous run): start from now.
        base = st.session_state[base_key] = view.version
    k = f"{view.id}_{base}"
    f = edits.drawn_from(f"deal@{view.id}@{base}", view.fields, probe=f"d_customer_{k}")
    if base != view.version:
        who = view.updated_by or "someone else"
        st.warning(widgets.escape_md(
            f"Changed by {who} at {display.moment(view.updated_at)} since you opened it. "
            "Saving would be refused; reload to see their change."), icon=":material/sync:")
        if st.button("Reload the latest", key=f"deal_reload_{view.id}"):
            st.session_state[base_key] = view.version
            st.rerun()
    errors = widgets.FieldErrors()
    disabled = not view.can_write
    partner_ids = list(dict.fromkeys([str(f["partner_id"]), *options.deal_partners(viewer)]))
    people = ["", *dict.fromkeys(
        ([str(f["assigned_user_id"])] if f["assigned_user_id"] else [])
        + list(options.active_people))]
    structure_ids = ["", *(str(s.id) for s in view.structures)]
    structure_labels = {str(s.id): structure_label(s) for s in view.structures}

    with st.form(f"deal_form_{k}"):
        left, right = st.columns(2)
        with left:
            customer = st.text_input("Customer", f["customer_name"], key=f"d_customer_{k}",
                                     max_chars=255, disabled=disabled)
            errors.slot("customer_name", "Customer")
            partner = st.selectbox("Partner", partner_ids, key=f"d_partner_{k}",
                                   format_func=options.partner_name, disabled=disabled)
            errors.slot("partner_id", "Partner")
            value = st.text_input(f"Value ({widgets.escape_md(display.currency())})",
                                  str(f["deal_value"]), key=f"d_value_{k}",
                                  disabled=disabled, help="An exact amount, like 25000.00")
            errors.slot("deal_value", "Value")
            stage = st.selectbox("Stage", STAGES, index=STAGES.index(f["stage"]),
                                 format_func=stage_label, key=f"d_stage_{k}",
                                 disabled=disabled)
            errors.slot("stage", "Stage")
            probability = st.text_input(
                "Probability (%)", str(f["probability"]), key=f"d_prob_{k}",
                disabled=disabled, help="0–100; left as it is on a stage change, the new "
                                        "stage's default applies")
            errors.slot("probability", "Probability")
            owner = st.selectbox("Owner", people, key=f"d_owner_{k}", disabled=disabled,
                                 index=people.index(str(f["assigned_user_id"]))
                                 if f["assigned_user_id"] else 0,
                                 format_func=lambda u: options.person(u) if u else "unassigned")
            errors.slot("assigned_user_id", "Owner")
        with right:
            email = st.text_input("Customer contact email", f["customer_contact_email"] or "",
                                  key=f"d_email_{k}", max_chars=255, disabled=disabled)
            errors.slot("customer_contact_email", "Customer contact email")
            expected = st.date_input("Expected close", f["expected_close_date"],
                                     key=f"d_expected_{k}", min_value=MIN_DAY,
                                     max_value=MAX_DAY, format="YYYY-MM-DD", disabled=disabled)
            errors.slot("expected_close_date", "Expected close")
            actual = st.date_input("Actual close", f["actual_close_date"], key=f"d_actual_{k}",
                                   min_value=MIN_DAY, max_value=MAX_DAY, format="YYYY-MM-DD",
                                   disabled=disabled,
                                   help="Closed deals only; today when left empty on closing")
            errors.slot("actual_close_date", "Actual close")
            lost_reason = st.text_input("Lost reason", f["lost_reason"] or "",
                                        key=f"d_lost_{k}", max_chars=500, disabled=disabled,
                                        help="Required when the deal is closed lost")
            errors.slot("lost_reason", "Lost reason")
            structure = st.selectbox(
                "Commission structure", structure_ids, key=f"d_structure_{k}",
                index=structure_ids.index(str(f["commission_structure_id"]))
                if f["commission_structure_id"] and str(f["commission_structure_id"])
                in structure_ids else 0,
                format_func=lambda s: structure_labels.get(s, "By the rule"), disabled=disabled)
            errors.slot("commission_structure_id", "Commission structure")
            external = st.text_input("External id", f["external_id"] or "",
                                     key=f"d_external_{k}", max_chars=100, disabled=disabled,
                                     help="The id in another system, for imports")
            errors.slot("external_id", "External id")
        notes = st.text_area("Notes", f["notes"] or "", key=f"d_notes_{k}", disabled=disabled)
        errors.slot("notes", "Notes")
        note = st.text_input("Note for the stage history (when the stage changes)",
                             key=f"d_note_{k}", disabled=disabled)
        errors.slot("note", "Note")
        errors.slot("version", "Version")
        saved = st.form_submit_button("Save changes", type="primary", disabled=disabled,
                                      key=f"d_save_{k}")
    if disabled:
        st.caption("Read only: you may not change this deal.")
    if not saved:
        return
    typed = {
        "customer_name": customer, "partner_id": partner, "deal_value": value,
        "stage": stage, "probability": probability, "assigned_user_id": owner or None,
        "customer_contact_email": email, "expected_close_date": expected,
        "actual_close_date": actual, "lost_reason": lost_reason,
        "commission_structure_id": structure or None, "external_id": external, "notes": notes,
    }
    changed = edits.changed(f, typed)
    if not changed:
        st.info("Nothing changed.")
        return
    result = widgets.run(opps.update_opportunity, errors=errors, opportunity_id=view.id,
                         expected_version=base, note=note.strip() or None, **changed)
    if result is not None:
        st.session_state[base_key] = result.version
        widgets.flash("Saved.")
        st.rerun()


def history(view: DealView) -> None:
    st.subheader("Stage history", anchor=False)
    frame = pd.DataFrame(
        [{"When": display.moment(h.changed_at), "Who": h.who,
          "From": stage_label(h.from_stage) if h.from_stage else "(new deal)",
          "To": stage_label(h.to_stage),
          "Note": (h.notes or "") + (" (reconstructed on import)" if h.synthesized else "")}
         for h in view.history],
        columns=["When", "Who", "From", "To", "Note"])
    st.dataframe(frame, hide_index=True, width="stretch", key="deal_history",
                 placeholder=display.NONE, height=table_height(len(frame)))


def trail(view: DealView) -> None:
    st.subheader("Audit trail", anchor=False)
    frame = _trail(view)
    if frame.empty:
        st.caption("No recorded changes.")
        return
    st.dataframe(frame, hide_index=True, width="stretch", key="deal_trail",
                 placeholder=display.NONE, height=table_height(len(frame)))

