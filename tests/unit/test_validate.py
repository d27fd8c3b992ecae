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


# --- control characters: one rule for every typed text ------------------------------------

CONTROLS = [chr(c) for c in (*range(0x20), 0x7F)]


@pytest.mark.parametrize("control", CONTROLS)
def test_a_search_refuses_every_control_character_by_field(control):
    with pytest.raises(ValidationError) as err:
        validate.search("search", f"ac{control}me")
    assert str(err.value) == "search: must not contain control characters"


@pytest.mark.parametrize("control", [c for c in CONTROLS if c not in "\t\n"] + ["\r"])
def test_a_multi_line_field_refuses_controls_but_tab_and_line_breaks(control):
    with pytest.raises(ValidationError, match="notes: must not contain control characters"):
        validate.text("notes", f"one{control}two", max_len=100, multiline=True)


def test_a_multi_line_field_keeps_tabs_and_line_breaks_as_typed():
    typed = "one\ttwo\nthree\r\nfour"
    assert validate.text("notes", typed, max_len=100, multiline=True) == typed


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=60))
def test_text_without_controls_is_searched_as_typed(typed):
    assert validate.search("search", typed) == (typed.strip() or None)


@given(st.text(max_size=20), st.sampled_from(CONTROLS), st.text(max_size=20))
def test_text_with_a_control_inside_is_never_searched(before, control, after):
    typed = f"x{before}{control}{after}x"
    with pytest.raises(ValidationError, match="^search: "):
        validate.search("search", typed)


# --- dates: YYYY-MM-DD and nothing else ---------------------------------------------------

days = st.dates(min_value=validate.MIN_DATE, max_value=validate.MAX_DATE)


@given(days)
def test_every_plausible_day_reads_back_from_its_written_form(day):
    assert validate.parse_day(day.isoformat()) == day
    assert validate.day("expected_close_date", f" {day.isoformat()} ") == day


@pytest.mark.parametrize("written", ["20261231", "2026-W53-1", "2026W531", "2026-365",
                                     "2026-12-31T00:00", "2026-1-5", "２０２６-１２-３１",
                                     "+2026-12-31", "2026-12-31x"])
def test_other_ways_of_writing_a_day_are_refused_naming_the_field(written):
    with pytest.raises(ValidationError) as err:
        validate.day("expected_close_date", written)
    assert err.value.field == "expected_close_date"
    assert "is not a date like 2026-03-31" in err.value.reason


@pytest.mark.parametrize("written", ["2026-03-01T09:30:00", "2026-03-01 09:30",
                                     "2026-03-01T09:30:00.123456+02:00", "2026-03-01T09:30Z",
                                     "2026-03-01"])
def test_moments_are_read_in_their_extended_form(written):
    assert validate.parse_moment(written).date().isoformat() == "2026-03-01"


@pytest.mark.parametrize("written", ["20260301T0930", "2026-W09-7T09:30", "2026-060T09:30",
                                     "2026-03-01T0930"])
def test_moments_in_basic_or_week_form_are_refused(written):
    with pytest.raises(ValueError):
        validate.parse_moment(written)
