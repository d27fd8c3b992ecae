"""Settings: the environment name, and production refusing development secrets."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from isv import cli
from isv.config import DEFAULT_COOKIE_KEY, Settings, get_settings

ROOT = Path(__file__).resolve().parents[2]


def test_production_with_the_default_cookie_key_refuses_to_start():
    with pytest.raises(RuntimeError, match="ISV_COOKIE_KEY"):
        Settings(env="production", cookie_key=DEFAULT_COOKIE_KEY).check_production_ready()


def test_production_with_a_real_secret_starts():
    Settings(env="production", cookie_key="x" * 40).check_production_ready()


def test_development_tolerates_the_default_key():
    Settings(env="development", cookie_key=DEFAULT_COOKIE_KEY).check_production_ready()


def test_production_with_a_short_key_refuses_to_start():
    with pytest.raises(RuntimeError, match="at least 32 bytes"):
        Settings(env="production", cookie_key="short-secret").check_production_ready()


@pytest.mark.parametrize("url", ["redis://redis:6379/0", "redis://user@redis:6379/0"])
def test_production_with_a_redis_url_without_password_refuses_to_start(url):
    with pytest.raises(RuntimeError, match="ISV_REDIS_URL has no password"):
        Settings(env="production", cookie_key="x" * 40, redis_url=url).check_production_ready()


@pytest.mark.parametrize("url", ["redis://:s3cret@redis:6379/0",
                                 "rediss://default:s3cret@redis:6380/0",
                                 "redis://redis:6379/0?password=s3cret"])
def test_production_with_a_redis_password_starts(url):
    Settings(env="production", cookie_key="x" * 40, redis_url=url).check_production_ready()


def test_development_tolerates_redis_without_password():
    Settings(env="development", redis_url="redis://127.0.0.1:6379/0").check_production_ready()


def test_compose_gives_redis_a_password_and_the_app_a_url_that_carries_it():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    redis = compose["services"]["redis"]
    assert redis["environment"]["REDIS_PASSWORD"].startswith("${REDIS_PASSWORD:?")
    assert '--requirepass "$$REDIS_PASSWORD"' in " ".join(redis["command"])
    assert "REDISCLI_AUTH=" in redis["healthcheck"]["test"][1]
    url = compose["x-isv"]["environment"]["ISV_REDIS_URL"]
    assert url.startswith("redis://:${REDIS_PASSWORD:?") and url.endswith("@redis:6379/0")


@pytest.fixture
def fresh_settings():
    get_settings.cache_clear()
    yield get_settings
    get_settings.cache_clear()


@pytest.mark.parametrize("raw", ["Production", "PRODUCTION", " production "])
def test_the_environment_name_is_read_in_any_case(monkeypatch, fresh_settings, raw):
    monkeypatch.setenv("ISV_ENV", raw)
    settings = fresh_settings()
    assert settings.env == "production" and settings.is_production
    with pytest.raises(RuntimeError, match="ISV_COOKIE_KEY"):
        settings.check_production_ready()


def test_an_unknown_environment_name_refuses_to_start_naming_isv_env(monkeypatch,
                                                                    fresh_settings):
    monkeypatch.setenv("ISV_ENV", "prod")
    with pytest.raises(RuntimeError, match=r"ISV_ENV must be one of development, test, "
                                           r"production, got 'prod'"):
        fresh_settings()


def test_production_serves_no_error_details_and_development_does(monkeypatch, fresh_settings):
    monkeypatch.setenv("ISV_ENV", "Production")
    command = cli.streamlit_command("127.0.0.1", 8501)
    assert command[command.index("--client.showErrorDetails") + 1] == "none"
    monkeypatch.setenv("ISV_ENV", "development")
    fresh_settings.cache_clear()
    command = cli.streamlit_command("127.0.0.1", 8501)
    assert command[command.index("--client.showErrorDetails") + 1] == "full"


@pytest.mark.parametrize(("raw", "reason"), [("0", "must be 1 or more, got 0"),
                                             ("soon", "must be a whole number, got 'soon'")])
def test_a_page_poll_interval_not_a_whole_number_of_seconds_from_1_refuses_to_start(
        monkeypatch, fresh_settings, raw, reason):
    monkeypatch.setenv("ISV_PAGE_POLL_SECONDS", raw)
    with pytest.raises(RuntimeError, match=f"ISV_PAGE_POLL_SECONDS {reason}"):
        fresh_settings()
