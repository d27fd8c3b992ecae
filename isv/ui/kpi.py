"""Analytics on screen: period and filter pickers, KPI cards, charts with their data.

Data comes through two caches keyed by the data version (isv/cache.py): st.cache_data in
this process, the shared cache behind it. A rerun with no data change runs no SQL for the
analytics; the frame's poll (isv/ui/frame.py) reruns the page when someone else's change
landed.
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

from isv import chart_images, charts, display
from isv.analytics import cached, drill
from isv.analytics.breakdowns import FilterOptions, filter_options
from isv.analytics.dashboard import DashboardData, dashboard_data
from isv.analytics.kpis import Filters, Kpis, scope_key
from isv.analytics.partners import partner_analytics
from isv.analytics.periods import Period, parse_period, quarter_options
from isv.analytics.pipeline import pipeline_analytics
from isv.analytics.team import team_view
from isv.auth import Viewer
from isv.errors import IsvError
from isv.pack import PackChart
from isv.services.opportunities import OpportunityFilters
from isv.ui import links, nav, state
from isv.ui.labels import DOMAINS, role_label
from isv.ui.tables import table_height
from isv.ui.widgets import escape_md

T = TypeVar("T")
SEEN_VERSION = state.DATA_VERSION  # the version this run started from (frame.start)
RATE = st.column_config.NumberColumn(format=display.TABLE_PERCENT_FORMAT)
COUNT = st.column_config.NumberColumn(format=display.TABLE_COUNT_FORMAT)
PERCENTAGE = st.column_config.NumberColumn(format=display.TABLE_PERCENTAGE_FORMAT)
# What each analytics page loads through `load`, for the same period and filters.
ANALYTICS_DATA = {"pages/dashboard.py": dashboard_data,
                  "pages/pipeline_analytics.py": pipeline_analytics,
                  "pages/partner_analytics.py": partner_analytics,
                  "pages/team_view.py": team_view}


# --- data --------------------------------------------------------------------------------

@st.cache_data(show_spinner=False, max_entries=128, ttl=3600)
def _analytics(database: str, version: int, scope: str, name: str, period_label: str,
               filters_key: tuple, as_of: date, _fn: Callable[..., T], _viewer: Viewer) -> T:
    # `name` keys the entry for `_fn`, which st.cache_data cannot hash.
    partner_ids, domains, owner_ids = filters_key
    return cached.load(_fn, viewer=_viewer, share="scope", period=parse_period(period_label),
                       filters=Filters.of(partner_ids=partner_ids, domains=domains,
                                          owner_ids=owner_ids),
                       as_of=as_of, landing=_fn is dashboard_data)


@st.cache_data(show_spinner=False, max_entries=64, ttl=3600)
def _options(database: str, version: int, scope: str, _viewer: Viewer) -> FilterOptions:
    return cached.load(filter_options, viewer=_viewer, share="scope")


def _version() -> tuple[str, int]:
    return cached.database(), cached.data_version()


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
        data = _analytics(database, version, scope_key(viewer),
                          f"{fn.__module__}.{fn.__qualname__}", period.label, filters.key(),
                          as_of, fn, viewer)
    except IsvError as exc:
        st.error(escape_md(str(exc)), icon=":material/block:")
        return None
    # The filters are shared by the analytics pages: prepare the data of the others this
    # viewer may open, for the same filters.
    usable = {page.path for page in nav.pages_for(viewer.role)}
    for path, other in ANALYTICS_DATA.items():
        if other is not fn and path in usable:
            cached.prefetch(other, viewer=viewer, share="scope", period=period,
                            filters=filters, as_of=as_of)
    return data


def load_dashboard(viewer: Viewer, period: Period, filters: Filters,
                   as_of: date) -> DashboardData | None:
    """The executive dashboard's data (see `load`)."""
    return load(dashboard_data, viewer, period, filters, as_of)


def warm_landing(today: date) -> None:
    """Compute, into the shared cache, the dashboard everyone who sees every deal (VP, sales
    managers, admins) lands on: the current quarter, no filters, under the key its first
    view will ask for.

    A fresh server process (a deploy, a restart) has nothing cached: its first such sign-in
    computed this dashboard (0.55 s of SQL at 100,000 deals) while they waited.
    """
    _, current = _quarters(today)
    cached.load(dashboard_data, viewer=Viewer.system("warm"), share="scope",
                period=parse_period(current), filters=Filters.of(), as_of=today, landing=True)


