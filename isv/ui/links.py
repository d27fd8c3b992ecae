"""Filters in the address bar: the grid's filters and the analytics pages' shared choice.

A copied link reproduces the view: every filter is a readable query parameter
(`?stage=closed_won&closed=2026-07-01..2026-09-30&partner=<id>`), read when the address
changes (a link followed, a reload, a page switch) and rewritten whenever the user changes
a filter. Values that cannot be read are named in a warning and left out, never guessed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date

import streamlit as st

from isv import display
from isv.errors import ValidationError
from isv.models import CLOSED_STAGES, DOMAINS, OPEN_STAGES, STAGES
from isv.rules.deals import FUNNEL_STAGES
from isv.services import validate
from isv.services.opportunities import OpportunityFilters
from isv.ui.labels import stage_label
from isv.ui.widgets import escape_md

GRID_PAGE = "pages/opportunities.py"
NOBODY = "none"  # the owner parameter (and option) for deals assigned to nobody

Params = dict[str, list[str]]


def current() -> Params:
    """The address's query parameters, every value as a list (repeated keys kept)."""
    return {key: st.query_params.get_all(key) for key in st.query_params}


def write(params: Params) -> None:
    """Make the address say `params` (only when it says something else)."""
    if current() != params:
        st.query_params.from_dict({k: v[0] if len(v) == 1 else v for k, v in params.items()})


def _ids(values: Iterable[object]) -> list[str]:
    return [str(v) for v in values]


def _span(low: date | None, high: date | None) -> str:
    return f"{low.isoformat() if low else ''}..{high.isoformat() if high else ''}"


def grid_params(f: OpportunityFilters) -> Params:
    """The grid's address for these filters: readable names, ids only for records."""
    params: Params = {}
    pairs = (("q", [f.text] if f.text else []), ("partner", _ids(f.partner_ids)),
             ("domain", list(f.domains)), ("stage", list(f.stages)),
             ("owner", _ids(f.owner_ids) + ([NOBODY] if f.unassigned else [])),
             ("from", [f.close_from.isoformat()] if f.close_from else []),
             ("to", [f.close_to.isoformat()] if f.close_to else []),
             ("closed", [_span(f.closed_from, f.closed_to)]
              if f.closed_from or f.closed_to else []),
             ("expected", [_span(f.expected_from, f.expected_to)]
              if f.expected_from or f.expected_to else []),
             ("created", [_span(f.created_from, f.created_to)]
              if f.created_from or f.created_to else []),
             ("undated", ["1"] if f.no_expected_date else []),
             ("reached", [f.reached] if f.reached else []),
             ("reason", [f.lost_reason] if f.lost_reason is not None else []),
             ("noreason", ["1"] if f.no_lost_reason else []),
             ("deal", _ids(f.opportunity_ids)),
             ("recorded", ["1"] if f.entry_recorded else []),
             ("left", [f.left_stage] if f.left_stage else []),
             ("leftin", [_span(f.left_from, f.left_to)] if f.left_from or f.left_to else []))
    for key, values in pairs:
        if values:
            params[key] = values
    return params


def open_grid(filters: OpportunityFilters) -> None:
    """Switch to the opportunity grid showing exactly these deals (stops this run)."""
    st.switch_page(GRID_PAGE, query_params=grid_params(filters))


# --- reading an address ------------------------------------------------------------------

@dataclass
class Reading:
    """Filters read from an address, and what could not be read (parameter: reason)."""

    filters: OpportunityFilters
    problems: list[str]


def _day(text: str) -> date:
    return validate.parse_day(text)


def _range(text: str) -> tuple[date | None, date | None]:
    low, sep, high = text.partition("..")
    if not sep:
        day = _day(low)
        return day, day
    first = _day(low) if low.strip() else None
    last = _day(high) if high.strip() else None
    if first is None and last is None:
        raise ValueError("empty range")
    if first and last and last < first:
        raise ValueError("ends before it starts")
    return first, last


