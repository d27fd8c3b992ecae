"""Deal registration: links, the public form's checks, conflicts, decisions, expiry, alerts."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from isv.auth import Viewer, token_hash
from isv.errors import (
    Conflict,
    Forbidden,
    NotFound,
    RateLimited,
    Unauthenticated,
    ValidationError,
    ValidationErrors,
)
from isv.models import (
    Alert,
    AuditEntry,
    DealRegistration,
    Opportunity,
    RegistrationLink,
    StageHistory,
)
from isv.services import alerts, gdpr, partners, registrations
from isv.services.settings import local_date, local_today
from isv.types import utcnow
from tests.factories import make_opportunity, make_partner, make_user, viewer_of

SYSTEM = Viewer.system("tests")


@pytest.fixture
def program(session):
    """Pia owns Nimbus; Sid is a sales manager; Ola is another partnership manager."""
    pia = make_user(session, role="partnership_manager", first_name="Pia", last_name="Park")
    ola = make_user(session, role="partnership_manager", first_name="Ola", last_name="Olsen")
    sid = make_user(session, role="sales_manager", first_name="Sid", last_name="Sato")
    admin = make_user(session, role="admin")
    nimbus = make_partner(session, name="Nimbus Cloud", owner_id=pia.id)
    other = make_partner(session, name="Orbit Systems", owner_id=ola.id)
    return {"pia": pia, "ola": ola, "sid": sid, "admin": admin, "nimbus": nimbus,
            "other": other}


def link_for(session, partner, owner, days=90):
    return registrations.create_link(session=session, viewer=viewer_of(owner),
                                     partner_id=partner.id, days=days)


def register(session, secret, **overrides):
    values = dict(customer_name="Acme, Inc.", contact_email="buyer@acme.com",
                  deal_value="48000.50", expected_close_date=local_today() + timedelta(days=40),
                  notes="Needs FinOps dashboards")
    values.update(overrides)
    return registrations.submit_registration(session=session, secret=secret, **values)


def audits(session, entity_type, entity_id):
    return list(session.scalars(select(AuditEntry).where(
        AuditEntry.entity_type == entity_type, AuditEntry.entity_id == str(entity_id))
        .order_by(AuditEntry.at, AuditEntry.id)))


# --- links ---------------------------------------------------------------------------------

def test_a_link_is_shown_once_stored_as_its_hash_and_audited_without_it(session, program):
    made = link_for(session, program["nimbus"], program["pia"])
    row = session.get(RegistrationLink, made.link.id)
    assert len(made.secret) >= 43 and row.token_hash == token_hash(made.secret)
    assert made.secret not in row.token_hash
    assert row.expires_at - row.created_at == timedelta(days=90)
    [entry] = audits(session, "registration_link", row.id)
    assert entry.action == "create" and entry.actor_id == program["pia"].id
    assert made.secret not in str(entry.new_values) and row.token_hash not in str(
        entry.new_values)
    assert registrations.open_link(session=session, secret=made.secret).partner_name == \
        "Nimbus Cloud"


def test_only_the_partners_writers_make_and_revoke_its_links(session, program):
    with pytest.raises(NotFound):
        link_for(session, program["nimbus"], program["ola"])
    with pytest.raises(Forbidden):
        link_for(session, program["nimbus"], program["admin"])
    made = link_for(session, program["nimbus"], program["sid"])
    with pytest.raises(NotFound):
        registrations.revoke_link(session=session, viewer=viewer_of(program["ola"]),
                                  link_id=made.link.id)
    registrations.revoke_link(session=session, viewer=viewer_of(program["pia"]),
                              link_id=made.link.id)
    assert [r.status for r in registrations.list_links(
        session=session, viewer=viewer_of(program["pia"]),
        partner_id=program["nimbus"].id)] == ["revoked"]


def test_a_revoked_expired_or_unknown_link_opens_nothing(session, program):
    revoked = link_for(session, program["nimbus"], program["pia"])
    registrations.revoke_link(session=session, viewer=viewer_of(program["pia"]),
                              link_id=revoked.link.id)
    expired = link_for(session, program["nimbus"], program["pia"], days=30)
    later = utcnow() + timedelta(days=31)
    with pytest.raises(Unauthenticated, match="revoked"):
        register(session, revoked.secret)
    with pytest.raises(Unauthenticated, match="expired"):
        registrations.submit_registration(
            session=session, secret=expired.secret, customer_name="Acme",
            contact_email="a@acme.com", deal_value="1000",
            expected_close_date=local_today() + timedelta(days=60), now=later)
    with pytest.raises(Unauthenticated, match="not valid"):
        register(session, "not-a-link")
    with pytest.raises(Unauthenticated, match="not valid"):
        register(session, "x" * 5000)
    assert session.scalar(select(func.count()).select_from(DealRegistration)) == 0


def test_a_link_days_choice_is_checked_and_live_links_are_bounded(session, program):
    with pytest.raises(ValidationError, match="days"):
        link_for(session, program["nimbus"], program["pia"], days=7)
    for _ in range(registrations.MAX_LIVE_LINKS):
        link_for(session, program["nimbus"], program["pia"])
    with pytest.raises(ValidationError, match="live links"):
        link_for(session, program["nimbus"], program["pia"])


# --- the form's input ------------------------------------------------------------------------

def test_every_bad_field_is_refused_at_once_by_name_and_nothing_is_written(session, program):
    made = link_for(session, program["nimbus"], program["pia"])
    with pytest.raises(ValidationErrors) as caught:
        register(session, made.secret, customer_name="  ", contact_email="not-an-email",
                 deal_value="12.345", expected_close_date=local_today() - timedelta(days=1),
                 notes="x" * (registrations.NOTES_MAX + 1))
    reasons = {e.field: e.reason for e in caught.value.errors}
    assert reasons == {"customer_name": "is required",
                       "contact_email": "'not-an-email' is not an email address",
                       "deal_value": "has more than two decimals",
                       "expected_close_date": reasons["expected_close_date"],
                       "notes": f"is longer than {registrations.NOTES_MAX} characters"}
    assert "in the past" in reasons["expected_close_date"]
    assert session.scalar(select(func.count()).select_from(DealRegistration)) == 0


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("deal_value", "0", "at least 1"),
    ("deal_value", "1e12", "at most"),
    ("deal_value", "lots", "not an amount"),
    ("expected_close_date", "31/12/2027", "not a date"),
    ("customer_name", "Inc.", "not only punctuation"),
    ("customer_name", "x" * 256, "longer than 255"),
    ("customer_name", "Acme\x00", "control characters"),
])
def test_a_bad_value_is_named_with_its_reason(session, program, field, value, reason):
    made = link_for(session, program["nimbus"], program["pia"])
    with pytest.raises(ValidationError) as caught:
        register(session, made.secret, **{field: value})
    assert caught.value.field == field and reason in caught.value.reason


def test_the_amount_is_exact(session, program):
    made = link_for(session, program["nimbus"], program["pia"])
    row = register(session, made.secret, deal_value="48000.10")
    assert row.deal_value == Decimal("48000.10") and row.status == "pending"


def test_a_link_takes_so_many_registrations_an_hour(session, program):
    made = link_for(session, program["nimbus"], program["pia"])
    now = utcnow()
    for n in range(registrations.PER_WINDOW):
        registrations.submit_registration(
            session=session, secret=made.secret, customer_name=f"Customer {n}",
            contact_email=f"b{n}@c{n}.com", deal_value="1000",
            expected_close_date=local_today() + timedelta(days=30), now=now)
    with pytest.raises(RateLimited, match="try again in"):
        registrations.submit_registration(
            session=session, secret=made.secret, customer_name="One more",
            contact_email="x@onemore.com", deal_value="1000",
            expected_close_date=local_today() + timedelta(days=30),
            now=now + timedelta(minutes=5))
    registrations.submit_registration(
        session=session, secret=made.secret, customer_name="Next hour",
        contact_email="x@nexthour.com", deal_value="1000",
        expected_close_date=local_today() + timedelta(days=30), now=now + timedelta(minutes=61))


def test_an_arrival_is_audited_as_the_link_with_what_was_sent(session, program):
    made = link_for(session, program["nimbus"], program["pia"])
    row = register(session, made.secret)
    [entry] = audits(session, "deal_registration", row.id)
    assert entry.action == "register" and entry.actor_id is None
    assert entry.actor_email == registrations.PUBLIC_ACTOR
    assert entry.new_values["customer_name"] == "Acme, Inc."
    assert entry.new_values["deal_value"] == "48000.50"


# --- conflicts ----------------------------------------------------------------------------

def test_an_open_deal_of_the_same_customer_is_flagged_by_name_or_domain(session, program):
    by_name = make_opportunity(session, program["other"], customer_name="ACME Corporation")
    by_domain = make_opportunity(session, program["other"], customer_name="Acme Robotics",
                                 customer_contact_email="cto@acme.com")
    make_opportunity(session, program["other"], customer_name="Acme", stage="closed_lost",
                     actual_close_date=local_today(), lost_reason="price")
    make_opportunity(session, program["other"], customer_name="Globex",
                     customer_contact_email="someone@gmail.com")
    made = link_for(session, program["nimbus"], program["pia"])
    row = register(session, made.secret, contact_email="buyer@acme.com")
    assert {(c["id"], tuple(c["reasons"])) for c in row.conflicts} == {
        (str(by_name.id), ("name",)), (str(by_domain.id), ("email domain",))}


def test_free_mail_never_makes_a_conflict(session, program):
    make_opportunity(session, program["other"], customer_name="Initech",
                     customer_contact_email="peter@gmail.com")
    made = link_for(session, program["nimbus"], program["pia"])
    row = register(session, made.secret, customer_name="Globex",
                   contact_email="hank@gmail.com")
    assert row.conflicts == []


def test_two_registrations_of_one_customer_flag_each_other(session, program):
    first = register(session, link_for(session, program["nimbus"], program["pia"]).secret)
    second = register(session, link_for(session, program["other"], program["ola"]).secret,
                      customer_name="Acme Ltd", contact_email="cfo@other.example")
    assert [(c["kind"], c["id"]) for c in second.conflicts] == [
        ("registration", str(first.id))]
    assert [(c["kind"], c["id"]) for c in first.conflicts] == [
        ("registration", str(second.id))]


def test_an_approved_registration_protects_only_for_its_days(session, program):
    first = register(session, link_for(session, program["nimbus"], program["pia"]).secret)
    registrations.approve_registration(session=session, viewer=viewer_of(program["pia"]),
                                       registration_id=first.id)
    deal_id = first.opportunity_id
    session.get(Opportunity, deal_id).stage = "closed_lost"  # only the protection is left
    deal = session.get(Opportunity, deal_id)
    deal.actual_close_date, deal.lost_reason = local_today(), "gone"
    session.flush()
    secret = link_for(session, program["other"], program["ola"], days=365).secret
    during = register(session, secret, customer_name="Acme GmbH", contact_email="a@x.example")
    assert [c["id"] for c in during.conflicts] == [str(first.id)]
    after = registrations.submit_registration(
        session=session, secret=secret, customer_name="Acme", contact_email="b@y.example",
        deal_value="100", expected_close_date=local_today() + timedelta(days=200),
        now=first.protected_until + timedelta(minutes=1))
    assert str(first.id) not in [c["id"] for c in after.conflicts]


def test_a_partnership_manager_sees_that_a_hidden_record_collides_not_which(session, program):
    hidden = make_opportunity(session, program["other"], customer_name="Acme")
    row = register(session, link_for(session, program["nimbus"], program["pia"]).secret)
    [mine] = registrations.list_registrations(session=session, viewer=viewer_of(program["pia"]))[0]
    [ref] = mine.conflicts
    assert ref.id is None and "may not see" in ref.label and "Orbit" not in ref.label
    [seen] = registrations.list_registrations(session=session,
                                              viewer=viewer_of(program["sid"]))[0]
    assert seen.conflicts[0].id == hidden.id and "Orbit Systems" in seen.conflicts[0].label
    assert registrations.list_registrations(session=session,
                                            viewer=viewer_of(program["ola"]))[0] == []
    assert mine.id == row.id


# --- decisions -----------------------------------------------------------------------------

def test_approving_creates_the_partners_deal_with_its_history_and_protection(session, program):
    row = register(session, link_for(session, program["nimbus"], program["pia"]).secret)
    approved = registrations.approve_registration(
        session=session, viewer=viewer_of(program["pia"]), registration_id=row.id)
    deal = session.get(Opportunity, approved.opportunity_id)
    assert (deal.partner_id, deal.customer_name, deal.deal_value, deal.stage) == (
        program["nimbus"].id, "Acme, Inc.", Decimal("48000.50"), "lead")
    assert deal.assigned_user_id == program["pia"].id
    assert deal.customer_contact_email == "buyer@acme.com"
    [history] = session.scalars(select(StageHistory).where(
        StageHistory.opportunity_id == deal.id)).all()
    assert (history.from_stage, history.to_stage) == (None, "lead")
    assert "registration approved" in history.notes
    assert approved.status == "approved"
    assert approved.protected_until - approved.decided_at == timedelta(days=90)
    assert [e.action for e in audits(session, "deal_registration", row.id)] == [
        "register", "approve"]
    assert [e.action for e in audits(session, "opportunity", deal.id)] == ["create"]
    with pytest.raises(Conflict, match="approved"):
        registrations.approve_registration(session=session, viewer=viewer_of(program["sid"]),
                                           registration_id=row.id)


def test_only_the_partners_owner_a_vp_or_a_sales_manager_decides(session, program):
    row = register(session, link_for(session, program["nimbus"], program["pia"]).secret)
    with pytest.raises(NotFound):
        registrations.approve_registration(session=session, viewer=viewer_of(program["ola"]),
                                           registration_id=row.id)
    with pytest.raises(Forbidden):
        registrations.reject_registration(session=session, viewer=viewer_of(program["admin"]),
                                          registration_id=row.id, reason="no")
    registrations.reject_registration(session=session, viewer=viewer_of(program["sid"]),
                                      registration_id=row.id, reason="Already ours")
    assert row.status == "rejected" and row.decided_by_id == program["sid"].id


def test_a_rejection_needs_a_reason_and_is_audited(session, program):
    row = register(session, link_for(session, program["nimbus"], program["pia"]).secret)
    with pytest.raises(ValidationError) as caught:
        registrations.reject_registration(session=session, viewer=viewer_of(program["pia"]),
                                          registration_id=row.id, reason="   ")
    assert (caught.value.field, caught.value.reason) == ("reason", "is required")
    registrations.reject_registration(session=session, viewer=viewer_of(program["pia"]),
                                      registration_id=row.id, reason="Customer is ours")
    [_, entry] = audits(session, "deal_registration", row.id)
    assert entry.action == "reject" and entry.new_values["reject_reason"] == "Customer is ours"


def test_a_pending_registration_expires_after_its_days(session, program):
    row = register(session, link_for(session, program["nimbus"], program["pia"]).secret)
    later = row.expires_at + timedelta(seconds=1)
    assert registrations.status_of(row, later) == "expired"
    with pytest.raises(Conflict, match="expired"):
        registrations.approve_registration(session=session, viewer=viewer_of(program["pia"]),
                                           registration_id=row.id, now=later)
    assert registrations.expire_pending(session=session, viewer=SYSTEM, now=later) == 1
    assert row.status == "expired"
    assert [e.action for e in audits(session, "deal_registration", row.id)] == [
        "register", "expire"]
    assert row.expires_at - row.submitted_at == timedelta(days=30)


def test_the_filters_pick_status_and_partner(session, program):
    a = register(session, link_for(session, program["nimbus"], program["pia"]).secret)
    b = register(session, link_for(session, program["other"], program["ola"]).secret,
                 customer_name="Globex", contact_email="x@globex.com")
    registrations.reject_registration(session=session, viewer=viewer_of(program["sid"]),
                                      registration_id=b.id, reason="dup")
    sid = viewer_of(program["sid"])

    def ids(**filters):
        return [r.id for r in registrations.list_registrations(session=session, viewer=sid,
                                                               **filters)[0]]
    assert ids(status="pending") == [a.id]
    assert ids(status="rejected") == [b.id]
    assert ids(partner_id=program["other"].id) == [b.id]
    assert set(ids()) == {a.id, b.id}
    with pytest.raises(ValidationError, match="status"):
        ids(status="maybe")


# --- alerts --------------------------------------------------------------------------------

def _alerts(session, user):
    return list(session.scalars(select(Alert).where(Alert.user_id == user.id,
                                                    Alert.alert_type == "deal_registration")
                                .order_by(Alert.created_at, Alert.id)))


def test_a_new_registration_alerts_the_partners_owner_at_once_and_once(session, program):
    make_opportunity(session, program["nimbus"], customer_name="Acme")
    row = register(session, link_for(session, program["nimbus"], program["pia"]).secret)
    [alert] = _alerts(session, program["pia"])
    assert (alert.entity_type, alert.entity_id, alert.priority) == (
        "registration", row.id, "high")
    assert "Nimbus Cloud registered a deal: Acme, Inc." in alert.message
    assert "collides with 1 other record" in alert.message
    assert alerts.deal_registration(session=session) == 0


def test_expiring_and_ending_protection_alert_a_week_ahead(session, program):
    pending = register(session, link_for(session, program["nimbus"], program["pia"]).secret)
    approved = register(session, link_for(session, program["nimbus"], program["pia"]).secret,
                        customer_name="Globex", contact_email="x@globex.com")
    registrations.approve_registration(session=session, viewer=viewer_of(program["pia"]),
                                       registration_id=approved.id)
    alerts.deal_registration(session=session, today=local_date(pending.expires_at)
                             - timedelta(days=3))
    messages = [a.message for a in _alerts(session, program["pia"])]
    assert any("expires on" in m and "Acme" in m for m in messages)
    alerts.deal_registration(session=session, today=local_date(approved.protected_until)
                             - timedelta(days=2))
    messages = [a.message for a in _alerts(session, program["pia"])]
    assert any("protection for Globex ends on" in m for m in messages)


# --- what else holds registrations -----------------------------------------------------------

def test_deleting_a_partner_takes_its_links_registrations_and_their_alerts(session, program):
    register(session, link_for(session, program["nimbus"], program["pia"]).secret)
    assert _alerts(session, program["pia"])
    partners.delete_partner(session=session, viewer=viewer_of(program["sid"]),
                            partner_id=program["nimbus"].id)
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(DealRegistration)) == 0
    assert session.scalar(select(func.count()).select_from(RegistrationLink)) == 0
    assert _alerts(session, program["pia"]) == []


def test_the_personal_data_export_lists_links_and_decisions_without_the_secret(session,
                                                                             program):
    made = link_for(session, program["nimbus"], program["pia"])
    row = register(session, made.secret)
    registrations.reject_registration(session=session, viewer=viewer_of(program["pia"]),
                                      registration_id=row.id, reason="Not a fit")
    data = gdpr.export_user(session=session, viewer=SYSTEM, user_id=program["pia"].id)
    text = gdpr.to_json(data)
    assert [link["id"] for link in data["registration_links"]] == [str(made.link.id)]
    assert "token_hash" not in text and made.secret not in text
    assert [(d["customer_name"], d["reject_reason"]) for d in data["registration_decisions"]
            ] == [("Acme, Inc.", "Not a fit")]
