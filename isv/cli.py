"""The `isv` command: migrate, demo data, users, and running the app (DESIGN.md, a public contract).

Every command runs in one `session_scope()`, acts as the `cli` system viewer and calls the same
services as the pages. Bad input ends with exit status 1 and one line on stderr,
`Error: <field>: <reason>`, and the transaction rolled back.

One file, over 500 lines, because the command is a public contract read top to bottom: each
subcommand is a thin call into a service, with its options and help beside it.
"""

from __future__ import annotations

import errno
import json
import logging
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from isv import logs
from isv.api import workers as api_workers
from isv.auth import Viewer
from isv.config import PROJECT_ROOT, get_settings
from isv.errors import IsvError, NotFound, ValidationError
from isv.vocabulary import CRM_TOOLS

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from isv.analytics import kpis as kpi
    from isv.models import User
    from isv.services import health

CLI = Viewer.system("cli")
log = logging.getLogger("isv.cli")
APP = PROJECT_ROOT / "serve.py"   # app.py and the cookie routes (isv/web.py)


class _Entities(click.Choice):
    """The import/export entities, read from the importer only when a command needs them:
    importing it (pandas, openpyxl, every service) would make `isv --help` take seconds."""

    def __init__(self, *extra: str) -> None:
        self._extra = extra
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        from isv.services import importing

        return (*importing.ENTITIES, *self._extra)

    @choices.setter
    def choices(self, _value: Any) -> None:
        pass


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
        except Exception as exc:
            if not _database_unavailable(exc):
                raise
            _log_failure(self, words, exc)
            reason = str(exc.orig or exc).strip().splitlines()[0] if str(exc) else "unavailable"
            _fail(f"database: {reason}")
        # Without standalone mode click returns the exit code of --help and ctx.exit().
        sys.exit(result if isinstance(result, int) else 0)


def _database_unavailable(exc: Exception) -> bool:
    # SQLAlchemy is imported by then (the command used the database); not before, so that
    # `isv --help` stays quick.
    errors = sys.modules.get("sqlalchemy.exc")
    return errors is not None and isinstance(exc, errors.OperationalError)


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
    from sqlalchemy import inspect

    if not inspect(session.connection()).has_table("users"):
        raise ValidationError("database", "has no tables yet; run `isv migrate` first")


def _user(session: Session, email: str) -> User:
    from isv.services import users

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
    from sqlalchemy.engine import make_url

    return make_url(get_settings().database_url).render_as_string(hide_password=True)


def _logins_table(emails: set[str] | None = None) -> str:
    from isv import demo

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
    from isv import migrate

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
    from isv import demo
    from isv.db import session_scope

    started = time.perf_counter()
    with session_scope() as session:
        _require_schema(session)
        if if_empty and not demo.database_is_empty(session):
            click.echo("The database already has data; demo data not loaded.")
            return
        summary = demo.load_demo(session=session, opportunities=opportunities, seed=seed,
                                 viewer=CLI)
        session.commit()
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
    from isv.db import session_scope
    from isv.services import users

    password = _password_from_stdin() if password_stdin else None
    with session_scope() as session:
        _require_schema(session)
        user = users.create_user(session=session, viewer=CLI, email=email,
                                 first_name=first_name, last_name=last_name, role=role,
                                 password=password)
        email, role = user.email, user.role
        session.commit()
    click.echo(f"Added {email} ({role}).")
    if password is None:
        click.echo(f"No password set: run `isv user set-password {email}`.")


@user_group.command("list")
def user_list() -> None:
    """List every user with role and status."""
    from isv.db import session_scope
    from isv.services import users

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
    from isv.db import session_scope
    from isv.services import users

    with session_scope() as session:
        _require_schema(session)
        user = _user(session, email)
        was_active = user.is_active
        users.set_active(session=session, viewer=CLI, user_id=user.id, active=False)
        email = user.email
        session.commit()
    click.echo(f"Deactivated {email}." if was_active else f"{email} was already inactive.")


@user_group.command("set-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from one line of stdin instead of prompting.")
def user_set_password(email: str, password_stdin: bool) -> None:
    """Set a user's password (prompted twice, hidden), lift any lockout, end their sessions."""
    from isv.db import session_scope
    from isv.services import users

    password = _password_from_stdin() if password_stdin else None
    with session_scope() as session:
        _require_schema(session)
        user = _user(session, email)
        if password is None:
            password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
        users.set_password(session=session, viewer=CLI, user_id=user.id, password=password)
        email = user.email
        session.commit()
    click.echo(f"Password set for {email}.")


