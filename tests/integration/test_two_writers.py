"""Two people save the same deal at once: one save wins, the other is refused, none is lost.

What the product promises (DESIGN.md, "version"): a save carries the version its page was
drawn from and changes only what the user changed; a save whose page was drawn before
someone else's save landed is refused with "Changed by X at T — reload to see their
change", even when the two touched different fields (they are never merged: the second
person has not seen the first one's change). A save drawn after the other landed simply
applies on top of it.

Each round, two writers — each one of the grid save, the deal page's form, a board move
or an import updating the deal by its external id — read the deal as their page does,
then run through the same service calls the pages make, interleaved at random. A writer
runs in a greenlet of its own and pauses after its read and before each flush (where it
would take the row's write lock); the scheduler picks who goes next, and never lets one
writer flush while the other holds the lock, which is what the database would make it
wait for. So each round really interleaves two transactions, on one thread, from a seed
printed with any failure.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import greenlet
import pytest
from sqlalchemy import Engine, delete, event, func, select, update
from sqlalchemy.orm import Session

from isv import display
from isv.auth import Viewer
from isv.db import get_engine, session_scope
from isv.errors import Conflict
from isv.models import AuditEntry, Opportunity, StageHistory
from isv.rules.defaults import DEFAULT_PROBABILITY
from isv.services import deal_grid, importing, partners, users
from isv.services import opportunities as opps
from isv.ui import grid
from tests.conftest import fresh_migrated
from tests.integration.conftest import clear_caches

SEED = int(os.environ.get("ISV_INTERLEAVING_SEED", "16016"))
# 120 rounds per database in `make test`; `make test-long` runs 1,000 (tests/README.md).
ROUNDS = int(os.environ.get("ISV_INTERLEAVING_ROUNDS", "120"))
KINDS = ("grid", "detail", "board", "import")
EXTERNAL_ID = "RACE-1"
BASE = dict(customer_name="Northwind", deal_value=Decimal("50000.00"), stage="lead",
            probability=Decimal(10), expected_close_date=None, actual_close_date=None,
            lost_reason=None, notes=None)
CHECKED = tuple(BASE)


def conflict_message(name: str, at: Any) -> str:
    """The words the refused person reads, next to the grid row, form, card or import row."""
    return f"Changed by {name} at {display.moment(at)} — reload to see their change"


@dataclass
class Writer:
    n: int
    kind: str
    viewer: Viewer
    rng: random.Random
    expect: dict[str, Any] = field(default_factory=dict)
    paused_at: str = "start"
    holds_lock: bool = False
    read_seq: int = -1
    done_seq: int = -1
    applied: bool = False
    refusal: str | None = None


class Interleaver:
    """Runs two writers as greenlets, resuming one at a time at random."""

    def __init__(self) -> None:
        self.seq = itertools.count()
        self.by_greenlet: dict[Any, Writer] = {}
        event.listen(Session, "before_flush", self._before_flush)
        event.listen(Session, "after_transaction_end", self._released)
        event.listen(Engine, "before_cursor_execute", self._before_execute)

    def close(self) -> None:
        event.remove(Session, "before_flush", self._before_flush)
        event.remove(Session, "after_transaction_end", self._released)
        event.remove(Engine, "before_cursor_execute", self._before_execute)

    def _pause(self, at: str) -> None:
        writer = self.by_greenlet.get(greenlet.getcurrent())
        if writer is not None:
            writer.paused_at = at
            greenlet.getcurrent().parent.switch()

    def _before_flush(self, session, _context, _instances) -> None:
        self._pause("flush")

    def _before_execute(self, _conn, _cursor, statement, *_args) -> None:
        if statement.startswith("BEGIN IMMEDIATE"):  # the importer taking SQLite's lock
            self._pause("flush")

    def _released(self, _session, transaction) -> None:
        writer = self.by_greenlet.get(greenlet.getcurrent())
        if writer is not None and transaction.parent is None:  # not a savepoint
            writer.holds_lock = False

    def run(self, writers: list[Writer], deal_id, rng: random.Random) -> None:
        glets = {}
        for w in writers:
            g = greenlet.greenlet(lambda w=w: self._writer(w, deal_id))
            self.by_greenlet[g] = w
            glets[w.n] = g
        try:
            while True:
                live = [w for w in writers if w.paused_at != "done"]
                if not live:
                    return
                ready = [w for w in live if not (
                    w.paused_at == "flush" and any(o.holds_lock for o in writers if o is not w))]
                w = rng.choice(ready)
                if w.paused_at == "flush":
                    w.holds_lock = True
                glets[w.n].switch()
        finally:
            self.by_greenlet.clear()

    def _writer(self, w: Writer, deal_id) -> None:
        act = READERS[w.kind](w, deal_id)
        w.read_seq = next(self.seq)
        if w.kind != "import":
            # An import reads the deal itself, in its own transaction, when it runs.
            self._pause("read")
        act()
        w.done_seq = next(self.seq)
        w.paused_at = "done"
        w.holds_lock = False


# --- what each page reads, and how it saves ------------------------------------------------

def _money(rng: random.Random) -> Decimal:
    return Decimal(rng.randrange(1_000_00, 900_000_00)) / 100


def _new_value(w: Writer, name: str, current: Any) -> Any:
    """A value for `name` that differs from what the writer read."""
    make = {
        "deal_value": lambda: _money(w.rng),
        "notes": lambda: f"writer {w.n} note {w.rng.randrange(10**6)}",
        "customer_name": lambda: f"Customer {w.rng.randrange(10**6)}",
        "expected_close_date": lambda: date(2027, 1, 1) + timedelta(days=w.rng.randrange(300)),
        "probability": lambda: Decimal(w.rng.randrange(1, 100)),
    }[name]
    value = make()
    while value == current:
        value = make()
    return value


def _edit(w: Writer, current: dict[str, Any]) -> dict[str, Any]:
    """One or two fields a person changes on a form or in the grid, each to a new value."""
    names = ["deal_value", "notes", "customer_name", "expected_close_date"]
    if w.kind == "grid":
        names.append("probability")
    return {name: _new_value(w, name, current[name])
            for name in w.rng.sample(names, w.rng.choice((1, 2)))}


def _other_stage(w: Writer, current: str, stages=opps.STAGES) -> str:
    return w.rng.choice([s for s in stages if s != current])


def _stage_expect(to: str) -> dict[str, Any]:
    return {"stage": to, "probability": DEFAULT_PROBABILITY[to]}


def _refused(w: Writer, message: str) -> None:
    w.refusal = message


def read_grid(w: Writer, deal_id):
    with session_scope() as session:
        rows, _ = opps.list_opportunities(
            session=session, viewer=w.viewer,
            filters=opps.OpportunityFilters(opportunity_ids=(deal_id,)))
    row = rows[0]
    change = _edit(w, {f: getattr(row, f) for f in CHECKED})
    w.expect = dict(change)
    cells = {grid.COLUMN_OF[f]: (float(v) if isinstance(v, Decimal) else v)
             for f, v in change.items()}

    def save() -> None:
        result = grid.save_changes(viewer=w.viewer, rows=rows,
                                   state={"edited_rows": {0: cells}})
        if result.updated == 1 and not result.problems:
            w.applied = True
        else:
            assert [p.field for p in result.problems] == [deal_grid.WHOLE_ROW], result.problems
            _refused(w, result.problems[0].reason)
    return save


def read_detail(w: Writer, deal_id):
    with session_scope() as session:
        opp = opps.get_opportunity(session=session, viewer=w.viewer, opportunity_id=deal_id)
        base, current = opp.version, {f: getattr(opp, f) for f in CHECKED}
    change = _edit(w, current)
    if w.rng.random() < 0.3:
        change["stage"] = _other_stage(w, current["stage"], opps.OPEN_STAGES)
    w.expect = dict(change)
    if "stage" in change:
        w.expect.update(_stage_expect(change["stage"]))

    def save() -> None:
        try:
            with session_scope() as session:
                opps.update_opportunity(session=session, viewer=w.viewer,
                                        opportunity_id=deal_id, expected_version=base,
                                        note=None, **change)
                session.commit()
            w.applied = True
        except Conflict as exc:
            _refused(w, str(exc))
    return save


def read_board(w: Writer, deal_id):
    with session_scope() as session:
        columns = opps.top_by_stage(
            session=session, viewer=w.viewer,
            filters=opps.OpportunityFilters(opportunity_ids=(deal_id,)))
    card = next(c for cards in columns.values() for c in cards)
    to = _other_stage(w, card.stage)
    w.expect = _stage_expect(to)
    if to == "closed_lost":
        w.expect["lost_reason"] = "No budget"

    def save() -> None:
        try:
            with session_scope() as session:
                opps.move_stage(session=session, viewer=w.viewer, opportunity_id=card.id,
                                to_stage=to, expected_version=card.version,
                                lost_reason="No budget" if to == "closed_lost" else None)
                session.commit()
            w.applied = True
        except Conflict as exc:
            _refused(w, str(exc))
    return save


def read_import(w: Writer, deal_id):
    """A file made from the deal as it stands, changing one field, imported at once."""
    with session_scope() as session:
        opp = opps.get_opportunity(session=session, viewer=w.viewer, opportunity_id=deal_id)
        current = {f: getattr(opp, f) for f in CHECKED}
        partner_name = opp.partner.name
    row = {"external_id": EXTERNAL_ID, "partner": partner_name,
           "customer_name": current["customer_name"], "deal_value": current["deal_value"],
           "stage": current["stage"]}
    name = w.rng.choice(("deal_value", "notes", "customer_name", "stage"))
    if name == "stage" and current["stage"] not in opps.OPEN_STAGES:
        name = "notes"
    if name == "stage":
        row["stage"] = _other_stage(w, current["stage"], opps.OPEN_STAGES)
        w.expect = _stage_expect(row["stage"])
    else:
        row[name] = _new_value(w, name, current[name])
        w.expect = {name: row[name]}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(row))
    writer.writeheader()
    writer.writerow(row)
    data = out.getvalue().encode()

    def save() -> None:
        with session_scope() as session:
            report = importing.import_file(session=session, viewer=w.viewer,
                                          entity="opportunities", data=data,
                                          filename="opportunities.csv")
            session.commit()
        if report.ok:
            assert report.entities[0].updated == 1, report.summary()
            w.applied = True
        else:
            errors = report.errors
            assert [e.column for e in errors] == ["external_id"], errors
            _refused(w, errors[0].reason)
    return save


READERS = {"grid": read_grid, "detail": read_detail, "board": read_board,
           "import": read_import}


# --- the database: one deal, reset between rounds ----------------------------------------

@pytest.fixture(params=["sqlite", "postgresql"])
def race_url(request, tmp_path, monkeypatch):
    """A migrated database the configured settings point at (grid saves open their own)."""
    url = fresh_migrated(request, request.param, tmp_path / "race.db")
    monkeypatch.setenv("ISV_DATABASE_URL", url)
    clear_caches()
    # A thousand rounds commit a few thousand times: not one of them needs to reach the disk.
    if request.param == "sqlite":
        event.listen(get_engine(), "connect",
                     lambda dbapi, _record: dbapi.execute("PRAGMA synchronous=OFF"))
    else:
        with get_engine().connect() as conn:
            conn.exec_driver_sql(f'ALTER DATABASE "{get_engine().url.database}" '
                                 "SET synchronous_commit = off")
            conn.commit()
        get_engine().dispose()
    yield url
    get_engine().dispose()
    clear_caches()


def _people_and_deal() -> tuple[list[Viewer], Any, dict[Any, str]]:
    system = Viewer.system("tests")
    with session_scope() as session:
        people = [users.create_user(session=session, viewer=system, email=f"{e}@example.com",
                                    first_name=first, last_name=last, role="sales_manager")
                  for e, first, last in (("ada", "Ada", "First"), ("ben", "Ben", "Second"))]
        partner = partners.create_partner(session=session, viewer=system, name="Ledgerline",
                                          domain="FinOps")
        viewer = Viewer.of(people[0])
        deal = opps.create_opportunity(session=session, viewer=viewer, partner_id=partner.id,
                                       external_id=EXTERNAL_ID, **{
                                           k: v for k, v in BASE.items()
                                           if k in ("customer_name", "deal_value", "stage")})
        names = {p.id: p.full_name for p in people}
        done = [Viewer.of(p) for p in people], deal.id, names
        session.commit()
        return done


def _reset(deal_id) -> None:
    with session_scope() as session:
        session.execute(update(Opportunity).where(Opportunity.id == deal_id)
                        .values(**BASE, version=1, updated_by_id=None))
        session.execute(delete(StageHistory).where(StageHistory.opportunity_id == deal_id,
                                                   StageHistory.from_stage.is_not(None)))
        session.execute(delete(AuditEntry).where(AuditEntry.entity_id == str(deal_id)))
        session.commit()


def _stored(deal_id) -> tuple[dict[str, Any], int, Any, Any, int]:
    with session_scope() as session:
        opp = session.get(Opportunity, deal_id)
        moves = session.scalar(select(func.count()).select_from(StageHistory).where(
            StageHistory.opportunity_id == deal_id, StageHistory.from_stage.is_not(None)))
        return ({f: getattr(opp, f) for f in CHECKED}, opp.version, opp.updated_by_id,
                opp.updated_at, moves)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return a is not None and b is not None and Decimal(a) == Decimal(b)
    return a == b


def check_round(writers: list[Writer], deal_id, names: dict[Any, str], start_stage: str
                ) -> list[str]:
    """What went wrong in one round (empty: every write applied or refused as promised)."""
    stored, version, by, at, moves = _stored(deal_id)
    first, second = sorted(writers, key=lambda w: w.done_seq)
    overlapped = second.read_seq < first.done_seq
    problems = []
    applied = [w for w in writers if w.applied]
    if overlapped:
        if len(applied) != 1:
            problems.append(f"{len(applied)} of two overlapping saves applied")
    elif len(applied) != 2:
        problems.append("a save drawn after the other one landed was refused")
    for w in writers:
        if not w.applied:
            winner = names.get(by)
            if w.refusal != conflict_message(winner, at):
                problems.append(f"writer {w.n} ({w.kind}) was told {w.refusal!r}, not "
                                f"{conflict_message(winner, at)!r}")
    expected = dict(BASE)
    stage_moves = 0
    stage = start_stage
    for w in sorted(applied, key=lambda w: w.done_seq):
        expected.update(w.expect)
        if expected["stage"] != stage:
            stage_moves += 1
            stage = expected["stage"]
    for name in set(expected):
        if name in ("actual_close_date", "lost_reason"):
            continue  # follow from the stage, by settle_stage's rules
        if not _same(stored[name], expected[name]):
            problems.append(f"{name} is {stored[name]!r}, expected {expected[name]!r} "
                            "(a write was lost or overwritten)")
    if version != 1 + len(applied):
        problems.append(f"version {version} after {len(applied)} applied saves")
    if moves != stage_moves:
        problems.append(f"{moves} stage-history rows for {stage_moves} stage changes")
    return problems


@pytest.mark.postgres
def test_two_writers_on_one_deal_never_both_win_and_never_lose_a_write(race_url):
    """1,000 seeded interleavings of grid, form, board and import saves on one deal."""
    viewers, deal_id, names = _people_and_deal()
    rng = random.Random(SEED)
    interleaver = Interleaver()
    tally: dict[str, int] = {"overlapped": 0, "sequential": 0}
    try:
        for n in range(ROUNDS):
            _reset(deal_id)
            kinds = (rng.choice(KINDS), rng.choice(KINDS))
            writers = [Writer(i, kind, viewers[i], random.Random(rng.random()))
                       for i, kind in enumerate(kinds)]
            try:
                interleaver.run(writers, deal_id, rng)
            except Exception as exc:
                raise AssertionError(f"round {n} of seed {SEED} ({kinds[0]} vs {kinds[1]}) "
                                     f"failed: {exc!r}") from exc
            problems = check_round(writers, deal_id, names, BASE["stage"])
            assert not problems, (
                f"round {n} of seed {SEED} ({kinds[0]} vs {kinds[1]}, "
                f"{ {w.n: (w.read_seq, w.done_seq) for w in writers} }): {problems}")
            first, second = sorted(writers, key=lambda w: w.done_seq)
            tally["overlapped" if second.read_seq < first.done_seq else "sequential"] += 1
    finally:
        interleaver.close()
    # Both kinds of rounds happen, so each rule above was really exercised.
    assert tally["overlapped"] > ROUNDS // 4 and tally["sequential"] > ROUNDS // 25, tally
