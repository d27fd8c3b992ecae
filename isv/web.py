"""Server routes beside Streamlit's pages: the only place the sign-in cookie is set or cleared.

A script in the page cannot set an HttpOnly cookie, so a form login only issues a one-time
ticket (isv.services.sessions.issue_ticket) and the page fetches SESSION_PATH?ticket=...
in the background: that request answers with Set-Cookie (HttpOnly, SameSite=Strict, Path=/,
Secure behind TLS or in production) and 204, and the signed-in page goes on without a reload.
Given `next=/the/page` (a link a person follows when scripts are off), it answers with a 303
back to that page instead.
LOGOUT_PATH ends the cookie's server session and clears the cookie the same way. serve.py
mounts these routes on Streamlit's own server (st.App) in every replica; the tickets and
sessions they read are in the database, so any replica can answer.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from isv import metrics
from isv.config import get_settings
from isv.db import session_scope
from isv.services import sessions

log = logging.getLogger("isv.web")

SESSION_PATH = "/_isv/session"
LOGOUT_PATH = "/_isv/logout"
# This replica's Prometheus metrics (isv/metrics.py); nginx refuses it from outside.
METRICS_PATH = "/metrics"
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


def session_url(ticket: str, next_path: str | None = None) -> str:
    """The cookie route for a ticket: fetched (204), or followed back to `next_path` (303)."""
    params = {"ticket": ticket}
    if next_path is not None:
        params["next"] = safe_next(next_path)
    return f"{SESSION_PATH}?{urlencode(params)}"


def logout_url(reason: str) -> str:
    return f"{LOGOUT_PATH}?{urlencode({ENDED_PARAM: reason})}"


def _secure(request: Request) -> bool:
    # nginx terminates TLS and says so in X-Forwarded-Proto; production always runs behind it.
    return (get_settings().is_production or request.url.scheme == "https"
            or request.headers.get("x-forwarded-proto", "").lower() == "https")


def _private(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    # The ticket is in this request's address: do not hand it on.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


def _redirect(location: str) -> Response:
    return _private(RedirectResponse(location, status_code=303))


def start_cookie(request: Request) -> Response:
    """Exchange a login ticket for the session cookie; go back to `next` when given."""
    settings = get_settings()
    target = request.query_params.get("next")
    response = _private(Response(status_code=204)) if target is None else _redirect(
        safe_next(target))
    ticket = request.query_params.get("ticket", "")
    token = None
    if ticket:
        with session_scope() as session:
            token = sessions.redeem_ticket(session=session, ticket=ticket)
            session.commit()
    if token is None:
        log.info("login ticket refused")
        return response
    response.set_cookie(settings.cookie_name, token, max_age=settings.session_max_hours * 3600,
                        path="/", secure=_secure(request), httponly=True, samesite="strict")
    return response


def end_cookie(request: Request) -> Response:
    """End the cookie's server session, clear the cookie, show the login page."""
    settings = get_settings()
    token = request.cookies.get(settings.cookie_name)
    if token:
        with session_scope() as session:
            sessions.end_session(session=session, token=token)
            session.commit()
    reason = request.query_params.get(ENDED_PARAM, "logout")
    target = "/?" + urlencode({ENDED_PARAM: reason if reason in sessions.END_REASONS else "logout"})
    response = _redirect(target)
    response.delete_cookie(settings.cookie_name, path="/", secure=_secure(request),
                           httponly=True, samesite="strict")
    return response


def routes() -> list[Route]:
    return [Route(SESSION_PATH, start_cookie, methods=["GET"]),
            Route(LOGOUT_PATH, end_cookie, methods=["GET"]),
            Route(METRICS_PATH, metrics.endpoint, methods=["GET"])]
