"""What idle signed-in tabs cost the server: 20 tabs on the dashboard for 5 minutes.

    python -m bench.idle [--tabs N] [--minutes M]

A server is started as bench/ui.py starts it, on a fresh SQLite demo database (800 deals),
with the scheduler beside it as `isv run` has it (its heartbeat every 5 s is a write). N
browser tabs sign in, each in its own profile, spread over the demo's people (the session
cap is raised so that none signs another out), and open the executive dashboard. Once every
tab has drawn it, nobody touches anything for M minutes, and the bench reports:

- the server's CPU (user + system, /proc) over those minutes, as a share of one core;
- the script runs the tabs saw: full page runs (each greys the page while it runs and
  redraws it) and the 30 s poll's fragment runs (which draw nothing).

Goal: under 5 % of one core for 20 tabs, and no full run while the data does not change.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from bench.demo_build import sqlite_database
from bench.ui import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DASHBOARD_READY,
    ROOT,
    TIMEOUT_MS,
    app_server,
    cpu_seconds,
)
from isv import migrate
from isv.db import get_engine, session_scope
from isv.demo import DEMO_LOGINS, load_demo


class Seen:
    """The script runs one tab saw finish: full runs and fragment runs."""

    def __init__(self, page) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        self._msg = ForwardMsg
        self.full = 0
        self.fragments = 0
        page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload) -> None:
        if isinstance(payload, str):
            return
        msg = self._msg()
        try:
            msg.ParseFromString(payload)
        except Exception:
            return
        if msg.WhichOneof("type") != "script_finished":
            return
        if msg.script_finished == self._msg.FINISHED_SUCCESSFULLY:
            self.full += 1
        elif msg.script_finished == self._msg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
            self.fragments += 1


def main(argv: list[str] | None = None) -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(prog="python -m bench.idle", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tabs", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=5)
    args = parser.parse_args(argv)

    with sqlite_database() as url:
        migrate.upgrade(url)
        with session_scope(url) as session:
            load_demo(session=session)
            session.commit()
        get_engine(url).dispose()
        env = {**os.environ, "ISV_DATABASE_URL": url}
        scheduler = subprocess.Popen([sys.executable, "-m", "scheduler"], cwd=ROOT, env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            with app_server(url, {"ISV_MAX_SESSIONS": str(args.tabs)}) as (base, pid), \
                    sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                                     args=CHROMIUM_ARGS)
                tabs = []
                for n in range(args.tabs):
                    email, password, _, _ = DEMO_LOGINS[n % len(DEMO_LOGINS)]
                    context = browser.new_context(viewport={"width": 1400, "height": 900})
                    context.set_default_timeout(TIMEOUT_MS)
                    page = context.new_page()
                    seen = Seen(page)
                    page.goto(base)
                    page.get_by_role("textbox", name="Email").fill(email)
                    page.get_by_role("textbox", name="Password").fill(password)
                    page.get_by_role("button", name="Sign in").click()
                    page.wait_for_function(DASHBOARD_READY, timeout=TIMEOUT_MS)
                    tabs.append((page, seen))
                    print(f"  tab {n + 1}/{args.tabs} signed in ({email})", file=sys.stderr,
                          flush=True)
                # Until every tab has seen its dashboard run finish (the page may look ready
                # while the script still runs), then a few quiet seconds; Playwright hands
                # the events over only while it waits.
                for page, seen in tabs:
                    while seen.full < 1:
                        page.wait_for_timeout(50)
                tabs[0][0].wait_for_timeout(5000)
                for _, seen in tabs:
                    seen.full = seen.fragments = 0
                load_before = os.getloadavg()[0]
                cpu_before = cpu_seconds(pid)
                started = time.monotonic()
                deadline = started + args.minutes * 60
                while time.monotonic() < deadline:
                    tabs[0][0].wait_for_timeout(1000)  # lets Playwright deliver the events
                wall = time.monotonic() - started
                cpu = cpu_seconds(pid) - cpu_before
                full = sum(seen.full for _, seen in tabs)
                fragments = sum(seen.fragments for _, seen in tabs)
                browser.close()
        finally:
            scheduler.terminate()
            scheduler.wait(timeout=30)
    load = os.getloadavg()
    print(f"bench.idle: {args.tabs} signed-in tabs on the dashboard, idle {wall / 60:.1f} min "
          f"(SQLite demo, scheduler running)")
    print(f"  server CPU {cpu:.2f} s in {wall:.0f} s = {100 * cpu / wall:.2f} % of one core "
          f"(goal < 5 %)")
    print(f"  script runs seen by the tabs: {full} full page runs, {fragments} poll "
          f"fragment runs")
    print(f"  load average {load_before:.1f} at the start, {load[0]:.1f} / {load[1]:.1f} / "
          f"{load[2]:.1f} at the end, {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
