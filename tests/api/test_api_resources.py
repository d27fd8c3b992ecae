"""Partners, opportunities and the dashboard through the API: same scope, rules and locks as
the pages, because they are the same services."""

from __future__ import annotations

import itertools
import json
from datetime import date

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from isv import cli
from isv.auth import Viewer
from isv.db import session_scope
from isv.models import AuditEntry, Opportunity, Partner
from isv.services import opportunities as opps
from isv.services import partners, users, validate
from tests.api.conftest import SYSTEM

pytestmark = pytest.mark.postgres
API = "/api/v1"
_n = itertools.count(1)


def _user_id(email: str):
    with session_scope() as session:
        return users.get_by_email(session=session, viewer=SYSTEM, email=email).id


def _partner(owner_email: str | None = None) -> str:
    with session_scope() as session:
        owner = _user_id(owner_email) if owner_email else None
        partner = partners.create_partner(session=session, viewer=SYSTEM,
                                          name=f"Partner {next(_n)}", domain="FinOps",
                                          owner_id=owner)
        session.commit()
        return str(partner.id)


def _deal(partner_id: str, **extra) -> str:
    with session_scope() as session:
        opp = opps.create_opportunity(session=session, viewer=SYSTEM, partner_id=partner_id,
                                      customer_name=f"Customer {next(_n)}",
                                      deal_value="10000.00", **extra)
        session.commit()
        return str(opp.id)


def _count(model) -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(model))


@pytest.fixture(scope="module")
def world(api):
    """A partner of the module's partnership manager and one of another manager."""
    other_pm = api.new_user("partnership_manager")
    own, foreign = _partner(api.emails["partnership_manager"]), _partner(other_pm)
    return {"own": own, "foreign": foreign, "own_deal": _deal(own),
            "foreign_deal": _deal(foreign), "other_pm": other_pm}


# --- scope ---------------------------------------------------------------------------------

def test_a_partnership_manager_lists_only_their_own_partners_and_deals(api, world):
    headers = api.headers("partnership_manager")
    listed = api.client.get(f"{API}/partners?per_page=200", headers=headers).json()["data"]
    assert world["own"] in {p["id"] for p in listed}
    assert world["foreign"] not in {p["id"] for p in listed}
    deals = api.client.get(f"{API}/opportunities?per_page=200", headers=headers).json()
    ids = {d["id"] for d in deals["data"]}
    assert world["own_deal"] in ids and world["foreign_deal"] not in ids


@pytest.mark.parametrize("path", ["/partners/{foreign}", "/partners/{foreign}/opportunities",
                                  "/partners/{foreign}/commissions",
                                  "/opportunities/{foreign_deal}",
                                  "/opportunities/{foreign_deal}/history"])
def test_reading_outside_their_scope_is_not_found_for_a_partnership_manager(api, world, path):
    answer = api.client.get(API + path.format(**world),
                            headers=api.headers("partnership_manager"))
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "NOT_FOUND"
    # The same record is there for a sales manager.
    assert api.client.get(API + path.format(**world),
                          headers=api.headers("sales_manager")).status_code == 200


def test_writing_another_managers_deal_is_refused_and_writes_nothing(api, world):
    headers = api.headers("partnership_manager")
    before = _count(AuditEntry)
    for answer in (
        api.client.put(f"{API}/opportunities/{world['foreign_deal']}", headers=headers,
                       json={"deal_value": "1.00", "version": 1}),
        api.client.post(f"{API}/opportunities/{world['foreign_deal']}/stage", headers=headers,
                        json={"stage": "demo"}),
        api.client.delete(f"{API}/opportunities/{world['foreign_deal']}", headers=headers),
        api.client.put(f"{API}/partners/{world['foreign']}", headers=headers,
                       json={"notes": "mine now"}),
    ):
        # As an unknown id: outside their scope they learn nothing of the record.
        assert answer.status_code == 404, answer.text
    with session_scope() as session:
        deal = session.get(Opportunity, validate.parse_id("id", world["foreign_deal"]))
        assert (deal.deal_value, deal.stage, deal.version) == (10000, "lead", 1)
        assert session.get(Partner, validate.parse_id("id", world["foreign"])).notes is None
    assert _count(AuditEntry) == before


def test_a_deal_for_another_managers_partner_is_refused_naming_the_partner(api, world):
    before = _count(Opportunity)
    answer = api.client.post(f"{API}/opportunities", headers=api.headers("partnership_manager"),
                             json={"partner_id": world["foreign"], "customer_name": "X",
                                   "deal_value": "5.00"})
    assert answer.status_code == 422
    assert answer.json()["error"]["details"]["field"] == "partner_id"
    assert _count(Opportunity) == before


