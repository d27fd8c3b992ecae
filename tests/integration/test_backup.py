"""`isv backup` / `isv restore`: a whole database moves between SQLite and PostgreSQL intact."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from isv import cli, demo
from isv.auth import Viewer
from isv.db import get_engine, session_scope
from isv.models import Opportunity, Task, User
from isv.services import backup, settings
from tests.conftest import fresh_migrated
from tests.integration.test_cli import assert_refused

SYSTEM = Viewer.system("tests")


def isv(*args: str):
    return CliRunner().invoke(cli.main, list(args))


@pytest.fixture
def sqlite_url(request, tmp_path) -> str:
    url = fresh_migrated(request, "sqlite", tmp_path / "backup.db")
    yield url
    get_engine(url).dispose()


@pytest.fixture
def postgres_url(request) -> str:
    url = fresh_migrated(request, "postgresql")
    yield url
    get_engine(url).dispose()


def load_demo(url: str) -> None:
    with session_scope(url) as s:
        demo.load_demo(session=s, opportunities=60, seed=7, viewer=SYSTEM)
        settings.update_settings(session=s, viewer=SYSTEM, currency_symbol="€",
                                 audit_retention_days=400, read_alert_retention_days=30)
        s.commit()


def back_up(url: str, path: Path) -> backup.Summary:
    with session_scope(url) as s:
        return backup.write_backup(session=s, viewer=SYSTEM, out=path)


def restore(url: str, path: Path, force: bool = False) -> backup.Summary:
    with session_scope(url) as s:
        done = backup.restore_backup(session=s, viewer=SYSTEM, path=path, force=force)
        s.commit()
        return done


def assert_same_contents(first: Path, second: Path) -> None:
    one, two = backup.bundle_rows(first), backup.bundle_rows(second)
    assert {t: len(rows) for t, rows in one.items()} == {t: len(rows) for t, rows in two.items()}
    for table in one:
        assert one[table] == two[table], f"{table} differs"


def test_demo_data_moves_from_sqlite_to_postgresql_and_backs_up_identically(
        sqlite_url, postgres_url, tmp_path):
    load_demo(sqlite_url)
    first = back_up(sqlite_url, tmp_path / "from-sqlite.zip")

    restored = restore(postgres_url, tmp_path / "from-sqlite.zip")
    back_up(postgres_url, tmp_path / "from-postgres.zip")

    assert restored.counts == first.counts
    assert first.counts["opportunities"] == 60 and first.rows > 500
    assert_same_contents(tmp_path / "from-sqlite.zip", tmp_path / "from-postgres.zip")
    with session_scope(sqlite_url) as a, session_scope(postgres_url) as b:
        assert settings.current_settings(b).currency_symbol == "€"
        total = select(func.sum(Opportunity.deal_value))
        assert a.scalar(total) == b.scalar(total)
        rolled = select(func.count()).where(Task.rolled_over_from.is_not(None))
        assert b.scalar(rolled) == a.scalar(rolled) > 0


def test_demo_data_moves_from_postgresql_to_sqlite_and_backs_up_identically(
        sqlite_url, postgres_url, tmp_path):
    load_demo(postgres_url)
    back_up(postgres_url, tmp_path / "from-postgres.zip")

    restore(sqlite_url, tmp_path / "from-postgres.zip")
    back_up(sqlite_url, tmp_path / "from-sqlite.zip")

    assert_same_contents(tmp_path / "from-postgres.zip", tmp_path / "from-sqlite.zip")


def test_a_bundle_has_a_manifest_and_exact_values(sqlite_url, tmp_path):
    load_demo(sqlite_url)
    summary = back_up(sqlite_url, tmp_path / "b.zip")

    manifest = backup.read_manifest(tmp_path / "b.zip")
    assert manifest["format_version"] == backup.FORMAT_VERSION
    assert manifest["alembic_revision"] == summary.revision
    assert manifest["created_at"].endswith("+00:00")
    assert [t["name"] for t in manifest["tables"]].index("users") < \
        [t["name"] for t in manifest["tables"]].index("opportunities")
    deal = json.loads(backup.bundle_rows(tmp_path / "b.zip")["opportunities"][0])
    assert isinstance(deal["deal_value"], str) and deal["deal_value"].count(".") == 1
    assert deal["created_at"].endswith("+00:00")


# --- the commands, on each database ------------------------------------------------------

@pytest.fixture
def backed_up(fresh_url, tmp_path) -> Path:
    """A migrated database with demo data, and a bundle of it."""
    assert isv("demo", "--opportunities", "30").exit_code == 0
    bundle = tmp_path / "backup.zip"
    result = isv("backup", str(bundle))
    assert result.exit_code == 0, result.output
    assert "Backed up" in result.stdout
    return bundle


def counts() -> tuple[int, int]:
    with session_scope() as s:
        return (s.scalar(select(func.count()).select_from(User)),
                s.scalar(select(func.count()).select_from(Opportunity)))


def test_restore_over_a_database_with_data_is_refused_and_changes_nothing(backed_up):
    isv("user", "add", "--email", "extra@example.com", "--role", "admin", "--first", "Ex",
        "--last", "Tra")
    before = counts()

    assert_refused(isv("restore", str(backed_up)), "database:", "--force")
    assert counts() == before


def test_restore_with_force_replaces_everything_with_the_bundle(backed_up):
    isv("user", "add", "--email", "extra@example.com", "--role", "admin", "--first", "Ex",
        "--last", "Tra")

    result = isv("restore", "--force", str(backed_up))

    assert result.exit_code == 0, result.output
    assert "Restored" in result.stdout
    with session_scope() as s:
        assert s.scalar(select(User).where(User.email == "extra@example.com")) is None
    assert counts()[1] == 30


def test_a_bundle_of_another_schema_revision_is_refused_naming_both(backed_up, tmp_path):
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(backed_up) as src, zipfile.ZipFile(other, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == backup.MANIFEST:
                manifest = json.loads(data)
                manifest["alembic_revision"] = "0123abcd"
                data = json.dumps(manifest).encode()
            dst.writestr(item, data)
    result = isv("restore", "--force", str(other))
    assert_refused(result, "file:", "0123abcd")
    assert counts()[1] == 30


def test_a_damaged_bundle_restores_nothing(backed_up, tmp_path):
    damaged = tmp_path / "damaged.zip"
    with zipfile.ZipFile(backed_up) as src, zipfile.ZipFile(damaged, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "tables/tasks.jsonl":
                data = data.rsplit(b"\n", 2)[0] + b"\n"  # the last task is lost
            dst.writestr(item, data)
    isv("user", "add", "--email", "extra@example.com", "--role", "admin", "--first", "Ex",
        "--last", "Tra")
    before = counts()

    assert_refused(isv("restore", "--force", str(damaged)), "file:", "tasks")
    assert counts() == before


def test_a_bundle_whose_rows_break_a_constraint_restores_nothing(backed_up, tmp_path):
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(backed_up) as src, zipfile.ZipFile(broken, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "tables/tasks.jsonl":
                first, rest = data.split(b"\n", 1)
                task = json.loads(first)
                task["user_id"] = "00000000-0000-4000-8000-000000000000"  # nobody
                data = json.dumps(task).encode() + b"\n" + rest
            dst.writestr(item, data)
    before = counts()

    assert_refused(isv("restore", "--force", str(broken)), "file:", "tasks")
    assert counts() == before


def test_a_file_that_is_not_a_bundle_is_refused(fresh_url, tmp_path):
    junk = tmp_path / "notes.zip"
    junk.write_text("not a zip")
    assert_refused(isv("restore", str(junk)), "file:", "not an isv backup")


def test_restore_into_a_database_never_migrated_asks_for_migrate(empty_url, tmp_path, sqlite_url):
    with session_scope(sqlite_url) as s:
        backup.write_backup(session=s, viewer=SYSTEM, out=tmp_path / "b.zip")
    assert_refused(isv("restore", str(tmp_path / "b.zip")), "database:", "isv migrate")


@pytest.mark.parametrize("command", [["backup"], ["restore"], ["user", "export"],
                                     ["user", "anonymise"]])
def test_the_new_commands_have_help(command):
    result = isv(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout
