"""Nothing gets around a role: every page's actions × every role, against DESIGN.md's table.

The rules live in one place in the app (isv/auth.py's permissions, isv/ui/nav.py's page
registry, the scope filters in isv/services/scope.py); the table they must keep is DESIGN.md's
"Roles and scope". So this file holds no rule table of its own, only that specification: a
verbatim copy of DESIGN.md's table (compared with the shared DESIGN.md where it is on the
machine). It checks that the permissions and the navigation say the same, drives each page's
actions
through the service function the page calls (pages are thin; scope is enforced in the
services, so a service refusal is a refusal by every page, the CLI and the importer alike).
Allowed actions must show their effect; refused ones must raise and write nothing (every
table's row count and the audit log unchanged, save the audited refusal itself).
tests/app/test_frame.py checks the navigation AppTest draws against nav.pages_for, which is
checked here against DESIGN.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from isv import auth
from isv.auth import Viewer
from isv.errors import IsvError
from isv.models import (
    ROLES,
    AuditEntry,
    Base,
    CommissionStructure,
    ImportMapping,
    Opportunity,
    Partner,
    PartnerActivity,
    QuarterlyGoal,
    Task,
    User,
    WeeklyStatus,
)
from isv.services import (
    commissions,
    crm_import,
    goals,
    opportunities,
    partners,
    sessions,
    settings,
    status,
    tasks,
    users,
)
from isv.services.crm_mapping import CrmMapping
from isv.ui import nav
from tests.factories import make_opportunity, make_partner, make_user

# DESIGN.md's "Roles and scope" table, verbatim: the specification the app's rules are checked
# against (the design lives outside the repository; the last test compares this copy with it
# where it is on the machine).
DESIGN_ROLES = """
| permission | vp | sales_manager | partnership_manager | admin |
|---|---|---|---|---|
| read partners, opportunities, analytics | all | all | own partners + deals assigned to them | all |
| write partners, commissions | yes | yes | own partners | no |
| write opportunities | yes | yes | own partners' deals + assigned deals | no |
| own status, tasks, goals | yes | yes | yes | no |
| team status, team goals, set others' goals | yes | read | no | read |
| users and settings | yes | no | no | yes |
"""  # noqa: E501
SHARED_DESIGN = Path("/work/shared/DESIGN.md")


def parse_table(markdown: str) -> dict[str, dict[str, str]]:
    """A roles table as {row: {role: cell}}."""
    lines = [line for line in markdown.strip().splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert header[1:] == list(ROLES), header
    table = {}
    for line in lines[2:]:
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        table[cells[0]] = dict(zip(ROLES, cells[1:], strict=True))
    return table


TABLE = parse_table(DESIGN_ROLES)
READ = "read partners, opportunities, analytics"
WRITE_PARTNERS = "write partners, commissions"
WRITE_DEALS = "write opportunities"
OWN_WORK = "own status, tasks, goals"
TEAM = "team status, team goals, set others' goals"
ADMIN = "users and settings"


def may(row: str, role: str) -> bool:
    """Whether DESIGN.md lets `role` do what `row` names at all ("no" is the only refusal for
    a write row; "read" grants reading only)."""
    return TABLE[row][role] not in ("no",)


def may_write(row: str, role: str) -> bool:
    return TABLE[row][role] not in ("no", "read")


def scoped(row: str, role: str) -> bool:
    """Whether the role's grant in `row` is limited to its own partners and deals."""
    return TABLE[row][role].startswith("own partners")


# --- the permissions and the navigation say what DESIGN.md says ---------------------------

PERMISSION_OF_ROW = {
    READ: (auth.READ_ALL, "all"),
    WRITE_PARTNERS: (auth.WRITE_PARTNERS, None),
    WRITE_DEALS: (auth.WRITE_OPPORTUNITIES, None),
    OWN_WORK: (auth.OWN_WORK, None),
    ADMIN: (auth.MANAGE_USERS, None),
}


@pytest.mark.parametrize("role", ROLES)
def test_the_roles_permissions_are_design_mds_table(role):
    viewer = Viewer(None, "x@example.com", role)
    assert set(TABLE) == {READ, WRITE_PARTNERS, WRITE_DEALS, OWN_WORK, TEAM, ADMIN}
    for row, (permission, everything) in PERMISSION_OF_ROW.items():
        if everything:  # "all" reads everything; a scoped read is a filter, not a permission
            assert viewer.can(permission) == (TABLE[row][role] == everything), (row, role)
        else:
            assert viewer.can(permission) == may_write(row, role), (row, role)
    assert viewer.can(auth.TEAM_READ) == may(TEAM, role)
    assert viewer.can(auth.TEAM_WRITE) == may_write(TEAM, role)