def read_grid(params: Mapping[str, list[str]], *, partners: Mapping[str, str],
              people: Mapping[str, str]) -> Reading:
    """The grid's filters from an address; partners by id or name, owners by id or `none`."""
    problems: list[str] = []
    values: dict[str, object] = {}

    def one(key: str) -> str | None:
        got = params.get(key) or []
        return got[-1] if got else None

    by_name = {name.casefold(): pid for pid, name in partners.items()}
    chosen = []
    for raw in params.get("partner", []):
        pid = raw if raw in partners else by_name.get(raw.strip().casefold())
        if pid is None:
            problems.append(f"partner {raw!r}: no such partner among those you see")
        else:
            chosen.append(pid)
    values["partner_ids"] = tuple(dict.fromkeys(chosen))
    for key, field, known in (("domain", "domains", DOMAINS), ("stage", "stages", STAGES)):
        good = [v for v in params.get(key, []) if v in known]
        problems += [f"{key} {v!r}: not one of {', '.join(known)}"
                     for v in params.get(key, []) if v not in known]
        values[field] = tuple(dict.fromkeys(good))
    owners = []
    for raw in params.get("owner", []):
        if raw == NOBODY:
            values["unassigned"] = True
        elif raw in people:
            owners.append(raw)
        else:
            problems.append(f"owner {raw!r}: no such person")
    values["owner_ids"] = tuple(dict.fromkeys(owners))
    if (raw := one("q")) is not None:
        try:
            values["text"] = validate.search("search", raw)
        except ValidationError as exc:
            problems.append(f"q {raw!r}: {exc.reason}")
    for key, field in (("from", "close_from"), ("to", "close_to")):
        if (raw := one(key)) is not None:
            try:
                values[field] = _day(raw)
            except ValueError:
                problems.append(f"{key} {raw!r}: not a date like 2026-07-01")
    for key in ("closed", "expected", "created"):
        if (raw := one(key)) is not None:
            try:
                values[f"{key}_from"], values[f"{key}_to"] = _range(raw)
            except ValueError:
                problems.append(f"{key} {raw!r}: not a range like 2026-07-01..2026-09-30")
    if one("undated") == "1":
        values["no_expected_date"] = True
    if (raw := one("reached")) is not None:
        if raw in FUNNEL_STAGES:
            values["reached"] = raw
        else:
            problems.append(f"reached {raw!r}: not one of {', '.join(FUNNEL_STAGES)}")
    if (raw := one("reason")) is not None and raw.strip():
        try:
            values["lost_reason"] = validate.text("lost_reason", raw, max_len=500,
                                                  multiline=True)
        except ValidationError as exc:
            problems.append(f"reason {raw!r}: {exc.reason}")
    if one("noreason") == "1":
        values["no_lost_reason"] = True
    if one("recorded") == "1":
        values["entry_recorded"] = True
    if (raw := one("left")) is not None:
        if raw in OPEN_STAGES:
            values["left_stage"] = raw
        else:
            problems.append(f"left {raw!r}: not one of {', '.join(OPEN_STAGES)}")
    if (raw := one("leftin")) is not None:
        try:
            values["left_from"], values["left_to"] = _range(raw)
        except ValueError:
            problems.append(f"leftin {raw!r}: not a range like 2026-07-01..2026-09-30")
    if "left_stage" not in values and ("left_from" in values or "left_to" in values):
        values.pop("left_from", None)
        values.pop("left_to", None)
        problems.append("leftin: needs the stage that was left (left=…)")
    deals = []
    for raw in params.get("deal", []):
        try:
            deals.append(uuid.UUID(raw))
        except ValueError:
            problems.append(f"deal {raw!r}: not a deal id")
    values["opportunity_ids"] = tuple(dict.fromkeys(deals))
    return Reading(OpportunityFilters(**values), problems)


# --- the filters the bar has no widget for, in words ------------------------------------------

FIGURE_FIELDS = ("closed_from", "closed_to", "expected_from", "expected_to", "no_expected_date",
                 "created_from", "created_to", "reached", "lost_reason", "no_lost_reason",
                 "opportunity_ids", "entry_recorded", "left_stage", "left_from", "left_to")


def figure_part(f: OpportunityFilters) -> OpportunityFilters:
    """Only the filters that come from an analytics figure (no widget in the bar)."""
    return replace(OpportunityFilters(), **{name: getattr(f, name) for name in FIGURE_FIELDS})


def has_figure(f: OpportunityFilters) -> bool:
    empty = OpportunityFilters()
    return any(getattr(f, name) != getattr(empty, name) for name in FIGURE_FIELDS)


def _days(low: date | None, high: date | None) -> str:
    if low and high:
        return f"{display.day(low)} – {display.day(high)}" if low != high \
            else f"on {display.day(low)}"
    if high:
        return f"on or before {display.day(high)}"
    return f"on or after {display.day(low)}"


def describe_figure(f: OpportunityFilters, stages: tuple[str, ...] = ()) -> list[str]:
    """The figure filters as a person reads them, e.g. 'closed 1 Jul 2026 – 30 Sep 2026'.

    `stages`: the stage filter beside them; the closed range narrows closed deals only, which
    is worth saying when open deals are shown too.
    """
    words = []
    if f.closed_from or f.closed_to:
        only_closed = stages and all(s in CLOSED_STAGES for s in stages)
        words.append(("" if only_closed else "open, or ")
                     + f"closed {_days(f.closed_from, f.closed_to)}")
    if f.expected_from or f.expected_to:
        words.append(f"expected to close {_days(f.expected_from, f.expected_to)}")
    if f.no_expected_date:
        words.append("no expected close date")
    if f.created_from or f.created_to:
        words.append(f"created {_days(f.created_from, f.created_to)}")
    if f.reached:
        words.append(f"reached {stage_label(f.reached)}" +
                     ("" if f.reached == "closed_won" else " or further"))
    if f.lost_reason is not None:
        words.append(f"lost for “{f.lost_reason}”")
    if f.no_lost_reason:
        words.append("lost without a reason given")
    if f.entry_recorded:
        words.append("moved into their stage in the app (not imported)")
    if f.left_stage:
        words.append(f"moved on from {stage_label(f.left_stage)} "
                     f"{_days(f.left_from, f.left_to) if f.left_from or f.left_to else ''}"
                     .strip())
    if f.opportunity_ids:
        n = len(f.opportunity_ids)
        words.append("the chosen deal" if n == 1 else f"the {n} chosen deals")
    return words


def show_problems(problems: list[str]) -> None:
    if problems:
        st.warning("Left out of the link's filters: " + escape_md("; ".join(problems)),
                   icon=":material/link_off:")
