"""What an import reports: every problem as `row N, column C: reason`, and what it wrote."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from isv.errors import Conflict, Forbidden, IsvError, NotFound, ValidationError

FILE = "(file)"  # the column named in a problem with the file as a whole


@dataclass(frozen=True)
class RowError:
    """One problem: `row N, column C: reason`; row 1 is the header."""

    row: int
    column: str
    reason: str
    file: str = ""

    def __str__(self) -> str:
        return f"row {self.row}, column {self.column}: {self.reason}"


@dataclass
class EntityReport:
    """What one file did, or would do on a dry run."""

    entity: str
    file: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    unlisted: int = 0  # problems found beyond the first Limits.problems, counted only
    notices: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{self.entity}: {self.created:,} created, {self.updated:,} updated, "
                f"{self.unchanged:,} unchanged")


@dataclass
class ImportReport:
    """The outcome of an import: nothing was written unless `written` is true."""

    dry_run: bool
    entities: list[EntityReport] = field(default_factory=list)
    file_errors: list[RowError] = field(default_factory=list)

    @property
    def errors(self) -> list[RowError]:
        """The problems listed: at most Limits.problems per file."""
        return [*self.file_errors, *(e for report in self.entities for e in report.errors)]

    @property
    def error_count(self) -> int:
        """Every problem found, listed or only counted."""
        return len(self.errors) + sum(report.unlisted for report in self.entities)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def written(self) -> bool:
        return self.ok and not self.dry_run

    def error_lines(self, *, with_file: bool | None = None) -> list[str]:
        """Every problem as a line; prefixed with its file when several files were read."""
        if with_file is None:
            with_file = len(self.entities) > 1 or bool(self.file_errors)
        lines = [f"{e.file}: {e}" if with_file and e.file else str(e)
                 for e in self.file_errors]
        for report in self.entities:
            lines += [f"{e.file}: {e}" if with_file and e.file else str(e)
                      for e in report.errors]
            if report.unlisted:
                more = (f"and {report.unlisted:,} more problem"
                        f"{'s' if report.unlisted != 1 else ''} (only the first "
                        f"{len(report.errors):,} of a file are listed)")
                lines.append(f"{report.file}: {more}" if with_file else more)
        return lines


class ImportRejected(IsvError):
    """An import found problems and wrote nothing; the report lists every one."""

    def __init__(self, report: ImportReport):
        count = report.error_count
        super().__init__(f"{count:,} problem{'s' if count != 1 else ''}; nothing was imported")
        self.report = report


BAD = object()  # a cell that failed its check


class Errors:
    """The problems of one file, in the order found: the first `limit` listed, the rest counted.

    A file can hold millions of problems; listing them all would fill the memory, and the
    page would send them all to the browser.
    """

    def __init__(self, file: str, limit: int):
        self.file = file
        self.limit = limit
        self.items: list[RowError] = []
        self.unlisted = 0

    def add(self, row: int, column: str, reason: str) -> None:
        if len(self.items) < self.limit:
            self.items.append(RowError(row, column, reason, self.file))
        else:
            self.unlisted += 1

    def attempt(self, row: int, column: str, fn: Callable[..., Any], *args: Any,
                fields: dict[str, str] | None = None, **kwargs: Any) -> Any:
        """Call a cleaner or rule; on refusal note the problem and return BAD."""
        try:
            return fn(*args, **kwargs)
        except ValidationError as exc:
            self.add(row, _column_of(exc.field, column, fields), exc.reason)
        except (Forbidden, NotFound, Conflict) as exc:
            self.add(row, column, str(exc))
        return BAD

    @contextmanager
    def for_row(self, row: int, column: str, fields: dict[str, str]) -> Iterator[None]:
        """Report a service's refusal while writing a row as a problem of that row."""
        try:
            yield
        except ValidationError as exc:
            self.add(row, _column_of(exc.field, column, fields), exc.reason)
        except (Forbidden, NotFound, Conflict) as exc:
            self.add(row, column, str(exc))


def _column_of(field_name: str, default: str, fields: dict[str, str] | None) -> str:
    """The file column a service's field name stands for (owner_id is owner_email ...)."""
    return fields.get(field_name, default) if fields else default
