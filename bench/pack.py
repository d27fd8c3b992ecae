"""How long the exec review pack takes to build, cold and warm, and how big its files are.

    python -m bench.pack [--opportunities N] [--runs R]

A fresh SQLite database with `isv demo` data (800 deals by default), the VP's dashboard for
the current quarter (isv.analytics.dashboard, as the page loads it), its four charts built
as the page builds them, then `isv.pack.build_pack` as the dashboard's button calls it:

- cold: the first build in the process, kaleido's Chromium not started yet (the first pack
  a freshly started replica builds);
- warm: R builds after it, the server kept warm (every later click); median and worst.

Sizes are those of the files a user downloads. Wall-clock seconds on the machine it runs on.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from bench.support import restoring_database, use_database
from isv import chart_images, charts, migrate, pack
from isv.analytics import frames
from isv.analytics.dashboard import DashboardData, dashboard_data
from isv.analytics.periods import quarter_of, quarter_range
from isv.auth import Viewer
from isv.db import session_scope
from isv.demo import load_demo
from isv.models import User
from isv.services.settings import local_today

VP = "maya.chen@example.com"


def content_of(viewer: Viewer, data: DashboardData) -> pack.PackContent:
    """The pack the dashboard builds: its four charts over its data (pages/dashboard.py)."""
    now = data.kpis
    where = charts.context_line(f"{now.period.title} ({now.period.span})",
                                f"as of {now.as_of}")
    figures = [
        ("Revenue by quarter", charts.revenue_by_quarter_figure(
            frames.revenue_frame(data.revenue),
            title="Revenue by quarter: won, and weighted forecast from today", context=where)),
        ("Funnel", charts.funnel_figure(
            frames.funnel_frame(now), title="Funnel: how far the deals created this period got",
            context=where)),
        ("Open pipeline by domain", charts.pipeline_by_domain_figure(
            frames.domain_frame(data.domains), title="Open pipeline by domain and stage",
            context=where)),
        ("Top partners", charts.top_partners_figure(
            frames.partners_frame(data.partners), title="Top partners by revenue won",
            context=where)),
    ]
    return pack.PackContent(
        title="Executive review", prepared_by=viewer.name, filters=(), kpis=now,
        previous=data.previous, charts=tuple(pack.PackChart(t, f) for t, f in figures),
        slipped=data.slipped, team=data.team, closers=data.closers)


def _stop_kaleido() -> None:
    import kaleido

    with chart_images._lock:
        if chart_images._server_path is not None:
            kaleido.stop_sync_server(silence_warnings=True)
            chart_images._server_path = None


def measure(opportunities: int, runs: int) -> dict:
    with tempfile.TemporaryDirectory() as folder, restoring_database():
        url = f"sqlite:///{Path(folder) / 'isv.db'}"
        migrate.upgrade(url)
        use_database(url)
        with session_scope() as session:
            load_demo(session=session, opportunities=opportunities)
            session.commit()
        today = local_today()
        with session_scope() as session:
            viewer = Viewer.of(session.scalar(select(User).where(User.email == VP)))
            data = dashboard_data(session=session, viewer=viewer,
                                  period=quarter_range(*quarter_of(today)), as_of=today)
        content = content_of(viewer, data)
        _stop_kaleido()
        start = time.perf_counter()
        built = pack.build_pack(content)
        cold = time.perf_counter() - start
        warm = []
        for _ in range(runs):
            start = time.perf_counter()
            pack.build_pack(content)
            warm.append(time.perf_counter() - start)
    return dict(cold=cold, warm=warm, pptx=len(built.pptx), pdf=len(built.pdf),
                slides=built.slides)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.pack", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--opportunities", type=int, default=800)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    result = measure(args.opportunities, args.runs)
    warm = result["warm"]
    print(f"exec review pack, {args.opportunities:,} demo deals, {result['slides']} slides")
    print(f"  cold build   {result['cold']:6.2f} s (kaleido's Chromium started by it)")
    print(f"  warm build   {statistics.median(warm):6.2f} s median, {max(warm):.2f} s worst "
          f"of {len(warm)}")
    print(f"  PPTX         {result['pptx']:>10,} bytes")
    print(f"  PDF          {result['pdf']:>10,} bytes")


if __name__ == "__main__":
    main()
