"""The frame around every page: login gate, sidebar, role-filtered navigation, page guard."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx
from streamlit.runtime.scriptrunner_utils.exceptions import RerunException, StopException

from isv import metrics
from isv.analytics import cached
from isv.auth import Viewer
from isv.config import get_settings
from isv.ui import login, nav, state
from isv.ui.alerts import bell as alert_bell
from isv.ui.labels import role_label
from isv.ui.widgets import escape_md

PAGE_TITLE = "ISV Pipeline Tracker"
# A file served by the app itself: a Material icon name (":material/hub:") would make the
# browser fetch the favicon from Google's font host, a request leaving the machine.
PAGE_ICON = str(Path(__file__).with_name("icon.png"))
LOGOUT_KEY = "isv_logout"
# Read once, when the process first draws a page (ISV_PAGE_POLL_SECONDS).
POLL_SECONDS = get_settings().page_poll_seconds
# Below this window width the sidebar starts collapsed: at 1024 px (a tablet) the page needs
# the room. Streamlit itself collapses it only at phone width (768 px).
SIDEBAR_AUTO_COLLAPSE_BELOW = 1200

# Streamlit cuts a KPI card's delta description with an ellipsis ("vs Q3 2…") when the card
# is narrow (a tablet, a sidebar left open); it wraps onto a second line instead.
_PAGE_CSS = """
[data-testid="stMetric"] div:has(> [data-testid="stMetricDeltaDescription"]) {
  flex-wrap: wrap; overflow: visible; row-gap: 0.125rem; }
[data-testid="stMetricDeltaDescription"],
[data-testid="stMetricDeltaDescription"] .stMarkdownEllipsis,
[data-testid="stMetricDeltaDescription"] p {
  white-space: normal; overflow: visible; text-overflow: clip; }
"""

# Once per page load, before anyone touched the sidebar: a narrow window collapses it with
# Streamlit's own button. Streamlit remembers a person's open/close choice in localStorage
# ("stSidebarCollapsed-…") and that choice wins; the click made here is not remembered as one,
# so the same browser at full width shows the sidebar again. An inline script: the
# production CSP allows those ('unsafe-inline'), not the blob: modules of custom components.
_SIDEBAR_SCRIPT = """
(() => {
  if (window.isvSidebarChecked) return;
  window.isvSidebarChecked = true;
  if (window.innerWidth >= MIN_WIDTH) return;
  const chosen = () => Object.keys(localStorage)
    .filter((k) => k.startsWith("stSidebarCollapsed-"));
  let known;
  try { known = chosen(); } catch (e) { return; }
  if (known.length) return;
  let tries = 0;
  const collapse = () => {
    const sidebar = document.querySelector('[data-testid="stSidebar"]');
    const button = document.querySelector('[data-testid="stSidebarCollapseButton"] button');
    if (sidebar && button && sidebar.dataset.collapsed === "false") {
      button.click();
      setTimeout(() => chosen().forEach((k) => localStorage.removeItem(k)), 0);
    } else if (tries++ < 50) {
      setTimeout(collapse, 100);
    }
  };
  collapse();
})();
""".replace("MIN_WIDTH", str(SIDEBAR_AUTO_COLLAPSE_BELOW))


def start() -> st.Page:
    """Refuse unsafe production, gate on login, draw the sidebar; return the page to run.

    Before login this runs the login page itself and stops the script.
    """
    login.refuse_unsafe_production()
    st.session_state.pop(state.EXPORT_EXPLAINED, None)
    gate = login.Gate()
    viewer = gate.viewer()
    if viewer is None:
        nav.login_navigation(gate.login_page).run()
        st.stop()
    # Before anything reads data: a change landing during this run is seen by the next poll.
    st.session_state[state.DATA_VERSION] = cached.data_version()
    sidebar(gate, viewer)
    page = nav.navigation(viewer)
    name_tab(page.title)
    st.session_state[state.FRAME_RAN] = True
    return page


def sidebar(gate: login.Gate, viewer: Viewer) -> None:
    """Who is signed in, in which role, and the way out."""
    with st.sidebar:
        st.markdown(f"**{escape_md(viewer.name or viewer.email)}**  \n"
                    f"{escape_md(role_label(viewer.role))}")
        alert_bell(viewer)
        if st.button("Sign out", key=LOGOUT_KEY, icon=":material/logout:"):
            gate.sign_out("logout")
        st.html(f"<style>{_PAGE_CSS}</style>")
        st.html(f"<script>{_SIDEBAR_SCRIPT}</script>", unsafe_allow_javascript=True)
        _poll()


@st.fragment(run_every=POLL_SECONDS)
def _poll() -> None:
    """Every POLL_SECONDS (30 s): has anyone changed the data since this page was drawn?
    Then redraw it.

    Reading the data version is a Redis GET or a small file read, never SQL; the fragment
    draws nothing, so an idle page is never greyed out, and nothing else runs until the
    data changed (a new alert from the scheduler counts: the bell is drawn with the page).
    """
    if not _on_its_own_timer():
        # Drawn inline with the page, which reads the data itself. Rerunning here would
        # throw away the run's button clicks (a Save under load: another person's write
        # lands between start()'s read and this one, and the save silently never happens).
        return
    seen = st.session_state.get(state.DATA_VERSION)
    now = cached.data_version()
    if now >= 0 and seen is not None and now != seen:
        st.rerun(scope="app")


def _on_its_own_timer() -> bool:
    """Whether this run is the poll fragment's own timed run, not the whole page's."""
    ctx = get_script_run_ctx()
    return bool(ctx and ctx.fragment_ids_this_run)


def page_viewer(page_file: str | Path) -> Viewer:
    """The first line of every page: the signed-in viewer, or the page stops.

    Normally app.py has just run start() and the gate has checked the server session. But
    while a `pages/` folder exists, Streamlit runs a file from it *directly* (without
    app.py) until st.navigation has been called once in the process: on every AppTest run
    after switch_page(), and on the first request after a restart where serve.py (which
    turns that off, nav.navigation_only) is not what runs. Such a run has not been through
    the gate, so it goes through it here.
    """
    if not st.session_state.pop(state.FRAME_RAN, False):
        st.set_page_config(page_title=PAGE_TITLE, page_icon=PAGE_ICON, layout="wide")
        start()
        st.session_state.pop(state.FRAME_RAN, None)
    viewer = state.current_viewer()
    spec = nav.spec_for_file(page_file)
    if viewer is None:  # cannot happen after start(); kept so a page never runs signed out
        st.stop()
    if spec is None or viewer.role not in spec.roles:
        st.error(nav.not_for_role(spec, viewer.role) if spec is not None
                 else "This page is not available for your role.")
        st.stop()
    return viewer


def name_tab(name: str) -> None:
    """Name the browser tab (and the history entry) after the page, or the record open on
    it ("Budgetbeam · ISV Pipeline Tracker"), so several tabs can be told apart. The tab
    shows it as text."""
    st.set_page_config(page_title=f"{name} · {PAGE_TITLE}")


@contextmanager
def page_run(page: str) -> Iterator[None]:
    """Time one run of a page script for the metrics (st.rerun and st.stop are not errors),
    and hold background prefetching back while it runs (isv/analytics/cached.py)."""
    started = time.perf_counter()
    outcome = "error"
    try:
        with cached.foreground():
            yield
        outcome = "ok"
    except RerunException:
        outcome = "rerun"
        raise
    except StopException:
        outcome = "stopped"
        raise
    finally:
        metrics.record_page(page, outcome, time.perf_counter() - started)
