"""Chart downloads and the exec review pack on the dashboard, as a user meets them.

Images are rendered only when a download is clicked (Streamlit calls the deferred data then),
so drawing the page never renders one; the pack is built on one click and kept for the
session until the period, the filters or the data change.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from isv import chart_images
from tests.app.conftest import messages
from tests.app.test_dashboard import program, selectbox  # noqa: F401  (the shared data)

CHARTS = ("revenue", "funnel", "domains", "partners")


@pytest.fixture
def renders(monkeypatch):
    """Every image the app asks for, by format; drawn by Pillow, so no browser is needed here
    (tests/integration/test_chart_export.py renders through Chromium for real)."""
    done: list[str] = []

    def fake(fig, fmt, **size):
        done.append(fmt)
        out = io.BytesIO()
        Image.new("RGB", (1600, 900), "white").save(out, "PDF" if fmt == "pdf" else "PNG")
        return out.getvalue()

    monkeypatch.setattr(chart_images, "chromium", lambda: "/usr/bin/chromium")
    monkeypatch.setattr(chart_images, "render", fake)
    return done


@pytest.fixture
def without_chromium(monkeypatch):
    monkeypatch.setattr(chart_images, "chromium", lambda: None)


def test_every_dashboard_chart_offers_png_and_svg_at_slide_size(program, login):  # noqa: F811
    at = login("vp")

    for chart in CHARTS:
        for fmt in ("png", "svg"):
            button = at.download_button(key=f"{chart}_{fmt}")
            assert button.label == fmt.upper()
            assert "1600×900" in button.help
            assert not button.proto.disabled


def test_drawing_and_redrawing_the_dashboard_renders_no_image(program, login, renders):  # noqa: F811
    at = login("vp")
    at.run()
    selectbox(at, "Domain").set_value("Security").run()

    assert not at.exception, at.exception
    assert renders == []


def test_without_chromium_the_exports_say_why_and_the_dashboard_still_works(
        program, login, without_chromium):  # noqa: F811
    at = login("vp")

    assert not at.exception, at.exception
    assert len(at.metric) == 9
    assert all(at.download_button(key=f"{c}_{f}").proto.disabled
               for c in CHARTS for f in ("png", "svg"))
    assert at.download_button(key="revenue_png").help == chart_images.NO_CHROMIUM
    assert at.button(key="dashboard_pack_build").proto.disabled
    # Said once, with the command that installs it; the buttons repeat it on hover.
    assert messages(at.caption).count(chart_images.NO_CHROMIUM) == 1
    assert "apt-get install chromium" in chart_images.NO_CHROMIUM
    at.run()
    assert messages(at.caption).count(chart_images.NO_CHROMIUM) == 1


def test_one_click_builds_the_pack_for_the_period_shown(program, login, renders):  # noqa: F811
    at = login("vp")
    assert [b.label for b in at.download_button if b.key.startswith("dashboard_pack")] == []

    at.button(key="dashboard_pack_build").click().run()

    assert not at.exception, at.exception
    pptx, pdf = at.download_button(key="dashboard_pack_pptx"), \
        at.download_button(key="dashboard_pack_pdf")
    assert (pptx.label, pdf.label) == ("Pack as PPTX", "Pack as PDF")
    # Cover, key figures, a slide per chart, slipped deals, team, gap to goal.
    assert f"{5 + len(CHARTS)} slides in the default look" in messages(at.caption)
    # Each chart rendered once, as one PNG that both the slide and the PDF page hold.
    assert renders == ["png"] * len(CHARTS)

    at.run()
    assert at.download_button(key="dashboard_pack_pdf").label == "Pack as PDF"
    assert len(renders) == len(CHARTS)  # kept, not built again

    selectbox(at, "Domain").set_value("Security").run()
    assert not [b for b in at.download_button if b.key.startswith("dashboard_pack")]
