"""The Account page's parts: who you are, and your personal access tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import streamlit as st

from isv import display
from isv.auth import Viewer
from isv.models import TOKEN_SCOPES
from isv.services import personal_tokens
from isv.services.settings import local_today
from isv.ui import widgets
from isv.ui.labels import role_label
from isv.ui.tables import TOKEN_COLUMNS, TOKEN_SCOPE_LABELS, table_height, tokens_frame

NEW_TOKEN = "account_new_token"  # (viewer id, name, secret) of the token just made
JUST_MADE = "account_just_made"  # the run right after making one, whose form starts empty
CONFIRM = "account_revoke_confirm"  # the token whose Revoke button asks to be confirmed
PROBE = "pat_name"
ON_A_DATE = "date"
DEFAULT_DAYS = 30


def expiry_label(choice: object) -> str:
    if choice == ON_A_DATE:
        return "On a date…"
    return "1 year" if choice == 365 else f"{choice} days"


def start_token_form() -> None:
    """Empty the token form after a token was made; forget a shown token on coming back."""
    if st.session_state.pop(JUST_MADE, False):
        # The form starts again from its defaults: set before the inputs are drawn, so the
        # browser shows them too (it keeps what it last showed for an input left without
        # state).
        st.session_state.update({PROBE: "", "pat_scope": TOKEN_SCOPES[0],
                                 "pat_expiry": DEFAULT_DAYS})
        st.session_state.pop("pat_expires_on", None)
    elif PROBE not in st.session_state:
        # A token is shown once: opening the page afresh (coming back) forgets one made before.
        st.session_state.pop(NEW_TOKEN, None)
        st.session_state.pop(CONFIRM, None)


def profile(me: Any) -> None:
    """Name, email and role."""
    name_col, email_col, role_col = st.columns(3)
    name_col.markdown(f"**Name**  \n{widgets.escape_md(me.full_name)}")
    email_col.markdown(f"**Email**  \n{widgets.escape_md(me.email)}")
    role_col.markdown(f"**Role**  \n{widgets.escape_md(role_label(me.role))}")


def new_token(viewer: Viewer) -> None:
    """What tokens are for, and a token just made, shown this once."""
    st.subheader("API tokens")
    st.caption("For scripts that call the REST API: send the token as `Authorization: Bearer "
               "<token>`. A read-only token reads what you may read; a read-and-write token also "
               "changes what you may change. A token stops working when it expires, when you "
               "revoke it, or when your account is deactivated; changing your password does not "
               "stop it.")

    made = st.session_state.get(NEW_TOKEN)
    if made and made[0] == viewer.id:
        with st.container(border=True):
            st.markdown(f"**Your new token “{widgets.escape_md(made[1])}”**")
            st.code(made[2], language=None)
            st.warning("Copy it now: it is not shown again, and it cannot be recovered (only "
                       "a fingerprint of it is stored). If you lose it, revoke it and create "
                       "another.", icon=":material/warning:")
            if st.button("I have copied it, hide it", key="pat_hide"):
                st.session_state.pop(NEW_TOKEN, None)
                st.rerun()


def create_token_form(viewer: Viewer) -> None:
    """Name, scope and expiry of a new token."""
    today = local_today()
    errors = widgets.FieldErrors()
    with st.container(border=True):
        st.markdown("**Create a token**")
        name = st.text_input("Name", key=PROBE, max_chars=personal_tokens.NAME_MAX,
                             placeholder="e.g. CRM nightly sync",
                             help="What the token is for: shown in the list below and in the "
                                  "audit log.")
        errors.slot("name", "Name")
        scope = st.radio("Scope", TOKEN_SCOPES, format_func=TOKEN_SCOPE_LABELS.get,
                         key="pat_scope", horizontal=True)
        errors.slot("scope", "Scope")
        st.session_state.setdefault("pat_expiry", DEFAULT_DAYS)
        expiry = st.selectbox("Expires", (*personal_tokens.EXPIRY_CHOICES, ON_A_DATE),
                              format_func=expiry_label, key="pat_expiry")
        expires_on = None
        if expiry == ON_A_DATE:
            expires_on = st.date_input("Last day it works", value=today + timedelta(days=30),
                                       min_value=today + timedelta(days=1),
                                       max_value=today + timedelta(days=personal_tokens.MAX_DAYS),
                                       key="pat_expires_on")
        errors.slot("expires", "Expires")
        if st.button("Create token", key="pat_create", type="primary"):
            created = widgets.run(personal_tokens.create_token, errors=errors, name=name,
                                  scope=scope,
                                  expires_in_days=None if expiry == ON_A_DATE else expiry,
                                  expires_on=expires_on if expiry == ON_A_DATE else None)
            if created is not None:
                st.session_state[NEW_TOKEN] = (viewer.id, created.token.name, created.secret)
                st.session_state[JUST_MADE] = True
                st.rerun()


def tokens() -> None:
    """The viewer's tokens, each active one with its Revoke button."""
    found = widgets.run(personal_tokens.list_tokens)
    if found is None:
        return
    if not found:
        st.caption("You have no tokens yet.")
        return
    st.dataframe(tokens_frame(found), hide_index=True, column_config=TOKEN_COLUMNS,
                 placeholder=display.NONE, height=table_height(len(found)))

    for token in [t for t in found if personal_tokens.status(t) == "active"]:
        row = st.container(border=True)
        row.markdown(f"**{widgets.escape_md(token.name)}** · "
                     f"{TOKEN_SCOPE_LABELS[token.scope]} · expires "
                     f"{widgets.escape_md(display.moment(token.expires_at))}")
        if st.session_state.get(CONFIRM) == token.id:
            row.warning(f"Revoke “{widgets.escape_md(token.name)}”? Scripts using it are "
                        "refused from their next call. There is no undo.",
                        icon=":material/warning:")
            buttons = row.container(horizontal=True)
            if buttons.button("Yes, revoke", key=f"pat_confirm_{token.id}", type="primary"):
                st.session_state.pop(CONFIRM, None)
                revoked = widgets.run(personal_tokens.revoke_token, token_id=token.id)
                if revoked is not None:
                    widgets.flash(f"Revoked “{revoked.name}”: it no longer works.")
                    st.rerun()
            if buttons.button("Cancel", key=f"pat_cancel_{token.id}"):
                st.session_state.pop(CONFIRM, None)
                st.rerun()
        elif row.button("Revoke", key=f"pat_revoke_{token.id}"):
            st.session_state[CONFIRM] = token.id
            st.rerun()
