"""The Users page's personal-data section: export one user's data, anonymise one user."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from isv.auth import Viewer
from isv.db import session_scope
from isv.models import AuditEntry, User
from isv.services import gdpr, users
from tests.app.conftest import LOGINS, messages


@pytest.fixture
def users_page(login):
    at = login("admin", "pages/users.py")
    assert not at.exception
    return at


def stored(user_id):
    with session_scope() as s:
        return users.get_user(session=s, viewer=Viewer.system(), user_id=user_id)


def pick(at, email):
    with session_scope() as s:
        target = users.get_by_email(session=s, viewer=Viewer.system(), email=email)
    at.selectbox(key="change_user").set_value(target.id).run()
    return target


def test_an_export_is_offered_as_a_json_download_and_audited(users_page):
    target = pick(users_page, LOGINS["sales_manager"].email)

    at = users_page.button(key="gdpr_export").click().run()

    assert not at.exception
    download = at.get("download_button")[0]
    assert download.proto.label == "Download JSON"
    data = json.loads(at.session_state["gdpr_export_file"][1])
    assert data["profile"]["email"] == LOGINS["sales_manager"].email
    with session_scope() as s:
        assert s.scalar(select(AuditEntry).where(AuditEntry.action == "export_personal_data",
                                                 AuditEntry.entity_id == str(target.id)))


def test_anonymise_needs_the_confirmation_then_replaces_the_identity(users_page):
    target = pick(users_page, LOGINS["sales_manager"].email)
    assert users_page.button(key="gdpr_anonymise").disabled

    users_page.checkbox(key=f"gdpr_confirm_{target.id}").check().run()
    at = users_page.button(key="gdpr_anonymise").click().run()

    assert not at.exception
    person = stored(target.id)
    assert person.email == gdpr.placeholder(target.id)["email"] and not person.is_active
    assert any("Anonymised" in m for m in messages(at.success))
    chooser = at.selectbox(key="change_user")
    assert chooser.value == target.id
    assert person.email in chooser.options[chooser.index]
    with session_scope() as s:
        assert s.scalar(select(User).where(User.email == LOGINS["sales_manager"].email)) is None


def test_anonymising_yourself_is_refused_with_the_reason(users_page):
    me = pick(users_page, LOGINS["admin"].email)
    users_page.checkbox(key=f"gdpr_confirm_{me.id}").check().run()

    at = users_page.button(key="gdpr_anonymise").click().run()

    assert messages(at.error) == ["Anonymise: you cannot anonymise yourself"]
    assert stored(me.id).email == LOGINS["admin"].email
