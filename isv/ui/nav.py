"""The page registry: every page once, with the roles that may use it.

A page a role may not use is not registered for that role at all, so it is neither in the
sidebar nor reachable by URL. Later features add a line here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from isv.auth import Viewer
from isv.config import PROJECT_ROOT
from isv.models import ROLES

EVERYONE = frozenset(ROLES)
USER_ADMINS = frozenset({"vp", "admin"})


@dataclass(frozen=True)
class PageSpec:
    path: str          # relative to the project root, like app.py
    title: str
    icon: str
    section: str
    roles: frozenset[str]

    @property
    def file(self) -> Path:
        return (PROJECT_ROOT / self.path).resolve()

    @property
    def url_path(self) -> str:
        return Path(self.path).stem


PAGES: tuple[PageSpec, ...] = (
    PageSpec("pages/partners.py", "Partners", ":material/handshake:", "Partner program",
             EVERYONE),
    PageSpec("pages/users.py", "Users", ":material/manage_accounts:", "Admin", USER_ADMINS),
)


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


def navigation(viewer: Viewer) -> st.Page:
    """Register the viewer's pages with Streamlit and return the one to run."""
    sections = {
        section: [st.Page(page.file, title=page.title, icon=page.icon) for page in pages]
        for section, pages in sections_for(viewer.role).items()
    }
    return st.navigation(sections, position="sidebar")


def login_navigation(login_page: Callable[[], None]) -> st.Page:
    """Before login every address shows the login form, so a bookmarked page opens after it."""
    pages = [st.Page(login_page, title="Sign in", icon=":material/login:", url_path="login",
                     default=True)]
    pages += [st.Page(login_page, title="Sign in", icon=":material/login:",
                      url_path=page.url_path) for page in PAGES]
    return st.navigation(pages, position="hidden")