def load_options(viewer: Viewer) -> FilterOptions:
    database, version = _version()
    if version < 0:
        return cached.load(filter_options, viewer=viewer, share="scope")
    return _options(database, version, scope_key(viewer), viewer)


# --- pickers -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Selection:
    period: Period
    filters: Filters
    described: tuple[str, ...]  # the filters in words, for captions and chart context


ADDRESS_KEYS = ("period", "domain", "partner", "owner")
CARRIED = "isv_analytics_address"  # the last analytics choice, for the next analytics page


def _quarters(today: date) -> tuple[dict[str, Period], str]:
    options = {q.label: q for q in quarter_options(today)}
    return options, next(label for label, q in options.items() if today in q)


def pick_period(today: date, *, key: str, periods: dict[str, Period] | None = None) -> Period:
    """A quarter selector (fiscal-aware), the current quarter by default."""
    options, current = _quarters(today)
    options = periods or options
    if key not in st.session_state or st.session_state[key] not in options:
        st.session_state[key] = current
    chosen = st.selectbox(
        "Period", list(options), key=key,
        format_func=lambda label: options[label].title + (" (now)" if label == current else ""))
    return options.get(chosen, options[current])


def _from_address(key: str, periods: dict[str, Period], partners: dict[str, tuple[str, str]],
                  owners: dict[str, str]) -> None:
    """Set the pickers from the address when it changed (a link, a reload, back), or, on a
    bare address (the sidebar drops parameters), from the last analytics page's choice."""
    params = {k: v for k, v in links.current().items() if k in ADDRESS_KEYS}
    if params == st.session_state.get(f"{key}_address") and f"{key}_period" in st.session_state:
        return
    source = params or st.session_state.get(CARRIED) or {}
    problems = []

    def one(name: str) -> str:
        values = source.get(name) or [""]
        return values[-1].strip()

    period = one("period")
    if period and period not in periods:
        try:
            periods[period] = parse_period(period)
        except IsvError as exc:
            problems.append(f"period {period!r}: {getattr(exc, 'reason', exc)}")
            period = ""
    st.session_state[f"{key}_period"] = period  # "" is the current quarter (see pick)
    domain = one("domain")
    if domain and domain not in DOMAINS:
        problems.append(f"domain {domain!r}: not one of {', '.join(DOMAINS)}")
        domain = ""
    st.session_state[f"{key}_domain"] = domain
    partner = one("partner")
    if partner and partner not in partners:
        by_name = {name.casefold(): pid for pid, (name, _) in partners.items()}
        found = by_name.get(partner.casefold())
        if found is None:
            problems.append(f"partner {partner!r}: no such partner among those you see")
        partner = found or ""
    if partner and domain and partners[partner][1] != domain:
        problems.append(f"partner {partners[partner][0]!r}: not in the {domain} domain")
        partner = ""
    st.session_state[f"{key}_partner"] = partner
    owner = one("owner")
    if owner and owner not in owners:
        problems.append(f"owner {owner!r}: no such person among the deal owners you see")
        owner = ""
    st.session_state[f"{key}_owner"] = owner
    st.session_state[f"{key}_problems"] = problems


