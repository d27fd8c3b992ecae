"""The partner detail page: profile, touches, commission structures and deals of one partner.

What it shows is read by services/partner_view.py; this module lays it out.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st
from sqlalchemy.orm import Session

from isv import charts, display
from isv.auth import WRITE_PARTNERS, Viewer
from isv.models import ACTIVITY_TYPES, DOMAINS, HEALTH, STRUCTURE_TYPES
from isv.services import commissions, health, locking, partners
from isv.services.deal_view import StructureInfo
from isv.services.partner_view import PartnerView
from isv.services.settings import current_settings, local_today
from isv.ui import edits, widgets
from isv.ui.deal import structure_label
from isv.ui.grid import detail_link
from isv.ui.labels import (
    activity_label,
    health_label,
    stage_label,
    structure_type_label,
    tier_label,
)
from isv.ui.pipeline import MAX_DAY, MIN_DAY, Choices
from isv.ui.tables import table_height

SELECTED = "partner_detail_id"
NEW = "new"


# --- choosing ------------------------------------------------------------------------------

def chosen() -> str | None:
    """The partner to show (?id=), NEW for the creation form (?new=1), or None for the picker."""
    params = st.query_params
    if params.get("new") == "1":
        return NEW
    if params.get("id"):
        st.session_state[SELECTED] = params["id"]
        return params["id"]
    return st.session_state.get(SELECTED)


def open_partner(partner_id: Any) -> None:
    st.session_state[SELECTED] = str(partner_id)
    st.query_params.clear()
    st.query_params["id"] = str(partner_id)
    st.rerun()


def forget() -> None:
    st.session_state.pop(SELECTED, None)
    st.query_params.clear()


def may_add_partners(viewer: Viewer) -> bool:
    return viewer.can(WRITE_PARTNERS)


def picker(options: Choices, viewer: Viewer) -> None:
    st.subheader("Choose a partner", anchor=False)
    if not options.partners:
        st.info("There are no partners you may see yet.")
    else:
        choice = st.selectbox("Partner", list(options.partners), key="partner_picker",
                              format_func=options.partner_name)
        if st.button("Open", key="partner_picker_open", type="primary"):
            open_partner(choice)
    if may_add_partners(viewer) and st.button("New partner", key="partner_new",
                                              icon=":material/add:"):
        st.query_params.clear()
        st.query_params["new"] = "1"
        st.rerun()


# --- the profile form (new and edit) -------------------------------------------------------

def _owner_choices(options: Choices, viewer: Viewer, current: Any) -> list[str]:
    if not partners.writes_everything(viewer):
        return [str(viewer.id)]  # a partnership manager's partners are their own
    ids = ["", *options.owners]
    if current and str(current) not in ids:
        ids.append(str(current))
    return ids


def profile_form(options: Choices, viewer: Viewer, view: PartnerView | None) -> None:
    """Create a partner (view None) or change one; errors appear under their inputs."""
    if view is None:
        k, f = "new", {name: None for name in (*partners.PARTNER_FIELDS,
                                                *partners.OVERRIDE_FIELDS)}
    else:
        form = f"partner@{view.id}"
        k = edits.keyed(form, str(view.id))
        f = edits.drawn_from(f"{form}@{k}", {**view.fields, "version": view.version},
                             probe=f"p_name_{k}")
        changed_meanwhile(form, "partner", view.id, f["version"] != view.version)
    errors = widgets.FieldErrors()
    owners = _owner_choices(options, viewer, f["owner_id"])
    current_owner = str(f["owner_id"]) if f["owner_id"] else (
        owners[0] if view is None and not partners.writes_everything(viewer) else "")
    with st.form(f"partner_form_{k}"):
        left, right = st.columns(2)
        with left:
            name = st.text_input("Name", f["name"] or "", key=f"p_name_{k}", max_chars=255)
            errors.slot("name", "Name")
            domain = st.selectbox("Domain", DOMAINS, key=f"p_domain_{k}",
                                  index=DOMAINS.index(f["domain"]) if f["domain"] in DOMAINS
                                  else None, placeholder="Choose a domain")
            errors.slot("domain", "Domain")
            health = st.selectbox("Relationship health (hand-set)", HEALTH, key=f"p_health_{k}",
                                  index=HEALTH.index(f["relationship_health"] or "healthy"),
                                  format_func=health_label,
                                  help="Shows instead of the health score's label until the "
                                       "override ends; after that the score decides.")
            errors.slot("relationship_health", "Relationship health")
            reason_col, until_col = st.columns([2, 1])
            with reason_col:
                reason = st.text_input("Override reason", f["health_reason"] or "",
                                       key=f"p_health_reason_{k}", max_chars=500,
                                       placeholder="Why the label, not the score")
                errors.slot("health_reason", "Override reason")
            with until_col:
                until = st.date_input("Override until", f["health_until"],
                                      key=f"p_health_until_{k}", min_value=MIN_DAY,
                                      max_value=MAX_DAY, format="YYYY-MM-DD",
                                      help="Empty: no override, the score's label shows.")
                errors.slot("health_until", "Override until")
            owner = st.selectbox("Owner", owners, key=f"p_owner_{k}",
                                 index=owners.index(current_owner)
                                 if current_owner in owners else 0,
                                 format_func=lambda u: options.person(u) if u else "unassigned",
                                 help="The partnership manager who owns the partner")
            errors.slot("owner_id", "Owner")
        with right:
            website = st.text_input("Website", f["website"] or "", key=f"p_website_{k}",
                                    placeholder="https://…")
            errors.slot("website", "Website")
            contact = st.text_input("Primary contact", f["primary_contact_name"] or "",
                                    key=f"p_contact_{k}", max_chars=255)
            errors.slot("primary_contact_name", "Primary contact")
            contact_email = st.text_input("Primary contact email",
                                          f["primary_contact_email"] or "",
                                          key=f"p_contact_email_{k}", max_chars=255)
            errors.slot("primary_contact_email", "Primary contact email")
        notes = st.text_area("Notes", f["notes"] or "", key=f"p_notes_{k}")
        errors.slot("notes", "Notes")
        submitted = st.form_submit_button("Add partner" if view is None else "Save profile",
                                          type="primary", key=f"p_submit_{k}")
    if not submitted:
        return
    values = {"name": name, "domain": domain, "relationship_health": health,
              "owner_id": owner or None, "website": website, "primary_contact_name": contact,
              "primary_contact_email": contact_email, "notes": notes,
              "health_reason": reason.strip() or None, "health_until": until}
    if view is None:
        created = widgets.run(partners.create_partner, errors=errors, **values)
        if created is not None:
            widgets.flash(f"Added {created.name}.")
            open_partner(created.id)
        return
    changed = edits.changed(f, values)
    if not partners.writes_everything(viewer):
        changed.pop("owner_id", None)
    if not changed:
        st.info("Nothing changed.")
        return
    saved = widgets.run(partners.update_partner, errors=errors, partner_id=view.id,
                        expected_version=f["version"], **changed)
    if saved is not None:
        edits.renew(f"partner@{view.id}")
        widgets.flash("Profile saved.")
        st.rerun()


def changed_meanwhile(form: str, entity_type: str, entity_id: Any, stale: bool) -> None:
    """Say who changed the record since this form was opened, and offer to reload it."""
    if not stale:
        return
    message = widgets.run(locking.last_change_message, entity_type=entity_type,
                          entity_id=entity_id)
    st.warning(widgets.escape_md(f"{message or 'Changed by someone else'}. Saving what this "
                                 "form holds would be refused."), icon=":material/sync:")
    if st.button("Reload the latest", key=f"{form}_reload"):
        edits.renew(form)
        st.rerun()


# --- the read-only profile -------------------------------------------------------------------

def profile(view: PartnerView) -> None:
    f, esc = view.fields, widgets.escape_md
    st.subheader(esc(f["name"]), anchor=False)
    owner = (f"{view.owner_name} ({view.owner_email})" if view.owner_name else "unassigned")
    contact = f["primary_contact_name"] or "no contact"
    if f["primary_contact_email"]:
        contact += f" <{f['primary_contact_email']}>"
    st.markdown("  \n".join([
        f"**Tier:** {esc(tier_label(view.tier))} · **Domain:** {esc(f['domain'])} · "
        f"**Health:** {esc(health_text(view))}",
        f"**Owner:** {esc(owner)}",
        f"**Contact:** {esc(contact)}",
        f"**Website:** {esc(f['website'] or 'none')}",
    ]))
    if f["notes"]:
        st.caption(esc(f["notes"]))
    score, a, b, c = st.columns(4)
    if view.health is not None:
        score.metric("Health score", f"{display.count(view.health.score)} / 100",
                     help=widgets.escape_md(view.health.explained()))
    a.metric("Open deals", f"{view.open_count:,}")
    b.metric("Open pipeline", display.money_short(view.open_value),
             help=widgets.escape_md(f"{display.money(view.open_value)}: value of the open deals"))
    c.metric("Weighted", display.money_short(view.open_weighted),
             help=widgets.escape_md(f"{display.money(view.open_weighted)}: Σ value × probability "
                                    "of the open deals"))


def health_text(view: PartnerView) -> str:
    """The label the partner shows, and where it comes from: the score or a hand-set override."""
    result = view.health
    if result is None:
        return health_label(view.fields["relationship_health"])
    if result.overridden:
        return (f"{health_label(result.health)} (set by hand until "
                f"{display.day(result.until)}: {result.reason})")
    return f"{health_label(result.health)} (from the score, {display.count(result.score)})"


def health_parts(view: PartnerView) -> None:
    """The score's parts, each with its points and reason: they add up to the score."""
    if view.health is None:
        return
    result = view.health
    st.dataframe(health_frame(result), hide_index=True, key=f"p_health_parts_{view.id}",
                 column_config=HEALTH_COLUMNS, height=table_height(len(result.parts)))
    note = f"The parts add up to {display.count(result.total)}"
    if result.clamped:
        note += f", held at {display.count(result.score)} (a score is 0 to 100)"
    st.caption(note + ". Weights and the stall days are on the Settings page.")
    st.plotly_chart(charts.health_trend_figure(
        pd.DataFrame(view.trend, columns=["Week", "Score"]),
        context="Weekly snapshots; dotted lines: where the labels change"),
        key=f"p_health_trend_{view.id}", theme=None, config={"displaylogo": False},
        alt="The partner's weekly health score")


