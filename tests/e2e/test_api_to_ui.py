"""In Chromium: a deal created and moved through the REST API is the same deal everywhere in
the app — on the grid, on the board, on its own page (stage history, audit trail naming the
API user) and in the dashboard's pipeline — because both front doors use the same services
and the same database.

The API runs as `isv api` runs it (its own uvicorn process) on the browser tests' database.
"""

from __future__ import annotations

import os
import re
import sys
import uuid
from contextlib import closing
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from playwright.sync_api import Page, expect

from isv import devserver, display
from isv.analytics.periods import quarter_containing
from isv.services.settings import local_today
from isv.ui.labels import action_label, stage_label
from tests.e2e.conftest import Account
from tests.e2e.helpers import go_in_app, open_signed_in

pytestmark = pytest.mark.e2e
SLOW = 60_000  # ms: a first render on a busy two-core machine
VALUE = Decimal("987654.32")


@pytest.fixture(scope="module")
def api(server, tmp_path_factory) -> str:
    """`isv api` on a free port, on the database the browser tests' app serves."""
    port = devserver.free_port()
    env = {**os.environ, "ISV_DATABASE_URL": server.database_url, "ISV_BCRYPT_ROUNDS": "4",
           "ISV_ENV": "test"}
    base = f"http://127.0.0.1:{port}"
    with devserver.serving([sys.executable, "-m", "isv.cli", "api", "--port", str(port)],
                           env=env, health_url=f"{base}/api/v1/health",
                           log=tmp_path_factory.mktemp("api") / "api.log"):
        yield base


def signed_in_client(base: str, account: Account) -> httpx.Client:
    client = httpx.Client(base_url=f"{base}/api/v1", timeout=60)
    answer = client.post("/auth/login", json={"email": account.email,
                                              "password": account.password})
    assert answer.status_code == 200, answer.text
    client.headers["Authorization"] = f"Bearer {answer.json()['data']['access_token']}"
    return client


def data(answer: httpx.Response, status: int = 200):
    assert answer.status_code == status, answer.text
    return answer.json()["data"]


def open_pipeline(client: httpx.Client) -> tuple[Decimal, int]:
    """Σ value and count of open deals, from /dashboard/kpis for this quarter."""
    kpis = data(client.get("/dashboard/kpis",
                           params={"period": quarter_containing(local_today()).label}))
    return Decimal(kpis["pipeline_total"]), kpis["open_count"]


def expect_pipeline_card(page: Page, total: Decimal, count: int) -> None:
    """The dashboard's "Pipeline" card shows this Σ value and, under it, this many deals."""
    expect(page.get_by_role("heading", name="Executive dashboard", exact=True)).to_be_visible(
        timeout=SLOW)
    metric = page.get_by_test_id("stMetric").filter(
        has=page.get_by_test_id("stMetricLabel").filter(has_text=re.compile(r"^Pipeline$")))
    expect(metric.get_by_test_id("stMetricValue")).to_have_text(display.money_short(total),
                                                                timeout=SLOW)
    expect(page.get_by_text(f"{count:,} open deals · current state", exact=True)
           ).to_be_visible(timeout=SLOW)


def test_a_deal_created_and_moved_through_the_api_shows_on_grid_board_deal_page_and_dashboard(
        server, context, api):
    seller, vp = server.accounts["sales_manager"], server.accounts["vp"]
    customer = f"Api Roundtrip {uuid.uuid4().hex[:8]}"
    with closing(signed_in_client(api, seller)) as crm, \
            closing(signed_in_client(api, vp)) as reader:
        total_before, count_before = open_pipeline(reader)

        # The VP's dashboard before the deal exists: the figure the API reports.
        page = open_signed_in(context, server, vp)
        expect_pipeline_card(page, total_before, count_before)

        partner = data(crm.get("/partners", params={"per_page": 1}))[0]
        deal = data(crm.post("/opportunities", json={
            "partner_id": partner["id"], "customer_name": customer, "deal_value": str(VALUE),
            "expected_close_date": (local_today() + timedelta(days=30)).isoformat(),
            "note": "Synced from the CRM"}), 201)
        moved = data(crm.post(f"/opportunities/{deal['id']}/stage", json={
            "stage": "poc", "version": deal["version"], "note": "Pilot agreed"}))
        assert (deal["stage"], moved["stage"]) == ("lead", "poc")
        try:
            assert open_pipeline(reader) == (total_before + VALUE, count_before + 1)

            # The grid, searched by the customer: one row, in its new stage, at its value
            # (the grid's accessible table holds raw values: the stage's code).
            go_in_app(page, f"/opportunities?q={customer}", "Opportunities")
            expect(page.get_by_text("Deals 1–1 of 1")).to_be_visible(timeout=SLOW)
            row = page.get_by_test_id("stDataFrame").first.locator("table tbody tr")
            expect(row).to_have_count(1, timeout=SLOW)
            cells = [c.strip() for c in row.locator("td").all_text_contents()]
            assert cells[1:4] == [customer, "poc", str(VALUE)], cells

            # The board: the card sits in the PoC column and nowhere else.
            go_in_app(page, f"/board?q={customer}", "Pipeline board")
            cards = page.locator("[class*='st-key-card_']").filter(has_text=customer)
            expect(cards).to_have_count(1, timeout=SLOW)
            expect(page.locator(".st-key-board_col_poc").locator(
                "[class*='st-key-card_']").filter(has_text=customer)).to_have_count(1)

            # Its own page: both stage-history rows and the audit trail, by the API user.
            go_in_app(page, f"/opportunity_detail?id={deal['id']}", "Opportunity detail")
            expect(page.get_by_role("heading", name=customer)).to_be_visible(timeout=SLOW)
            history = page.get_by_test_id("stDataFrame").filter(has_text="(new deal)")
            rows = history.locator("table tbody tr")
            expect(rows).to_have_count(2, timeout=SLOW)
            lead, poc = stage_label("lead"), stage_label("poc")
            for n, (before, after, note) in enumerate(((lead, poc, "Pilot agreed"),
                                                      ("(new deal)", lead,
                                                       "Synced from the CRM"))):
                cells = [c.strip() for c in rows.nth(n).locator("td").all_text_contents()]
                assert cells[1:] == [seller.name, before, after, note], cells
            moved_words = action_label("move_stage")
            trail = page.get_by_test_id("stDataFrame").filter(has_text=moved_words)
            # The row whose Field cell is Stage (the action's own words contain "stage").
            stage_row = trail.locator("table tbody tr").filter(
                has=page.locator("td").filter(has_text=re.compile(r"^\s*Stage\s*$"))).first
            expect(stage_row).to_be_attached(timeout=SLOW)
            cells = [c.strip() for c in stage_row.locator("td").all_text_contents()]
            assert cells[1:] == [seller.name, moved_words, "Stage", lead, poc], cells
            expect(trail).not_to_contain_text(seller.email)

            # The dashboard: the pipeline grew by the deal's value, one open deal more.
            go_in_app(page, "/", "Executive dashboard")
            expect_pipeline_card(page, total_before + VALUE, count_before + 1)
            assert page.get_by_test_id("stException").count() == 0
        finally:
            # The browser tests share one database: leave it as the next test expects it.
            gone = crm.delete(f"/opportunities/{deal['id']}")
            assert gone.status_code == 200, gone.text
