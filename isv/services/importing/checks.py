"""What every entity's check shares: the run, the plan of a row, cleaned cells, the handler.

An entity's handler (one module each) cleans every cell with the field cleaner of the
service that owns the field, then applies the rules across fields and the viewer's scope,
and plans what to write; nothing is written unless the whole file is right.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from isv.auth import Viewer
from isv.errors import ValidationError
from isv.models import User
from isv.services import opportunities as opps
from isv.services import validate
from isv.services.validate import blank

from .reading import Row
from .records import TICK, Progress
from .report import Errors


def first_seen(errors: Errors, seen: dict[Any, int], key: Any, row: int, column: str,
               what: str) -> bool:
    """False (and a problem noted) when an earlier row of the file has the same natural key."""
    if key in seen:
        errors.add(row, column, f"same {what} as row {seen[key]}; each may appear once")
        return False
    seen[key] = row
    return True


def required(field_name: str, fn: Callable[[str], Any]) -> Callable[[str], Any]:
    def check(text: str) -> Any:
        if blank(text):
            raise ValidationError(field_name, "is required")
        return fn(text)
    return check


def whole(field_name: str, low: int, high: int) -> Callable[[str], int]:
    def check(text: str) -> int:
        try:
            number = int(text.strip())
        except ValueError:
            raise ValidationError(field_name, f"{text!r} is not a whole number") from None
        if not low <= number <= high:
            raise ValidationError(field_name, f"must be from {low} to {high}")
        return number
    return required(field_name, check)


@dataclass
class Run:
    """What an import reads once, not per row: the clock, the time zone, the settings."""

    session: Session
    viewer: Viewer
    progress: Progress | None
    now: datetime
    today: date
    zone: ZoneInfo
    probabilities: Mapping[str, Any]  # the stages' default probabilities in force

    def tick(self, what: str, done: int, total: int) -> None:
        if self.progress is not None and (done % TICK == 0 or done == total):
            self.progress(what, done, total)


@dataclass
class Plan:
    """What to do with one row: create a record, update one (with these changes), or nothing."""

    row: int
    action: str              # create | update | unchanged
    values: dict[str, Any]   # create: every field; update: the fields that change
    target: Any = None       # the existing record (update, unchanged)


def plan_for(row: int, target: Any, changes: dict[str, Any]) -> Plan:
    return Plan(row, "update" if changes else "unchanged", changes, target)


def differing(current: Any, values: dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    return {f: values[f] for f in fields if f in values and getattr(current, f) != values[f]}


@dataclass
class Cleaned:
    """A row after its cells' checks: the values that passed and the columns that did not.

    Rules that need only good cells still run for a row with bad ones (an unknown partner is
    reported even when the amount in the same row is negative); the row is written only
    when nothing in it is wrong.
    """

    row: Row
    values: dict[str, Any]
    bad: set[str]

    @property
    def number(self) -> int:
        return self.row.number


class Entity(ABC):
    """How one entity's rows are checked and written."""

    name: str
    key_column: str                  # where a problem with the record as a whole is reported
    fields: dict[str, str] = {}      # service field name → file column
    notice: str | None = None        # something the person importing should know

    @abstractmethod
    def check(self, run: Run, rows: list[Row], errors: Errors) -> list[Plan]:
        """Clean every row, collecting every problem, and plan what to write."""

    @abstractmethod
    def write(self, run: Run, plans: list[Plan], errors: Errors) -> None:
        """Write the planned rows."""

    def _cleaned(self, run: Run, rows: list[Row], errors: Errors,
                 cleaners: dict[str, Callable[[str], Any]]) -> list[Cleaned]:
        # What each cleaner makes of an empty cell, worked out once: large files are mostly
        # empty optional cells, and the answer never depends on the row.
        empty: dict[str, tuple[bool, Any]] = {}
        for column, cleaner in cleaners.items():
            try:
                empty[column] = (True, cleaner(""))
            except ValidationError as exc:
                empty[column] = (False, exc.reason)
        out = []
        for done, row in enumerate(rows, start=1):
            values: dict[str, Any] = {}
            bad: set[str] = set()
            for column, cell in row.cells.items():
                if not cell or cell.isspace():
                    ok, outcome = empty[column]
                    if ok:
                        values[column] = outcome
                    else:
                        errors.add(row.number, column, outcome)
                        bad.add(column)
                    continue
                # Inlined rather than errors.attempt: this runs for every cell of large files.
                try:
                    values[column] = cleaners[column](cell)
                except ValidationError as exc:
                    errors.add(row.number, column, exc.reason)
                    bad.add(column)
            out.append(Cleaned(row, values, bad))
            run.tick(f"Checking {self.name}", done, len(rows))
        return out


def resolve_person(errors: Errors, c: Cleaned, column: str, people: dict[str, User],
                   field_name: str) -> bool:
    """Replace an email cell by the user's id under `field_name`; False when no such user."""
    if column not in c.values:
        return column not in c.bad
    email = c.values.pop(column)
    person = people.get(email) if email else None
    if email and person is None:
        errors.add(c.number, column, f"no user with email {email!r}")
        return False
    c.values[field_name] = person.id if person else None
    return True


def moment_cleaner(field_name: str, zone: ZoneInfo) -> Callable[[str], datetime | None]:
    """opps.clean_moment with the run's time zone for times without one, read once per file
    rather than from the settings for every cell."""
    def clean(text: str) -> datetime | None:
        if blank(text):
            return None
        try:
            moment = validate.parse_moment(text)
        except ValueError:
            return opps.clean_moment(field_name, text)  # it says what a time looks like
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=zone)
        return opps.clean_moment(field_name, moment)
    return clean
