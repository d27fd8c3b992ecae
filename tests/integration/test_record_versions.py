"""Partners and commission structures carry a version, as deals do (issue 18 #1).

A save based on the version a form was drawn from is refused once someone else has saved
since, naming who and when; a save that changes nothing leaves the version alone.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from isv.db import make_engine
from isv.errors import Conflict
from isv.models import AuditEntry, Partner
from isv.services import commissions, partners
from tests.factories import make_partner, make_structure, make_user, viewer_of


def _audits(session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEntry))


def test_a_partner_save_based_on_an_old_version_is_refused_naming_who_changed_it(session):
    b = make_user(session, role="vp", first_name="Bea", last_name="Brandt")
    a = viewer_of(make_user(session, role="sales_manager"))
    partner = make_partner(session, name="Ledgerline", notes="first")
    opened = partner.version
    partners.update_partner(session=session, viewer=viewer_of(b), partner_id=partner.id,
                            expected_version=opened, notes="B's notes")
    assert partner.version == opened + 1
    before = _audits(session)
    with pytest.raises(Conflict, match=r"^Changed by Bea Brandt at \d+ \w+ \d{4}, \d\d:\d\d"
                                       r" — reload to see their change$"):
        partners.update_partner(session=session, viewer=a, partner_id=partner.id,
                                expected_version=opened, relationship_health="at_risk")
    assert (partner.notes, partner.relationship_health) == ("B's notes", "healthy")
    assert _audits(session) == before


def test_a_partner_save_that_changes_nothing_keeps_its_version(session):
    vp = viewer_of(make_user(session, role="vp"))
    partner = make_partner(session, name="Ledgerline", notes="same")
    before = partner.version, _audits(session)
    partners.update_partner(session=session, viewer=vp, partner_id=partner.id,
                            expected_version=partner.version, notes="same")
    assert (partner.version, _audits(session)) == before


def test_a_structure_save_based_on_an_old_version_is_refused_and_its_end_too(session):
    b = make_user(session, role="vp", first_name="Bea", last_name="Brandt")
    a = viewer_of(make_user(session, role="sales_manager"))
    structure = make_structure(session, make_partner(session), effective_from=date(2025, 1, 1))
    opened = structure.version
    commissions.update_structure(session=session, viewer=viewer_of(b),
                                 structure_id=structure.id, expected_version=opened,
                                 notes="Renegotiated")
    before = _audits(session)
    with pytest.raises(Conflict, match=r"^Changed by Bea Brandt at "):
        commissions.update_structure(session=session, viewer=a, structure_id=structure.id,
                                     expected_version=opened, commission_percentage="12.5")
    with pytest.raises(Conflict, match=r"^Changed by Bea Brandt at "):
        commissions.end_structure(session=session, viewer=a, structure_id=structure.id,
                                  expected_version=opened, effective_to=date(2025, 12, 31))
    assert (structure.commission_percentage, structure.effective_to) == (Decimal("10.00"), None)
    assert _audits(session) == before
    commissions.end_structure(session=session, viewer=a, structure_id=structure.id,
                              expected_version=opened + 1, effective_to=date(2025, 12, 31))
    assert (structure.effective_to, structure.version) == (date(2025, 12, 31), opened + 2)


def test_a_partner_save_racing_another_at_the_database_becomes_a_conflict_naming_it(
        committed_url):
    engine = make_engine(committed_url)
    try:
        with Session(engine) as setup:
            winner = viewer_of(make_user(setup, role="vp", first_name="Grace",
                                         last_name="Hopper"))
            loser = viewer_of(make_user(setup, role="vp"))
            partner_id = make_partner(setup, name="Ledgerline").id
            setup.commit()

        slow = Session(engine)
        held = slow.get(Partner, partner_id)   # read at version 1, and held
        with Session(engine) as fast:
            partners.update_partner(session=fast, viewer=winner, partner_id=partner_id,
                                    expected_version=1, notes="Fast")
            fast.commit()
        # The slow session still holds version 1, so its own check passes; the database's
        # "WHERE version = 1" is what catches it.
        with pytest.raises(Conflict, match="^Changed by Grace Hopper at .* — reload"):
            partners.update_partner(session=slow, viewer=loser, partner_id=partner_id,
                                    expected_version=1, notes="Slow")
        slow.rollback()
        assert held.notes == "Fast"
        slow.close()
    finally:
        engine.dispose()
