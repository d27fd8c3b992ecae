"""Charts leave the app as slide-sized images and as the exec review pack (PPTX and PDF).

Rendering needs Chromium (/usr/bin/chromium, as in CI): without it these tests skip, except
in CI, where they fail. One warm kaleido server serves the whole session, as in the app.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pandas as pd
import pytest
from PIL import Image
from pptx import Presentation
from pypdf import PdfReader

from isv import charts, display, export
from isv.analytics.kpis import compute_kpis
from isv.analytics.periods import previous, quarter_range
from tests.factories import make_goal, make_opportunity, make_partner, make_user, viewer_of

IN_CI = os.environ.get("CI", "").lower() == "true"
CONTEXT = "Q3 2026 (Jul 1 – Sep 30, 2026) · Domain FinOps · as of 2026-08-14"


@pytest.fixture(scope="session")
def renders():
    """The warm server, started once: every test below renders through it."""
    if export.unavailable():
        if IN_CI:
            pytest.fail(export.NO_CHROMIUM)
        pytest.skip(export.NO_CHROMIUM)
    export.render(charts.style(charts.go.Figure(), title="warm-up"), "svg")
    return export


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
    assert export.file_name("Revenue by quarter: won & forecast", "png") == \
        "revenue-by-quarter-won-forecast.png"


@pytest.fixture
def quarter_with_deals(session):
    this = quarter_range(2026, 3)
    vp = make_user(session, role="vp")
    partner = make_partner(session, name="Ledgerline", domain="FinOps")
    at = datetime.combine(this.start, time(9), tzinfo=UTC)
    make_opportunity(session, partner, stage="closed_won", deal_value=Decimal("40000.05"),
                     created_at=at, actual_close_date=this.start + timedelta(days=20))
    make_opportunity(session, partner, stage="proposal", deal_value=Decimal("20000"),
                     probability=Decimal("75"), created_at=at, expected_close_date=this.end)
    make_goal(session, vp, year=2026, quarter=3, revenue_target=Decimal("80000"))
    as_of = this.start + timedelta(days=45)
    viewer = viewer_of(vp)
    kpis = compute_kpis(session=session, viewer=viewer, period=this, as_of=as_of)
    before = compute_kpis(session=session, viewer=viewer, period=previous(this), as_of=as_of)
    return kpis, before


def test_the_pack_has_the_kpi_summary_and_one_slide_and_one_page_per_chart(
        renders, quarter_with_deals, tmp_path):
    if shutil.which("pdftoppm") is None:
        missing = "pdftoppm is missing: apt-get install poppler-utils"
        pytest.fail(missing) if IN_CI else pytest.skip(missing)
    kpis, before = quarter_with_deals
    figures = [export.PackChart("Open pipeline by stage", stage_chart()),
               export.PackChart("Funnel", charts.funnel_figure(
                   pd.DataFrame({"Stage": ["Lead", "Demo"], "Deals": [2, 1],
                                 "Value": [Decimal("60000.05"), Decimal("40000.05")],
                                 "Conversion": [None, Decimal("0.5")]}),
                   title="Funnel", context=CONTEXT))]
    steps = []

    pack = export.build_pack(title="Executive dashboard", context=CONTEXT, kpis=kpis,
                             previous=before, figures=figures,
                             progress=lambda done, step: steps.append(done))

    deck = Presentation(io.BytesIO(pack.pptx))
    titles = [slide.shapes.title.text for slide in deck.slides]
    assert titles == ["Executive dashboard: KPI summary", "Open pipeline by stage", "Funnel"]
    summary = next(shape for shape in deck.slides[0].shapes if shape.has_table).table
    cells = {summary.cell(r, 0).text: summary.cell(r, 1).text for r in range(len(summary.rows))}
    assert cells["Won this period"] == "$40,000.05"  # exact money, not $40k
    assert cells["Pipeline"] == "$20,000"  # whole currency: no cents to show
    assert cells["Goal attainment"] == display.percent(kpis.goal_attainment)
    pictures = [shape for slide in list(deck.slides)[1:] for shape in slide.shapes
                if shape.shape_type == 13]  # MSO_SHAPE_TYPE.PICTURE
    assert len(pictures) == 2
    with Image.open(io.BytesIO(pictures[0].image.blob)) as image:
        assert image.size == (1600, 900)

    assert len(PdfReader(io.BytesIO(pack.pdf)).pages) == 3
    (tmp_path / "pack.pdf").write_bytes(pack.pdf)
    subprocess.run(["pdftoppm", "-png", "-r", "24", str(tmp_path / "pack.pdf"),
                    str(tmp_path / "page")], check=True, timeout=60)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == 3
    for page in pages:
        with Image.open(page) as image:
            assert image.width > image.height  # a landscape slide, not an empty stub
            assert len(set(image.convert("L").getdata())) > 2  # something drawn on it

    assert steps == sorted(steps) and steps[-1] == 1.0


def test_without_chromium_export_says_why_and_renders_nothing(monkeypatch):
    monkeypatch.delenv("BROWSER_PATH", raising=False)
    monkeypatch.setattr(export.shutil, "which", lambda name: None)

    assert export.unavailable() == export.NO_CHROMIUM
    with pytest.raises(export.ExportUnavailable, match="needs Chromium"):
        export.chart_image(stage_chart(), "png")


def test_a_browser_path_that_does_not_exist_counts_as_no_chromium(monkeypatch, tmp_path):
    monkeypatch.setenv("BROWSER_PATH", str(tmp_path / "chromium"))

    assert export.unavailable() == export.NO_CHROMIUM
