"""AppTest setup: a migrated SQLite database per test, one user per role, and a login helper.

Tests log in through the login form itself (the text inputs and the submit button that
streamlit-authenticator draws), so the gate under test is the one users meet: our
controller, the failure count in the database, the server session started after the form.
The cookie (set by a server route, isv/web.py) cannot be exercised here: AppTest has no
browser and no server; tests/e2e covers it.
"""

from __future__ import annotations

import functools
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, event
from streamlit.components.v2 import manifest_scanner
from streamlit.runtime import context as st_context
from streamlit.runtime.pages_manager import PagesManager
from streamlit.runtime.scriptrunner.script_cache import ScriptCache
from streamlit.testing.v1 import AppTest, app_test

from isv import config, db
from isv.auth import Viewer
from isv.db import session_scope
from isv.services import opportunities, users
from tests.conftest import fresh_migrated
from tests.factories import make_partner

APP = str(Path(__file__).resolve().parents[2] / "app.py")
PASSWORD = "correct-horse-battery"
COOKIE_KEY = "app-tests-cookie-key-0123456789-abcdefghij"


@dataclass(frozen=True)
class Login:
    email: str
    password: str
    role: str
    name: str


LOGINS = {
    "vp": Login("vera.vp@example.com", PASSWORD, "vp", "Vera Vale"),
    "sales_manager": Login("sid.sales@example.com", PASSWORD, "sales_manager", "Sid Sato"),
    "partnership_manager": Login("pia.partner@example.com", PASSWORD, "partnership_manager",
                                 "Pia Park"),
    "admin": Login("ada.admin@example.com", PASSWORD, "admin", "Ada Ames"),
}
ROLES = tuple(LOGINS)


def _clear_caches() -> None:
    config.get_settings.cache_clear()
    db.get_engine.cache_clear()
    db._factory.cache_clear()


@pytest.fixture(scope="session")
def template_db(request, tmp_path_factory) -> Path:
    """The migrated template with the users added; each test gets a copy of this file."""
    path = tmp_path_factory.mktemp("app_template") / "isv.db"
    url = fresh_migrated(request, "sqlite", path)
    _add_users(url)
    # Closing the last connection checkpoints SQLite's WAL into the file we copy.
    db.get_engine(url).dispose()
    _clear_caches()
    return path


@pytest.fixture
def app_db(template_db, tmp_path, monkeypatch) -> str:
    """A fresh copy of the template database, configured as the app's database."""
    path = tmp_path / "isv.db"
    shutil.copy(template_db, path)
    url = f"sqlite:///{path}"
    monkeypatch.setenv("ISV_DATABASE_URL", url)
    monkeypatch.setenv("ISV_BCRYPT_ROUNDS", "4")
    monkeypatch.setenv("ISV_COOKIE_KEY", COOKIE_KEY)
    _clear_caches()
    yield url
    db.get_engine(url).dispose()
    _clear_caches()


def _add_users(url: str) -> None:
    with db.session_scope(url) as session:
        for login in LOGINS.values():
            first, last = login.name.split()
            users.create_user(session=session, viewer=Viewer.system("tests"), email=login.email,
                              first_name=first, last_name=last, role=login.role,
                              password=login.password)
        session.commit()


@pytest.fixture(scope="session")
def pg_template_db(request) -> str:
    """A migrated PostgreSQL database with the users; each test gets a copy of it."""
    url = fresh_migrated(request, "postgresql")  # fails in CI, skips elsewhere, without PG
    _add_users(url)
    db.get_engine(url).dispose()  # a template database must have no connections
    _clear_caches()
    return url


def _use_database(url: str, monkeypatch) -> None:
    monkeypatch.setenv("ISV_DATABASE_URL", url)
    monkeypatch.setenv("ISV_BCRYPT_ROUNDS", "4")
    monkeypatch.setenv("ISV_COOKIE_KEY", COOKIE_KEY)
    _clear_caches()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_app_db(request, monkeypatch) -> Iterator[str]:
    """The app's database, once on SQLite and once on PostgreSQL (a fresh copy each test)."""
    if request.param == "sqlite":
        yield request.getfixturevalue("app_db")
        return
    template = request.getfixturevalue("pg_template_db").rsplit("/", 1)[1]
    url = request.getfixturevalue("pg_databases").create(template=template)
    _use_database(url, monkeypatch)
    yield url
    db.get_engine(url).dispose()
    _clear_caches()


