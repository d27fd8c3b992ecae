"""Fixtures for code that commits for real (the CLI, the importer): a database of its own."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from isv.auth import Viewer
from isv.config import get_settings
from isv.db import _factory, get_engine, session_scope
from isv.services import partners, users
from tests.conftest import fresh_migrated


def clear_caches() -> None:
    get_settings.cache_clear()
    get_engine.cache_clear()
    _factory.cache_clear()


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path, monkeypatch):
    """A database of its own, not yet migrated, that the configured settings point at."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cli.db'}"
    else:
        request.getfixturevalue("migrated_pg_url")  # fails in CI, skips elsewhere, without PG
        url = request.getfixturevalue("pg_databases").create()
    monkeypatch.setenv("ISV_DATABASE_URL", url)
    clear_caches()
    yield url
    get_engine().dispose()
    clear_caches()


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request, tmp_path, monkeypatch):
    """A migrated database of its own (a copy of the template), that the configured settings
    point at."""
    url = fresh_migrated(request, request.param, tmp_path / "fresh.db")
    monkeypatch.setenv("ISV_DATABASE_URL", url)
    clear_caches()
    yield url
    get_engine().dispose()
    clear_caches()


@pytest.fixture
def cli_url(fresh_url):
    """A migrated database of its own with one partner (Ledgerline), that `isv` commits to."""
    system = Viewer.system("tests")
    with session_scope() as session:
        owner = users.create_user(session=session, viewer=system, email="owner@example.com",
                                  first_name="Olga", last_name="Owner",
                                  role="partnership_manager")
        partners.create_partner(session=session, viewer=system, name="Ledgerline",
                                domain="FinOps", owner_id=owner.id)
        session.commit()
    return fresh_url


def statements(session, run) -> int:
    """How many SQL statements `run()` sends through the session's connection."""
    session.flush()
    count = [0]

    def counter(*_args) -> None:
        count[0] += 1

    connection = session.connection()
    event.listen(connection, "before_cursor_execute", counter)
    try:
        run()
    finally:
        event.remove(connection, "before_cursor_execute", counter)
    return count[0]


@pytest.fixture(params=["sqlite", "postgresql"])
def committed_url(request, tmp_path):
    """A migrated database of its own, for a test whose two sessions must really commit."""
    url = fresh_migrated(request, request.param, tmp_path / "race.db")
    yield url
    get_engine(url).dispose()
