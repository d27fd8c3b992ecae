"""The login gate.

streamlit-authenticator draws the form and keeps the signed cookie (a JWT of username and
expiry date). It cannot be trusted with the rest: it counts failed logins per browser
session and has no way to revoke a cookie. So

- its controller is replaced by `_DatabaseLogin`: a form login goes through
  `isv.auth.authenticate` (lockout, audit, inactive users) in its own committed transaction;
- every signed-in browser has a server session keyed by f"{username}|{exp_date}", exp_date
  being the cookie's own expiry stamp, so a form login and every later cookie re-login with
  that cookie name the same row;
- every rerun asks `isv.auth.check_session` whether that row is still alive (idle timeout,
  absolute limit, the per-user cap, deactivation, logout). When it is not, the browser is
  signed out and the login form says why;
- the library's cookie manager (extra_streamlit_components) is replaced by `_BrowserCookies`.
  The original draws a component on every run that reports the browser's cookies back,
  which triggers a rerun of its own: on a fresh page that rerun redrew the form under a
  user's first click, and after sign-in it could undo a click in the sidebar. The cookie is
  read from the request (`st.context.cookies`, as the library already does) and written by
  a script that reports nothing back, so no rerun is ever triggered.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from email.utils import format_datetime
from types import SimpleNamespace
from typing import Any, NoReturn

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import streamlit_authenticator as stauth
from streamlit_authenticator.models import cookie_model
from streamlit_authenticator.utilities import LoginError

from isv import auth
from isv.auth import Viewer
from isv.config import get_settings
from isv.db import session_scope
from isv.services import users
from isv.ui import state
from isv.ui.widgets import escape_md

FORM_KEY = "login"
FORM_FIELDS = {"Form name": "Sign in", "Username": "Email", "Password": "Password",
               "Login": "Sign in"}
MISSING_INPUT = "Enter your email and password."
END_ICONS = {"idle": ":material/schedule:", "expired": ":material/schedule:",
             "replaced": ":material/devices:", "deactivated": ":material/person_off:",
             "password_changed": ":material/key:", "role_changed": ":material/badge:"}


class _BrowserCookies:
    """Writes the sign-in cookie with a script in the page (see module docstring)."""

    def set(self, cookie: str, val: str, expires_at: datetime | None = None,
            **_options: Any) -> None:
        expires = (expires_at or datetime.now()).astimezone(UTC)
        _write_cookie(f"{cookie}={val}; expires={format_datetime(expires, usegmt=True)}")

    def delete(self, cookie: str) -> None:
        _write_cookie(f"{cookie}=; expires=Thu, 01 Jan 1970 00:00:00 GMT")


def _write_cookie(cookie: str) -> None:
    # The value is a signed JWT (URL-safe characters) or empty; json.dumps quotes it for JS.
    script = (f"const secure = location.protocol === 'https:' ? '; Secure' : '';"
              f"document.cookie = {json.dumps(cookie + '; path=/; SameSite=Strict')} + secure;")
    st.html(f"<script>{script}</script>", unsafe_allow_javascript=True)


# The library builds its cookie manager by this module-level name when it is constructed.
cookie_model.stx = SimpleNamespace(CookieManager=_BrowserCookies)


def _credentials() -> dict[str, Any]:
    """The users table in the shape the library wants; it only uses it for cookie re-logins."""
    with session_scope() as session:
        rows = users.list_users(session=session, viewer=Viewer.system("login"))
        return {"usernames": {
            user.email.lower(): {
                "name": user.full_name,
                "first_name": user.first_name,
                "last_name": user.last_name,
                "email": user.email,
                "password": user.password_hash or "",
                "roles": [user.role],
            }
            for user in rows
        }}


class _DatabaseLogin:
    """Stands in for the library's AuthenticationController (see module docstring)."""

    def __init__(self, original: Any) -> None:
        self._original = original

    def login(self, username: str | None = None, password: str | None = None, *_args: Any,
              token: dict[str, Any] | None = None, **_kwargs: Any) -> bool | None:
        if token:
            return self._cookie_login(token)
        if not username or not username.strip() or not password:
            st.session_state[state.AUTH_STATUS] = False
            st.session_state[state.LOGIN_ERROR] = MISSING_INPUT
            return False
        # Its own transaction: a refusal must commit the failure count, a success the
        # last-login time, whatever happens later in this script run.
        with session_scope() as session:
            user = auth.authenticate(session=session, email=username, password=password)
            found = None if user is None else (user.id, user.email, user.full_name,
                                               user.role, user.first_name, user.last_name)
        if found is None:
            st.session_state[state.AUTH_STATUS] = False
            st.session_state[state.LOGIN_ERROR] = auth.LOGIN_REFUSED
            return False
        user_id, email, name, role, _first, _last = found
        # What the library's own login sets, so its cookie and logout work unchanged.
        st.session_state["email"] = email
        st.session_state["name"] = name
        st.session_state["roles"] = [role]
        st.session_state["username"] = email.lower()
        st.session_state[state.AUTH_STATUS] = True
        st.session_state[state.PENDING_USER] = user_id
        st.session_state.pop(state.LOGIN_ERROR, None)
        return True

    def _cookie_login(self, token: dict[str, Any]) -> bool | None:
        try:
            self._original.login(token=token)
        except LoginError:
            # The cookie names someone who is no longer a user.
            return None
        if st.session_state.get(state.AUTH_STATUS):
            st.session_state[state.SESSION_TOKEN] = f"{token['username']}|{token['exp_date']}"
        return None

    def logout(self, callback: Any = None) -> None:
        self._original.logout(callback)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


