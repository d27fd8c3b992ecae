"""Deal registration's pages: the partner's public form, the partner page's links, and the
registrations list with its decisions."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
import streamlit as st

from isv import display
from isv.db import session_scope
from isv.errors import RateLimited, Unauthenticated, ValidationError, ValidationErrors
from isv.models import REGISTRATION_STATUSES
from isv.services import registrations as service
from isv.services.settings import local_today
from isv.types import utcnow
from isv.ui import links, state
from isv.ui.pipeline import Choices
from isv.ui.tables import table_height
from isv.ui.widgets import FieldErrors, escape_md, flash, reset, run

REGISTRATIONS_PAGE = "pages/registrations.py"
DEAL_PAGE = "pages/opportunity_detail.py"
TOKEN_PARAM = "token"
RECEIVED = "register_received"        # (customer, value, close) of the registration just sent
FORM_KEYS = ("reg_customer", "reg_email", "reg_value", "reg_close", "reg_notes")
NEW_LINK = "partner_new_link"         # (partner id, address) of the link just made
LINK_CONFIRM = "partner_link_revoke"  # the link whose Revoke asks to be confirmed
REJECTING = "registrations_rejecting"  # the registration whose reject form is open
STATUS_KEY, PARTNER_KEY, ADDRESS_KEY = "reg_status", "reg_partner", "reg_address"
ANY = ""
REASON_TEXT = {"name": "same name", "email domain": "same email domain"}


def _errors_shown(errors: FieldErrors, exc: ValidationError) -> None:
    for one in exc.errors if isinstance(exc, ValidationErrors) else [exc]:
        errors.show(one)


# --- the public form ------------------------------------------------------------------------

def public_form() -> None:
    """The form a partner opens from its link: no account, nothing shown but its own input."""
    # Signed in, the frame ran first and left its mark for a page_viewer() this page has not.
    st.session_state.pop(state.FRAME_RAN, None)
    secret = st.query_params.get(TOKEN_PARAM)
    st.title("Register a deal")
    try:
        with session_scope() as session:
            opened = service.open_link(session=session, secret=secret)
            session.commit()
    except Unauthenticated as exc:
        st.error(escape_md(str(exc)), icon=":material/link_off:")
        st.stop()
    st.caption(f"For {escape_md(opened.partner_name)}'s partner program. The partner team "
               "checks every registration against its pipeline and approves or rejects it; "
               "an approved registration protects the deal for you.")
    received = st.session_state.get(RECEIVED)
    if received:
        st.success(escape_md(f"Thank you: your registration of {received[0]} "
                             f"({received[1]}, expected to close {received[2]}) was received."),
                   icon=":material/check_circle:")
    today = local_today()
    errors = FieldErrors()
    with st.form("register", border=True):
        customer = st.text_input("Customer", key="reg_customer", max_chars=service.CUSTOMER_MAX,
                                 placeholder="The customer's company name")
        errors.slot("customer_name", "Customer")
        email = st.text_input("Contact email", key="reg_email", max_chars=255,
                              placeholder="name@customer.com",
                              help="Your contact at the customer, at their company's domain.")
        errors.slot("contact_email", "Contact email")
        value = st.text_input(f"Value estimate ({escape_md(display.currency())})",
                              key="reg_value", max_chars=20, placeholder="e.g. 48000.00")
        errors.slot("deal_value", "Value estimate")
        close = st.date_input("Expected close", value=None, key="reg_close", min_value=today,
                              max_value=today + timedelta(days=service.MAX_CLOSE_DAYS),
                              format="YYYY-MM-DD")
        errors.slot("expected_close_date", "Expected close")
        notes = st.text_area("Notes", key="reg_notes", max_chars=service.NOTES_MAX,
                             placeholder="Products, the customer's need, where it stands")
        errors.slot("notes", "Notes")
        sent = st.form_submit_button("Register the deal", type="primary", key="reg_submit")
    if not sent:
        return
    try:
        with session_scope() as session:
            made = service.submit_registration(
                session=session, secret=secret, customer_name=customer, contact_email=email,
                deal_value=value, expected_close_date=close, notes=notes)
            receipt = (made.customer_name, display.money(made.deal_value),
                       display.day(made.expected_close_date))
            session.commit()
    except ValidationError as exc:
        _errors_shown(errors, exc)
        return
    except (Unauthenticated, RateLimited) as exc:
        st.error(escape_md(str(exc)), icon=":material/block:")
        return
    st.session_state[RECEIVED] = receipt
    reset(*FORM_KEYS)
    st.rerun()


# --- the partner page: its links -------------------------------------------------------------

LINK_COLUMNS = ["Created", "By", "Expires", "Last used", "Registrations", "Status"]
LINK_STATUS = {"active": "Active", "expired": "Expired", "revoked": "Revoked"}


def _address(secret: str) -> str:
    """The form's full address, on the host and path prefix this page is served from."""
    query = f"{TOKEN_PARAM}={secret}"
    current = st.context.url
    if not current:
        return f"register?{query}"
    parts = urlsplit(current)
    prefix = parts.path.rsplit("/", 1)[0]
    return urlunsplit((parts.scheme, parts.netloc, f"{prefix}/register", query, ""))


