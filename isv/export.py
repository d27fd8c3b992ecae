"""Charts as images and the exec review pack (PPTX and PDF), rendered by kaleido.

Kaleido 1.x drives a headless Chromium, the system's (/usr/bin/chromium on Debian). Starting
it takes seconds, so one server is started on the first export and kept warm for the life of
the process; it is not thread-safe, and Streamlit runs deferred downloads on threads of their
own, so every call goes through one lock. Where no Chromium exists, `unavailable()` says why
and the app shows that on the export buttons instead of failing.
"""

from __future__ import annotations

import io
import logging
import os
import re
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import plotly.graph_objects as go

from isv import charts, display
from isv.analytics.kpis import Kpis

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FORMATS = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}
PPTX_MIME = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
NO_CHROMIUM = ("Image export needs Chromium, which is not installed on this server "
               "(apt-get install chromium).")

_lock = threading.Lock()
for _chatty in ("kaleido", "choreographer", "logistro"):  # a line per tab and temp file at INFO
    logging.getLogger(_chatty).setLevel(logging.WARNING)
_server_path: str | None = None


class ExportUnavailable(RuntimeError):
    """No browser to render with: the message is the reason to show the user."""


def chromium() -> str | None:
    """The browser kaleido will drive: BROWSER_PATH if set (kaleido's own variable), else PATH."""
    configured = os.environ.get("BROWSER_PATH")
    if configured:
        return configured if os.access(configured, os.X_OK) else None
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


def unavailable() -> str | None:
    """Why images cannot be exported here, or None when they can."""
    return None if chromium() else NO_CHROMIUM


def render(fig: go.Figure, fmt: str, *, width: int = charts.EXPORT_WIDTH,
           height: int = charts.EXPORT_HEIGHT) -> bytes:
    """The figure as PNG, SVG or PDF bytes at width×height, through the one warm server."""
    import kaleido  # imported on first export: pages that never export don't pay for it

    global _server_path
    if fmt not in FORMATS:
        raise ValueError(f"unknown image format {fmt!r}")
    path = chromium()
    if path is None:
        raise ExportUnavailable(NO_CHROMIUM)
    with _lock:
        if _server_path != path:
            if _server_path is not None:
                kaleido.stop_sync_server(silence_warnings=True)
            kaleido.start_sync_server(mathjax=False, path=path, silence_warnings=True)
            _server_path = path
        try:
            return kaleido.calc_fig_sync(
                fig, opts=dict(format=fmt, width=width, height=height, scale=1))
        except Exception:
            # A crashed browser leaves the server unusable: start afresh on the next call.
            kaleido.stop_sync_server(silence_warnings=True)
            _server_path = None
            raise


def chart_image(fig: go.Figure, fmt: str) -> bytes:
    """A screen figure as a slide-sized (1600×900) image, fonts scaled, title and context kept."""
    return render(charts.for_export(fig), fmt)


