"""Every page renders for every role that may use it; a role's navigation is exactly its pages."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from isv.ui.labels import role_label
from isv.ui.nav import PAGES, pages_for
from tests.app.conftest import LOGINS, ROLES, messages, new_app, submit_login

ROOT = Path(__file__).resolve().parents[2]
ALLOWED = [(role, page) for role in ROLES for page in pages_for(role)]


@pytest.mark.parametrize(("role", "page"), ALLOWED,
                         ids=[f"{role}-{page.title}" for role, page in ALLOWED])
def test_every_page_renders_for_every_role_that_may_use_it(login, role, page):
    at = login(role, page.path)
    assert not at.exception, at.exception
    assert [title.value for title in at.title] == [page.title]


@pytest.mark.parametrize("role", ROLES)
def test_navigation_registers_exactly_the_roles_pages(login, role):
    at = login(role)
    reachable = set()
    for page in PAGES:
        try:
            at.switch_page(page.path)
        except ValueError:  # AppTest refuses a file st.navigation did not register
            continue
        reachable.add(page.path)
    assert reachable == {page.path for page in pages_for(role)}


def test_users_page_is_only_for_vp_and_admin():
    assert {role for role in ROLES if any(p.path == "pages/users.py" for p in pages_for(role))} \
        == {"vp", "admin"}


def test_sidebar_shows_name_and_role(login):
    at = login("partnership_manager")
    text = " ".join(messages(at.sidebar.markdown))
    assert LOGINS["partnership_manager"].name in text
    assert role_label("partnership_manager") in text


def test_every_page_carries_the_tablet_sidebar_script_and_page_style(login):
    """The browser side of the tablet layout (tests/e2e/test_tablet.py) rides in the
    sidebar, drawn on every run of every page, not only in a fragment's occasional rerun."""
    at = login("sales_manager")
    for path in ("pages/dashboard.py", "pages/board.py"):
        at.switch_page(path).run()
        scripts = [e.proto.body for e in at.sidebar.get("html")]
        assert any("stSidebarCollapsed-" in b and "1200" in b for b in scripts), path
        # Streamlit keeps a style-only st.html out of the layout, so it is not in the sidebar.
        styles = [e.proto.body for e in at.get("html")]
        assert any("stMetricDeltaDescription" in b for b in styles), path


def test_production_with_the_default_cookie_key_refuses_to_start(app_db, monkeypatch):
    from isv import config

    monkeypatch.setenv("ISV_ENV", "production")
    monkeypatch.delenv("ISV_COOKIE_KEY", raising=False)
    config.get_settings.cache_clear()
    at = new_app().run()
    assert any("ISV_COOKIE_KEY" in text for text in messages(at.error))
    assert not at.text_input  # no login form


def test_a_page_file_run_directly_still_requires_login(app_db):
    # What Streamlit does for the first request after a restart when it names a page.
    at = AppTest.from_file(str(ROOT / "pages" / "users.py"), default_timeout=30).run()
    assert not at.exception
    assert [t.value for t in at.title] == ["ISV Pipeline Tracker"]  # the login page
    # No data: the only table is the login page's hidden one that warms the browser up.
    assert [list(d.value.columns) for d in at.dataframe] == [["warm"]]


def test_a_page_file_run_directly_still_checks_the_role(app_db):
    at = AppTest.from_file(str(ROOT / "pages" / "users.py"), default_timeout=30).run()
    sales = LOGINS["sales_manager"]
    submit_login(at, sales.email, sales.password)
    assert not at.exception
    assert ("Users is open to VP and Admin only; you are signed in as Sales manager."
            in messages(at.error))
    assert not at.dataframe