@pytest.fixture(scope="session", autouse=True)
def started_once_as_a_server_is() -> Iterator[None]:
    """Scan the installed packages for components and compile each page once per process;
    no browser behind the session.

    AppTest does both again for every test (the scan reads every installed package's
    metadata, about 0.15 s of CPU) and every run (each page is parsed and compiled anew):
    together a third of this directory's time. A running server does each once, at start
    and at a page's first run; neither the packages nor the pages change while tests run.

    AppTest has no browser, so no request headers and no cookies; but its stand-in runtime
    (a MagicMock) answers `st.context.cookies` with mock objects, built anew on every read:
    11 s of CPU over this directory. Here the session has no client, which Streamlit reads
    as no headers and no cookies, as it does for a session whose browser has gone.
    """
    scripts = ScriptCache()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(manifest_scanner, "scan_component_manifests",
                      functools.cache(manifest_scanner.scan_component_manifests))
        patch.setattr(app_test, "ScriptCache", lambda: scripts)
        patch.setattr(st_context, "_get_client_context", lambda: None)
        yield


@pytest.fixture(autouse=True)
def navigation_as_on_a_running_server(monkeypatch):
    """Run app.py on every AppTest run, as a running server does.

    Streamlit runs a file under pages/ directly (without app.py) until st.navigation has
    been called once in the process; a server does that once after a restart, but AppTest
    resets the flag before every run, so each run after switch_page() would skip the frame
    and widget ids would change between runs. test_frame.py covers the direct run on its own.
    """
    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)


def new_app() -> AppTest:
    return AppTest.from_file(APP, default_timeout=30)


def submit_login(at: AppTest, email: str, password: str) -> AppTest:
    """Fill in the login form and press Sign in.

    The run after a successful form login draws the page (the browser fetches the cookie
    route, isv/web.py, in the background; AppTest has no browser).
    """
    at.text_input[0].set_value(email)
    at.text_input[1].set_value(password)
    at.button[0].click()
    at.run()
    return at


def signed_in(at: AppTest) -> bool:
    return any(button.key == "isv_logout" for button in at.sidebar.button)


def login_as(role: str, page: str | None = None, **params: str) -> AppTest:
    """Sign in through the form as `role`'s user, on the landing page or at `page`'s address
    with `params` in it.

    Signing in at a page's address (a shared link) draws that page straight after the form,
    without drawing the landing dashboard first.
    """
    login = LOGINS[role]
    at = new_app()
    if page:
        at.switch_page(page)
    at.query_params.update(params)
    at = submit_login(at.run(), login.email, login.password)
    assert not at.exception, at.exception
    assert signed_in(at), [e.value for e in at.error]
    return at


@pytest.fixture
def login(app_db):
    """login(role) -> an AppTest signed in through the form as that role's user."""
    return login_as


def plain(markdown: str) -> str:
    """Undo escape_md, so tests can compare messages with the text a user reads."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("  \n", "\n").replace("\u2060", "")


def messages(elements) -> list[str]:
    return [plain(element.value) for element in elements]


@contextmanager
def recorded_sql(url: str) -> Iterator[list[str]]:
    """The SQL statements run against the database at `url` while the block runs."""
    seen: list[str] = []

    def record(conn, _cursor, statement, *_args):
        if str(conn.engine.url) == url:
            seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", record)


def rerun_before_and_after_a_new_deal(at: AppTest, url: str, *, domain: str,
                                      tables: tuple[str, ...]) -> None:
    """Rerun: no SQL on `tables`; then someone adds a $1M deal and the next rerun reads them."""
    with recorded_sql(url) as seen:
        at.run()
        assert not [s for s in seen if any(table in s for table in tables)]
        with session_scope() as s:
            partner = make_partner(s, name="Shieldpoint", domain=domain)
            opportunities.create_opportunity(session=s, viewer=Viewer.system(),
                                             partner_id=partner.id, customer_name="New Co",
                                             deal_value="1000000")
            s.commit()
        seen.clear()
        at.run()
    assert any(tables[0] in s for s in seen)
