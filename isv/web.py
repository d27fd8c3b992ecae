"""Server routes beside Streamlit's pages: the only place the sign-in cookie is set or cleared.

A script in the page cannot set an HttpOnly cookie, so a form login only issues a one-time
ticket (isv.auth.issue_ticket) and the page sends the browser, top level, to
SESSION_PATH?ticket=...&next=/the/page. That request answers with Set-Cookie (HttpOnly,
SameSite=Strict, Path=/, Secure behind TLS or in production) and a 303 back to the page.
LOGOUT_PATH ends the cookie's server session and clears the cookie the same way. serve.py
mounts these routes on Streamlit's own server (st.App) in every replica; the tickets and
sessions they read are in the database, so any replica can answer.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse
from starlette.routing import Route

from isv import auth
from isv.config import get_settings
from isv.db import session_scope

log = logging.getLogger("isv.web")

SESSION_PATH = "/_isv/session"
LOGOUT_PATH = "/_isv/logout"
ENDED_PARAM = "ended"   # why a session ended, for the login page's message after a logout


def safe_next(value: str | None) -> str:
    """A path on this site to go back to; anything that could leave it becomes "/"."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


def session_url(ticket: str, next_path: str) -> str:
    return f"{SESSION_PATH}?{urlencode({'ticket': ticket, 'next': safe_next(next_path)})}"


def logout_url(reason: str) -> str:
    return f"{LOGOUT_PATH}?{urlencode({ENDED_PARAM: reason})}"


def _secure(request: Request) -> bool:
    # nginx terminates TLS and says so in X-Forwarded-Proto; production always runs behind it.
    return (get_settings().is_production or request.url.scheme == "https"
            or request.headers.get("x-forwarded-proto", "").lower() == "https")


def _redirect(location: str) -> RedirectResponse:
    response = RedirectResponse(location, status_code=303)
    response.headers["Cache-Control"] = "no-store"
    # The ticket is in this request's address: do not hand it on.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def start_cookie(request: Request) -> RedirectResponse:
    """Exchange a login ticket for the session cookie, then go back to the page."""
    settings = get_settings()
    response = _redirect(safe_next(request.query_params.get("next")))
    ticket = request.query_params.get("ticket", "")
    token = None
    if ticket:
        with session_scope() as session:
            token = auth.redeem_ticket(session=session, ticket=ticket)
    if token is None:
        log.info("login ticket refused")
        return response
    response.set_cookie(settings.cookie_name, token, max_age=settings.session_max_hours * 3600,
                        path="/", secure=_secure(request), httponly=True, samesite="strict")
    return response


def end_cookie(request: Request) -> RedirectResponse:
    """End the cookie's server session, clear the cookie, show the login page."""
    settings = get_settings()
    token = request.cookies.get(settings.cookie_name)
    if token:
        with session_scope() as session:
            auth.end_session(session=session, token=token)
    reason = request.query_params.get(ENDED_PARAM, "logout")
    target = "/?" + urlencode({ENDED_PARAM: reason if reason in auth.END_REASONS else "logout"})
    response = _redirect(target)
    response.delete_cookie(settings.cookie_name, path="/", secure=_secure(request),
                           httponly=True, samesite="strict")
    return response


def routes() -> list[Route]:
    return [Route(SESSION_PATH, start_cookie, methods=["GET"]),
            Route(LOGOUT_PATH, end_cookie, methods=["GET"])]
