"""Charts as images, rendered by kaleido (the exec review pack, isv.pack, renders through here).

Kaleido 1.x drives a headless Chromium, the system's (/usr/bin/chromium on Debian). Starting
it takes seconds, so one server is started on the first export and kept warm for the life of
the process; it is not thread-safe, and Streamlit runs deferred downloads on threads of their
own, so every call goes through one lock. Where no Chromium exists, `unavailable()` says why
and the app shows that on the export buttons instead of failing.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import threading

import plotly.graph_objects as go

from isv import charts

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FORMATS = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}
PPTX_MIME = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
NO_CHROMIUM = ("Chart images and the exec review pack need Chromium, which is not installed "
               "on this server: install it with `sudo apt-get install chromium` (Debian, "
               "Ubuntu), or set BROWSER_PATH to a Chromium or Chrome.")

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
           height: int = charts.EXPORT_HEIGHT, scale: float = 1) -> bytes:
    """The figure as PNG, SVG or PDF bytes at width×height (× scale pixels for a PNG),
    through the one warm server."""
    import kaleido  # imported on first export: pages that never export don't pay for it

    global _server_path
    if fmt not in FORMATS:
        raise ValueError(f"unknown image format {fmt!r}")
    path = chromium()
    if path is None:
        raise ExportUnavailable(NO_CHROMIUM)
    opts = dict(format=fmt, width=width, height=height, scale=scale)
    with _lock:
        for attempt in (1, 2):
            if _server_path != path:
                if _server_path is not None:
                    kaleido.stop_sync_server(silence_warnings=True)
                kaleido.start_sync_server(mathjax=False, path=path, silence_warnings=True)
                _server_path = path
            try:
                return kaleido.calc_fig_sync(fig, opts=opts)
            except Exception:
                # A crashed or garbled browser leaves the server unusable: start afresh
                # and try once more (a loaded machine sometimes drops a reply).
                kaleido.stop_sync_server(silence_warnings=True)
                _server_path = None
                if attempt == 2:
                    raise


def chart_image(fig: go.Figure, fmt: str) -> bytes:
    """A screen figure as a slide-sized (1600×900) image, fonts scaled, title and context kept."""
    return render(charts.for_export(fig), fmt)


def file_name(title: str, suffix: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "chart"
    return f"{slug}.{suffix}"
