"""Plotly figure builders, DataFrame → Figure, in one visual language defined here once.

- Colours are the Okabe–Ito palette (safe for the common colour-vision deficiencies), one
  per stage and one per domain, the same on every page and in every export.
- Colour is never the only signal: stacked series also differ by fill pattern, and bars
  carry direct labels (amounts, stage names) so a greyscale print still reads.
- Numbers are written by isv.display, as everywhere: money on bars is short ($1.3M), hovers
  and the data table that accompanies every chart give the exact figures. Axis ticks are
  plotly's own SI steps with the currency symbol ($500k, $1.5M).
- `style()` titles a figure and can put the period, filters and "as of" inside the image;
  `for_export()` makes the 1600×900 version for slides, with fonts sized for it.

The frames come from isv.analytics.frames (column names as documented on each builder).
Plotly needs floats for geometry; the numbers printed on a chart come from the exact Decimals.

One file, over 500 lines, because the sixteen builders share one visual language (palette,
patterns, `style()`, label helpers, the kept figures): split, each would import the same
names and they would drift apart.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import html
import pickle
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

import pandas as pd
import plotly.basedatatypes
import plotly.graph_objects as go
import plotly.io as pio

from isv import display
from isv.models import DOMAINS, OPEN_STAGES
from isv.rules import health as health_rules


def _remember_property_paths() -> None:
    """Have plotly parse each property path ("xaxis.gridcolor", "marker_pattern_shape") once.

    plotly parses the path of every property it sets or reads from scratch, building a class
    per parse; that was over half the time of styling a figure (17.6 -> 8.0 ms a figure,
    bench/README.md). The parse is a pure function of the string, so its result is kept.
    """
    parse = plotly.basedatatypes._str_to_dict_path_full
    if hasattr(parse, "cache_info"):
        return

    @functools.lru_cache(maxsize=4096)
    def parsed(path: str) -> tuple[tuple, tuple]:
        keys, positions = parse(path)
        return keys, tuple(positions)

    parsed.__wrapped__ = parse
    plotly.basedatatypes._str_to_dict_path_full = parsed


_remember_property_paths()

# --- the visual language -----------------------------------------------------------------

# The house template. Assigned by name, plotly validates and deep-copies it on every figure
# (0.1-0.3 s each, most of a dashboard run's figure building: bench/README.md); `style()`
# gives it as plotly gives its default template to a new figure: as it is, already valid. Not
# the process default: importing streamlit sets that to its own theme.
HOUSE_TEMPLATE = pio.templates["plotly_white"]

OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
GREY = "#6B6B6B"
TEXT = "#1F1F1F"
GRID = "#E4E4E4"

STAGE_LABELS = display.STAGE_LABELS  # one stage vocabulary: the figures say what the grid says
STAGE_BY_LABEL = {label: stage for stage, label in STAGE_LABELS.items()}
STAGE_COLORS = {
    "lead": OKABE_ITO["sky_blue"],
    "demo": OKABE_ITO["blue"],
    "poc": OKABE_ITO["reddish_purple"],
    "proposal": OKABE_ITO["orange"],
    "closed_won": OKABE_ITO["bluish_green"],
    "closed_lost": OKABE_ITO["vermillion"],
}
STAGE_PATTERNS = {"lead": "", "demo": "/", "poc": ".", "proposal": "x", "closed_won": "",
                  "closed_lost": "-"}
DOMAIN_COLORS = {
    "FinOps": OKABE_ITO["blue"],
    "Security": OKABE_ITO["vermillion"],
    "Observability": OKABE_ITO["bluish_green"],
    "DevOps": OKABE_ITO["reddish_purple"],
    "Data/Backup": OKABE_ITO["orange"],
}
DOMAIN_PATTERNS = {"FinOps": "", "Security": "/", "Observability": ".", "DevOps": "x",
                   "Data/Backup": "-"}
WON_COLOR = STAGE_COLORS["closed_won"]
FORECAST_COLOR = OKABE_ITO["sky_blue"]
FORECAST_PATTERN = "/"

FONT_FAMILY = "Inter, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif"
SCREEN_FONT_SIZE = 14
SCREEN_HEIGHT = 400
EXPORT_WIDTH, EXPORT_HEIGHT = 1600, 900
EXPORT_FONT_SIZE = 24
EXPORT_TITLE_PAD = 24  # px from the slide's left edge


# --- text in figures ---------------------------------------------------------------------

def plain(text: str) -> str:
    """User text for a figure: plotly reads <b>, <a> and friends in labels; show them as typed."""
    return html.escape(str(text), quote=False)


def context_line(*parts: str | None) -> str:
    """What a figure covers, e.g. 'Q3 2026 (Jul 1 – Sep 30, 2026) · Domain FinOps · as of …'.

    The parts are plain text (partner and people's names among them) and are escaped.
    """
    return " · ".join(plain(part) for part in parts if part)


def _floats(values: Iterable[Any]) -> list[float]:
    return [float(v) if v is not None else 0.0 for v in values]


def text_color(background: str) -> str:
    """Black or white, whichever reads better on the colour (WCAG relative luminance)."""
    rgb = [int(background.lstrip("#")[k:k + 2], 16) / 255 for k in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return "#000000" if luminance > 0.179 else "#FFFFFF"


# --- layout ------------------------------------------------------------------------------

def style(fig: go.Figure, *, title: str, context: str | None = None,
          height: int = SCREEN_HEIGHT, legend: bool = True) -> go.Figure:
    """Give a figure the house layout: title, optional context line inside the image, fonts."""
    fig.layout._validate = False  # the way plotly sets its default template (see above)
    try:
        fig.layout.template = HOUSE_TEMPLATE
    finally:
        fig.layout._validate = fig._validate
    fig.update_layout(
        font=dict(family=FONT_FAMILY, size=SCREEN_FONT_SIZE, color=TEXT),
        title=dict(text=title, x=0, xanchor="left", font=dict(size=SCREEN_FONT_SIZE + 4),
                   subtitle=dict(text=context or "", font=dict(color=GREY))),
        height=height,
        margin=dict(l=8, r=24, t=88 if context else 60, b=56 if legend else 8),
        showlegend=legend,
        # Under the plot, clear of the title and the context line whatever the width.
        legend=dict(orientation="h", x=0, xanchor="left", yref="container", y=0,
                    yanchor="bottom", title=None, traceorder="normal"),
        hoverlabel=dict(font=dict(family=FONT_FAMILY)),
        separators=".,",
        uniformtext=dict(minsize=SCREEN_FONT_SIZE - 3, mode="hide"),
    )
    fig.update_xaxes(gridcolor=GRID, zerolinecolor=GRID, automargin=True)
    fig.update_yaxes(gridcolor=GRID, zerolinecolor=GRID, automargin=True)
    return fig


def for_export(fig: go.Figure, *, width: int = EXPORT_WIDTH, height: int = EXPORT_HEIGHT,
               context: str | None = None) -> go.Figure:
    """A copy sized for a slide (1600×900 by default) with every font scaled to match."""
    out = go.Figure(copy.deepcopy(fig.to_dict()))
    scale = EXPORT_FONT_SIZE / SCREEN_FONT_SIZE
    margin = out.layout.margin
    out.update_layout(width=width, height=height, font=dict(size=EXPORT_FONT_SIZE),
                      # On a slide the title needs the same breathing room as the plot.
                      title=dict(font=dict(size=round((SCREEN_FONT_SIZE + 4) * scale)),
                                 pad=dict(l=EXPORT_TITLE_PAD)),
                      margin=dict(l=round((margin.l or 0) * scale) + 16,
                                  r=round((margin.r or 0) * scale) + 16,
                                  t=round((margin.t or 0) * scale),
                                  b=round((margin.b or 0) * scale) + 16),
                      uniformtext=dict(minsize=round((SCREEN_FONT_SIZE - 3) * scale)))
    if context is not None:
        out.update_layout(title=dict(subtitle=dict(text=context)))
    if out.layout.title.subtitle.text:
        out.update_layout(margin=dict(t=max(out.layout.margin.t, 150)))
    out.update_layout(title=dict(subtitle=dict(font=dict(size=round(SCREEN_FONT_SIZE * scale)))))
    for annotation in out.layout.annotations or ():
        annotation.font.size = round((annotation.font.size or SCREEN_FONT_SIZE) * scale)
    # At slide size a category label would touch its bar ("Data/Backup|"): a little air.
    out.update_xaxes(ticklabelstandoff=8)
    out.update_yaxes(ticklabelstandoff=8)
    return out


def for_slide(fig: go.Figure, *, width: int = EXPORT_WIDTH,
              height: int = EXPORT_HEIGHT) -> go.Figure:
    """The export version without its title and context line: on a slide the slide's own
    title says what the chart is, once."""
    out = for_export(fig, width=width, height=height)
    out.update_layout(title=dict(text="", subtitle=dict(text="")),
                      margin=dict(t=EXPORT_FONT_SIZE))
    return out


def _empty(fig: go.Figure, message: str) -> go.Figure:
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper",
                       yref="paper", font=dict(color=GREY, size=SCREEN_FONT_SIZE + 2))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


# --- figures -----------------------------------------------------------------------------

# Built figures, by builder and inputs. Building is plotly validating every property (half of
# an analytics page's run, bench/README.md), and the same frame gives the same figure for
# every viewer and every rerun: a person going back to a page, or a colleague with the same
# view, gets the figure already built. Keyed by content, so new data is a new key; bounded.
_FIGURES: OrderedDict[bytes, go.Figure] = OrderedDict()
_FIGURES_LOCK = threading.Lock()
FIGURES_KEPT = 256


def _inputs_key(name: str, frame: pd.DataFrame, options: dict[str, Any]) -> bytes:
    frozen = sorted((k, tuple(sorted(v.items())) if isinstance(v, dict) else
                     tuple(v) if isinstance(v, list) else v) for k, v in options.items())
    return hashlib.blake2b(pickle.dumps((name, frame, frozen), protocol=5),
                           digest_size=20).digest()


class KeptFigure(go.Figure):
    """A figure that is only read once built: st.plotly_chart copies a figure's whole dict
    on every run (a fifth of an analytics page's run at 100,000 deals); this one copies it
    once. Whoever changes the dict copies it first, as `for_export` does."""

    _kept_dict: dict | None = None

    def to_dict(self) -> dict:
        if self._kept_dict is None:
            self._kept_dict = super().to_dict()
        return self._kept_dict


def remembered(build: Callable[..., go.Figure]) -> Callable[..., go.Figure]:
    """Keep `build(frame, **options)`'s figures: callers only read a figure (st.plotly_chart
    serialises it; exports copy it first, see `for_export`), so one object serves all."""

    @functools.wraps(build)
    def figure(frame: pd.DataFrame, **options: Any) -> go.Figure:
        key = _inputs_key(build.__qualname__, frame, options)
        with _FIGURES_LOCK:
            if (kept := _FIGURES.get(key)) is not None:
                _FIGURES.move_to_end(key)
                return kept
        built = build(frame, **options)
        with _FIGURES_LOCK:
            _FIGURES[key] = built
            while len(_FIGURES) > FIGURES_KEPT:
                _FIGURES.popitem(last=False)
        return built

    return figure

@remembered
def funnel_figure(frame: pd.DataFrame, *, title: str = "Funnel",
                  context: str | None = None) -> go.Figure:
    """Deals that reached each stage, with value and conversion from the stage before.

    Columns: Stage (label), Deals, Value, Conversion (ratio from the previous stage or None).
    """
    fig = KeptFigure()
    if frame.empty or not frame["Deals"].any():
        return style(_empty(fig, "No deals created in this period"), title=title,
                     context=context, legend=False)
    colors = [STAGE_COLORS[STAGE_BY_LABEL.get(s, "lead")] for s in frame["Stage"]]
    labels = []
    for k, row in enumerate(frame.itertuples(index=False)):
        text = f"{row.Deals:,} · {display.money_short(row.Value)}"
        if k:
            text += f" · {display.percent(row.Conversion)} of {frame['Stage'].iloc[k - 1]}"
        labels.append(text)
    # Wide bars hold their label; narrow ones carry it beside them.
    widest = max(frame["Deals"])
    inside = [n >= widest / 2 for n in frame["Deals"]]
    fig.add_trace(go.Funnel(
        y=list(frame["Stage"]), x=_floats(frame["Deals"]), text=labels, textinfo="text",
        textposition=["inside" if i else "outside" for i in inside],
        marker=dict(color=colors, line=dict(color=TEXT, width=0.5)),
        textfont=dict(color=[text_color(c) if i else TEXT
                             for c, i in zip(colors, inside, strict=True)]),
        connector=dict(fillcolor=GRID, line=dict(width=0)), cliponaxis=False,
        customdata=[[display.money(v)] for v in frame["Value"]],
        hovertemplate="%{y}: %{x:,} deals, %{customdata[0]}<extra></extra>"))
    style(fig, title=title, context=context, legend=False)
    fig.update_layout(margin=dict(r=170))  # the labels beside the narrow bars
    return fig


@remembered
def revenue_by_quarter_figure(frame: pd.DataFrame, *, title: str = "Revenue by quarter",
                              context: str | None = None) -> go.Figure:
    """Won revenue per quarter, stacked with the weighted forecast of open deals.

    Columns: Quarter, Status (past/current/coming), Won, Forecast.
    """
    fig = KeptFigure()
    if frame.empty:
        return style(_empty(fig, "No quarters"), title=title, context=context, legend=False)
    quarters = [f"{q} (now)" if s == "current" else q
                for q, s in zip(frame["Quarter"], frame["Status"], strict=True)]
    fig.add_trace(go.Bar(
        name="Won", x=quarters, y=_floats(frame["Won"]),
        text=[display.money_short(v) if v else "" for v in frame["Won"]],
        textposition="inside", insidetextanchor="middle", textangle=0,
        marker=dict(color=WON_COLOR, line=dict(color=TEXT, width=0.5)),
        textfont=dict(color=text_color(WON_COLOR)),
        customdata=[[display.money(v)] for v in frame["Won"]],
        hovertemplate="%{x}: won %{customdata[0]}<extra></extra>"))
    fig.add_trace(go.Bar(
        name="Weighted forecast", x=quarters, y=_floats(frame["Forecast"]),
        text=[display.money_short(v) if v else "" for v in frame["Forecast"]],
        textposition="inside", insidetextanchor="middle", textangle=0,
        marker=dict(color=FORECAST_COLOR, pattern=dict(shape=FORECAST_PATTERN, fgcolor=TEXT,
                                                        fgopacity=0.35),
                    line=dict(color=TEXT, width=0.5)),
        textfont=dict(color=text_color(FORECAST_COLOR)),
        customdata=[[display.money(v)] for v in frame["Forecast"]],
        hovertemplate="%{x}: forecast %{customdata[0]}<extra></extra>"))
    totals = [w + f for w, f in zip(frame["Won"], frame["Forecast"], strict=True)]
    for x, total in zip(quarters, totals, strict=True):
        if total:
            fig.add_annotation(x=x, y=float(total), text=f"<b>{display.money_short(total)}</b>",
                               showarrow=False, yshift=12, font=dict(size=SCREEN_FONT_SIZE))
    fig.update_layout(barmode="stack", bargap=0.3)
    fig.update_yaxes(tickprefix=display.currency(), exponentformat="B", rangemode="tozero")
    return style(fig, title=title, context=context)


@remembered
def pipeline_by_domain_figure(frame: pd.DataFrame, *, title: str = "Pipeline by domain",
                              context: str | None = None) -> go.Figure:
    """Open pipeline per domain, split by stage (colour and pattern per stage).

    Columns: Domain, Stage (label), Deals, Value.
    """
    fig = KeptFigure()
    if frame.empty:
        return style(_empty(fig, "No open deals"), title=title, context=context, legend=False)
    totals = frame.groupby("Domain", sort=False)["Value"].sum()
    domains = sorted(totals.index, key=lambda d: (Decimal(totals[d]), d))  # biggest on top
    for stage in OPEN_STAGES:
        label = STAGE_LABELS[stage]
        part = frame[frame["Stage"] == label].set_index("Domain")
        values = [part["Value"].get(d, Decimal(0)) for d in domains]
        deals = [int(part["Deals"].get(d, 0)) for d in domains]
        fig.add_trace(go.Bar(
            name=label, y=domains, x=_floats(values), orientation="h",
            marker=dict(color=STAGE_COLORS[stage], line=dict(color=TEXT, width=0.5),
                        pattern=dict(shape=STAGE_PATTERNS[stage], fgcolor=TEXT,
                                     fgopacity=0.35)),
            customdata=[[display.money(v), n] for v, n in zip(values, deals, strict=True)],
            hovertemplate=f"%{{y}} · {label}: %{{customdata[0]}} (%{{customdata[1]}} deals)"
                          "<extra></extra>"))
    for domain in domains:
        fig.add_annotation(x=float(totals[domain]), y=domain, xanchor="left", xshift=6,
                           text=display.money_short(totals[domain]), showarrow=False)
    fig.update_layout(barmode="stack", bargap=0.35)
    fig.update_xaxes(tickprefix=display.currency(), exponentformat="B", rangemode="tozero")
    return style(fig, title=title, context=context)


@remembered
def top_partners_figure(frame: pd.DataFrame, *, title: str = "Top partners",
                        context: str | None = None) -> go.Figure:
    """Won revenue per partner in the period, biggest on top, coloured and patterned by domain.

    Columns: Partner, Domain, Won.
    """
    fig = KeptFigure()
    if frame.empty or not frame["Won"].any():
        return style(_empty(fig, "No revenue won in this period"), title=title,
                     context=context, legend=False)
    rows = frame[frame["Won"] > 0].iloc[::-1]  # plotly draws the first bar at the bottom
    rows = rows.assign(Partner=[plain(name) for name in rows["Partner"]])
    for domain in [d for d in DOMAINS if d in set(rows["Domain"])]:
        part = rows[rows["Domain"] == domain]
        fig.add_trace(go.Bar(
            name=domain, y=list(part["Partner"]), x=_floats(part["Won"]), orientation="h",
            text=[f"{display.money_short(v)} · {domain}" for v in part["Won"]],
            textposition="outside", cliponaxis=False,
            marker=dict(color=DOMAIN_COLORS[domain], line=dict(color=TEXT, width=0.5),
                        pattern=dict(shape=DOMAIN_PATTERNS[domain], fgcolor=TEXT,
                                     fgopacity=0.3)),
            textfont=dict(color=TEXT),
            customdata=[[display.money(v)] for v in part["Won"]],
            hovertemplate="%{y}: won %{customdata[0]}<extra></extra>"))
    fig.update_layout(barmode="overlay", bargap=0.25)
    fig.update_yaxes(categoryorder="array", categoryarray=list(rows["Partner"]))
    # Room on the right for the labels beside the longest bar.
    fig.update_xaxes(tickprefix=display.currency(), exponentformat="B",
                     range=[0, float(max(rows["Won"])) * 1.3])
    return style(fig, title=title, context=context,
                 height=max(SCREEN_HEIGHT, 140 + 30 * len(rows)))


@remembered
def pipeline_by_stage_figure(frame: pd.DataFrame, *, title: str = "Pipeline by stage",
                             context: str | None = None,
                             stages: Sequence[str] = OPEN_STAGES) -> go.Figure:
    """Count and value per stage, one bar each, labelled with both.

    Columns: Stage (label), Deals, Value.
    """
    fig = KeptFigure()
    part = frame[frame["Stage"].isin([STAGE_LABELS[s] for s in stages])]
    if part.empty:
        return style(_empty(fig, "No deals"), title=title, context=context, legend=False)
    codes = [STAGE_BY_LABEL[s] for s in part["Stage"]]
    fig.add_trace(go.Bar(
        x=list(part["Stage"]), y=_floats(part["Value"]),
        text=[f"{display.money_short(v)} · {n:,} deals"
              for v, n in zip(part["Value"], part["Deals"], strict=True)],
        textposition="auto",
        marker=dict(color=[STAGE_COLORS[c] for c in codes], line=dict(color=TEXT, width=0.5),
                    pattern=dict(shape=[STAGE_PATTERNS[c] for c in codes], fgcolor=TEXT,
                                 fgopacity=0.35)),
        customdata=[[display.money(v)] for v in part["Value"]],
        hovertemplate="%{x}: %{customdata[0]}<extra></extra>"))
    fig.update_yaxes(tickprefix=display.currency(), exponentformat="B", rangemode="tozero")
    return style(fig, title=title, context=context, legend=False)


# --- partner analytics figures ---

PIPELINE_COLOR = OKABE_ITO["sky_blue"]
PIPELINE_PATTERN = "/"
TARGET_COLOR = "#FFFFFF"
SLIPPED_COLOR = OKABE_ITO["vermillion"]
CONCENTRATED_PATTERN = "x"


@remembered
def partner_results_figure(frame: pd.DataFrame, *, title: str = "Partners",
                           context: str | None = None, limit: int = 15) -> go.Figure:
    """Open pipeline and revenue won per partner, side by side, the first `limit` rows.

    Columns: Partner, Pipeline, Won (rows in the order to show, the first on top).
    """
    fig = KeptFigure()
    rows = frame.head(limit)
    if rows.empty or not (rows["Pipeline"].any() or rows["Won"].any()):
        return style(_empty(fig, "No partner has deals in this scope"), title=title,
                     context=context, legend=False)
    rows = rows.iloc[::-1]  # plotly draws the first bar at the bottom
    names = [plain(name) for name in rows["Partner"]]
    for name, column, color, pattern in (("Won in period", "Won", WON_COLOR, ""),
                                         ("Open pipeline", "Pipeline", PIPELINE_COLOR,
                                          PIPELINE_PATTERN)):
        fig.add_trace(go.Bar(
            name=name, y=names, x=_floats(rows[column]), orientation="h",
            text=[display.money_short(v) if v else "" for v in rows[column]],
            textposition="outside", cliponaxis=False, textfont=dict(color=TEXT),
            marker=dict(color=color, line=dict(color=TEXT, width=0.5),
                        pattern=dict(shape=pattern, fgcolor=TEXT, fgopacity=0.35)),
            customdata=[[display.money(v)] for v in rows[column]],
            hovertemplate=f"%{{y}}: {name.lower()} %{{customdata[0]}}<extra></extra>"))
    widest = max(float(max(rows["Pipeline"])), float(max(rows["Won"])))
    fig.update_layout(barmode="group", bargap=0.25, bargroupgap=0.05)
    fig.update_yaxes(categoryorder="array", categoryarray=names)
    fig.update_xaxes(tickprefix=display.currency(), exponentformat="B", range=[0, widest * 1.18])
    return style(fig, title=title, context=context,
                 height=max(SCREEN_HEIGHT, 150 + 44 * len(rows)))


@remembered
def created_by_quarter_figure(frame: pd.DataFrame, *, title: str = "New pipeline by quarter",
                              context: str | None = None) -> go.Figure:
    """Value of the deals created per quarter, stacked by domain (colour and pattern).

    Columns: Quarter, Domain ("" for a quarter with no deals), Deals, Value.
    """
    fig = KeptFigure()
    if frame.empty or not frame["Deals"].any():
        return style(_empty(fig, "No deals created in these quarters"), title=title,
                     context=context, legend=False)
    quarters = list(dict.fromkeys(frame["Quarter"]))
    for domain in [d for d in DOMAINS if d in set(frame["Domain"])]:
        part = frame[frame["Domain"] == domain].set_index("Quarter")
        values = [part["Value"].get(q, Decimal(0)) for q in quarters]
        deals = [int(part["Deals"].get(q, 0)) for q in quarters]
        fig.add_trace(go.Bar(
            name=domain, x=quarters, y=_floats(values),
            marker=dict(color=DOMAIN_COLORS[domain], line=dict(color=TEXT, width=0.5),
                        pattern=dict(shape=DOMAIN_PATTERNS[domain], fgcolor=TEXT,
                                     fgopacity=0.3)),
            customdata=[[display.money(v), n] for v, n in zip(values, deals, strict=True)],
            hovertemplate=f"%{{x}} · {domain}: %{{customdata[0]}} (%{{customdata[1]}} deals)"
                          "<extra></extra>"))
    totals = frame.groupby("Quarter", sort=False)[["Value", "Deals"]].sum()
    for quarter in quarters:
        total, deals = totals.loc[quarter, "Value"], int(totals.loc[quarter, "Deals"])
        if deals:  # the amount only: with the count, neighbours collide at tablet width
            fig.add_annotation(x=quarter, y=float(total), showarrow=False, yshift=12,
                               text=f"<b>{display.money_short(total)}</b>")
    fig.update_layout(barmode="stack", bargap=0.3)
    fig.update_yaxes(tickprefix=display.currency(), exponentformat="B", rangemode="tozero")
    return style(fig, title=title, context=context)


@remembered
def commission_liability_figure(frame: pd.DataFrame, *,
                                title: str = "Commission liability forecast",
                                context: str | None = None) -> go.Figure:
    """Expected commission on the weighted open pipeline per expected-close bucket.

    Columns: Close (quarter title, or Slipped / Later / No close date), Deals,
    Weighted pipeline, Expected commission. Slipped stands apart in colour, pattern and name.
    """
    fig = KeptFigure()
    if frame.empty or not frame["Deals"].any():
        return style(_empty(fig, "No open deals"), title=title, context=context, legend=False)
    names = list(frame["Close"])
    slipped = [name == "Slipped" for name in names]
    fig.add_trace(go.Bar(
        x=names, y=_floats(frame["Expected commission"]),
        text=[f"<b>{display.money_short(c)}</b><br>{n:,} deals"
              for c, n in zip(frame["Expected commission"], frame["Deals"], strict=True)],
        # Two short lines fit above a narrow bar; only text inside a bar must fit in it.
        textposition="outside", cliponaxis=False, textfont=dict(color=TEXT),
        constraintext="inside",
        marker=dict(color=[SLIPPED_COLOR if s else OKABE_ITO["blue"] for s in slipped],
                    line=dict(color=TEXT, width=0.5),
                    pattern=dict(shape=["x" if s else "" for s in slipped], fgcolor=TEXT,
                                 fgopacity=0.35)),
        customdata=[[display.money(c), display.money(w)] for c, w in zip(
            frame["Expected commission"], frame["Weighted pipeline"], strict=True)],
        hovertemplate="%{x}: %{customdata[0]} on %{customdata[1]} weighted<extra></extra>"))
    top = float(max(frame["Expected commission"])) or 1.0
    fig.update_yaxes(tickprefix=display.currency(), exponentformat="B", range=[0, top * 1.2])
    return style(fig, title=title, context=context, legend=False)


@remembered
def domain_coverage_figure(frame: pd.DataFrame, *, title: str = "Domain coverage",
                           context: str | None = None, limit: Decimal = Decimal("0.60"),
                           flags: dict[str, str] | None = None) -> go.Figure:
    """Each domain's open pipeline split by partner (100 %), one bar per domain.

    Columns: Domain, Partner ("" for a domain with no active partner), Pipeline,
    Share of domain.
    A partner above `limit` gets a cross-hatch and a ⚠ in its label; `flags` (domain → text)
    are written under the domain's name, so the warnings never rest on colour.
    """
    fig = KeptFigure()
    flags = flags or {}
    domains = [d for d in DOMAINS if d in set(frame["Domain"])][::-1]  # first on top
    if not domains:
        return style(_empty(fig, "No domains"), title=title, context=context, legend=False)
    labels = {d: f"<b>{d}</b><br>{plain(flags.get(d, ''))}" for d in domains}
    for domain in domains:
        part = frame[(frame["Domain"] == domain) & (frame["Partner"] != "")]
        if part.empty:
            fig.add_annotation(x=0.01, y=labels[domain], xanchor="left", showarrow=False,
                               text="⚠ No active partner: no open deals",
                               font=dict(color=TEXT))
            continue
        for partner, value, raw in zip(part["Partner"], part["Pipeline"],
                                       part["Share of domain"], strict=True):
            share = Decimal(raw) if raw is not None else Decimal(0)
            high = share > limit
            color = DOMAIN_COLORS.get(domain, GREY)
            text = f"{'⚠ ' if high else ''}{plain(partner)} {display.percent(share)}"
            fig.add_trace(go.Bar(
                y=[labels[domain]], x=[float(share)], orientation="h", showlegend=False,
                text=[text if share >= Decimal("0.08") else ""], textposition="inside",
                insidetextanchor="middle", textangle=0,
                textfont=dict(color=text_color(color)),
                marker=dict(color=color, line=dict(color="#FFFFFF", width=1.5),
                            pattern=dict(shape=CONCENTRATED_PATTERN if high else "",
                                         fgcolor=TEXT, fgopacity=0.45)),
                customdata=[[plain(partner), display.percent(share), display.money(value)]],
                hovertemplate="%{customdata[0]}: %{customdata[1]} of the domain's open "
                              "pipeline (%{customdata[2]})<extra></extra>"))
    # Below the bars: it shows between them and never crosses a partner's label.
    fig.add_vline(x=float(limit), line=dict(color=TEXT, width=1.5, dash="dash"), layer="below")
    fig.add_annotation(x=float(limit), y=1, yref="paper", yanchor="bottom", showarrow=False,
                       text=f"{display.percent(limit, places=0)} limit", font=dict(color=GREY))
    fig.update_layout(barmode="stack", bargap=0.3)
    fig.update_yaxes(categoryorder="array", categoryarray=[labels[d] for d in domains])
    steps = [Decimal(k) / 5 for k in range(6)]
    fig.update_xaxes(range=[0, 1], tickvals=[float(s) for s in steps],
                     ticktext=[display.percent(s, places=0) for s in steps])
    return style(fig, title=title, context=context, legend=False,
                 height=max(SCREEN_HEIGHT, 140 + 70 * len(domains)))


@remembered
def team_figure(frame: pd.DataFrame, *, title: str = "Team: won against target",
                context: str | None = None) -> go.Figure:
    """Per person, revenue won in the period beside their target, labelled with attainment.

    Columns: Person, Won, Target (None when not shown), Attainment (ratio or None).
    Rows in the order to show, the first on top.
    """
    fig = KeptFigure()
    if frame.empty:
        return style(_empty(fig, "Nobody in this scope"), title=title, context=context,
                     legend=False)
    rows = frame.iloc[::-1]
    names = [plain(name) for name in rows["Person"]]
    targets = [t if t is not None and t == t else None for t in rows["Target"]]
    fig.add_trace(go.Bar(
        name="Target", y=names, x=_floats(targets), orientation="h",
        text=[f"target {display.money_short(t)}" if t else "" for t in targets],
        textposition="outside", cliponaxis=False, textfont=dict(color=GREY),
        marker=dict(color=TARGET_COLOR, line=dict(color=TEXT, width=1),
                    pattern=dict(shape=PIPELINE_PATTERN, fgcolor=GREY, fgopacity=0.5)),
        customdata=[[display.money(t)] for t in targets],
        hovertemplate="%{y}: target %{customdata[0]}<extra></extra>"))
    fig.add_trace(go.Bar(
        name="Won in period", y=names, x=_floats(rows["Won"]), orientation="h",
        text=[f"{display.money_short(w)}" + (f" · {display.percent(a)} of target"
                                           if a is not None and a == a else "")
              for w, a in zip(rows["Won"], rows["Attainment"], strict=True)],
        textposition="outside", cliponaxis=False, textfont=dict(color=TEXT),
        marker=dict(color=WON_COLOR, line=dict(color=TEXT, width=0.5)),
        customdata=[[display.money(w)] for w in rows["Won"]],
        hovertemplate="%{y}: won %{customdata[0]}<extra></extra>"))
    widest = max([float(w) for w in rows["Won"]] + [float(t) for t in targets if t] + [1.0])
    fig.update_layout(barmode="group", bargap=0.25, bargroupgap=0.05)
    fig.update_yaxes(categoryorder="array", categoryarray=names)
    # Room on the right for "$494k · 139% of target" beside the longest bar at tablet width.
    fig.update_xaxes(tickprefix=display.currency(), exponentformat="B", range=[0, widest * 1.6])
    return style(fig, title=title, context=context,
                 height=max(SCREEN_HEIGHT, 150 + 50 * len(rows)))


# --- pipeline analytics figures ---

LOST_COLOR = STAGE_COLORS["closed_lost"]
LOST_PATTERN = STAGE_PATTERNS["closed_lost"]
OVERDUE_COLOR = OKABE_ITO["vermillion"]
MOVED_COLOR = OKABE_ITO["blue"]
STILL_COLOR = OKABE_ITO["sky_blue"]
STILL_PATTERN = "/"


def _days_text(value: Any) -> str:
    return display.NONE if value is None else f"{display.number(value)} d"


@remembered
def velocity_figure(frame: pd.DataFrame, *, title: str = "Sales velocity",
                    context: str | None = None) -> go.Figure:
    """Velocity (money per day) per quarter; under each quarter the KPIs it is made of.

    Columns: Quarter, Open deals, Win rate, Average won deal, Cycle days, Velocity per day.
    The last row is the chosen period.
    """
    fig = KeptFigure()
    if frame.empty or not any(v is not None for v in frame["Velocity per day"]):
        return style(_empty(fig, "No deals closed in these quarters"), title=title,
                     context=context, legend=False)
    # Short lines, so four quarters fit side by side on a tablet without turning the labels.
    ticks = [f"<b>{q}</b><br>{display.percent(w)} × {display.money_short(a)}"
             f"<br>÷ {_days_text(c)}"
             for q, w, a, c in zip(frame["Quarter"], frame["Win rate"],
                                   frame["Average won deal"], frame["Cycle days"], strict=True)]
    values = list(frame["Velocity per day"])
    fig.add_trace(go.Bar(
        x=ticks, y=_floats(values),
        text=[f"{display.money_short(v)}/day" if v is not None else display.NONE for v in values],
        textposition="outside", cliponaxis=False, textfont=dict(color=TEXT),
        marker=dict(color=[MOVED_COLOR] * (len(values) - 1) + [OKABE_ITO["orange"]],
                    line=dict(color=TEXT, width=0.5),
                    pattern=dict(shape=[""] * (len(values) - 1) + ["x"], fgcolor=TEXT,
                                 fgopacity=0.35)),
        customdata=[[display.money(v), n]
                    for v, n in zip(values, frame["Open deals"], strict=True)],
        hovertemplate="%{customdata[0]} per day at %{customdata[1]} open deals"
                      "<extra></extra>"))
    top = max(_floats(values)) or 1.0
    fig.update_xaxes(tickangle=0)
    fig.update_yaxes(tickprefix=display.currency(), exponentformat="B", range=[0, top * 1.2],
                     title=dict(text="per day", font=dict(color=GREY)))
    style(fig, title=title, context=context, legend=False, height=SCREEN_HEIGHT + 40)
    return fig


@remembered
def close_month_figure(frame: pd.DataFrame, *, title: str = "Forecast by close month",
                       context: str | None = None) -> go.Figure:
    """Open pipeline per expected close month: weighted value in front of the full value.

    Columns: Close month, Kind (overdue, month, later, undated), Deals, Value, Weighted.
    Overdue deals stand apart by colour, pattern and name.
    """
    fig = KeptFigure()
    if frame.empty or not frame["Deals"].any():
        return style(_empty(fig, "No open deals"), title=title, context=context, legend=False)
    overdue = [k == "overdue" for k in frame["Kind"]]
    # One short word a line, so eight buckets fit side by side on a tablet unturned.
    names = [m.replace(" ", "<br>") for m in frame["Close month"]]
    fig.add_trace(go.Bar(
        name="Open value", x=names, y=_floats(frame["Value"]), width=0.8,
        text=[f"{display.money_short(v)}<br>{n:,} deal{'' if n == 1 else 's'}" if n else ""
              for v, n in zip(frame["Value"], frame["Deals"], strict=True)],
        textposition="outside", cliponaxis=False, textfont=dict(color=GREY),
        marker=dict(color="#FFFFFF", line=dict(color=GREY, width=1),
                    pattern=dict(shape="/", fgcolor=GREY, fgopacity=0.45)),
        customdata=[[display.money(v)] for v in frame["Value"]],
        hovertemplate="%{x}: open value %{customdata[0]}<extra></extra>"))
    for name, color, pattern, keep in (
            ("Weighted (value × probability)", MOVED_COLOR, "", False),
            ("Overdue, weighted", OVERDUE_COLOR, "x", True)):
        weighted = [v if o == keep else None for v, o in zip(frame["Weighted"], overdue,
                                                             strict=True)]
        if not any(weighted):
            continue
        fig.add_trace(go.Bar(
            name=name, x=names, y=[None if v is None else float(v) for v in weighted],
            width=0.5, text=[f"<b>{display.money_short(v)}</b>" if v else "" for v in weighted],
            textposition="inside", insidetextanchor="end", textangle=0,
            textfont=dict(color=text_color(color)),
            marker=dict(color=color, line=dict(color=TEXT, width=0.5),
                        pattern=dict(shape=pattern, fgcolor=TEXT, fgopacity=0.3)),
            customdata=[[display.money(v)] for v in weighted],
            hovertemplate="%{x}: weighted %{customdata[0]}<extra></extra>"))
    top = max(_floats(frame["Value"])) or 1.0
    fig.update_layout(barmode="overlay")
    fig.update_xaxes(tickangle=0)
    fig.update_yaxes(tickprefix=display.currency(), exponentformat="B", range=[0, top * 1.22])
    return style(fig, title=title, context=context, height=SCREEN_HEIGHT + 60)


@remembered
def time_in_stage_figure(frame: pd.DataFrame, *, title: str = "Time in stage",
                         context: str | None = None) -> go.Figure:
    """Average days per open stage: stays that ended in the period, and deals still there.

    Columns: Stage, Moved on, Average days, Median days, Deals moved on, Still there,
    Average days so far, Median days so far. Each bar is labelled with average, median and
    how many (stays, and the deals they belong to when fewer: a click lists those deals).
    """
    fig = KeptFigure()
    if frame.empty or not (frame["Moved on"].any() or frame["Still there"].any()):
        return style(_empty(fig, "No stage history in this scope"), title=title,
                     context=context, legend=False)
    stages = list(frame["Stage"])[::-1]  # plotly draws the first bar at the bottom
    rows = frame.iloc[::-1]
    series = (("Still in the stage now (days so far)", "Still there", "Still there",
               "Average days so far", "Median days so far", STILL_COLOR, STILL_PATTERN, "deals"),
              ("Moved on in the period", "Moved on", "Deals moved on", "Average days",
               "Median days", MOVED_COLOR, "", "stays"))

    def how_many(n: int, deals: int, noun: str) -> str:
        many = f"{display.count(n)} {noun}"
        return many if deals == n else f"{many} of {display.count(deals)} deals"

    for name, count, deals, average, median, color, pattern, noun in series:
        fig.add_trace(go.Bar(
            name=name, y=stages, x=_floats(rows[average]), orientation="h",
            text=[f"avg {_days_text(a)} · median {_days_text(m)} · {how_many(n, d, noun)}"
                  if n else f"no {noun}"
                  for a, m, n, d in zip(rows[average], rows[median], rows[count], rows[deals],
                                        strict=True)],
            textposition="outside", cliponaxis=False, textfont=dict(color=TEXT),
            marker=dict(color=color, line=dict(color=TEXT, width=0.5),
                        pattern=dict(shape=pattern, fgcolor=TEXT, fgopacity=0.35)),
            customdata=[[_days_text(a), _days_text(m), n] for a, m, n in zip(
                rows[average], rows[median], rows[count], strict=True)],
            hovertemplate=f"%{{y}} · {name}: average %{{customdata[0]}}, median "
                          f"%{{customdata[1]}}, %{{customdata[2]}} {noun}<extra></extra>"))
    widest = max(_floats(list(frame["Average days"]) + list(frame["Average days so far"])))
    # Plotly stacks a group's bars bottom-up: "moved on" is drawn last so it reads first.
    fig.update_layout(barmode="group", bargap=0.3, bargroupgap=0.08)
    fig.update_yaxes(categoryorder="array", categoryarray=stages, ticklabelstandoff=8)
    fig.update_xaxes(ticksuffix=" d", range=[0, (widest or 1.0) * 1.9])
    style(fig, title=title, context=context, height=SCREEN_HEIGHT + 80)
    fig.update_layout(legend=dict(traceorder="reversed"))
    return fig


@remembered
def win_loss_figure(frame: pd.DataFrame, *, title: str = "Win/loss by partner",
                    context: str | None = None, limit: int = 12) -> go.Figure:
    """Value won and lost per partner in the period, stacked, labelled with the win rate.

    Columns: Partner, Won deals, Won, Lost deals, Lost, Win rate (by count). The first
    `limit` rows, the first on top.
    """
    fig = KeptFigure()
    rows = frame.head(limit)
    if rows.empty:
        return style(_empty(fig, "No deals closed in this period"), title=title,
                     context=context, legend=False)
    rows = rows.iloc[::-1]
    names = [plain(name) for name in rows["Partner"]]
    for name, value, count, color, pattern in (
            ("Won", "Won", "Won deals", WON_COLOR, ""),
            ("Lost", "Lost", "Lost deals", LOST_COLOR, LOST_PATTERN)):
        fig.add_trace(go.Bar(
            name=name, y=names, x=_floats(rows[value]), orientation="h",
            marker=dict(color=color, line=dict(color=TEXT, width=0.5),
                        pattern=dict(shape=pattern, fgcolor=TEXT, fgopacity=0.35)),
            customdata=[[display.money(v), n]
                        for v, n in zip(rows[value], rows[count], strict=True)],
            hovertemplate=f"%{{y}}: {name.lower()} %{{customdata[0]}} "
                          "(%{customdata[1]} deals)<extra></extra>"))
    totals = [w + lost for w, lost in zip(rows["Won"], rows["Lost"], strict=True)]
    for y, total, won, lost, rate in zip(names, totals, rows["Won deals"], rows["Lost deals"],
                                         rows["Win rate"], strict=True):
        fig.add_annotation(x=float(total), y=y, xanchor="left", xshift=6, showarrow=False,
                           text=f"<b>{display.percent(rate)}</b> won · {won} of {won + lost}"
                                f" · {display.money_short(total)}")
    widest = max(_floats(totals)) or 1.0
    fig.update_layout(barmode="stack", bargap=0.3)
    fig.update_yaxes(categoryorder="array", categoryarray=names, ticklabelstandoff=8)
    fig.update_xaxes(tickprefix=display.currency(), exponentformat="B", range=[0, widest * 1.6])
    return style(fig, title=title, context=context,
                 height=max(SCREEN_HEIGHT, 150 + 36 * len(rows)))


@remembered
def lost_reasons_figure(frame: pd.DataFrame, *, title: str = "Lost reasons",
                        context: str | None = None, limit: int = 10) -> go.Figure:
    """Deals lost per reason, most frequent on top; reasons past `limit` summed as one bar.

    Columns: Reason, Deals, Value, Share of lost deals.
    """
    fig = KeptFigure()
    if frame.empty:
        return style(_empty(fig, "No deals lost in this period"), title=title,
                     context=context, legend=False)
    rows = frame.head(limit)
    reasons = [plain(r) for r in rows["Reason"]]
    counts, values = list(rows["Deals"]), list(rows["Value"])
    if len(frame) > limit:
        rest = frame.iloc[limit:]
        reasons.append(f"{len(rest)} other reasons")
        counts.append(int(rest["Deals"].sum()))
        values.append(sum(rest["Value"], Decimal(0)))
    total = sum(counts)
    reasons, counts, values = reasons[::-1], counts[::-1], values[::-1]
    fig.add_trace(go.Bar(
        y=reasons, x=_floats(counts), orientation="h",
        text=[f"{n:,} deal{'' if n == 1 else 's'} · {display.percent(Decimal(n) / total)} · "
              f"{display.money_short(v)}" for n, v in zip(counts, values, strict=True)],
        textposition="outside", cliponaxis=False, textfont=dict(color=TEXT),
        marker=dict(color=LOST_COLOR, line=dict(color=TEXT, width=0.5),
                    pattern=dict(shape=LOST_PATTERN, fgcolor=TEXT, fgopacity=0.35)),
        customdata=[[display.money(v)] for v in values],
        hovertemplate="%{y}: %{x} deals, %{customdata[0]}<extra></extra>"))
    fig.update_layout(bargap=0.3)
    fig.update_yaxes(categoryorder="array", categoryarray=reasons, ticklabelstandoff=8)
    fig.update_xaxes(range=[0, max(counts) * 1.6], dtick=max(1, round(max(counts) / 5)),
                     title=dict(text="deals lost", font=dict(color=GREY)))
    return style(fig, title=title, context=context, legend=False,
                 height=max(SCREEN_HEIGHT, 150 + 34 * len(reasons)))


@remembered
def health_trend_figure(frame: pd.DataFrame, *, title: str = "Health score by week",
                        context: str | None = None) -> go.Figure:
    """A partner's weekly health score, 0 to 100, with the label bands' lower edges.

    Columns: Week (date), Score.
    """
    fig = KeptFigure()
    if frame.empty:
        return style(_empty(fig, "No weekly snapshot yet: the first is taken on Monday"),
                     title=title, context=context, legend=False)
    weeks = list(frame["Week"])
    scores = [int(v) for v in frame["Score"]]
    fig.add_trace(go.Scatter(
        x=weeks, y=scores, mode="lines+markers", name="Score",
        line=dict(color=TEXT, width=2), marker=dict(size=7),
        customdata=[display.day(w) for w in weeks],
        hovertemplate="%{customdata}: %{y}<extra></extra>"))
    for _, lowest in health_rules.BANDS[:-1]:
        fig.add_hline(y=lowest, line=dict(color=GREY, width=1, dash="dot"))
    fig.update_yaxes(range=[0, 100], dtick=25)
    return style(fig, title=title, context=context, legend=False)
