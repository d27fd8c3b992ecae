"""The page registry: every page once, with the roles that may use it.

A page a role may not use is never run for that role: it is not in the sidebar, and its
address (a link someone shared) shows who may use it instead. Later features add a line here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import streamlit as st

from isv import display
from isv.auth import Viewer
from isv.config import PROJECT_ROOT
from isv.models import ROLES
from isv.ui.labels import role_label

EVERYONE = frozenset(ROLES)
USER_ADMINS = frozenset({"vp", "admin"})
OWN_WORK_ROLES = frozenset({"vp", "sales_manager", "partnership_manager"})
TEAM_READERS = frozenset({"vp", "sales_manager", "admin"})


@dataclass(frozen=True)
class PageSpec:
    path: str          # relative to the project root, like app.py
    title: str
    icon: str
    section: str
    roles: frozenset[str]
    # False: registered (reachable by link and st.switch_page) but not listed in the
    # sidebar, e.g. a detail page opened from a row of a list page.
    visible: bool = True

    @property
    def file(self) -> Path:
        return (PROJECT_ROOT / self.path).resolve()

    @property
    def url_path(self) -> str:
        return Path(self.path).stem


PAGES: tuple[PageSpec, ...] = (
    # First, so it is everyone's landing page.
    PageSpec("pages/dashboard.py", "Executive dashboard", ":material/monitoring:", "Analytics",
             EVERYONE),
    PageSpec("pages/pipeline_analytics.py", "Pipeline analytics", ":material/speed:",
             "Analytics", EVERYONE),
    PageSpec("pages/partner_analytics.py", "Partner analytics", ":material/hub:", "Analytics",
             EVERYONE),
    # Team status and goals are read by vp, sales managers and admin (DESIGN.md roles table).
    PageSpec("pages/team_view.py", "Team view", ":material/leaderboard:", "Analytics",
             TEAM_READERS),
    PageSpec("pages/partners.py", "Partners", ":material/handshake:", "Partner program",
             EVERYONE),
    # Detail pages open from a row of their list page; kept out of the sidebar.
    PageSpec("pages/partner_detail.py", "Partner detail", ":material/storefront:",
             "Partner program", EVERYONE, visible=False),
    PageSpec("pages/commissions.py", "Commission calculator", ":material/calculate:",
             "Partner program", EVERYONE),
    # Deals partners registered through their links; admin reads them, the services refuse
    # its decisions.
    PageSpec("pages/registrations.py", "Deal registrations", ":material/how_to_reg:",
             "Partner program", EVERYONE),
    # Every role reads deals; admin sees these pages read-only (the services refuse its writes).
    PageSpec("pages/opportunities.py", "Opportunities", ":material/table:", "Pipeline",
             EVERYONE),
    PageSpec("pages/board.py", "Pipeline board", ":material/view_kanban:", "Pipeline",
             EVERYONE),
    PageSpec("pages/opportunity_detail.py", "Opportunity detail", ":material/request_quote:",
             "Pipeline", EVERYONE, visible=False),
    # Every role: admin imports users and exports everything; the services refuse the rest.
    PageSpec("pages/import_data.py", "Import / export", ":material/swap_vert:", "Pipeline",
             EVERYONE),
    # My week: admin files no status and keeps no tasks or goals (DESIGN.md roles table), but
    # reads the team's status and goals; on Goals it sees the team's only.
    PageSpec("pages/weekly_status.py", "Weekly status", ":material/edit_note:", "My week",
             OWN_WORK_ROLES),
    PageSpec("pages/team_status.py", "Team status", ":material/groups:", "My week",
             TEAM_READERS),
    PageSpec("pages/tasks.py", "Tasks", ":material/checklist:", "My week", OWN_WORK_ROLES),
    PageSpec("pages/goals.py", "Goals", ":material/flag:", "My week",
             OWN_WORK_ROLES | {"admin"}),
    PageSpec("pages/alerts.py", "Alerts", ":material/notifications:", "My week", EVERYONE),
    PageSpec("pages/users.py", "Users", ":material/manage_accounts:", "Admin", USER_ADMINS),
    PageSpec("pages/system.py", "System", ":material/monitor_heart:", "Admin", USER_ADMINS),
    PageSpec("pages/settings.py", "Settings", ":material/settings:", "Admin", USER_ADMINS),
    # Everyone's own account: who they are and their personal access tokens for the API.
    PageSpec("pages/account.py", "Account", ":material/account_circle:", "Account", EVERYONE),
)


# Pages anyone may open without signing in, when the address carries what they need (a
# partner's registration link: /register?token=...). Not in PAGES: no role's navigation, no
# sidebar entry; the page itself refuses whoever lacks the token.
REGISTER = PageSpec("pages/register.py", "Register a deal", ":material/how_to_reg:",
                    "Public", EVERYONE, visible=False)
PUBLIC_PAGES: tuple[PageSpec, ...] = (REGISTER,)


def pages_for(role: str) -> list[PageSpec]:
    """The pages a role may use, in registry order."""
    return [page for page in PAGES if role in page.roles]


def sections_for(role: str) -> dict[str, list[PageSpec]]:
    """A role's pages grouped by section, sections in the order they first appear."""
    sections: dict[str, list[PageSpec]] = {}
    for page in pages_for(role):
        sections.setdefault(page.section, []).append(page)
    return sections


