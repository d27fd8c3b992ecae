"""Plotly figure builders, DataFrame → Figure, in one visual language defined here once.

- Colours are the Okabe–Ito palette (safe for the common colour-vision deficiencies), one
  per stage and one per domain, the same on every page and in every export.
- Colour is never the only signal: stacked series also differ by fill pattern, and bars
  carry direct labels (amounts, stage names) so a greyscale print still reads.
- Money on charts is short ($1.25M) and rounded half-even; the exact figures are in the
  data table that accompanies every chart.
- `style()` titles a figure and can put the period, filters and "as of" inside the image;
  `for_export()` makes the 1600×900 version for slides, with fonts sized for it.

The frames come from isv.analytics.frames (column names as documented on each builder).
Plotly needs floats for geometry; the numbers printed on a chart come from the exact Decimals.
"""

from __future__ import annotations

import copy
import html
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from isv.models import DOMAINS, OPEN_STAGES

# --- the visual language -----------------------------------------------------------------

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

STAGE_LABELS = {"lead": "Lead", "demo": "Demo", "poc": "PoC", "proposal": "Proposal",
                "closed_won": "Won", "closed_lost": "Lost"}
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
NONE = "—"


# --- numbers as text ---------------------------------------------------------------------

def _plain(number: Decimal) -> str:
    text = f"{number:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def money(value: Decimal | int | None, *, short: bool = False) -> str:
    """'$1,234,567.89', or with short=True '$1.23M' / '$456k' / '$950'; None is '—'."""
    if value is None:
        return NONE
    amount = Decimal(value)
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if not short:
        return f"{sign}${amount.quantize(Decimal('0.01'), rounding=ROUND_HALF_EVEN):,.2f}"
    units = ((Decimal(10) ** 9, "B"), (Decimal(10) ** 6, "M"), (Decimal(10) ** 3, "k"))
    for k, (size, suffix) in enumerate(units):
        if amount < size:
            continue
        scaled = amount / size
        places = 2 if scaled < 10 else 1 if scaled < 100 else 0
        rounded = scaled.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
        if rounded >= 1000 and k > 0:  # 999,999 is $1M, not $1000k
            bigger, bigger_suffix = units[k - 1]
            rounded = (amount / bigger).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
            suffix = bigger_suffix
        return f"{sign}${_plain(rounded)}{suffix}"
    return f"{sign}${amount.quantize(Decimal(1), rounding=ROUND_HALF_EVEN)}"


def percent(value: Decimal | float | None, *, places: int = 1) -> str:
    """A ratio as a percentage: 0.4615 → '46.2%'; None is '—'."""
    if value is None:
        return NONE
    scaled = (Decimal(str(value)) * 100).quantize(Decimal(1).scaleb(-places),
                                                  rounding=ROUND_HALF_EVEN)
    return f"{scaled}%"


def number(value: Decimal | float | int | None, *, places: int = 1) -> str:
    """A plain number, rounded half-even: 74.8333 → '74.8'; None is '—'."""
    if value is None:
        return NONE
    rounded = Decimal(str(value)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    return f"{rounded:,}"


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
    fig.update_layout(
        template="plotly_white",
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
                      title=dict(font=dict(size=round((SCREEN_FONT_SIZE + 4) * scale))),
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
    return out


def _empty(fig: go.Figure, message: str) -> go.Figure:
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper",
                       yref="paper", font=dict(color=GREY, size=SCREEN_FONT_SIZE + 2))
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


# --- figures -----------------------------------------------------------------------------

def funnel_figure(frame: pd.DataFrame, *, title: str = "Funnel",
                  context: str | None = None) -> go.Figure:
    """Deals that reached each stage, with value and conversion from the stage before.

    Columns: Stage (label), Deals, Value, Conversion (ratio from the previous stage or None).
    """
    fig = go.Figure()
    if frame.empty or not frame["Deals"].any():
        return style(_empty(fig, "No deals created in this period"), title=title,
                     context=context, legend=False)
    colors = [STAGE_COLORS[STAGE_BY_LABEL.get(s, "lead")] for s in frame["Stage"]]
    labels = []
    for k, row in enumerate(frame.itertuples(index=False)):
        text = f"{row.Deals:,} · {money(row.Value, short=True)}"
        if k:
            text += f" · {percent(row.Conversion)} of {frame['Stage'].iloc[k - 1]}"
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
        customdata=[[money(v)] for v in frame["Value"]],
        hovertemplate="%{y}: %{x:,} deals, %{customdata[0]}<extra></extra>"))
    style(fig, title=title, context=context, legend=False)
    fig.update_layout(margin=dict(r=170))  # the labels beside the narrow bars
    return fig


