"""What the pipeline pages share: the people and partners to pick from, and the filter bar."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date
from typing import Any, TypeVar

import streamlit as st
from sqlalchemy.orm import Session

from isv.analytics import cached
from isv.auth import WRITE_OPPORTUNITIES, Viewer
from isv.errors import Conflict, Forbidden, NotFound, ValidationError
from isv.models import DOMAINS, STAGES
from isv.services import opportunities as opps
from isv.services import users, validate
from isv.services.opportunities import OpportunityFilters
from isv.services.partners import OWNER_ROLES
from isv.ui import links, state, widgets
from isv.ui.labels import stage_label

MIN_DAY, MAX_DAY = validate.MIN_DATE, validate.MAX_DATE
T = TypeVar("T")


@dataclass(frozen=True)
class Choices:
    """Plain ids (as text) and labels for select boxes: safe to cache, never ORM objects."""

    partners: dict[str, str]          # every partner the viewer sees: id -> name
    partner_owner: dict[str, str]     # partner id -> owner id ("" when none)
    people: dict[str, str]            # every user: id -> "First Last" (+ " (inactive)")
    active_people: tuple[str, ...]    # ids of active users: who deals may be assigned to
    owners: tuple[str, ...]           # ids of active users who may own a partner

    def partner_name(self, partner_id: object) -> str:
        return self.partners.get(str(partner_id), "unknown partner")

    def person(self, user_id: object) -> str:
        return self.people.get(str(user_id), "unassigned") if user_id else "unassigned"

    def deal_partners(self, viewer: Viewer) -> list[str]:
        """Partners the viewer may add deals to: all of them, or a manager's own."""
        if viewer.sees_everything:
            return list(self.partners)
        return [pid for pid, owner in self.partner_owner.items() if owner == str(viewer.id)]


def load_choices(*, session: Session, viewer: Viewer) -> Choices:
    """The partners the viewer sees and every user, as plain ids and labels."""
    rows = opps.partner_choices(session=session, viewer=viewer)
    people, active, owners = {}, [], []
    for user in users.list_users(session=session, viewer=viewer):
        uid = str(user.id)
        people[uid] = user.full_name + ("" if user.is_active else " (inactive)")
        if user.is_active:
            active.append(uid)
            if user.role in OWNER_ROLES:
                owners.append(uid)
    return Choices(
        partners={str(r.id): r.name for r in rows},
        partner_owner={str(r.id): str(r.owner_id) if r.owner_id else "" for r in rows},
        people=people, active_people=tuple(active), owners=tuple(owners))


def read(fn: Callable[..., T], /, *, errors: widgets.FieldErrors | None = None,
         **kwargs: Any) -> T | None:
    """Call a read service through the shared cache, as the signed-in viewer.

    Results are keyed by the data version (bumped by every commit that writes data), the
    viewer's scope and the arguments: a rerun with no write in between runs no SQL, and the
    first read after any write recomputes. Refusals are shown as `widgets.run` shows them.
    """
    viewer = state.current_viewer()
    if viewer is None:
        st.error("Please sign in.")
        return None
    try:
        return cached.load(fn, viewer=viewer, **kwargs)
    except ValidationError as exc:
        (errors or widgets.FieldErrors()).show(exc)
    except (Forbidden, NotFound, Conflict) as exc:
        st.error(widgets.escape_md(str(exc)), icon=":material/block:")
    return None


def choices(viewer: Viewer) -> Choices:
    """Partners and people for the select boxes (through the shared cache)."""
    loaded = read(load_choices)
    if loaded is None:
        st.stop()
    return loaded


def can_write_deals(viewer: Viewer) -> bool:
    return viewer.can(WRITE_OPPORTUNITIES)


