"""The FastAPI application: routers under /api/v1, the envelope, limits, CORS, docs."""

from __future__ import annotations

import time
from importlib import resources
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import HTMLResponse, Response
from starlette.routing import compile_path
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from isv import metrics
from isv.api import deps, errors
from isv.api.envelope import API_VERSION
from isv.api.limits import BodyLimit, RateLimit
from isv.api.routers import (
    alerts,
    auth,
    commissions,
    dashboard,
    goals,
    health,
    opportunities,
    partners,
    status,
    tasks,
    users,
)
from isv.config import get_settings

PREFIX = "/api/v1"


class RequestFrame:
    """Time every request under its route template, tell the caller that time, and keep
    every answer out of caches.

    The template (/api/v1/tasks/{id}), never the path, labels the histogram: ids would make
    a series per record. It is found from the path alone, so a request refused before it is
    routed (429, 413) counts under its template too. Every answer, refusals included, says
    how long the server worked on it (`Server-Timing: app;dur=<ms>`, until its headers go
    out), so a client can tell the server's share from the network's (bench/api.py reads
    it). Answers carry tokens and one person's data, so no browser, proxy or nginx keeps a
    copy (Cache-Control: no-store) unless a route says otherwise.
    """

    def __init__(self, app: Any, templates: set[str]) -> None:
        self.app = app
        # Literal segments before parameters: /tasks/rollover is not /tasks/{id}.
        ordered = sorted(templates, key=lambda path: (path.count("{"), -len(path)))
        self._table = [(compile_path(path)[0], path) for path in ordered]

    def _template(self, scope: dict[str, Any]) -> str:
        path = scope.get("path", "")
        for pattern, template in self._table:
            if pattern.match(path):
                return template
        return "unmatched"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") == "/metrics":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # an exception that escapes every handler ends as a 500

        async def frame(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.setdefault("headers", [])
                if not any(name.lower() == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"no-store"))
                spent = (time.perf_counter() - started) * 1000
                headers.append((b"server-timing", f"app;dur={spent:.1f}".encode()))
            await send(message)

        try:
            await self.app(scope, receive, frame)
        finally:
            metrics.api_request(self._template(scope), scope.get("method", ""), status,
                                time.perf_counter() - started)


def _static(name: str) -> str:
    return resources.files("isv.api").joinpath("static", name).read_text(encoding="utf-8")


def _docs(app: FastAPI) -> None:
    # Served from this package, no CDN: the page works on a machine with no internet and
    # under a Content-Security-Policy of 'self'. Swagger UI's assets are not in any wheel we
    # install, so the page is ours: every operation, its parameters, body and answers.
    html, script = _static("docs.html"), _static("docs.js")

    @app.get(f"{PREFIX}/docs", include_in_schema=False)
    def docs_page() -> HTMLResponse:
        return HTMLResponse(html)

    @app.get(f"{PREFIX}/docs.js", include_in_schema=False)
    def docs_script() -> Response:
        return Response(script, media_type="text/javascript")


def create_app() -> FastAPI:
    """Build the API; refuses production with a default or short signing key."""
    settings = get_settings()
    settings.check_api_ready()
    app = FastAPI(
        title="ISV Pipeline Tracker API", version=API_VERSION,
        description="The seed's REST API over the same services as the web app. Sign in at "
                    "POST /api/v1/auth/login and send `Authorization: Bearer <access_token>`,"
                    " or send a personal access token (isvpat_..., made on the app's Account "
                    "page; a read-only one is refused every write with 403). Money is a "
                    "decimal string, dates ISO 8601, ids UUIDs.",
        openapi_url=f"{PREFIX}/openapi.json", docs_url=None, redoc_url=None)
    errors.install(app)
    for module in (health, auth):
        app.include_router(module.router, prefix=PREFIX)
    # Every resource route signs its caller in; a read-only personal token's writes stop here.
    guarded = (users, partners, commissions, opportunities, dashboard, status, tasks, goals,
               alerts)
    for module in guarded:
        app.include_router(module.router, prefix=PREFIX,
                           dependencies=[Depends(deps.scope_allows)])
    if settings.api_docs:
        _docs(app)
    if settings.api_cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=list(settings.api_cors_origins),
                           allow_methods=["GET", "POST", "PUT", "DELETE"],
                           allow_headers=["Authorization", "Content-Type", "If-Match"],
                           expose_headers=["ETag", "Retry-After"])
    # Prometheus reads this process's metrics here (isv/metrics.py: the same names as the app
    # replicas and the scheduler); outside /api/v1 and the schema, as it is no API resource.
    app.add_route("/metrics", metrics.endpoint, include_in_schema=False)
    app.add_middleware(BodyLimit)
    app.add_middleware(RateLimit)
    # The request histogram's templates, read off the routers and the app's own routes:
    # building the OpenAPI document to list them took 0.5 s of CPU per app built.
    templates = {f"{PREFIX}{route.path}"
                 for module in (health, auth, *guarded) for route in module.router.routes}
    templates |= {r.path for r in app.router.routes if isinstance(getattr(r, "path", None), str)}
    app.add_middleware(RequestFrame, templates=templates)
    # Outermost: behind a trusted proxy (ISV_API_TRUSTED_PROXIES) the client address the
    # rate limits count is the one the proxy saw; anyone else's X-Forwarded-For is ignored.
    app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=list(settings.api_trusted_proxies))
    return app