def pick(viewer: Viewer, today: date, *, key: str) -> Selection:
    """Period, domain, partner and owner pickers in one row, kept in the address.

    The same choice follows the user from one analytics page to the next, and a copied
    link reproduces it (`?period=2026Q3&domain=FinOps&partner=<id>&owner=<id>`).
    """
    options = load_options(viewer)
    periods, current = _quarters(today)
    all_partners = {str(pid): (name, d) for pid, name, d in options.partners}
    owners = {str(uid): name for uid, name, _ in options.owners}
    _from_address(key, periods, all_partners, owners)
    if st.session_state.get(f"{key}_period") not in periods:
        st.session_state[f"{key}_period"] = current
    # Said once, when the link is read: the next change of filters is the user's own.
    links.show_problems(st.session_state.pop(f"{key}_problems", None) or [])
    period_col, domain_col, partner_col, owner_col = st.columns([1.3, 1, 1, 1])
    with period_col:
        period = pick_period(today, key=f"{key}_period", periods=periods)
    # "" means all: a None option would read as "nothing chosen" and show a placeholder.
    domain = domain_col.selectbox("Domain", ["", *DOMAINS], key=f"{key}_domain",
                                  format_func=lambda d: d or "All domains")
    partners = {pid: name for pid, (name, d) in all_partners.items() if domain in ("", d)}
    if st.session_state.get(f"{key}_partner") not in ("", *partners):
        st.session_state[f"{key}_partner"] = ""
    partner = partner_col.selectbox("Partner", ["", *partners], key=f"{key}_partner",
                                    format_func=lambda p: partners.get(p, "All partners"))
    if st.session_state.get(f"{key}_owner") not in ("", *owners):
        st.session_state[f"{key}_owner"] = ""
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
    params = {name: [value] for name, value in (("period", period.label), ("domain", domain),
                                               ("partner", partner), ("owner", owner)) if value}
    links.write(params)
    st.session_state[f"{key}_address"] = params
    st.session_state[CARRIED] = params
    return Selection(period, filters, described)


def period_text(kpis: Kpis) -> str:
    return f"{kpis.period.title} ({kpis.period.span})"


def context(kpis: Kpis, described: tuple[str, ...]) -> str:
    """What a figure covers, written into the image: period, filters, as of (escaped)."""
    return charts.context_line(period_text(kpis), *described,
                               f"as of {display.day(kpis.as_of)}")


# --- KPI cards ---------------------------------------------------------------------------

def _short(value: Decimal | None) -> str:
    return display.money_short(value)


Deals = tuple[str, OpportunityFilters]  # a link's words, and the grid filters it opens


def card(label: str, value: str, *, delta: str | None = None, versus: str | None = None,
         inverse: bool = False, note: str | None = None, help: str | None = None,
         deals: Deals | None = None) -> None:
    """One KPI card: the value, its change (arrow, sign and colour), a line of context and a
    link to the deals behind the figure in the opportunity grid."""
    # Streamlit reads a change as a fall only from an ASCII '-'; display writes the true
    # minus '−', so the direction and its colour are given explicitly.
    arrow, colour = "auto", "inverse" if inverse else "normal"
    if delta is not None and delta.startswith(display.MINUS):
        arrow, colour = "down", "green" if inverse else "red"
    elif delta is not None and not delta.startswith("+"):  # unchanged
        arrow, colour = "off", "gray"
    # Stretched to the row's tallest card, so a row of cards reads as one line of boxes.
    with st.container(border=True, height="stretch"):
        st.metric(label, value, delta=delta, delta_color=colour, delta_arrow=arrow,
                  delta_description=versus if delta is not None else None, help=help)
        if note:
            st.caption(note)
        if deals is not None:
            deals_link(*deals)


def deals_link(words: str, filters: OpportunityFilters) -> None:
    """A link to the opportunity grid showing exactly these deals (same tab, copyable):
    "See the 31 deals won", "See all 30 slipped deals"."""
    label = (f"See all {words[4:]}" if words.startswith("All ")
             else f"See the {words[:1].lower()}{words[1:]}")
    st.page_link(links.GRID_PAGE, label=label, icon=":material/table_view:",
                 query_params=links.grid_params(filters))


def _count(n: int, what: str) -> str:
    return f"{display.count(n)} {what}" if n != 1 else f"1 {what.replace('deals', 'deal')}"


def goal_deals(viewer: Viewer, kpis: Kpis, filters: Filters) -> Deals:
    """The link under goal attainment: the won deals its won revenue counts."""
    target = drill.goal_won(viewer, filters, kpis.period)
    if target.owner_ids == drill.won(filters, kpis.period).owner_ids:
        return _count(kpis.won_count, "deals won"), target
    return "Deals won toward this goal", target