HEALTH_COLUMNS = {
    "Points": st.column_config.TextColumn("Points"),
    "Part": st.column_config.TextColumn("Part"),
    "Reason": st.column_config.TextColumn("Reason"),
}


def health_frame(result: health.PartnerHealth) -> pd.DataFrame:
    return pd.DataFrame(
        [{"Points": health.signed(p.points), "Part": p.label, "Reason": p.reason}
         for p in result.parts], columns=list(HEALTH_COLUMNS))


def delete_section(view: PartnerView) -> None:
    """Delete, behind an explicit confirmation that says what goes with it."""
    with st.expander("Delete this partner", icon=":material/delete:"):
        n = view.counts
        st.warning(widgets.escape_md(
            f"Deleting {view.fields['name']} also deletes its {n['deals']:,} deals (with their "
            f"stage history), {n['structures']} commission structures and {n['touches']} "
            "touches. This cannot be undone."))
        sure = st.checkbox(widgets.escape_md(f"Yes, delete {view.fields['name']}"),
                           key=f"p_delete_sure_{view.id}")
        if st.button("Delete partner", key=f"p_delete_{view.id}", disabled=not sure,
                     type="primary"):
            if widgets.run(_delete, partner_id=view.id):
                forget()
                widgets.flash(f"Deleted {view.fields['name']}.")
                st.rerun()


