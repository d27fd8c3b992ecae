"""In Chromium: the grid's downloads answer a click made while the page reruns.

The review clicked Download CSV right after an edit was saved and got nothing at all. The
buttons made their file on click, from a callable that Streamlit forgets when a run ends
without drawing the button again (a save stops its run to rerun the page), so a click on
the button still on screen asked for a file the server no longer knew.

To click at that moment every time, the test holds back what the server sends the page
(its websocket) until the save's run and the rerun after it have both finished: the page
still shows the buttons the run before the save drew.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import WebSocketRoute, expect
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from isv.ui.labels import stage_label
from tests.e2e.test_pipeline import (
    cell,
    edit_first_row,
    patient,  # noqa: F401 (a fixture: the grid's first render is slow on a busy machine)
    signed_in_page,
)

pytestmark = pytest.mark.e2e


class HeldUpdates:
    """Pass the app's websocket through; while `holding`, keep the server's messages back."""

    def __init__(self) -> None:
        self.holding = False
        self.held: list[str | bytes] = []
        self.page_side: WebSocketRoute | None = None

    def route(self, ws: WebSocketRoute) -> None:
        server = ws.connect_to_server()
        self.page_side = ws
        ws.on_message(server.send)

        def from_server(message: str | bytes) -> None:
            if self.holding:
                self.held.append(message)
            else:
                ws.send(message)
        server.on_message(from_server)

    def finished_runs(self) -> int:
        """How many script runs the held messages report finished."""
        kinds = (ForwardMsg.FromString(m).WhichOneof("type") for m in self.held
                 if isinstance(m, bytes))
        return sum(kind == "script_finished" for kind in kinds)

    def release(self) -> None:
        self.holding = False
        for message in self.held:
            self.page_side.send(message)
        self.held.clear()


@pytest.mark.parametrize("button, suffix", [("Download CSV", ".csv"),
                                            ("Download XLSX", ".xlsx")])
def test_a_download_clicked_while_the_page_reruns_after_a_save_yields_the_file(
        server, context, button, suffix):
    updates = HeldUpdates()
    context.route_web_socket(re.compile(r"/_stcore/stream"), updates.route)
    # The page's connection goes through the route from its first load.
    page = signed_in_page(context, server, "sales_manager", "/opportunities", "Opportunities")
    download = page.get_by_role("button", name=button)
    expect(download).to_be_visible()
    target = "proposal" if cell(page, 0, "Stage") != "proposal" else "demo"
    edit_first_row(page, "Stage", stage_label(target))
    save = page.get_by_role("button", name="Save changes")
    expect(save).to_be_enabled()

    updates.holding = True
    save.click()
    # The save's run (stopped to rerun) and the rerun both finish on the server.
    while updates.finished_runs() < 2:
        page.wait_for_timeout(200)
    with page.expect_download(timeout=30_000) as got:
        download.click(no_wait_after=True)
        page.wait_for_timeout(500)  # the click's request reaches the server first
        updates.release()
    assert got.value.suggested_filename == f"opportunities{suffix}"
    assert open(got.value.path(), "rb").read()
    expect(page.get_by_text("Saved: 1 changed.")).to_be_visible()
