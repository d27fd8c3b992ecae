"""How long `isv demo --opportunities 100000` takes on a fresh PostgreSQL and SQLite database.

    python -m bench.demo_build [--opportunities N] [--backend postgresql|sqlite]

Each run creates a throwaway database (PostgreSQL: on the server at ISV_BENCH_POSTGRES_URL,
default postgresql://postgres@127.0.0.1:5432; SQLite: a temporary file), migrates it, loads the
demo data in one transaction as `isv demo` does, and drops it again. Times are wall-clock
seconds of one run; the PostgreSQL/SQLite ratio is the figure to compare between machines.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine, text

from isv import migrate
from isv.db import get_engine, session_scope
from isv.demo import load_demo

PG_SERVER = os.environ.get("ISV_BENCH_POSTGRES_URL",
                           "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


@dataclass(frozen=True)
class Result:
    backend: str
    rows: int
    migrate_s: float
    load_s: float

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.load_s if self.load_s else 0.0


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database, dropped afterwards."""
    name = f"isv_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_SERVER, isolation_level="AUTOCOMMIT",
                          connect_args={"connect_timeout": 5})
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base, _, _ = PG_SERVER.rpartition("/")
    url = f"{base}/{name}"
    try:
        yield url
    finally:
        get_engine(url).dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def sqlite_database() -> Iterator[str]:
    """A new SQLite file in a temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="isv_bench_") as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        try:
            yield url
        finally:
            get_engine(url).dispose()


def build(url: str, backend: str, opportunities: int) -> Result:
    """Migrate the empty database at `url` and load the demo into it, timing both."""
    started = time.perf_counter()
    migrate.upgrade(url)
    migrated = time.perf_counter()
    with session_scope(url) as session:
        summary = load_demo(session=session, opportunities=opportunities)
        session.commit()
    loaded = time.perf_counter()
    return Result(backend=backend, rows=summary.rows, migrate_s=migrated - started,
                  load_s=loaded - migrated)


def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(prog="python -m bench.demo_build", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--opportunities", type=int, default=100_000)
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), action="append",
                        help="run only this backend (repeatable); default both")
    args = parser.parse_args(argv)
    backends = args.backend or ["postgresql", "sqlite"]

    print(f"demo build, {args.opportunities:,} opportunities")
    results = []
    for backend in backends:
        database = postgres_database if backend == "postgresql" else sqlite_database
        try:
            with database() as url:
                result = build(url, backend, args.opportunities)
        except Exception as exc:  # a missing server should not hide the other figure
            print(f"  {backend:<10} skipped: {type(exc).__name__}: {str(exc).splitlines()[0]}")
            continue
        results.append(result)
        print(f"  {backend:<10} load {result.load_s:6.1f} s  {result.rows:>9,} rows  "
              f"{result.rows_per_s:>9,.0f} rows/s   (migrate {result.migrate_s:.1f} s)")
    if len(results) == 2:
        pg, lite = results
        print(f"  ratio      postgresql/sqlite load time {pg.load_s / lite.load_s:.2f}")
    return results


if __name__ == "__main__":
    main()