def link_section(partner_id: uuid.UUID, partner_name: str) -> None:
    """Make, list and revoke a partner's registration links (its writers only)."""
    st.caption(f"A link lets {escape_md(partner_name)} register deals without an account. "
               "Anyone holding it can register deals for this partner until it expires or is "
               "revoked, so send it to the partner's own people only.")
    made = st.session_state.get(NEW_LINK)
    if made and made[0] == str(partner_id):
        with st.container(border=True):
            st.markdown("**The new registration link**")
            st.code(made[1], language=None)
            st.warning("Copy it now: it is not shown again and cannot be recovered (only a "
                       "fingerprint of it is stored). If it is lost, revoke it and make "
                       "another.", icon=":material/warning:")
            if st.button("I have copied it, hide it", key="reg_link_hide"):
                st.session_state.pop(NEW_LINK, None)
                st.rerun()
    errors = FieldErrors()
    days_col, button_col = st.columns([2, 1], vertical_alignment="bottom")
    days = days_col.selectbox("Link works for", service.LINK_DAYS, index=1, key="reg_link_days",
                              format_func=lambda d: "1 year" if d == 365 else f"{d} days")
    with days_col:
        errors.slot("days", "Link works for")
    if button_col.button("Make a registration link", key="reg_link_make",
                         icon=":material/add_link:"):
        created = run(service.create_link, errors=errors, partner_id=partner_id, days=days)
        if created is not None:
            st.session_state[NEW_LINK] = (str(partner_id), _address(created.secret))
            st.rerun()
    rows = run(service.list_links, partner_id=partner_id)
    if rows is None:
        return
    if not rows:
        st.caption("No links yet.")
        return
    frame = pd.DataFrame([{
        "Created": display.moment(r.created_at), "By": r.created_by or display.NONE,
        "Expires": display.moment(r.expires_at),
        "Last used": display.moment(r.last_used_at, none="never"),
        "Registrations": display.count(r.registrations), "Status": LINK_STATUS[r.status],
    } for r in rows], columns=LINK_COLUMNS)
    st.dataframe(frame, hide_index=True, height=table_height(len(rows)))
    for row in [r for r in rows if r.status == "active"]:
        box = st.container(border=True)
        box.markdown(f"Link made {escape_md(display.moment(row.created_at))}, expires "
                     f"{escape_md(display.moment(row.expires_at))}")
        if st.session_state.get(LINK_CONFIRM) == row.id:
            box.warning("Revoke this link? The partner can no longer register deals with it; "
                        "what it registered stays. There is no undo.",
                        icon=":material/warning:")
            buttons = box.container(horizontal=True)
            if buttons.button("Yes, revoke", key=f"reg_link_confirm_{row.id}", type="primary"):
                st.session_state.pop(LINK_CONFIRM, None)
                if run(service.revoke_link, link_id=row.id) is not None:
                    flash("Revoked the registration link: it no longer opens the form.")
                    st.rerun()
            if buttons.button("Cancel", key=f"reg_link_cancel_{row.id}"):
                st.session_state.pop(LINK_CONFIRM, None)
                st.rerun()
        elif box.button("Revoke", key=f"reg_link_revoke_{row.id}"):
            st.session_state[LINK_CONFIRM] = row.id
            st.rerun()