# Which DESIGN.md rows open a page: any one of them not "no". Every page is listed, so a page
# added to the registry without a line here fails the next test.
PAGE_ROWS = {
    "pages/dashboard.py": (READ,), "pages/pipeline_analytics.py": (READ,),
    "pages/partner_analytics.py": (READ,), "pages/partners.py": (READ,),
    "pages/partner_detail.py": (READ,), "pages/commissions.py": (READ,),
    "pages/registrations.py": (READ,),
    "pages/opportunities.py": (READ,), "pages/board.py": (READ,),
    "pages/opportunity_detail.py": (READ,), "pages/import_data.py": (READ,),
    "pages/alerts.py": (READ,),
    "pages/team_view.py": (TEAM,), "pages/team_status.py": (TEAM,),
    "pages/weekly_status.py": (OWN_WORK,), "pages/tasks.py": (OWN_WORK,),
    "pages/goals.py": (OWN_WORK, TEAM),
    "pages/users.py": (ADMIN,), "pages/system.py": (ADMIN,), "pages/settings.py": (ADMIN,),
    # A person's own account (name, role, their API tokens) is no row of the table: everyone.
    "pages/account.py": (),
}
EVERY_ROLE = {"pages/account.py"}


@pytest.mark.parametrize("role", ROLES)
def test_a_roles_navigation_holds_exactly_the_pages_design_md_opens_to_it(role):
    assert {page.path for page in nav.PAGES} == set(PAGE_ROWS)
    expected = {path for path, rows in PAGE_ROWS.items()
                if path in EVERY_ROLE or any(may(r, role) for r in rows)}
    assert {page.path for page in nav.pages_for(role)} == expected


# --- every action, every role ----------------------------------------------------------

@dataclass
class World:
    """One user per role, each partnership manager's own partner and deal, and a stranger's."""

    people: dict[str, User]
    own_partner: dict[str, Partner]
    own_deal: dict[str, Opportunity]
    other_partner: Partner
    other_deal: Opportunity
    monday: date


@pytest.fixture
def world(session) -> World:
    people = {role: make_user(session, role=role, email=f"{role}@example.com")
              for role in ROLES}
    stranger = make_user(session, role="partnership_manager", email="stranger@example.com")
    own_partner = {role: make_partner(session, name=f"{role} partner", owner_id=user.id)
                   for role, user in people.items()}
    own_deal = {role: make_opportunity(session, partner) for role, partner in own_partner.items()}
    other = make_partner(session, name="Someone else's partner", owner_id=stranger.id)
    today = date.today()
    return World(people, own_partner, own_deal, other, make_opportunity(session, other),
                 today - timedelta(days=today.weekday()))


Effect = Callable[[object, World, str], bool]


@dataclass(frozen=True)
class Action:
    page: str
    name: str
    row: str                       # the DESIGN.md row that grants it
    do: Callable[..., object]      # (session, viewer, world, role) -> anything
    # (session, world, role) -> whether the change is there; None: a read ("read" in the row
    # grants it), whose effect is what it returns
    effect: Effect | None
    outside_scope: bool = False    # acts on someone else's partner or deal

    @property
    def reads(self) -> bool:
        return self.effect is None


def _count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


