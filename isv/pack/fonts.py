"""The typeface of the PDF pages, and text fitted to a width with its real metrics.

The pages are set in Liberation Sans (metric-compatible with Arial, Debian's
fonts-liberation, installed with Chromium): the same face kaleido's Chromium draws the
charts with. Text is measured with FreeType through Pillow, so a cell's text is shortened
with "…" before it could overflow, identically on the slide and in the PDF (PowerPoint's
Calibri is narrower than Arial, so what fits here fits there).
"""

from __future__ import annotations

import shutil
import subprocess
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

FAMILY = "Liberation Sans"
_FILES = {False: "LiberationSans-Regular.ttf", True: "LiberationSans-Bold.ttf"}
_DIRS = ("/usr/share/fonts/truetype/liberation", "/usr/share/fonts/truetype/liberation2",
         "/usr/share/fonts/liberation", "/usr/local/share/fonts")
NO_FONT = ("The PDF pack needs the Liberation Sans fonts, which are not installed on this "
           "server (apt-get install fonts-liberation).")
ELLIPSIS = "…"


class FontMissing(RuntimeError):
    """No Liberation Sans: the message says how to install it."""


@lru_cache(maxsize=2)
def font_file(bold: bool = False) -> Path:
    """The TTF file of the regular or bold face."""
    for folder in _DIRS:
        candidate = Path(folder) / _FILES[bold]
        if candidate.is_file():
            return candidate
    if shutil.which("fc-match"):
        found = subprocess.run(
            ["fc-match", "-f", "%{file}", f"{FAMILY}:{'bold' if bold else 'regular'}"],
            capture_output=True, text=True, timeout=10).stdout.strip()
        if found.endswith(_FILES[bold]):
            return Path(found)
    raise FontMissing(NO_FONT)


@lru_cache(maxsize=32)
def _face(size_pt: float, bold: bool) -> ImageFont.FreeTypeFont:
    # Measured at 10× the size in pixels: sub-point precision from integer hinting.
    return ImageFont.truetype(str(font_file(bold)), size=round(size_pt * 10))


def width(text: str, size_pt: float, *, bold: bool = False) -> float:
    """The text's advance width in points at size_pt."""
    return _face(size_pt, bold).getlength(text) / 10


def fit(text: str, max_pt: float, size_pt: float, *, bold: bool = False) -> str:
    """The text, shortened with '…' if it is wider than max_pt points."""
    if width(text, size_pt, bold=bold) <= max_pt:
        return text
    low, high = 0, len(text)
    while low < high:  # the longest prefix that fits with the ellipsis
        middle = (low + high + 1) // 2
        if width(text[:middle].rstrip() + ELLIPSIS, size_pt, bold=bold) <= max_pt:
            low = middle
        else:
            high = middle - 1
    return text[:low].rstrip() + ELLIPSIS