# --- the registrations page ---------------------------------------------------------------

def filters(options: Choices) -> dict[str, Any]:
    """Status and partner, read from the address when it changed and written back to it."""
    params = links.current()
    if st.session_state.get(ADDRESS_KEY) != params or STATUS_KEY not in st.session_state:
        status = (params.get("status") or [ANY])[0]
        partner = (params.get("partner") or [ANY])[0]
        if status not in (ANY, *REGISTRATION_STATUSES):
            st.warning(escape_md(f"status: {status!r} is not one of "
                                 f"{', '.join(REGISTRATION_STATUSES)}; showing every status."),
                       icon=":material/link_off:")
            status = ANY
        if partner not in (ANY, *options.partners):
            st.warning("partner: not a partner you may see; showing every partner.",
                       icon=":material/link_off:")
            partner = ANY
        st.session_state[STATUS_KEY] = status
        st.session_state[PARTNER_KEY] = partner
    status_col, partner_col = st.columns(2)
    status = status_col.selectbox(
        "Status", [ANY, *REGISTRATION_STATUSES], key=STATUS_KEY,
        format_func=lambda s: service.STATUS_LABELS.get(s, "Any status"))
    partner = partner_col.selectbox(
        "Partner", [ANY, *options.partners], key=PARTNER_KEY,
        format_func=lambda p: options.partner_name(p) if p else "Every partner")
    wanted: links.Params = {}
    if status:
        wanted["status"] = [status]
    if partner:
        wanted["partner"] = [partner]
    chosen = params.get("id")
    if chosen:
        wanted["id"] = chosen  # one registration, opened from an alert
    links.write(wanted)
    st.session_state[ADDRESS_KEY] = links.current()
    return {"status": status or None, "partner_id": partner or None,
            "registration_id": chosen[0] if chosen else None}


def _conflicts(row: service.RegistrationRow) -> None:
    if not row.conflicts:
        return
    st.warning(f"Possible conflict: the same customer is in {len(row.conflicts)} other "
               f"record{'s' if len(row.conflicts) != 1 else ''}.", icon=":material/warning:")
    for ref in row.conflicts:
        why = ", ".join(REASON_TEXT.get(r, r) for r in ref.reasons)
        if ref.id is None:
            st.markdown(f"- {escape_md(ref.label)} ({escape_md(why)})")
        elif ref.kind == "opportunity":
            st.page_link(DEAL_PAGE, label=escape_md(f"Deal: {ref.label} ({why})"),
                         icon=":material/request_quote:", query_params={"id": str(ref.id)})
        else:
            st.page_link(REGISTRATIONS_PAGE,
                         label=escape_md(f"Registration: {ref.label} ({why})"),
                         icon=":material/how_to_reg:", query_params={"id": str(ref.id)})


def _state_line(row: service.RegistrationRow) -> str:
    if row.status == "pending":
        return f"Pending: expires {display.day(row.expires_at)} unless decided"
    if row.status == "expired":
        return f"Expired {display.day(row.expires_at)}, undecided"
    who = f" by {row.decided_by}" if row.decided_by else ""
    if row.status == "rejected":
        return f"Rejected {display.day(row.decided_at)}{who}"
    if row.protected_until is None:
        return f"Approved {display.day(row.decided_at)}{who}"
    verb = "protects" if row.protected_until > utcnow() else "protected"
    return (f"Approved {display.day(row.decided_at)}{who}; {verb} {row.partner_name} until "
            f"{display.day(row.protected_until)}")


