"""What a viewer may see: the SQL filters every read and write goes through."""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select, true

from isv.auth import MANAGE_USERS, TEAM_READ, Viewer
from isv.models import Opportunity, Partner, User


def partners_visible(viewer: Viewer) -> ColumnElement[bool]:
    """Partners the viewer may read: all of them, or a partnership manager's own."""
    if viewer.sees_everything:
        return true()
    return Partner.owner_id == viewer.id


def opportunities_visible(viewer: Viewer) -> ColumnElement[bool]:
    """Deals the viewer may read: all, or those of their own partners and those assigned to them."""
    if viewer.sees_everything:
        return true()
    own_partners = select(Partner.id).where(Partner.owner_id == viewer.id)
    return or_(Opportunity.partner_id.in_(own_partners), Opportunity.assigned_user_id == viewer.id)


def people_listed(viewer: Viewer) -> ColumnElement[bool]:
    """People whose user records the viewer may list (the users export).

    Everyone for a role that reads the team or manages users; for a partnership manager,
    themselves and the people who own or work what they see (their partners' owners, their
    deals' assignees), whom their own records name anyway. Pickers may still show names.
    """
    if viewer.can(TEAM_READ) or viewer.can(MANAGE_USERS):
        return true()
    owners = select(Partner.owner_id).where(partners_visible(viewer))
    assignees = select(Opportunity.assigned_user_id).where(opportunities_visible(viewer))
    return or_(User.id == viewer.id, User.id.in_(owners), User.id.in_(assignees))
