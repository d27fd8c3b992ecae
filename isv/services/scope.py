"""What a viewer may see: the SQL filters every read and write goes through."""

from __future__ import annotations

from sqlalchemy import ColumnElement, or_, select, true

from isv.auth import Viewer
from isv.models import Opportunity, Partner


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
