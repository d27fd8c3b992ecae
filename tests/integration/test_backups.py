"""The scheduled backup job: a checked file named by time, pruned by age, `isv restore`d."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner

from isv import cli, metrics
from isv.auth import Viewer
from isv.config import get_settings
from isv.db import session_scope
from isv.services import backup, backups
from scheduler.gauges import read_deployment
from scheduler.jobs import run_job
from tests.conftest import fresh_migrated
from tests.integration.conftest import clear_caches

SYSTEM = Viewer.system("tests")
# Bookkeeping that moves on after the snapshot: the backup run's own row is "running" in the
# copy and "ok" in the source once the job commits.
AFTER_SNAPSHOT = {"job_runs"}


@pytest.fixture
def backup_dir(tmp_path, monkeypatch):
    folder = tmp_path / "backups"
    monkeypatch.setenv("ISV_BACKUP_DIR", str(folder))
    clear_caches()
    return folder


def export(url: str) -> dict[str, list[str]]:
    """Every table's rows, as the portable bundle writes them (equal data, equal lines)."""
    with session_scope(url) as session:
        return {table.name: [*backup._lines(session, table)] for table in backup.tables()
                if table.name not in AFTER_SNAPSHOT}


def fresh_database(kind: str, request, tmp_path) -> str:
    if kind == "sqlite":
        # a bundle restores into a migrated, empty database
        return fresh_migrated(request, "sqlite", tmp_path / "restored.db")
    return request.getfixturevalue("pg_databases").create()   # a pg_dump into a new one


def test_the_backup_job_writes_a_checked_file_that_restores_to_identical_exports(
        cli_url, backup_dir, request, tmp_path, monkeypatch):
    before = metrics.JOB_RUNS.labels("backup", "ok")._value.get()
    outcome = run_job("backup", url=cli_url, instance_id="tests")
    assert outcome.ok, outcome.error
    [written] = backups.listing()
    postgres = cli_url.startswith("postgresql")
    assert written.path.parent == backup_dir
    assert written.path.suffix == (".dump" if postgres else ".zip")
    assert written.kind == ("pg_dump" if postgres else "bundle")
    assert abs(written.created_at - datetime.now(UTC)) < timedelta(minutes=1)
    assert outcome.counts["file"] == written.path.name
    assert outcome.counts["tables"] == len(backup.tables()) + 1
    assert not list(backup_dir.glob("*.partial"))
    assert metrics.JOB_RUNS.labels("backup", "ok")._value.get() == before + 1

    target = fresh_database("sqlite" if not postgres else "postgresql", request, tmp_path)
    monkeypatch.setenv("ISV_DATABASE_URL", target)
    clear_caches()
    result = CliRunner().invoke(cli.main, ["restore", str(written.path)])
    assert result.exit_code == 0, result.output
    assert "Restored" in result.output
    assert export(target) == export(cli_url)
    assert export(target)["isv_partners"]   # the partner came across


def test_a_pg_dump_archive_is_not_restored_over_a_database_that_has_tables(
        request, backup_dir, monkeypatch):
    url = fresh_migrated(request, "postgresql")
    monkeypatch.setenv("ISV_DATABASE_URL", url)
    clear_caches()
    assert run_job("backup", url=url, instance_id="tests").ok
    archive = backups.newest().path
    result = CliRunner().invoke(cli.main, ["restore", str(archive)])
    assert result.exit_code == 1
    assert "already has tables" in result.output
    assert "createdb" in result.output


def test_a_backup_that_reads_back_short_of_tables_is_not_kept(cli_url, backup_dir,
                                                              monkeypatch):
    monkeypatch.setattr(backups, "archive_tables", lambda path: 3)
    real = backup.read_manifest
    monkeypatch.setattr(backup, "read_manifest",
                        lambda path: {**real(path), "tables": real(path)["tables"][:2]})
    outcome = run_job("backup", url=cli_url, instance_id="tests")
    assert not outcome.ok
    assert "not kept" in outcome.error
    assert backups.listing() == []
    assert not list(backup_dir.glob("*"))


def _touch(folder, when: datetime, suffix: str = "zip"):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{backups.PREFIX}{when.strftime(backups.STAMP)}.{suffix}"
    path.write_bytes(b"x")
    return path


def test_backups_older_than_the_kept_days_are_deleted_and_other_files_are_left(
        backup_dir, monkeypatch):
    monkeypatch.setenv("ISV_BACKUP_KEEP_DAYS", "30")
    clear_caches()
    now = datetime(2026, 12, 2, 2, 15, tzinfo=UTC)
    old = [_touch(backup_dir, now - timedelta(days=d)) for d in (45, 31)]
    young = [_touch(backup_dir, now - timedelta(days=d), "dump") for d in (29, 1, 0)]
    stranger = backup_dir / "notes.txt"
    stranger.write_text("mine")
    assert backups.prune(settings=get_settings(), now=now) == 2
    assert not any(p.exists() for p in old)
    assert all(p.exists() for p in young) and stranger.exists()
    assert [f.path for f in backups.listing()] == young[::-1]


def test_the_newest_backup_stays_however_old_it_is(backup_dir):
    now = datetime(2026, 12, 2, tzinfo=UTC)
    ancient = [_touch(backup_dir, now - timedelta(days=d)) for d in (400, 300)]
    assert backups.prune(now=now) == 1
    assert [f.path for f in backups.listing()] == [ancient[1]]


def test_the_deployment_gauges_report_the_newest_backups_age(cli_url, backup_dir):
    assert run_job("backup", url=cli_url, instance_id="tests").ok
    families = {f.name: f for f in read_deployment()}
    [age] = families["isv_backup_age_seconds"].samples
    assert 0 <= age.value < 120
    [kept] = families["isv_backups_kept"].samples
    assert kept.value == 1
    [last] = [s for s in families["isv_job_last_success_timestamp_seconds"].samples
              if s.labels == {"job": "backup"}]
    assert abs(last.value - datetime.now(UTC).timestamp()) < 120
