"""Analytics on screen: period and filter pickers, KPI cards, charts with their data, live updates.

Data comes through two caches keyed by the data version (isv/cache.py): st.cache_data in
this process, the shared cache behind it. A rerun with no data change runs no SQL for the
analytics; the live-update fragment polls the cheap data version every 30 seconds and
reruns the page when someone else's change landed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from isv import charts, display, export
from isv.analytics import cached
from isv.analytics.breakdowns import FilterOptions, filter_options
from isv.analytics.dashboard import DashboardData, dashboard_data
from isv.analytics.kpis import Filters, Kpis, scope_key
from isv.analytics.periods import Period, parse_period, quarter_options
from isv.auth import Viewer
from isv.errors import IsvError
from isv.ui.labels import DOMAINS, role_label
from isv.ui.widgets import escape_md

T = TypeVar("T")
LIVE_SECONDS = 30
SEEN_VERSION = "isv_data_version_seen"
RATE = st.column_config.NumberColumn(format=display.TABLE_PERCENT_FORMAT)
COUNT = st.column_config.NumberColumn(format=display.TABLE_COUNT_FORMAT)


# --- data --------------------------------------------------------------------------------

@st.cache_data(show_spinner=False, max_entries=128, ttl=3600)
def _analytics(database: str, version: int, scope: str, name: str, period_label: str,
               filters_key: tuple, as_of: date, _fn: Callable[..., T], _viewer: Viewer) -> T:
    # `name` keys the entry for `_fn`, which st.cache_data cannot hash.
    partner_ids, domains, owner_ids = filters_key
    return cached.load(_fn, viewer=_viewer, share="scope", period=parse_period(period_label),
                       filters=Filters.of(partner_ids=partner_ids, domains=domains,
                                          owner_ids=owner_ids),
                       as_of=as_of)


@st.cache_data(show_spinner=False, max_entries=64, ttl=3600)
def _options(database: str, version: int, scope: str, _viewer: Viewer) -> FilterOptions:
    return cached.load(filter_options, viewer=_viewer, share="scope")


def _version() -> tuple[str, int]:
    version = cached.data_version()
    st.session_state[SEEN_VERSION] = version
    return cached.database(), version


def load(fn: Callable[..., T], viewer: Viewer, period: Period, filters: Filters,
         as_of: date) -> T | None:
    """One analytics page's data, `fn(session=, viewer=, period=, filters=, as_of=)`, for
    the viewer through both caches; None (with the reason shown) if it was refused.

    Every analytics page loads through here: one place keys the caches, and the benchmark
    replaces this one function to measure what the page costs without its data.
    """
    database, version = _version()
    try:
        if version < 0:  # the shared cache is down: compute, and keep nothing in this process
            return cached.load(fn, viewer=viewer, share="scope", period=period,
                               filters=filters, as_of=as_of)
        return _analytics(database, version, scope_key(viewer),
                          f"{fn.__module__}.{fn.__qualname__}", period.label, filters.key(),
                          as_of, fn, viewer)
    except IsvError as exc:
        st.error(escape_md(str(exc)), icon=":material/block:")
        return None


def load_dashboard(viewer: Viewer, period: Period, filters: Filters,
                   as_of: date) -> DashboardData | None:
    """The executive dashboard's data (see `load`)."""
    return load(dashboard_data, viewer, period, filters, as_of)


def load_options(viewer: Viewer) -> FilterOptions:
    database, version = _version()
    if version < 0:
        return cached.load(filter_options, viewer=viewer, share="scope")
    return _options(database, version, scope_key(viewer), viewer)


@st.fragment(run_every=LIVE_SECONDS)
def live_updates() -> None:
    """Rerun the page when the data changed since it was drawn (someone else saved)."""
    seen = st.session_state.get(SEEN_VERSION)
    if seen is not None and seen >= 0 and cached.data_version() != seen:
        st.rerun(scope="app")


# --- pickers -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Selection:
    period: Period
    filters: Filters
    described: tuple[str, ...]  # the filters in words, for captions and chart context