def registration_card(row: service.RegistrationRow) -> None:
    """One registration: what the partner sent, its conflicts, and the decision."""
    with st.container(border=True, key=f"reg_card_{row.id}"):
        st.markdown(
            f"**{escape_md(row.customer_name)}** · {escape_md(row.partner_name)} · "
            f"{escape_md(service.STATUS_LABELS[row.status])}  \n"
            f"{escape_md(display.money(row.deal_value))}, expected to close "
            f"{escape_md(display.day(row.expected_close_date))} · contact "
            f"{escape_md(row.contact_email)} · submitted "
            f"{escape_md(display.moment(row.submitted_at))}  \n"
            f"{escape_md(_state_line(row))}")
        if row.notes:
            st.markdown(f"Notes: {escape_md(row.notes)}")
        if row.reject_reason:
            st.markdown(f"Reason: {escape_md(row.reject_reason)}")
        if row.opportunity_id is not None:
            st.page_link(DEAL_PAGE, label="Open the deal it created",
                         icon=":material/request_quote:",
                         query_params={"id": str(row.opportunity_id)})
        _conflicts(row)
        if row.can_decide:
            _decision(row)


def _decision(row: service.RegistrationRow) -> None:
    buttons = st.container(horizontal=True)
    if buttons.button("Approve and create the deal", key=f"reg_approve_{row.id}",
                      type="primary", icon=":material/check:"):
        approved = run(service.approve_registration, registration_id=row.id)
        if approved is not None:
            flash(f"Approved: {row.customer_name} is now a deal of {row.partner_name}.")
            st.rerun()
    if buttons.button("Reject…", key=f"reg_reject_{row.id}", icon=":material/close:"):
        st.session_state[REJECTING] = row.id
    if st.session_state.get(REJECTING) != row.id:
        return
    errors = FieldErrors()
    with st.form(f"reg_reject_form_{row.id}", border=False):
        reason = st.text_area("Reason", key=f"reg_reason_{row.id}",
                              max_chars=service.REASON_MAX,
                              placeholder="Why: e.g. the customer is already ours through "
                                          "another partner")
        errors.slot("reason", "Reason")
        confirm = st.form_submit_button("Reject the registration",
                                        key=f"reg_reject_confirm_{row.id}")
    if confirm:
        rejected = run(service.reject_registration, errors=errors, registration_id=row.id,
                       reason=reason)
        if rejected is not None:
            st.session_state.pop(REJECTING, None)
            reset(f"reg_reason_{row.id}")
            flash(f"Rejected the registration of {row.customer_name}.")
            st.rerun()


def pending_note(partner_id: uuid.UUID) -> None:
    """How many of the partner's registrations wait for a decision, with the way to them."""
    waiting = run(service.pending_count, partner_id=partner_id)
    if not waiting:
        return
    st.page_link(REGISTRATIONS_PAGE,
                 label=f"{display.count(waiting)} registration{'s' if waiting != 1 else ''} "
                       "waiting for a decision",
                 icon=":material/how_to_reg:",
                 query_params={"status": "pending", "partner": str(partner_id)})


def listing(chosen: dict[str, Any]) -> None:
    """The registrations under the filters, newest first, each with its decision."""
    found = run(service.list_registrations, **chosen)
    if found is None:
        return
    rows, total = found
    if chosen["registration_id"] and st.button("Show every registration", key="reg_show_all",
                                               icon=":material/list:"):
        st.query_params.pop("id", None)
        st.rerun()
    if not rows:
        st.info("No registrations match these filters.", icon=":material/how_to_reg:")
        return
    shown = (f"{display.count(len(rows))} of {display.count(total)}" if total > len(rows)
             else display.count(total))
    st.caption(f"{shown} registration{'s' if total != 1 else ''}, newest first.")
    for row in rows:
        registration_card(row)
