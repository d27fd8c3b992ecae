"""A page's statements side by side on PostgreSQL: the same numbers, sooner (analytics/together)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from isv.analytics import together
from isv.analytics.dashboard import dashboard_data
from isv.analytics.kpis import Filters
from isv.analytics.partners import partner_analytics
from isv.analytics.periods import quarter_containing
from isv.analytics.pipeline import pipeline_analytics
from isv.analytics.team import team_view
from isv.auth import Viewer
from isv.db import session_scope
from isv.demo import load_demo
from isv.errors import ValidationError
from isv.models import Partner
from isv.services import opportunities
from isv.services.settings import local_today

SYSTEM = Viewer.system("tests")
PAGES = (dashboard_data, pipeline_analytics, partner_analytics, team_view)


@pytest.fixture
def demo_url(committed_url):
    with session_scope(committed_url) as session:
        load_demo(session=session, opportunities=150)
        session.commit()
    return committed_url


def _thread(_session) -> str:
    return threading.current_thread().name


def test_on_postgresql_a_pages_statements_run_side_by_side_and_give_the_same_numbers(demo_url):
    today = local_today()
    common = dict(viewer=SYSTEM, period=quarter_containing(today),
                  filters=Filters.of(domains=["FinOps", "Security"]), as_of=today)
    with session_scope(demo_url) as session:
        threads = together.gather(session, _thread, _thread, _thread)
        side_by_side = [page(session=session, **common) for page in PAGES]
        with together.one_at_a_time():
            assert together.gather(session, _thread, _thread) == [_thread(None)] * 2
            in_line = [page(session=session, **common) for page in PAGES]
    assert side_by_side == in_line
    assert side_by_side[0].kpis.open_count > 0
    if demo_url.startswith("sqlite"):
        assert threads == [_thread(None)] * 3  # one file: nothing to gain from a second reader
    else:
        assert all(name.startswith(together.THREAD_PREFIX) for name in threads)


def test_a_use_case_that_wrote_reads_its_own_rows(demo_url):
    """Rows written in the open transaction are seen: other connections would miss them."""
    today = local_today()
    common = dict(viewer=SYSTEM, period=quarter_containing(today), as_of=today)
    with session_scope(demo_url) as session:
        before = dashboard_data(session=session, **common).kpis.open_count
        partner = session.scalar(select(Partner).order_by(Partner.name))
        opportunities.create_opportunity(session=session, viewer=SYSTEM, partner_id=partner.id,
                                         customer_name="Read-back Ltd", deal_value="1000")
        assert dashboard_data(session=session, **common).kpis.open_count == before + 1
        session.rollback()


def test_an_error_in_one_statement_reaches_the_page(demo_url):
    def refused(_session):
        raise ValidationError("period", "is not a quarter")

    with session_scope(demo_url) as session, pytest.raises(ValidationError, match="period"):
        together.gather(session, _thread, refused, _thread)