def revenue_by_quarter_figure(frame: pd.DataFrame, *, title: str = "Revenue by quarter",
                              context: str | None = None) -> go.Figure:
    """Won revenue per quarter, stacked with the weighted forecast of open deals.

    Columns: Quarter, Status (past/current/coming), Won, Forecast.
    """
    fig = go.Figure()
    if frame.empty:
        return style(_empty(fig, "No quarters"), title=title, context=context, legend=False)
    quarters = [f"{q} (now)" if s == "current" else q
                for q, s in zip(frame["Quarter"], frame["Status"], strict=True)]
    fig.add_trace(go.Bar(
        name="Won", x=quarters, y=_floats(frame["Won"]),
        text=[money(v, short=True) if v else "" for v in frame["Won"]],
        textposition="inside", insidetextanchor="middle", textangle=0,
        marker=dict(color=WON_COLOR, line=dict(color=TEXT, width=0.5)),
        textfont=dict(color=text_color(WON_COLOR)),
        customdata=[[money(v)] for v in frame["Won"]],
        hovertemplate="%{x}: won %{customdata[0]}<extra></extra>"))
    fig.add_trace(go.Bar(
        name="Weighted forecast", x=quarters, y=_floats(frame["Forecast"]),
        text=[money(v, short=True) if v else "" for v in frame["Forecast"]],
        textposition="inside", insidetextanchor="middle", textangle=0,
        marker=dict(color=FORECAST_COLOR, pattern=dict(shape=FORECAST_PATTERN, fgcolor=TEXT,
                                                        fgopacity=0.35),
                    line=dict(color=TEXT, width=0.5)),
        textfont=dict(color=text_color(FORECAST_COLOR)),
        customdata=[[money(v)] for v in frame["Forecast"]],
        hovertemplate="%{x}: forecast %{customdata[0]}<extra></extra>"))
    totals = [w + f for w, f in zip(frame["Won"], frame["Forecast"], strict=True)]
    for x, total in zip(quarters, totals, strict=True):
        if total:
            fig.add_annotation(x=x, y=float(total), text=f"<b>{money(total, short=True)}</b>",
                               showarrow=False, yshift=12, font=dict(size=SCREEN_FONT_SIZE))
    fig.update_layout(barmode="stack", bargap=0.3)
    fig.update_yaxes(tickprefix="$", tickformat="~s", rangemode="tozero")
    return style(fig, title=title, context=context)


def pipeline_by_domain_figure(frame: pd.DataFrame, *, title: str = "Pipeline by domain",
                              context: str | None = None) -> go.Figure:
    """Open pipeline per domain, split by stage (colour and pattern per stage).

    Columns: Domain, Stage (label), Deals, Value.
    """
    fig = go.Figure()
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
            customdata=[[money(v), n] for v, n in zip(values, deals, strict=True)],
            hovertemplate=f"%{{y}} · {label}: %{{customdata[0]}} (%{{customdata[1]}} deals)"
                          "<extra></extra>"))
    for domain in domains:
        fig.add_annotation(x=float(totals[domain]), y=domain, xanchor="left", xshift=6,
                           text=money(totals[domain], short=True), showarrow=False)
    fig.update_layout(barmode="stack", bargap=0.35)
    fig.update_xaxes(tickprefix="$", tickformat="~s", rangemode="tozero")
    return style(fig, title=title, context=context)


def top_partners_figure(frame: pd.DataFrame, *, title: str = "Top partners",
                        context: str | None = None) -> go.Figure:
    """Won revenue per partner in the period, biggest on top, coloured and patterned by domain.

    Columns: Partner, Domain, Won.
    """
    fig = go.Figure()
    if frame.empty or not frame["Won"].any():
        return style(_empty(fig, "No revenue won in this period"), title=title,
                     context=context, legend=False)
    rows = frame[frame["Won"] > 0].iloc[::-1]  # plotly draws the first bar at the bottom
    rows = rows.assign(Partner=[plain(name) for name in rows["Partner"]])
    for domain in [d for d in DOMAINS if d in set(rows["Domain"])]:
        part = rows[rows["Domain"] == domain]
        fig.add_trace(go.Bar(
            name=domain, y=list(part["Partner"]), x=_floats(part["Won"]), orientation="h",
            text=[f"{money(v, short=True)} · {domain}" for v in part["Won"]],
            textposition="outside", cliponaxis=False,
            marker=dict(color=DOMAIN_COLORS[domain], line=dict(color=TEXT, width=0.5),
                        pattern=dict(shape=DOMAIN_PATTERNS[domain], fgcolor=TEXT,
                                     fgopacity=0.3)),
            textfont=dict(color=TEXT),
            customdata=[[money(v)] for v in part["Won"]],
            hovertemplate="%{y}: won %{customdata[0]}<extra></extra>"))
    fig.update_layout(barmode="overlay", bargap=0.25)
    fig.update_yaxes(categoryorder="array", categoryarray=list(rows["Partner"]))
    # Room on the right for the labels beside the longest bar.
    fig.update_xaxes(tickprefix="$", tickformat="~s",
                     range=[0, float(max(rows["Won"])) * 1.3])
    return style(fig, title=title, context=context,
                 height=max(SCREEN_HEIGHT, 140 + 30 * len(rows)))


def pipeline_by_stage_figure(frame: pd.DataFrame, *, title: str = "Pipeline by stage",
                             context: str | None = None,
                             stages: Sequence[str] = OPEN_STAGES) -> go.Figure:
    """Count and value per stage, one bar each, labelled with both.

    Columns: Stage (label), Deals, Value.
    """
    fig = go.Figure()
    part = frame[frame["Stage"].isin([STAGE_LABELS[s] for s in stages])]
    if part.empty:
        return style(_empty(fig, "No deals"), title=title, context=context, legend=False)
    codes = [STAGE_BY_LABEL[s] for s in part["Stage"]]
    fig.add_trace(go.Bar(
        x=list(part["Stage"]), y=_floats(part["Value"]),
        text=[f"{money(v, short=True)} · {n:,} deals"
              for v, n in zip(part["Value"], part["Deals"], strict=True)],
        textposition="auto",
        marker=dict(color=[STAGE_COLORS[c] for c in codes], line=dict(color=TEXT, width=0.5),
                    pattern=dict(shape=[STAGE_PATTERNS[c] for c in codes], fgcolor=TEXT,
                                 fgopacity=0.35)),
        customdata=[[money(v)] for v in part["Value"]],
        hovertemplate="%{x}: %{customdata[0]}<extra></extra>"))
    fig.update_yaxes(tickprefix="$", tickformat="~s", rangemode="tozero")
    return style(fig, title=title, context=context, legend=False)