def pick_period(today: date, *, key: str) -> Period:
    """A quarter selector (fiscal-aware), the current quarter by default."""
    options = {q.label: q for q in quarter_options(today)}
    current = next(label for label, q in options.items() if today in q)
    chosen = st.selectbox(
        "Period", list(options), index=list(options).index(current), key=key,
        format_func=lambda label: options[label].title + (" (now)" if label == current else ""))
    return options.get(chosen, options[current])


def pick(viewer: Viewer, today: date, *, key: str) -> Selection:
    """Period, domain, partner and owner pickers in one row."""
    options = load_options(viewer)
    period_col, domain_col, partner_col, owner_col = st.columns([1.3, 1, 1, 1])
    with period_col:
        period = pick_period(today, key=f"{key}_period")
    # "" means all: a None option would read as "nothing chosen" and show a placeholder.
    domain = domain_col.selectbox("Domain", ["", *DOMAINS], key=f"{key}_domain",
                                  format_func=lambda d: d or "All domains")
    partners = {str(pid): name for pid, name, d in options.partners if domain in ("", d)}
    partner = partner_col.selectbox("Partner", ["", *partners], key=f"{key}_partner",
                                    format_func=lambda p: partners.get(p, "All partners"))
    owners = {str(uid): name for uid, name, _ in options.owners}
    owner = owner_col.selectbox("Owner", ["", *owners], key=f"{key}_owner",
                                format_func=lambda o: owners.get(o, "All owners"),
                                help="The person the deals are assigned to")
    partner = partner if partner in partners else ""
    owner = owner if owner in owners else ""
    filters = Filters.of(partner_ids=[partner] if partner else [],
                         domains=[domain] if domain else [], owner_ids=[owner] if owner else [])
    described = tuple(text for text in (
        f"Domain {domain}" if domain else None,
        f"Partner {partners[partner]}" if partner else None,
        f"Owner {owners[owner]}" if owner else None) if text)
    return Selection(period, filters, described)


def period_text(kpis: Kpis) -> str:
    return f"{kpis.period.title} ({kpis.period.span})"


def context(kpis: Kpis, described: tuple[str, ...]) -> str:
    """What a figure covers, written into the image: period, filters, as of (escaped)."""
    return charts.context_line(period_text(kpis), *described, f"as of {kpis.as_of.isoformat()}")


# --- KPI cards ---------------------------------------------------------------------------

def _short(value: Decimal | None) -> str:
    return display.money_short(value)


def card(label: str, value: str, *, delta: str | None = None, versus: str | None = None,
         inverse: bool = False, note: str | None = None, help: str | None = None) -> None:
    """One KPI card: the value, its change (arrow, sign and colour) and a line of context."""
    # Streamlit reads a change as a fall only from an ASCII '-'; display writes the true
    # minus '−', so the direction and its colour are given explicitly.
    arrow, colour = "auto", "inverse" if inverse else "normal"
    if delta is not None and delta.startswith(display.MINUS):
        arrow, colour = "down", "green" if inverse else "red"
    with st.container(border=True):
        st.metric(label, value, delta=delta, delta_color=colour, delta_arrow=arrow,
                  delta_description=versus if delta is not None else None, help=help)
        if note:
            st.caption(note)


