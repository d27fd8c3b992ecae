"""Slide masters: checking an uploaded .pptx, and the deck a pack is built on.

A company's template is a .pptx whose slide master and layouts carry its look (background,
logo, fonts, colours). The pack uses its title-slide layout for the cover and its
"Title Only" layout (or the layout closest to it) for every other slide, filling the title
placeholder and placing tables and charts under it; slides already in the file are dropped.
Without a template the pack is built on python-pptx's default, widened to 16:9.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass

from pptx import Presentation
from pptx.enum.shapes import PP_PLACEHOLDER
from pptx.util import Emu, Inches

from isv.errors import ValidationError

from .pages import Box, Frame

FIELD = "slide_master"
MAX_BYTES = 10 * 1024 * 1024
MAX_UNPACKED = 80 * 1024 * 1024   # a zip that unpacks to more is refused (zip bomb)
EMU_PER_PT = 12700
_TITLES = {PP_PLACEHOLDER.TITLE, PP_PLACEHOLDER.CENTER_TITLE}
_FOOTERS = {PP_PLACEHOLDER.FOOTER, PP_PLACEHOLDER.SLIDE_NUMBER, PP_PLACEHOLDER.DATE}


@dataclass(frozen=True)
class Template:
    """A checked template: the layouts the pack will use, by name."""

    cover_layout: str
    content_layout: str
    width_in: float
    height_in: float


def _title_of(layout):
    return next((p for p in layout.placeholders if p.placeholder_format.type in _TITLES), None)


def _content_layout(prs):
    """The layout with a title and the fewest other placeholders ("Title Only" in Office)."""
    usable = [(layout, _title_of(layout)) for layout in prs.slide_layouts]
    usable = [(layout, title) for layout, title in usable
              if title is not None and title.width and title.height]
    if not usable:
        return None

    def others(layout) -> int:
        return sum(1 for p in layout.placeholders
                   if p.placeholder_format.type not in _TITLES | _FOOTERS)

    named = [layout for layout, _ in usable if layout.name.strip().lower() == "title only"]
    return named[0] if named else min((layout for layout, _ in usable), key=others)


def _cover_layout(prs, content):
    """A layout with a centred title (Office's "Title Slide"), else the content layout."""
    for layout in prs.slide_layouts:
        title = _title_of(layout)
        if title is not None and title.placeholder_format.type == PP_PLACEHOLDER.CENTER_TITLE:
            return layout
    return content


def check(data: bytes) -> Template:
    """Check an uploaded template; ValidationError(slide_master, reason) if it is unusable."""
    if not data:
        raise ValidationError(FIELD, "the file is empty")
    if len(data) > MAX_BYTES:
        raise ValidationError(FIELD, f"is {len(data) / 2**20:.1f} MB; the limit is "
                                     f"{MAX_BYTES // 2**20} MB")
    not_pptx = "is not a PowerPoint presentation (.pptx)"
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
            names = set(archive.namelist())
    except (zipfile.BadZipFile, ValueError):
        raise ValidationError(FIELD, not_pptx) from None
    if "ppt/presentation.xml" not in names:
        raise ValidationError(FIELD, not_pptx)
    if unpacked > MAX_UNPACKED:
        raise ValidationError(FIELD, f"unpacks to {unpacked / 2**20:.0f} MB; the limit is "
                                     f"{MAX_UNPACKED // 2**20} MB")
    try:
        prs = Presentation(io.BytesIO(data))
    except Exception:  # python-pptx raises many kinds on a damaged or foreign file
        raise ValidationError(FIELD, not_pptx + " or it is damaged") from None
    content = _content_layout(prs)
    if content is None:
        raise ValidationError(FIELD, "has no slide layout with a title placeholder, so the "
                                     "pack could not title its slides")
    cover = _cover_layout(prs, content)
    return Template(cover_layout=cover.name, content_layout=content.name,
                    width_in=Emu(prs.slide_width).inches, height_in=Emu(prs.slide_height).inches)


@dataclass
class Deck:
    """The presentation a pack is drawn into, its two layouts and the page geometry."""

    prs: object
    cover_layout: object
    content_layout: object
    frame: Frame
    templated: bool


def _pt(emu: int) -> float:
    return emu / EMU_PER_PT


def _drop_slides(prs) -> None:
    """Remove the template's own slides (their parts are not saved once unreferenced)."""
    slide_ids = prs.slides._sldIdLst
    for slide_id in list(slide_ids):
        prs.part.drop_rel(slide_id.rId)
        slide_ids.remove(slide_id)


def open_deck(template: bytes | None) -> Deck:
    """The deck to build on: the template (checked again) or the clean 16:9 default."""
    if template is None:
        prs = Presentation()
        prs.slide_width, prs.slide_height = Inches(13.333), Inches(7.5)
        frame = Frame.default(_pt(prs.slide_width), _pt(prs.slide_height))
        return Deck(prs, prs.slide_layouts[0], prs.slide_layouts[5], frame, templated=False)
    check(template)
    prs = Presentation(io.BytesIO(template))
    _drop_slides(prs)
    content = _content_layout(prs)
    cover = _cover_layout(prs, content)
    width, height = _pt(prs.slide_width), _pt(prs.slide_height)
    title = _title_of(content)
    box = Box(_pt(title.left), _pt(title.top), _pt(title.width), _pt(title.height))
    footers = [_pt(p.top) for p in content.placeholders
               if p.placeholder_format.type in _FOOTERS and p.top is not None
               and _pt(p.top) > box.bottom]
    bottom = min(footers, default=height - 28)
    frame = Frame.default(width, height).under_title(box, bottom)
    return Deck(prs, cover, content, frame, templated=True)
