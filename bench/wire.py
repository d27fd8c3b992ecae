"""A session that speaks Streamlit's WebSocket protocol as the browser does, without a browser.

bench/load.py uses it for the sessions that only load the server: N real browsers on this
2-core machine took 91 % of its CPU (the server 13 of 155 CPU seconds with ten), so the
figure measured was the browsers' rendering, not what the server gives N people. A wire
session asks the server for exactly the runs a browser asks for (a page, a grid edit, a
save), with the browser's cookie, and times each from the request until the server's
`script_finished`. Drawing the page is left out: a real browser alongside measures that.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

FINISHED = ForwardMsg.FINISHED_SUCCESSFULLY


@dataclass
class Run:
    """What one script run sent: its elements' widget ids by key and kind, and its text."""

    widgets: dict[str, str] = field(default_factory=dict)   # user key or kind -> widget id
    text: list[str] = field(default_factory=list)


class WireSession:
    """One signed-in person's session over the protocol (see the module docstring)."""

    def __init__(self, base: str, cookies: dict[str, str]) -> None:
        parts = urlsplit(base)
        scheme = "wss" if parts.scheme == "https" else "ws"
        self.url = f"{scheme}://{parts.netloc}/_stcore/stream"
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
        self.pages: dict[str, str] = {}   # page title -> page_script_hash
        self.page_hash = ""
        self.run = Run()
        self.dropped = False
        self.exceptions = 0
        self._finished: asyncio.Queue[int] = asyncio.Queue()
        self._socket = None
        self._reader: asyncio.Task | None = None

    async def connect(self, ssl=None) -> None:
        self._socket = await websockets.connect(
            self.url, subprotocols=["streamlit"], max_size=None, ssl=ssl,
            additional_headers={"Cookie": self.cookie, "Origin": self.origin})
        self._reader = asyncio.create_task(self._read())

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)

    async def _read(self) -> None:
        try:
            async for payload in self._socket:
                if isinstance(payload, bytes):
                    self._take(payload)
        except websockets.ConnectionClosedError:
            self.dropped = True

    def _take(self, payload: bytes) -> None:
        msg = ForwardMsg()
        msg.ParseFromString(payload)
        kind = msg.WhichOneof("type")
        if kind == "navigation":
            self.pages = {p.page_name: p.page_script_hash for p in msg.navigation.app_pages}
            self.page_hash = msg.navigation.page_script_hash
        elif kind == "new_session":
            self.run = Run()
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            element = msg.delta.new_element
            name = element.WhichOneof("type")
            inner = getattr(element, name)
            if name == "exception":
                self.exceptions += 1
            widget = getattr(inner, "id", "")
            if widget:
                self.run.widgets[widget.rsplit("-", 1)[-1]] = widget
            for text in ("body", "label"):
                if isinstance(getattr(inner, text, None), str):
                    self.run.text.append(getattr(inner, text))
        elif kind == "script_finished":
            self._finished.put_nowait(msg.script_finished)

    async def rerun(self, page: str | None = None, widgets: list[WidgetState] = (),
                    timeout: float = 180) -> float:
        """Ask for a run (of `page`, or of the page shown) and return the milliseconds until
        the server finished it; a run that ends early for a rerun it asked for (st.rerun,
        st.switch_page) is followed to the run that finishes."""
        while not self._finished.empty():
            self._finished.get_nowait()
        if page is not None:
            self.page_hash = self.pages[page]
        back = BackMsg()
        back.rerun_script.page_script_hash = self.page_hash
        back.rerun_script.widget_states.widgets.extend(widgets)
        self.run = Run()
        started = time.perf_counter()
        await self._socket.send(back.SerializeToString())
        deadline = started + timeout
        while True:
            status = await asyncio.wait_for(self._finished.get(),
                                            max(0.1, deadline - time.perf_counter()))
            if status == FINISHED:
                return (time.perf_counter() - started) * 1000

    def editor_state(self, rows: dict[int, dict[str, object]]) -> WidgetState:
        """The grid's data editor with `rows` edited ({position: {column: value}})."""
        editor = next(w for k, w in self.run.widgets.items() if k.startswith("opportunity_grid_"))
        state = WidgetState(id=editor)
        state.string_value = json.dumps({"edited_rows": {str(k): v for k, v in rows.items()},
                                         "added_rows": [], "deleted_rows": []})
        return state

    def trigger(self, key: str) -> WidgetState:
        return WidgetState(id=self.run.widgets[key], trigger_value=True)
