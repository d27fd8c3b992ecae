"""Settings refuse to run production on development secrets."""

from __future__ import annotations

import pytest

from isv.config import DEFAULT_COOKIE_KEY, Settings


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
