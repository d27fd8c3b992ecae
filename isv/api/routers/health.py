"""GET /health: can this process serve, and is the schema the code expects in place."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from isv.api.envelope import Envelope, ok
from isv.config import get_settings
from isv.db import session_scope
from isv.migrate import head_revision

router = APIRouter(tags=["health"])


class Check(BaseModel):
    status: Literal["ok", "error", "not_configured"]
    detail: str | None = None


class Health(BaseModel):
    status: Literal["ok", "error"]
    database: Check
    redis: Check
    schema_revision: str | None
    schema_head: str | None
    schema_at_head: bool


def _database() -> tuple[Check, str | None]:
    try:
        with session_scope() as session:
            session.execute(text("SELECT 1"))
            try:
                revision = session.scalar(text("SELECT version_num FROM alembic_version"))
            except Exception:
                session.rollback()
                revision = None
        return Check(status="ok"), revision
    except Exception as exc:  # the health report says what failed instead of failing
        return Check(status="error", detail=type(exc).__name__), None


def _redis() -> Check:
    url = get_settings().redis_url
    if not url:
        return Check(status="not_configured")
    import redis

    try:
        redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2).ping()
        return Check(status="ok")
    except redis.RedisError as exc:
        return Check(status="error", detail=type(exc).__name__)


@router.get("/health", response_model=Envelope[Health],
            responses={503: {"model": Envelope[Health], "description": "Not ready"}})
def health():
    """Database, Redis (when configured) and whether the schema is at the code's head."""
    database, revision = _database()
    cache = _redis()
    head = head_revision()
    at_head = revision is not None and revision == head
    healthy = database.status == "ok" and cache.status != "error" and at_head
    body = Health(status="ok" if healthy else "error", database=database, redis=cache,
                  schema_revision=revision, schema_head=head, schema_at_head=at_head)
    return JSONResponse(ok(body.model_dump()), status_code=200 if healthy else 503)
