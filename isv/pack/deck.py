"""The pack's pages as PowerPoint slides: real titles, native tables, charts as pictures.

Every slide is titled through its layout's title placeholder (so PowerPoint's outline,
screen readers and the master's title style work); tables are native tables a presenter can
edit; figures come from isv.pack.pages, already fitted, so nothing here decides content.
"""

from __future__ import annotations

import io

from pptx.dml.color import RGBColor
from pptx.enum.shapes import PP_PLACEHOLDER
from pptx.enum.text import MSO_ANCHOR, PP_ALIGN
from pptx.util import Pt

from isv import charts

from .master import EMU_PER_PT, Deck
from .pages import (
    CELL_PAD,
    COVER_LINE_PT,
    COVER_TITLE_PT,
    FOOTER_PT,
    NOTE_HEIGHT,
    SUBTITLE_PT,
    TILES_HEIGHT,
    Box,
    Page,
    Table,
    note_size,
)

TEXT = RGBColor.from_string(charts.TEXT.lstrip("#"))
GREY = RGBColor.from_string(charts.GREY.lstrip("#"))
HEADER_FILL = RGBColor.from_string("1F3B57")
HEADER_TEXT = RGBColor.from_string("FFFFFF")
BAND_FILL = RGBColor.from_string("F2F4F7")
WHITE = RGBColor.from_string("FFFFFF")
RULE = RGBColor.from_string(charts.OKABE_ITO["blue"].lstrip("#"))
# Text is set in Arial, the face it was fitted with (Liberation Sans has its metrics), so no
# cell or line wraps or overflows, whatever the master's theme font. A master's titles keep
# its face (at the fitted size).
FONT = "Arial"


def emu(points: float) -> int:
    return round(points * EMU_PER_PT)


def _text_box(slide, box: Box, text: str, *, size: float, color=TEXT, bold: bool = False,
              align=PP_ALIGN.LEFT, anchor=MSO_ANCHOR.TOP):
    shape = slide.shapes.add_textbox(emu(box.left), emu(box.top), emu(box.width),
                                     emu(box.height))
    frame = shape.text_frame
    frame.word_wrap = True
    frame.vertical_anchor = anchor
    frame.margin_left = frame.margin_right = frame.margin_top = frame.margin_bottom = 0
    paragraph = frame.paragraphs[0]
    paragraph.alignment = align
    run = paragraph.add_run()
    run.text = text
    run.font.size = Pt(size)
    run.font.bold = bold
    run.font.color.rgb = color
    run.font.name = FONT
    return shape


def _set_title(slide, text: str, deck: Deck, box: Box, size: float) -> None:
    title = slide.shapes.title
    title.text = text
    if deck.templated:
        # The master's face, colour and place; the size the title was fitted to one line at
        # (a master's 44 pt would wrap a chart's title into the context line under it).
        title.text_frame.paragraphs[0].font.size = Pt(size)
        return
    title.left, title.top, title.width, title.height = (emu(box.left), emu(box.top),
                                                        emu(box.width), emu(box.height))
    frame = title.text_frame
    frame.margin_left = frame.margin_right = 0
    frame.vertical_anchor = MSO_ANCHOR.BOTTOM
    paragraph = frame.paragraphs[0]
    paragraph.alignment = PP_ALIGN.LEFT
    paragraph.font.size = Pt(size)
    paragraph.font.bold = True
    paragraph.font.color.rgb = TEXT
    paragraph.font.name = FONT


def _drop_empty_placeholders(slide) -> None:
    """Placeholders the pack does not fill would show 'Click to add text' in PowerPoint."""
    for placeholder in list(slide.placeholders):
        kind = placeholder.placeholder_format.type
        if kind in (PP_PLACEHOLDER.TITLE, PP_PLACEHOLDER.CENTER_TITLE):
            continue
        if not (placeholder.has_text_frame and placeholder.text_frame.text.strip()):
            placeholder._element.getparent().remove(placeholder._element)