def _delete(*, session: Session, viewer: Viewer, partner_id: Any) -> bool:
    partners.delete_partner(session=session, viewer=viewer, partner_id=partner_id)
    return True


# --- touches ---------------------------------------------------------------------------------

def touches(view: PartnerView) -> None:
    if view.can_edit:
        errors = widgets.FieldErrors()
        with st.form(f"touch_{view.id}", clear_on_submit=False):
            kind_col, day_col = st.columns(2)
            with kind_col:
                kind = st.selectbox("Type", ACTIVITY_TYPES, format_func=activity_label,
                                    key=f"t_kind_{view.id}")
                errors.slot("activity_type", "Type")
            with day_col:
                day = st.date_input("Date", local_today(), key=f"t_day_{view.id}",
                                    min_value=MIN_DAY, max_value=MAX_DAY, format="YYYY-MM-DD")
                errors.slot("occurred_on", "Date")
            summary = st.text_area("Summary", key=f"t_summary_{view.id}", height=80)
            errors.slot("summary", "Summary")
            logged = st.form_submit_button("Log a touch", key=f"t_submit_{view.id}",
                                           icon=":material/add_comment:")
        if logged:
            touch = widgets.run(partners.log_touch, errors=errors, partner_id=view.id,
                                activity_type=kind, occurred_on=day, summary=summary)
            if touch is not None:
                widgets.reset(f"t_summary_{view.id}")
                widgets.flash(f"Logged a {activity_label(kind).lower()} on {display.day(day)}.")
                st.rerun()
    if not view.touches:
        st.caption("No touches logged yet.")
    else:
        frame = pd.DataFrame(
            [{"Date": display.day(t.occurred_on), "Type": activity_label(t.activity_type),
              "By": t.by, "Summary": t.summary} for t in view.touches],
            columns=["Date", "Type", "By", "Summary"])
        st.dataframe(frame, hide_index=True, width="stretch", key="partner_touches",
                     placeholder=display.NONE, height=table_height(len(frame)))


