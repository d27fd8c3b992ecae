"""The `isv` command: every command succeeds with exit 0, or fails with one line and no change."""

from __future__ import annotations

import socket

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from isv import cli
from isv.db import session_scope
from isv.demo import DEMO_LOGINS
from isv.devserver import free_port
from isv.models import AuditEntry, Opportunity, Partner, User
from isv.services import sessions


def isv(*args: str, input: str | None = None):
    return CliRunner().invoke(cli.main, list(args), input=input)


def assert_refused(result, *words: str) -> None:
    """Exit 1 with exactly one `Error: …` line on stderr that mentions every word."""
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    for word in words:
        assert word in lines[0]


def count(model) -> int:
    with session_scope() as s:
        return s.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("command", [
    [], ["migrate"], ["demo"], ["run"], ["user"], ["user", "add"], ["user", "list"],
    ["user", "deactivate"], ["user", "set-password"],
])
def test_every_command_has_help(command):
    result = isv(*command, "--help")
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout


def test_migrate_builds_the_schema_of_an_empty_database(empty_url):
    result = isv("migrate")
    assert result.exit_code == 0, result.output
    assert count(User) == 0


def test_user_add_with_an_unknown_role_is_refused_and_adds_nobody(fresh_url):
    result = isv("user", "add", "--email", "boss@example.com", "--role", "boss",
                 "--first", "Big", "--last", "Boss")
    assert_refused(result, "role:", "boss")
    assert count(User) == 0


def test_missing_and_malformed_options_are_one_line_errors(fresh_url):
    assert_refused(isv("user", "add", "--email", "a@example.com", "--role", "vp",
                       "--first", "A"), "last:", "required")
    assert_refused(isv("demo", "--opportunities", "lots"), "opportunities:")
    assert_refused(isv("user", "add", "--mail", "a@example.com"), "--mail")
    assert count(User) == 0


def test_users_round_trip_add_list_set_password_deactivate(fresh_url):
    added = isv("user", "add", "--email", "Nia.Reyes@Example.com", "--role", "sales_manager",
                "--first", "Nia", "--last", "Reyes", "--password-stdin",
                input="first-password\n")
    assert added.exit_code == 0, added.output

    listed = isv("user", "list")
    assert listed.exit_code == 0
    assert "nia.reyes@example.com" in listed.stdout and "sales_manager" in listed.stdout

    changed = isv("user", "set-password", "nia.reyes@example.com", "--password-stdin",
                  input="second-password\n")
    assert changed.exit_code == 0, changed.output
    with session_scope() as s:
        assert sessions.authenticate(session=s, email="nia.reyes@example.com",
                                 password="first-password") is None
        assert sessions.authenticate(session=s, email="nia.reyes@example.com",
                                 password="second-password") is not None
        s.commit()

    gone = isv("user", "deactivate", "nia.reyes@example.com")
    assert gone.exit_code == 0, gone.output
    with session_scope() as s:
        assert sessions.authenticate(session=s, email="nia.reyes@example.com",
                                 password="second-password") is None
        s.commit()
    assert "inactive" in isv("user", "list").stdout
    with session_scope() as s:
        actions = set(s.scalars(select(AuditEntry.action).where(AuditEntry.actor_email == "cli")))
    assert {"create", "set_password", "deactivate"} <= actions


def test_set_password_prompts_twice_without_stdin_flag(fresh_url):
    assert isv("user", "add", "--email", "sam@example.com", "--role", "admin",
               "--first", "Sam", "--last", "Lee").exit_code == 0
    result = isv("user", "set-password", "sam@example.com", input="prompted-pw\nprompted-pw\n")
    assert result.exit_code == 0, result.output
    assert "prompted-pw" not in result.stdout
    with session_scope() as s:
        assert sessions.authenticate(session=s, email="sam@example.com",
                                 password="prompted-pw") is not None
        s.commit()


def test_user_added_without_password_cannot_sign_in(fresh_url):
    assert isv("user", "add", "--email", "new@example.com", "--role", "vp",
               "--first", "New", "--last", "Person").exit_code == 0
    with session_scope() as s:
        assert s.scalar(select(User.password_hash).where(User.email == "new@example.com")) is None
        assert sessions.authenticate(session=s, email="new@example.com", password="") is None
        s.commit()


def test_a_short_password_is_refused_and_the_old_one_still_works(fresh_url):
    isv("user", "add", "--email", "kim@example.com", "--role", "admin", "--first", "Kim",
        "--last", "Ho", "--password-stdin", input="good-password\n")
    result = isv("user", "set-password", "kim@example.com", "--password-stdin", input="short\n")
    assert_refused(result, "password:", "8")
    with session_scope() as s:
        assert sessions.authenticate(session=s, email="kim@example.com",
                                 password="good-password") is not None
        s.commit()


