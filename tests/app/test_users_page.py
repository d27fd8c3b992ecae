"""The Users page: list, add, change role, deactivate, set password, each refusal by its input."""

from __future__ import annotations

import pytest
from streamlit.testing.v1.element_tree import Error

from isv.auth import Viewer
from isv.db import session_scope
from isv.errors import NotFound
from isv.services import sessions, users
from tests.app.conftest import LOGINS, login_as, messages, signed_in


@pytest.fixture
def users_page(login):
    at = login("admin", "pages/users.py")
    assert not at.exception
    return at


def fill_new_user(at, *, email, first="Nia", last="Novak", role="sales_manager", password=""):
    at.text_input(key="add_email").set_value(email)
    at.text_input(key="add_first").set_value(first)
    at.text_input(key="add_last").set_value(last)
    at.selectbox(key="add_role").set_value(role)
    at.text_input(key="add_password").set_value(password)
    return at.button(key="add_submit").click().run()


def stored(email):
    with session_scope() as s:
        return users.get_by_email(session=s, viewer=Viewer.system(), email=email)


def test_lists_every_user(users_page):
    table = users_page.dataframe[0].value
    assert set(table["Email"]) == {login.email for login in LOGINS.values()}
    assert list(table.columns) == ["Name", "Email", "Role", "Active", "Last login"]


def test_adds_a_user_who_can_then_sign_in(users_page):
    at = fill_new_user(users_page, email="nia.novak@example.com", password="a-good-password")
    assert not at.exception
    assert any("Added Nia Novak" in text for text in messages(at.success))
    assert "nia.novak@example.com" in set(at.dataframe[0].value["Email"])
    assert at.text_input(key="add_email").value == ""  # the form starts empty again
    with session_scope() as s:
        assert sessions.authenticate(session=s, email="nia.novak@example.com",
                                 password="a-good-password") is not None
        s.commit()


def test_invalid_email_is_reported_next_to_the_email_input(users_page):
    at = fill_new_user(users_page, email="not-an-email")
    errors = messages(at.error)
    assert len(errors) == 1 and errors[0].startswith("Email: ")
    assert "not an email address" in errors[0]
    # The error sits directly under the email input, inside the form.
    first, second = list(at.get("form")[0].children.values())[:2]
    assert first.key == "add_email" and isinstance(second, Error)
    with pytest.raises(NotFound):
        stored("not-an-email")


def test_short_initial_password_names_the_password_field(users_page):
    at = fill_new_user(users_page, email="nia.novak@example.com", password="short")
    assert messages(at.error) == ["Initial password: must be at least 8 characters"]


def test_changes_a_users_role(users_page):
    target = stored(LOGINS["sales_manager"].email)
    users_page.selectbox(key="change_user").set_value(target.id).run()
    users_page.selectbox(key=f"role_{target.id}").set_value("partnership_manager")
    at = users_page.button(key="role_submit").click().run()
    assert not at.exception
    assert stored(target.email).role == "partnership_manager"


def test_deactivates_and_reactivates_a_user(users_page):
    target = stored(LOGINS["sales_manager"].email)
    users_page.selectbox(key="change_user").set_value(target.id).run()
    at = users_page.button(key="active_submit").click().run()
    assert not stored(target.email).is_active
    assert at.button(key="active_submit").label == "Reactivate"
    at.button(key="active_submit").click().run()
    assert stored(target.email).is_active


def test_cannot_deactivate_yourself(users_page):
    me = stored(LOGINS["admin"].email)
    users_page.selectbox(key="change_user").set_value(me.id).run()
    at = users_page.button(key="active_submit").click().run()
    assert messages(at.error) == ["Active: you cannot deactivate yourself"]
    assert stored(me.email).is_active


def test_sets_a_password_and_names_the_field_when_it_is_too_short(users_page):
    target = stored(LOGINS["sales_manager"].email)
    users_page.selectbox(key="change_user").set_value(target.id).run()
    users_page.text_input(key="new_password").set_value("short")
    at = users_page.button(key="password_submit").click().run()
    assert messages(at.error) == ["New password: must be at least 8 characters"]
    at.text_input(key="new_password").set_value("a-brand-new-password")
    at.button(key="password_submit").click().run()
    with session_scope() as s:
        assert sessions.authenticate(session=s, email=target.email,
                                 password="a-brand-new-password") is not None
        s.commit()


def test_role_must_be_chosen(users_page):
    at = fill_new_user(users_page, email="nia.novak@example.com", role=None)
    assert messages(at.error) == ["Role: is required"]


def test_an_admin_is_offered_no_vp_role_and_no_change_to_a_vps_account(users_page):
    assert "vp" not in users_page.selectbox(key="add_role").options
    assert "VP" not in users_page.selectbox(key="add_role").options
    vp = stored(LOGINS["vp"].email)
    at = users_page.selectbox(key="change_user").set_value(vp.id).run()
    assert not at.exception
    assert "Only a vp may change a VP's account." in messages(at.info)
    assert not [b for b in at.button if b.key in ("role_submit", "password_submit",
                                                  "active_submit")]


def test_a_vp_is_offered_every_role(login):
    at = login("vp", "pages/users.py")
    assert len(at.selectbox(key="add_role").options) == 4


def test_your_own_new_password_keeps_this_session_and_ends_your_others(users_page):
    elsewhere = login_as("admin")  # the same admin in a second browser
    me = stored(LOGINS["admin"].email)
    users_page.selectbox(key="change_user").set_value(me.id).run()
    users_page.text_input(key="new_password").set_value("my-own-new-password")
    at = users_page.button(key="password_submit").click().run()
    assert not at.exception
    assert signed_in(at.run())
    elsewhere.run()
    assert not signed_in(elsewhere)
    assert sessions.end_message("password_changed") in messages(elsewhere.warning)


def test_a_reset_signs_the_user_out_at_their_next_click(users_page):
    member = login_as("sales_manager")
    target = stored(LOGINS["sales_manager"].email)
    users_page.selectbox(key="change_user").set_value(target.id).run()
    users_page.text_input(key="new_password").set_value("a-brand-new-password")
    users_page.button(key="password_submit").click().run()
    member.run()
    assert not signed_in(member)
    assert sessions.end_message("password_changed") in messages(member.warning)
