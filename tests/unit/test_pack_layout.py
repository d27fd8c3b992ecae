"""The exec pack's layout rules, without a browser: text fitted to its width, rows per
slide, and a chart on a slide titled once."""

from __future__ import annotations

import pandas as pd
import pytest

from isv import charts
from isv.pack import fonts, pages
from isv.pack.pages import Column, Frame


@pytest.fixture(autouse=True)
def liberation_sans():
    try:
        fonts.font_file()
    except fonts.FontMissing as exc:
        pytest.skip(str(exc))


def test_text_that_fits_is_left_as_it_is():
    assert fonts.fit("Northwind Bank", 200, 14) == "Northwind Bank"


def test_text_too_wide_is_shortened_with_an_ellipsis_to_the_width():
    name = "Consolidated Intergalactic Shipping and Logistics Holdings"

    short = fonts.fit(name, 150, 14)

    assert short.endswith("…") and name.startswith(short[:-1].rstrip())
    assert fonts.width(short, 14) <= 150
    assert fonts.width(short + "x", 14) > fonts.width(short, 14)


def test_bold_text_is_measured_wider_than_regular():
    assert fonts.width("Attainment", 14, bold=True) > fonts.width("Attainment", 14)


def test_a_table_cell_never_holds_more_than_its_column_width():
    columns = (Column("Customer", share=2), Column("Value", "right", 1))
    table = pages._fitted(columns, [("A customer name far too long for a third of a slide "
                                     "at fourteen points", "$1.2M")], 300, 14)

    [(customer, value)] = table.rows
    assert value == "$1.2M"
    assert fonts.width(customer, 14) <= table.widths(300)[0] - 2 * pages.CELL_PAD


def test_a_slide_holds_at_most_the_rows_that_fit_at_a_readable_size():
    frame = Frame.default()

    fit = pages.rows_per_page(frame)

    assert fit == 13
    assert 30 + 26 * fit + pages.NOTE_HEIGHT <= frame.body.height
    assert pages.TABLE_PT >= 14


def test_a_long_title_is_set_smaller_before_it_is_shortened():
    frame = Frame.default()
    long = "Revenue by quarter: won, and weighted forecast from today, by partner domain"

    page = pages.titled("chart", long, frame)

    assert page.title_size < pages.TITLE_PT
    assert fonts.width(page.title, page.title_size, bold=True) <= frame.title.width


def test_on_a_slide_the_chart_image_has_no_title_of_its_own():
    frame = pd.DataFrame({"Stage": ["Lead"], "Deals": [3], "Value": [1000]})
    figure = charts.pipeline_by_stage_figure(frame, title="Open pipeline by stage",
                                             context="Q3 2026 · as of 2026-08-14")

    slide = charts.for_slide(figure)

    assert slide.layout.title.text == "" and slide.layout.title.subtitle.text == ""
    assert figure.layout.title.text == "Open pipeline by stage"  # the screen's is untouched
