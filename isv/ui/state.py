"""What the login gate keeps in st.session_state for the pages of one browser session."""

from __future__ import annotations

import streamlit as st

from isv.auth import Viewer

# The library's own keys (streamlit-authenticator sets and clears these itself).
AUTH_STATUS = "authentication_status"
LIBRARY_KEYS = ("name", "username", "email", "roles", AUTH_STATUS)

# Ours.
VIEWER = "isv_viewer"                # the signed-in Viewer, checked against the DB every rerun
SESSION_ID = "isv_session_id"        # the server session's id (its token is the cookie's)
PENDING_USER = "isv_pending_login"   # user id between a form login and its server session
LOGIN_ERROR = "isv_login_error"      # the refusal shown under the login form
END_REASON = "isv_end_reason"        # why the last session ended, shown above the login form
FLASH = "isv_flash"                  # a confirmation shown for a few seconds of reruns
GO_TO = "isv_go_to"                  # {"url", "fetch"}: a cookie route to fetch or go to
REFUSED_COOKIE = "isv_refused_cookie"  # hash of a cookie that signed nobody in: not again
FRAME_RAN = "isv_frame_ran"          # set by frame.start(), taken by the page it runs
DATA_VERSION = "isv_data_version_seen"  # the data version this page run started from
BELL_COUNT = "isv_bell_count"        # (viewer id, data version, unread alerts) last counted
EXPORT_EXPLAINED = "isv_export_explained"  # this page run has said why exports are off


def current_viewer() -> Viewer | None:
    """The signed-in viewer of this browser session, or None before login."""
    viewer = st.session_state.get(VIEWER)
    return viewer if isinstance(viewer, Viewer) else None


def clear_login() -> None:
    """Forget who is signed in, in this browser session only."""
    for key in (VIEWER, SESSION_ID, PENDING_USER):
        st.session_state.pop(key, None)
