"""What an uploaded slide master must be for the exec pack to use it, and which layouts it uses.

A company's template is a .pptx whose slide master and layouts carry its look (background,
logo, fonts, colours). The pack uses its title-slide layout for the cover and its
"Title Only" layout (or the layout closest to it) for every other slide. The Settings
service checks an upload with `check` before saving it, and the pack (isv.pack.master)
picks the same layouts when it builds a deck, so both live here, below either of them.
python-pptx is loaded with this module: import it only where a template is read.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import Any

from pptx import Presentation
from pptx.enum.shapes import PP_PLACEHOLDER
from pptx.util import Emu

from isv.errors import ValidationError

FIELD = "slide_master"
MAX_BYTES = 10 * 1024 * 1024
MAX_UNPACKED = 80 * 1024 * 1024   # a zip that unpacks to more is refused (zip bomb)
TITLES = {PP_PLACEHOLDER.TITLE, PP_PLACEHOLDER.CENTER_TITLE}
FOOTERS = {PP_PLACEHOLDER.FOOTER, PP_PLACEHOLDER.SLIDE_NUMBER, PP_PLACEHOLDER.DATE}


@dataclass(frozen=True)
class Template:
    """A checked template: the layouts the pack will use, by name."""

    cover_layout: str
    content_layout: str
    width_in: float
    height_in: float


def title_of(layout: Any) -> Any:
    """The layout's title placeholder, or None."""
    return next((p for p in layout.placeholders if p.placeholder_format.type in TITLES), None)


def content_layout(prs: Any) -> Any:
    """The layout with a title and the fewest other placeholders ("Title Only" in Office)."""
    usable = [(layout, title_of(layout)) for layout in prs.slide_layouts]
    usable = [(layout, title) for layout, title in usable
              if title is not None and title.width and title.height]
    if not usable:
        return None

    def others(layout) -> int:
        return sum(1 for p in layout.placeholders
                   if p.placeholder_format.type not in TITLES | FOOTERS)

    named = [layout for layout, _ in usable if layout.name.strip().lower() == "title only"]
    return named[0] if named else min((layout for layout, _ in usable), key=others)


def cover_layout(prs: Any, content: Any) -> Any:
    """A layout with a centred title (Office's "Title Slide"), else the content layout."""
    for layout in prs.slide_layouts:
        title = title_of(layout)
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
    content = content_layout(prs)
    if content is None:
        raise ValidationError(FIELD, "has no slide layout with a title placeholder, so the "
                                     "pack could not title its slides")
    cover = cover_layout(prs, content)
    return Template(cover_layout=cover.name, content_layout=content.name,
                    width_in=Emu(prs.slide_width).inches, height_in=Emu(prs.slide_height).inches)
