"""The REST API in-process (FastAPI's TestClient) over a migrated database of its own.

One database per module and backend (a copy of the migrated template); each test makes the
records it needs, with unique names, through the services.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from isv.api.app import create_app
from isv.auth import Viewer
from isv.config import get_settings
from isv.db import _factory, get_engine, session_scope
from isv.services import users
from tests.conftest import fresh_migrated

PASSWORD = "correct-horse-battery"
SYSTEM = Viewer.system("tests")
ROLES = ("vp", "sales_manager", "partnership_manager", "admin")
_n = itertools.count(1)


def clear_caches() -> None:
    get_settings.cache_clear()
    get_engine.cache_clear()
    _factory.cache_clear()


@dataclass
class Api:
    url: str
    client: TestClient
    emails: dict[str, str]  # role -> email of a user with PASSWORD

    def login(self, email: str, password: str = PASSWORD):
        return self.client.post("/api/v1/auth/login",
                                json={"email": email, "password": password})

    def headers(self, role_or_email: str) -> dict[str, str]:
        email = self.emails.get(role_or_email, role_or_email)
        answer = self.login(email)
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['data']['access_token']}"}

    def new_user(self, role: str = "sales_manager", **extra) -> str:
        email = f"api-user-{next(_n)}@example.com"
        with session_scope() as session:
            users.create_user(session=session, viewer=SYSTEM, email=email, first_name="Api",
                              last_name=f"User{next(_n)}", role=role, password=PASSWORD,
                              **extra)
            session.commit()
        return email


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def api_url(request, tmp_path_factory):
    """A migrated database of its own that the configured settings point at."""
    url = fresh_migrated(request, request.param, tmp_path_factory.mktemp("api") / "api.db")
    patch = pytest.MonkeyPatch()
    patch.setenv("ISV_DATABASE_URL", url)
    # Tests sign in far more often than a person: the login limit has its own test.
    patch.setenv("ISV_API_LOGIN_RATE_PER_MINUTE", "100000")
    patch.setenv("ISV_API_RATE_PER_MINUTE", "100000")
    patch.delenv("ISV_REDIS_URL", raising=False)
    clear_caches()
    yield url
    get_engine().dispose()
    patch.undo()
    clear_caches()


@pytest.fixture(scope="module")
def api(api_url) -> Api:
    emails = {}
    with session_scope() as session:
        for role in ROLES:
            email = f"{role}-{next(_n)}@example.com"
            users.create_user(session=session, viewer=SYSTEM, email=email, first_name=role,
                              last_name="Tester", role=role, password=PASSWORD)
            emails[role] = email
        session.commit()
    with TestClient(create_app()) as client:
        yield Api(url=api_url, client=client, emails=emails)
