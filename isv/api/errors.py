"""Every failure becomes the seed's error envelope here, in one place.

Services raise isv.errors; the mapping to status and code is this table, not a handler each.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from isv import errors
from isv.api.envelope import ErrorEnvelope, error

log = logging.getLogger("isv.api")

STATUS: dict[type[errors.IsvError], tuple[int, str]] = {
    errors.ValidationError: (422, "VALIDATION_ERROR"),
    errors.Unauthenticated: (401, "UNAUTHENTICATED"),
    errors.LoginRefused: (401, "UNAUTHENTICATED"),
    errors.Forbidden: (403, "FORBIDDEN"),
    errors.NotFound: (404, "NOT_FOUND"),
    errors.Conflict: (409, "CONFLICT"),
    errors.RateLimited: (429, "RATE_LIMITED"),
}

_HTTP_CODES = {400: "BAD_REQUEST", 401: "UNAUTHENTICATED", 403: "FORBIDDEN",
               404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 406: "NOT_ACCEPTABLE",
               409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE",
               422: "VALIDATION_ERROR", 429: "RATE_LIMITED"}


class ApiError(Exception):
    """A refusal decided by the API itself (no token, too many requests)."""

    def __init__(self, status: int, code: str, message: str, *,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers


def respond(status: int, body: dict[str, Any],
            headers: dict[str, str] | None = None) -> JSONResponse:
    out = dict(headers or {})
    if status == 401:
        out.setdefault("WWW-Authenticate", "Bearer")
    return JSONResponse(body, status_code=status, headers=out)


def _isv_error(_request: Request, exc: errors.IsvError) -> JSONResponse:
    status, code = next((v for k, v in STATUS.items() if isinstance(exc, k)),
                        (400, "BAD_REQUEST"))
    if isinstance(exc, errors.ValidationErrors):
        found = [{"field": e.field, "reason": e.reason} for e in exc.errors]
        message = "; ".join(f"{e['field']}: {e['reason']}" for e in found)
        return respond(status, error(code, message, field=exc.field, reason=exc.reason,
                                     errors=found))
    if isinstance(exc, errors.ValidationError):
        message = f"{exc.field}: {exc.reason}"
        return respond(status, error(code, message, field=exc.field, reason=exc.reason))
    return respond(status, error(code, str(exc)))


def _field_name(loc: tuple[Any, ...]) -> str:
    # ("body", "deal_value") -> "deal_value"; ("query", "stage", 0) -> "stage"
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")
             and not isinstance(p, int)]
    return ".".join(parts) or "body"


def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
    found: list[dict[str, str]] = []
    for problem in exc.errors():
        entry = {"field": _field_name(tuple(problem.get("loc", ()))),
                 "reason": str(problem.get("msg", "is not valid"))}
        if entry not in found:
            found.append(entry)
    first = found[0] if found else {"field": "body", "reason": "is not valid"}
    message = "; ".join(f"{e['field']}: {e['reason']}" for e in found) or "Invalid request"
    return respond(422, error("VALIDATION_ERROR", message, field=first["field"],
                              reason=first["reason"], errors=found))


def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 400:
        # FastAPI's answer to a body that is not JSON: a refused field like any other.
        return respond(422, error("VALIDATION_ERROR", f"body: {exc.detail}", field="body",
                                  reason=str(exc.detail)))
    code = _HTTP_CODES.get(exc.status_code, "ERROR")
    return respond(exc.status_code, error(code, str(exc.detail)),
                   headers=dict(exc.headers or {}))


def _api(_request: Request, exc: ApiError) -> JSONResponse:
    return respond(exc.status, error(exc.code, exc.message), headers=exc.headers)


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("API request failed: %s %s", request.method, request.url.path)
    return respond(500, error("INTERNAL_ERROR", "Something went wrong on our side; it has "
                                                "been logged."))


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.IsvError, _isv_error)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(ApiError, _api)
    app.add_exception_handler(Exception, _unexpected)


def _described(text: str) -> dict[str, Any]:
    return {"model": ErrorEnvelope, "description": text}


# The refusals every authenticated route may answer, for the OpenAPI document.
COMMON = {401: _described("No valid access token"),
          413: _described("The request body is too large"),
          422: _described("A field was refused; every bad field is listed"),
          429: _described("Too many requests; Retry-After says when to try again")}
READ = {**COMMON, 403: _described("The caller's role may not do this"),
        404: _described("No such record, or not one the caller may see")}
WRITE = {**READ, 409: _described("Changed by someone else since it was read")}
