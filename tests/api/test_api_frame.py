"""The API's frame: health, OpenAPI, offline docs, limits, Server-Timing, CORS, production keys."""

from __future__ import annotations

import re
import time

import pytest
from fastapi.testclient import TestClient

from isv import metrics
from isv.api import limits
from isv.api.app import create_app
from isv.config import DEFAULT_API_KEY, Settings, get_settings
from tests.api.conftest import clear_caches

pytestmark = pytest.mark.postgres


def test_health_reports_the_database_up_and_the_schema_at_head(api):
    answer = api.client.get("/api/v1/health")
    assert answer.status_code == 200
    data = answer.json()["data"]
    assert data["database"]["status"] == "ok" and data["schema_at_head"] is True
    assert data["redis"]["status"] == "not_configured"


def test_the_schema_is_openapi_3_1_and_every_operation_declares_its_errors(api):
    spec = api.client.get("/api/v1/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if path.endswith("/health"):
                continue
            assert "422" in operation["responses"], (method, path)
            assert "429" in operation["responses"], (method, path)


def test_the_docs_page_loads_nothing_from_another_site(api):
    page = api.client.get("/api/v1/docs")
    assert page.status_code == 200
    script = api.client.get("/api/v1/docs.js")
    assert script.status_code == 200 and "openapi.json" in script.text
    for text in (page.text, script.text):
        assert "http://" not in text and "https://" not in text and "//cdn" not in text


@pytest.fixture
def production_app(monkeypatch, api_url):
    monkeypatch.setenv("ISV_ENV", "production")
    monkeypatch.setenv("ISV_COOKIE_KEY", "c" * 40)
    monkeypatch.setenv("ISV_API_KEY", "a" * 40)
    clear_caches()
    yield
    monkeypatch.delenv("ISV_ENV")
    clear_caches()


def test_the_docs_page_is_off_in_production_unless_enabled(production_app, monkeypatch):
    with TestClient(create_app()) as client:
        assert client.get("/api/v1/docs").status_code == 404
        assert client.get("/api/v1/openapi.json").status_code == 200
    monkeypatch.setenv("ISV_API_DOCS", "true")
    clear_caches()
    with TestClient(create_app()) as client:
        assert client.get("/api/v1/docs").status_code == 200


@pytest.mark.parametrize("key", [DEFAULT_API_KEY, "short-key"])
def test_production_refuses_a_default_or_short_api_key(key):
    settings = Settings(env="production", cookie_key="c" * 40, api_key=key)
    with pytest.raises(RuntimeError, match="ISV_API_KEY"):
        settings.check_api_ready()
    Settings(env="production", cookie_key="c" * 40, api_key="k" * 40).check_api_ready()


@pytest.fixture
def strict_limits(monkeypatch, api_url):
    monkeypatch.setenv("ISV_API_LOGIN_RATE_PER_MINUTE", "3")
    monkeypatch.setenv("ISV_API_RATE_PER_MINUTE", "5")
    monkeypatch.setenv("ISV_API_MAX_BODY_BYTES", "2000")
    now = time.time()  # one window throughout: on a slow machine a minute may turn mid-test
    monkeypatch.setattr(limits, "clock", lambda: now)
    clear_caches()
    with TestClient(create_app()) as client:
        yield client
    clear_caches()


def test_logins_beyond_the_limit_are_refused_with_retry_after(strict_limits):
    answers = [strict_limits.post("/api/v1/auth/login",
                                  json={"email": "x@example.com", "password": "y"})
               for _ in range(4)]
    assert [a.status_code for a in answers] == [401, 401, 401, 429]
    refused = answers[-1]
    assert refused.json()["error"]["code"] == "RATE_LIMITED"
    assert 1 <= int(refused.headers["Retry-After"]) <= 61


def test_calls_beyond_the_limit_per_address_are_refused(strict_limits):
    codes = [strict_limits.get("/api/v1/auth/me").status_code for _ in range(6)]
    assert codes == [401] * 5 + [429]


def test_every_answer_says_how_long_the_server_worked_on_it_refusals_included(strict_limits):
    answers = [strict_limits.get("/api/v1/health")] + [
        strict_limits.get("/api/v1/auth/me") for _ in range(6)]
    assert [a.status_code for a in answers] == [200] + [401] * 5 + [429]
    for answer in answers:
        assert re.fullmatch(r"app;dur=\d+\.\d", answer.headers["Server-Timing"]), answer.headers


def _until_refused(call) -> list[int]:
    """Calls until a 429, at most two windows' worth of the strict limit (5): a minute may
    turn between the calls."""
    codes: list[int] = []
    while len(codes) < 11 and 429 not in codes:
        codes.append(call())
    return codes


def _me(client: TestClient, forwarded_for: str) -> int:
    return client.get("/api/v1/auth/me", headers={"X-Forwarded-For": forwarded_for,
                                                   "X-Forwarded-Proto": "https"}).status_code


def test_behind_the_trusted_proxy_each_client_it_forwards_has_its_own_budget(strict_limits,
                                                                            monkeypatch):
    """nginx's address is every caller's: the limit counts the address nginx saw."""
    monkeypatch.setenv("ISV_API_TRUSTED_PROXIES", "10.9.0.0/16")
    clear_caches()
    with TestClient(create_app(), client=("10.9.4.2", 40000)) as proxy:
        codes = _until_refused(lambda: _me(proxy, "203.0.113.7"))
        assert codes[-1] == 429 and set(codes[:-1]) == {401}, codes
        assert _me(proxy, "203.0.113.8") == 401


def test_forwarded_for_from_a_caller_that_is_no_trusted_proxy_is_ignored(strict_limits,
                                                                         monkeypatch):
    """Else a script would name a new address on each call and never be limited."""
    monkeypatch.setenv("ISV_API_TRUSTED_PROXIES", "10.9.0.0/16")
    clear_caches()
    with TestClient(create_app(), client=("198.51.100.9", 40000)) as direct:
        forged = iter(range(20))
        codes = _until_refused(lambda: _me(direct, f"203.0.113.{next(forged)}"))
        assert codes[-1] == 429 and set(codes[:-1]) == {401}, codes


def test_a_trusted_proxy_setting_that_is_no_address_refuses_to_start(monkeypatch):
    monkeypatch.setenv("ISV_API_TRUSTED_PROXIES", "127.0.0.1, nginx")
    clear_caches()
    try:
        with pytest.raises(RuntimeError, match="ISV_API_TRUSTED_PROXIES.*'nginx'"):
            get_settings()
    finally:
        monkeypatch.undo()
        clear_caches()


def test_no_answer_is_kept_in_a_cache(api):
    login = api.login(api.emails["vp"])
    assert login.status_code == 200
    for answer in (login, api.client.get("/api/v1/health"),
                   api.client.get("/api/v1/no-such-thing")):
        assert answer.headers["cache-control"] == "no-store"


def test_a_body_over_the_limit_is_refused_before_any_route_reads_it(strict_limits):
    answer = strict_limits.post("/api/v1/auth/login",
                                json={"email": "x" * 3000, "password": "y"})
    assert answer.status_code == 413
    assert answer.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"


def test_no_browser_origin_is_allowed_unless_configured(api, monkeypatch):
    asked = {"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "GET"}
    answer = api.client.options("/api/v1/auth/me", headers=asked)
    assert "access-control-allow-origin" not in answer.headers
    monkeypatch.setenv("ISV_API_CORS_ORIGINS", "https://crm.example")
    clear_caches()
    with TestClient(create_app()) as client:
        allowed = client.options("/api/v1/auth/me", headers={**asked,
                                                             "Origin": "https://crm.example"})
        assert allowed.headers["access-control-allow-origin"] == "https://crm.example"
    clear_caches()


def test_the_api_serves_its_prometheus_metrics_outside_the_schema(api):
    answer = api.client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    assert "isv_db_pool_checked_out" in answer.text
    spec = api.client.get("/api/v1/openapi.json").json()
    assert not any("metrics" in path for path in spec["paths"])


def _requests(text: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    return sum(s.value for family in text_string_to_metric_families(text)
               for s in family.samples
               if s.name == "isv_api_request_seconds_count"
               and all(s.labels.get(k) == v for k, v in labels.items()))


def test_each_request_is_timed_under_its_route_template_never_its_ids(api):
    headers = api.headers(api.new_user("sales_manager"))
    task = api.client.post("/api/v1/tasks", headers=headers, json={"title": "t"}).json()["data"]
    template = {"route": "/api/v1/tasks/{id}", "method": "GET"}
    before = api.client.get("/metrics").text
    api.client.get(f"/api/v1/tasks/{task['id']}", headers=headers)
    api.client.get(f"/api/v1/tasks/{task['id']}", headers=api.headers("admin"))
    after = api.client.get("/metrics").text
    assert _requests(after, **template, status="2xx") == \
        _requests(before, **template, status="2xx") + 1
    assert _requests(after, **template, status="4xx") == \
        _requests(before, **template, status="4xx") + 1
    assert task["id"] not in after


def test_a_request_refused_before_routing_is_still_counted_under_its_template(strict_limits):
    """A 429 or 413 never reaches the router; it is counted all the same, never by its path."""
    template = {"route": "/api/v1/auth/me", "method": "GET", "status": "4xx"}
    # Read in-process: the strict limit would refuse a scrape of /metrics as well.
    before = _requests(metrics.exposition()[0].decode(), **template)
    codes = _until_refused(lambda: strict_limits.get("/api/v1/auth/me").status_code)
    assert codes[-1] == 429, codes
    strict_limits.get("/api/v1/no/such/path/6f1c")
    after = metrics.exposition()[0].decode()
    assert _requests(after, **template) == before + len(codes)
    assert _requests(after, route="unmatched") >= 1
    assert "6f1c" not in after