ACTIONS = (
    Action("pages/partners.py", "add a partner", WRITE_PARTNERS,
           lambda s, v, w, r: partners.create_partner(
               session=s, viewer=v, name="Matrix Partner", domain="FinOps",
               owner_id=w.people[r].id),
           lambda s, w, r: _count(s, Partner, Partner.name == "Matrix Partner") == 1),
    Action("pages/partner_detail.py", "change their partner", WRITE_PARTNERS,
           lambda s, v, w, r: partners.update_partner(
               session=s, viewer=v, partner_id=w.own_partner[r].id, notes="matrix"),
           lambda s, w, r: w.own_partner[r].notes == "matrix"),
    Action("pages/partner_detail.py", "change someone else's partner", WRITE_PARTNERS,
           lambda s, v, w, r: partners.update_partner(
               session=s, viewer=v, partner_id=w.other_partner.id, notes="matrix"),
           lambda s, w, r: w.other_partner.notes == "matrix", outside_scope=True),
    Action("pages/partner_detail.py", "log a touch", WRITE_PARTNERS,
           lambda s, v, w, r: partners.log_touch(
               session=s, viewer=v, partner_id=w.own_partner[r].id, activity_type="call",
               occurred_on=date.today()),
           lambda s, w, r: _count(s, PartnerActivity) == 1),
    Action("pages/commissions.py", "add a commission structure", WRITE_PARTNERS,
           lambda s, v, w, r: commissions.create_structure(
               session=s, viewer=v, partner_id=w.own_partner[r].id,
               structure_type="referral", commission_percentage="10",
               effective_from="2026-01-01"),
           lambda s, w, r: _count(s, CommissionStructure) == 1),
    Action("pages/opportunities.py", "add a deal", WRITE_DEALS,
           lambda s, v, w, r: opportunities.create_opportunity(
               session=s, viewer=v, partner_id=w.own_partner[r].id,
               customer_name="Matrix Co", deal_value="1000"),
           lambda s, w, r: _count(s, Opportunity, Opportunity.customer_name == "Matrix Co") == 1),
    Action("pages/opportunities.py", "change their deal in the grid", WRITE_DEALS,
           lambda s, v, w, r: opportunities.update_opportunity(
               session=s, viewer=v, opportunity_id=w.own_deal[r].id,
               expected_version=w.own_deal[r].version, notes="matrix"),
           lambda s, w, r: w.own_deal[r].notes == "matrix"),
    Action("pages/board.py", "move their deal", WRITE_DEALS,
           lambda s, v, w, r: opportunities.move_stage(
               session=s, viewer=v, opportunity_id=w.own_deal[r].id, to_stage="demo"),
           lambda s, w, r: w.own_deal[r].stage == "demo"),
    Action("pages/board.py", "move someone else's deal", WRITE_DEALS,
           lambda s, v, w, r: opportunities.move_stage(
               session=s, viewer=v, opportunity_id=w.other_deal.id, to_stage="demo"),
           lambda s, w, r: w.other_deal.stage == "demo", outside_scope=True),
    Action("pages/opportunity_detail.py", "delete their deal", WRITE_DEALS,
           lambda s, v, w, r: opportunities.delete_opportunity(
               session=s, viewer=v, opportunity_id=w.own_deal[r].id),
           lambda s, w, r: s.get(Opportunity, w.own_deal[r].id) is None),
    Action("pages/import_data.py", "save a CRM import mapping", WRITE_DEALS,
           lambda s, v, w, r: crm_import.save_mapping(
               session=s, viewer=v, name="Matrix", mapping=CrmMapping(
                   tool="hubspot", columns={"deal_value": "Amount"}, stages={})),
           lambda s, w, r: _count(s, ImportMapping, ImportMapping.name == "Matrix") == 1),
    Action("pages/weekly_status.py", "save their weekly status", OWN_WORK,
           lambda s, v, w, r: status.save_draft(
               session=s, viewer=v, week_start_date=w.monday, accomplishments="matrix"),
           lambda s, w, r: _count(s, WeeklyStatus) == 1),
    Action("pages/tasks.py", "add a task", OWN_WORK,
           lambda s, v, w, r: tasks.create_task(session=s, viewer=v, title="Matrix task"),
           lambda s, w, r: _count(s, Task) == 1),
    Action("pages/goals.py", "set their own goal", OWN_WORK,
           lambda s, v, w, r: goals.set_goal(
               session=s, viewer=v, year=2026, quarter=3, goal_type="revenue",
               target="1000"),
           lambda s, w, r: _count(s, QuarterlyGoal) == 1),
    Action("pages/goals.py", "set another person's goal", TEAM,
           lambda s, v, w, r: goals.set_goal(
               session=s, viewer=v, year=2026, quarter=3, goal_type="revenue",
               target="1000", user_id=w.people["sales_manager" if r != "sales_manager"
                                               else "vp"].id),
           lambda s, w, r: _count(s, QuarterlyGoal) == 1),
    Action("pages/team_status.py", "read the team's week", TEAM,
           lambda s, v, w, r: status.team_week(session=s, viewer=v, week_start_date=w.monday),
           None),
    Action("pages/partners.py", "read someone else's partner", READ,
           lambda s, v, w, r: partners.get_partner(
               session=s, viewer=v, partner_id=w.other_partner.id),
           None, outside_scope=True),
    Action("pages/users.py", "add a user", ADMIN,
           lambda s, v, w, r: users.create_user(
               session=s, viewer=v, email="matrix@example.com", first_name="M",
               last_name="X", role="sales_manager"),
           lambda s, w, r: _count(s, User, User.email == "matrix@example.com") == 1),
    Action("pages/users.py", "deactivate a user", ADMIN,
           lambda s, v, w, r: users.set_active(
               session=s, viewer=v, user_id=w.people["sales_manager" if r != "sales_manager"
                                                    else "partnership_manager"].id,
               active=False),
           lambda s, w, r: not w.people["sales_manager" if r != "sales_manager"
                                        else "partnership_manager"].is_active),
    Action("pages/settings.py", "change a setting", ADMIN,
           lambda s, v, w, r: settings.update_settings(
               session=s, viewer=v, relationship_cadence_days=45),
           lambda s, w, r: settings.current_settings(s).relationship_cadence_days == 45),
)


