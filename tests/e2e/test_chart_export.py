"""In Chromium: a chart's PNG button and the exec review pack deliver real files.

AppTest has no server runtime, so the deferred download (the image rendered only on click)
is exercised here, through the browser and the running app.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image
from playwright.sync_api import expect
from pptx import Presentation

from tests.e2e.helpers import open_signed_in

pytestmark = pytest.mark.e2e


def test_the_vp_downloads_a_chart_and_the_exec_review_pack(server, context, tmp_path):
    context.set_default_timeout(120_000)
    account = server.accounts["vp"]
    page = open_signed_in(context, server, account)
    expect(page.get_by_role("heading", name="Executive dashboard")).to_be_visible()

    with page.expect_download() as download:
        page.get_by_role("button", name="PNG", exact=True).first.click()
    assert download.value.suggested_filename == "revenue-by-quarter.png"
    with Image.open(download.value.path()) as image:
        assert image.size == (1600, 900)

    page.get_by_role("button", name="Build exec review pack").click()
    pptx_button = page.get_by_role("button", name="Pack as PPTX")
    expect(pptx_button).to_be_visible()
    with page.expect_download() as download:
        pptx_button.click()
    deck = Presentation(io.BytesIO(download.value.path().read_bytes()))
    assert [slide.shapes.title.text for slide in deck.slides] == [
        "Executive review", "Key figures",
        "Revenue by quarter: won, and weighted forecast from today",
        "Funnel: how far the deals created this period got",
        "Open pipeline by domain and stage", "Top partners by revenue won", "Slipped deals",
        "Team performance", "Gap to goal"]