@user_group.command("export")
@click.argument("email")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def user_export(email: str, file: Path) -> None:
    """Write everything stored about one user to FILE as JSON (GDPR access request)."""
    from isv.db import session_scope
    from isv.services import gdpr

    with session_scope() as session:
        _require_schema(session)
        user = _user(session, email)
        data = gdpr.export_user(session=session, viewer=CLI, user_id=user.id)
        email = user.email
        # Written inside the transaction: the export is audited only when the file exists.
        file.write_text(gdpr.to_json(data), encoding="utf-8")
        session.commit()
    click.echo(f"Wrote the personal data of {email} to {file}.")


@user_group.command("anonymise")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def user_anonymise(email: str, yes: bool) -> None:
    """Replace a user's name and email with a placeholder for good; keep their records."""
    from isv.db import session_scope
    from isv.services import gdpr

    with session_scope() as session:
        _require_schema(session)
        user = _user(session, email)
        if not yes:
            click.confirm(f"Anonymise {user.email} for good? This cannot be undone",
                          abort=True, err=True)
        user = gdpr.anonymise_user(session=session, viewer=CLI, user_id=user.id)
        placeholder = user.email
        session.commit()
    click.echo(f"Anonymised {email}: now {placeholder}, inactive, without a password.")


@main.group("report")
def report_group() -> None:
    """Print reports: the KPIs of spec/KPIS.md, the partners' health scores."""


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
    from isv.analytics import kpis as kpi
    from isv.analytics import reports
    from isv.db import session_scope
    from isv.services import validate

    # A mistyped date is named before the database is looked at.
    validate.day("as-of", as_of)
    with session_scope() as session:
        _require_schema(session)
        try:
            result = reports.kpi_report(session=session, viewer=CLI, period=period,
                                        as_of=as_of, partner=partner, domain=domain,
                                        owner=owner)
        except ValidationError as exc:
            # The command's flag is --as-of; the API's parameter as_of.
            raise ValidationError(exc.field.replace("_", "-"), exc.reason) from None
    if output == "json":
        click.echo(kpi.to_json(result))
        if result.no_structure:
            # stdout stays the exact machine-readable form; the deals are still named.
            click.echo(_unpaid_lines(result), err=True)
        return
    click.echo(_kpi_table(result))
    if result.no_structure:
        click.echo("\n" + _unpaid_lines(result))


@report_group.command("health")
@click.option("--as-of", "as_of", help="The day the scores are for (YYYY-MM-DD); default today.")
@click.option("--format", "output", type=click.Choice(["json", "table"]), default="table",
              show_default=True,
              help="json: a list of {partner, score, parts: [{name, points, reason}]}.")
def report_health(as_of: str | None, output: str) -> None:
    """Print every partner's health score and the parts that add up to it."""
    from isv.db import session_scope
    from isv.services import health, validate

    validate.day("as-of", as_of)
    with session_scope() as session:
        _require_schema(session)
        scores = health.health_report(session=session, viewer=CLI, as_of=as_of)
    if output == "json":
        click.echo(json.dumps([s.to_dict() for s in scores], indent=2, ensure_ascii=False))
        return
    click.echo(_health_table(scores))


def _health_table(scores: list[health.PartnerHealth]) -> str:
    if not scores:
        return "No partners."
    width = max(len(s.partner) for s in scores)
    lines = []
    for item in scores:
        lines.append(f"{item.partner:<{width}}  {item.score:>3}")
        lines += [f"{'':<{width}}      {line}" for line in item.explained().splitlines()]
    return "\n".join(lines)


def _unpaid_lines(result: kpi.Kpis) -> str:
    from isv import display

    lines = [f"{len(result.no_structure)} won deal(s) with no applicable commission structure "
             "(commission 0):"]
    lines += [f"  {d.close_date}  {d.partner_name}  {d.customer_name}  "
              f"{display.money(d.deal_value)}" for d in result.no_structure]
    return "\n".join(lines)


def _kpi_table(result: kpi.Kpis) -> str:
    from isv.analytics import kpis as kpi

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
@click.argument("entity", type=_Entities("all"), metavar="ENTITY|all")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--dry-run", is_flag=True,
              help="Check the file and report what would be created, updated and left "
                   "unchanged; write nothing.")
@click.option("--from", "tool", type=click.Choice(CRM_TOOLS),
              help="The file is this CRM's opportunities export (opportunities only): its "
                   "columns and stages are mapped onto ours.")
@click.option("--stage-map", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="With --from: a CSV (their_stage,our_stage) or JSON "
                   '({"their stage": "our stage"}) file of stages, over the tool\'s defaults.')
@click.option("--partner", help="With --from: the partner of every row, when the file has "
                                "no partner column.")
