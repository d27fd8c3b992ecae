"""The seed's response envelope: {"success", "data", "meta"} and {"success", "error", "meta"}."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

API_VERSION = "1.0.0"
MAX_PER_PAGE = 200  # the hard maximum page size of every list

T = TypeVar("T")


class Meta(BaseModel):
    timestamp: str = Field(description="When the answer was made, UTC, ISO 8601.")
    version: str = Field(description="The API version.")


class Pagination(BaseModel):
    page: int
    per_page: int
    total: int = Field(description="How many records match, on every page.")
    pages: int


class PageMeta(Meta):
    pagination: Pagination


class Envelope(BaseModel, Generic[T]):
    success: bool = True
    data: T
    meta: Meta


class PageEnvelope(BaseModel, Generic[T]):
    success: bool = True
    data: list[T]
    meta: PageMeta


class FieldError(BaseModel):
    field: str
    reason: str


class ErrorDetails(BaseModel):
    field: str | None = None
    reason: str | None = None
    errors: list[FieldError] | None = Field(
        default=None, description="Every bad field, when a request had more than one.")


class ErrorBody(BaseModel):
    code: str = Field(description="VALIDATION_ERROR, UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, "
                                  "CONFLICT, RATE_LIMITED, PAYLOAD_TOO_LARGE, INTERNAL_ERROR")
    message: str
    details: ErrorDetails | None = None


class ErrorEnvelope(BaseModel):
    success: bool = False
    error: ErrorBody
    meta: Meta


def meta() -> dict[str, str]:
    now = datetime.now(UTC).replace(microsecond=0)
    return {"timestamp": now.isoformat().replace("+00:00", "Z"), "version": API_VERSION}


def ok(data: Any) -> dict[str, Any]:
    return {"success": True, "data": data, "meta": meta()}


def page(rows: list[Any], *, page: int, per_page: int, total: int) -> dict[str, Any]:
    pages = (total + per_page - 1) // per_page if total else 0
    return {"success": True, "data": rows,
            "meta": {**meta(), "pagination": {"page": page, "per_page": per_page,
                                              "total": total, "pages": pages}}}


def error(code: str, message: str, *, field: str | None = None, reason: str | None = None,
          errors: list[dict[str, str]] | None = None) -> dict[str, Any]:
    details = None
    if field is not None or errors:
        details = {"field": field, "reason": reason}
        if errors and len(errors) > 1:
            details["errors"] = errors
    return {"success": False, "error": {"code": code, "message": message, "details": details},
            "meta": meta()}
