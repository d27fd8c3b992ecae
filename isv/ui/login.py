"""The login gate.

streamlit-authenticator draws the form; nothing else of it is used. Its cookie (a JWT that a
script in the page wrote) could not be HttpOnly and could not be revoked, and a forged one
(alg none, another algorithm, a string expiry, a list for a name) ended in a traceback. So

- a form login goes through `services.sessions.authenticate` (lockout, audit, inactive users)
  in its own committed transaction (`_DatabaseLogin` stands in for the library's controller), then
  starts a server session whose id this browser session keeps in its (server-side) state:
  this browser session is signed in whether or not the cookie arrives;
- the cookie is set by the server, never by the page: the login issues a one-time ticket
  (stored hashed in the database, 60 seconds) and `_go_to` has the browser fetch isv/web.py's
  route in the background, which redeems it, gives the session a new token and answers with
  an HttpOnly, SameSite=Strict (Secure behind TLS) cookie. The page is drawn at once, with
  no reload: a reload would throw away the chart code the login page warmed up, a second
  of a sign-in;
- a page load with that cookie (read from the request, `st.context.cookies`) signs in when
  `services.sessions.check_session` finds its server session alive. Any other value, forged
  or stale, only means "signed out": it is looked up by its hash, never parsed, and not tried again
  in this browser session;
- every rerun asks `check_session` whether the session is still alive (idle timeout,
  absolute limit, the per-user cap, deactivation, logout). When it is not, the browser is
  signed out, sent (top level) through the logout route that clears the cookie, and the
  login form says why.

Nothing here draws a component that reports back: the library's cookie manager did, and
the rerun it triggered redrew the form under a user's first click and could undo a click
in the sidebar. `_go_to` is a components v2 element (JS from a blob: URL, which the CSP
allows without inline scripts) in a fixed place, drawn in every run of this browser
session, because the login run reruns at once and could replace it before it ran; it acts
once per address.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import threading
from types import SimpleNamespace
from typing import Any, NoReturn

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
import streamlit_authenticator as stauth
from streamlit_authenticator.models import cookie_model

from isv import auth, charts, web
from isv.auth import Viewer
from isv.config import get_settings
from isv.db import session_scope
from isv.services import sessions, users
from isv.services.settings import local_today
from isv.ui import state
from isv.ui.widgets import escape_md

log = logging.getLogger(__name__)

FORM_KEY = "login"
FORM_FIELDS = {"Form name": "Sign in", "Username": "Email", "Password": "Password",
               "Login": "Sign in"}
MISSING_INPUT = "Enter your email and password."
END_ICONS = {"idle": ":material/schedule:", "expired": ":material/schedule:",
             "replaced": ":material/devices:", "deactivated": ":material/person_off:",
             "password_changed": ":material/key:", "role_changed": ":material/badge:"}
GO_TO_KEY = "isv_go_to_element"


class _NoCookies:
    """The library's cookie manager and controller: it neither reads nor writes a cookie."""

    def __init__(self, *_args: Any, **_kwargs: Any) -> None:
        pass

    def get_cookie(self) -> None:
        return None

    def set_cookie(self) -> None:
        pass

    def delete_cookie(self) -> None:
        pass


# The library builds its cookie manager by this module-level name when it is constructed.
cookie_model.stx = SimpleNamespace(CookieManager=_NoCookies)

_GO_TO = st.components.v2.component(
    "isv.go_to", html="<span></span>",
    js="""
export default function ({ data }) {
  // Once per address: a second request with the same ticket would be refused.
  if (data && data.url && window.isvGoingTo !== data.url) {
    window.isvGoingTo = data.url;
    if (data.fetch) {
      fetch(data.url, { credentials: "same-origin", cache: "no-store", redirect: "manual" });
    } else {
      window.location.replace(data.url);
    }
  }
}
""")


class _DatabaseLogin:
    """Stands in for the library's AuthenticationController (see module docstring)."""

    def __init__(self, original: Any) -> None:
        self._original = original

    def login(self, username: str | None = None, password: str | None = None, *_args: Any,
              **_kwargs: Any) -> bool:
        if not username or not username.strip() or not password:
            st.session_state[state.AUTH_STATUS] = False
            st.session_state[state.LOGIN_ERROR] = MISSING_INPUT
            return False
        # Its own transaction: a refusal must commit the failure count, a success the
        # last-login time, whatever happens later in this script run.
        with session_scope() as session:
            user = sessions.authenticate(session=session, email=username, password=password)
            found = None if user is None else Viewer.of(user)
            session.commit()
        if found is None:
            st.session_state[state.AUTH_STATUS] = False
            st.session_state[state.LOGIN_ERROR] = auth.LOGIN_REFUSED
            return False
        _signed_in(found)
        st.session_state[state.PENDING_USER] = found.id
        st.session_state.pop(state.LOGIN_ERROR, None)
        return True

    def logout(self, callback: Any = None) -> None:
        self._original.logout(callback)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


