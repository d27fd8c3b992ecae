"""deploy/deploy.sh's logic, with docker, git, curl and sleep stubbed on PATH (no Docker here).

Each stub appends its command line to a log and fails when the test says so; the tests read
which commands ran, in which order, and the exit code the README documents.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "deploy.sh"
BACKUP = "isv-backup-20261202T160000Z.dump"

STUB = f"""#!/bin/sh
echo "$(basename "$0") $*" >> "$STUB_LOG"
line="$(basename "$0") $*"
case "$line" in
  "docker compose ps --quiet postgres") [ -n "$DB_RUNNING" ] && echo 0123abcd; exit 0 ;;
  "docker compose run --rm --no-deps -T scheduler python -c"*) echo "{BACKUP}"; exit 0 ;;
  "docker image inspect"*) [ -n "$HAS_IMAGE" ] || exit 1; exit 0 ;;
esac
if [ -n "$FAIL" ]; then
  case "$line" in
    *"$FAIL"*) exit 1 ;;
  esac
fi
if [ "$(basename "$0")" = curl ]; then
  n=$(grep -c '^curl ' "$STUB_LOG")
  # CURL_OK_AFTER: the health check answers from the n-th try on (0: never).
  [ "${{CURL_OK_AFTER:-1}}" -ne 0 ] && [ "$n" -ge "${{CURL_OK_AFTER:-1}}" ] && exit 0
  exit 22
fi
exit 0
"""


@pytest.fixture
def project(tmp_path):
    """A copy of the project's compose file and script, an .env, and the stubs on PATH."""
    (tmp_path / "deploy").mkdir()
    shutil.copy(SCRIPT, tmp_path / "deploy" / "deploy.sh")
    shutil.copy(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    (tmp_path / ".env").write_text("POSTGRES_PASSWORD=x\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("docker", "git", "curl", "sleep"):
        stub = bin_dir / name
        stub.write_text(STUB)
        stub.chmod(0o755)
    return tmp_path


def deploy(project: Path, **env: str) -> tuple[int, list[str], str]:
    log = project / "calls.log"
    log.write_text("")
    run_env = {"PATH": f"{project / 'bin'}:/usr/bin:/bin", "STUB_LOG": str(log),
               "DB_RUNNING": "1", "HAS_IMAGE": "1", "ISV_HEALTH_TIMEOUT": "15", **env}
    done = subprocess.run(["bash", str(project / "deploy" / "deploy.sh")], env=run_env,
                          capture_output=True, text=True, timeout=60)
    calls = [c for c in log.read_text().splitlines() if not c.startswith("sleep")]
    return done.returncode, calls, done.stdout + done.stderr


def index(calls: list[str], start: str) -> int:
    return next(i for i, c in enumerate(calls) if c.startswith(start))


def test_a_healthy_deploy_backs_up_first_then_builds_migrates_starts_and_exits_0(project):
    code, calls, out = deploy(project)
    assert code == 0, out
    order = [index(calls, c) for c in (
        "docker compose run --rm --no-deps -T scheduler python -m scheduler --once backup",
        "docker tag isv-pipeline-tracker:latest isv-pipeline-tracker:previous",
        "git pull --ff-only",
        "docker compose build --pull",
        "docker compose run --rm -T migrate",
        "docker compose up -d --no-build --remove-orphans --scale app=2",
        "curl ")]
    assert order == sorted(order)
    assert not any("restore" in c for c in calls)
    assert f"backup: {BACKUP}" in out


def test_an_unhealthy_new_version_is_rolled_back_to_the_previous_image_and_backup(project):
    code, calls, out = deploy(project, CURL_OK_AFTER="5")
    assert code == 5, out
    put_back = index(calls, "docker tag isv-pipeline-tracker:previous isv-pipeline-tracker:latest")
    restore = index(calls, f"docker compose run --rm --no-deps -T migrate isv restore --force "
                           f"/backups/{BACKUP}")
    assert put_back < restore < len(calls) - 1
    assert calls[restore + 1].startswith("docker compose up -d --no-build")
    assert "rolled back" in out and "it is healthy" in out


def test_a_failed_migration_rolls_back_with_exit_4(project):
    code, calls, out = deploy(project, FAIL="docker compose run --rm -T migrate")
    assert code == 4, out
    assert any(c.endswith(f"isv restore --force /backups/{BACKUP}") for c in calls)


def test_a_failed_backup_stops_before_anything_changes_with_exit_2(project):
    code, calls, out = deploy(project, FAIL="--once backup")
    assert code == 2, out
    assert not any(c.startswith(("git", "docker compose build", "docker tag")) for c in calls)


def test_a_failed_build_changes_nothing_with_exit_3(project):
    code, calls, out = deploy(project, FAIL="docker compose build")
    assert code == 3, out
    assert not any("migrate" in c or c.startswith("docker compose up") for c in calls)


def test_a_rollback_that_stays_unhealthy_exits_6(project):
    code, _calls, out = deploy(project, CURL_OK_AFTER="0")
    assert code == 6, out
    assert "previous version is not healthy either" in out


def test_a_first_deploy_has_no_database_to_back_up_and_nothing_to_restore(project):
    code, calls, out = deploy(project, DB_RUNNING="", HAS_IMAGE="", CURL_OK_AFTER="0")
    assert code == 6, out
    assert not any("--once backup" in c or "restore" in c or "docker tag" in c for c in calls)
    assert "first deploy" in out


def test_without_an_env_file_it_refuses_with_exit_1(project):
    os.remove(project / ".env")
    code, calls, out = deploy(project)
    assert code == 1
    assert "no .env" in out and calls == []
