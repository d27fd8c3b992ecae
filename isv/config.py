"""One settings object, read once from the environment (and `.env` when present)."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from dotenv import load_dotenv

# HS256 wants a key at least as long as its 32-byte hash.
MIN_COOKIE_KEY_BYTES = 32
PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_COOKIE_KEY = "dev-only-cookie-key-change-me-before-production"
DEFAULT_API_KEY = "dev-only-api-signing-key-change-me-before-production"


ENVIRONMENTS = ("development", "test", "production")


def _environment(raw: str | None) -> str:
    """ISV_ENV in any case ("Production" is production); an unknown name stops the start.

    Read case-sensitively, "Production" ran as development: on the development key, with
    error details shown.
    """
    value = (raw or "development").strip().lower()
    if value not in ENVIRONMENTS:
        raise RuntimeError(f"ISV_ENV must be one of {', '.join(ENVIRONMENTS)}, got {raw!r}")
    return value


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw in (None, ""):
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise RuntimeError(f"{name} must be a whole number, got {raw!r}") from exc


def _switch(name: str, default: bool) -> bool:
    raw = (os.environ.get(name) or "").strip().lower()
    if not raw:
        return default
    if raw in ("on", "true", "1", "yes"):
        return True
    if raw in ("off", "false", "0", "no"):
        return False
    raise RuntimeError(f"{name} must be on or off, got {os.environ.get(name)!r}")


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    database_url: str = ""
    redis_url: str | None = None
    cookie_key: str = DEFAULT_COOKIE_KEY
    cookie_name: str = "isv_auth"
    timezone: str = "UTC"
    fiscal_year_start_month: int = 1
    bcrypt_rounds: int = 12
    login_max_failures: int = 5
    login_window_minutes: int = 15
    login_lock_minutes: int = 15
    session_idle_minutes: int = 30
    session_max_hours: int = 12
    max_sessions_per_user: int = 3
    log_level: str = "INFO"
    log_format: str = "text"
    # The scheduler sidecar (scheduler/): crontab lines in `timezone` (5 fields, or 6 with
    # seconds first); a run that starts late by up to the grace still runs.
    alerts_cron: str = "*/15 * * * *"
    rollover_cron: str = "5 0 * * mon"
    # Daily purge of audit entries and read alerts past their retention (Settings page).
    retention_cron: str = "30 3 * * *"
    scheduler_misfire_grace_seconds: int = 600
    scheduler_lock_poll_seconds: int = 5
    alert_touch_days: int = 30
    # The largest file an import reads (isv.services.importing.Limits says why these).
    import_max_rows: int = 200_000
    import_max_columns: int = 100
    import_max_cell_chars: int = 32_767
    import_max_megabytes: int = 256
    import_max_problems: int = 1_000
    # How many analytics results a server process recomputes in the background as soon as the
    # data changes (the ones viewed last, in the last 15 minutes); 0 turns that off.
    analytics_refresh: int = 4
    analytics_prefetch: bool = True
    # How often an open page asks whether the data changed (a new alert, another person's
    # save) and then redraws itself.
    page_poll_seconds: int = 30
    # Operations (README "Monitoring"): Prometheus metrics, and the scheduled backup job.
    metrics_enabled: bool = True
    scheduler_metrics_port: int = 0     # 0: the scheduler serves no /metrics
    backup_cron: str = "15 2 * * *"
    health_cron: str = "20 0 * * mon"
    backup_dir: str = ""                # empty: beside the SQLite file, or var/backups
    backup_keep_days: int = 30
    # The REST API (isv/api): the key its access tokens are signed with (HS256), their
    # lifetimes, the browsers' origins it answers (CORS; none by default), its request limits.
    api_key: str = DEFAULT_API_KEY
    api_access_minutes: int = 15
    api_refresh_days: int = 30
    api_cors_origins: tuple[str, ...] = ()
    api_docs: bool = True
    api_max_body_bytes: int = 1_048_576
    api_rate_per_minute: int = 300
    api_login_rate_per_minute: int = 10
    # Addresses or networks of the proxies (nginx) whose X-Forwarded-For / -Proto the API
    # believes: the client address its rate limits count is then the one the proxy saw.
    api_trusted_proxies: tuple[str, ...] = ("127.0.0.1",)
    # Worker processes `isv api` serves with; 0: one a core this process may use, at most 4
    # (isv/api/workers.py says why).
    api_workers: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    def check_production_ready(self) -> None:
        """Refuse to run production on development secrets."""
        if not self.is_production:
            return
        if self.cookie_key == DEFAULT_COOKIE_KEY:
            raise RuntimeError(
                "ISV_COOKIE_KEY is the development default; set a secret before running "
                "with ISV_ENV=production"
            )
        if len(self.cookie_key.encode()) < MIN_COOKIE_KEY_BYTES:
            raise RuntimeError(
                f"ISV_COOKIE_KEY must be at least {MIN_COOKIE_KEY_BYTES} bytes with "
                "ISV_ENV=production"
            )
        # Whoever reaches an open Redis can empty the cache or fill it with entries the
        # app refuses; only the app replicas and the scheduler may use it.
        if self.redis_url and not redis_password(self.redis_url):
            raise RuntimeError(
                "ISV_REDIS_URL has no password; with ISV_ENV=production give Redis one "
                "(requirepass) and put it in the URL: redis://:PASSWORD@host:6379/0"
            )


    def check_api_ready(self) -> None:
        """Refuse to serve the REST API in production with a default or short signing key.

        Apart from check_production_ready: the app and scheduler need no API key.
        """
        self.check_production_ready()
        if not self.is_production:
            return
        if self.api_key == DEFAULT_API_KEY:
            raise RuntimeError(
                "ISV_API_KEY is the development default; set a secret before running "
                "the API with ISV_ENV=production"
            )
        if len(self.api_key.encode()) < MIN_COOKIE_KEY_BYTES:
            raise RuntimeError(
                f"ISV_API_KEY must be at least {MIN_COOKIE_KEY_BYTES} bytes with "
                "ISV_ENV=production"
            )


def _proxies(name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    """Comma-separated IP addresses or networks; anything else stops the start.

    uvicorn would take a mistyped entry as a host name no client ever has, and silently
    count every caller behind the proxy as one address.
    """
    raw = os.environ.get(name)
    if raw is None:
        return default
    entries = tuple(e.strip() for e in raw.split(",") if e.strip())
    for entry in entries:
        try:
            ipaddress.ip_network(entry, strict=False)
        except ValueError:
            raise RuntimeError(f"{name} takes IP addresses or networks (10.0.0.0/8), "
                               f"got {entry!r}") from None
    return entries


def _positive(name: str, default: int) -> int:
    value = _int(name, default)
    if value < 1:
        raise RuntimeError(f"{name} must be 1 or more, got {value}")
    return value


def _workers(name: str) -> int:
    """A count of processes; empty or 0 for the default, one a core."""
    value = _int(name, 0)
    if value < 0:
        raise RuntimeError(f"{name} must be 1 or more (empty: one a core), got {value}")
    return value


def redis_password(url: str) -> str | None:
    """The password a Redis URL carries (redis://:PASSWORD@host, or ?password=), if any."""
    parts = urlsplit(url)
    return parts.password or (parse_qs(parts.query).get("password") or [None])[0]


def default_database_url() -> str:
    return f"sqlite:///{PROJECT_ROOT / 'var' / 'isv.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    load_dotenv(PROJECT_ROOT / ".env", override=False)
    env = os.environ.get
    return Settings(
        env=_environment(env("ISV_ENV")),
        database_url=env("ISV_DATABASE_URL") or default_database_url(),
        redis_url=env("ISV_REDIS_URL") or None,
        cookie_key=env("ISV_COOKIE_KEY") or DEFAULT_COOKIE_KEY,
        cookie_name=env("ISV_COOKIE_NAME", "isv_auth"),
        timezone=env("ISV_TIMEZONE", "UTC"),
        fiscal_year_start_month=_int("ISV_FISCAL_YEAR_START_MONTH", 1),
        bcrypt_rounds=_int("ISV_BCRYPT_ROUNDS", 12),
        login_max_failures=_int("ISV_LOGIN_MAX_FAILURES", 5),
        login_window_minutes=_int("ISV_LOGIN_WINDOW_MINUTES", 15),
        login_lock_minutes=_int("ISV_LOGIN_LOCK_MINUTES", 15),
        session_idle_minutes=_int("ISV_SESSION_IDLE_MINUTES", 30),
        session_max_hours=_int("ISV_SESSION_MAX_HOURS", 12),
        max_sessions_per_user=_int("ISV_MAX_SESSIONS", 3),
        log_level=env("LOG_LEVEL", "INFO"),
        log_format=env("LOG_FORMAT", "text"),
        alerts_cron=env("ISV_ALERTS_CRON") or "*/15 * * * *",
        rollover_cron=env("ISV_ROLLOVER_CRON") or "5 0 * * mon",
        retention_cron=env("ISV_RETENTION_CRON") or "30 3 * * *",
        scheduler_misfire_grace_seconds=_int("ISV_SCHEDULER_MISFIRE_GRACE_SECONDS", 600),
        scheduler_lock_poll_seconds=_int("ISV_SCHEDULER_LOCK_POLL_SECONDS", 5),
        alert_touch_days=_int("ISV_ALERT_TOUCH_DAYS", 30),
        import_max_rows=_int("ISV_IMPORT_MAX_ROWS", 200_000),
        import_max_columns=_int("ISV_IMPORT_MAX_COLUMNS", 100),
        import_max_cell_chars=_int("ISV_IMPORT_MAX_CELL_CHARS", 32_767),
        import_max_megabytes=_int("ISV_IMPORT_MAX_MEGABYTES", 256),
        import_max_problems=_int("ISV_IMPORT_MAX_PROBLEMS", 1_000),
        analytics_refresh=_int("ISV_ANALYTICS_REFRESH", 4),
        page_poll_seconds=_positive("ISV_PAGE_POLL_SECONDS", 30),
        analytics_prefetch=_switch("ISV_ANALYTICS_PREFETCH", True),
        metrics_enabled=_switch("ISV_METRICS", True),
        scheduler_metrics_port=_int("ISV_SCHEDULER_METRICS_PORT", 0),
        backup_cron=env("ISV_BACKUP_CRON") or "15 2 * * *",
        health_cron=env("ISV_HEALTH_CRON") or "20 0 * * mon",
        backup_dir=env("ISV_BACKUP_DIR") or "",
        backup_keep_days=_int("ISV_BACKUP_KEEP_DAYS", 30),
        api_key=env("ISV_API_KEY") or DEFAULT_API_KEY,
        api_access_minutes=_int("ISV_API_ACCESS_MINUTES", 15),
        api_refresh_days=_int("ISV_API_REFRESH_DAYS", 30),
        api_cors_origins=tuple(o.strip() for o in (env("ISV_API_CORS_ORIGINS") or "").split(",")
                               if o.strip()),
        # The docs page: on in development, off in production unless ISV_API_DOCS=true.
        api_docs=(env("ISV_API_DOCS") or "").strip().lower() in ("1", "true", "yes")
        if env("ISV_API_DOCS") else _environment(env("ISV_ENV")) != "production",
        api_max_body_bytes=_int("ISV_API_MAX_BODY_BYTES", 1_048_576),
        api_rate_per_minute=_int("ISV_API_RATE_PER_MINUTE", 300),
        api_login_rate_per_minute=_int("ISV_API_LOGIN_RATE_PER_MINUTE", 10),
        api_trusted_proxies=_proxies("ISV_API_TRUSTED_PROXIES", ("127.0.0.1",)),
        api_workers=_workers("ISV_API_WORKERS"),
    )