def kpi_cards(kpis: Kpis, previous: Kpis, filters: Filters | None = None,
              viewer: Viewer | None = None) -> None:
    """The nine cards of the executive dashboard, three a row, each against the previous period.

    Each links to the deals behind it (`filters`: the page's).
    """
    vs = f"vs {previous.period.title}"
    unpaid = len(kpis.no_structure)
    f = filters or Filters()
    open_deals = (_count(kpis.open_count, "open deals"), drill.open_deals(f))
    won = (_count(kpis.won_count, "deals won"), drill.won(f, kpis.period))
    closed = (_count(kpis.won_count + kpis.lost_count, "deals won or lost"),
              drill.closed(f, kpis.period))
    due = (_count(kpis.period_pipeline_count, "deals due this period"),
           drill.due(f, kpis.period.start, kpis.period.end))
    cards = [
        lambda: card(
            "Pipeline", _short(kpis.pipeline_total),
            note=f"{kpis.open_count:,} open deals · current state",
            help=f"Σ value of open deals: {display.money(kpis.pipeline_total)}. Current state, "
                 "so there is no earlier period to compare with.", deals=open_deals),
        lambda: card(
            "Weighted pipeline", _short(kpis.pipeline_weighted),
            note="Σ value × probability · current state",
            help=display.money(kpis.pipeline_weighted), deals=open_deals),
        lambda: card(
            "Won this period", _short(kpis.won_revenue),
            delta=display.change(kpis.won_revenue, previous.won_revenue, _short), versus=vs,
            note=f"{kpis.won_count:,} deals won",
            help=f"{display.money(kpis.won_revenue)}, by actual close date in the period",
            deals=won),
        lambda: card(
            "Win rate", display.percent(kpis.win_rate),
            delta=display.change(kpis.win_rate, previous.win_rate, display.points), versus=vs,
            note=f"{kpis.won_count:,} won · {kpis.lost_count:,} lost", deals=closed),
        lambda: card(
            "Average won deal", _short(kpis.avg_won_deal),
            delta=display.change(kpis.avg_won_deal, previous.avg_won_deal, _short), versus=vs,
            help=display.money(kpis.avg_won_deal), deals=won),
        lambda: card(
            "Cycle days", display.number(kpis.avg_cycle_days),
            delta=display.change(kpis.avg_cycle_days, previous.avg_cycle_days, display.days),
            versus=vs,
            inverse=True, note="creation to close of won deals; fewer is better", deals=won),
        lambda: card(
            "Goal attainment", display.percent(kpis.goal_attainment),
            delta=display.change(kpis.goal_attainment, previous.goal_attainment, display.points),
            versus=vs,
            note=_pace(kpis), help=f"Won {display.money(kpis.goal_won)} of a target of "
                                    f"{display.money(kpis.revenue_target)}",
            deals=won if viewer is None else goal_deals(viewer, kpis, f)),
        lambda: card(
            "Coverage", display.times(kpis.coverage),
            delta=display.change(kpis.coverage, previous.coverage, display.times), versus=vs,
            note=("open pipeline due ÷ target still to win" if kpis.coverage is not None
                  else "target met · nothing left to cover" if kpis.revenue_target
                  else "no revenue target"),
            help=f"Open deals expected this period: {display.money(kpis.period_pipeline)}",
            deals=due),
        lambda: card(
            "Commission earned", _short(kpis.commission_earned),
            delta=display.change(kpis.commission_earned, previous.commission_earned, _short),
            versus=vs, help=display.money(kpis.commission_earned),
            note=(f"⚠ {unpaid} won deal{'s' if unpaid != 1 else ''} without an applicable "
                  "structure" if unpaid else "first year, on deals won"), deals=won),
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

def _display(frame: pd.DataFrame, money: tuple[str, ...], rates: tuple[str, ...],
             percentages: tuple[str, ...] = ()) -> pd.DataFrame:
    # Display only: the grid formats numbers, not Decimals; exports use the exact frames.
    shown = frame.copy()
    for column in (*money, *percentages):
        shown[column] = [None if v is None else float(v) for v in shown[column]]
    for column in rates:  # ratios shown as numbers of percent, as display.percent writes them
        shown[column] = [None if v is None or v != v else float(v) * 100 for v in shown[column]]
    if "Role" in shown:
        shown["Role"] = [role_label(r) if isinstance(r, str) else "" for r in shown["Role"]]
    return shown


RowDrill = Callable[[int], OpportunityFilters | None]   # a row's position -> its deals
PointDrill = Callable[[dict[str, Any], go.Figure], OpportunityFilters | None]


def table(frame: pd.DataFrame, *, money: tuple[str, ...] = (), rates: tuple[str, ...] = (),
          counts: tuple[str, ...] = (), key: str | None = None,
          drill: RowDrill | None = None, percentages: tuple[str, ...] = ()) -> None:
    """A result table: money as dollars, rates (ratios) and percentages (stored as numbers of
    percent, like a deal's probability) as percentages, text always as plain cells.

    With `drill`, selecting a row opens the opportunity grid on the deals behind it.
    """
    config: dict[str, Any] = {
        c: st.column_config.NumberColumn(format=display.table_money_format(frame[c]))
        for c in money}
    config.update({c: RATE for c in rates})
    config.update({c: COUNT for c in counts})
    config.update({c: PERCENTAGE for c in percentages})
    shown = _display(frame, money, rates, percentages)
    if drill is None or key is None:
        st.dataframe(shown, hide_index=True, column_config=config, key=key,
                     placeholder=display.NONE,
                     height=table_height(len(shown)))
        return
    event = st.dataframe(shown, hide_index=True, column_config=config, key=key,
                         placeholder=display.NONE, height=table_height(len(shown)),
                         on_select="rerun",
                         selection_mode="single-row")
    st.caption("Select a row to list its deals in the opportunity grid.")
    rows = event["selection"]["rows"]
    if rows and rows[0] < len(frame) and (target := drill(rows[0])) is not None:
        links.open_grid(target)


def chart(fig: go.Figure, frame: pd.DataFrame, *, key: str, title: str,
          money: tuple[str, ...] = (), rates: tuple[str, ...] = (),
          counts: tuple[str, ...] = (), drill: PointDrill | None = None,
          row_drill: RowDrill | None = None, hint: str = "Click a bar to list its deals"
          ) -> PackChart:
    """A chart, its PNG and SVG downloads and, in an expander under it, the same numbers as a
    table. Returns the chart for the exec review pack.

    With `drill`, clicking a bar opens the opportunity grid on the deals behind it;
    `row_drill` does the same for a row of the table.
    """
    # theme=None: the figure exactly as isv.charts styled it, as in the exported images.
    alt = f"{title}: the same numbers are in the table below"
    if drill is None:
        st.plotly_chart(fig, key=key, theme=None, config={"displaylogo": False}, alt=alt)
    else:
        event = st.plotly_chart(fig, key=key, theme=None, config={"displaylogo": False},
                                alt=alt, on_select="rerun", selection_mode="points")
        points = event["selection"]["points"]
        if points and (target := drill(points[0], fig)) is not None:
            links.open_grid(target)
    downloads(fig, key=key, title=title,
              hint=hint if drill is not None else None)
    with st.expander(f"Data: {title}", icon=":material/table:"):
        table(frame, money=money, rates=rates, counts=counts, key=f"{key}_table",
              drill=row_drill)
    return PackChart(title, fig)


def downloads(fig: go.Figure, *, key: str, title: str, hint: str | None = None) -> None:
    """PNG and SVG at slide size (1600×900), rendered only when clicked, never on a rerun."""
    reason = chart_images.unavailable()
    with st.container(horizontal=True, horizontal_alignment="right",
                      vertical_alignment="center", key=f"{key}_downloads"):
        if hint:
            st.caption(hint)
        explain_export_once(reason)
        for fmt in ("png", "svg"):
            st.download_button(
                fmt.upper(), data=_deferred(fig, fmt), file_name=chart_images.file_name(title, fmt),
                mime=chart_images.FORMATS[fmt], key=f"{key}_{fmt}", on_click="ignore",
                icon=":material/download:", disabled=reason is not None,
                help=reason or f"{title} as {fmt.upper()}, 1600×900, for slides")


def explain_export_once(reason: str | None) -> None:
    """Why exports are off, with the command that fixes it: beside the first disabled export
    of a page run only (the other buttons say it on hover)."""
    if reason and not st.session_state.get(state.EXPORT_EXPLAINED):
        st.caption(escape_md(reason))
        st.session_state[state.EXPORT_EXPLAINED] = True


def _deferred(fig: go.Figure, fmt: str):
    return lambda: chart_images.chart_image(fig, fmt)
