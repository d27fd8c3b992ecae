"""The exec review pack: the dashboard as slides (PPTX) and the same pages as a PDF.

Cover, key figures, one slide per chart, slipped deals, team performance and the gap to
goal (isv.pack.pages says what each page holds). Each chart is rendered once, by the one
warm kaleido server (isv.chart_images), at the size of the slide's chart area, and that image goes
into both files. A slide master uploaded on the Settings page (isv.pack.master) gives the
slides its look; the PDF keeps the default look, as it is drawn without PowerPoint.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from isv import chart_images, charts

from .pages import Frame, PackChart, PackContent, pages_of

__all__ = ["Pack", "PackChart", "PackContent", "build_pack", "PPTX_MIME"]

PPTX_MIME = chart_images.PPTX_MIME
CHART_WIDTH = 1600   # layout pixels, as the PNG downloads (fonts sized for it)
CHART_SCALE = 1.25   # 2000 px across a 12.3 in chart area: about 160 dpi on the page


@dataclass(frozen=True)
class Pack:
    pptx: bytes
    pdf: bytes
    slides: int
    titles: tuple[str, ...]
    templated: bool    # built on an uploaded slide master


def chart_image(chart: PackChart, frame: Frame) -> bytes:
    """The chart as a palette PNG shaped like the slide's chart area, title left to the slide."""
    body = frame.body
    height = round(CHART_WIDTH * body.height / body.width)
    figure = charts.for_slide(chart.figure, width=CHART_WIDTH, height=height)
    png = chart_images.render(figure, "png", width=CHART_WIDTH, height=height,
                              scale=CHART_SCALE)
    with Image.open(io.BytesIO(png)) as image:
        # A chart has a few dozen colours: 256 keep every edge smooth at a sixth of the size.
        # Fast octree: a tenth of median cut's time here, and a smaller file.
        reduced = image.convert("RGB").quantize(256, method=Image.Quantize.FASTOCTREE,
                                                dither=Image.Dither.NONE)
        reduced.putpalette(_white_kept(reduced.getpalette()))
        out = io.BytesIO()
        reduced.save(out, "PNG")
    return out.getvalue()


def _white_kept(palette: list[int]) -> list[int]:
    """Octree averages white with its antialiased neighbours into an off-white, which shows
    as a grey box on a white slide: the palette's near-whites are white again."""
    out = list(palette)
    for k in range(0, len(out) - 2, 3):
        if min(out[k:k + 3]) >= 244:
            out[k:k + 3] = (255, 255, 255)
    return out


def build_pack(content: PackContent, *, template: bytes | None = None,
               progress: Callable[[float, str], None] = lambda done, text: None) -> Pack:
    """Build the PPTX and the PDF of the same pages; `template` is a slide master (.pptx)."""
    from . import deck, master, pdf  # python-pptx and fpdf2: only when a pack is built

    target = master.open_deck(template)
    steps = len(content.charts) + 2
    images = []
    for done, chart in enumerate(content.charts):
        progress(done / steps, chart.title)
        images.append(chart_image(chart, target.frame))
    pages = pages_of(content, target.frame, images)
    footer = f"{content.title} · {content.kpis.period.title}"
    progress((steps - 2) / steps, "the slides")
    pptx = deck.build(target, pages, footer=footer)
    progress((steps - 1) / steps, "the PDF")
    document = pdf.build(target.frame, pages, title=f"{content.title}, "
                         f"{content.kpis.period.title}", author=content.prepared_by,
                         footer=footer)
    progress(1.0, "Done")
    return Pack(pptx=pptx, pdf=document, slides=len(pages),
                titles=tuple(page.title for page in pages), templated=target.templated)
