"""The `isv` command: migrate, demo data, users, and running the app (DESIGN.md, a public contract).

Every command runs in one `session_scope()`, acts as the `cli` system viewer and calls the same
services as the pages. Bad input ends with exit status 1 and one line on stderr,
`Error: <field>: <reason>`, and the transaction rolled back.
"""

from __future__ import annotations

import errno
import logging
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click
from sqlalchemy import func, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from isv import demo, display, export, logs, migrate
from isv.analytics import kpis as kpi
from isv.analytics.periods import parse_period
from isv.auth import Viewer
from isv.config import PROJECT_ROOT, get_settings
from isv.db import session_scope
from isv.errors import IsvError, NotFound, ValidationError
from isv.models import DOMAINS, Partner, User
from isv.services import backup, exporter, gdpr, importer, users, validate

CLI = Viewer.system("cli")
log = logging.getLogger("isv.cli")
APP = PROJECT_ROOT / "serve.py"   # app.py and the cookie routes (isv/web.py)


class _Group(click.Group):
    """A click group that reports every failure as one `Error: field: reason` line, exit 1."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any):
        words = list(sys.argv[1:] if args is None else args)
        try:
            logs.configure()
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
            _log_failure(self, words, exc)
            _fail(f"{exc.field}: {exc.reason}")
        except IsvError as exc:
            _log_failure(self, words, exc)
            _fail(str(exc))
        except OperationalError as exc:
            _log_failure(self, words, exc)
            reason = str(exc.orig or exc).strip().splitlines()[0] if str(exc) else "unavailable"
            _fail(f"database: {reason}")
        # Without standalone mode click returns the exit code of --help and ctx.exit().
        sys.exit(result if isinstance(result, int) else 0)


def _log_failure(group: click.Group, words: list[str], exc: Exception) -> None:
    """The structured record of a refused command: which command, which error, which field.

    The `Error:` line on stderr is the person's report; in text format this record is only
    written at DEBUG so that line stays the only one, with LOG_FORMAT=json it is a WARNING
    for the log collector.
    """
    names: list[str] = []
    command: click.Command = group
    for word in words:  # command names only: option values may be anything typed
        if not isinstance(command, click.Group) or word not in command.commands:
            break
        names.append(word)
        command = command.commands[word]
    level = logging.WARNING if get_settings().log_format.lower() == "json" else logging.DEBUG
    context = {"command": " ".join(["isv", *names]), "error": type(exc).__name__}
    if isinstance(exc, ValidationError):
        context["field"] = exc.field
    log.log(level, "command refused: %s", " ".join(str(exc).split())[:500], extra=context)


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
    """Set a user's password (prompted twice, hidden), lift any lockout, end their sessions."""
    password = _password_from_stdin() if password_stdin else None
    with session_scope() as session:
        _require_schema(session)
        user = _user(session, email)
        if password is None:
            password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
        users.set_password(session=session, viewer=CLI, user_id=user.id, password=password)
        email = user.email
    click.echo(f"Password set for {email}.")


@user_group.command("export")
@click.argument("email")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def user_export(email: str, file: Path) -> None:
    """Write everything stored about one user to FILE as JSON (GDPR access request)."""
    with session_scope() as session:
        _require_schema(session)
        user = _user(session, email)
        data = gdpr.export_user(session=session, viewer=CLI, user_id=user.id)
        email = user.email
        # Written inside the transaction: the export is audited only when the file exists.
        file.write_text(gdpr.to_json(data), encoding="utf-8")
    click.echo(f"Wrote the personal data of {email} to {file}.")


@user_group.command("anonymise")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def user_anonymise(email: str, yes: bool) -> None:
    """Replace a user's name and email with a placeholder for good; keep their records."""
    with session_scope() as session:
        _require_schema(session)
        user = _user(session, email)
        if not yes:
            click.confirm(f"Anonymise {user.email} for good? This cannot be undone",
                          abort=True, err=True)
        user = gdpr.anonymise_user(session=session, viewer=CLI, user_id=user.id)
        placeholder = user.email
    click.echo(f"Anonymised {email}: now {placeholder}, inactive, without a password.")


