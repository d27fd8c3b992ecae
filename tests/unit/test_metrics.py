"""Metrics: what a page run, a sign-in or a scrape leaves in the Prometheus exposition."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.requests import Request
from streamlit.runtime.scriptrunner_utils.exceptions import RerunException

from isv import metrics, web
from isv.config import get_settings
from isv.db import make_engine
from isv.ui import frame


@pytest.fixture(autouse=True)
def fresh_settings():
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def get(path: str):
    """What the app's own route for `path` answers (isv/web.py, mounted by serve.py)."""
    [route] = [r for r in web.routes() if r.path == path]
    return route.endpoint(Request({"type": "http", "method": "GET", "path": path,
                                   "headers": [], "query_string": b""}))


def sample(name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(metrics.exposition()[0].decode()):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return s.value
    return 0.0


def test_a_page_run_is_timed_under_its_page_and_outcome():
    before = sample("isv_page_run_seconds_count", page="tests_ok", outcome="ok")
    with frame.page_run("tests_ok"):
        pass
    assert sample("isv_page_run_seconds_count", page="tests_ok", outcome="ok") == before + 1


def test_an_uncaught_error_counts_as_an_error_of_its_page_and_still_raises():
    with pytest.raises(ZeroDivisionError), frame.page_run("tests_error"):
        1 / 0  # noqa: B018
    assert sample("isv_page_errors_total", page="tests_error") == 1
    assert sample("isv_page_run_seconds_count", page="tests_error", outcome="error") == 1


def test_st_rerun_is_a_rerun_not_an_error():
    with pytest.raises(RerunException), frame.page_run("tests_rerun"):
        raise RerunException(None)
    assert sample("isv_page_run_seconds_count", page="tests_rerun", outcome="rerun") == 1
    assert sample("isv_page_errors_total", page="tests_rerun") == 0


def test_with_metrics_off_a_page_run_records_nothing_and_the_route_answers_404(monkeypatch):
    monkeypatch.setenv("ISV_METRICS", "off")
    with frame.page_run("tests_off"):
        pass
    assert sample("isv_page_run_seconds_count", page="tests_off", outcome="ok") == 0
    assert get(web.METRICS_PATH).status_code == 404


def test_a_setting_other_than_on_or_off_names_itself(monkeypatch):
    monkeypatch.setenv("ISV_METRICS", "maybe")
    with pytest.raises(RuntimeError, match="ISV_METRICS must be on or off"):
        get_settings()


def test_the_app_route_serves_the_prometheus_text_format():
    with frame.page_run("tests_route"):
        pass
    response = get(web.METRICS_PATH)
    text = response.body.decode()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert 'isv_page_run_seconds_bucket{le="2.0",outcome="ok",page="tests_route"}' in text
    assert "isv_sign_ins_total" in text


def test_the_pool_gauges_name_the_database_never_its_url_or_password(tmp_path):
    engine = make_engine("postgresql://isv:s3cret-pw@db.internal:5432/isvprod")
    metrics.watch_engine(engine)
    text = metrics.exposition()[0].decode()
    assert 'isv_db_pool_checked_out{pool="isvprod"} 0.0' in text
    assert 'isv_db_pool_limit{pool="isvprod"} 15.0' in text
    assert "s3cret" not in text and "db.internal" not in text
    engine.dispose()


def test_every_sign_in_outcome_is_counted_and_an_unknown_one_is_other():
    before = sample("isv_sign_ins_total", outcome="locked")
    metrics.sign_in("locked")
    metrics.sign_in("an-email@example.com")
    assert sample("isv_sign_ins_total", outcome="locked") == before + 1
    assert sample("isv_sign_ins_total", outcome="other") >= 1
    assert "an-email" not in metrics.exposition()[0].decode()


def test_the_deployment_gauges_are_read_once_per_interval_and_a_failure_says_so():
    reads = []

    def read():
        reads.append(1)
        if len(reads) > 1:
            raise RuntimeError("database down")
        return []

    collector = metrics.DeploymentCollector(read, ttl=0)
    [up] = list(collector.collect())
    assert up.samples[0].value == 1
    [up] = list(collector.collect())
    assert up.samples[0].value == 0
    cached = metrics.DeploymentCollector(read, ttl=3600)
    list(cached.collect())
    list(cached.collect())
    assert len(reads) == 3
