"""The one number language (isv/display.py), checked on the edges a reader would notice."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from isv import display

D = Decimal
MINUS = "\u2212"
NBSP = "\u00a0"


@pytest.mark.parametrize("value, text", [
    (0, "$0"),
    (D("950"), "$950"),
    (D("999.49"), "$999"),
    (D("999.5"), "$1.0k"),            # rounding carries into the next unit
    (D("61949.99"), "$61.9k"),
    (D("999500"), "$999.5k"),
    (D("999949.99"), "$999.9k"),
    (D("999950"), "$1.0M"),
    (D("999999"), "$1.0M"),
    (D("13254000"), "$13.3M"),
    (D("999950000"), "$1.0B"),
    (D("1e9"), "$1.0B"),
    (D("1234500000000"), "$1,234.5B"),
    (D("-1500"), f"{MINUS}$1.5k"),
    (D("-999999"), f"{MINUS}$1.0M"),
    (D("-0.4"), "$0"),                # rounds to zero: no sign
    (D("-20"), f"{MINUS}$20"),
    (61949.99, "$61.9k"),             # floats from plotly frames read as written
    (None, "—"),
    (float("nan"), "—"),
])
def test_short_money_has_one_decimal_a_lowercase_unit_and_a_true_minus(value, text):
    assert display.money_short(value) == text


@pytest.mark.parametrize("value, text", [
    (0, "$0"),
    (D("166000"), "$166,000"),
    (D("166000.00"), "$166,000"),
    (D("166000.5"), "$166,000.50"),
    (D("166000.505"), "$166,000.50"),  # half-even to the cent
    (D("166000.515"), "$166,000.52"),
    (D("0.004"), "$0"),
    (D("-20"), f"{MINUS}$20"),
    (D("-1234.56"), f"{MINUS}$1,234.56"),
    (D("999999"), "$999,999"),
    (D("1e9"), "$1,000,000,000"),
    (None, "—"),
])
def test_money_is_whole_currency_with_cents_only_where_they_exist(value, text):
    assert display.money(value) == text


def test_no_displayed_money_ever_uses_an_ascii_hyphen_for_minus():
    for value in (D("-1"), D("-1500.5"), D("-2e9")):
        assert "-" not in display.money(value)
        assert "-" not in display.money_short(value)


def test_a_missing_value_can_read_as_the_caller_says():
    assert display.money(None, none="not set") == "not set"
    assert display.percent(None, none="no target") == "no target"


def test_the_currency_symbol_comes_from_the_settings(monkeypatch):
    monkeypatch.setattr(display, "currency", lambda: "€")
    assert display.money(D("1500.5")) == "€1,500.50"
    assert display.money_short(D("-2500000")) == f"{MINUS}€2.5M"
    assert display.table_money_format([D("1")]) == "€%,.0f"


@pytest.mark.parametrize("ratio, text", [
    (D("3.87724"), f"387.7{NBSP}%"),
    (D("3.55"), f"355.0{NBSP}%"),
    (D("0.1"), f"10.0{NBSP}%"),
    (0, f"0.0{NBSP}%"),
    (D("-0.125"), f"{MINUS}12.5{NBSP}%"),
    (D("12.5"), f"1,250.0{NBSP}%"),
    (None, "—"),
])
def test_ratios_are_percentages_to_one_decimal_with_an_unbreakable_sign(ratio, text):
    assert display.percent(ratio) == text


@pytest.mark.parametrize("value, text", [
    (D("10.00"), f"10{NBSP}%"),
    (D("12.50"), f"12.5{NBSP}%"),
    (D("7.25"), f"7.25{NBSP}%"),
    (D("100"), f"100{NBSP}%"),
    (0, f"0{NBSP}%"),
    (None, "—"),
])
def test_stored_percentages_show_decimals_only_where_they_exist(value, text):
    assert display.percentage(value) == text


def test_counts_and_measures_have_thousands_separators():
    assert display.count(0) == "0"
    assert display.count(12345) == "12,345"
    assert display.count(-1200) == f"{MINUS}1,200"
    assert display.count(None) == "—"
    assert display.number(D("74.8333")) == "74.8"
    assert display.number(D("12345.67")) == "12,345.7"
    assert display.days(D("74.83")) == f"74.8{NBSP}days"
    assert display.days(1) == f"1{NBSP}day"
    assert display.points(D("0.105")) == f"10.5{NBSP}pts"
    assert display.times(D("2.456")) == "2.46×"


def test_a_change_writes_its_sign_out_with_a_true_minus():
    assert display.change(D("1500"), D("3000"), display.money_short) == f"{MINUS}$1.5k"
    assert display.change(D("0.5"), D("0.4"), display.points) == f"+10.0{NBSP}pts"
    assert display.change(None, D("1"), display.money_short) is None
    assert display.change(D("0.4"), D("0.4"), display.points) == f"0.0{NBSP}pts"  # no arrow


def test_one_date_form_and_one_timestamp_form_in_the_programs_time_zone(monkeypatch):
    from zoneinfo import ZoneInfo

    monkeypatch.setattr(display, "local_zone", lambda: ZoneInfo("Europe/Berlin"))
    assert display.day(date(2026, 12, 2)) == "2 Dec 2026"
    assert display.moment(datetime(2026, 12, 2, 13, 5, tzinfo=UTC)) == "2 Dec 2026, 14:05"
    # A timestamp's day is the day it is where the team works.
    assert display.day(datetime(2026, 12, 2, 23, 30, tzinfo=UTC)) == "3 Dec 2026"
    assert display.day(None) == "—"
    assert display.moment(None, none="never") == "never"


def test_table_money_columns_drop_cents_only_when_no_row_has_any():
    assert display.table_money_format([D("166000"), D("5")]) == "$%,.0f"
    assert display.table_money_format([D("166000"), D("0.5"), None]) == "$%,.2f"
    assert display.table_money_format([]) == "$%,.0f"


@pytest.mark.parametrize("line, words", [
    ("*/15 * * * *", "every 15 minutes"),
    ("* * * * *", "every minute"),
    ("*/1 * * * *", "every minute"),
    ("0 * * * *", "hourly, on the hour"),
    ("20 * * * *", "hourly at 20 past"),
    ("0 */6 * * *", "every 6 hours"),
    ("5 0 * * mon", "Mondays at 00:05"),
    ("5 0 * * 1", "Mondays at 00:05"),
    ("0 8 * * 0", "Sundays at 08:00"),
    ("0 8 * * 7", "Sundays at 08:00"),
    ("0 8 * * mon,thu", "Mondays and Thursdays at 08:00"),
    ("0 8 * * mon-fri", "Monday to Friday at 08:00"),
    ("30 3 * * *", "daily at 03:30"),
    ("0 30 3 * * *", "daily at 03:30"),          # six fields, seconds first
    ("0 9,17 * * *", "daily at 09:00 and 17:00"),
    ("0 6 1 * *", "monthly on the 1st at 06:00"),
    ("0 6 22 * *", "monthly on the 22nd at 06:00"),
    ("0 9-17 * * 1-5", "on the schedule 0 9-17 * * 1-5"),
    ("0 6 1 1 *", "on the schedule 0 6 1 1 *"),
])
def test_a_schedule_reads_in_words_and_an_unusual_one_as_written(line, words):
    assert display.schedule(line) == words
    assert "\\" not in display.schedule(line)


def test_a_list_reads_as_a_sentence_writes_it():
    assert display.series(["VP"]) == "VP"
    assert display.series(["VP", "Admin"]) == "VP and Admin"
    assert display.series(["VP", "Sales manager", "Admin"]) == "VP, Sales manager and Admin"
