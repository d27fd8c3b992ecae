"""Logs: one JSON object a line when asked, with context, and never a secret or a password."""

from __future__ import annotations

import io
import json
import logging
from dataclasses import replace

import pytest
from click.testing import CliRunner
from sqlalchemy import delete

from isv import cli, logs
from isv.config import Settings
from isv.db import session_scope
from isv.models import JobRun
from isv.services import sessions
from scheduler import jobs as scheduler_jobs
from tests.factories import make_user

COOKIE_KEY = "Cookie-Key-For-Log-Tests-0123456789-abcdef"
DB_PASSWORD = "Db-Pa55word-That-Must-Not-Leak"
REDIS_PASSWORD = "Redis-Pa55word-Not-In-Logs"
USER_PASSWORD = "Right-Pa55word-2026"
TYPED_PASSWORD = "Wrong-Pa55word-Typed-2026"
SECRETS = (COOKIE_KEY, DB_PASSWORD, REDIS_PASSWORD, USER_PASSWORD, TYPED_PASSWORD)

PRODUCTION = Settings(
    env="production", cookie_key=COOKIE_KEY, log_format="json", log_level="INFO",
    database_url=f"postgresql+psycopg://isv:{DB_PASSWORD}@postgres:5432/isv",
    redis_url=f"redis://:{REDIS_PASSWORD}@redis:6379/0")


@pytest.fixture
def captured():
    """Configure logging as a production process would, writing into a buffer."""
    buffer = io.StringIO()
    logs.configure(PRODUCTION, stream=buffer)
    yield buffer
    logs.configure(force=True)


def lines(buffer: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_each_line_is_one_json_object_with_time_level_logger_message_and_context(captured):
    logging.getLogger("isv.test").warning("deal %s refused", "Acme", extra={"field": "stage"})

    [entry] = lines(captured)
    assert entry["level"] == "WARNING" and entry["logger"] == "isv.test"
    assert entry["message"] == "deal Acme refused" and entry["field"] == "stage"
    assert entry["time"].endswith("+00:00")


def test_below_the_configured_level_nothing_is_written():
    buffer = io.StringIO()
    logs.configure(replace(PRODUCTION, log_level="WARNING"), stream=buffer)
    try:
        logging.getLogger("isv.test").info("routine")
        logging.getLogger("isv.test").error("broken")
    finally:
        logs.configure(force=True)
    assert [e["message"] for e in lines(buffer)] == ["broken"]


def test_an_unknown_level_is_refused_with_the_names_that_work():
    with pytest.raises(RuntimeError, match="LOG_LEVEL must be DEBUG, INFO"):
        logs.configure(replace(PRODUCTION, log_level="chatty"), stream=io.StringIO())


def test_text_lines_name_the_context_and_mask_a_password_in_a_url():
    buffer = io.StringIO()
    logs.configure(replace(PRODUCTION, log_format="text"), stream=buffer)
    try:
        logging.getLogger("isv.test").error(
            "cannot reach postgresql://someone:hunter22@elsewhere/db", extra={"job": "alerts"})
    finally:
        logs.configure(force=True)
    line = buffer.getvalue()
    assert "ERROR isv.test: cannot reach postgresql://someone:***@elsewhere/db [job=alerts]" \
        in line
    assert "hunter22" not in line


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


@pytest.mark.postgres
def test_a_failed_login_is_logged_with_its_reason_and_without_password_or_typed_email(
        captured, session):
    user = make_user(session, password=USER_PASSWORD)
    assert sessions.authenticate(session=session, email=user.email, password=TYPED_PASSWORD) is None
    assert sessions.authenticate(session=session, email="nobody@example.com",
                             password=USER_PASSWORD) is None

    refusals = [e for e in lines(captured) if e["logger"] == "isv.auth"]
    assert [e["reason"] for e in refusals] == ["wrong_password", "unknown_user"]
    assert refusals[0]["user_id"] == str(user.id)
    assert_no_secret(captured.getvalue())
    assert "nobody@example.com" not in captured.getvalue()  # it may be a mistyped password


@pytest.mark.postgres
def test_a_failing_job_is_logged_with_its_context_and_its_secrets_masked(
        captured, db_url, monkeypatch):
    def leaky_job(_session):
        # What a driver may say: its connection string, key and all, in the error text.
        raise RuntimeError(f"cannot connect to {PRODUCTION.database_url} "
                           f"(password={DB_PASSWORD}); cookie {COOKIE_KEY}; "
                           f"cache {PRODUCTION.redis_url}")

    monkeypatch.setitem(scheduler_jobs.JOBS, "alerts", leaky_job)
    instance = "logs-test:1:leaky"
    try:
        outcome = scheduler_jobs.run_job("alerts", url=db_url, instance_id=instance)
    finally:
        with session_scope(db_url) as cleanup:
            cleanup.execute(delete(JobRun).where(JobRun.instance_id == instance))
            cleanup.commit()

    assert not outcome.ok
    [failure] = [e for e in lines(captured) if e["logger"] == "scheduler.jobs"]
    assert (failure["level"], failure["job"], failure["instance"]) == ("ERROR", "alerts",
                                                                       instance)
    assert "cannot connect to postgresql+psycopg://isv:***@postgres" in failure["exception"]
    assert_no_secret(captured.getvalue())


@pytest.mark.postgres
def test_a_refused_command_keeps_one_error_line_and_logs_its_context_in_json(
        empty_url, monkeypatch):
    monkeypatch.setenv("LOG_FORMAT", "json")
    from tests.integration.conftest import clear_caches
    clear_caches()
    try:
        result = CliRunner().invoke(cli.main, ["user", "deactivate", "ghost@example.com"])
    finally:
        monkeypatch.delenv("LOG_FORMAT")
        clear_caches()
        logs.configure(force=True)

    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert errors == ["Error: database: has no tables yet; run `isv migrate` first"]
    [entry] = [json.loads(line) for line in result.stderr.splitlines()
               if line.startswith("{")]
    assert (entry["level"], entry["command"], entry["field"]) == (
        "WARNING", "isv user deactivate", "database")
