"""The pack's pages as a PDF: the slides' layout, text as text, charts as compact images.

fpdf2 writes the pages: tables and titles are real (selectable, searchable) text in
Liberation Sans, embedded as a subset; each chart is the same PNG the slide holds, reduced
to a 256-colour palette (a chart has a few dozen colours; text edges stay smooth), which
fpdf2 embeds without re-encoding. A page holds what the slide holds, in the same place.
"""

from __future__ import annotations

import io
import logging

from fpdf import FPDF

from isv import charts

from . import fonts
from .pages import (
    CELL_PAD,
    COVER_LINE_PT,
    COVER_TITLE_PT,
    FOOTER_PT,
    NOTE_HEIGHT,
    SUBTITLE_PT,
    TILES_HEIGHT,
    Box,
    Frame,
    Page,
    Table,
    note_size,
)

FAMILY = "pack"
logging.getLogger("fontTools").setLevel(logging.WARNING)  # a line per table it subsets


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    value = hex_colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


TEXT = _rgb(charts.TEXT)
GREY = _rgb(charts.GREY)
HEADER_FILL = _rgb("#1F3B57")
HEADER_TEXT = _rgb("#FFFFFF")
BAND_FILL = _rgb("#F2F4F7")
RULE = _rgb(charts.OKABE_ITO["blue"])


class _Writer:
    def __init__(self, frame: Frame, *, title: str, author: str) -> None:
        pdf = FPDF(orientation="L" if frame.width >= frame.height else "P", unit="pt",
                   format=(min(frame.width, frame.height), max(frame.width, frame.height)))
        pdf.set_auto_page_break(False)
        pdf.set_margins(0, 0, 0)
        pdf.add_font(FAMILY, "", str(fonts.font_file(False)))
        pdf.add_font(FAMILY, "B", str(fonts.font_file(True)))
        pdf.set_title(title)
        pdf.set_author(author)
        pdf.set_creator("ISV Pipeline Tracker")
        pdf.set_lang("en")
        self.pdf, self.frame = pdf, frame

    def text(self, box: Box, text: str, *, size: float, colour=TEXT, bold: bool = False,
             align: str = "L", valign: str = "top") -> None:
        pdf = self.pdf
        pdf.set_font(FAMILY, "B" if bold else "", size)
        pdf.set_text_color(*colour)
        fitted = fonts.fit(text, box.width, size, bold=bold)
        line = size * 1.25
        pdf.set_xy(box.left, box.top if valign == "top" else box.bottom - line)
        pdf.cell(box.width, line, fitted, align=align)

    def table(self, table: Table, box: Box) -> None:
        pdf = self.pdf
        widths = table.widths(box.width)
        lines = [tuple(c.header for c in table.columns), *table.rows]
        top = box.top
        for r, values in enumerate(lines):
            height = table.header_height if r == 0 else table.row_height
            fill = HEADER_FILL if r == 0 else BAND_FILL if r % 2 == 0 else None
            if fill is not None:
                pdf.set_fill_color(*fill)
                pdf.rect(box.left, top, box.width, height, style="F")
            pdf.set_font(FAMILY, "B" if r == 0 else "", table.size)
            pdf.set_text_color(*(HEADER_TEXT if r == 0 else TEXT))
            left = box.left
            for value, width, column in zip(values, widths, table.columns, strict=True):
                pdf.set_xy(left + CELL_PAD, top)
                pdf.cell(width - 2 * CELL_PAD, height, value,
                         align="R" if column.align == "right" else "L")
                left += width
            top += height
        pdf.set_draw_color(*HEADER_FILL)
        pdf.set_line_width(0.75)
        pdf.line(box.left, top, box.left + box.width, top)

    def footer(self, text: str) -> None:
        # A master's slides may carry their own footer; the PDF draws no master, so it
        # always numbers its pages, under the body.
        frame = self.frame
        box = frame.footer or Box(frame.body.left, frame.height - 28, frame.body.width, 16)
        self.text(box, text, size=FOOTER_PT, colour=GREY)


def _cover(w: _Writer, page: Page) -> None:
    frame = w.frame
    left, width = frame.body.left, frame.body.width
    title = Box(left, frame.height * 0.22, width, 70)
    w.text(title, page.title, size=COVER_TITLE_PT, bold=True, valign="bottom")
    top = title.bottom + 24
    w.pdf.set_fill_color(*RULE)
    w.pdf.rect(left, top - 12, 120, 4, style="F")
    for label, value in page.lines:
        w.text(Box(left, top, 170, 28), label, size=COVER_LINE_PT, colour=GREY)
        w.text(Box(left + 180, top, width - 180, 28), value, size=COVER_LINE_PT)
        top += 34


def _content(w: _Writer, page: Page, footer: str) -> None:
    frame = w.frame
    w.text(frame.title, page.title, size=page.title_size, bold=True, valign="bottom")
    if page.subtitle:
        w.text(frame.subtitle, page.subtitle, size=SUBTITLE_PT, colour=GREY)
    body = frame.body
    if page.kind == "chart" and page.image:
        w.pdf.image(io.BytesIO(page.image), x=body.left, y=body.top, w=body.width,
                    h=body.height, alt_text=page.alt)
    if page.tiles:
        width = body.width / len(page.tiles)
        for k, tile in enumerate(page.tiles):
            left = body.left + k * width
            w.text(Box(left, body.top, width - 12, 22), tile.label, size=14, colour=GREY)
            w.text(Box(left, body.top + 24, width - 12, 46), tile.value, size=30, bold=True)
    if page.kind == "gap" and page.note:
        w.text(Box(body.left, body.top + TILES_HEIGHT + 6, body.width, NOTE_HEIGHT),
               page.note, size=note_size(page.kind))
    if page.table is not None:
        top = body.top + page.table_top
        w.table(page.table, Box(body.left, top, body.width, page.table.height))
        if page.note and page.kind != "gap":
            w.text(Box(body.left, top + page.table.height + 6, body.width, NOTE_HEIGHT),
                   page.note, size=note_size(page.kind), colour=GREY)
    elif page.note and page.kind != "gap":
        w.text(Box(body.left, body.top, body.width, NOTE_HEIGHT), page.note, size=16)
    w.footer(footer)


def build(frame: Frame, pages: list[Page], *, title: str, author: str, footer: str) -> bytes:
    """The pages as a PDF, one page per slide, the slide's size."""
    w = _Writer(frame, title=title, author=author)
    for number, page in enumerate(pages, start=1):
        w.pdf.add_page()
        if page.kind == "cover":
            _cover(w, page)
        else:
            _content(w, page, f"{footer} · {number} / {len(pages)}")
    return bytes(w.pdf.output())
