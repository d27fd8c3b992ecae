"""Partners and commission structures carry a version, as deals do (issue 18 #1).

A save based on the version a form was drawn from is refused once someone else has saved
since, naming who and when; a save that changes nothing leaves the version alone.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from isv.errors import Conflict
from isv.models import AuditEntry
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