def _from_address(prefix: str, options: Choices) -> None:
    """When the address changed (a link followed, a reload), set the filters from it.

    While the address stays what this page last wrote, the user's own choices win; their
    widgets' state is gone after a visit to another page (back to this address), so the
    address sets them again then.
    """
    params = links.current()
    if st.session_state.get(f"{prefix}_address") == params and \
            f"{prefix}_stages" in st.session_state:
        return
    reading = links.read_grid(params, partners=options.partners, people=options.people)
    f = reading.filters
    st.session_state[f"{prefix}_link_problems"] = reading.problems
    st.session_state[f"{prefix}_text"] = f.text or ""
    st.session_state[f"{prefix}_partners"] = [str(p) for p in f.partner_ids]
    st.session_state[f"{prefix}_domains"] = list(f.domains)
    st.session_state[f"{prefix}_stages"] = list(f.stages)
    st.session_state[f"{prefix}_owners"] = ([links.NOBODY] if f.unassigned else []) + [
        str(o) for o in f.owner_ids]
    st.session_state[f"{prefix}_from"] = f.close_from
    st.session_state[f"{prefix}_to"] = f.close_to
    st.session_state[f"{prefix}_figure"] = links.figure_part(f)


def _figure_filters(prefix: str, stages: tuple[str, ...]) -> OpportunityFilters:
    """The filters a figure's link set (no widget of their own): shown in words, removable."""
    figure = st.session_state.get(f"{prefix}_figure") or OpportunityFilters()
    if not links.has_figure(figure):
        return OpportunityFilters()
    with st.container(horizontal=True, vertical_alignment="center"):
        st.info("Also showing only deals " + widgets.escape_md(
            " · ".join(links.describe_figure(figure, stages))), icon=":material/filter_alt:")
        if st.button("Show all", key=f"{prefix}_figure_clear", icon=":material/filter_alt_off:",
                     help="Drop these filters (the ones above stay)"):
            st.session_state[f"{prefix}_figure"] = OpportunityFilters()
            st.rerun()
    return figure


def filter_bar(prefix: str, options: Choices, errors: widgets.FieldErrors) -> OpportunityFilters:
    """Draw the filters (partner, domain, stage, owner, close dates, text) and return them.

    They live in the address: a link or a reload sets them, and every change is written
    back, so a copied link shows the same deals.
    """
    _from_address(prefix, options)
    # Said once, when the link is read: the next change of filters is the user's own.
    links.show_problems(st.session_state.pop(f"{prefix}_link_problems", None) or [])
    text_col, partner_col, domain_col = st.columns([3, 3, 2])
    with text_col:
        text = st.text_input("Search", key=f"{prefix}_text",
                             placeholder="Customer, partner or notes")
        errors.slot("search", "Search")
    partner_ids = partner_col.multiselect(
        "Partner", list(options.partners), key=f"{prefix}_partners",
        format_func=options.partner_name, placeholder="All partners")
    domains = domain_col.multiselect("Domain", DOMAINS, key=f"{prefix}_domains",
                                     placeholder="All domains")
    # Equal widths: a date needs about 130 px to show in full at 1024 px.
    stage_col, owner_col, from_col, to_col = st.columns(4)
    stages = stage_col.multiselect("Stage", STAGES, key=f"{prefix}_stages",
                                   format_func=stage_label, placeholder="All stages")
    owner_ids = owner_col.multiselect(
        "Owner", [links.NOBODY, *options.people], key=f"{prefix}_owners",
        format_func=lambda o: "Unassigned" if o == links.NOBODY else options.person(o),
        placeholder="Anyone")
    with from_col:
        close_from = st.date_input("Close from", value=None, key=f"{prefix}_from",
                                   min_value=MIN_DAY, max_value=MAX_DAY, format="YYYY-MM-DD",
                                   help="Actual close date of closed deals, expected close "
                                        "date of open ones")
        errors.slot("close_from", "Close from")
    with to_col:
        close_to = st.date_input("Close to", value=None, key=f"{prefix}_to",
                                 min_value=MIN_DAY, max_value=MAX_DAY, format="YYYY-MM-DD")
        errors.slot("close_to", "Close to")
    figure = _figure_filters(prefix, tuple(stages))
    filters = replace(figure, partner_ids=tuple(partner_ids), domains=tuple(domains),
                      stages=tuple(stages),
                      owner_ids=tuple(o for o in owner_ids if o != links.NOBODY),
                      unassigned=links.NOBODY in owner_ids,
                      close_from=_day(close_from), close_to=_day(close_to),
                      text=text.strip() or None)
    params = links.grid_params(filters)
    links.write(params)
    st.session_state[f"{prefix}_address"] = params
    return filters


def _day(value: object) -> date | None:
    return value if isinstance(value, date) else None
