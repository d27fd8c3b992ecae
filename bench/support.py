"""What the benchmarks share: pointing the app at a database, and AppTest run as on a server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from isv import config, db

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def use_database(url: str | None) -> None:
    """Point the settings (so `isv` code and the app under AppTest) at url; None: the default."""
    if url is None:
        os.environ.pop("ISV_DATABASE_URL", None)
    else:
        os.environ["ISV_DATABASE_URL"] = url
    config.get_settings.cache_clear()
    db.get_engine.cache_clear()
    db._factory.cache_clear()


@contextmanager
def restoring_database() -> Iterator[None]:
    """Whatever a benchmark points the settings at, put back the caller's database after."""
    saved = os.environ.get("ISV_DATABASE_URL")
    try:
        yield
    finally:
        use_database(saved)


@contextmanager
def app_as_on_a_server() -> Iterator[None]:
    """AppTest runs app.py on every rerun, as a running server does (see tests/app/conftest.py)."""
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self, *args, **kwargs):
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    PagesManager.__init__ = init
    try:
        yield
    finally:
        PagesManager.__init__ = original


def signed_in_app(page: str, email: str, password: str):
    """An AppTest of app.py signed in through the form and switched to `page`."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=120).run()
    at.text_input[0].set_value(email)
    at.text_input[1].set_value(password)
    at.button[0].click()
    at.run()  # this run only sends a browser to the cookie route (isv/web.py)
    at.run()
    at.switch_page(page).run()
    if at.exception:
        raise RuntimeError(f"{page} failed: {at.exception}")
    return at
