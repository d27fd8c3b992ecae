"""The exec review pack's pages: what each slide says, laid out once for the PPTX and the PDF.

A page is plain data (title, context line, a table, an image, tiles), already fitted to the
page's geometry: texts are shortened with real font metrics and tables split into pages of
at most as many rows as fit at a readable size. isv.pack.deck and isv.pack.pdf only draw
them, so the slide and the PDF page say the same thing in the same place.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import plotly.graph_objects as go

from isv import charts, display
from isv.analytics.breakdowns import ClosingDeal, PersonResult, SlippedDeal
from isv.analytics.dashboard import gap_to_goal
from isv.analytics.kpis import Kpis

from . import fonts

# Sizes in points: a slide is 960×540 pt (13.333×7.5 in) unless the master says otherwise.
TITLE_PT = 28
SUBTITLE_PT = 14
COVER_TITLE_PT = 40
COVER_LINE_PT = 18
TABLE_PT = 14
KPI_TABLE_PT = 16
FOOTER_PT = 10
CELL_PAD = 6  # pt either side of a cell's text
NOTE_HEIGHT = 24


# --- the number language (isv.display, as on the dashboard) -----------------------------

money = display.money_short   # short on slides, like the KPI cards: $13.3M, $61.9k
count = display.count
percent = display.percent
probability = display.percentage   # a deal's probability, stored 0–100
day = display.day


def _change(now: Any, before: Any, show) -> str:
    return display.change(now, before, show) or display.NONE


# --- what goes in ----------------------------------------------------------------------

@dataclass(frozen=True)
class PackChart:
    """A chart of the page: its figure titles the slide; the image carries no title."""

    title: str  # short, for progress messages
    figure: go.Figure

    @property
    def slide_title(self) -> str:
        return html.unescape(self.figure.layout.title.text or self.title)

    @property
    def context(self) -> str:
        return html.unescape(self.figure.layout.title.subtitle.text or "")


@dataclass(frozen=True)
class PackContent:
    """Everything the pack tells, as the dashboard shows it."""

    title: str                   # "Executive review"
    prepared_by: str             # the viewer's name
    filters: tuple[str, ...]     # in words ("Domain FinOps"); empty: none
    kpis: Kpis
    previous: Kpis
    charts: tuple[PackChart, ...] = ()
    slipped: tuple[SlippedDeal, ...] = ()
    team: tuple[PersonResult, ...] = ()
    closers: tuple[ClosingDeal, ...] = ()

    @property
    def context(self) -> str:
        """Period, filters and as of, in one line under each title."""
        k = self.kpis
        return " · ".join([f"{k.period.title} ({k.period.span})", *self.filters,
                           f"as of {day(k.as_of)}"])


# --- geometry --------------------------------------------------------------------------

@dataclass(frozen=True)
class Box:
    left: float
    top: float
    width: float
    height: float

    @property
    def bottom(self) -> float:
        return self.top + self.height


@dataclass(frozen=True)
class Frame:
    """Where a page's parts go, in points, for one page size (the deck's slide size)."""

    width: float
    height: float
    title: Box
    subtitle: Box
    body: Box
    footer: Box | None   # None when the master draws its own footer

    @classmethod
    def default(cls, width: float = 960, height: float = 540) -> Frame:
        margin = 36
        return cls(width, height,
                   title=Box(margin, 22, width - 2 * margin, 50),
                   subtitle=Box(margin, 72, width - 2 * margin, 22),
                   body=Box(margin, 104, width - 2 * margin, height - 104 - 40),
                   footer=Box(margin, height - 28, width - 2 * margin, 16))

    def under_title(self, title: Box, bottom: float) -> Frame:
        """The frame for a master whose title sits in `title` and whose footer starts at
        `bottom`: context line right under the title, body below it."""
        subtitle = Box(title.left, title.bottom + 2, title.width, 22)
        top = subtitle.bottom + 10
        return Frame(self.width, self.height, title=title, subtitle=subtitle,
                     body=Box(title.left, top, title.width, max(bottom - 8 - top, 120)),
                     footer=None)


# --- pages -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Column:
    header: str
    align: str = "left"      # "left" or "right"
    share: float = 1.0       # of the table's width


@dataclass(frozen=True)
class Table:
    columns: tuple[Column, ...]
    rows: tuple[tuple[str, ...], ...]
    size: float = TABLE_PT
    row_height: float = 26
    header_height: float = 30

    def widths(self, total: float) -> list[float]:
        shares = sum(c.share for c in self.columns)
        return [total * c.share / shares for c in self.columns]

    @property
    def height(self) -> float:
        return self.header_height + self.row_height * len(self.rows)


@dataclass(frozen=True)
class Tile:
    label: str
    value: str


@dataclass(frozen=True)
class Page:
    kind: str                      # "cover", "table", "chart" or "gap"
    title: str
    title_size: float = TITLE_PT   # smaller for a long title, so it keeps to one line
    subtitle: str = ""
    lines: tuple[tuple[str, str], ...] = ()   # the cover's label/value lines
    table: Table | None = None
    tiles: tuple[Tile, ...] = ()
    note: str = ""                 # under the table or chart
    image: bytes | None = None     # the chart (PNG), sized to the body's aspect
    alt: str = ""                  # the image's description for screen readers
    table_top: float = 0           # where the table starts below the body's top


MIN_TITLE_PT = 20


def note_size(kind: str) -> float:
    """The gap page's note leads into its table; elsewhere a note is a footnote."""
    return 14 if kind == "gap" else 13


