"""What metrics cost a page: the same page rerun with ISV_METRICS on and off, interleaved.

    python -m bench metrics [--runs R] [--opportunities N]

A SQLite database with the demo (N deals, default 800), the VP signed in through the form
under AppTest, the dashboard and the tasks page rerun warm, R times each with metrics on and
R times off, alternating so that load on the machine falls on both alike. Reported: the
median CPU time of a rerun (this process's, which runs the page script) on and off, and
their ratio; the issue's bar is on/off within 1.02. Also the CPU cost of one page_run
(timing and counting) alone, in microseconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from bench.support import app_as_on_a_server, restoring_database, signed_in_app, use_database
from isv import config, demo, migrate
from isv.auth import Viewer
from isv.db import session_scope
from isv.demo import DEMO_LOGINS
from isv.ui import frame

PAGES = ("pages/dashboard.py", "pages/tasks.py")


def _switch(on: bool) -> None:
    os.environ["ISV_METRICS"] = "on" if on else "off"
    config.get_settings.cache_clear()


def _cpu_rerun(at) -> float:
    started = time.process_time()
    at.run()
    if at.exception:
        raise RuntimeError(f"page failed: {at.exception}")
    return time.process_time() - started


def page_run_cost(n: int = 100_000) -> float:
    """CPU microseconds of one frame.page_run (the metrics around a page run) around nothing."""
    _switch(True)
    started = time.process_time()
    for _ in range(n):
        with frame.page_run("bench"):
            pass
    return (time.process_time() - started) / n * 1e6


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench metrics")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--opportunities", type=int, default=800)
    args = parser.parse_args(argv)
    email, password, _role, _name = DEMO_LOGINS[0]
    saved = os.environ.get("ISV_METRICS")
    with restoring_database(), app_as_on_a_server(), tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate.upgrade(url)
        use_database(url)
        with session_scope() as session:
            demo.load_demo(session=session, viewer=Viewer.system("bench"),
                           opportunities=args.opportunities)
            session.commit()
        try:
            print(f"metrics on vs off: {args.runs} warm reruns each, interleaved, "
                  f"{args.opportunities} deals; load average {os.getloadavg()[0]:.1f}")
            for page in PAGES:
                at = signed_in_app(page, email, password)
                for on in (True, False):   # warm both ways
                    _switch(on)
                    _cpu_rerun(at)
                times: dict[bool, list[float]] = {True: [], False: []}
                for n in range(args.runs * 2):
                    on = n % 2 == 0 if (n // 2) % 2 == 0 else n % 2 == 1
                    _switch(on)
                    times[on].append(_cpu_rerun(at))
                p50_on = statistics.median(times[True]) * 1000
                p50_off = statistics.median(times[False]) * 1000
                print(f"  {page:22} on {p50_on:7.1f} ms CPU  off {p50_off:7.1f} ms CPU  "
                      f"on/off {p50_on / p50_off:.3f}")
            print(f"  one page_run alone: {page_run_cost():.2f} µs CPU")
        finally:
            if saved is None:
                os.environ.pop("ISV_METRICS", None)
            else:
                os.environ["ISV_METRICS"] = saved
            config.get_settings.cache_clear()


if __name__ == "__main__":
    main()