@main.group("report")
def report_group() -> None:
    """Print reports: the KPIs of spec/KPIS.md."""


@report_group.command("kpis")
@click.option("--period", required=True,
              help="A quarter (2026Q3), a year (2026, the fiscal year when configured) or a "
                   "range (2026-02-15..2026-05-31).")
@click.option("--as-of", "as_of", help="The day the report is for (YYYY-MM-DD); default today.")
@click.option("--partner", help="Only this partner's deals (partner name).")
@click.option("--domain", help="Only deals of partners in this domain.")
@click.option("--owner", help="Only deals assigned to this user (email).")
@click.option("--format", "output", type=click.Choice(["json", "table"]), default="table",
              show_default=True, help="json: the machine-readable form of spec/KPIS.md.")
def report_kpis(period: str, as_of: str | None, partner: str | None, domain: str | None,
                owner: str | None, output: str) -> None:
    """Print every KPI for a period, over all deals or a partner, domain or owner."""
    chosen = parse_period(period)
    day = validate.day("as-of", as_of) if as_of else None
    domains = (validate.choice("domain", domain, DOMAINS),) if domain else ()
    with session_scope() as session:
        _require_schema(session)
        partner_ids = ()
        if partner is not None:
            name = validate.text("partner", partner, max_len=255, required=True)
            found = session.scalar(select(Partner.id).where(
                func.lower(Partner.name) == name.lower()))
            if found is None:
                raise ValidationError("partner", f"no partner named {partner!r}")
            partner_ids = (found,)
        owner_ids = ()
        if owner is not None:
            try:
                owner_ids = (users.get_by_email(session=session, viewer=CLI, email=owner).id,)
            except NotFound:
                raise ValidationError("owner", f"no user with email {owner!r}") from None
        result = kpi.compute_kpis(
            session=session, viewer=CLI, period=chosen, as_of=day,
            filters=kpi.Filters(partner_ids=partner_ids, domains=domains, owner_ids=owner_ids))
    if output == "json":
        click.echo(kpi.to_json(result))
        if result.no_structure:
            # stdout stays the exact machine-readable form; the deals are still named.
            click.echo(_unpaid_lines(result), err=True)
        return
    click.echo(_kpi_table(result))
    if result.no_structure:
        click.echo("\n" + _unpaid_lines(result))


def _unpaid_lines(result: kpi.Kpis) -> str:
    lines = [f"{len(result.no_structure)} won deal(s) with no applicable commission structure "
             "(commission 0):"]
    lines += [f"  {d.close_date}  {d.partner_name}  {d.customer_name}  "
              f"{display.money(d.deal_value)}" for d in result.no_structure]
    return "\n".join(lines)


def _kpi_table(result: kpi.Kpis) -> str:
    data = kpi.to_dict(result)
    rows = [("period", f"{result.period.label} ({result.period.start}..{result.period.end})"),
            ("as_of", data["as_of"]), ("scope", result.scope.describe())]
    for key in kpi.KPI_KEYS:
        value = data[key]
        if isinstance(value, dict):
            rows += [(f"{key}[{k}]", "null" if v is None else str(v)) for k, v in value.items()]
        else:
            rows.append((key, "null" if value is None else str(value)))
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name.ljust(width)}  {value}" for name, value in rows)


@main.command("import")
@click.argument("entity", type=click.Choice([*importer.ENTITIES, "all"]), metavar="ENTITY|all")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--dry-run", is_flag=True,
              help="Check the file and report what would be created, updated and left "
                   "unchanged; write nothing.")