@pytest.mark.parametrize("role, status", [("vp", 201), ("sales_manager", 201),
                                          ("partnership_manager", 201), ("admin", 403)])
def test_who_may_add_partners_deals_and_commission_structures(api, world, role, status):
    headers = api.headers(role)
    partner_id = world["own"]
    before = (_count(Partner), _count(Opportunity))
    answers = [
        api.client.post(f"{API}/partners", headers=headers,
                        json={"name": f"Matrix {next(_n)}", "domain": "Security"}),
        api.client.post(f"{API}/opportunities", headers=headers,
                        json={"partner_id": partner_id, "customer_name": "Matrix Co",
                              "deal_value": "100.00"}),
    ]
    assert [a.status_code for a in answers] == [status, status], [a.text for a in answers]
    if status == 403:
        assert all(a.json()["error"]["code"] == "FORBIDDEN" for a in answers)
        assert (_count(Partner), _count(Opportunity)) == before


@pytest.mark.parametrize("role, status", [("vp", 201), ("sales_manager", 201),
                                          ("partnership_manager", 201), ("admin", 403)])
def test_who_may_add_commission_structures(api, world, role, status):
    answer = api.client.post(f"{API}/partners/{world['own']}/commissions",
                             headers=api.headers(role),
                             json={"structure_type": "msp", "commission_percentage": "5",
                                   "effective_from": f"20{10 + next(_n) % 80:02d}-01-01",
                                   "effective_to": None})
    assert answer.status_code == status, answer.text


# --- the deal's life ---------------------------------------------------------------------

def test_a_deal_created_and_moved_through_the_api_has_history_and_audit_naming_the_user(api,
                                                                                      world):
    headers = api.headers("sales_manager")
    created = api.client.post(f"{API}/opportunities", headers=headers,
                              json={"partner_id": world["own"], "customer_name": "Northwind",
                                    "deal_value": "12500.50", "expected_close_date":
                                    date.today().isoformat()})
    assert created.status_code == 201, created.text
    deal = created.json()["data"]
    assert deal["deal_value"] == "12500.50" and deal["stage"] == "lead"
    moved = api.client.post(f"{API}/opportunities/{deal['id']}/stage", headers=headers,
                            json={"stage": "proposal", "version": deal["version"],
                                  "note": "pricing sent"})
    assert moved.status_code == 200
    assert moved.json()["data"]["probability"] == "75.00"
    history = api.client.get(f"{API}/opportunities/{deal['id']}/history",
                             headers=headers).json()["data"]
    me = _user_id(api.emails["sales_manager"])
    assert [(h["from_stage"], h["to_stage"]) for h in history] == [(None, "lead"),
                                                                  ("lead", "proposal")]
    assert history[-1]["changed_by"] == str(me) and history[-1]["notes"] == "pricing sent"
    with session_scope() as session:
        actions = session.execute(select(AuditEntry.action, AuditEntry.actor_email).where(
            AuditEntry.entity_id == deal["id"]).order_by(AuditEntry.id)).all()
    assert {(a, e) for a, e in actions} == {("create", api.emails["sales_manager"]),
                                           ("move_stage", api.emails["sales_manager"])}


def test_a_lost_deal_without_a_reason_is_refused_naming_lost_reason(api, world):
    deal = _deal(world["own"])
    answer = api.client.post(f"{API}/opportunities/{deal}/stage",
                             headers=api.headers("sales_manager"),
                             json={"stage": "closed_lost"})
    assert answer.status_code == 422
    assert answer.json()["error"]["details"] == {"field": "lost_reason",
                                                 "reason": "is required when a deal is lost"}


def test_an_api_save_based_on_data_the_ui_changed_since_is_refused_naming_who_and_when(api,
                                                                                   world):
    deal = _deal(world["own"])
    etag = api.client.get(f"{API}/opportunities/{deal}",
                          headers=api.headers("sales_manager")).headers["ETag"]
    with session_scope() as session:  # the grid's save, as the VP
        vp = users.get_by_email(session=session, viewer=SYSTEM, email=api.emails["vp"])
        opps.update_opportunity(session=session, viewer=Viewer.of(vp), opportunity_id=deal,
                                expected_version=1, deal_value="20000.00")
        session.commit()
    answer = api.client.put(f"{API}/opportunities/{deal}",
                            headers={**api.headers("sales_manager"), "If-Match": etag},
                            json={"deal_value": "1.00"})
    assert answer.status_code == 409
    error = answer.json()["error"]
    assert error["code"] == "CONFLICT" and "Changed by vp Tester at" in error["message"]
    with session_scope() as session:
        assert session.get(Opportunity, validate.parse_id("id", deal)).deal_value == 20000


