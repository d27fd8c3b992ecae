"""Browser tests: `streamlit run serve.py` (app.py and the cookie routes) on a demo database,
driven by Debian's Chromium.

No browser is ever downloaded: Playwright launches /usr/bin/chromium. Without it the tests
skip, except in CI (CI=true), where they fail.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from isv import migrate
from isv.auth import Viewer
from isv.db import get_engine, session_scope
from isv.services import users

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
IN_CI = os.environ.get("CI", "").lower() == "true"
COOKIE_NAME = "isv_e2e_auth"
COOKIE_KEY = "e2e-cookie-key-0123456789-abcdefghijklmnop"
LOCK_PASSWORD = "lock-me-out-2026"


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


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
    return spare


def _wait_healthy(base: str, proc: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited early:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"streamlit did not become healthy in {timeout}s:\n{log.read_text()}")


@pytest.fixture(scope="session")
def chromium_path() -> str:
    if not CHROMIUM.exists():
        message = (f"{CHROMIUM} is missing: install Debian's chromium package "
                   "(apt-get install chromium)")
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return str(CHROMIUM)


@pytest.fixture(scope="session")
def server(tmp_path_factory, chromium_path) -> Server:
    tmp = tmp_path_factory.mktemp("e2e")
    url = f"sqlite:///{tmp / 'isv.db'}"
    migrate.upgrade(url)
    accounts = _seed(url)
    lockable = _add_lockable(url, 2)
    get_engine(url).dispose()

    port = _free_port()
    env = {**os.environ, "ISV_DATABASE_URL": url, "ISV_BCRYPT_ROUNDS": "4",
           "ISV_COOKIE_NAME": COOKIE_NAME, "ISV_COOKIE_KEY": COOKIE_KEY, "ISV_ENV": "test"}
    log = tmp / "streamlit.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(ROOT / "serve.py"),
             "--server.port", str(port), "--server.headless", "true",
             "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
             "--browser.gatherUsageStats", "false"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, proc, log)
        yield Server(url=base, accounts=accounts, lockable=lockable, database_url=url)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def browser(chromium_path):
    from playwright.sync_api import expect, sync_playwright

    # A shared CI machine can be slow; a real failure still fails, only later.
    expect.set_options(timeout=15_000)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def context(browser):
    """A fresh browser profile: no cookies, nothing shared with other tests."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    ctx.set_default_timeout(15_000)
    yield ctx
    ctx.close()
