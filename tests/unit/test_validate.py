"""Field validation: every refusal names the field and says why."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from isv.errors import ValidationError
from isv.services import validate
from isv.types import Money

amounts = st.decimals(min_value=0, max_value=Decimal("9999999999.99"), places=2,
                      allow_nan=False, allow_infinity=False)


@given(amounts)
def test_money_survives_both_databases_storage_exactly(value):
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        stored = Money().process_bind_param(value, dialect)
        assert Money().process_result_value(stored, dialect) == value


@given(amounts)
def test_money_accepts_its_own_text_form(value):
    assert validate.money("deal_value", f"{value:.2f}") == value


@pytest.mark.parametrize("raw, reason", [
    ("12,50", "not an amount"),
    ("$100", "not an amount"),
    ("1.005", "more than two decimals"),
    ("-1", "at least 0"),
    ("NaN", "not an amount"),
])
def test_bad_amounts_name_the_field_and_the_reason(raw, reason):
    with pytest.raises(ValidationError) as err:
        validate.money("deal_value", raw)
    assert err.value.field == "deal_value"
    assert reason in err.value.reason


def test_percent_above_100_is_refused():
    with pytest.raises(ValidationError, match="probability: must be at most 100"):
        validate.percent("probability", "100.5")


def test_dates_must_be_plausible_and_well_formed():
    assert validate.day("expected_close_date", "2026-03-31") == date(2026, 3, 31)
    with pytest.raises(ValidationError, match="not a date"):
        validate.day("expected_close_date", "31/03/2026")
    with pytest.raises(ValidationError, match="outside"):
        validate.day("expected_close_date", "1999-12-31")


def test_required_text_is_stripped_and_limited():
    assert validate.text("name", "  Acme  ", max_len=10, required=True) == "Acme"
    with pytest.raises(ValidationError, match="name: is required"):
        validate.text("name", "   ", max_len=10, required=True)
    with pytest.raises(ValidationError, match="longer than 10"):
        validate.text("name", "x" * 11, max_len=10)


def test_emails_are_checked_and_lowercased():
    assert validate.email("email", " Ann@Example.COM ") == "ann@example.com"
    with pytest.raises(ValidationError, match="email: 'ann@' is not an email address"):
        validate.email("email", "ann@")


def test_choices_list_the_allowed_values():
    with pytest.raises(ValidationError) as err:
        validate.choice("role", "boss", ("vp", "admin"))
    assert err.value.field == "role" and "vp, admin" in err.value.reason