def _signed_in(viewer: Viewer) -> None:
    # What the library's own login sets, so its logout clears it unchanged.
    st.session_state["email"] = viewer.email
    st.session_state["name"] = viewer.name
    st.session_state["roles"] = [viewer.role]
    st.session_state["username"] = viewer.email.lower()
    st.session_state[state.AUTH_STATUS] = True


def _authenticator() -> stauth.Authenticate:
    """The library, for its login form only (no credentials: it never checks a password)."""
    settings = get_settings()
    authenticator = stauth.Authenticate(
        {"usernames": {}},
        cookie_name=settings.cookie_name,
        cookie_key=settings.cookie_key,
        cookie_expiry_days=0,
        auto_hash=False,
        login_sleep_time=0,
    )
    authenticator.cookie_controller = _NoCookies()
    authenticator.authentication_controller = _DatabaseLogin(
        authenticator.authentication_controller)
    return authenticator


class Gate:
    """One script run's view of who is signed in."""

    def __init__(self) -> None:
        self.authenticator = _authenticator()
        # A fixed place for the element that sends the browser to a cookie route: drawn in
        # line, it would shift every element after it and make the page re-mount.
        self._go_to_slot = st.empty()

    def viewer(self) -> Viewer | None:
        """Sign in from the cookie if there is one, then check the server session."""
        if not st.session_state.get(state.AUTH_STATUS):
            state.clear_login()
            self._cookie_login()
        if not st.session_state.get(state.AUTH_STATUS):
            return None
        session_id = st.session_state.get(state.SESSION_ID)
        if session_id is None:
            self.sign_out("unknown")
        with session_scope() as session:
            check = sessions.check_session(session=session, session_id=session_id)
            session.commit()
        if check.viewer is None:
            self.sign_out(check.reason or "unknown")
        st.session_state[state.VIEWER] = check.viewer
        st.session_state.pop(state.END_REASON, None)
        self._go_to()
        return check.viewer

    def _cookie_login(self) -> None:
        cookie = st.context.cookies.get(get_settings().cookie_name)
        if not isinstance(cookie, str) or not cookie:
            return
        refused = auth.token_hash(cookie)
        if st.session_state.get(state.REFUSED_COOKIE) == refused:
            return
        with session_scope() as session:
            check = sessions.check_session(session=session, token=cookie)
            session.commit()
        if check.viewer is None:
            st.session_state[state.REFUSED_COOKIE] = refused
            if check.reason in sessions.END_REASONS:
                st.session_state[state.END_REASON] = check.reason
            return
        _signed_in(check.viewer)
        st.session_state[state.SESSION_ID] = check.session_id

    def _go_to(self) -> None:
        go_to = st.session_state.get(state.GO_TO)
        if go_to:
            with self._go_to_slot.container():
                _GO_TO(key=GO_TO_KEY, data=go_to)

    def login_page(self) -> None:
        """The login form; after a successful login, start the server session and rerun."""
        ended = st.query_params.get(web.ENDED_PARAM)
        if ended is not None:
            # The logout route's redirect: say why, then drop it from the address.
            if ended in sessions.END_REASONS:
                st.session_state[state.END_REASON] = ended
            del st.query_params[web.ENDED_PARAM]
        _, middle, _ = st.columns([1, 2, 1])
        with middle:
            st.title("ISV Pipeline Tracker")
            reason = st.session_state.get(state.END_REASON)
            if reason == "logout":
                st.info(sessions.end_message(reason), icon=":material/logout:")
            elif reason:
                st.warning(sessions.end_message(reason),
                           icon=END_ICONS.get(reason, ":material/info:"))
            self.authenticator.login(location="main", fields=FORM_FIELDS, key=FORM_KEY)
            if st.session_state.get(state.AUTH_STATUS) and state.PENDING_USER in st.session_state:
                self._start_session()
                st.rerun()
            error = st.session_state.get(state.LOGIN_ERROR)
            if error and st.session_state.get(state.AUTH_STATUS) is False:
                st.error(escape_md(error), icon=":material/lock:")
        _warm_browser()
        warm_server()
        self._go_to()

    def _start_session(self) -> None:
        """A server session for this browser session, and a ticket for the cookie route."""
        user_id = st.session_state.pop(state.PENDING_USER)
        with session_scope() as session:
            user = users.get_user(session=session, viewer=Viewer.system("login"),
                                  user_id=user_id)
            row = sessions.start_session(session=session, user=user, token=auth.new_token())
            ticket = sessions.issue_ticket(session=session, session_id=row.id)
            session_id = row.id
            session.commit()
        st.session_state[state.SESSION_ID] = session_id
        if ticket is not None:
            st.session_state[state.GO_TO] = {"url": web.session_url(ticket), "fetch": True}
        st.session_state.pop(state.END_REASON, None)
        st.session_state.pop(state.REFUSED_COOKIE, None)

    def sign_out(self, reason: str = "logout") -> NoReturn:
        """End this browser's sign-in (and on logout its server session), then rerun."""
        session_id = st.session_state.get(state.SESSION_ID)
        if reason == "logout" and session_id:
            with session_scope() as session:
                sessions.end_session(session=session, session_id=session_id)
                session.commit()
        if st.session_state.get(state.AUTH_STATUS):
            # Clears the library's state and sets its `logout` flag.
            self.authenticator.logout(location="unrendered")
        state.clear_login()
        st.session_state[state.END_REASON] = reason
        if reason in sessions.END_REASONS:
            # The session has ended for good: the logout route clears its cookie.
            st.session_state[state.GO_TO] = {"url": web.logout_url(reason), "fetch": False}
        else:
            # "unknown": this page holds no live session of its own. The cookie, if any,
            # stays.
            st.session_state.pop(state.GO_TO, None)
        st.rerun()