def kpi_cards(kpis: Kpis, previous: Kpis) -> None:
    """The nine cards of the executive dashboard, three a row, each against the previous period."""
    vs = f"vs {previous.period.title}"
    unpaid = len(kpis.no_structure)
    cards = [
        lambda: card(
            "Pipeline", _short(kpis.pipeline_total),
            note=f"{kpis.open_count:,} open deals · current state",
            help=f"Σ value of open deals: {display.money(kpis.pipeline_total)}. Current state, "
                 "so there is no earlier period to compare with."),
        lambda: card(
            "Weighted pipeline", _short(kpis.pipeline_weighted),
            note="Σ value × probability · current state",
            help=display.money(kpis.pipeline_weighted)),
        lambda: card(
            "Won this period", _short(kpis.won_revenue),
            delta=display.change(kpis.won_revenue, previous.won_revenue, _short), versus=vs,
            note=f"{kpis.won_count:,} deals won",
            help=f"{display.money(kpis.won_revenue)}, by actual close date in the period"),
        lambda: card(
            "Win rate", display.percent(kpis.win_rate),
            delta=display.change(kpis.win_rate, previous.win_rate, display.points), versus=vs,
            note=f"{kpis.won_count:,} won · {kpis.lost_count:,} lost"),
        lambda: card(
            "Average won deal", _short(kpis.avg_won_deal),
            delta=display.change(kpis.avg_won_deal, previous.avg_won_deal, _short), versus=vs,
            help=display.money(kpis.avg_won_deal)),
        lambda: card(
            "Cycle days", display.number(kpis.avg_cycle_days),
            delta=display.change(kpis.avg_cycle_days, previous.avg_cycle_days, display.days),
            versus=vs,
            inverse=True, note="creation to close of won deals; fewer is better"),
        lambda: card(
            "Goal attainment", display.percent(kpis.goal_attainment),
            delta=display.change(kpis.goal_attainment, previous.goal_attainment, display.points),
            versus=vs,
            note=_pace(kpis), help=f"Won {display.money(kpis.goal_won)} of a target of "
                                    f"{display.money(kpis.revenue_target)}"),
        lambda: card(
            "Coverage", display.times(kpis.coverage),
            delta=display.change(kpis.coverage, previous.coverage, display.times), versus=vs,
            note="open pipeline due ÷ target still to win",
            help=f"Open deals expected this period: {display.money(kpis.period_pipeline)}"),
        lambda: card(
            "Commission earned", _short(kpis.commission_earned),
            delta=display.change(kpis.commission_earned, previous.commission_earned, _short),
            versus=vs, help=display.money(kpis.commission_earned),
            note=(f"⚠ {unpaid} won deal{'s' if unpaid != 1 else ''} without an applicable "
                  "structure" if unpaid else "first year, on deals won")),
    ]
    for row in range(0, len(cards), 3):
        for column, draw in zip(st.columns(3), cards[row:row + 3], strict=True):
            with column:
                draw()


def _pace(kpis: Kpis) -> str:
    elapsed = Decimal(kpis.period.elapsed_days(kpis.as_of)) / kpis.period.days
    if kpis.pace is None:
        return "no revenue target" if not kpis.revenue_target else "period not started"
    state = "▲ ahead of pace" if kpis.pace >= 1 else "▼ behind pace"
    return f"{state} · {display.percent(elapsed)} of the period gone"


# --- charts and tables -------------------------------------------------------------------

def _display(frame: pd.DataFrame, money: tuple[str, ...], rates: tuple[str, ...]) -> pd.DataFrame:
    # Display only: the grid formats numbers, not Decimals; exports use the exact frames.
    shown = frame.copy()
    for column in money:
        shown[column] = [None if v is None else float(v) for v in shown[column]]
    for column in rates:  # ratios shown as numbers of percent, as display.percent writes them
        shown[column] = [None if v is None or v != v else float(v) * 100 for v in shown[column]]
    if "Role" in shown:
        shown["Role"] = [role_label(r) if isinstance(r, str) else "" for r in shown["Role"]]
    return shown


def table(frame: pd.DataFrame, *, money: tuple[str, ...] = (), rates: tuple[str, ...] = (),
          counts: tuple[str, ...] = (), key: str | None = None) -> None:
    """A result table: money as dollars, rates as percentages, text always as plain cells."""
    config: dict[str, Any] = {
        c: st.column_config.NumberColumn(format=display.table_money_format(frame[c]))
        for c in money}
    config.update({c: RATE for c in rates})
    config.update({c: COUNT for c in counts})
    st.dataframe(_display(frame, money, rates), hide_index=True, column_config=config, key=key,
                 placeholder=display.NONE)