def _table(slide, table: Table, box: Box) -> None:
    widths = table.widths(box.width)
    shape = slide.shapes.add_table(len(table.rows) + 1, len(table.columns), emu(box.left),
                                   emu(box.top), emu(box.width), emu(table.height))
    grid = shape.table
    grid.first_row = True
    grid.horz_banding = False
    for k, width in enumerate(widths):
        grid.columns[k].width = emu(width)
    grid.rows[0].height = emu(table.header_height)
    for r in range(1, len(table.rows) + 1):
        grid.rows[r].height = emu(table.row_height)
    lines = [tuple(c.header for c in table.columns), *table.rows]
    for r, values in enumerate(lines):
        for c, value in enumerate(values):
            cell = grid.cell(r, c)
            cell.margin_left = cell.margin_right = emu(CELL_PAD)
            cell.margin_top = cell.margin_bottom = 0
            cell.vertical_anchor = MSO_ANCHOR.MIDDLE
            cell.fill.solid()
            cell.fill.fore_color.rgb = (HEADER_FILL if r == 0
                                        else BAND_FILL if r % 2 == 0 else WHITE)
            cell.text = value
            paragraph = cell.text_frame.paragraphs[0]
            paragraph.alignment = (PP_ALIGN.RIGHT if table.columns[c].align == "right"
                                   else PP_ALIGN.LEFT)
            paragraph.font.size = Pt(table.size)
            paragraph.font.bold = r == 0
            paragraph.font.color.rgb = HEADER_TEXT if r == 0 else TEXT
            paragraph.font.name = FONT


def _footer(slide, deck: Deck, text: str) -> None:
    if deck.frame.footer is not None:
        _text_box(slide, deck.frame.footer, text, size=FOOTER_PT, color=GREY)


def _cover(deck: Deck, page: Page) -> None:
    slide = deck.prs.slides.add_slide(deck.cover_layout)
    frame = deck.frame
    left, width = frame.body.left, frame.body.width
    title_box = Box(left, frame.height * 0.22, width, 70)
    _set_title(slide, page.title, deck, title_box, COVER_TITLE_PT)
    title = slide.shapes.title
    top = (title.top + title.height) / EMU_PER_PT + 24
    if not deck.templated:
        rule = slide.shapes.add_shape(1, emu(left), emu(top - 12), emu(120), emu(4))
        rule.fill.solid()
        rule.fill.fore_color.rgb = RULE
        rule.line.fill.background()
    for label, value in page.lines:
        _text_box(slide, Box(left, top, 170, 28), label, size=COVER_LINE_PT, color=GREY)
        _text_box(slide, Box(left + 180, top, width - 180, 28), value, size=COVER_LINE_PT)
        top += 34
    _drop_empty_placeholders(slide)


def _content(deck: Deck, page: Page, number: int, total: int, footer: str) -> None:
    slide = deck.prs.slides.add_slide(deck.content_layout)
    frame = deck.frame
    _set_title(slide, page.title, deck, frame.title, page.title_size)
    if page.subtitle:
        _text_box(slide, frame.subtitle, page.subtitle, size=SUBTITLE_PT, color=GREY)
    body = frame.body
    if page.kind == "chart" and page.image:
        picture = slide.shapes.add_picture(io.BytesIO(page.image), emu(body.left),
                                           emu(body.top), emu(body.width), emu(body.height))
        picture._element.nvPicPr.cNvPr.set("descr", page.alt)
    if page.tiles:
        width = body.width / len(page.tiles)
        for k, tile in enumerate(page.tiles):
            left = body.left + k * width
            _text_box(slide, Box(left, body.top, width - 12, 22), tile.label, size=14, color=GREY)
            _text_box(slide, Box(left, body.top + 24, width - 12, 46), tile.value, size=30,
                      bold=True)
    if page.kind == "gap" and page.note:
        _text_box(slide, Box(body.left, body.top + TILES_HEIGHT + 6, body.width, NOTE_HEIGHT),
                  page.note, size=note_size(page.kind))
    if page.table is not None:
        top = body.top + page.table_top
        _table(slide, page.table, Box(body.left, top, body.width, page.table.height))
        if page.note and page.kind != "gap":
            note = Box(body.left, top + page.table.height + 6, body.width, NOTE_HEIGHT)
            _text_box(slide, note, page.note, size=note_size(page.kind), color=GREY)
    elif page.note and page.kind != "gap":
        _text_box(slide, Box(body.left, body.top, body.width, NOTE_HEIGHT), page.note, size=16)
    _footer(slide, deck, f"{footer} · {number} / {total}")
    _drop_empty_placeholders(slide)


def build(deck: Deck, pages: list[Page], *, footer: str) -> bytes:
    """The pages as a .pptx file."""
    for number, page in enumerate(pages, start=1):
        if page.kind == "cover":
            _cover(deck, page)
        else:
            _content(deck, page, number, len(pages), footer)
    out = io.BytesIO()
    deck.prs.save(out)
    return out.getvalue()
