"""The one-time ticket that lets a server route set the HttpOnly cookie (issue 18 #9).

A form login issues it; isv/web.py's route redeems it, on any replica, for the cookie. It
works once, for 60 seconds, and only for a live session; the route goes back only to a
path on this site.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import select
from starlette.requests import Request

from isv import auth, web
from isv.db import get_engine, session_scope
from isv.models import LoginTicket, UserSession
from isv.services import sessions
from isv.types import utcnow
from tests.factories import make_user
from tests.integration.conftest import clear_caches


def _live_session(session, token="page-token"):
    user = make_user(session)
    sessions.start_session(session=session, user=user, token=token)
    return token


def test_a_ticket_gives_its_session_a_new_token_once(session):
    token = _live_session(session)
    ticket = sessions.issue_ticket(session=session, token=token)
    # Only its hash is stored.
    assert session.scalars(select(LoginTicket.ticket_hash)).all() == [auth.token_hash(ticket)]

    cookie = sessions.redeem_ticket(session=session, ticket=ticket)

    assert cookie and cookie not in (token, ticket)
    assert sessions.check_session(session=session, token=cookie).viewer is not None
    assert sessions.check_session(session=session, token=token).reason == "unknown"
    assert sessions.redeem_ticket(session=session, ticket=ticket) is None  # used up
    assert session.scalars(select(LoginTicket)).all() == []


def test_an_expired_ticket_is_refused(session):
    token = _live_session(session)
    now = utcnow()
    ticket = sessions.issue_ticket(session=session, token=token, now=now)
    later = now + timedelta(seconds=sessions.TICKET_SECONDS)
    assert sessions.redeem_ticket(session=session, ticket=ticket, now=later) is None
    assert sessions.check_session(session=session, token=token).viewer is not None  # unchanged


def test_an_unknown_ticket_is_refused(session):
    _live_session(session)
    assert sessions.redeem_ticket(session=session, ticket="made-up") is None
    assert sessions.redeem_ticket(session=session, ticket="") is None


def test_no_ticket_for_an_ended_session_and_none_redeemed_after_it_ends(session):
    token = _live_session(session)
    ticket = sessions.issue_ticket(session=session, token=token)
    sessions.end_session(session=session, token=token)
    assert sessions.redeem_ticket(session=session, ticket=ticket) is None
    assert sessions.issue_ticket(session=session, token=token) is None
    assert sessions.issue_ticket(session=session, token="no-such-session") is None


def test_issuing_a_ticket_sweeps_expired_ones(session):
    token = _live_session(session)
    now = utcnow()
    sessions.issue_ticket(session=session, token=token, now=now)
    sessions.issue_ticket(session=session, token=token, now=now + timedelta(minutes=5))
    assert len(session.scalars(select(LoginTicket)).all()) == 1


# --- the routes ------------------------------------------------------------------------

COOKIE = "isv_auth"


@pytest.fixture
def routed(committed_url, monkeypatch):
    """The routes' settings point at a database of their own."""
    monkeypatch.setenv("ISV_DATABASE_URL", committed_url)
    monkeypatch.setenv("ISV_COOKIE_NAME", COOKIE)
    clear_caches()
    yield committed_url
    get_engine().dispose()
    clear_caches()


def _request(path, params, *, cookie=None, proto=None):
    headers = []
    if cookie:
        headers.append((b"cookie", f"{COOKIE}={cookie}".encode()))
    if proto:
        headers.append((b"x-forwarded-proto", proto.encode()))
    return Request({"type": "http", "method": "GET", "path": path, "headers": headers,
                    "query_string": urlencode(params).encode(), "scheme": "http",
                    "server": ("testserver", 80), "root_path": ""})


def _ticket() -> tuple[str, str]:
    with session_scope() as session:
        token = _live_session(session, token=auth.new_token())
        done = token, sessions.issue_ticket(session=session, token=token)
        session.commit()
        return done


def _set_cookie(response) -> list[str]:
    return [value.decode() for name, value in response.raw_headers if name == b"set-cookie"]


def test_the_route_sets_an_http_only_strict_cookie_and_goes_back(routed):
    _token, ticket = _ticket()
    response = web.start_cookie(_request(web.SESSION_PATH,
                                         {"ticket": ticket, "next": "/partners"}))
    assert response.status_code == 303
    assert response.headers["location"] == "/partners"
    [cookie] = _set_cookie(response)
    value = cookie.split(";")[0].split("=", 1)[1]
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "path=/", "samesite=strict"} <= attributes
    assert "secure" not in attributes  # plain http: a Secure cookie would never come back
    with session_scope() as session:
        assert sessions.check_session(session=session, token=value).viewer is not None