# --- commission structures -------------------------------------------------------------------

def structures_table(view: PartnerView) -> pd.DataFrame:
    today = local_today()
    return pd.DataFrame(
        [{"Type": structure_type_label(s.structure_type),
          "Percent": display.percentage(s.percentage),
          "Lifetime": "yes" if s.is_lifetime else "no",
          "Min deal": display.money(s.min_deal_size),
          "Max deal": display.money(s.max_deal_size, none="no limit"),
          "From": display.day(s.effective_from),
          "To": display.day(s.effective_to, none="open"),
          "Now": "in effect" if commissions.in_effect(s, today) else "",
          "Tier": s.tier or "any",
          "Notes": view.notes_of.get(s.id) or ""} for s in view.structures],
        columns=["Type", "Percent", "Lifetime", "Min deal", "Max deal", "From", "To", "Now",
                 "Tier", "Notes"])


def structure_values(s: StructureInfo, notes: str | None) -> dict[str, Any]:
    """A structure as its edit form shows it (commissions.STRUCTURE_FIELDS)."""
    return {"structure_type": s.structure_type, "commission_percentage": s.percentage,
            "is_lifetime": s.is_lifetime, "min_deal_size": s.min_deal_size,
            "max_deal_size": s.max_deal_size, "effective_from": s.effective_from,
            "effective_to": s.effective_to, "notes": notes, "tier": s.tier}


def _structure_fields(prefix: str, errors: widgets.FieldErrors,
                      s: dict[str, Any] | None) -> dict[str, Any]:
    left, right = st.columns(2)
    with left:
        kind = st.selectbox("Type", STRUCTURE_TYPES, format_func=structure_type_label,
                            key=f"{prefix}_type",
                            index=STRUCTURE_TYPES.index(s["structure_type"]) if s else 0)
        errors.slot("structure_type", "Type")
        pct = st.text_input("Commission %", str(s["commission_percentage"]) if s else "",
                            key=f"{prefix}_pct", help="0–100, up to two decimals")
        errors.slot("commission_percentage", "Commission %")
        lifetime = st.checkbox("Lifetime", value=bool(s["is_lifetime"]) if s else False,
                               key=f"{prefix}_life",
                               help="Earns the same percentage again each year the customer "
                                    "stays")
        errors.slot("is_lifetime", "Lifetime")
        notes_value = st.text_input("Notes", (s["notes"] if s else None) or "",
                                    key=f"{prefix}_notes")
        errors.slot("notes", "Notes")
    with right:
        low = st.text_input(f"Min deal size ({widgets.escape_md(display.currency())})",
                            str(s["min_deal_size"]) if s else "0",
                            key=f"{prefix}_min")
        errors.slot("min_deal_size", "Min deal size")
        high = st.text_input(f"Max deal size ({widgets.escape_md(display.currency())})",
                             str(s["max_deal_size"]) if s and s["max_deal_size"] is not None
                             else "", key=f"{prefix}_max", help="Empty: no upper limit")
        errors.slot("max_deal_size", "Max deal size")
        start = st.date_input("Effective from", s["effective_from"] if s else local_today(),
                              key=f"{prefix}_from", min_value=MIN_DAY, max_value=MAX_DAY,
                              format="YYYY-MM-DD")
        errors.slot("effective_from", "Effective from")
        end = st.date_input("Effective to", s["effective_to"] if s else None,
                            key=f"{prefix}_to", min_value=MIN_DAY, max_value=MAX_DAY,
                            format="YYYY-MM-DD", help="Empty: open-ended")
        errors.slot("effective_to", "Effective to")
        names = [None, *(t.name for t in current_settings().partner_tiers)]
        if s and s["tier"] not in names:
            names.append(s["tier"])
        tier = st.selectbox("Tier", names, key=f"{prefix}_tier",
                            index=names.index(s["tier"]) if s else 0,
                            format_func=lambda name: name or "Any tier",
                            help="A structure for one tier pays only while the partner holds "
                                 "it, and then before the structures for any tier.")
        errors.slot("tier", "Tier")
    return {"structure_type": kind, "commission_percentage": pct, "is_lifetime": lifetime,
            "min_deal_size": low, "max_deal_size": high or None, "effective_from": start,
            "effective_to": end, "notes": notes_value, "tier": tier}


