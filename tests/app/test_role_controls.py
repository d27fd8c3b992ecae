"""A page offers a write control only to the roles DESIGN.md lets write there (AppTest).

The services refuse every write a role may not make (tests/integration/test_role_matrix.py,
against the same table); here the pages agree: a role refused a write is not offered the
control, or is offered it disabled. The partner and its deal belong to the partnership
manager, so every role that writes at all writes them. One signed-in AppTest per role.
"""

from __future__ import annotations

import pytest

from isv.auth import Viewer
from isv.db import session_scope
from isv.services import opportunities, partners, sessions
from tests.app.conftest import LOGINS, ROLES, login_as
from tests.integration.test_role_matrix import WRITE_DEALS, WRITE_PARTNERS, may_write

# page: (the DESIGN.md row that grants its writes, the buttons that write, the one that saves
# the page's form, which must also be enabled when allowed)
WRITE_CONTROLS = {
    "pages/partner_detail.py": (WRITE_PARTNERS, ("Save profile", "Log a touch",
                                                 "Add structure", "Delete partner"),
                                "Save profile"),
    "pages/opportunities.py": (WRITE_DEALS, ("Save changes",), None),
    "pages/board.py": (WRITE_DEALS, ("Move",), "Move"),
    "pages/opportunity_detail.py": (WRITE_DEALS, ("Save changes",), "Save changes"),
}


@pytest.fixture
def detail_ids(app_db) -> dict[str, str]:
    """A partner of Pia's (a partnership manager) with one deal: the ?id= of each detail page."""
    system = Viewer.system("tests")
    with session_scope() as s:
        pia = sessions.find_user_by_email(s, LOGINS["partnership_manager"].email)
        partner = partners.create_partner(session=s, viewer=system, name="Keyward",
                                          domain="FinOps", owner_id=pia.id)
        deal = opportunities.create_opportunity(session=s, viewer=system,
                                                partner_id=partner.id, customer_name="Acme",
                                                deal_value="1000")
        done = {"pages/partner_detail.py": str(partner.id),
                "pages/opportunity_detail.py": str(deal.id)}
        s.commit()
        return done


@pytest.mark.parametrize("role", ROLES)
def test_write_controls_are_offered_exactly_to_the_roles_design_md_lets_write(detail_ids,
                                                                             role):
    at = login_as(role)
    for page, (row, labels, saves) in WRITE_CONTROLS.items():
        at.switch_page(page)
        if page in detail_ids:
            at.query_params["id"] = detail_ids[page]
        at.run()
        assert not at.exception, (page, at.exception)
        buttons = {b.label: b.disabled for b in at.button}
        if may_write(row, role):
            assert set(labels) <= set(buttons), (page, role, buttons)
            if saves:
                assert buttons[saves] is False, (page, role, saves)
        else:
            offered = {label for label in labels if buttons.get(label) is False}
            assert not offered, f"{role} is offered {sorted(offered)} on {page}"
