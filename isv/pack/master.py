"""The deck a pack is built on: the uploaded slide master, or python-pptx's default at 16:9.

Which layouts a template offers, and whether it is usable at all, is isv.rules.slides' (the
Settings service checks an upload with the same rule); slides already in the file are
dropped, and the title placeholder of the content layout frames every slide's body.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from pptx import Presentation
from pptx.util import Inches

from isv.rules.slides import FOOTERS, check, content_layout, cover_layout, title_of

from .pages import Box, Frame

EMU_PER_PT = 12700


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
    content = content_layout(prs)
    cover = cover_layout(prs, content)
    width, height = _pt(prs.slide_width), _pt(prs.slide_height)
    title = title_of(content)
    box = Box(_pt(title.left), _pt(title.top), _pt(title.width), _pt(title.height))
    footers = [_pt(p.top) for p in content.placeholders
               if p.placeholder_format.type in FOOTERS and p.top is not None
               and _pt(p.top) > box.bottom]
    bottom = min(footers, default=height - 28)
    frame = Frame.default(width, height).under_title(box, bottom)
    return Deck(prs, cover, content, frame, templated=True)