def titled(kind: str, title: str, frame: Frame, **parts: Any) -> Page:
    """A page whose title keeps to one line: a smaller size first, then shortened."""
    size = TITLE_PT
    while size > MIN_TITLE_PT and fonts.width(title, size, bold=True) > frame.title.width:
        size -= 1
    return Page(kind, fonts.fit(title, frame.title.width, size, bold=True), title_size=size,
                subtitle=fonts.fit(parts.pop("subtitle", ""), frame.subtitle.width,
                                   SUBTITLE_PT),
                note=fonts.fit(parts.pop("note", ""), frame.body.width, note_size(kind)),
                **parts)


def _fitted(columns: Sequence[Column], rows: Sequence[Sequence[str]], width: float,
            size: float, **sizes: float) -> Table:
    table = Table(tuple(columns), (), size=size, **sizes)
    widths = table.widths(width)
    header = tuple(Column(fonts.fit(c.header, w - 2 * CELL_PAD, size, bold=True), c.align,
                          c.share) for c, w in zip(columns, widths, strict=True))
    body = tuple(tuple(fonts.fit(str(text), w - 2 * CELL_PAD, size)
                       for text, w in zip(row, widths, strict=True))
                 for row in rows)
    return Table(header, body, size=size, **sizes)


def rows_per_page(frame: Frame, *, top: float = 0, row_height: float = 26,
                  header_height: float = 30, note: bool = True) -> int:
    """How many rows fit under the header in the body (a line left for a note)."""
    room = frame.body.height - top - header_height - (NOTE_HEIGHT if note else 0)
    return max(int(room // row_height), 1)


def cover(content: PackContent) -> Page:
    k = content.kpis
    covers = ("All deals" if k.scope.sees == "all"
              else f"Deals of {k.scope.user}'s partners or assigned to them")
    return Page("cover", content.title, subtitle=f"{k.period.title} ({k.period.span})", lines=(
        ("Period", f"{k.period.title} ({k.period.span})"),
        ("Filters", " · ".join(content.filters) if content.filters else "None"),
        ("Covers", covers),
        ("As of", day(k.as_of)),
        ("Prepared by", content.prepared_by or display.NONE),
    ))


def kpi_rows(kpis: Kpis, previous: Kpis) -> list[tuple[str, str, str, str]]:
    """The KPI cards' figures in the number language, each beside the previous period's."""
    now = "current state"
    return [
        ("Pipeline", money(kpis.pipeline_total), now, display.NONE),
        ("Weighted pipeline", money(kpis.pipeline_weighted), now, display.NONE),
        ("Open deals", count(kpis.open_count), now, display.NONE),
        ("Won this period", money(kpis.won_revenue), money(previous.won_revenue),
         _change(kpis.won_revenue, previous.won_revenue, money)),
        ("Deals won", count(kpis.won_count), count(previous.won_count),
         _change(kpis.won_count, previous.won_count, count)),
        ("Win rate", percent(kpis.win_rate), percent(previous.win_rate),
         _change(kpis.win_rate, previous.win_rate, display.points)),
        ("Average won deal", money(kpis.avg_won_deal), money(previous.avg_won_deal),
         _change(kpis.avg_won_deal, previous.avg_won_deal, money)),
        ("Cycle days", display.days(kpis.avg_cycle_days), display.days(previous.avg_cycle_days),
         _change(kpis.avg_cycle_days, previous.avg_cycle_days, display.days)),
        ("Goal attainment", percent(kpis.goal_attainment), percent(previous.goal_attainment),
         _change(kpis.goal_attainment, previous.goal_attainment, display.points)),
        ("Revenue target", money(kpis.revenue_target), money(previous.revenue_target),
         _change(kpis.revenue_target, previous.revenue_target, money)),
        ("Coverage", display.times(kpis.coverage), display.times(previous.coverage),
         _change(kpis.coverage, previous.coverage, display.times)),
        ("Commission earned", money(kpis.commission_earned), money(previous.commission_earned),
         _change(kpis.commission_earned, previous.commission_earned, money)),
    ]


def kpi_page(content: PackContent, frame: Frame) -> Page:
    k, before = content.kpis, content.previous
    columns = (Column("KPI", share=2.4), Column(k.period.title, "right", 1.6),
               Column(before.period.title, "right", 1.6), Column("Change", "right", 1.6))
    rows = kpi_rows(k, before)
    row_height = min(30, (frame.body.height - 32) / len(rows))
    table = _fitted(columns, rows, frame.body.width, KPI_TABLE_PT, row_height=row_height,
                    header_height=32)
    return titled("table", "Key figures", frame, subtitle=content.context, table=table)


def chart_page(chart: PackChart, image: bytes, frame: Frame) -> Page:
    return titled("chart", chart.slide_title, frame, subtitle=chart.context, image=image,
                  alt=f"{chart.slide_title}. {chart.context}".strip(". "))


SLIPPED_COLUMNS = (Column("Customer", share=2.2), Column("Partner", share=1.8),
                   Column("Stage", share=1), Column("Value", "right", 1.1),
                   Column("Expected close", "right", 1.4), Column("Days late", "right", 1),
                   Column("Owner", share=1.6))


def slipped_page(content: PackContent, frame: Frame) -> Page:
    """The largest slipped deals on one page; the rest summed in a line under them."""
    k = content.kpis
    fit = rows_per_page(frame)
    shown = content.slipped[:fit]
    rows = [(d.customer_name, d.partner_name, charts.STAGE_LABELS.get(d.stage, d.stage),
             money(d.deal_value), day(d.expected_close_date), count(d.days_late),
             d.owner_name or "Unassigned") for d in shown]
    rest = k.slipped_count - len(shown)
    rest_value = k.slipped_value - sum((d.deal_value for d in shown), Decimal(0))
    if not shown:
        note = f"No open deal was expected to close before {day(k.as_of)}."
    elif rest > 0:
        note = (f"…and {count(rest)} more slipped deal{'s' if rest != 1 else ''} worth "
                f"{money(rest_value)}. Largest first; {count(k.slipped_count)} in all, "
                f"{money(k.slipped_value)}.")
    else:
        note = f"{count(k.slipped_count)} slipped in all, {money(k.slipped_value)}."
    return titled("table", "Slipped deals", frame, subtitle=content.context, note=note,
                  table=_fitted(SLIPPED_COLUMNS, rows, frame.body.width, TABLE_PT))


TEAM_COLUMNS = (Column("Person", share=2.2), Column("Pipeline", "right", 1.2),
                Column("Open deals", "right", 1.1), Column("Won", "right", 1.2),
                Column("Won deals", "right", 1.1), Column("Target", "right", 1.2),
                Column("Attainment", "right", 1.2))


def team_pages(content: PackContent, frame: Frame) -> list[Page]:
    """Everyone's row, continued on further pages when they do not fit on one."""
    rows = [(p.name, money(p.pipeline), count(p.open_count), money(p.won),
             count(p.won_count), money(p.target), percent(p.attainment))
            for p in content.team]
    fit = rows_per_page(frame)
    chunks = [rows[k:k + fit] for k in range(0, len(rows), fit)] or [[]]
    pages = []
    for n, chunk in enumerate(chunks, start=1):
        title = "Team performance" + (f" ({n} of {len(chunks)})" if len(chunks) > 1 else "")
        note = (f"Open pipeline now; won and target in {content.kpis.period.title}. "
                "Attainment: won on deals assigned to the person ÷ their target.")
        if not rows:
            note = "No one has deals or goals in this scope."
        pages.append(titled("table", title, frame, subtitle=content.context, note=note,
                            table=_fitted(TEAM_COLUMNS, chunk, frame.body.width, TABLE_PT)))
    return pages


CLOSER_COLUMNS = (Column("Customer", share=2), Column("Partner", share=1.6),
                  Column("Stage", share=0.9), Column("Probability", "right", 1.1),
                  Column("Value", "right", 1), Column("Expected close", "right", 1.9),
                  Column("Running total", "right", 1.3))
TILES_HEIGHT = 78


def gap_summary(kpis: Kpis) -> str:
    """Target, won, gap and coverage in one line (the dashboard's caption)."""
    return (f"Target {money(kpis.revenue_target)} · won {money(kpis.goal_won)} · gap "
            f"{money(gap_to_goal(kpis))} · coverage {display.times(kpis.coverage)}")


def gap_note(kpis: Kpis, deals: Sequence[ClosingDeal]) -> str:
    """What the gap-closer list says, in words: the same sentence on screen and on the slide."""
    k, gap = kpis, gap_to_goal(kpis)
    if not k.revenue_target:
        return f"No revenue target is set for {k.period.title} in this scope."
    if gap <= 0:
        return f"Target reached: {money(k.goal_won - k.revenue_target)} above it."
    if k.period.end < k.as_of:
        return f"{k.period.title} is over: it closed {money(gap)} short of the target."
    if not deals:
        return f"No open deal is expected to close by {day(k.period.end)}."
    if deals[-1].cumulative_value >= gap:
        covers = ("this one covers it" if len(deals) == 1
                  else f"together these {count(len(deals))} cover it")
        return (f"The open deals most likely to close the {money(gap)} gap, likeliest first: "
                f"{covers}.")
    return (f"Even all {count(len(deals))} of these together leave "
            f"{money(gap - deals[-1].cumulative_value)} of the gap open.")


def gap_page(content: PackContent, frame: Frame) -> Page:
    """Target, won, gap and coverage, then the open deals most likely to close the gap."""
    k = content.kpis
    gap = gap_to_goal(k)
    tiles = (Tile("Revenue target", money(k.revenue_target)), Tile("Won", money(k.goal_won)),
             Tile("Gap to goal", money(gap)), Tile("Coverage", display.times(k.coverage)))
    top = TILES_HEIGHT + NOTE_HEIGHT + 14  # the note leads into the table
    fit = rows_per_page(frame, top=top, row_height=24, header_height=28, note=False)
    deals = content.closers[:fit]
    rows = [(d.customer_name, d.partner_name, charts.STAGE_LABELS.get(d.stage, d.stage),
             probability(d.probability), money(d.deal_value),
             day(d.expected_close_date) + (" (slipped)" if d.slipped else ""),
             money(d.cumulative_value)) for d in deals]
    note = gap_note(k, deals)
    table = (_fitted(CLOSER_COLUMNS, rows, frame.body.width, TABLE_PT, row_height=24,
                     header_height=28) if rows else None)
    return titled("gap", "Gap to goal", frame, subtitle=content.context, tiles=tiles,
                  table=table, note=note, table_top=top)


def pages_of(content: PackContent, frame: Frame, images: Sequence[bytes]) -> list[Page]:
    """Cover, key figures, one page per chart, slipped deals, team, gap to goal."""
    return [cover(content), kpi_page(content, frame),
            *(chart_page(c, image, frame) for c, image in zip(content.charts, images, strict=True)),
            slipped_page(content, frame), *team_pages(content, frame),
            gap_page(content, frame)]
