"""Browser tests: `streamlit run serve.py` (app.py and the cookie routes) on a demo database,
driven by Debian's Chromium.

No browser is ever downloaded: Playwright launches Debian's Chromium, its headless shell
(package chromium-headless-shell) where installed, else /usr/bin/chromium. Without either the
tests skip, except in CI (CI=true), where they fail.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from isv import devserver
from isv.auth import Viewer
from isv.db import get_engine, session_scope
from isv.services import users
from tests.conftest import fresh_migrated

ROOT = Path(__file__).resolve().parents[2]
# The headless shell is the same engine without the desktop browser around it: it drew the
# browser tests' pages with 12% less CPU (tests/README.md).
CHROMIUMS = (Path("/usr/bin/chromium-headless-shell"), Path("/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
IN_CI = os.environ.get("CI", "").lower() == "true"
COOKIE_NAME = "isv_e2e_auth"
COOKIE_KEY = "e2e-cookie-key-0123456789-abcdefghijklmnop"
LOCK_PASSWORD = "lock-me-out-2026"
QUICK_POLL_SECONDS = 2
# How long an action or an expectation waits by default (ms). `make test` runs the browser
# tests in two processes on two cores, each with a Chromium and a Streamlit server of its
# own: a loaded machine may take this long; a real failure still fails, only later.
PATIENCE_MS = 30_000


@dataclass(frozen=True)
class Account:
    email: str
    password: str
    role: str
    name: str


@dataclass(frozen=True)
class Server:
    url: str
    accounts: dict[str, Account]   # one per role
    lockable: list[Account]        # spare accounts for tests that lock or end sessions
    database_url: str = ""         # the app's database, for tests that change it behind its back


def _seed(url: str) -> dict[str, Account]:
    """Demo data when isv.demo is there (the real look), else one user per role."""
    try:
        from isv.demo import DEMO_LOGINS, load_demo
    except ImportError:
        DEMO_LOGINS, load_demo = None, None
    accounts: dict[str, Account] = {}
    with session_scope(url) as session:
        if load_demo is not None:
            load_demo(session=session, opportunities=60, seed=42)
            for email, password, role, name in DEMO_LOGINS:
                accounts.setdefault(role, Account(email, password, role, name))
        else:
            for role in ("vp", "sales_manager", "partnership_manager", "admin"):
                account = Account(f"{role}@example.com", f"{role}-password-2026", role,
                                  f"E2e {role.replace('_', ' ').title().replace(' ', '')}")
                first, last = account.name.split()
                users.create_user(session=session, viewer=Viewer.system("e2e"),
                                  email=account.email, first_name=first, last_name=last,
                                  role=role, password=account.password)
                accounts[role] = account
        session.commit()
    return accounts


def _add_lockable(url: str, count: int) -> list[Account]:
    spare = []
    with session_scope(url) as session:
        for n in range(count):
            account = Account(f"spare{n}@example.com", LOCK_PASSWORD, "sales_manager",
                              f"Spare Person{n}")
            users.create_user(session=session, viewer=Viewer.system("e2e"),
                              email=account.email, first_name="Spare",
                              last_name=f"Person{n}", role=account.role,
                              password=account.password)
            spare.append(account)
        session.commit()
    return spare


@pytest.fixture(scope="session")
def chromium_path() -> str:
    for chromium in CHROMIUMS:
        if chromium.exists():
            return str(chromium)
    message = ("no Chromium: install Debian's chromium-headless-shell package "
               "(apt-get install chromium-headless-shell)")
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@contextmanager
def _serving(request, tmp: Path, **env: str) -> Iterator[Server]:
    """`streamlit run serve.py` on a free port and a demo database of its own."""
    url = fresh_migrated(request, "sqlite", tmp / "isv.db")
    accounts = _seed(url)
    lockable = _add_lockable(url, 2)
    get_engine(url).dispose()

    port = devserver.free_port()
    env = {**os.environ, "ISV_DATABASE_URL": url, "ISV_BCRYPT_ROUNDS": "4",
           "ISV_COOKIE_NAME": COOKIE_NAME, "ISV_COOKIE_KEY": COOKIE_KEY, "ISV_ENV": "test",
           **env}
    base = f"http://127.0.0.1:{port}"
    with devserver.serving(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "serve.py"),
             "--server.port", str(port), "--server.headless", "true",
             "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
             "--browser.gatherUsageStats", "false"],
            # Its first start imports a lot: at load 18 on two cores it took more than 30 s.
            env=env, health_url=f"{base}/_stcore/health", log=tmp / "streamlit.log",
            timeout=90):
        yield Server(url=base, accounts=accounts, lockable=lockable, database_url=url)


@pytest.fixture(scope="session")
def server(request, tmp_path_factory, chromium_path) -> Server:
    with _serving(request, tmp_path_factory.mktemp("e2e")) as running:
        yield running


@pytest.fixture(scope="module")
def fresh_server(request, tmp_path_factory, chromium_path) -> Server:
    """A server of the file's own, started for it: no session has run in it yet, as after a
    restart or a deploy."""
    with _serving(request, tmp_path_factory.mktemp("e2e_fresh")) as running:
        yield running


@pytest.fixture(scope="module")
def quick_poll_server(request, tmp_path_factory, chromium_path) -> Server:
    """A server of its own whose pages look for changed data every 2 s, not every 30 s:
    for tests of what an open page shows without a reload, which would otherwise wait."""
    with _serving(request, tmp_path_factory.mktemp("e2e_poll"),
                  ISV_PAGE_POLL_SECONDS=str(QUICK_POLL_SECONDS)) as running:
        yield running


@pytest.fixture(scope="session")
def pg_demo_template(pg_databases, pg_template) -> str:
    """A migrated PostgreSQL database holding `isv demo --opportunities 60`, nobody connected:
    the stacks started as compose starts them (topology, monitoring) each take a copy
    instead of running the migrations and the demo again."""
    url = pg_databases.create(template=pg_template)
    env = {**os.environ, "ISV_DATABASE_URL": url, "ISV_BCRYPT_ROUNDS": "4"}
    env.pop("ISV_REDIS_URL", None)
    subprocess.run([str(Path(sys.executable).with_name("isv")), "demo", "--opportunities", "60"],
                   cwd=ROOT, env=env, check=True, capture_output=True, timeout=300)
    return url.rsplit("/", 1)[1]


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=PATIENCE_MS)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def context(browser):
    """A fresh browser profile: no cookies, nothing shared with other tests."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    ctx.set_default_timeout(PATIENCE_MS)
    yield ctx
    ctx.close()
