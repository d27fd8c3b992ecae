"""Reporting periods (spec/KPIS.md, Period): quarters, fiscal years, ranges, the one before."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from isv.analytics.periods import (
    date_range,
    parse_period,
    previous,
    quarter_containing,
    quarter_of,
    quarter_options,
    quarter_range,
    quarters_within,
    year_range,
)
from isv.config import get_settings
from isv.errors import ValidationError


@pytest.fixture
def fiscal(monkeypatch):
    """fiscal(month): configure the fiscal year to start in that month for this test."""
    def configure(month: int) -> None:
        monkeypatch.setenv("ISV_FISCAL_YEAR_START_MONTH", str(month))
        get_settings.cache_clear()

    yield configure
    get_settings.cache_clear()


@pytest.fixture(autouse=True)
def calendar_year(monkeypatch):
    monkeypatch.delenv("ISV_FISCAL_YEAR_START_MONTH", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_a_calendar_quarter_runs_from_its_first_to_its_last_day():
    q = parse_period("2026Q3")
    assert (q.start, q.end, q.label) == (date(2026, 7, 1), date(2026, 9, 30), "2026Q3")
    assert q.title == "Q3 2026"
    assert q.span == "1 Jul – 30 Sep 2026"


def test_the_kpis_md_example_2027q1_with_a_february_start(fiscal):
    fiscal(2)
    q = parse_period("2027Q1")
    assert (q.start, q.end) == (date(2026, 2, 1), date(2026, 4, 30))
    assert q.title == "Q1 FY2027"


def test_a_fiscal_year_is_named_by_the_year_in_which_it_ends(fiscal):
    fiscal(2)
    fy = parse_period("2027")
    assert (fy.start, fy.end) == (date(2026, 2, 1), date(2027, 1, 31))
    assert quarter_range(2027, 4).end == date(2027, 1, 31)


def test_a_plain_year_is_the_calendar_year_without_a_fiscal_start():
    year = parse_period("2026")
    assert (year.start, year.end) == (date(2026, 1, 1), date(2026, 12, 31))


def test_an_explicit_range_is_inclusive_on_both_ends():
    period = parse_period("2026-02-15..2026-05-31")
    assert (period.start, period.end) == (date(2026, 2, 15), date(2026, 5, 31))
    assert period.days == 106
    assert date(2026, 5, 31) in period and date(2026, 6, 1) not in period


def test_quarters_are_read_in_lower_case_and_with_a_dash_too():
    assert parse_period("2026q2") == parse_period("2026-Q2") == quarter_range(2026, 2)


@pytest.mark.parametrize("text", ["", "2026Q5", "2026Q0", "Q3", "26Q3", "2026-02-30..2026-03-01",
                                  "2026-05-31..2026-02-15", "1999Q4", "next quarter"])
def test_anything_else_is_refused_naming_the_period(text):
    with pytest.raises(ValidationError) as refused:
        parse_period(text)
    assert refused.value.field == "period"


def test_the_quarter_before_q1_is_q4_of_the_year_before():
    assert previous(parse_period("2026Q1")) == quarter_range(2025, 4)


def test_the_year_before_a_fiscal_year_is_the_previous_fiscal_year(fiscal):
    fiscal(7)
    assert previous(parse_period("2027")) == year_range(2026)
    assert year_range(2026).start == date(2025, 7, 1)


def test_the_range_before_a_range_is_as_long_and_ends_the_day_before():
    before = previous(parse_period("2026-02-15..2026-05-31"))
    assert before.end == date(2026, 2, 14)
    assert before.days == 106


def test_the_quarter_containing_a_day_honours_the_fiscal_start(fiscal):
    fiscal(2)
    assert quarter_of(date(2026, 1, 31)) == (2026, 4)
    assert quarter_of(date(2026, 2, 1)) == (2027, 1)
    assert quarter_containing(date(2026, 12, 25)).label == "2027Q4"


def test_a_fiscal_year_starting_in_december_spans_two_calendar_years(fiscal):
    fiscal(12)
    assert (quarter_range(2027, 1).start, quarter_range(2027, 1).end) == (
        date(2026, 12, 1), date(2027, 2, 28))
    assert quarter_of(date(2026, 12, 1)) == (2027, 1)


def test_quarters_within_a_range_are_only_those_entirely_inside():
    assert quarters_within(parse_period("2026-02-15..2026-05-31")) == []
    assert [q.label for q in quarters_within(parse_period("2026"))] == [
        "2026Q1", "2026Q2", "2026Q3", "2026Q4"]
    assert [q.label for q in quarters_within(parse_period("2026-03-31..2026-10-01"))] == [
        "2026Q2", "2026Q3"]


def test_the_selector_lists_coming_quarters_first_then_this_one_then_past_ones():
    options = quarter_options(date(2026, 8, 20), back=2, ahead=1)
    assert [q.label for q in options] == ["2026Q4", "2026Q3", "2026Q2", "2026Q1"]


def test_elapsed_days_count_from_the_first_day_and_stop_at_the_end():
    q = quarter_range(2026, 3)
    assert q.elapsed_days(date(2026, 6, 30)) == 0
    assert q.elapsed_days(date(2026, 7, 1)) == 1
    assert q.elapsed_days(date(2027, 1, 1)) == q.days == 92


@given(day=st.dates(min_value=date(2001, 1, 1), max_value=date(2099, 12, 31)),
       month=st.integers(min_value=1, max_value=12))
def test_every_day_lies_in_exactly_the_quarter_that_contains_it(day, month):
    year, quarter = quarter_of(day, start_month=month)
    q = quarter_range(year, quarter, start_month=month)
    assert q.start <= day <= q.end
    # the fiscal year is named by the calendar year in which its last quarter ends
    assert quarter_range(year, 4, start_month=month).end.year == year


@given(year=st.integers(min_value=2001, max_value=2099),
       month=st.integers(min_value=1, max_value=12))
def test_a_fiscal_years_quarters_tile_it_without_gaps_or_overlaps(year, month):
    quarters = [quarter_range(year, k, start_month=month) for k in (1, 2, 3, 4)]
    assert quarters[0].start == date(year if month == 1 else year - 1, month, 1)
    for before, after in zip(quarters, quarters[1:], strict=False):
        assert after.start == before.end + timedelta(days=1)
    assert sum(q.days for q in quarters) == (quarters[3].end - quarters[0].start).days + 1
    assert all(q.start.day == 1 and (q.end + timedelta(days=1)).day == 1 for q in quarters)


@given(start=st.dates(min_value=date(2001, 1, 1), max_value=date(2099, 1, 1)),
       length=st.integers(min_value=0, max_value=700))
def test_a_range_and_the_one_before_it_touch_and_are_as_long(start, length):
    period = date_range(start, start + timedelta(days=length))
    before = previous(period)
    assert before.end + timedelta(days=1) == period.start
    assert before.days == period.days
    assert parse_period(period.label) == period
