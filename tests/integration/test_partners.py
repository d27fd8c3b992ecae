"""Partners: who may add and change them, what is refused, what a delete takes with it."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from isv.auth import Viewer
from isv.errors import Forbidden, NotFound, ValidationError
from isv.models import (
    AuditEntry,
    CommissionStructure,
    Opportunity,
    Partner,
    PartnerActivity,
    StageHistory,
    Task,
)
from isv.services import partners
from isv.services.settings import local_today
from tests.factories import (
    make_opportunity,
    make_partner,
    make_structure,
    make_user,
    viewer_of,
)


def _viewer(session, role: str = "vp", **overrides) -> Viewer:
    return viewer_of(make_user(session, role=role, **overrides))


def _audit(session, entity_id, entity_type: str = "partner") -> list[AuditEntry]:
    return list(session.scalars(select(AuditEntry).where(
        AuditEntry.entity_type == entity_type, AuditEntry.entity_id == str(entity_id))
        .order_by(AuditEntry.at, AuditEntry.id)))


def _create(session, viewer, **overrides) -> Partner:
    values = dict(name="Acme Cloud", domain="FinOps")
    values.update(overrides)
    return partners.create_partner(session=session, viewer=viewer, **values)


def test_vp_adds_a_partner_and_the_audit_log_records_its_values(session):
    vp = _viewer(session)
    owner = make_user(session, role="partnership_manager")
    partner = _create(session, vp, website="https://acme.example", owner_id=owner.id,
                      primary_contact_email="Jane@Acme.example", relationship_health="excellent")
    assert partner.owner_id == owner.id
    assert partner.primary_contact_email == "jane@acme.example"
    [entry] = _audit(session, partner.id)
    assert entry.action == "create" and entry.actor_id == vp.id
    assert entry.new_values["name"] == "Acme Cloud"
    assert entry.new_values["owner_id"] == str(owner.id)


def test_admin_adding_or_changing_a_partner_is_forbidden_and_nothing_is_written(session):
    admin = _viewer(session, role="admin")
    existing = make_partner(session, name="Untouched")
    with pytest.raises(Forbidden):
        _create(session, admin, name="Admin Made")
    with pytest.raises(Forbidden):
        partners.update_partner(session=session, viewer=admin, partner_id=existing.id,
                                name="Renamed")
    with pytest.raises(Forbidden):
        partners.delete_partner(session=session, viewer=admin, partner_id=existing.id)
    with pytest.raises(Forbidden):
        partners.log_touch(session=session, viewer=admin, partner_id=existing.id,
                           activity_type="call", occurred_on=local_today())
    assert session.scalar(select(func.count()).select_from(Partner)
                          .where(Partner.name == "Admin Made")) == 0
    assert existing.name == "Untouched"
    assert _audit(session, existing.id) == []


def test_admin_still_reads_every_partner(session):
    admin = _viewer(session, role="admin")
    partner = make_partner(session)
    assert partners.get_partner(session=session, viewer=admin, partner_id=partner.id) is partner


@pytest.mark.parametrize("overrides, field", [
    ({"name": "  "}, "name"),
    ({"name": "x" * 256}, "name"),
    ({"domain": "Retail"}, "domain"),
    ({"relationship_health": "great"}, "relationship_health"),
    ({"website": "acme.example"}, "website"),
    ({"website": "https://" + "a" * 493}, "website"),
    ({"primary_contact_email": "not-an-email"}, "primary_contact_email"),
    ({"owner_id": "not-a-uuid"}, "owner_id"),
])
def test_bad_partner_values_name_the_field(session, overrides, field):
    vp = _viewer(session)
    with pytest.raises(ValidationError) as err:
        _create(session, vp, **overrides)
    assert err.value.field == field


def test_a_website_of_exactly_500_characters_is_accepted(session):
    vp = _viewer(session)
    url = "https://" + "a" * 492
    assert _create(session, vp, website=url).website == url


def test_partner_names_are_unique_whatever_their_case(session):
    vp = _viewer(session)
    _create(session, vp, name="Acme Cloud")
    with pytest.raises(ValidationError) as err:
        _create(session, vp, name="  ACME cloud ")
    assert err.value.field == "name"
    assert "Acme Cloud" in err.value.reason


def test_renaming_onto_another_partners_name_is_refused_but_keeping_ones_own_is_fine(session):
    vp = _viewer(session)
    _create(session, vp, name="Alpha")
    beta = _create(session, vp, name="Beta")
    with pytest.raises(ValidationError) as err:
        partners.update_partner(session=session, viewer=vp, partner_id=beta.id, name="alpha")
    assert err.value.field == "name"
    partners.update_partner(session=session, viewer=vp, partner_id=beta.id, name="BETA")
    assert beta.name == "BETA"


@pytest.mark.parametrize("owner_kwargs, reason", [
    ({"role": "admin"}, "admin"),
    ({"role": "partnership_manager", "is_active": False}, "deactivated"),
])
def test_an_owner_must_be_an_active_manager_or_vp(session, owner_kwargs, reason):
    vp = _viewer(session)
    owner = make_user(session, **owner_kwargs)
    with pytest.raises(ValidationError) as err:
        _create(session, vp, owner_id=owner.id)
    assert err.value.field == "owner_id" and reason in err.value.reason


def test_an_unknown_owner_is_refused(session):
    vp = _viewer(session)
    with pytest.raises(ValidationError) as err:
        _create(session, vp, owner_id="00000000-0000-0000-0000-000000000001")
    assert err.value.field == "owner_id"


def test_a_partnership_managers_new_partner_is_theirs(session):
    pm = _viewer(session, role="partnership_manager")
    partner = _create(session, pm)
    assert partner.owner_id == pm.id


def test_a_partnership_manager_may_not_add_a_partner_for_someone_else(session):
    pm = _viewer(session, role="partnership_manager")
    other = make_user(session, role="partnership_manager")
    with pytest.raises(Forbidden):
        _create(session, pm, owner_id=other.id)


def test_a_partnership_manager_may_not_give_their_partner_away(session):
    pm = _viewer(session, role="partnership_manager")
    other = make_user(session, role="partnership_manager")
    partner = make_partner(session, owner_id=pm.id)
    with pytest.raises(Forbidden):
        partners.update_partner(session=session, viewer=pm, partner_id=partner.id,
                                owner_id=other.id)
    with pytest.raises(Forbidden):
        partners.update_partner(session=session, viewer=pm, partner_id=partner.id,
                                owner_id=None)
    assert partner.owner_id == pm.id
    assert _audit(session, partner.id) == []


def test_a_sales_manager_may_hand_a_partner_to_another_owner(session):
    sm = _viewer(session, role="sales_manager")
    pm = make_user(session, role="partnership_manager")
    partner = make_partner(session)
    partners.update_partner(session=session, viewer=sm, partner_id=partner.id, owner_id=pm.id)
    assert partner.owner_id == pm.id


def test_a_partnership_manager_neither_sees_nor_changes_another_managers_partner(session):
    pm = _viewer(session, role="partnership_manager")
    other = make_user(session, role="partnership_manager")
    partner = make_partner(session, owner_id=other.id, name="Not Mine")
    with pytest.raises(NotFound):
        partners.get_partner(session=session, viewer=pm, partner_id=partner.id)
    # Refused word for word as an unknown id is: nothing says it exists, nor its name.
    with pytest.raises(NotFound) as unknown:
        partners.update_partner(session=session, viewer=pm, partner_id=uuid.uuid4(),
                                notes="mine now")
    with pytest.raises(NotFound) as refused:
        partners.update_partner(session=session, viewer=pm, partner_id=partner.id,
                                notes="mine now")
    assert str(refused.value) == str(unknown.value) == "No such partner."
    assert partner.notes is None


def test_a_partnership_manager_updates_their_own_partner(session):
    pm = _viewer(session, role="partnership_manager")
    partner = make_partner(session, owner_id=pm.id)
    partners.update_partner(session=session, viewer=pm, partner_id=partner.id,
                            relationship_health="at_risk", owner_id=pm.id)
    assert partner.relationship_health == "at_risk"


def test_an_update_audits_only_what_really_changed(session):
    vp = _viewer(session)
    partner = make_partner(session, domain="FinOps", notes="old")
    partners.update_partner(session=session, viewer=vp, partner_id=partner.id,
                            domain="FinOps", notes="new")
    [entry] = _audit(session, partner.id)
    assert entry.old_values == {"notes": "old"} and entry.new_values == {"notes": "new"}


def test_an_update_that_changes_nothing_writes_nothing(session):
    vp = _viewer(session)
    partner = make_partner(session, domain="Security")
    partners.update_partner(session=session, viewer=vp, partner_id=partner.id,
                            domain="Security")
    assert _audit(session, partner.id) == []


def test_an_unknown_field_is_refused_by_name(session):
    vp = _viewer(session)
    partner = make_partner(session)
    with pytest.raises(ValidationError) as err:
        partners.update_partner(session=session, viewer=vp, partner_id=partner.id,
                                created_at=date(2020, 1, 1))
    assert err.value.field == "created_at"


def test_deleting_a_partner_takes_its_deals_history_commissions_and_touches(session):
    vp = _viewer(session)
    partner = make_partner(session)
    keep = make_partner(session)
    deal = make_opportunity(session, partner)
    kept_deal = make_opportunity(session, keep)
    make_structure(session, partner)
    partners.log_touch(session=session, viewer=vp, partner_id=partner.id,
                       activity_type="call", occurred_on=local_today())
    task = Task(user_id=vp.id, opportunity_id=deal.id, title="Follow up")
    session.add(task)
    session.flush()

    partners.delete_partner(session=session, viewer=vp, partner_id=partner.id)

    def count(model, *where):
        return session.scalar(select(func.count()).select_from(model).where(*where))

    assert count(Partner, Partner.id == partner.id) == 0
    assert count(Opportunity, Opportunity.partner_id == partner.id) == 0
    assert count(StageHistory, StageHistory.opportunity_id == deal.id) == 0
    assert count(CommissionStructure, CommissionStructure.partner_id == partner.id) == 0
    assert count(PartnerActivity, PartnerActivity.partner_id == partner.id) == 0
    assert count(Opportunity, Opportunity.id == kept_deal.id) == 1
    session.refresh(task)
    assert task.opportunity_id is None
    [entry] = [e for e in _audit(session, partner.id) if e.action == "delete"]
    assert entry.old_values["opportunities"] == 1
    assert entry.old_values["commission_structures"] == 1


def test_a_partnership_manager_cannot_delete_another_managers_partner(session):
    pm = _viewer(session, role="partnership_manager")
    partner = make_partner(session, owner_id=make_user(session, role="vp").id)
    with pytest.raises(NotFound, match=r"^No such partner\.$"):
        partners.delete_partner(session=session, viewer=pm, partner_id=partner.id)
    assert session.get(Partner, partner.id) is not None


def test_deleting_an_unknown_partner_is_not_found(session):
    vp = _viewer(session)
    with pytest.raises(NotFound):
        partners.delete_partner(session=session, viewer=vp,
                                partner_id="00000000-0000-0000-0000-000000000002")


@pytest.mark.parametrize("searched, found", [
    ("50%", ["Margin 50% Partner"]),
    ("a_b", ["Alpha a_b Partner"]),
])
def test_directory_search_matches_percent_and_underscore_literally(session, searched, found):
    vp = _viewer(session, role="vp")
    for name in ("Margin 50% Partner", "Margin 500 Partner", "Alpha a_b Partner",
                 "Alpha axb Partner"):
        make_partner(session, name=name)
    rows = partners.list_directory(session=session, viewer=vp, search=searched)
    assert [row.name for row in rows] == found


# --- touches ---------------------------------------------------------------------------

def test_a_touch_is_logged_by_the_viewer_and_listed_newest_first(session):
    pm = _viewer(session, role="partnership_manager")
    partner = make_partner(session, owner_id=pm.id)
    today = local_today()
    partners.log_touch(session=session, viewer=pm, partner_id=partner.id,
                       activity_type="qbr", occurred_on=today - timedelta(days=30),
                       summary="Quarterly review")
    latest = partners.log_touch(session=session, viewer=pm, partner_id=partner.id,
                                activity_type="call", occurred_on=today.isoformat())
    touches = partners.list_touches(session=session, viewer=pm, partner_id=partner.id)
    assert [t.activity_type for t in touches] == ["call", "qbr"]
    assert latest.user_id == pm.id and latest.occurred_on == today
    [row] = partners.list_directory(session=session, viewer=pm)
    assert row.last_touch == today
    assert _audit(session, latest.id, "partner_activity")[0].action == "log_touch"


@pytest.mark.parametrize("activity_type, occurred_on, field", [
    ("lunch", None, "activity_type"),
    ("call", "tomorrow", "occurred_on"),
    ("call", "1999-12-31", "occurred_on"),
    ("call", "not a date", "occurred_on"),
    ("call", "", "occurred_on"),
])
def test_bad_touches_name_the_field(session, activity_type, occurred_on, field):
    vp = _viewer(session)
    partner = make_partner(session)
    if occurred_on is None:
        occurred_on = local_today()
    elif occurred_on == "tomorrow":
        occurred_on = local_today() + timedelta(days=1)
    with pytest.raises(ValidationError) as err:
        partners.log_touch(session=session, viewer=vp, partner_id=partner.id,
                           activity_type=activity_type, occurred_on=occurred_on)
    assert err.value.field == field


def test_a_partnership_manager_cannot_log_a_touch_on_another_managers_partner(session):
    pm = _viewer(session, role="partnership_manager")
    partner = make_partner(session, owner_id=make_user(session, role="vp").id)
    with pytest.raises(NotFound, match=r"^No such partner\.$"):
        partners.log_touch(session=session, viewer=pm, partner_id=partner.id,
                           activity_type="email", occurred_on=local_today())
    with pytest.raises(NotFound):
        partners.list_touches(session=session, viewer=pm, partner_id=partner.id)


def test_the_cli_system_viewer_may_do_anything(session):
    system = Viewer.system()
    partner = _create(session, system, name="From CLI")
    partners.update_partner(session=session, viewer=system, partner_id=partner.id,
                            notes="imported")
    assert partner.notes == "imported"
    assert {e.actor_email for e in _audit(session, partner.id)} == {"cli"}
