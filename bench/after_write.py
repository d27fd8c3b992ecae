"""The executive dashboard viewed again after someone changed a deal: with and without the
background refresh of isv/analytics/cached.py.

    python -m bench.after_write --database URL [--rounds R] [--pause S]

On an existing demo database (say PostgreSQL after `isv demo --opportunities 100000`), the VP's
dashboard runs under AppTest as on a server (tests/app's way). Each round changes one deal's
value through the services, as a grid save does, waits `pause` seconds (the person's next
click), then reruns the dashboard: its script time and the SQL statements it ran itself (the
background refresh's own are not counted; a view waiting for it waits in its time). Run with
ISV_ANALYTICS_REFRESH=0 (every view after a write computes its data) and with 4 (the default).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import threading
import time

from sqlalchemy import Engine, event, select

from bench.support import app_as_on_a_server, restoring_database, signed_in_app, use_database
from isv.analytics import cached
from isv.auth import Viewer
from isv.config import get_settings
from isv.db import session_scope
from isv.demo import DEMO_LOGINS
from isv.models import OPEN_STAGES, Opportunity
from isv.services import opportunities

EMAIL, PASSWORD = next((e, p) for e, p, role, _ in DEMO_LOGINS if role == "vp")
WRITER = Viewer.system("bench")


def _change_a_deal(value: int) -> None:
    with session_scope() as session:
        deal = session.scalar(select(Opportunity).where(Opportunity.stage.in_(OPEN_STAGES))
                              .order_by(Opportunity.created_at).limit(1))
        opportunities.update_opportunity(session=session, viewer=WRITER, opportunity_id=deal.id,
                                         expected_version=deal.version, deal_value=str(value))
        session.commit()


def measure(refresh: int, rounds: int, pause: float) -> tuple[list[float], list[int]]:
    os.environ["ISV_ANALYTICS_REFRESH"] = str(refresh)
    get_settings.cache_clear()
    cached._refresher = None
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        if threading.current_thread().name != cached.REFRESH_THREAD:  # the view's own only
            statements.append(statement)

    at = signed_in_app("pages/dashboard.py", EMAIL, PASSWORD)
    times, counts = [], []
    event.listen(Engine, "before_cursor_execute", count)
    try:
        for number in range(rounds):
            _change_a_deal(100_000 + refresh * 1_000 + number)
            time.sleep(pause)
            statements.clear()
            started = time.perf_counter()
            at.run()
            times.append((time.perf_counter() - started) * 1000)
            counts.append(len(statements))
            if at.exception:
                raise RuntimeError(f"dashboard failed: {at.exception}")
    finally:
        event.remove(Engine, "before_cursor_execute", count)
    return times, counts


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.after_write", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database", required=True, help="an existing demo database")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--pause", type=float, default=3.0,
                        help="seconds between the write and the next view")
    args = parser.parse_args(argv)
    saved = os.environ.get("ISV_ANALYTICS_REFRESH")
    with restoring_database(), app_as_on_a_server():
        use_database(args.database)
        for refresh in (0, 4):
            load = os.getloadavg()
            times, counts = measure(refresh, args.rounds, args.pause)
            print(f"ISV_ANALYTICS_REFRESH={refresh}: n {len(times)}, dashboard rerun after a "
                  f"write p50 {statistics.median(times):,.0f} ms, p95 {_p95(times):,.0f} ms; "
                  f"statements median {statistics.median(counts):.0f}; load average "
                  f"{load[0]:.1f}", flush=True)
    if saved is None:
        os.environ.pop("ISV_ANALYTICS_REFRESH", None)
    else:
        os.environ["ISV_ANALYTICS_REFRESH"] = saved
    get_settings.cache_clear()


if __name__ == "__main__":
    main()
