"""Migrations are the only way the schema changes: they must build what the models describe."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from isv import migrate
from isv.db import make_engine
from isv.models import Base


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.db'}"
    request.getfixturevalue("migrated_pg_url")  # fails in CI, skips elsewhere, when PG is absent
    return request.getfixturevalue("pg_databases").create()


def test_upgrade_from_empty_creates_every_table_and_matches_the_models(empty_url):
    migrate.upgrade(empty_url)
    engine = make_engine(empty_url)
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                Base.metadata)
    engine.dispose()
    assert set(Base.metadata.tables) <= tables
    assert diff == []


def test_downgrade_to_base_removes_every_table(empty_url):
    migrate.upgrade(empty_url)
    migrate.downgrade(empty_url, "base")
    engine = make_engine(empty_url)
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
    engine.dispose()
    assert tables <= {"alembic_version"}