WARM_KEY = "isv_warm_browser"
_WARM_CSS = f"<style>.st-key-{WARM_KEY} {{ display: none; }}</style>"
WARM_LINK = "https://localhost/"  # never followed: the element is never shown


def _warm_browser() -> None:
    """One invisible element of each kind the pages show (chart, table, KPI card, inputs,
    link, buttons) under the login form.

    The browser loads the code that draws each kind of element (charts: 4.7 MB) only when a
    page first shows one, and holds the elements of that kind until it has: after sign-in
    the dashboard's nine KPI cards appeared 0.4 s after its charts, waiting for theirs.
    Drawn here, it loads while the person types their password. Hidden from sight and from
    screen readers.
    """
    st.html(_WARM_CSS)
    with st.container(key=WARM_KEY):
        st.plotly_chart(go.Figure(layout={"height": 10}), key="isv_warm_chart",
                        config={"staticPlot": True})
        st.dataframe(pd.DataFrame({"warm": [1]}), key="isv_warm_table")
        st.metric("warm", 1, delta=1, help="warm")
        st.selectbox("warm", ["warm"], key="isv_warm_select", label_visibility="collapsed")
        st.page_link(WARM_LINK, label="warm", icon=":material/table_view:")
        st.download_button("warm", b"", key="isv_warm_download", on_click="ignore",
                           icon=":material/download:")
        # The filter bars', the grid's, the board's and the forms' inputs.
        st.button("warm", key="isv_warm_button")
        st.multiselect("warm", ["warm"], key="isv_warm_multiselect")
        st.date_input("warm", value=None, key="isv_warm_date")
        st.number_input("warm", value=1, key="isv_warm_number")
        st.toggle("warm", key="isv_warm_toggle")
        st.segmented_control("warm", ["warm"], key="isv_warm_segments")
        st.text_area("warm", key="isv_warm_text")
        _GO_TO(key="isv_warm_go_to", data=None)  # the components' code; goes nowhere


_warmed = threading.Event()
WARM_PACKAGES = ("isv.ui", "isv.services", "isv.analytics", "isv.pack")


def warm_server(*, landing: bool = False) -> None:
    """Import what the pages use, and draw one figure of each kind, in the background; with
    `landing`, then compute the dashboard those who see every deal land on (kpi.warm_landing).

    A process imports a page's modules on its first use, and plotly builds its validators on
    a figure kind's first use: together ~0.6 s of CPU that the first signed-in people of a
    fresh server (a deploy, a new replica) waited for, all at once when several arrived
    together. Started once per process: when the server starts (serve.py), so that it is done
    before the first person signs in, and by the login page if it has not been.
    """
    if _warmed.is_set():
        return
    _warmed.set()

    def warm() -> None:
        try:
            for package in WARM_PACKAGES:
                for module in pkgutil.walk_packages(
                        importlib.import_module(package).__path__, f"{package}."):
                    importlib.import_module(module.name)
            for trace in (go.Bar(x=[1], y=[1]), go.Funnel(x=[1], y=["a"]),
                          go.Scatter(x=[1], y=[1]), go.Pie(values=[1])):
                charts.style(go.Figure(trace), title="warm").to_json()
        except Exception:  # the pages import what they need anyway
            log.exception("warming the server failed")
        if landing:
            from isv.ui import kpi  # loaded just above; not by the login page's own import

            try:
                kpi.warm_landing(local_today())
            except Exception as exc:  # not migrated yet, database down: the first view computes
                log.warning("the landing dashboard was not computed ahead: %s", exc)

    threading.Thread(target=warm, name="isv-warm", daemon=True).start()


def refuse_unsafe_production() -> None:
    """Stop before anything else when production would run on development secrets."""
    try:
        get_settings().check_production_ready()
    except RuntimeError as exc:
        st.error(escape_md(str(exc)), icon=":material/gpp_bad:")
        st.stop()