def test_an_unknown_email_is_refused_naming_the_email(fresh_url):
    assert_refused(isv("user", "deactivate", "nobody@example.com"), "email:", "nobody@example.com")


def test_demo_loads_once_and_a_second_run_is_refused_and_adds_nothing(fresh_url):
    first = isv("demo", "--opportunities", "120", "--seed", "3")
    assert first.exit_code == 0, first.output
    assert DEMO_LOGINS[0][0] in first.stdout
    before = (count(User), count(Partner), count(Opportunity), count(AuditEntry))
    assert before[2] == 120

    second = isv("demo", "--opportunities", "120", "--seed", "4")

    assert_refused(second, "database:", "already has data")
    assert (count(User), count(Partner), count(Opportunity), count(AuditEntry)) == before


def test_demo_if_empty_does_nothing_on_a_database_with_data(fresh_url):
    isv("user", "add", "--email", "only@example.com", "--role", "admin", "--first", "Only",
        "--last", "One")
    result = isv("demo", "--if-empty", "--opportunities", "120")
    assert result.exit_code == 0, result.output
    assert count(User) == 1 and count(Opportunity) == 0


def test_demo_on_an_unmigrated_database_says_to_migrate(empty_url):
    assert_refused(isv("demo", "--opportunities", "120"), "database:", "isv migrate")


def test_run_migrates_loads_demo_data_and_serves_on_the_port(empty_url, monkeypatch, tmp_path):
    served = []
    app = tmp_path / "app.py"
    app.write_text("")
    monkeypatch.setattr(cli, "APP", app)
    monkeypatch.setattr(cli, "_serve",
                        lambda host, port, _api: served.append((host, port)) or 0)

    result = isv("run", "--port", "8765")

    assert result.exit_code == 0, result.output
    assert served == [("127.0.0.1", 8765)]  # this machine only, unless told otherwise
    assert "http://localhost:8765" in result.stdout
    for email, password, _, _ in DEMO_LOGINS:
        assert email in result.stdout and password in result.stdout
    assert count(Opportunity) > 0


def test_run_without_demo_leaves_an_empty_database_empty(empty_url, monkeypatch, tmp_path):
    app = tmp_path / "app.py"
    app.write_text("")
    monkeypatch.setattr(cli, "APP", app)
    monkeypatch.setattr(cli, "_serve", lambda host, port, _api: 0)

    # Free ports: an app a developer left running on the default ones is not this test's.
    result = isv("run", "--no-demo", "--port", str(free_port()),
                 "--api-port", str(free_port()))

    assert result.exit_code == 0, result.output
    assert count(User) == 0
    assert "Demo logins" not in result.stdout


def test_run_listens_where_told(empty_url, monkeypatch, tmp_path):
    served = []
    app = tmp_path / "app.py"
    app.write_text("")
    monkeypatch.setattr(cli, "APP", app)
    monkeypatch.setattr(cli, "_serve",
                        lambda host, port, _api: served.append((host, port)) or 0)

    result = isv("run", "--no-demo", "--host", "0.0.0.0", "--port", "8766")

    assert result.exit_code == 0, result.output
    assert served == [("0.0.0.0", 8766)]


def test_run_on_a_busy_port_says_how_out_in_one_line_and_starts_nothing(
        empty_url, monkeypatch, tmp_path):
    app = tmp_path / "app.py"
    app.write_text("")
    monkeypatch.setattr(cli, "APP", app)
    monkeypatch.setattr(cli, "_serve",
                        lambda host, port, _api: pytest.fail("served on a busy port"))
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        busy = other.getsockname()[1]

        result = isv("run", "--port", str(busy))

    assert_refused(result, f"port: {busy} is in use", "stop the other app", "make run PORT=")
    suggested = int(result.stderr.split("PORT=")[1].split("`")[0])
    assert suggested != busy
    assert count_tables(empty_url) == 0  # refused before migrating or loading anything


def count_tables(url: str) -> int:
    from sqlalchemy import create_engine, inspect

    engine = create_engine(url)
    try:
        return len(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_set_password_ends_the_users_sessions_so_an_old_cookie_signs_nobody_in(fresh_url):
    isv("user", "add", "--email", "ada@example.com", "--role", "sales_manager", "--first", "Ada",
        "--last", "Lin", "--password-stdin", input="first-password\n")
    with session_scope() as s:
        sessions.start_session(session=s, user=sessions.find_user_by_email(s, "ada@example.com"),
                           token="ada|cookie")
        s.commit()
    result = isv("user", "set-password", "ada@example.com", "--password-stdin",
                 input="second-password\n")
    assert result.exit_code == 0, result.output
    with session_scope() as s:
        check = sessions.check_session(session=s, token="ada|cookie")
        assert check.viewer is None and check.reason == "password_changed"