def spec_for_file(file: str | Path) -> PageSpec | None:
    target = Path(file).resolve()
    return next((page for page in PAGES if page.file == target), None)


def navigation_only() -> None:
    """Route every run of this process through app.py's st.navigation, from the first.

    Streamlit takes a `pages/` folder beside the main script for its older multipage mode
    until st.navigation is first called in the process. So the first request after a
    restart, at a page's address, ran that file directly, and its widgets got other
    identities than in every later run (the page's hash is part of them): the person's
    first change, such as a new "What to import", came back as the default. Called before
    any session starts (serve.py).
    """
    from streamlit.runtime.pages_manager import PagesManager

    PagesManager.uses_pages_directory = False


def navigation(viewer: Viewer) -> st.Page:
    """Register the viewer's pages with Streamlit and return the one to run."""
    sections = {
        section: [st.Page(page.file, title=page.title, icon=page.icon,
                          visibility="visible" if page.visible else "hidden")
                  for page in pages]
        for section, pages in sections_for(viewer.role).items()
    }
    # A signed-in person following a partner's link (to try it) gets the form as well.
    sections.setdefault("Account", []).extend(
        st.Page(page.file, title=page.title, icon=page.icon, visibility="hidden")
        for page in PUBLIC_PAGES)
    # A link to a page this role may not use says so, rather than Streamlit's "Page not
    # found" over the dashboard; the page's own file is never registered, so never run.
    sections["Account"].extend(
        st.Page(partial(_not_for_role, page, viewer.role), title=page.title, icon=page.icon,
                url_path=page.url_path, visibility="hidden")
        for page in PAGES if viewer.role not in page.roles)
    # Expanded: every page the role may use is one click away, not behind "View more".
    return st.navigation(sections, position="sidebar", expanded=True)


def not_for_role(page: PageSpec, role: str) -> str:
    """Why this role cannot open the page, naming the roles that can."""
    who = display.series([role_label(r) for r in ROLES if r in page.roles])
    return f"{page.title} is open to {who} only; you are signed in as {role_label(role)}."


def _not_for_role(page: PageSpec, role: str) -> None:
    st.title(page.title)
    st.error(not_for_role(page, role), icon=":material/block:")
    st.page_link(PAGES[0].file, label=f"Go to the {PAGES[0].title.lower()}",
                 icon=PAGES[0].icon)


def login_navigation(login_page: Callable[[], None]) -> st.Page:
    """Before login every address shows the login form, so a bookmarked page opens after it;
    a public page (a partner's registration form) opens as itself."""
    pages = [st.Page(login_page, title="Sign in", icon=":material/login:", url_path="login",
                     default=True)]
    pages += [st.Page(login_page, title="Sign in", icon=":material/login:",
                      url_path=page.url_path) for page in PAGES]
    pages += [st.Page(page.file, title=page.title, icon=page.icon) for page in PUBLIC_PAGES]
    return st.navigation(pages, position="hidden")
