"""The `isv` command: migrate, demo data, users, and running the app (DESIGN.md, a public contract).

Every command runs in one `session_scope()`, acts as the `cli` system viewer and calls the same
services as the pages. Bad input ends with exit status 1 and one line on stderr,
`Error: <field>: <reason>`, and the transaction rolled back.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

import click
from sqlalchemy import inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from isv import demo, migrate
from isv.auth import Viewer
from isv.config import PROJECT_ROOT, get_settings
from isv.db import session_scope
from isv.errors import IsvError, NotFound, ValidationError
from isv.models import User
from isv.services import users

CLI = Viewer.system("cli")
APP = PROJECT_ROOT / "app.py"


class _Group(click.Group):
    """A click group that reports every failure as one `Error: field: reason` line, exit 1."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any):
        try:
            result = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            # `isv` or `isv user` alone: show the help, as --help would.
            click.echo(exc.ctx.get_help())
            sys.exit(0)
        except click.ClickException as exc:
            _fail(_click_message(exc))
        except click.Abort:
            _fail("aborted")
        except ValidationError as exc:
            _fail(f"{exc.field}: {exc.reason}")
        except IsvError as exc:
            _fail(str(exc))
        except OperationalError as exc:
            reason = str(exc.orig or exc).strip().splitlines()[0] if str(exc) else "unavailable"
            _fail(f"database: {reason}")
        # Without standalone mode click returns the exit code of --help and ctx.exit().
        sys.exit(result if isinstance(result, int) else 0)


def _fail(message: str) -> None:
    click.echo(f"Error: {' '.join(message.split())}", err=True)
    sys.exit(1)


def _click_message(exc: click.ClickException) -> str:
    param = getattr(exc, "param", None)
    # Name the field as typed on the command line: `--last` is "last", not "last_name".
    field = param.opts[0].lstrip("-") if isinstance(param, click.Option) else getattr(
        param, "name", None)
    if isinstance(exc, click.MissingParameter) and field:
        return f"{field}: is required"
    if isinstance(exc, click.BadParameter) and field:
        return f"{field}: {exc.message}"
    if isinstance(exc, click.NoSuchOption):
        return f"{exc.option_name}: no such option"
    return exc.format_message()


def _require_schema(session: Session) -> None:
    if not inspect(session.connection()).has_table("users"):
        raise ValidationError("database", "has no tables yet; run `isv migrate` first")


def _user(session: Session, email: str) -> User:
    try:
        return users.get_by_email(session=session, viewer=CLI, email=email)
    except NotFound:
        raise ValidationError("email", f"no user with email {email!r}") from None


def _password_from_stdin() -> str:
    line = click.get_text_stream("stdin").readline()
    if not line:
        raise ValidationError("password", "nothing on stdin")
    return line.rstrip("\r\n")


def _where() -> str:
    return make_url(get_settings().database_url).render_as_string(hide_password=True)


def _logins_table(emails: set[str] | None = None) -> str:
    rows = [(e, p, r) for e, p, r, _ in demo.DEMO_LOGINS if emails is None or e in emails]
    if not rows:
        return ""
    header = ("email", "password", "role")
    widths = [max(len(str(row[k])) for row in [header, *rows]) for k in range(3)]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in [header, *rows]]
    return "\n".join(lines)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """ISV Pipeline Tracker: run the partner program from the command line.

    ISV_DATABASE_URL picks the database (default: the embedded SQLite file under var/).
    """


@main.command("migrate")
def migrate_command() -> None:
    """Bring the database schema up to date (alembic upgrade head)."""
    migrate.upgrade(get_settings().database_url)
    click.echo(f"Database is up to date: {_where()}")


@main.command("demo")
@click.option("--opportunities", type=click.IntRange(min=0, max=2_000_000), default=800,
              show_default=True, help="How many deals to make.")
@click.option("--seed", type=int, default=42, show_default=True,
              help="Same seed, same day: same data.")
@click.option("--if-empty", is_flag=True,
              help="Do nothing (and succeed) when the database already has data.")
def demo_command(opportunities: int, seed: int, if_empty: bool) -> None:
    """Load deterministic demo data into an empty database."""
    started = time.perf_counter()
    with session_scope() as session:
        _require_schema(session)
        if if_empty and not demo.database_is_empty(session):
            click.echo("The database already has data; demo data not loaded.")
            return
        summary = demo.load_demo(session=session, opportunities=opportunities, seed=seed,
                                 viewer=CLI)
    counts = ", ".join(f"{n} {table}" for table, n in summary.counts.items())
    click.echo(f"Loaded demo data (seed {seed}, as of {summary.today}) in "
               f"{time.perf_counter() - started:.1f} s: {counts}.")
    click.echo("\nDemo logins:\n" + _logins_table())