def import_command(entity: str, path: Path, dry_run: bool) -> None:
    """Import a CSV (or .xlsx) file of ENTITY, or every <entity>.csv of a folder (all).

    ENTITY is one of users, partners, commissions, opportunities, stage_history, goals,
    activities (spec/IMPORT.md). All or nothing: on any problem every one is printed as
    `row N, column C: reason` and nothing is written.
    """
    try:
        with session_scope() as session:
            _require_schema(session)
            if entity == "all":
                if not path.is_dir():
                    raise ValidationError("path", f"{path} is not a folder; `isv import all` "
                                                  "reads the <entity>.csv files of a folder")
                report = importer.import_all(session=session, viewer=CLI,
                                             files=importer.folder_files(path),
                                             dry_run=dry_run)
            else:
                if path.is_dir():
                    raise ValidationError("path", f"{path} is a folder; give a .csv or .xlsx "
                                                  f"file of {entity}, or use `isv import all`")
                report = importer.import_file(session=session, viewer=CLI, entity=entity,
                                              data=path.read_bytes(), filename=path.name,
                                              dry_run=dry_run)
            if not report.ok:
                raise importer.ImportRejected(report)  # rolls the transaction back
    except importer.ImportRejected as exc:
        for line in exc.report.error_lines():
            click.echo(line, err=True)
        _fail(str(exc))
    if dry_run:
        click.echo("Dry run: nothing was written. The import would do this:")
    for part in report.entities:
        click.echo(part.summary())
        for notice in part.notices:
            click.echo(f"  note: {notice}")


@main.command("export")
@click.argument("entity", type=click.Choice(importer.ENTITIES))
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
def export_command(entity: str, file: Path | None) -> None:
    """Write ENTITY in the import format to FILE, or to stdout without one.

    A FILE ending in .xlsx gets a workbook; anything else gets CSV. The export imports back
    unchanged.
    """
    with session_scope() as session:
        _require_schema(session)
        if file is not None and file.suffix.lower() == ".xlsx":
            data = exporter.export_xlsx(session=session, viewer=CLI, entity=entity)
        else:
            data = exporter.export_csv(session=session, viewer=CLI, entity=entity).encode()
    if file is None:
        click.get_binary_stream("stdout").write(data)
        return
    file.write_bytes(data)
    click.echo(f"Wrote {entity} to {file}.")


@main.command("backup")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def backup_command(file: Path) -> None:
    """Write the whole database to FILE, a bundle that restores into SQLite or PostgreSQL.

    The bundle holds password hashes and personal data: keep it as safe as the database.
    """
    partial = file.with_name(file.name + ".partial")
    try:
        with session_scope() as session:
            _require_schema(session)
            summary = backup.write_backup(session=session, viewer=CLI, out=partial)
        partial.replace(file)
    finally:
        partial.unlink(missing_ok=True)
    click.echo(f"Backed up {summary.rows} rows of {len(summary.counts)} tables (schema "
               f"revision {summary.revision}) from {_where()} to {file}.")


@main.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True,
              help="Replace everything in a database that already has data.")
def restore_command(file: Path, force: bool) -> None:
    """Load a bundle written by `isv backup` into this database, all or nothing.

    The database must be migrated to the bundle's schema revision and empty, unless --force.
    """
    with session_scope() as session:
        _require_schema(session)
        summary = backup.restore_backup(session=session, viewer=CLI, path=file, force=force)
    click.echo(f"Restored {summary.rows} rows of {len(summary.counts)} tables from {file} "
               f"into {_where()}.")


@main.command("run")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 for every interface (inside a container).")
@click.option("--port", type=click.IntRange(1, 65535), default=8501, show_default=True,
              help="Port for the web app.")