def test_a_ui_save_based_on_data_the_api_changed_since_is_refused(api, world):
    deal = _deal(world["own"])
    answer = api.client.put(f"{API}/opportunities/{deal}", headers=api.headers("vp"),
                            json={"version": 1, "customer_name": "Renamed by API"})
    assert answer.status_code == 200 and answer.headers["ETag"] == '"2"'
    from isv.errors import Conflict
    with session_scope() as session, pytest.raises(Conflict, match="Changed by vp Tester"):
        sm = users.get_by_email(session=session, viewer=SYSTEM,
                                email=api.emails["sales_manager"])
        opps.update_opportunity(session=session, viewer=Viewer.of(sm), opportunity_id=deal,
                                expected_version=1, customer_name="Renamed in the grid")


def test_an_update_changes_only_the_fields_sent(api, world):
    deal = _deal(world["own"], notes="keep me")
    answer = api.client.put(f"{API}/opportunities/{deal}", headers=api.headers("vp"),
                            json={"version": 1, "deal_value": 777})
    data = answer.json()["data"]
    assert data["deal_value"] == "777.00" and data["notes"] == "keep me"


# --- lists -------------------------------------------------------------------------------

def test_the_list_filters_sorts_and_pages_with_a_total(api):
    partner = _partner()
    for value in ("300.00", "100.00", "200.00"):
        with session_scope() as session:
            opps.create_opportunity(session=session, viewer=SYSTEM, partner_id=partner,
                                    customer_name="Paged", deal_value=value)
            session.commit()
    headers = api.headers("vp")
    first = api.client.get(f"{API}/opportunities", headers=headers,
                           params={"partner_id": partner, "sort": "deal_value",
                                   "per_page": 2}).json()
    assert [d["deal_value"] for d in first["data"]] == ["100.00", "200.00"]
    assert first["meta"]["pagination"] == {"page": 1, "per_page": 2, "total": 3, "pages": 2}
    second = api.client.get(f"{API}/opportunities", headers=headers,
                            params={"partner_id": partner, "sort": "deal_value",
                                    "per_page": 2, "page": 2}).json()
    assert [d["deal_value"] for d in second["data"]] == ["300.00"]
    too_big = api.client.get(f"{API}/opportunities?per_page=201", headers=headers)
    assert too_big.status_code == 422
    assert too_big.json()["error"]["details"]["field"] == "per_page"
    bad_sort = api.client.get(f"{API}/opportunities?sort=colour", headers=headers)
    assert bad_sort.json()["error"]["details"]["field"] == "sort"


def test_the_pipeline_totals_count_every_matching_deal_per_stage(api):
    partner = _partner()
    for stage in ("demo", "demo", "poc"):
        _deal(partner, stage=stage)
    headers = api.headers("vp")
    totals = api.client.get(f"{API}/opportunities/pipeline", headers=headers,
                            params={"partner_id": partner}).json()["data"]
    by_stage = {t["stage"]: t for t in totals}
    assert by_stage["demo"]["count"] == 2 and by_stage["demo"]["value"] == "20000.00"
    board = api.client.get(f"{API}/dashboard/pipeline", headers=headers,
                           params={"partner_id": partner, "per_stage": 1}).json()["data"]
    columns = {c["stage"]: c for c in board}
    assert columns["demo"]["count"] == 2 and len(columns["demo"]["deals"]) == 1


# --- KPIs --------------------------------------------------------------------------------

def test_the_kpis_are_the_figures_of_isv_report_kpis(api, world):
    period = f"{date.today().year}"
    printed = CliRunner().invoke(cli.main, ["report", "kpis", "--period", period,
                                            "--format", "json"])
    assert printed.exit_code == 0, printed.output
    expected = json.loads(printed.stdout)
    answer = api.client.get(f"{API}/dashboard/kpis", headers=api.headers("vp"),
                            params={"period": period})
    data = answer.json()["data"]
    # Only who is asking differs: the command is the system, here the VP; both see all.
    assert {k: v for k, v in data.items() if k != "scope"} == \
        {k: v for k, v in expected.items() if k != "scope"}
    assert data["scope"]["sees"] == expected["scope"]["sees"]


def test_kpis_for_a_partner_outside_their_scope_are_refused_like_an_unknown_name(api, world):
    with session_scope() as session:
        name = session.get(Partner, validate.parse_id("id", world["foreign"])).name
    answer = api.client.get(f"{API}/dashboard/kpis", headers=api.headers("partnership_manager"),
                            params={"period": "2026Q1", "partner": name})
    assert answer.status_code == 422
    assert answer.json()["error"]["details"] == {"field": "partner",
                                                 "reason": f"no partner named {name!r}"}


def test_a_bad_period_is_refused_naming_period(api):
    answer = api.client.get(f"{API}/dashboard/kpis", headers=api.headers("vp"),
                            params={"period": "Q9"})
    assert answer.status_code == 422
    assert answer.json()["error"]["details"]["field"] == "period"