def import_command(entity: str, path: Path, dry_run: bool, tool: str | None,
                   stage_map: Path | None, partner: str | None) -> None:
    """Import a CSV (or .xlsx) file of ENTITY, or every <entity>.csv of a folder (all).

    ENTITY is one of users, partners, commissions, opportunities, stage_history, goals,
    activities (spec/IMPORT.md). All or nothing: on any problem every one is printed as
    `row N, column C: reason` and nothing is written. With --from, an opportunities export
    of Salesforce, HubSpot or Pipedrive is read as that tool writes it (README, "Imports
    from another CRM").

    """
    from isv.db import session_scope
    from isv.services import crm_import, crm_mapping, importing

    if tool is None and (stage_map is not None or partner is not None):
        raise ValidationError("stage-map" if stage_map is not None else "partner",
                              "only goes with --from")
    if tool is not None and entity != "opportunities":
        raise ValidationError("from", "only opportunities can be imported from another CRM")
    if tool is not None and path.is_dir():
        raise ValidationError("path", f"{path} is a folder; give the .csv or .xlsx export")
    stages: dict[str, str] = {}
    if stage_map is not None:
        try:
            stages = crm_mapping.parse_stage_map(stage_map.read_bytes(), stage_map.name)
        except ValueError as exc:
            raise ValidationError("stage-map", str(exc)) from None
    try:
        with session_scope() as session:
            _require_schema(session)
            if tool is not None:
                export = crm_import.read_export(tool=tool, data=path.read_bytes(),
                                                filename=path.name)
                report = crm_import.import_export(
                    session=session, viewer=CLI, export=export, dry_run=dry_run,
                    mapping=crm_import.proposed_mapping(export, stages=stages,
                                                        partner=partner))
            elif entity == "all":
                if not path.is_dir():
                    raise ValidationError("path", f"{path} is not a folder; `isv import all` "
                                                  "reads the <entity>.csv files of a folder")
                report = importing.import_all(session=session, viewer=CLI,
                                             files=importing.folder_files(path),
                                             dry_run=dry_run)
            else:
                if path.is_dir():
                    raise ValidationError("path", f"{path} is a folder; give a .csv or .xlsx "
                                                  f"file of {entity}, or use `isv import all`")
                report = importing.import_file(session=session, viewer=CLI, entity=entity,
                                              data=path.read_bytes(), filename=path.name,
                                              dry_run=dry_run)
            if not report.ok:
                raise importing.ImportRejected(report)  # rolls the transaction back
            session.commit()
    except importing.ImportRejected as exc:
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
@click.argument("entity", type=_Entities())
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
def export_command(entity: str, file: Path | None) -> None:
    """Write ENTITY in the import format to FILE, or to stdout without one.

    A FILE ending in .xlsx gets a workbook; anything else gets CSV. The export imports back
    unchanged.
    """
    from isv.db import session_scope
    from isv.services import exporter

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
    from isv.db import session_scope
    from isv.services import backup

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
    """Load a backup into this database, all or nothing.

    A bundle written by `isv backup` (or the scheduled backup on SQLite): the database must be
    migrated to the bundle's schema revision and empty, unless --force. A pg_dump archive
    written by the scheduled backup on PostgreSQL: the database must be a new, empty one
    (createdb), unless --force.
    """
    from isv.db import session_scope
    from isv.services import backup, backups

    if backups.is_pg_dump(file):
        tables = backups.restore_pg_dump(url=get_settings().database_url, path=file,
                                         force=force)
        click.echo(f"Restored {tables} tables from the pg_dump archive {file} into "
                   f"{_where()}.")
        return
    with session_scope() as session:
        _require_schema(session)
        summary = backup.restore_backup(session=session, viewer=CLI, path=file, force=force)
        session.commit()
    click.echo(f"Restored {summary.rows} rows of {len(summary.counts)} tables from {file} "
               f"into {_where()}.")


@main.command("run")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; 0.0.0.0 for every interface (inside a container).")
@click.option("--port", type=click.IntRange(1, 65535), default=8501, show_default=True,
              help="Port for the web app.")
@click.option("--no-demo", is_flag=True, help="Do not load demo data into an empty database.")
@click.option("--api-port", type=click.IntRange(1, 65535), default=8000, show_default=True,
              help="Port for the REST API (on 127.0.0.1); the next free one if it is taken.")
