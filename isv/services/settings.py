"""Program settings changed on the Settings page: stored in the database, over the environment.

Each setting starts at today's default: the environment (isv/config.py) for the fiscal year,
the relationship cadence (ISV_ALERT_TOUCH_DAYS) and the time zone, the code's constants for
the rest. A saved value is a row of `app_settings` and wins over the default. Behaviour is
therefore unchanged until someone saves, and a setting never saved keeps following the
environment.

`current_settings()` is read on every page (today's date, the fiscal quarter, money), so it
runs no SQL when nothing changed: the stored rows go through the shared cache, keyed by the
data version that every commit bumps (isv/cache.py, isv/datastamp.py). A save is seen at once
by the process that made it and within a second by every other replica and the scheduler.
With a session it reads through that session instead, so a use case sees the settings of its
own transaction.

One file, over 500 lines, because each setting's default, check and storage meet here: the
Settings page's form and every reader of a setting go through the same table of fields.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from sqlalchemy import event, func, select, update
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from isv import cache, dates, display
from isv.auth import MANAGE_USERS, Viewer, require
from isv.config import get_settings
from isv.db import get_engine, session_scope
from isv.errors import ValidationError
from isv.models import OPEN_STAGES, STAGES, AppSetting, CommissionStructure, Partner
from isv.rules import health as health_rules
from isv.rules import periods
from isv.rules import tiers as tier_rules
from isv.rules.defaults import DEFAULT_PROBABILITY, DUE_SOON_DAYS, DUE_VERY_SOON_DAYS, MILESTONES
from isv.services import audit

log = logging.getLogger(__name__)

MAX_CADENCE_DAYS = 365
MAX_DUE_SOON_DAYS = 90
MAX_RETENTION_DAYS = 36_500
MAX_MILESTONES = 5
MAX_SYMBOL_CHARS = 4
MAX_PROTECTION_DAYS = 730
DEFAULT_PROTECTION_DAYS = 90
DEFAULT_PENDING_DAYS = 30
# Closed deals are certain: won is 100 %, lost is 0 %, whatever the settings say.
FIXED_PROBABILITIES = MappingProxyType({"closed_won": 100, "closed_lost": 0})
_SYMBOL_REFUSED = re.compile(r"[\d%\s]")


@dataclass(frozen=True)
class AppSettings:
    """Every setting, resolved: stored value if saved, else the default."""

    fiscal_year_start_month: int
    stage_probabilities: Mapping[str, int]
    relationship_cadence_days: int
    alert_due_soon_days: int
    alert_due_very_soon_days: int
    alert_goal_milestones: tuple[int, ...]
    time_zone: str
    currency_symbol: str
    audit_retention_days: int | None
    read_alert_retention_days: int | None
    # The health score's weights (isv/rules/health.py): the most points each part moves.
    health_base: int
    health_touch_points: int
    health_pipeline_points: int
    health_win_rate_points: int
    health_stalled_points: int
    health_slipped_points: int
    health_stall_days: int
    health_alert_threshold: int
    # The partner program's tiers, lowest first, with the minimums each asks for.
    partner_tiers: tuple[tier_rules.Tier, ...]
    # Deal registration: how long an approved one protects its partner, and how long a
    # pending one waits for a decision before it expires.
    registration_protection_days: int
    registration_pending_days: int

    def health_weights(self) -> health_rules.Weights:
        """The health score's weights as the rules take them."""
        return health_rules.Weights(
            base=self.health_base, touch=self.health_touch_points,
            pipeline=self.health_pipeline_points, win_rate=self.health_win_rate_points,
            stalled=self.health_stalled_points, slipped=self.health_slipped_points,
            stall_days=self.health_stall_days)


HEALTH_FIELDS = ("health_base", "health_touch_points", "health_pipeline_points",
                 "health_win_rate_points", "health_stalled_points", "health_slipped_points")
MAX_HEALTH_POINTS = 100
FIELDS = tuple(f.name for f in fields(AppSettings))