# --- partners ------------------------------------------------------------------------------

def test_a_partner_update_with_a_stale_version_is_refused_and_a_current_one_saves(api):
    partner = _partner()
    headers = api.headers("sales_manager")
    saved = api.client.put(f"{API}/partners/{partner}", headers=headers,
                           json={"version": 1, "website": "https://acme.example"})
    assert saved.status_code == 200 and saved.json()["data"]["version"] == 2
    stale = api.client.put(f"{API}/partners/{partner}", headers=headers,
                           json={"version": 1, "notes": "late"})
    assert stale.status_code == 409


def test_partners_carry_their_tier_and_filter_on_it(api):
    gold = _partner()
    with session_scope() as session:
        partners.update_partner(session=session, viewer=SYSTEM, partner_id=gold, tier="Gold")
        session.commit()
    headers = api.headers("vp")
    assert api.client.get(f"{API}/partners/{gold}", headers=headers).json()["data"]["tier"] \
        == "Gold"
    listed = api.client.get(f"{API}/partners?tier=gold&per_page=200", headers=headers)
    assert [p["id"] for p in listed.json()["data"]] == [gold]
    untiered = api.client.get(f"{API}/partners?tier=none&per_page=200", headers=headers)
    assert gold not in [p["id"] for p in untiered.json()["data"]]
    assert all(p["tier"] is None for p in untiered.json()["data"])
    unknown = api.client.get(f"{API}/partners?tier=Diamond", headers=headers)
    assert unknown.status_code == 422
    assert unknown.json()["error"]["details"]["field"] == "tier"


def test_a_partner_deleted_through_the_api_is_gone_with_its_deals(api):
    partner = _partner()
    deal = _deal(partner)
    headers = api.headers("vp")
    assert api.client.delete(f"{API}/partners/{partner}", headers=headers).status_code == 200
    assert api.client.get(f"{API}/partners/{partner}", headers=headers).status_code == 404
    assert api.client.get(f"{API}/opportunities/{deal}", headers=headers).status_code == 404


# --- commissions ---------------------------------------------------------------------------

def test_a_structure_is_changed_with_its_version_deleted_and_quoted_in_between(api):
    partner = _partner()
    headers = api.headers("sales_manager")
    created = api.client.post(f"{API}/partners/{partner}/commissions", headers=headers,
                              json={"structure_type": "referral",
                                    "commission_percentage": "10.00",
                                    "effective_from": "2025-01-01"}).json()["data"]
    changed = api.client.put(f"{API}/commissions/{created['id']}", headers=headers,
                             json={"version": 1, "commission_percentage": "12.50"})
    assert changed.status_code == 200 and changed.json()["data"]["version"] == 2
    stale = api.client.put(f"{API}/commissions/{created['id']}", headers=headers,
                           json={"version": 1, "notes": "late"})
    assert stale.status_code == 409
    quote = api.client.post(f"{API}/commissions/calculate", headers=headers,
                            json={"partner_id": partner, "deal_value": "10000.00",
                                  "close_date": "2026-03-01"}).json()["data"]
    assert quote["applicable"]["first_year"] == "1250.00"
    assert quote["applicable"]["structure_id"] == created["id"]
    assert api.client.delete(f"{API}/commissions/{created['id']}",
                             headers=headers).status_code == 200
    empty = api.client.post(f"{API}/commissions/calculate", headers=headers,
                            json={"partner_id": partner, "deal_value": "10000.00",
                                  "close_date": "2026-03-01"}).json()["data"]
    assert empty["applicable"]["structure_id"] is None
    assert empty["applicable"]["first_year"] == "0.00"


def test_a_quote_for_a_partner_outside_scope_is_not_found(api, world):
    answer = api.client.post(f"{API}/commissions/calculate",
                             headers=api.headers("partnership_manager"),
                             json={"partner_id": world["foreign"], "deal_value": "10.00",
                                   "close_date": "2026-03-01"})
    assert answer.status_code == 404


def test_a_deal_with_several_bad_fields_is_refused_naming_each_and_nothing_is_written(api,
                                                                                     world):
    before = _count(Opportunity)
    answer = api.client.post(f"{API}/opportunities", headers=api.headers("vp"),
                             json={"partner_id": world["own"], "customer_name": " ",
                                   "deal_value": "12.345", "customer_contact_email": "nope"})
    assert answer.status_code == 422
    details = answer.json()["error"]["details"]
    assert {e["field"] for e in details["errors"]} == {"customer_name", "deal_value",
                                                       "customer_contact_email"}
    assert "has more than two decimals" in answer.json()["error"]["message"]
    assert _count(Opportunity) == before
