"""The Account page: who you are, and personal access tokens made, shown once, revoked.

Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from isv.auth import Viewer, token_hash
from isv.db import session_scope
from isv.models import AuditEntry, PersonalAccessToken
from isv.services import personal_tokens, users
from tests.app.conftest import LOGINS, login_as, messages

PAGE = "pages/account.py"


@pytest.fixture(autouse=True)
def _database(any_app_db):
    return any_app_db


def viewer_of(role: str) -> Viewer:
    with session_scope() as s:
        return Viewer.of(users.get_by_email(session=s, viewer=Viewer.system(),
                                            email=LOGINS[role].email))


def open_page(role: str = "sales_manager"):
    at = login_as(role, PAGE)
    assert not at.exception, at.exception
    return at


def stored_tokens() -> list[PersonalAccessToken]:
    with session_scope() as s:
        return list(s.scalars(select(PersonalAccessToken)))


def audit_count() -> int:
    with session_scope() as s:
        return s.scalar(select(func.count()).select_from(AuditEntry))


def make_token(role: str, name: str, scope: str = "read") -> PersonalAccessToken:
    with session_scope() as s:
        done = personal_tokens.create_token(session=s, viewer=viewer_of(role), name=name,
                                            scope=scope, expires_in_days=30).token
        s.commit()
        return done


def test_the_page_shows_who_is_signed_in(login):
    at = open_page("partnership_manager")
    text = " ".join(messages(at.markdown))
    assert LOGINS["partnership_manager"].name in text
    assert LOGINS["partnership_manager"].email in text
    assert "Partnership manager" in text
    assert [t.value for t in at.title] == ["Account"]


def test_a_new_token_is_shown_once_and_only_its_hash_is_stored(login):
    at = open_page()
    at.text_input(key="pat_name").set_value("CRM nightly sync")
    at.radio(key="pat_scope").set_value("write")
    at.selectbox(key="pat_expiry").set_value(90)
    at.button(key="pat_create").click().run()
    assert not at.exception, at.exception
    assert len(at.code) == 1
    secret = at.code[0].value
    assert secret.startswith("isvpat_")
    assert any("not shown again" in w for w in messages(at.warning))
    [row] = stored_tokens()
    assert (row.name, row.scope, row.token_hash) == ("CRM nightly sync", "write",
                                                      token_hash(secret))
    # The form starts again from its defaults: no name, read only, 30 days.
    assert at.text_input(key="pat_name").value == ""
    assert (at.radio(key="pat_scope").value, at.selectbox(key="pat_expiry").value) == ("read",
                                                                                       30)
    table = at.dataframe[0].value
    assert list(table["Name"]) == ["CRM nightly sync"]
    assert list(table["Scope"]) == ["Read and write"]
    assert list(table["Status"]) == ["Active"] and list(table["Last used"]) == ["never"]
    at.run()  # a rerun on the page keeps it until the person hides it or leaves
    assert len(at.code) == 1
    at.switch_page("pages/alerts.py").run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    assert not at.code  # gone for good: coming back does not show it again


def test_hiding_the_new_token_removes_it_from_the_page(login):
    at = open_page()
    at.text_input(key="pat_name").set_value("one-off")
    at.button(key="pat_create").click().run()
    assert len(at.code) == 1
    at.button(key="pat_hide").click().run()
    assert not at.code


def test_create_untouched_is_refused_by_the_name_and_writes_nothing(login):
    at = open_page()
    before = audit_count()
    at.button(key="pat_create").click().run()
    assert not at.exception, at.exception
    assert messages(at.error) == ["Name: is required"]
    assert not at.code
    assert stored_tokens() == [] and audit_count() == before


def test_a_token_named_like_a_live_one_is_refused_next_to_the_name(login):
    make_token("sales_manager", "backup job")
    at = open_page()
    at.text_input(key="pat_name").set_value("Backup Job")
    at.button(key="pat_create").click().run()
    [error] = messages(at.error)
    assert error.startswith("Name: ") and "already have a live token" in error
    assert len(stored_tokens()) == 1


def test_revoke_asks_first_and_then_stops_the_token(login):
    token = make_token("sales_manager", "old laptop")
    at = open_page()
    at.button(key=f"pat_revoke_{token.id}").click().run()
    assert any("Revoke “old laptop”?" in w for w in messages(at.warning))
    assert stored_tokens()[0].revoked_at is None  # asking writes nothing
    at.button(key=f"pat_confirm_{token.id}").click().run()
    assert not at.exception, at.exception
    assert any("Revoked “old laptop”" in s for s in messages(at.success))
    [row] = stored_tokens()
    assert row.revoked_at is not None
    assert list(at.dataframe[0].value["Status"]) == ["Revoked"]
    assert not [b for b in at.button if b.key.startswith("pat_revoke_")]


def test_cancelling_a_revoke_or_revoking_a_revoked_token_writes_nothing(login):
    token = make_token("sales_manager", "ci runner")
    at = open_page()
    before = audit_count()
    at.button(key=f"pat_revoke_{token.id}").click().run()
    at.button(key=f"pat_cancel_{token.id}").click().run()
    assert stored_tokens()[0].revoked_at is None and audit_count() == before
    # Revoked meanwhile in another tab: confirming on this stale page changes nothing more.
    at.button(key=f"pat_revoke_{token.id}").click().run()
    with session_scope() as s:
        personal_tokens.revoke_token(session=s, viewer=viewer_of("sales_manager"),
                                     token_id=token.id)
        s.commit()
    revoked_at, after_revoke = stored_tokens()[0].revoked_at, audit_count()
    at.button(key=f"pat_confirm_{token.id}").click().run()
    assert not at.exception, at.exception
    assert stored_tokens()[0].revoked_at == revoked_at and audit_count() == after_revoke


def test_a_person_sees_only_their_own_tokens(login):
    make_token("vp", "vp's exporter")
    make_token("sales_manager", "sid's script")
    at = open_page("sales_manager")
    assert list(at.dataframe[0].value["Name"]) == ["sid's script"]


def test_a_token_name_is_shown_as_typed_never_as_markup(login):
    token = make_token("admin", "**bold** <b>x</b> [link](http://e.x)")
    at = open_page("admin")
    assert list(at.dataframe[0].value["Name"]) == [token.name]
    assert any(token.name in text for text in messages(at.markdown))
    raw = " ".join(m.value for m in at.markdown)
    assert "**bold**" not in raw and "[link]" not in raw
