"""Server time of the opportunity grid and the pipeline board at 100,000 vs 1,000 deals.

    python -m bench.pipeline_pages [--small N] [--large N] [--repeat R]

For each size a throwaway PostgreSQL database (server at ISV_BENCH_POSTGRES_URL) is migrated,
filled with `isv demo --opportunities N`, VACUUMed and ANALYZEd (as autovacuum leaves it).
Then, as a sales manager who sees every deal:

- data: the service calls each page makes when nothing is cached (partner and people choices,
  one grid page of 50 with its total; board totals per shown stage, the top 20 cards of each
  open stage in one query, their days in stage), unfiltered and with a typical filter (one
  domain plus a text search);
- page, warm: a whole AppTest rerun of the page (login gate, session check, widgets, drawing)
  when nothing was written since the last run: the pages read through the shared cache keyed
  by the data version, so this runs no pipeline SQL;
- page, cold: the same rerun right after a write (the data version bumped before each run),
  so every read goes to the database: the worst case of a busy day.

Figures are the median of R runs in milliseconds; the ratio large/small is the one to watch
(goal ≤ 1.5). Paging, filtering and totals happen in the database, so nothing grows in Python;
what still grows is the database's own work on a cold read: the COUNT behind the grid's pager
and the board's SUMs over every matching row (see bench/README.md).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text

from bench.demo_build import postgres_database
from bench.support import app_as_on_a_server, restoring_database, signed_in_app, use_database
from isv import cache, db
from isv.analytics import cached
from isv.auth import Viewer
from isv.db import session_scope
from isv.demo import DEMO_LOGINS
from isv.models import OPEN_STAGES
from isv.services import opportunities as opps
from isv.services import users
from isv.services.opportunities import OpportunityFilters
from isv.ui import board, pipeline

GRID, BOARD = "pages/opportunities.py", "pages/board.py"
ROLE = "sales_manager"


@dataclass(frozen=True)
class Figures:
    size: int
    grid_data: float
    grid_filtered: float
    board_data: float
    board_filtered: float
    grid_page: float
    board_page: float
    grid_cold: float
    board_cold: float


def _median_ms(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up: connection pool, statement caches
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _viewer(url: str) -> tuple[Viewer, str, str]:
    email, password = next((e, p) for e, p, role, _ in DEMO_LOGINS if role == ROLE)
    with session_scope(url) as session:
        user = users.get_by_email(session=session, viewer=Viewer.system("bench"), email=email)
        return Viewer.of(user), email, password


def _grid_calls(url: str, viewer: Viewer, filters: OpportunityFilters) -> None:
    with session_scope(url) as session:
        pipeline.load_choices(session=session, viewer=viewer)
        opps.list_opportunities(session=session, viewer=viewer, filters=filters, offset=0,
                                limit=50, sort="-updated_at")


def _board_calls(url: str, viewer: Viewer, filters: OpportunityFilters) -> None:
    with session_scope(url) as session:
        pipeline.load_choices(session=session, viewer=viewer)
        # What the page shows by default: the four open stages.
        board.load_board(session=session, viewer=viewer, filters=filters, stages=OPEN_STAGES)


def _page_ms(page: str, email: str, password: str, repeat: int, *, cold: bool) -> float:
    with app_as_on_a_server():
        at = signed_in_app(page, email, password)
        database = cached.database()

        def rerun() -> None:
            if cold:
                cache.get_cache().bump(database)  # as if someone had just saved a deal
            at.run()

        return _median_ms(rerun, repeat)


def measure(url: str, size: int, repeat: int) -> Figures:
    # Built by `isv` in a process of its own, so the objects of a 100,000-deal load do not
    # linger in this one (the garbage collector would bill them to the pages).
    env = {**os.environ, "ISV_DATABASE_URL": url}
    for command in (["migrate"], ["demo", "--opportunities", str(size)]):
        subprocess.run([sys.executable, "-m", "isv.cli", *command], env=env, check=True,
                       stdout=subprocess.DEVNULL)
    # VACUUM as well: autovacuum does it on its own after a load this size, and only then
    # can PostgreSQL count from an index without visiting every row.
    with db.get_engine(url).connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    use_database(url)
    viewer, email, password = _viewer(url)
    everything = OpportunityFilters()
    narrowed = OpportunityFilters(domains=("Security",), text="pharma")
    return Figures(
        size=size,
        grid_data=_median_ms(lambda: _grid_calls(url, viewer, everything), repeat),
        grid_filtered=_median_ms(lambda: _grid_calls(url, viewer, narrowed), repeat),
        board_data=_median_ms(lambda: _board_calls(url, viewer, everything), repeat),
        board_filtered=_median_ms(lambda: _board_calls(url, viewer, narrowed), repeat),
        grid_page=_page_ms(GRID, email, password, repeat, cold=False),
        board_page=_page_ms(BOARD, email, password, repeat, cold=False),
        grid_cold=_page_ms(GRID, email, password, repeat, cold=True),
        board_cold=_page_ms(BOARD, email, password, repeat, cold=True),
    )


FIELDS = (("grid_data", "grid: data calls"), ("grid_filtered", "grid: data calls, filtered"),
          ("board_data", "board: data calls"), ("board_filtered", "board: data calls, filtered"),
          ("grid_page", "grid: page rerun, warm"), ("board_page", "board: page rerun, warm"),
          ("grid_cold", "grid: page rerun, cold"), ("board_cold", "board: page rerun, cold"))


def main(argv: list[str] | None = None) -> list[Figures]:
    parser = argparse.ArgumentParser(prog="python -m bench.pipeline_pages", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args(argv)
    results = []
    print(f"pipeline pages on PostgreSQL, {args.small:,} vs {args.large:,} opportunities "
          f"(median of {args.repeat}, ms)")
    with restoring_database():
        for size in (args.small, args.large):
            try:
                with postgres_database() as url:
                    results.append(measure(url, size, args.repeat))
            except Exception as exc:  # no server: say so instead of failing `python -m bench`
                print(f"  skipped: {type(exc).__name__}: {str(exc).splitlines()[0]}")
                return results
    small, large = results
    print(f"  {'':30} {small.size:>10,} {large.size:>10,}   ratio")
    for name, label in FIELDS:
        a, b = getattr(small, name), getattr(large, name)
        print(f"  {label:30} {a:10.1f} {b:10.1f}   {b / a:5.2f}")
    return results


if __name__ == "__main__":
    main()