def allowed(action: Action, role: str) -> bool:
    """What DESIGN.md says: the row grants it, and a scoped grant never reaches outside."""
    granted = may(action.row, role) if action.reads else may_write(action.row, role)
    if action.outside_scope and scoped(action.row, role):
        return False
    return granted


def _snapshot(session) -> dict[str, int]:
    """Every table's row count and the audit log's entries other than audited refusals."""
    session.flush()
    counts = {table.name: session.scalar(select(func.count()).select_from(table))
              for table in Base.metadata.sorted_tables if table.name != "audit_log"}
    counts["audit_log"] = _count(session, AuditEntry, AuditEntry.action != "refused")
    return counts


CASES = [(action, role) for action in ACTIONS for role in ROLES]


@pytest.mark.parametrize(("action", "role"), CASES, ids=[
    f"{a.page.removeprefix('pages/').removesuffix('.py')}:{a.name}:{r}" for a, r in CASES])
def test_an_action_works_for_the_roles_design_md_allows_and_is_refused_writing_nothing_for_the_rest(  # noqa: E501
        session, world, action, role):
    viewer = Viewer.of(world.people[role])
    if allowed(action, role):
        result = action.do(session, viewer, world, role)
        session.flush()
        shown = result if action.reads else action.effect(session, world, role)
        assert shown, f"{action.name}: no effect for {role}"
        return
    before = _snapshot(session)
    with pytest.raises(IsvError) as refused:
        action.do(session, viewer, world, role)
    assert str(refused.value), "a refusal says why"
    assert _snapshot(session) == before
    session.expire_all()
    assert action.reads or not action.effect(session, world, role)


def test_the_matrix_covers_every_row_of_design_mds_table_and_every_role_both_ways():
    assert {action.row for action in ACTIONS} == set(TABLE)
    outcomes = {(role, allowed(a, role)) for a, role in CASES}
    # DESIGN.md refuses the vp nothing; every other role is refused something.
    assert outcomes == {(role, ok) for role in ROLES for ok in (True, False)} - {("vp", False)}
    for action in ACTIONS:
        assert any(allowed(action, role) for role in ROLES), action.name


def test_design_mds_table_is_read_as_written():
    assert TABLE[WRITE_PARTNERS] == {"vp": "yes", "sales_manager": "yes",
                                     "partnership_manager": "own partners", "admin": "no"}
    assert re.fullmatch(r"own partners.*", TABLE[WRITE_DEALS]["partnership_manager"])


@pytest.mark.skipif(not SHARED_DESIGN.exists(), reason="the shared DESIGN.md is not here")
def test_the_copy_of_the_table_is_design_mds_current_one():
    text = SHARED_DESIGN.read_text()
    section = text[text.index("## Roles and scope"):]
    assert parse_table(section.split("\n\n", 2)[1]) == TABLE


# --- the command line: the one command that takes a role --------------------------------

def test_isv_user_add_grants_exactly_design_mds_roles_and_refuses_any_other_adding_nobody(
        cli_url):
    from click.testing import CliRunner

    from isv import cli
    from isv.db import session_scope

    # One database for all: migrating it is the cost.
    for n, role in enumerate((*ROLES, "system", "VP", "boss")):
        email = f"cli-{n}@example.com"
        result = CliRunner().invoke(cli.main, ["user", "add", "--email", email, "--role", role,
                                               "--first", "Cli", "--last", "User"])
        with session_scope() as s:
            added = sessions.find_user_by_email(s, email)
            if role in TABLE[READ]:  # the table's columns: DESIGN.md's roles
                assert result.exit_code == 0, (role, result.output)
                assert added.role == role
            else:
                assert result.exit_code == 1, role
                assert result.stderr.strip().startswith("Error: role:"), result.stderr
                assert len(result.stderr.strip().splitlines()) == 1
                assert added is None