def _authenticator() -> stauth.Authenticate:
    """Build the authenticator; it draws its (invisible) cookie manager, so once per run."""
    settings = get_settings()
    # The library reads credentials only for a cookie re-login, which happens only while
    # nobody is signed in: skip the query on every other rerun.
    signed_in = bool(st.session_state.get(state.AUTH_STATUS))
    authenticator = stauth.Authenticate(
        {"usernames": {}} if signed_in else _credentials(),
        cookie_name=settings.cookie_name,
        cookie_key=settings.cookie_key,
        cookie_expiry_days=settings.session_max_hours / 24,
        auto_hash=False,
        login_sleep_time=0,
    )
    authenticator.authentication_controller = _DatabaseLogin(
        authenticator.authentication_controller)
    return authenticator


class Gate:
    """One script run's view of who is signed in."""

    def __init__(self) -> None:
        self.authenticator = _authenticator()
        # A fixed place for the cookie components drawn in some runs only: drawn in line,
        # they would shift every element after them and make the page re-mount.
        self._cookie_slot = st.empty()

    def viewer(self) -> Viewer | None:
        """Sign in from the cookie if there is one, then check the server session."""
        if not st.session_state.get(state.AUTH_STATUS):
            state.clear_login()
            # Reads the cookie and, when it is valid, calls _DatabaseLogin.login(token=...).
            self.authenticator.login(location="unrendered", key=FORM_KEY)
        if not st.session_state.get(state.AUTH_STATUS):
            return None
        token = st.session_state.get(state.SESSION_TOKEN)
        if token is None:
            self.sign_out("unknown")
        with session_scope() as session:
            check = auth.check_session(session=session, token=token)
        if check.viewer is None:
            self.sign_out(check.reason or "unknown")
        st.session_state[state.VIEWER] = check.viewer
        st.session_state.pop(state.END_REASON, None)
        self._keep_cookie_set()
        return check.viewer

    def _keep_cookie_set(self) -> None:
        # The login run writes the cookie and reruns at once, which can replace the script
        # before the browser has run it. So every run of a form-login session draws the
        # same script in the same place; writing the same cookie again is harmless.
        exp_date = st.session_state.get(state.COOKIE_EXP)
        if exp_date is None:
            return
        model = self.authenticator.cookie_controller.cookie_model
        model.exp_date = exp_date
        with self._cookie_slot.container():
            model.cookie_manager.set(model.cookie_name, model._token_encode(),
                                     expires_at=datetime.fromtimestamp(exp_date))

    def login_page(self) -> None:
        """The login form; after a successful login, start the server session and rerun."""
        _, middle, _ = st.columns([1, 2, 1])
        with middle:
            st.title("ISV Pipeline Tracker")
            reason = st.session_state.get(state.END_REASON)
            if reason == "logout":
                st.info(auth.end_message(reason), icon=":material/logout:")
            elif reason:
                st.warning(auth.end_message(reason),
                           icon=END_ICONS.get(reason, ":material/info:"))
            self.authenticator.login(location="main", fields=FORM_FIELDS, key=FORM_KEY)
            if st.session_state.get(state.AUTH_STATUS) and state.PENDING_USER in st.session_state:
                self._start_session()
                st.rerun()
            error = st.session_state.get(state.LOGIN_ERROR)
            if error and st.session_state.get(state.AUTH_STATUS) is False:
                st.error(escape_md(error), icon=":material/lock:")
        _warm_browser()
        if st.session_state.get(state.DELETE_COOKIE):
            # sign_out() asked the browser to delete the cookie and reran at once, which can
            # replace the script before it runs: keep asking while the login form shows.
            # (The old cookie is refused anyway: its server session has ended.)
            with self._cookie_slot.container():
                self.authenticator.cookie_controller.delete_cookie()

    def _start_session(self) -> None:
        user_id = st.session_state.pop(state.PENDING_USER)
        # set_cookie() has just stamped the cookie; a later cookie re-login reads the same
        # exp_date back out of the JWT. Without a cookie (expiry 0) the session lives only
        # as long as this browser session.
        exp_date = self.authenticator.cookie_controller.cookie_model.exp_date
        token = f"{st.session_state['username']}|{exp_date or uuid.uuid4().hex}"
        with session_scope() as session:
            user = users.get_user(session=session, viewer=Viewer.system("login"),
                                  user_id=user_id)
            auth.start_session(session=session, user=user, token=token)
        st.session_state[state.SESSION_TOKEN] = token
        st.session_state.pop(state.END_REASON, None)
        st.session_state.pop(state.DELETE_COOKIE, None)
        if exp_date is not None:
            st.session_state[state.COOKIE_EXP] = exp_date

    def sign_out(self, reason: str = "logout") -> NoReturn:
        """End this browser's sign-in (and on logout its server session), then rerun."""
        token = st.session_state.get(state.SESSION_TOKEN)
        if reason == "logout" and token:
            with session_scope() as session:
                auth.end_session(session=session, token=token)
        if st.session_state.get(state.AUTH_STATUS):
            # Clears the library's state, sets its `logout` flag (no cookie re-login in
            # this browser session any more) and deletes the cookie.
            self.authenticator.logout(location="unrendered")
            st.session_state[state.DELETE_COOKIE] = True
        state.clear_login()
        st.session_state[state.END_REASON] = reason
        st.rerun()


WARM_KEY = "isv_warm_browser"
_WARM_CSS = f"<style>.st-key-{WARM_KEY} {{ display: none; }}</style>"


def _warm_browser() -> None:
    """An invisible chart and table under the login form.

    The browser loads the code that draws charts (4.7 MB) and tables only when a page first
    shows one; on the dashboard right after sign-in that took seconds. Drawn here, it loads
    while the person types their password. Hidden from sight and from screen readers.
    """
    st.html(_WARM_CSS)
    with st.container(key=WARM_KEY):
        st.plotly_chart(go.Figure(layout={"height": 10}), key="isv_warm_chart",
                        config={"staticPlot": True})
        st.dataframe(pd.DataFrame({"warm": [1]}), key="isv_warm_table")


def refuse_unsafe_production() -> None:
    """Stop before anything else when production would run on development secrets."""
    try:
        get_settings().check_production_ready()
    except RuntimeError as exc:
        st.error(escape_md(str(exc)), icon=":material/gpp_bad:")
        st.stop()
