"""One label language on every page: no 'None', 'nan' or raw codes where a person reads.

Every page a VP can open (every page there is, the admin's included) is rendered on the demo
program (60 deals), and every table cell, card, caption and line of text is read as a person
would.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from isv import config, db, demo, display
from isv.auth import Viewer
from isv.services import alerts, users
from isv.services.settings import local_today
from isv.ui.nav import pages_for
from tests.app.conftest import COOKIE_KEY, LOGINS, _clear_caches, messages, new_app, submit_login
from tests.conftest import fresh_migrated
from tests.factories import make_task

VP_LOGIN = ("maya.chen@example.com", "demo-vp-2026")
# Words a reader should never meet: Python's and pandas' missing values, stage codes.
MISSING = re.compile(r"\b(None|nan|NaN|NaT)\b")
CODES = re.compile(r"\b(closed_won|closed_lost|assigned_user_id|deal_value|partner_id)\b")


@pytest.fixture(scope="module")
def demo_db(request, tmp_path_factory):
    url = fresh_migrated(request, "sqlite", tmp_path_factory.mktemp("demo") / "isv.db")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ISV_BCRYPT_ROUNDS", "4")
        config.get_settings.cache_clear()
        with db.session_scope(url) as session:
            demo.load_demo(session=session, opportunities=60, seed=3)
            session.commit()
    db.get_engine(url).dispose()
    _clear_caches()
    return url


@pytest.fixture
def on_demo(demo_db, monkeypatch):
    monkeypatch.setenv("ISV_DATABASE_URL", demo_db)
    monkeypatch.setenv("ISV_BCRYPT_ROUNDS", "4")
    monkeypatch.setenv("ISV_COOKIE_KEY", COOKIE_KEY)
    _clear_caches()
    yield
    db.get_engine(demo_db).dispose()
    _clear_caches()


def read_everything(at) -> list[str]:
    """What a person reads on the page: text elements, cards and every table cell."""
    texts = [e.value for kind in ("markdown", "caption", "info", "warning", "success", "error",
                                  "subheader", "title")
             for e in getattr(at, kind)]
    texts += [f"{m.label} {m.value} {m.delta or ''}" for m in at.metric]
    for frame in at.dataframe:
        value = frame.value
        texts += [str(cell) for column in value.columns if value[column].dtype == object
                  for cell in value[column] if cell is not None]
    return texts


PAGES = pages_for("vp")


@pytest.mark.parametrize("page", PAGES, ids=[p.title for p in PAGES])
def test_no_page_shows_none_nan_or_codes(on_demo, page):
    at = submit_login(new_app().run(), *VP_LOGIN)
    at.switch_page(page.path).run()
    assert not at.exception, at.exception
    for text in read_everything(at):
        assert not MISSING.search(text), text
        assert not CODES.search(text), text
    for frame in at.dataframe:  # a missing value reads as a dash, not as "None"
        if frame.value.isna().to_numpy().any():
            assert frame.proto.placeholder == display.NONE, list(frame.value.columns)




def test_a_priority_reads_the_same_on_the_tasks_grid_and_in_the_alerts(app_db, login):
    """One task, high priority and overdue: its row in the tasks grid and its alert both say
    '▲ High' (a symbol and a word: colour is never the only signal)."""
    today = local_today()
    with db.session_scope() as s:
        owner = users.get_by_email(session=s, viewer=Viewer.system(),
                                   email=LOGINS["sales_manager"].email)
        make_task(s, owner, title="Send the MSP terms", due_date=today - timedelta(days=2),
                  priority="high")
        alerts.task_overdue(session=s, today=today)
        s.commit()

    at = login("sales_manager", "pages/tasks.py")
    assert not at.exception, at.exception
    grid = next(f.value for f in at.dataframe if "Priority" in f.value.columns)
    assert list(grid["Priority"]) == ["▲ High"]

    at.switch_page("pages/alerts.py").run()
    assert not at.exception, at.exception
    alert = next(m for m in messages(at.markdown) if "Send the MSP terms" in m)
    assert "▲ High" in alert
