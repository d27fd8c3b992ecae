"""What a partnership manager is told stays within their scope (security review, finding 10).

Refusals about records outside their scope read exactly as for records that do not exist,
a taken partner name is refused without naming or describing its partner, and the users
export lists only the people their own records name.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date

import pytest

from isv.auth import Viewer
from isv.errors import IsvError, ValidationError
from isv.services import commissions, exporter, partners
from isv.services import opportunities as opps
from tests.factories import make_opportunity, make_partner, make_structure, make_user, viewer_of

SECRET = "Keyward Secret Holdings"


@pytest.fixture
def world(session):
    """Pia (a partnership manager) and another manager's partner with a deal and a structure."""
    pia = make_user(session, role="partnership_manager", email="pia@example.com")
    rival = make_user(session, role="partnership_manager", email="rex@example.com")
    theirs = make_partner(session, name=SECRET, owner_id=rival.id)
    return {"pia": viewer_of(pia), "pia_user": pia, "rival": rival, "partner": theirs,
            "deal": make_opportunity(session, theirs, customer_name="Hidden Corp",
                                     assigned_user_id=rival.id),
            "structure": make_structure(session, theirs)}


WRITES: dict[str, tuple[str, Callable]] = {
    "update partner": ("partner", lambda s, v, i: partners.update_partner(
        session=s, viewer=v, partner_id=i, notes="mine")),
    "delete partner": ("partner", lambda s, v, i: partners.delete_partner(
        session=s, viewer=v, partner_id=i)),
    "log a touch": ("partner", lambda s, v, i: partners.log_touch(
        session=s, viewer=v, partner_id=i, activity_type="call", occurred_on=date(2026, 1, 5))),
    "add a structure": ("partner", lambda s, v, i: commissions.create_structure(
        session=s, viewer=v, partner_id=i, structure_type="referral",
        commission_percentage="10", effective_from="2026-01-01")),
    "change a structure": ("structure", lambda s, v, i: commissions.update_structure(
        session=s, viewer=v, structure_id=i, notes="mine")),
    "delete a structure": ("structure", lambda s, v, i: commissions.delete_structure(
        session=s, viewer=v, structure_id=i)),
    "move a deal": ("deal", lambda s, v, i: opps.move_stage(
        session=s, viewer=v, opportunity_id=i, to_stage="demo")),
    "change a deal": ("deal", lambda s, v, i: opps.update_opportunity(
        session=s, viewer=v, opportunity_id=i, expected_version=1, deal_value="1.00")),
    "delete a deal": ("deal", lambda s, v, i: opps.delete_opportunity(
        session=s, viewer=v, opportunity_id=i)),
}


def _refusal(call: Callable[[], object]) -> IsvError:
    with pytest.raises(IsvError) as err:
        call()
    return err.value


@pytest.mark.parametrize("case", list(WRITES))
def test_a_write_outside_scope_is_refused_as_if_the_record_did_not_exist(session, world, case):
    kind, write = WRITES[case]
    refused = _refusal(lambda: write(session, world["pia"], world[kind].id))
    unknown = _refusal(lambda: write(session, world["pia"], uuid.uuid4()))
    assert (type(refused), str(refused)) == (type(unknown), str(unknown))
    assert SECRET not in str(refused) and "Hidden" not in str(refused)


@pytest.mark.parametrize("typed", [SECRET, SECRET.upper()])
def test_a_name_taken_outside_scope_is_refused_without_naming_the_partner(session, world,
                                                                          typed):
    with pytest.raises(ValidationError) as err:
        partners.create_partner(session=session, viewer=world["pia"], name=typed,
                                domain="FinOps")
    assert (err.value.field, err.value.reason) == ("name", partners.NAME_UNUSABLE)
    mine = make_partner(session, name="Ledgerline", owner_id=world["pia_user"].id)
    with pytest.raises(ValidationError) as renamed:
        partners.update_partner(session=session, viewer=world["pia"], partner_id=mine.id,
                                name=typed)
    assert str(renamed.value) == str(err.value)
    assert SECRET.casefold() not in str(err.value).casefold()


def test_a_name_taken_within_sight_is_named(session, world):
    make_partner(session, name="Ledgerline", owner_id=world["pia_user"].id)
    with pytest.raises(ValidationError, match="a partner named 'Ledgerline' already exists"):
        partners.create_partner(session=session, viewer=world["pia"], name="LEDGERLINE",
                                domain="FinOps")
    vp = viewer_of(make_user(session, role="vp"))
    with pytest.raises(ValidationError, match=f"a partner named '{SECRET}' already exists"):
        partners.create_partner(session=session, viewer=vp, name=SECRET, domain="FinOps")


def _exported(session, viewer: Viewer) -> set[str]:
    csv = exporter.export_csv(session=session, viewer=viewer, entity="users")
    return {line.split(",")[0] for line in csv.splitlines()[1:]}


def test_a_partnership_managers_users_export_lists_only_the_people_their_records_name(
        session, world):
    assignee = make_user(session, email="ann@example.com")
    stranger = make_user(session, email="stranger@example.com")
    mine = make_partner(session, name="Ledgerline", owner_id=world["pia_user"].id)
    make_opportunity(session, mine, assigned_user_id=assignee.id)
    assert _exported(session, world["pia"]) == {"pia@example.com", "ann@example.com"}
    everyone = _exported(session, viewer_of(make_user(session, role="sales_manager")))
    assert {"pia@example.com", "ann@example.com", "rex@example.com",
            stranger.email} <= everyone