def defaults() -> AppSettings:
    """The settings before anyone saves: the environment's and the code's."""
    env = get_settings()
    return AppSettings(
        fiscal_year_start_month=env.fiscal_year_start_month,
        stage_probabilities=MappingProxyType(
            {stage: int(DEFAULT_PROBABILITY[stage]) for stage in STAGES}),
        relationship_cadence_days=env.alert_touch_days,
        alert_due_soon_days=DUE_SOON_DAYS,
        alert_due_very_soon_days=DUE_VERY_SOON_DAYS,
        alert_goal_milestones=tuple(MILESTONES),
        time_zone=env.timezone,
        currency_symbol="$",
        audit_retention_days=None,
        read_alert_retention_days=None,
        health_base=health_rules.Weights.base,
        health_touch_points=health_rules.Weights.touch,
        health_pipeline_points=health_rules.Weights.pipeline,
        health_win_rate_points=health_rules.Weights.win_rate,
        health_stalled_points=health_rules.Weights.stalled,
        health_slipped_points=health_rules.Weights.slipped,
        health_stall_days=health_rules.Weights.stall_days,
        health_alert_threshold=health_rules.DEFAULT_ALERT_THRESHOLD,
        partner_tiers=tier_rules.DEFAULT_TIERS,
        registration_protection_days=DEFAULT_PROTECTION_DAYS,
        registration_pending_days=DEFAULT_PENDING_DAYS,
    )


# --- validation: one function per setting, each names its field -----------------------