def file_name(title: str, suffix: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "chart"
    return f"{slug}.{suffix}"


# --- the exec review pack ----------------------------------------------------------------

@dataclass(frozen=True)
class SummaryRow:
    label: str
    value: str
    previous: str
    change: str


def _change(now: Any, before: Any, show: Callable[[Decimal], str]) -> str:
    return display.change(now, before, show) or display.NONE


def summary_rows(kpis: Kpis, previous: Kpis) -> list[SummaryRow]:
    """The KPI cards' numbers with exact money, each beside the previous period's."""
    money, pct = display.money, display.percent
    current = "current state"
    return [
        SummaryRow("Pipeline", money(kpis.pipeline_total), current, display.NONE),
        SummaryRow("Weighted pipeline", money(kpis.pipeline_weighted), current, display.NONE),
        SummaryRow("Open deals", f"{kpis.open_count:,}", current, display.NONE),
        SummaryRow("Won this period", money(kpis.won_revenue), money(previous.won_revenue),
                   _change(kpis.won_revenue, previous.won_revenue, money)),
        SummaryRow("Deals won", f"{kpis.won_count:,}", f"{previous.won_count:,}",
                   _change(kpis.won_count, previous.won_count, lambda d: f"{d:,}")),
        SummaryRow("Win rate", pct(kpis.win_rate), pct(previous.win_rate),
                   _change(kpis.win_rate, previous.win_rate, display.points)),
        SummaryRow("Average won deal", money(kpis.avg_won_deal), money(previous.avg_won_deal),
                   _change(kpis.avg_won_deal, previous.avg_won_deal, money)),
        SummaryRow("Cycle days", display.days(kpis.avg_cycle_days),
                   display.days(previous.avg_cycle_days),
                   _change(kpis.avg_cycle_days, previous.avg_cycle_days, display.days)),
        SummaryRow("Goal attainment", pct(kpis.goal_attainment), pct(previous.goal_attainment),
                   _change(kpis.goal_attainment, previous.goal_attainment, display.points)),
        SummaryRow("Revenue target", money(kpis.revenue_target),
                   money(previous.revenue_target), display.NONE),
        SummaryRow("Coverage", display.times(kpis.coverage), display.times(previous.coverage),
                   _change(kpis.coverage, previous.coverage, display.times)),
        SummaryRow("Commission earned", money(kpis.commission_earned),
                   money(previous.commission_earned),
                   _change(kpis.commission_earned, previous.commission_earned, money)),
    ]


def summary_figure(rows: Sequence[SummaryRow], *, title: str, context: str,
                   previous_title: str) -> go.Figure:
    """The summary as a table figure, for the PDF's first page (already slide-sized)."""
    header = ["KPI", "This period", previous_title, "Change"]
    cells = [[r.label for r in rows], [r.value for r in rows], [r.previous for r in rows],
             [r.change for r in rows]]
    fig = go.Figure(go.Table(
        columnwidth=[2.2, 2, 2, 1.6],
        header=dict(values=[f"<b>{charts.plain(h)}</b>" for h in header],
                    fill_color=charts.GRID, align=["left", "right", "right", "right"],
                    font=dict(size=charts.EXPORT_FONT_SIZE - 2, color=charts.TEXT), height=44),
        cells=dict(values=cells, align=["left", "right", "right", "right"],
                   fill_color=[["#FFFFFF", "#F5F5F5"] * len(rows)],
                   font=dict(size=charts.EXPORT_FONT_SIZE - 4, color=charts.TEXT), height=50)))
    charts.style(fig, title=charts.plain(title), context=context, legend=False)
    exported = charts.for_export(fig)
    exported.update_layout(margin=dict(l=48, r=48, b=24))
    return exported


@dataclass(frozen=True)
class PackChart:
    title: str  # short: the slide's title; the figure carries its own long title
    figure: go.Figure


@dataclass(frozen=True)
class Pack:
    pptx: bytes
    pdf: bytes
    slides: int


def build_pack(*, title: str, context: str, kpis: Kpis, previous: Kpis,
               figures: Sequence[PackChart],
               progress: Callable[[float, str], None] = lambda done, text: None) -> Pack:
    """A PPTX and a PDF: the KPI summary, then one slide (page) per chart.

    The PDF pages are kaleido's vector PDFs joined by pypdf; the slides hold the same charts
    as 1600×900 PNGs.
    """
    from pptx import Presentation
    from pptx.util import Inches, Pt
    from pypdf import PdfWriter

    steps = 1 + len(figures)
    rows = summary_rows(kpis, previous)
    deck = Presentation()
    deck.slide_width, deck.slide_height = Inches(13.333), Inches(7.5)
    pdf = PdfWriter()

    progress(0.0, "KPI summary")
    summary = summary_figure(rows, title=f"{title}: KPI summary", context=context,
                             previous_title=previous.period.title)
    pdf.append(io.BytesIO(render(summary, "pdf")))
    _summary_slide(deck, rows, title=f"{title}: KPI summary", context=context,
                   previous_title=previous.period.title, inches=Inches, points=Pt)

    for done, chart in enumerate(figures, start=1):
        progress(done / steps, chart.title)
        exported = charts.for_export(chart.figure)
        png = render(exported, "png")
        pdf.append(io.BytesIO(render(exported, "pdf")))
        slide = deck.slides.add_slide(deck.slide_layouts[5])  # "Title Only"
        _title(slide, chart.title, Inches, Pt)
        top = Inches(1.0)
        height = deck.slide_height - top - Inches(0.2)
        width = int(height * charts.EXPORT_WIDTH / charts.EXPORT_HEIGHT)
        picture = slide.shapes.add_picture(io.BytesIO(png), (deck.slide_width - width) // 2,
                                           top, width, height)
        picture._element.nvPicPr.cNvPr.set("descr", _alt(chart))
    progress(1.0, "Done")

    pptx_out, pdf_out = io.BytesIO(), io.BytesIO()
    deck.save(pptx_out)
    pdf.write(pdf_out)
    return Pack(pptx=pptx_out.getvalue(), pdf=pdf_out.getvalue(), slides=steps)


def _alt(chart: PackChart) -> str:
    layout = chart.figure.layout.title
    return " · ".join(text for text in (layout.text, layout.subtitle.text) if text)


def _title(slide, text: str, inches, points) -> None:
    shape = slide.shapes.title
    shape.left, shape.top, shape.width, shape.height = (inches(0.5), inches(0.2),
                                                        inches(12.3), inches(0.8))
    shape.text = text
    paragraph = shape.text_frame.paragraphs[0]
    paragraph.font.size = points(28)
    paragraph.font.bold = True


def _summary_slide(deck, rows: Sequence[SummaryRow], *, title: str, context: str,
                   previous_title: str, inches, points) -> None:
    import html

    from pptx.enum.text import PP_ALIGN

    slide = deck.slides.add_slide(deck.slide_layouts[5])
    _title(slide, title, inches, points)
    note = slide.shapes.add_textbox(inches(0.5), inches(0.95), inches(12.3), inches(0.4))
    note.text_frame.text = html.unescape(context)
    note.text_frame.paragraphs[0].font.size = points(14)
    header = ("KPI", "This period", previous_title, "Change")
    shape = slide.shapes.add_table(len(rows) + 1, 4, inches(0.5), inches(1.45), inches(12.3),
                                   inches(0.42) * (len(rows) + 1))
    table = shape.table
    for k, width in enumerate((3.4, 3.3, 3.3, 2.3)):
        table.columns[k].width = inches(width)
    for r, values in enumerate([header, *[(x.label, x.value, x.previous, x.change)
                                          for x in rows]]):
        for c, value in enumerate(values):
            cell = table.cell(r, c)
            cell.text = value
            paragraph = cell.text_frame.paragraphs[0]
            paragraph.font.size = points(15)
            paragraph.alignment = PP_ALIGN.LEFT if c == 0 else PP_ALIGN.RIGHT
