"""kill -9 at random moments: no acknowledged write lost, nothing half-written, no duplicates.

    python -m bench crash [--runs R] [--rows N] [--seed S]

On PostgreSQL (a database of its own, dropped at the end), three kinds of run, R of each:

- writes: a process saves deals through the services in a loop (a new deal, or a stage
  move based on the version it last saw), appending a line to a file and fsyncing it only
  after each commit; it is killed with SIGKILL at a random moment. Every acknowledged
  write must be there (the deal, at least at its acknowledged version, and in its
  acknowledged stage if nothing later landed), and every deal must have one stage-history
  row per version, the last one into its current stage (no deal without its history row).
- import: `isv import opportunities` of an N-row file (100,000 by default) is killed at a
  random moment; the file's deals must be all there or none, each with its history row.
  The import is then run to the end, and once more: the second creates nothing.
- scheduler: `python -m scheduler --once rollover` over 2,000 overdue tasks is killed at a
  random moment; the tasks must be all rolled or none, each rolled task with exactly one
  successor. The job is then run to the end, and once more: it adds no task.

Prints each run and the totals (runs, violations); the figures go in bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine, select, text

from bench import support

ADMIN_URL = os.environ.get("ISV_TEST_POSTGRES_URL",
                           "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ROOT = Path(__file__).resolve().parents[1]
TASKS = 2000


def _database() -> tuple[str, str]:
    name = f"writes_crash_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return name, ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def _drop(name: str) -> None:
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _env(url: str) -> dict[str, str]:
    return {**os.environ, "ISV_DATABASE_URL": url, "ISV_ANALYTICS_REFRESH": "0"}


def _setup(url: str) -> None:
    from isv import migrate
    from isv.auth import Viewer
    from isv.db import session_scope
    from isv.services import partners, users

    migrate.upgrade(url)
    support.use_database(url)
    system = Viewer.system("bench")
    with session_scope() as session:
        users.create_user(session=session, viewer=system, email="crash@example.com",
                          first_name="Cora", last_name="Crash", role="vp")
        partners.create_partner(session=session, viewer=system, name="Crash partner",
                                domain="FinOps")
        session.commit()


def _kill_at(cmd: list[str], url: str, delay: float, started=None) -> bool:
    """Start cmd, SIGKILL it `delay` seconds after `started()` holds (or after the start);
    return whether it was still running then."""
    proc = subprocess.Popen(cmd, env=_env(url), cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, text=True)
    # Starting Python and importing the app takes seconds on a loaded machine: the random
    # moment is counted from when the work has begun, not from the fork.
    deadline = time.monotonic() + 120
    while started is not None and not started() and proc.poll() is None \
            and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        proc.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return True


# --- writes through the services ---------------------------------------------------------

def writer(url: str, ack_path: str, seed: int) -> None:
    """The loop that is killed: save, commit, then acknowledge (append + fsync)."""
    from isv.auth import Viewer
    from isv.db import session_scope
    from isv.models import OPEN_STAGES, Partner, User
    from isv.services import opportunities as opps

    support.use_database(url)
    rng = random.Random(seed)
    with session_scope() as session:
        viewer = Viewer.of(session.scalar(select(User).where(User.email == "crash@example.com")))
        partner_id = session.scalar(select(Partner.id))
    known: dict[str, tuple[str, int]] = {}
    with open(ack_path, "a", encoding="utf-8") as ack:
        while True:
            if not known or rng.random() < 0.3:
                with session_scope() as session:
                    deal = opps.create_opportunity(
                        session=session, viewer=viewer, partner_id=partner_id,
                        customer_name=f"Crash {rng.randrange(10**9)}",
                        deal_value=Decimal(rng.randrange(100, 10**6)))
                    deal_id, stage, version = str(deal.id), deal.stage, deal.version
                    session.commit()
            else:
                deal_id = rng.choice(sorted(known))
                current, seen = known[deal_id]
                to = rng.choice([s for s in OPEN_STAGES if s != current])
                with session_scope() as session:
                    deal = opps.move_stage(session=session, viewer=viewer,
                                           opportunity_id=deal_id, to_stage=to,
                                           expected_version=seen)
                    stage, version = deal.stage, deal.version
                    session.commit()
            known[deal_id] = (stage, version)
            ack.write(f"{deal_id} {stage} {version}\n")
            ack.flush()
            os.fsync(ack.fileno())


def _history_violations(conn, where: str = "") -> list[str]:
    """Deals whose stage-history rows do not match their versions and stage."""
    rows = conn.execute(text(
        "SELECT o.id, o.stage, o.version, count(h.id), "
        " (SELECT h2.to_stage FROM opportunity_stage_history h2 WHERE h2.opportunity_id = o.id"
        "  ORDER BY h2.changed_at DESC, h2.from_stage IS NOT NULL DESC LIMIT 1) "
        "FROM opportunities o LEFT JOIN opportunity_stage_history h ON h.opportunity_id = o.id "
        f"{where} GROUP BY o.id, o.stage, o.version")).all()
    return [f"deal {r[0]}: version {r[2]}, {r[3]} history rows, stage {r[1]} vs last {r[4]}"
            for r in rows if r[3] != r[2] or r[4] != r[1]]


def run_writes(url: str, rng: random.Random) -> tuple[int, list[str]]:
    ack_path = f"/tmp/writes_crash_ack_{uuid.uuid4().hex[:8]}"
    Path(ack_path).touch()
    _kill_at([sys.executable, "-m", "bench.crash", "_writer", url, ack_path,
              str(rng.randrange(10**9))], url, rng.uniform(0.0, 8.0),
             started=lambda: Path(ack_path).stat().st_size > 0)
    lines = Path(ack_path).read_text().split("\n")
    Path(ack_path).unlink()
    acked: dict[str, tuple[str, int]] = {}
    for line in lines:
        parts = line.split()
        if len(parts) == 3:  # the last line may have been cut by the kill
            acked[parts[0]] = (parts[1], int(parts[2]))
    problems = []
    engine = create_engine(url)
    with engine.connect() as conn:
        stored = {str(r[0]): (r[1], r[2]) for r in conn.execute(
            text("SELECT id, stage, version FROM opportunities"))}
        for deal_id, (stage, version) in acked.items():
            if deal_id not in stored:
                problems.append(f"acknowledged deal {deal_id} is missing")
            elif stored[deal_id][1] < version or (
                    stored[deal_id][1] == version and stored[deal_id][0] != stage):
                problems.append(f"deal {deal_id}: acknowledged {stage} v{version}, "
                                f"stored {stored[deal_id]}")
        problems += _history_violations(conn)
    engine.dispose()
    return len(acked), problems


# --- the import ----------------------------------------------------------------------------

def _import_file(rows: int) -> Path:
    path = Path(f"/tmp/writes_crash_import_{rows}.csv")
    if not path.exists():
        with path.open("w", encoding="utf-8") as out:
            out.write("external_id,partner,customer_name,deal_value,stage\n")
            for n in range(rows):
                out.write(f"CR-{n:07d},Crash partner,Customer {n},{1000 + n % 5000}.00,lead\n")
    return path


def _isv() -> str:
    return str(Path(sys.executable).with_name("isv"))


def run_import(url: str, rng: random.Random, rows: int, seconds: float
               ) -> tuple[str, list[str]]:
    path = _import_file(rows)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM opportunity_stage_history"))
        conn.execute(text("DELETE FROM opportunities"))
    killed = _kill_at([_isv(), "import", "opportunities", str(path)], url,
                      rng.uniform(0.5, seconds))
    problems = []
    with engine.connect() as conn:
        count = conn.scalar(text("SELECT count(*) FROM opportunities"))
        if count not in (0, rows):
            problems.append(f"{count} of {rows} rows after the kill: partly applied")
        problems += _history_violations(conn)
    for attempt in ("rerun", "second rerun"):
        done = subprocess.run([_isv(), "import", "opportunities", str(path)], env=_env(url),
                              cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            problems.append(f"{attempt} failed: {done.stderr.strip()[-300:]}")
        with engine.connect() as conn:
            count = conn.scalar(text("SELECT count(*) FROM opportunities"))
        if count != rows:
            problems.append(f"{count} deals after the {attempt}, not {rows}")
        if attempt == "second rerun" and \
                f"0 created, 0 updated, {rows:,} unchanged" not in done.stdout:
            problems.append(f"the second rerun reported: {done.stdout.strip()[:200]}")
    engine.dispose()
    return ("killed mid-import" if killed else "finished before the kill"), problems


# --- the scheduler ------------------------------------------------------------------------

def _overdue_tasks(url: str) -> None:
    from isv.db import session_scope
    from isv.models import Task, User
    from isv.services.settings import local_today

    support.use_database(url)
    with session_scope() as session:
        session.execute(text("DELETE FROM tasks"))
        owner = session.scalar(select(User.id).where(User.email == "crash@example.com"))
        due = local_today() - timedelta(days=21)
        session.add_all(Task(user_id=owner, title=f"Overdue {n}", priority="medium",
                             status="pending", due_date=due) for n in range(TASKS))
        session.commit()


def run_scheduler(url: str, rng: random.Random) -> tuple[str, list[str]]:
    _overdue_tasks(url)
    cmd = [sys.executable, "-m", "scheduler", "--once", "rollover"]
    killed = _kill_at(cmd, url, rng.uniform(0.3, 4.0))
    engine = create_engine(url)
    problems = []

    def check(after: str) -> int:
        with engine.connect() as conn:
            rolled = conn.scalar(text("SELECT count(*) FROM tasks WHERE status = 'rolled_over'"))
            successors = conn.scalar(text(
                "SELECT count(*) FROM tasks WHERE rolled_over_from IS NOT NULL"))
            total = conn.scalar(text("SELECT count(*) FROM tasks"))
        if rolled not in (0, TASKS) or successors != rolled:
            problems.append(f"after the {after}: {rolled} rolled, {successors} successors")
        return total

    check("kill")
    for attempt in ("rerun", "second rerun"):
        done = subprocess.run(cmd, env=_env(url), cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            problems.append(f"{attempt} failed: {done.stdout[-300:]} {done.stderr[-300:]}")
        total = check(attempt)
        if total != 2 * TASKS:
            problems.append(f"{total} tasks after the {attempt}, not {2 * TASKS}")
    engine.dispose()
    return ("killed mid-job" if killed else "finished before the kill"), problems


def main(argv: list[str]) -> None:
    if argv and argv[0] == "_writer":
        writer(argv[1], argv[2], int(argv[3]))
        return
    parser = argparse.ArgumentParser(prog="python -m bench crash")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--import-seconds", type=float, default=20.0,
                        help="kill the import at a random moment up to this long after start")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--only", choices=("writes", "import", "scheduler"))
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    print(f"seed {args.seed}, load average {os.getloadavg()[0]:.1f}")
    name, url = _database()
    totals: dict[str, list[int]] = {}
    try:
        with support.restoring_database():
            _setup(url)
            for kind in ("writes", "import", "scheduler"):
                if args.only and kind != args.only:
                    continue
                runs = violations = 0
                for n in range(args.runs):
                    if kind == "writes":
                        acked, problems = run_writes(url, rng)
                        what = f"{acked} acknowledged writes"
                    elif kind == "import":
                        what, problems = run_import(url, rng, args.rows, args.import_seconds)
                    else:
                        what, problems = run_scheduler(url, rng)
                    runs += 1
                    violations += len(problems)
                    print(f"{kind} run {n + 1}: {what}; {len(problems)} violations"
                          + "".join(f"\n  {p}" for p in problems[:5]), flush=True)
                totals[kind] = [runs, violations]
    finally:
        support.use_database(None)
        _drop(name)
    for kind, (runs, violations) in totals.items():
        print(f"{kind}: {runs} runs, {violations} violations")
    if any(v for _, v in totals.values()):
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