def _whole(field: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise ValidationError(field, "must be a whole number")
    if isinstance(value, str):
        value = value.strip()
        if not re.fullmatch(r"[+-]?\d+", value):
            raise ValidationError(field, f"{value!r} is not a whole number" if value
                                  else "is required")
        value = int(value)
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise ValidationError(field, "must be a whole number")
    if not low <= value <= high:
        raise ValidationError(field, f"must be {low} to {high}, got {value}")
    return value


def _retention(field: str, value: Any) -> int | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _whole(field, value, 1, MAX_RETENTION_DAYS)


def _probabilities(value: Any) -> Mapping[str, int]:
    if not isinstance(value, Mapping):
        raise ValidationError("stage_probabilities", "must give a probability per stage")
    unknown = sorted(set(value) - set(STAGES))
    if unknown:
        raise ValidationError("stage_probabilities", f"{unknown[0]!r} is not a stage")
    out = {}
    for stage in OPEN_STAGES:
        if stage not in value:
            raise ValidationError("stage_probabilities", f"{stage} needs a probability")
        out[stage] = _whole(f"stage_probabilities.{stage}", value[stage], 0, 100)
    for stage, fixed in FIXED_PROBABILITIES.items():
        if stage in value and _whole(f"stage_probabilities.{stage}", value[stage],
                                     0, 100) != fixed:
            raise ValidationError(f"stage_probabilities.{stage}",
                                  f"is always {fixed} % (a closed deal is certain)")
        out[stage] = fixed
    return out


def _milestones(value: Any) -> tuple[int, ...]:
    field = "alert_goal_milestones"
    if isinstance(value, str):
        value = [part for part in re.split(r"[,\s]+", value.strip()) if part]
    if not isinstance(value, Iterable):
        raise ValidationError(field, "must be a list of percentages like 50, 75, 100")
    numbers = sorted({_whole(field, item, 1, 100) for item in value})
    if not 1 <= len(numbers) <= MAX_MILESTONES:
        raise ValidationError(field, f"give 1 to {MAX_MILESTONES} percentages, "
                                     "like 50, 75, 100")
    return tuple(numbers)


@lru_cache(maxsize=1)
def time_zones() -> frozenset[str]:
    """Every IANA time zone name this machine knows (read from disk once)."""
    return frozenset(available_timezones())


def _time_zone(value: Any) -> str:
    name = value.strip() if isinstance(value, str) else value
    if not name:
        raise ValidationError("time_zone", "is required")
    if not isinstance(name, str) or name not in time_zones():
        raise ValidationError("time_zone", f"{name!r} is not a time zone like Europe/Berlin")
    return name


def _symbol(value: Any) -> str:
    symbol = value.strip() if isinstance(value, str) else ""
    if not symbol:
        raise ValidationError("currency_symbol", "is required")
    if len(symbol) > MAX_SYMBOL_CHARS:
        raise ValidationError("currency_symbol",
                              f"must be at most {MAX_SYMBOL_CHARS} characters, like $, € or CHF")
    if _SYMBOL_REFUSED.search(symbol) or not symbol.isprintable():
        raise ValidationError("currency_symbol", "may not hold digits, spaces or %")
    return symbol


TIER_FIELDS = ("name", "min_won_revenue", "min_won_deals", "min_open_pipeline")
MAX_TIERS = tier_rules.MAX_TIERS
MAX_TIER_MONEY = Decimal("9999999999.99")  # what a Money column holds


def _tier_money(field: str, value: Any) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise ValidationError(field, "is required")
    text = str(value).strip().replace(",", "")
    if not text:
        return Decimal(0)
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValidationError(field, f"{str(value)!r} is not an amount like 250000") from None
    if not amount.is_finite() or amount < 0:
        raise ValidationError(field, "must be 0 or more")
    if amount > MAX_TIER_MONEY or amount != amount.quantize(Decimal("0.01")):
        raise ValidationError(field, "must be at most 9,999,999,999.99, in cents at most")
    return amount.quantize(Decimal("0.01"))


def _tier(k: int, value: Any) -> tier_rules.Tier:
    field = f"partner_tiers.{k}"
    if isinstance(value, tier_rules.Tier):
        value = asdict(value)
    if not isinstance(value, Mapping):
        raise ValidationError(field, "must give a name and minimums")
    name = value.get("name")
    name = " ".join(name.split()) if isinstance(name, str) else ""
    if not name:
        raise ValidationError(f"{field}.name", "is required")
    if name.lower() == "none":
        raise ValidationError(f"{field}.name", "'none' stands for no tier; choose another name")
    if len(name) > tier_rules.MAX_NAME_CHARS or not name.isprintable():
        raise ValidationError(f"{field}.name",
                              f"must be at most {tier_rules.MAX_NAME_CHARS} printable characters")
    deals = value.get("min_won_deals", 0)
    return tier_rules.Tier(
        name=name,
        min_won_revenue=_tier_money(f"{field}.min_won_revenue", value.get("min_won_revenue", 0)),
        min_won_deals=0 if isinstance(deals, str) and not deals.strip()
        else _whole(f"{field}.min_won_deals", deals, 0, 100_000),
        min_open_pipeline=_tier_money(f"{field}.min_open_pipeline",
                                      value.get("min_open_pipeline", 0)))


def _tiers(value: Any) -> tuple[tier_rules.Tier, ...]:
    """The tiers, lowest first: named uniquely, each asking at least what the one below asks
    and more of something (a tier no partner could tell from the one below is a mistake)."""
    field = "partner_tiers"
    if isinstance(value, Mapping) or not isinstance(value, Iterable) or isinstance(value, str):
        raise ValidationError(field, "must be a list of tiers, lowest first")
    tiers = tuple(_tier(k, item) for k, item in enumerate(value))
    if not 1 <= len(tiers) <= tier_rules.MAX_TIERS:
        raise ValidationError(field, f"give 1 to {tier_rules.MAX_TIERS} tiers")
    seen: set[str] = set()
    for k, tier in enumerate(tiers):
        if tier.name.lower() in seen:
            raise ValidationError(f"{field}.{k}.name", f"{tier.name!r} names two tiers")
        seen.add(tier.name.lower())
        if k == 0:
            continue
        below = tiers[k - 1]
        for name in TIER_FIELDS[1:]:
            if getattr(tier, name) < getattr(below, name):
                raise ValidationError(f"{field}.{k}.{name}",
                                      f"must be at least {below.name}'s "
                                      f"({getattr(below, name)}): tiers go up in order")
        if all(getattr(tier, n) == getattr(below, n) for n in TIER_FIELDS[1:]):
            raise ValidationError(f"{field}.{k}.name",
                                  f"{tier.name} asks no more than {below.name}; raise a minimum")
    return tiers


_CLEAN = {
    "fiscal_year_start_month": lambda v: _whole("fiscal_year_start_month", v, 1, 12),
    "stage_probabilities": _probabilities,
    "relationship_cadence_days": lambda v: _whole("relationship_cadence_days", v, 1,
                                                  MAX_CADENCE_DAYS),
    "alert_due_soon_days": lambda v: _whole("alert_due_soon_days", v, 1, MAX_DUE_SOON_DAYS),
    "alert_due_very_soon_days": lambda v: _whole("alert_due_very_soon_days", v, 0,
                                                 MAX_DUE_SOON_DAYS),
    "alert_goal_milestones": _milestones,
    "time_zone": _time_zone,
    "currency_symbol": _symbol,
    "audit_retention_days": lambda v: _retention("audit_retention_days", v),
    "read_alert_retention_days": lambda v: _retention("read_alert_retention_days", v),
    **{name: (lambda v, name=name: _whole(name, v, 0, MAX_HEALTH_POINTS))
       for name in HEALTH_FIELDS},
    "health_stall_days": lambda v: _whole("health_stall_days", v, 1, MAX_CADENCE_DAYS),
    "health_alert_threshold": lambda v: _whole("health_alert_threshold", v, 0, 100),
    "partner_tiers": _tiers,
    "registration_protection_days": lambda v: _whole("registration_protection_days", v, 1,
                                                     MAX_PROTECTION_DAYS),
    "registration_pending_days": lambda v: _whole("registration_pending_days", v, 1,
                                                  MAX_CADENCE_DAYS),
}


def _check_together(settings: AppSettings) -> None:
    if settings.alert_due_very_soon_days >= settings.alert_due_soon_days:
        raise ValidationError("alert_due_very_soon_days",
                              f"must be fewer days than 'due soon' "
                              f"({settings.alert_due_soon_days})")


# --- reading ---------------------------------------------------------------------------

def _stored(session: Session) -> dict[str, Any]:
    """The saved settings that still validate; a row that does not is skipped, with a warning."""
    out: dict[str, Any] = {}
    # Only the typed settings: the slide master's row is megabytes and read on its own.
    for key, text in session.execute(select(AppSetting.key, AppSetting.value)
                                     .where(AppSetting.key.in_(list(_CLEAN)))):
        try:
            out[key] = _CLEAN[key](json.loads(text))
        except (ValueError, ValidationError) as exc:
            log.warning("ignoring the stored setting %s: %s", key, exc)
    return out


def _frozen(values: Mapping[str, Any]) -> dict[str, Any]:
    # Cached values stay plain (the cache stores typed JSON); the settings handed out are
    # read-only.
    if "stage_probabilities" not in values:
        return dict(values)
    return {**values, "stage_probabilities": MappingProxyType(values["stage_probabilities"])}


def _resolve(stored: Mapping[str, Any]) -> AppSettings:
    merged = replace(defaults(), **_frozen(stored))
    try:
        _check_together(merged)
    except ValidationError as exc:  # an environment default against a saved value
        log.warning("ignoring the stored alert day thresholds: %s", exc)
        base = defaults()
        merged = replace(merged, alert_due_soon_days=base.alert_due_soon_days,
                         alert_due_very_soon_days=base.alert_due_very_soon_days)
    return merged


# The last settings resolved per database, with the data version and the environment they
# were resolved at. A page reads them a hundred times a run: within FRESH_SECONDS a read
# costs nothing, after that one data-version read (a small file, or a Redis GET). A save in
# this process forgets them at its commit; another process's save is seen within
# FRESH_SECONDS.
FRESH_SECONDS = 1.0


@dataclass
class _Resolved:
    settings: AppSettings
    env: Any             # the environment's settings object they were resolved with
    version: int         # the data version they were read at
    read_at: float       # when they were read (monotonic)
    checked_at: float    # when the data version was last seen unchanged


_SAVED = "isv_settings_saved"  # session.info flag: this transaction saved settings
_resolved: dict[str, _Resolved] = {}


def _forget_after_save(session: Session) -> None:
    if session.info.pop(_SAVED, False):
        _resolved.clear()


event.listen(Session, "after_commit", _forget_after_save)


def _configured() -> AppSettings:
    env = get_settings()
    url = env.database_url
    now = time.monotonic()
    known = _resolved.get(url)
    if known is not None and known.env is env and now - known.checked_at < FRESH_SECONDS:
        return known.settings
    if url.startswith("sqlite") and not Path(url.split("///", 1)[-1]).exists():
        return _resolve({})  # no database yet (a unit test, a first start): nothing saved
    database = cache.database_key(get_engine().url)
    if known is not None and known.env is env:
        version = cache.data_version(database)
        # Bounded in time as well: a Redis counter that expired restarts at 1 (isv/cache.py).
        if version >= 0 and version == known.version \
                and now - known.read_at < cache.RESULT_TTL_SECONDS:
            known.checked_at = now
            return known.settings
    else:
        version = cache.data_version(database)

    def read() -> dict[str, Any]:
        with session_scope() as session:
            return _stored(session)

    try:
        stored = cache.get_cache().get_or_compute(database, ("app_settings",), read)
    except (OperationalError, ProgrammingError) as exc:
        # Not migrated yet (the table is missing): nothing can have been saved.
        log.warning("settings not readable, using the defaults: %s", str(exc).splitlines()[0])
        return _resolve({})
    resolved = _resolve(stored)
    if version >= 0:
        _resolved[url] = _Resolved(resolved, env, version, now, now)
    return resolved


def current_settings(session: Session | None = None) -> AppSettings:
    """The settings in force: saved values over the defaults.

    Without a session: the configured database's, through the cache (no SQL when nothing
    changed). With one: as that session's transaction sees them.
    """
    return _resolve(_stored(session)) if session is not None else _configured()


display.read_settings_from(current_settings)  # money and timestamps shown as set here
periods.read_fiscal_start_from(lambda: current_settings().fiscal_year_start_month)


# --- the program's time zone: isv.dates is pure, the zone comes from here ---------------

def local_zone() -> ZoneInfo:
    """The program's time zone: the Settings page's, else ISV_TIMEZONE."""
    return ZoneInfo(current_settings().time_zone)


def local_today() -> date:
    """Today in the program's time zone."""
    return dates.today_in(local_zone())


def local_date(moment: datetime) -> date:
    """The calendar day a timestamp falls on in the deployment's time zone."""
    return dates.date_in(moment, local_zone())


# --- changing --------------------------------------------------------------------------

def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    if isinstance(value, tier_rules.Tier):
        return {name: str(v) if isinstance(v, Decimal) else v
                for name, v in asdict(value).items()}
    return value


def _follow_tier_renames(session: Session, before: tuple[tier_rules.Tier, ...],
                         after: tuple[tier_rules.Tier, ...]) -> dict[str, str]:
    """Carry partners and structures along when a tier is renamed in place; refuse to drop a
    tier someone holds.

    A tier whose name changed at the same position, the old name gone and the new one new,
    is a rename: partners and structures holding it take the new name. Returns old -> new.
    """
    old_names = {t.name.lower() for t in before}
    new_names = {t.name.lower() for t in after}
    renames: dict[str, str] = {}
    for k, tier in enumerate(before):
        if tier.name.lower() in new_names or k >= len(after):
            continue
        if after[k].name.lower() not in old_names:
            renames[tier.name] = after[k].name
    for old, new in renames.items():
        for model in (Partner, CommissionStructure):
            session.execute(update(model).where(func.lower(model.tier) == old.lower())
                            .values(tier=new).execution_options(synchronize_session="fetch"))
    for tier in before:
        if tier.name.lower() in new_names or tier.name in renames:
            continue
        held = session.scalar(select(func.count()).select_from(Partner)
                              .where(func.lower(Partner.tier) == tier.name.lower()))
        named = session.scalar(select(func.count()).select_from(CommissionStructure)
                               .where(func.lower(CommissionStructure.tier) == tier.name.lower()))
        if held or named:
            raise ValidationError(
                "partner_tiers", f"{tier.name} is held by {held} partner(s) and named by "
                f"{named} commission structure(s); move them to another tier first")
    return renames


def update_settings(*, session: Session, viewer: Viewer,
                    stage_probability_changes: Mapping[str, Any] | None = None,
                    **changes: Any) -> AppSettings:
    """Save some settings (vp, admin); every value is checked, old → new is audited.

    Only the settings given change. `stage_probability_changes` changes the default of some
    stages and keeps the others' as stored, so that a form sends only the stage edited.
    """
    require(viewer, MANAGE_USERS, "change settings")
    unknown = sorted(set(changes) - set(FIELDS))
    if unknown:
        raise ValidationError(unknown[0], "is not a setting")
    current = current_settings(session)
    if stage_probability_changes:
        if "stage_probabilities" in changes:
            raise ValidationError("stage_probabilities",
                                  "give either every stage or only the changed ones")
        changes["stage_probabilities"] = {**current.stage_probabilities,
                                          **stage_probability_changes}
    clean = {name: _CLEAN[name](value) for name, value in changes.items()}
    updated = replace(current, **_frozen(clean))
    _check_together(updated)
    old, new = {}, {}
    for name in clean:
        before, after = getattr(current, name), getattr(updated, name)
        if before == after:
            continue
        if name == "partner_tiers":
            renamed = _follow_tier_renames(session, before, after)
            if renamed:
                new["partner_tiers_renamed"] = renamed
        old[name], new[name] = _plain(before), _plain(after)
        row = session.get(AppSetting, name)
        text = json.dumps(_plain(after))
        if row is None:
            session.add(AppSetting(key=name, value=text))
        else:
            row.value = text
    if new:
        session.info[_SAVED] = True
        audit.record(session, actor=viewer, action="update", entity_type="settings",
                     entity_id=None, old=old, new=new)
        session.flush()
    return updated


# --- the exec review pack's slide master -------------------------------------------------
# A .pptx whose master and layouts give the pack its look. Kept like the other settings, in
# app_settings (so every replica and a backup have it), as JSON with the file in base64;
# it is read only when a pack is built, never with the typed settings above.

SLIDE_MASTER = "slide_master"


@dataclass(frozen=True)
class SlideMaster:
    """The uploaded slide master: its file name, size, who uploaded it, and when."""

    file_name: str
    size: int
    uploaded_by: str
    uploaded_at: Any
    cover_layout: str
    content_layout: str


def _master_row(session: Session) -> tuple[dict[str, Any], Any] | None:
    row = session.get(AppSetting, SLIDE_MASTER)
    if row is None:
        return None
    return json.loads(row.value), row.updated_at


def slide_master_info(*, session: Session, viewer: Viewer) -> SlideMaster | None:
    """What slide master the pack uses, if one was uploaded (without the file itself)."""
    require(viewer, MANAGE_USERS, "see the settings")
    return _master_info(session)


def _master_info(session: Session) -> SlideMaster | None:
    found = _master_row(session)
    if found is None:
        return None
    stored, updated_at = found
    return SlideMaster(file_name=stored["file_name"], size=stored["size"],
                       uploaded_by=stored["uploaded_by"], uploaded_at=updated_at,
                       cover_layout=stored["cover_layout"],
                       content_layout=stored["content_layout"])


def slide_master_file(*, session: Session) -> bytes | None:
    """The uploaded slide master's .pptx bytes, or None for the default look."""
    found = _master_row(session)
    return None if found is None else base64.b64decode(found[0]["data"])


def save_slide_master(*, session: Session, viewer: Viewer, file_name: Any,
                      data: bytes) -> SlideMaster:
    """Use an uploaded .pptx as the pack's slide master (vp, admin), after checking it."""
    from isv.rules.slides import check  # python-pptx: loaded only by whoever uploads

    require(viewer, MANAGE_USERS, "change settings")
    name = file_name.strip() if isinstance(file_name, str) else ""
    if not name:
        raise ValidationError(SLIDE_MASTER, "the file has no name")
    if len(name) > 200:
        raise ValidationError(SLIDE_MASTER, "the file name is longer than 200 characters")
    if not name.lower().endswith(".pptx"):
        raise ValidationError(SLIDE_MASTER, f"{name!r} is not a .pptx file")
    template = check(data)
    encoded = base64.b64encode(data).decode("ascii")
    row = session.get(AppSetting, SLIDE_MASTER)
    if row is not None:
        current = json.loads(row.value)
        if current["data"] == encoded and current["file_name"] == name:
            return _master_info(session)  # the same file again: nothing to save
    stored = {"file_name": name, "size": len(data), "uploaded_by": viewer.name or viewer.email,
              "cover_layout": template.cover_layout, "content_layout": template.content_layout,
              "data": encoded}
    before = _master_info(session)
    if row is None:
        session.add(AppSetting(key=SLIDE_MASTER, value=json.dumps(stored)))
    else:
        row.value = json.dumps(stored)
    audit.record(session, actor=viewer, action="update", entity_type="settings",
                 entity_id=None,
                 old={SLIDE_MASTER: before.file_name if before else None},
                 new={SLIDE_MASTER: f"{name} ({len(data):,} bytes)"})
    session.flush()
    return _master_info(session)


def remove_slide_master(*, session: Session, viewer: Viewer) -> bool:
    """Go back to the default look (vp, admin); False when there was no master to remove."""
    require(viewer, MANAGE_USERS, "change settings")
    row = session.get(AppSetting, SLIDE_MASTER)
    if row is None:
        return False
    old = json.loads(row.value)["file_name"]
    session.delete(row)
    audit.record(session, actor=viewer, action="update", entity_type="settings",
                 entity_id=None, old={SLIDE_MASTER: old}, new={SLIDE_MASTER: None})
    session.flush()
    return True