def test_fetched_the_route_answers_204_with_the_cookie_and_the_page_keeps_its_session(routed):
    """The signed-in page fetches the route in the background and goes on without a reload."""
    with session_scope() as session:
        row = sessions.start_session(session=session, user=make_user(session),
                                     token="page-token")
        page_session, ticket = row.id, sessions.issue_ticket(session=session, session_id=row.id)
        session.commit()

    response = web.start_cookie(_request(web.SESSION_PATH, {"ticket": ticket}))

    assert response.status_code == 204 and "location" not in response.headers
    assert response.headers["cache-control"] == "no-store"
    [cookie] = _set_cookie(response)
    value = cookie.split(";")[0].split("=", 1)[1]
    with session_scope() as session:
        assert sessions.check_session(session=session, session_id=page_session).viewer
        assert sessions.check_session(session=session, token=value).session_id == page_session
        # The token made at sign-in never left the server and is no longer a cookie's.
        assert sessions.check_session(session=session, token="page-token").reason == "unknown"


def test_behind_tls_the_cookie_is_secure(routed):
    _token, ticket = _ticket()
    response = web.start_cookie(_request(web.SESSION_PATH, {"ticket": ticket},
                                         proto="https"))
    [cookie] = _set_cookie(response)
    assert "secure" in {part.strip().lower() for part in cookie.split(";")}


def test_a_reused_expired_or_unknown_ticket_sets_no_cookie(routed):
    _token, ticket = _ticket()
    assert _set_cookie(web.start_cookie(_request(web.SESSION_PATH, {"ticket": ticket})))
    reused = web.start_cookie(_request(web.SESSION_PATH, {"ticket": ticket, "next": "/x"}))
    assert (reused.status_code, reused.headers["location"], _set_cookie(reused)) == \
        (303, "/x", [])
    assert _set_cookie(web.start_cookie(_request(web.SESSION_PATH, {"ticket": "unknown"}))) \
        == []
    assert _set_cookie(web.start_cookie(_request(web.SESSION_PATH, {}))) == []
    _token, old = _ticket()
    with session_scope() as session:
        row = session.scalar(select(LoginTicket).where(
            LoginTicket.ticket_hash == auth.token_hash(old)))
        row.expires_at = utcnow() - timedelta(seconds=1)
        session.commit()
    assert _set_cookie(web.start_cookie(_request(web.SESSION_PATH, {"ticket": old}))) == []


@pytest.mark.parametrize("target", [
    "//evil.example/", "https://evil.example/", "/\\evil.example", "\\\\evil.example",
    "javascript:alert(1)", "evil.example", "/%0d%0aSet-Cookie:x=1", "/\r\nLocation: //x",
    "", "http:/evil.example",
])
def test_the_route_refuses_to_send_the_browser_elsewhere(routed, target):
    _token, ticket = _ticket()
    response = web.start_cookie(_request(web.SESSION_PATH, {"ticket": ticket, "next": target}))
    location = response.headers["location"]
    assert location == "/" or (location.startswith("/") and not location.startswith("//")
                               and "\r" not in location and "\n" not in location)


def test_same_site_paths_are_kept(routed):
    assert web.safe_next("/pipeline_board?stage=demo") == "/pipeline_board?stage=demo"
    assert web.safe_next("//evil.example") == "/"


def test_logout_ends_the_cookies_session_and_clears_the_cookie(routed):
    token, ticket = _ticket()
    response = web.start_cookie(_request(web.SESSION_PATH, {"ticket": ticket}))
    cookie = _set_cookie(response)[0].split(";")[0].split("=", 1)[1]

    out = web.end_cookie(_request(web.LOGOUT_PATH, {"ended": "logout"}, cookie=cookie))

    assert out.status_code == 303 and out.headers["location"] == "/?ended=logout"
    [cleared] = _set_cookie(out)
    assert cleared.startswith(f'{COOKIE}="";') or cleared.startswith(f"{COOKIE}=;")
    assert "max-age=0" in cleared.lower() and "httponly" in cleared.lower()
    with session_scope() as session:
        assert sessions.check_session(session=session, token=cookie).reason == "logout"
        assert session.scalars(select(UserSession.ended_at)).all()[0] is not None


def test_logout_names_only_known_reasons(routed):
    out = web.end_cookie(_request(web.LOGOUT_PATH, {"ended": "<script>"}))
    assert out.headers["location"] == "/?ended=logout"
    idle = web.end_cookie(_request(web.LOGOUT_PATH, {"ended": "idle"}))
    assert idle.headers["location"] == "/?ended=idle"