def run_command(host: str, port: int, no_demo: bool, api_port: int) -> None:
    """Migrate, load demo data into an empty database, then serve the app and the API."""
    from sqlalchemy import select

    from isv import chart_images, demo, migrate
    from isv.db import session_scope
    from isv.models import User

    if not APP.is_file():
        raise ValidationError("app", f"{APP} not found")
    _check_port(host, port)
    api_port = _api_port(api_port)
    migrate.upgrade(get_settings().database_url)
    with session_scope() as session:
        if not no_demo and demo.database_is_empty(session):
            summary = demo.load_demo(session=session, viewer=CLI)
            session.commit()
            click.echo(f"Loaded demo data: {summary.counts['opportunities']} opportunities, "
                       f"{summary.counts['isv_partners']} partners.")
        demo_emails = {e for e, _, _, _ in demo.DEMO_LOGINS}
        present = set(session.scalars(
            select(User.email).where(User.email.in_(demo_emails), User.is_active.is_(True))))
    shown = "localhost" if host in ("127.0.0.1", "localhost", "0.0.0.0", "::") else host
    click.echo(f"ISV Pipeline Tracker on http://{shown}:{port}  (database: {_where()})")
    click.echo(f"REST API on http://127.0.0.1:{api_port}/api/v1  "
               f"(docs: http://127.0.0.1:{api_port}/api/v1/docs)")
    table = _logins_table(present)
    if table:
        click.echo("\nDemo logins:\n" + table + "\n")
    missing = chart_images.unavailable()
    if missing:
        click.echo(missing)
    sys.exit(_serve(host, port, api_port))


API_HOST = "127.0.0.1"


def _api_port(wanted: int) -> int:
    """The API's port for `isv run`: `wanted`, or the next free one so the app still starts."""
    try:
        _check_port(API_HOST, wanted)
        return wanted
    except ValidationError:
        chosen = _free_port(API_HOST, wanted + 1)
        click.echo(f"Port {wanted} is in use; the REST API takes {chosen}.")
        return chosen


@main.command("api")
@click.option("--host", default=API_HOST, show_default=True,
              help="Address to listen on; 0.0.0.0 for every interface (inside a container).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True,
              help="Port for the REST API.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Worker processes [default: ISV_API_WORKERS, else one a core, at most "
                   f"{api_workers.MAX_DEFAULT_WORKERS}].")
def api_command(host: str, port: int, workers: int | None) -> None:
    """Serve the REST API (/api/v1) with uvicorn."""
    import uvicorn

    from isv.api.app import create_app

    _check_port(host, port)
    count = api_workers.worker_count(workers or get_settings().api_workers)
    # The app reads proxy headers itself, from ISV_API_TRUSTED_PROXIES only (isv/api/app.py).
    options: dict[str, Any] = {"log_level": "warning", "proxy_headers": False,
                               "server_header": False}
    if count == 1:
        app = create_app()  # refuses production on a default key before listening
        click.echo(f"REST API on http://{host}:{port}/api/v1  (database: {_where()})")
        uvicorn.run(app, host=host, port=port, **options)
        return
    get_settings().check_api_ready()  # before any worker starts, as create_app would
    click.echo(f"REST API on http://{host}:{port}/api/v1  (database: {_where()}, "
               f"{count} worker processes)")
    # Each worker builds the app from the factory; they share rate-limit counts and metrics
    # through the folder (isv/api/workers.py, which says why each has its own socket).
    with api_workers.shared_folder(count):
        if api_workers.kernel_balanced():
            code = api_workers.supervise(count, host=host, port=port, options=options)
            if code:
                sys.exit(code)
            return
        # uvicorn replaces a worker that does not answer its parent's ping within the
        # health-check timeout, starting ones included: at its default of 5 s, a worker
        # still importing on a loaded machine was killed and replaced over and over.
        uvicorn.run(api_workers.APP, factory=True, workers=count, host=host,
                    port=port, timeout_worker_healthcheck=api_workers.HEALTHCHECK_SECONDS,
                    **options)


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


def _serve(host: str, port: int, api_port: int) -> int:
    """Run `streamlit run serve.py`, the scheduler and the API beside it; pass stop signals on."""
    command = streamlit_command(host, port)
    # Its own process group: a Ctrl-C in the terminal reaches only us, and we pass it on
    # once, instead of Streamlit seeing it twice.
    child = subprocess.Popen(command, cwd=PROJECT_ROOT, process_group=0)
    # The scheduler sidecar (alert rules, weekly rollover) lives and dies with the app.
    scheduler = subprocess.Popen([sys.executable, "-m", "scheduler"], cwd=PROJECT_ROOT,
                                 process_group=0)
    # The REST API too, on this machine only: scripts reach it, the network does not.
    api = subprocess.Popen([sys.executable, "-m", "isv.cli", "api", "--host", API_HOST,
                            "--port", str(api_port)], cwd=PROJECT_ROOT, process_group=0)

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
        _stop_scheduler(api)
        _stop_scheduler(scheduler)
    return 128 - code if code < 0 else code


SCHEDULER_STOP_SECONDS = 30


def _stop_scheduler(scheduler: subprocess.Popen) -> None:
    """SIGTERM lets a running job (or API call) finish; a sidecar that hangs is killed."""
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
