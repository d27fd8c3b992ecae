"""Shared test setup: fast bcrypt, and the databases every integration test runs on."""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections import Counter
from pathlib import Path

os.environ.setdefault("ISV_BCRYPT_ROUNDS", "4")
# No background recomputation of analytics after writes: tests count their own statements.
# tests/integration/test_cache.py drives the refresher directly.
os.environ.setdefault("ISV_ANALYTICS_REFRESH", "0")
# No test touches the developer's own database (var/isv.db, or the one .env names): what
# reads the configured database without being given one (saved settings) finds none there
# and uses the defaults. Tests that need a database pass its URL or set this themselves.
os.environ["ISV_DATABASE_URL"] = (
    f"sqlite:///{tempfile.mkdtemp(prefix='isv-tests-')}/absent/isv.db")

import pytest  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from isv import migrate  # noqa: E402
from isv.db import get_engine  # noqa: E402

PG_ADMIN_URL = os.environ.get(
    "ISV_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() == "true"


def _pg_url(database: str) -> str:
    base, _, _ = PG_ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


def postgres_available() -> bool:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


def _require_postgres() -> None:
    if postgres_available():
        return
    if IN_CI:
        pytest.fail(f"PostgreSQL is required in CI and did not answer at {PG_ADMIN_URL}")
    pytest.skip("no PostgreSQL server answers; set ISV_TEST_POSTGRES_URL to run these")


class PostgresDatabases:
    """Create throwaway databases so parallel test runs never share one."""

    def __init__(self) -> None:
        self.created: list[str] = []

    def create(self, template: str | None = None) -> str:
        """A new database: empty, or a copy of `template` (a database nobody is connected to)."""
        name = f"isv_test_{uuid.uuid4().hex[:10]}"
        copy = f' TEMPLATE "{template}"' if template else ""
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
        admin.dispose()
        self.created.append(name)
        return _pg_url(name)

    def drop_all(self) -> None:
        """Drop them in a process of their own that the run does not wait for
        (tests/drop_databases.py says why)."""
        if not self.created:
            return
        subprocess.Popen([sys.executable, str(Path(__file__).with_name("drop_databases.py")),
                          PG_ADMIN_URL, *self.created], start_new_session=True,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)


# The files that take longest, slowest first. xdist hands out whole files (`--dist
# loadfile`), by default those with the most tests first: these have few tests each
# (subprocess servers, thousands of random steps, every page imported), so they came last
# and one worker ran them alone at the end of the run while the others stood idle. With
# `--no-loadscope-reorder` (Makefile) they go first, then the rest, most tests first.
LONGEST_FILES = (
    "tests/api/test_api_schema.py",
    "tests/integration/test_scheduler.py",
    "tests/app/test_forms_change_only_edits.py",
    "tests/integration/test_service_model.py",
    "tests/app/test_drill.py",
    "tests/integration/test_cache.py",
    "tests/integration/test_drill.py",
    "tests/unit/test_warm_server.py",
    "tests/api/test_api_workers.py",
    "tests/integration/test_liability_by_rule.py",
    "tests/integration/test_exec_pack.py",
)


def pytest_collection_modifyitems(items) -> None:
    """The longest files first (LONGEST_FILES), then the rest, most tests first; each file's
    tests stay together and in order."""
    counts = Counter(item.nodeid.split("::")[0] for item in items)
    first = {path: rank for rank, path in enumerate(LONGEST_FILES)}
    items.sort(key=lambda item: (first.get(path := item.nodeid.split("::")[0], len(first)),
                                 -counts[path], path))


def _freeze_the_survivors() -> None:
    """Keep what is alive now out of the cyclic garbage collector's full passes.

    After collection a worker holds about a million objects (the app, Streamlit, pandas,
    plotly, the collected tests), and each full pass walked them all: about 0.6 s a pass,
    48 CPU-s of the parallel part of `make test` (tests/README.md, session 19). What is alive
    after collection, and after a file's last teardown, is modules and session fixtures,
    which live to the end of the run anyway; what a test makes is collected as before.
    """
    gc.collect()
    gc.freeze()


def pytest_collection_finish(session) -> None:
    _freeze_the_survivors()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """After the last teardown of each file: its module-scoped fixtures are gone by then."""
    result = yield
    if nextitem is None or nextitem.path != item.path:
        _freeze_the_survivors()
    return result


@pytest.fixture(scope="session")
def pg_databases():
    dbs = PostgresDatabases()
    yield dbs
    get_engine.cache_clear()  # close pooled connections so the databases can be dropped
    dbs.drop_all()


@pytest.fixture(scope="session")
def migrated_sqlite_url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'isv.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def migrated_pg_url(pg_databases) -> str:
    _require_postgres()
    url = pg_databases.create()
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A migrated SQLite file that nobody opens: tests copy it rather than migrate anew."""
    path = tmp_path_factory.mktemp("sqlite_template") / "isv.db"
    url = f"sqlite:///{path}"
    migrate.upgrade(url)
    get_engine(url).dispose()  # the last connection closed: the WAL is in the file we copy
    return path


@pytest.fixture(scope="session")
def pg_template(pg_databases) -> str:
    """The name of a migrated PostgreSQL database that nobody connects to (a TEMPLATE)."""
    _require_postgres()
    url = pg_databases.create()
    migrate.upgrade(url)  # its own engine, disposed: no connection stays open
    return url.rsplit("/", 1)[1]


def fresh_migrated(request, kind: str, path: Path | None = None) -> str:
    """A migrated database of the test's own, copied from a template (no migration run):
    on SQLite the file `path`, on PostgreSQL a new database."""
    if kind == "sqlite":
        assert path is not None, "a SQLite copy needs the path of its file"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    template = request.getfixturevalue("pg_template")
    return request.getfixturevalue("pg_databases").create(template=template)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request) -> str:
    """Each test that asks for a database runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("migrated_sqlite_url")
    return request.getfixturevalue("migrated_pg_url")


@pytest.fixture
def session(db_url):
    """A session inside a transaction that is rolled back after the test."""
    engine = get_engine(db_url)
    conn = engine.connect()
    trans = conn.begin()
    s = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield s
    finally:
        s.close()
        trans.rollback()
        conn.close()
