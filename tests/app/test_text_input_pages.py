"""Bad typed input on the pages: a clear message naming the field, never SQL or a traceback.

On PostgreSQL a NUL in the grid's search used to come back from the driver as a DataError
quoting the SQL; both databases are run.
"""

from __future__ import annotations

import pytest

from tests.app.conftest import login_as, messages

GRID = "pages/opportunities.py"
REFUSED = "must not contain control characters"


@pytest.fixture
def database(any_app_db):
    return any_app_db


def _page(role: str, page: str, **params):
    at = login_as(role, page, **params)
    assert not at.exception, at.exception
    return at


def _said(at) -> str:
    return " ".join(messages(at.error) + messages(at.warning))


@pytest.mark.parametrize("page, key", [(GRID, "grid_text"),
                                       ("pages/partners.py", "partners_search"),
                                       ("pages/tasks.py", "tasks_search")])
def test_a_nul_in_a_search_box_is_refused_by_name(database, page, key):
    at = _page("sales_manager", page)
    at.text_input(key=key).set_value("Ac\x00me").run()
    assert not at.exception, at.exception
    said = _said(at)
    assert f"Search: {REFUSED}" in said
    assert "SELECT" not in said and "psycopg" not in said


def test_a_nul_in_the_grids_link_is_named_and_left_out(database):
    at = _page("sales_manager", GRID, q="Ac\x00me")
    said = _said(at)
    assert "q 'Ac\\x00me'" in said and REFUSED in said
    assert at.text_input(key="grid_text").value == ""


@pytest.mark.parametrize("param, written", [("from", "20261231"), ("to", "2026-W53-1"),
                                            ("closed", "2026-07-01..20260930")])
def test_a_link_date_not_written_yyyy_mm_dd_is_named_and_left_out(database, param, written):
    at = _page("sales_manager", GRID, **{param: written})
    assert f"{param} '{written}'" in _said(at)
    assert param not in at.query_params