def chart(fig: go.Figure, frame: pd.DataFrame, *, key: str, title: str,
          money: tuple[str, ...] = (), rates: tuple[str, ...] = (),
          counts: tuple[str, ...] = ()) -> export.PackChart:
    """A chart, its PNG and SVG downloads and, in an expander under it, the same numbers as a
    table. Returns the chart for the exec review pack."""
    # theme=None: the figure exactly as isv.charts styled it, as in the exported images.
    st.plotly_chart(fig, key=key, theme=None, config={"displaylogo": False},
                    alt=f"{title}: the same numbers are in the table below")
    downloads(fig, key=key, title=title)
    with st.expander(f"Data: {title}", icon=":material/table:"):
        table(frame, money=money, rates=rates, counts=counts, key=f"{key}_table")
    return export.PackChart(title, fig)


def downloads(fig: go.Figure, *, key: str, title: str) -> None:
    """PNG and SVG at slide size (1600×900), rendered only when clicked, never on a rerun."""
    reason = export.unavailable()
    with st.container(horizontal=True, horizontal_alignment="right",
                      vertical_alignment="center", key=f"{key}_downloads"):
        if reason:
            st.caption(escape_md(reason))
        for fmt in ("png", "svg"):
            st.download_button(
                fmt.upper(), data=_deferred(fig, fmt), file_name=export.file_name(title, fmt),
                mime=export.FORMATS[fmt], key=f"{key}_{fmt}", on_click="ignore",
                icon=":material/download:", disabled=reason is not None,
                help=reason or f"{title} as {fmt.upper()}, 1600×900, for slides")


def _deferred(fig: go.Figure, fmt: str):
    return lambda: export.chart_image(fig, fmt)


# --- exec review pack --------------------------------------------------------------------

PACK = "isv_exec_pack"


def exec_pack(kpis: Kpis, previous: Kpis, shown: list[export.PackChart], *, title: str,
              where: str, key: str) -> None:
    """One click builds the pack (PPTX and PDF) for what the page shows; then the downloads.

    The built pack is kept in the session for this period, these filters and this data
    version, so reruns show its download buttons without building it again.
    """
    reason = export.unavailable()
    stamp = (where, st.session_state.get(SEEN_VERSION), tuple(c.title for c in shown))
    built = st.session_state.get(f"{PACK}_{key}")
    with st.container(horizontal=True, vertical_alignment="center", key=f"{key}_pack"):
        clicked = st.button(
            "Build exec review pack", icon=":material/slideshow:", key=f"{key}_pack_build",
            disabled=reason is not None,
            help=reason or f"A PPTX and a PDF: the KPI summary and the {len(shown)} charts "
                           "below, for this period and these filters")
        if reason:
            st.caption(escape_md(reason))
        slot = st.empty()  # the progress bar, then any error, beside the button
    if clicked:
        bar = slot.progress(0.0, text="Building the exec review pack…")
        try:
            pack = export.build_pack(
                title=title, context=where, kpis=kpis, previous=previous, figures=shown,
                progress=lambda done, step: bar.progress(done, text=f"Rendering {step}…"))
        except Exception as exc:  # a browser crash must not take the dashboard with it
            slot.error(escape_md(f"The pack could not be built: {exc}"), icon=":material/error:")
            return
        built = (stamp, pack)
        st.session_state[f"{PACK}_{key}"] = built
        slot.empty()
    if built is None or built[0] != stamp:
        return
    pack = built[1]
    name = f"exec review {kpis.period.label}"
    with st.container(horizontal=True, vertical_alignment="center", key=f"{key}_pack_files"):
        st.download_button("Pack as PPTX", data=pack.pptx, file_name=export.file_name(name, "pptx"),
                           mime=export.PPTX_MIME, key=f"{key}_pack_pptx", on_click="ignore",
                           icon=":material/download:")
        st.download_button("Pack as PDF", data=pack.pdf, file_name=export.file_name(name, "pdf"),
                           mime=export.FORMATS["pdf"], key=f"{key}_pack_pdf",
                           on_click="ignore", icon=":material/download:")
        st.caption(f"{pack.slides} slides: the KPI summary and one per chart")
