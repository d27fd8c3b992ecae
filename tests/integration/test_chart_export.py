"""Charts leave the app as slide-sized images and as the exec review pack (PPTX and PDF).

Rendering needs Chromium (/usr/bin/chromium, as in CI): without it these tests skip, except
in CI, where they fail. One warm kaleido server serves the whole session, as in the app.
"""

from __future__ import annotations

import io
import os
from decimal import Decimal

import pandas as pd
import pytest
from PIL import Image

from isv import chart_images, charts

IN_CI = os.environ.get("CI", "").lower() == "true"
CONTEXT = "Q3 2026 (Jul 1 – Sep 30, 2026) · Domain FinOps · as of 2026-08-14"


@pytest.fixture(scope="session")
def renders():
    """The warm server, started once: every test below renders through it."""
    if chart_images.unavailable():
        if IN_CI:
            pytest.fail(chart_images.NO_CHROMIUM)
        pytest.skip(chart_images.NO_CHROMIUM)
    chart_images.render(charts.style(charts.go.Figure(), title="warm-up"), "svg")
    return chart_images


def stage_chart() -> charts.go.Figure:
    frame = pd.DataFrame({"Stage": ["Lead", "Demo", "PoC", "Proposal"], "Deals": [12, 7, 4, 2],
                          "Value": [Decimal("120000"), Decimal("95000.50"), Decimal("61000"),
                                    Decimal("40000")]})
    return charts.pipeline_by_stage_figure(frame, title="Open pipeline by stage",
                                           context=CONTEXT)


def test_a_chart_downloads_as_a_1600_by_900_png(renders):
    png = renders.chart_image(stage_chart(), "png")

    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG"
        assert image.size == (1600, 900)


def test_the_svg_carries_the_title_period_filters_and_as_of_inside_the_image(renders):
    svg = renders.chart_image(stage_chart(), "svg").decode()

    assert 'width="1600"' in svg and 'height="900"' in svg
    assert "Open pipeline by stage" in svg
    for part in ("Q3 2026", "Domain FinOps", "as of 2026-08-14"):
        assert part in svg


def test_download_file_names_are_plain_words(renders):
    assert chart_images.file_name("Revenue by quarter: won & forecast", "png") == \
        "revenue-by-quarter-won-forecast.png"


def test_without_chromium_export_says_why_and_renders_nothing(monkeypatch):
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    monkeypatch.setattr(chart_images.shutil, "which", lambda name: None)

    assert chart_images.unavailable() == chart_images.NO_CHROMIUM
    with pytest.raises(chart_images.ExportUnavailable, match="need Chromium"):
        chart_images.chart_image(stage_chart(), "png")


def test_a_browser_path_that_does_not_exist_counts_as_no_chromium(monkeypatch, tmp_path):
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "chromium"))

    assert chart_images.unavailable() == chart_images.NO_CHROMIUM