@click.option("--no-demo", is_flag=True, help="Do not load demo data into an empty database.")
def run_command(host: str, port: int, no_demo: bool) -> None:
    """Migrate, load demo data into an empty database, then serve the app."""
    if not APP.is_file():
        raise ValidationError("app", f"{APP} not found")
    _check_port(host, port)
    migrate.upgrade(get_settings().database_url)
    with session_scope() as session:
        if not no_demo and demo.database_is_empty(session):
            summary = demo.load_demo(session=session, viewer=CLI)
            click.echo(f"Loaded demo data: {summary.counts['opportunities']} opportunities, "
                       f"{summary.counts['isv_partners']} partners.")
        demo_emails = {e for e, _, _, _ in demo.DEMO_LOGINS}
        present = set(session.scalars(
            select(User.email).where(User.email.in_(demo_emails), User.is_active.is_(True))))
    shown = "localhost" if host in ("127.0.0.1", "localhost", "0.0.0.0", "::") else host
    click.echo(f"ISV Pipeline Tracker on http://{shown}:{port}  (database: {_where()})")
    table = _logins_table(present)
    if table:
        click.echo("\nDemo logins:\n" + table + "\n")
    missing = export.unavailable()
    if missing:
        click.echo(missing)
    sys.exit(_serve(host, port))


def _check_port(host: str, port: int) -> None:
    """Refuse, in one line with the way out, a port another program already listens on.

    Streamlit would otherwise start, log a traceback and leave the scheduler running.
    SO_REUSEADDR as Streamlit's own server binds, so a port left in TIME_WAIT by an app
    that just stopped counts as free, as it is for Streamlit.
    """
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except socket.gaierror as exc:
        raise ValidationError("host", f"{host} is not an address of this machine ({exc.strerror})"
                              ) from None
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except PermissionError:
            raise ValidationError("port", f"{port} needs administrator rights; run "
                                  f"`make run PORT={_free_port(host, 8501)}`") from None
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ValidationError("port", f"{port} is in use: stop the other app or run "
                                      f"`make run PORT={_free_port(host, port + 1)}`") from None
            raise ValidationError("host", f"cannot listen on {host}: {exc.strerror}") from None


def _free_port(host: str, start: int) -> int:
    """The first port from `start` that nothing listens on (a suggestion, not a promise)."""
    for candidate in range(start, min(start + 100, 65536)):
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host, candidate))
            except OSError:
                continue
            return candidate
    return start


def streamlit_command(host: str, port: int) -> list[str]:
    """How `isv run` starts Streamlit; the Dockerfile's CMD uses the same flags.

    Outside development an uncaught error shows only a generic message in the browser, no
    traceback, type or text (server paths, SQL); "false" would still show the traceback.
    Our own messages (st.error) are unaffected.
    """
    details = "full" if get_settings().env == "development" else "none"
    return [sys.executable, "-m", "streamlit", "run", str(APP),
            "--server.address", host, "--server.port", str(port),
            "--server.headless", "true", "--client.showErrorDetails", details]


def _serve(host: str, port: int) -> int:
    """Run `streamlit run serve.py` and the scheduler beside it; pass our stop signals on."""
    command = streamlit_command(host, port)
    # Its own process group: a Ctrl-C in the terminal reaches only us, and we pass it on
    # once, instead of Streamlit seeing it twice.
    child = subprocess.Popen(command, cwd=PROJECT_ROOT, process_group=0)
    # The scheduler sidecar (alert rules, weekly rollover) lives and dies with the app.
    scheduler = subprocess.Popen([sys.executable, "-m", "scheduler"], cwd=PROJECT_ROOT,
                                 process_group=0)

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
        _stop_scheduler(scheduler)
    return 128 - code if code < 0 else code


SCHEDULER_STOP_SECONDS = 30


def _stop_scheduler(scheduler: subprocess.Popen) -> None:
    """SIGTERM lets a running job finish (or roll back); a scheduler that hangs is killed."""
    if scheduler.poll() is not None:
        return
    scheduler.send_signal(signal.SIGTERM)
    try:
        scheduler.wait(timeout=SCHEDULER_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        scheduler.kill()
        scheduler.wait()


if __name__ == "__main__":
    main()
