"""The Settings page: a vp saves and the program follows; a bad value is refused by its input."""

from __future__ import annotations

import pytest

from isv.services.settings import current_settings
from isv.ui.nav import pages_for
from tests.app.conftest import ROLES, messages


@pytest.fixture
def settings_page(login):
    at = login("vp", "pages/settings.py")
    assert not at.exception, at.exception
    return at


def test_only_vp_and_admin_have_the_settings_page():
    assert {role for role in ROLES if any(p.path == "pages/settings.py"
                                          for p in pages_for(role))} == {"vp", "admin"}


def test_a_partnership_manager_cannot_reach_the_settings_page(login):
    at = login("partnership_manager")
    with pytest.raises(ValueError):  # not registered for the role: no link, no URL
        at.switch_page("pages/settings.py")


def test_the_form_shows_todays_defaults_before_anyone_saves(settings_page):
    at = settings_page
    assert at.selectbox(key="set_fiscal_month").value == 1
    assert at.selectbox(key="set_time_zone").value == "UTC"
    assert at.text_input(key="set_currency").value == "$"
    assert at.text_input(key="set_prob_poc").value == "50"
    assert at.text_input(key="set_cadence").value == "30"
    assert at.text_input(key="set_milestones").value == "50, 75, 100"
    assert at.text_input(key="set_audit_days").value == ""
    assert at.text_input(key="set_health_base").value == "50"
    assert at.text_input(key="set_health_stall_days").value == "30"


def test_a_health_weight_out_of_range_is_refused_next_to_its_input(settings_page):
    at = settings_page
    at.text_input(key="set_health_touch").set_value("150")
    at.button(key="set_submit").click().run()
    assert not at.exception, at.exception
    assert messages(at.error) == ["Touch recency: must be 0 to 100, got 150"]
    assert current_settings().health_touch_points == 20


def test_a_vp_saves_and_sees_a_confirmation_naming_what_changed(settings_page):
    at = settings_page
    at.selectbox(key="set_fiscal_month").set_value(4)
    at.text_input(key="set_currency").set_value("€")
    at.text_input(key="set_prob_demo").set_value("30")
    at.text_input(key="set_audit_days").set_value("400")
    at.button(key="set_submit").click().run()
    assert not at.exception, at.exception
    [confirmation] = messages(at.success)
    assert confirmation == ("Settings saved: Fiscal year starts in, Default probability per "
                            "stage, Currency symbol, Keep audit entries (days).")
    saved = current_settings()
    assert (saved.fiscal_year_start_month, saved.currency_symbol,
            saved.stage_probabilities["demo"], saved.audit_retention_days) == (4, "€", 30, 400)
    assert at.text_input(key="set_currency").value == "€"  # the form shows what is stored


def test_a_bad_value_is_refused_next_to_its_input_and_nothing_is_saved(settings_page):
    at = settings_page
    at.text_input(key="set_currency").set_value("£")
    at.text_input(key="set_cadence").set_value("0")
    at.button(key="set_submit").click().run()
    assert not at.exception, at.exception
    assert messages(at.error) == ["Relationship cadence (days): must be 1 to 365, got 0"]
    assert not at.success
    assert current_settings().currency_symbol == "$"


def test_after_saving_a_currency_the_dashboard_shows_money_in_it(settings_page):
    at = settings_page
    at.text_input(key="set_currency").set_value("€")
    at.button(key="set_submit").click().run()
    at.switch_page("pages/dashboard.py").run()
    assert not at.exception, at.exception
    pipeline = next(metric for metric in at.metric if metric.label == "Pipeline")
    assert pipeline.value == "€0"


# --- the exec review pack's slide master ---------------------------------------------------

def _template() -> bytes:
    import io

    from pptx import Presentation

    out = io.BytesIO()
    Presentation().save(out)
    return out.getvalue()


def test_without_a_slide_master_the_page_says_the_pack_uses_the_default_look(settings_page):
    at = settings_page
    assert any(text.startswith("No template uploaded: the pack uses the default look")
               for text in messages(at.caption))
    assert at.button(key="set_master_save").proto.disabled  # nothing chosen to upload yet
    assert not [b for b in at.button if b.key == "set_master_remove"]


def test_the_slide_master_in_use_is_named_and_can_be_removed(settings_page):
    from isv.auth import Viewer
    from isv.db import session_scope
    from isv.services import settings as service

    with session_scope() as session:
        service.save_slide_master(session=session, viewer=Viewer.system("tests"),
                                  file_name="Acme <brand>.pptx", data=_template())
        session.commit()
    at = settings_page.run()
    assert any(text.startswith("In use: Acme <brand>.pptx (") and "“Title Only”" in text
               for text in messages(at.caption))

    at.button(key="set_master_remove").click().run()

    assert not at.exception, at.exception
    assert messages(at.success) == ["The exec review pack uses the default look again."]
    with session_scope() as session:
        assert service.slide_master_file(session=session) is None
