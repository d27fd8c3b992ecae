"""How fast `isv import opportunities` loads a large file, against PostgreSQL's own COPY.

    python -m bench.importer [--rows N] [--runs R] [--backend postgresql|sqlite]

Each run makes a throwaway database (see bench/demo_build.py for where), migrates it, loads
the demo's users and partners (`load_demo(opportunities=0)`), writes a CSV of N deals in the
import format (deterministic: the same N gives the same file), and then times, each in its
own transaction (the last two rolled back):

- import: `importing.import_file` as `isv import opportunities FILE` runs it: every cell
  checked, references looked up, deals, their synthesized stage history and audit entries
  written;
- again: the same file once more: every row is compared and found unchanged, nothing written;
- COPY of the file (PostgreSQL only): `COPY ... FROM STDIN (FORMAT csv, HEADER)` of the
  same bytes into a scratch table with the file's columns and no constraints: loading text
  with no checks and no references resolved;
- COPY of the deals (PostgreSQL only): the 100,000 opportunity rows the import wrote,
  COPYed into the opportunities table they live in, emptied first, with its indexes,
  foreign keys and checks: PostgreSQL's own bulk load of the same rows;
- COPY of all it wrote (PostgreSQL only): those deals and also their history rows and
  audit entries, which the import must write too: the floor for any importer of this
  schema, with no Python at all.

Each run is repeated on a fresh database (--runs, default 5) and the median of each run's
ratio is printed: the speed of these shared machines drifts by a third within seconds, so
one run's ratio says little.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import text

from bench.demo_build import postgres_database, sqlite_database
from bench.support import restoring_database, use_database
from isv import migrate
from isv.auth import Viewer
from isv.db import get_engine, session_scope
from isv.demo import DEMO_LOGINS, LOST_REASONS, PARTNERS, load_demo
from isv.models import OPEN_STAGES
from isv.services import importing

_SCRATCH = """
CREATE TABLE bench_copy_opportunities (
    external_id varchar(100), partner varchar(255), customer_name varchar(255),
    customer_contact_email varchar(255), deal_value numeric(12, 2), stage varchar(50),
    probability numeric(5, 2), expected_close_date date, actual_close_date date,
    owner_email varchar(255), lost_reason varchar(500), notes text, created_at timestamptz
)
"""


@dataclass(frozen=True)
class Result:
    backend: str
    rows: int
    import_s: float
    import_cpu_s: float   # CPU time of this process (parse, checks, building rows): not the DB's
    again_s: float
    copy_s: float | None
    copy_deals_s: float | None = None   # COPY of the same deals into the opportunities table
    copy_tables_s: float | None = None  # ... and of their history rows and audit entries

    def rate(self, seconds: float) -> float:
        return self.rows / seconds if seconds else 0.0


def opportunities_csv(rows: int, today: date, seed: int = 7) -> bytes:
    """N deals over the demo's partners and people, a quarter of them closed."""
    rng = random.Random(seed)
    owners = [email for email, _, role, _ in DEMO_LOGINS if role != "admin"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([c.name for c in importing.COLUMNS["opportunities"]])
    start = datetime.combine(today - timedelta(days=700), datetime.min.time(), tzinfo=UTC)
    for n in range(rows):
        created = start + timedelta(seconds=rng.randint(0, 600 * 86400))
        stage = rng.choice((*OPEN_STAGES, "closed_won", "closed_lost"))
        closed = stage.startswith("closed")
        close = created.date() + timedelta(days=rng.randint(0, 90)) if closed else None
        if close is not None and close >= today:
            close = today - timedelta(days=1)
        writer.writerow([
            f"BENCH-{n + 1:07d}", rng.choice(PARTNERS)[0], f"Customer {n + 1}",
            f"buyer{n + 1}@customer{n % 997}.example", f"{rng.randint(5_000, 900_000)}.00",
            stage, "", (created.date() + timedelta(days=rng.randint(30, 200))).isoformat(),
            close.isoformat() if close else "", rng.choice(owners),
            rng.choice(LOST_REASONS) if stage == "closed_lost" else "",
            "Imported from the CRM." if n % 9 == 0 else "", created.isoformat(),
        ])
    return out.getvalue().encode()


def _timed_import(url: str, data: bytes) -> tuple[float, float, importing.ImportReport]:
    started, cpu = time.perf_counter(), time.process_time()
    with session_scope(url) as session:
        report = importing.import_file(session=session, viewer=Viewer.system("bench"),
                                      entity="opportunities", data=data,
                                      filename="opportunities.csv")
        if not report.ok:
            raise RuntimeError("\n".join(report.error_lines()[:10]))
        session.commit()
    return time.perf_counter() - started, time.process_time() - cpu, report


def _timed_copy(url: str, data: bytes) -> float:
    engine = get_engine(url)
    with engine.begin() as conn:
        conn.execute(text(_SCRATCH))
    raw = engine.raw_connection()
    try:
        started = time.perf_counter()
        with raw.driver_connection.cursor() as cursor:
            with cursor.copy("COPY bench_copy_opportunities FROM STDIN "
                             "(FORMAT csv, HEADER true)") as copy:
                copy.write(data)
        raw.commit()
        return time.perf_counter() - started
    finally:
        raw.close()


# What one import of new deals writes, table by table (the audit entries: one per deal).
_WRITTEN = (
    ("opportunities", "TRUE"),
    ("opportunity_stage_history", "TRUE"),
    ("audit_log", "entity_type = 'opportunity' AND action = 'create'"),
)


def _timed_copy_into_tables(url: str) -> tuple[float, float]:
    """COPY of exactly the rows the import wrote into the real tables, then rolled back.

    Returns (the deals alone, everything the import wrote): the first is PostgreSQL's COPY
    of the same 100,000 opportunity rows into the table they live in, with its indexes,
    foreign keys and checks; the second adds their history rows and audit entries, the
    floor for any importer of this schema, with no Python at all. Inside one transaction
    that is rolled back, the three tables are emptied (TRUNCATE: fresh files and indexes,
    as before the import, and still written to the WAL at wal_level replica), the rows the
    import did not write are put back untimed, and the import's rows are COPYed in, timed.
    """
    raw = get_engine(url).raw_connection()
    try:
        conn = raw.driver_connection
        saved = []
        with conn.cursor() as cursor:
            for table, where in _WRITTEN:
                saved.append((table, _copied_out(cursor, table, f"NOT ({where})"),
                              _copied_out(cursor, table, where)))
            cursor.execute("TRUNCATE " + ", ".join(t for t, _ in _WRITTEN) + " CASCADE")
            for table, others, _ in saved:
                _copy_in(cursor, table, others)
            timed = []
            for table, _, written in saved:
                started = time.perf_counter()
                _copy_in(cursor, table, written)
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                timed.append(time.perf_counter() - started)
        conn.rollback()
        return timed[0], sum(timed)
    finally:
        raw.close()


def _copied_out(cursor, table: str, where: str) -> bytes:
    out = bytearray()
    with cursor.copy(f"COPY (SELECT * FROM {table} WHERE {where}) TO STDOUT "
                     "(FORMAT binary)") as copy:
        for chunk in copy:
            out += chunk
    return bytes(out)


def _copy_in(cursor, table: str, data: bytes) -> None:
    with cursor.copy(f"COPY {table} FROM STDIN (FORMAT binary)") as copy:
        copy.write(data)


def run(url: str, backend: str, rows: int) -> Result:
    # As `isv import` runs: the configured database is the one imported into, so the
    # settings the importer reads (time zone, default probabilities) come from there.
    use_database(url)
    migrate.upgrade(url)
    with session_scope(url) as session:
        summary = load_demo(session=session, opportunities=0)
        session.commit()
    data = opportunities_csv(rows, summary.today)
    import_s, import_cpu_s, report = _timed_import(url, data)
    assert report.entities[0].created == rows, report.entities[0].summary()
    again_s, _, report = _timed_import(url, data)
    assert report.entities[0].unchanged == rows, report.entities[0].summary()
    copy_s = _timed_copy(url, data) if backend == "postgresql" else None
    deals_s, tables_s = (_timed_copy_into_tables(url) if backend == "postgresql"
                         else (None, None))
    return Result(backend=backend, rows=rows, import_s=import_s, import_cpu_s=import_cpu_s,
                  again_s=again_s, copy_s=copy_s, copy_deals_s=deals_s,
                  copy_tables_s=tables_s)


_REFERENCES = (
    ("COPY of the file into a bare table", "copy_s"),
    ("COPY of the deals into opportunities", "copy_deals_s"),
    ("COPY of all rows the import wrote", "copy_tables_s"),
)


def main(argv: list[str] | None = None) -> list[Result]:
    parser = argparse.ArgumentParser(prog="python -m bench.importer", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5,
                        help="times to repeat it all, each on a fresh database (default 5)")
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), action="append",
                        help="run only this backend (repeatable); default postgresql")
    args = parser.parse_args(argv)
    backends = args.backend or ["postgresql"]

    print(f"import, {args.rows:,} opportunities from one CSV file, {args.runs} run(s)")
    results = []
    for backend in backends:
        database = postgres_database if backend == "postgresql" else sqlite_database
        ran = []
        for _ in range(args.runs):
            try:
                with restoring_database(), database() as url:
                    result = run(url, backend, args.rows)
            except Exception as exc:  # a missing server should not hide the other figure
                print(f"  {backend:<10} skipped: {type(exc).__name__}: "
                      f"{str(exc).splitlines()[0]}")
                break
            ran.append(result)
            _print_run(result)
        if len(ran) > 1:
            _print_medians(ran)
        results += ran
    return results


def _print_run(result: Result) -> None:
    print(f"  {result.backend:<10} import {result.import_s:6.1f} s  "
          f"{result.rate(result.import_s):>9,.0f} rows/s   "
          f"(importer CPU {result.import_cpu_s:.1f} s)   "
          f"again (all unchanged) {result.again_s:5.1f} s")
    for label, name in _REFERENCES:
        seconds = getattr(result, name)
        if seconds is not None:
            print(f"  {'':<10} {label:<38} {seconds:6.2f} s   "
                  f"import / this {result.import_s / seconds:5.1f}")


def _print_medians(ran: list[Result]) -> None:
    """Each run's ratio is import and reference measured minutes apart on one database."""
    print(f"  {ran[0].backend:<10} median of {len(ran)} runs: import "
          f"{statistics.median(r.import_s for r in ran):.1f} s")
    for label, name in _REFERENCES:
        if getattr(ran[0], name) is not None:
            ratio = statistics.median(r.import_s / getattr(r, name) for r in ran)
            print(f"  {'':<10} import / {label:<38} {ratio:5.1f}")


if __name__ == "__main__":
    main()