@main.group("user")
def user_group() -> None:
    """Add, list and deactivate users; set passwords."""


@user_group.command("add")
@click.option("--email", required=True, help="Sign-in email, unique.")
@click.option("--role", required=True, help="vp, sales_manager, partnership_manager or admin.")
@click.option("--first", "first_name", required=True, help="First name.")
@click.option("--last", "last_name", required=True, help="Last name.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from one line of stdin (otherwise none is set).")
def user_add(email: str, role: str, first_name: str, last_name: str,
             password_stdin: bool) -> None:
    """Add a user; without a password they cannot sign in until one is set."""
    password = _password_from_stdin() if password_stdin else None
    with session_scope() as session:
        _require_schema(session)
        user = users.create_user(session=session, viewer=CLI, email=email,
                                 first_name=first_name, last_name=last_name, role=role,
                                 password=password)
        email, role = user.email, user.role
    click.echo(f"Added {email} ({role}).")
    if password is None:
        click.echo(f"No password set: run `isv user set-password {email}`.")


@user_group.command("list")
def user_list() -> None:
    """List every user with role and status."""
    with session_scope() as session:
        _require_schema(session)
        rows = [(u.email, u.full_name, u.role, "active" if u.is_active else "inactive",
                 "yes" if u.password_hash else "no",
                 u.last_login_at.strftime("%Y-%m-%d %H:%M") if u.last_login_at else "-")
                for u in users.list_users(session=session, viewer=CLI)]
    header = ("email", "name", "role", "status", "password", "last login")
    if not rows:
        click.echo("No users yet: `isv user add` or `isv demo`.")
        return
    widths = [max(len(row[k]) for row in [header, *rows]) for k in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


@user_group.command("deactivate")
@click.argument("email")
def user_deactivate(email: str) -> None:
    """Deactivate a user: they can no longer sign in and their sessions end."""
    with session_scope() as session:
        _require_schema(session)
        user = _user(session, email)
        was_active = user.is_active
        users.set_active(session=session, viewer=CLI, user_id=user.id, active=False)
        email = user.email
    click.echo(f"Deactivated {email}." if was_active else f"{email} was already inactive.")


@user_group.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from one line of stdin instead of prompting.")
def user_set_password(email: str, password_stdin: bool) -> None:
    """Set a user's password (prompted twice, hidden) and lift any lockout."""
    password = _password_from_stdin() if password_stdin else None
    with session_scope() as session:
        _require_schema(session)
        user = _user(session, email)
        if password is None:
            password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
        users.set_password(session=session, viewer=CLI, user_id=user.id, password=password)
        email = user.email
    click.echo(f"Password set for {email}.")


@main.command("run")
@click.option("--port", type=click.IntRange(1, 65535), default=8501, show_default=True,
              help="Port for the web app.")
@click.option("--no-demo", is_flag=True, help="Do not load demo data into an empty database.")
def run_command(port: int, no_demo: bool) -> None:
    """Migrate, load demo data into an empty database, then serve the app."""
    if not APP.is_file():
        raise ValidationError("app", f"{APP} not found")
    migrate.upgrade(get_settings().database_url)
    with session_scope() as session:
        if not no_demo and demo.database_is_empty(session):
            summary = demo.load_demo(session=session, viewer=CLI)
            click.echo(f"Loaded demo data: {summary.counts['opportunities']} opportunities, "
                       f"{summary.counts['isv_partners']} partners.")
        demo_emails = {e for e, _, _, _ in demo.DEMO_LOGINS}
        present = set(session.scalars(
            select(User.email).where(User.email.in_(demo_emails), User.is_active.is_(True))))
    click.echo(f"ISV Pipeline Tracker on http://localhost:{port}  (database: {_where()})")
    table = _logins_table(present)
    if table:
        click.echo("\nDemo logins:\n" + table + "\n")
    sys.exit(_serve(port))


def _serve(port: int) -> int:
    """Run `streamlit run app.py` from the project root and pass our stop signals on to it."""
    command = [sys.executable, "-m", "streamlit", "run", str(APP),
               "--server.port", str(port), "--server.headless", "true"]
    # Its own process group: a Ctrl-C in the terminal reaches only us, and we pass it on
    # once, instead of Streamlit seeing it twice.
    child = subprocess.Popen(command, cwd=PROJECT_ROOT, process_group=0)

    def forward(signum: int, _frame: Any) -> None:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM if signum == signal.SIGHUP else signum)

    handled = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    previous = {sig: signal.signal(sig, forward) for sig in handled}
    try:
        code = child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    main()