def structures(view: PartnerView) -> None:
    if view.structures:
        structures = structures_table(view)
        st.dataframe(structures, hide_index=True, width="stretch", key="partner_structures",
                     placeholder=display.NONE, height=table_height(len(structures)))
    else:
        st.caption("No commission structures yet: deals of this partner earn no commission.")
    if not view.can_edit:
        return
    add_tab, edit_tab = st.tabs(["Add a structure", "Change or end a structure"])
    with add_tab:
        errors = widgets.FieldErrors()
        with st.form(f"s_add_{view.id}"):
            values = _structure_fields(f"s_add_{view.id}", errors, None)
            added = st.form_submit_button("Add structure", type="primary",
                                          key=f"s_add_submit_{view.id}")
        if added:
            row = widgets.run(commissions.create_structure, errors=errors,
                              partner_id=view.id, **values)
            if row is not None:
                widgets.flash("Commission structure added.")
                st.rerun()
    with edit_tab:
        if not view.structures:
            st.caption("Nothing to change yet.")
            return
        by_id = {str(s.id): s for s in view.structures}
        chosen_id = st.selectbox("Structure", list(by_id), key=f"s_pick_{view.id}",
                                 format_func=lambda i: structure_label(by_id[i]))
        s = by_id[chosen_id]
        form = f"structure@{chosen_id}"
        prefix = edits.keyed(form, f"s_edit_{chosen_id}")
        fresh = {**structure_values(s, view.notes_of.get(s.id)), "version": s.version}
        base = edits.drawn_from(f"{form}@{prefix}", fresh, probe=f"{prefix}_pct")
        changed_meanwhile(form, "commission_structure", s.id, base["version"] != s.version)
        errors = widgets.FieldErrors()
        with st.form(prefix):
            values = _structure_fields(prefix, errors, base)
            save = st.form_submit_button("Save structure", type="primary",
                                         key=f"s_edit_submit_{chosen_id}")
        if save:
            changed = edits.changed(base, values)
            if not changed:
                st.info("Nothing changed.")
            else:
                row = widgets.run(commissions.update_structure, errors=errors,
                                  structure_id=s.id, expected_version=base["version"],
                                  **changed)
                if row is not None:
                    edits.renew(form)
                    widgets.flash("Commission structure saved.")
                    st.rerun()
        end_errors = widgets.FieldErrors()
        with st.form(f"s_end_{chosen_id}"):
            end = st.date_input("End it on (last day it applies)", local_today(),
                                key=f"s_end_day_{chosen_id}", min_value=MIN_DAY,
                                max_value=MAX_DAY, format="YYYY-MM-DD")
            end_errors.slot("effective_to", "End it on")
            ended = st.form_submit_button("End structure", key=f"s_end_submit_{chosen_id}")
        if ended:
            row = widgets.run(commissions.end_structure, errors=end_errors,
                              structure_id=s.id, effective_to=end,
                              expected_version=base["version"])
            if row is not None:
                edits.renew(form)
                widgets.flash(f"The structure ends on {end}.")
                st.rerun()


# --- deals -----------------------------------------------------------------------------------

def deals(view: PartnerView) -> None:
    if not view.deals:
        st.caption("No deals yet.")
    else:
        frame = pd.DataFrame(
            [{"Open": detail_link(r.id), "Customer": r.customer_name,
              "Stage": stage_label(r.stage), "Value": display.money(r.deal_value),
              "Close": display.day(r.actual_close_date or r.expected_close_date, none=""),
              "Owner": r.assigned_user_name or "unassigned"} for r in view.deals],
            columns=["Open", "Customer", "Stage", "Value", "Close", "Owner"])
        st.dataframe(frame, hide_index=True, width="stretch", key="partner_deals",
                     height=table_height(len(frame)),
                     column_config={"Open": st.column_config.LinkColumn(
                         "Open", display_text="Open ↗")}, placeholder=display.NONE)
        shown = len(frame)
        if view.deal_total > shown:
            st.caption(f"The {shown} most recently changed of {view.deal_total:,} deals.")
    st.page_link("pages/opportunities.py", label="All of this partner's deals in the grid",
                 icon=":material/table:", query_params={"partner": str(view.id)})

