"""The Users page's parts: adding a user, changing one, and their personal data."""

from __future__ import annotations

from typing import Any

import streamlit as st

from isv import auth
from isv.auth import Viewer
from isv.services import gdpr, users
from isv.ui import edits, state, widgets
from isv.ui.labels import role_label

ACTIVE_SHOWN = "users_active_shown"  # (user id, is_active) as the button last said
ADD_KEYS = ("add_email", "add_first", "add_last", "add_role", "add_password")


def add_form(grantable: list[str]) -> None:
    """A new user, in one of the roles the viewer may grant."""
    st.subheader("Add a user")
    add_errors = widgets.FieldErrors()
    with st.form("add_user"):
        email = st.text_input("Email", key="add_email")
        add_errors.slot("email", "Email")
        first_col, last_col = st.columns(2)
        with first_col:
            first_name = st.text_input("First name", key="add_first")
            add_errors.slot("first_name", "First name")
        with last_col:
            last_name = st.text_input("Last name", key="add_last")
            add_errors.slot("last_name", "Last name")
        role = st.selectbox("Role", grantable, index=None, format_func=role_label, key="add_role",
                            placeholder="Choose a role")
        add_errors.slot("role", "Role")
        password = st.text_input("Initial password (optional)", type="password",
                                 key="add_password",
                                 help="Without one, the user cannot sign in until a password "
                                      "is set.")
        add_errors.slot("password", "Initial password")
        add = st.form_submit_button("Add user", key="add_submit", type="primary")
    if add:
        created = widgets.run(users.create_user, errors=add_errors, email=email,
                              first_name=first_name, last_name=last_name, role=role,
                              password=password or None)
        if created is not None:
            widgets.flash(f"Added {created.full_name} ({created.email}).")
            widgets.reset(*ADD_KEYS)
            st.rerun()


def choose_user(people: list) -> Any:
    """The user to change, chosen by name and email."""
    st.subheader("Change a user")
    by_id = {person.id: person for person in people}
    if st.session_state.get("change_user") in by_id:
        # Handed back by the server, the chooser redraws its label after a change of name or
        # status (anonymised, deactivated); left to the browser it would keep the old one.
        st.session_state["change_user"] = st.session_state["change_user"]
    chosen = st.selectbox(
        "User", list(by_id), key="change_user",
        format_func=lambda uid: f"{by_id[uid].full_name} <{by_id[uid].email}>"
                                + ("" if by_id[uid].is_active else " (inactive)"))
    return by_id[chosen]


def account_controls(viewer: Viewer, grantable: list[str], person: Any) -> None:
    """Role, active or not, and password of `person`, if the viewer may manage them."""
    chosen = person.id
    if not auth.may_manage(viewer, person.role):
        st.info(f"Only a vp may change a {role_label(person.role)}'s account.",
                icon=":material/lock:")
    else:
        role_errors = widgets.FieldErrors()
        role_form = f"user_role@{chosen}"
        role_key = edits.keyed(role_form, f"role_{chosen}")
        drawn = edits.drawn_from(f"{role_form}@{role_key}", {"role": person.role},
                                 probe=role_key)
        with st.form("change_role"):
            new_role = st.selectbox("Role", grantable, index=grantable.index(drawn["role"]),
                                    format_func=role_label, key=role_key)
            role_errors.slot("role", "Role")
            role_submitted = st.form_submit_button("Change role", key="role_submit")
        if role_submitted:
            if not edits.changed(drawn, {"role": new_role}):
                st.info("Nothing changed.")
            else:
                changed = widgets.run(users.update_user, errors=role_errors, user_id=chosen,
                                      role=new_role)
                if changed is not None:
                    edits.renew(role_form)
                    widgets.flash(f"{changed.full_name} is now {role_label(changed.role)}.")
                    st.rerun()

        # The button does what it said when it was clicked, even if someone else changed the
        # user meanwhile: asking for the state it named is then a no-op, never the reverse.
        shown = st.session_state.get(ACTIVE_SHOWN)
        was_active = shown[1] if shown and shown[0] == chosen else person.is_active
        st.session_state[ACTIVE_SHOWN] = (chosen, person.is_active)
        with st.container(border=True):
            if person.is_active:
                st.caption("Active: can sign in. Deactivating signs them out at their next "
                           "click.")
            else:
                st.caption("Inactive: cannot sign in.")
            active_errors = widgets.FieldErrors()
            active_errors.slot("is_active", "Active")
            if st.button("Deactivate" if person.is_active else "Reactivate",
                         key="active_submit"):
                changed = widgets.run(users.set_active, errors=active_errors, user_id=chosen,
                                      active=not was_active)
                if changed is not None:
                    widgets.flash(f"{changed.full_name} is now "
                                  f"{'active' if changed.is_active else 'inactive'}.")
                    st.rerun()

        password_errors = widgets.FieldErrors()
        with st.form("set_password"):
            new_password = st.text_input("New password", type="password", key="new_password")
            password_errors.slot("password", "New password")
            if st.form_submit_button("Set password", key="password_submit"):
                # Your own new password keeps this session; every other one ends.
                changed = widgets.run(users.set_password, errors=password_errors, user_id=chosen,
                                      password=new_password,
                                      current_session_id=st.session_state.get(state.SESSION_ID))
                if changed is not None:
                    widgets.flash(f"Password set for {changed.full_name}.")
                    widgets.reset("new_password")
                    st.rerun()


def personal_data(person: Any) -> None:
    """Export everything stored about `person`, or anonymise them for good."""
    chosen = person.id
    st.subheader("Personal data")
    with st.container(border=True):
        st.caption(f"For {widgets.escape_md(person.full_name)}: export everything stored about "
                   "them, or anonymise them for good. Anonymising replaces their name and email "
                   "with a placeholder, signs them out, removes their password and the text of "
                   "their weekly statuses; their deals, partners, tasks and goals stay, so no "
                   "figure changes.")
        export_col, anonymise_col = st.columns(2, gap="large")
        with export_col:
            if st.button("Prepare data export", key="gdpr_export",
                         help="Builds a JSON file of their profile, sessions, API tokens, audit "
                              "entries, tasks, statuses, goals, alerts and the partners and deals "
                              "that are theirs. "
                              "The export is recorded in the audit log."):
                exported = widgets.run(gdpr.export_user, user_id=chosen)
                if exported is not None:
                    st.session_state["gdpr_export_file"] = (chosen, gdpr.to_json(exported))
            prepared = st.session_state.get("gdpr_export_file")
            if prepared and prepared[0] == chosen:
                st.download_button("Download JSON", data=prepared[1],
                                   file_name=f"personal-data-{chosen.hex[:12]}.json",
                                   mime="application/json", key="gdpr_download",
                                   on_click="ignore", icon=":material/download:")
        with anonymise_col:
            if gdpr.is_anonymised(person):
                st.caption("Already anonymised: their name and email are gone for good.")
            else:
                anonymise_errors = widgets.FieldErrors()
                confirmed = st.checkbox("Yes, anonymise for good", key=f"gdpr_confirm_{chosen}",
                                        help="There is no undo: the old name and email are not "
                                             "kept anywhere.")
                anonymise_errors.slot("anonymise", "Anonymise")
                if st.button("Anonymise", key="gdpr_anonymise", disabled=not confirmed):
                    changed = widgets.run(gdpr.anonymise_user, errors=anonymise_errors,
                                          user_id=chosen)
                    if changed is not None:
                        widgets.flash(f"Anonymised: the user is now {changed.full_name} "
                                      f"({changed.email}).")
                        st.session_state.pop("gdpr_export_file", None)
                        st.rerun()
