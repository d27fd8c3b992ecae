"""A file's raw records, CSV or the first sheet of an .xlsx, refused whole beyond the limits.

A file is bounded before it is read (`Limits`: its size, unpacked for a workbook, its rows,
columns and cells), so no upload can pin a core or fill the memory. Kept apart from the
header matching (reading.py) because this is the part that defends against hostile files:
the zip reader that unpacks at most what its directory states, the sheet parser that never
pads rows.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from openpyxl.reader.excel import ExcelReader
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet._reader import FORMULA_TAG, VALUE_TAG, WorkSheetParser

from isv.config import get_settings
from isv.services.validate import blank

from .formats import COLUMNS

Progress = Callable[[str, int, int], None]  # (what is happening, rows done, rows in all)


@dataclass(frozen=True)
class Limits:
    """How large a file the importer reads at all; a larger one is refused before its rows are.

    The defaults (ISV_IMPORT_MAX_* in the environment) hold a team's whole CRM export: 100,000
    deals are a 16 MB CSV, a workbook of them unpacks to 60 MB.
    """

    rows: int          # data rows, the header not counted (200,000)
    columns: int       # the header's width; every entity has at most 13 columns (100)
    cell_chars: int    # characters in one cell: Excel's own limit (32,767)
    megabytes: int     # a CSV file's size; a workbook's size unpacked (256)
    problems: int      # problems listed per file; the rest are only counted (1,000)

    @classmethod
    def configured(cls) -> Limits:
        settings = get_settings()
        return cls(rows=settings.import_max_rows, columns=settings.import_max_columns,
                   cell_chars=settings.import_max_cell_chars,
                   megabytes=settings.import_max_megabytes,
                   problems=settings.import_max_problems)

    @property
    def bytes(self) -> int:
        return self.megabytes * 1024 * 1024


TICK = 1000      # rows between two progress reports


class FileProblem(Exception):
    """The file cannot be read on: a problem of the file as a whole, or of one of its cells."""

    def __init__(self, row: int, reason: str, position: int | None = None):
        super().__init__(reason)
        self.row = row
        self.reason = reason
        self.position = position  # the cell's place in its row (0 is the first), when known


Record = tuple[int, list[Any], int | None]
Tick = Callable[[int, int], None]  # (rows read, rows in the file as far as known)

NO_SAVED_VALUE = ("a formula without a saved value; open the file in a spreadsheet, save it, "
                  "and import again")
NUL = "contains a NUL character (byte 0), which no text may hold; remove it"


class _NoSavedValue:
    """A formula cell whose file holds no computed value (openpyxl, for one, writes none)."""


UNSAVED = _NoSavedValue()


def _size(count: int) -> str:
    return f"{count / 2**20:,.1f} MB"


def _too_large(what: str, size: int, limits: Limits) -> FileProblem:
    return FileProblem(1, f"{what} {_size(size)}; at most {limits.megabytes:,} MB can be "
                          "imported at once: split it into smaller files")


def _too_many_rows(rows: int | None, limits: Limits, where: str) -> FileProblem:
    has = f"more than {limits.rows:,}" if rows is None else f"{rows:,}"
    return FileProblem(1, f"{where} has {has} rows besides the header; at most "
                          f"{limits.rows:,} can be imported at once: split it into smaller "
                          "files")


def _too_wide(columns: int, limits: Limits, where: str = "the header") -> FileProblem:
    return FileProblem(1, f"{where} has {columns:,} columns; at most {limits.columns:,} can "
                          "be read (each kind of record has at most "
                          f"{max(len(c) for c in COLUMNS.values())})")


def _beyond(record: list[Any], width: int) -> int | None:
    """The place (1 is the first) of the first value past `width`, or None."""
    for position in range(width, len(record)):
        if not blank(record[position]):
            return position + 1
    return None


def csv_records(data: bytes, limits: Limits, tick: Tick) -> Iterator[Record]:
    """A CSV file's records, refused whole when it is larger than the limits allow."""
    if len(data) > limits.bytes:
        raise _too_large("the file is", len(data), limits)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise FileProblem(1, f"is not UTF-8 text (byte 0x{data[exc.start]:02x} on line "
                             f"{line}); save it as CSV UTF-8") from None
    lines = text.count("\n")
    if lines > limits.rows + 1:
        # More lines than rows allowed, but a cell may hold line breaks: count the records
        # (in C, keeping none of them) before a single row is read.
        rows = _count_records(text) - 1
        if rows > limits.rows:
            raise _too_many_rows(rows, limits, "the file")
    reader = csv.reader(io.StringIO(text, newline=""))
    number = width = 0
    record: list[str] = []
    starts = opens = 1  # the lines the last record and the next one start on
    try:
        for number, record in enumerate(reader, start=1):
            starts, opens = opens, reader.line_num + 1
            if number == 1:
                width = len(record)
                if width > limits.columns:
                    raise _too_wide(width, limits)
                yield number, record, None
                continue
            if number - 1 > limits.rows:  # a file of lone carriage returns escaped the count
                raise _too_many_rows(None, limits, "the file")
            if (number - 1) % TICK == 0:
                tick(number - 1, lines - 1)
            if len(record) > width:
                yield number, record[:width], _beyond(record, width)
            else:
                yield number, record, None
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise FileProblem(number + 1, f"a cell holds more than {csv.field_size_limit():,} "
                                          f"characters; at most {limits.cell_chars:,} are "
                                          "allowed (a quote that is never closed takes in "
                                          "the rest of the file)") from None
        raise FileProblem(number + 1, f"cannot be read as CSV: {exc}") from None
    if number and _unterminated(text, starts):
        raise FileProblem(number, f"the quote that opens this cell, on line {starts:,}, is "
                                  "never closed, so the rest of the file was read into it; "
                                  'close it, and write a quote inside a quoted cell as two ("")',
                          position=len(record) - 1)


def _count_records(text: str) -> int:
    try:
        return sum(1 for _ in csv.reader(io.StringIO(text, newline="")))
    except csv.Error:
        return 0  # reading the file reports it, with its row


def _unterminated(text: str, start: int) -> bool:
    """Whether the last record, from line `start`, ends inside a quoted cell.

    Read leniently (as spreadsheets write CSV), such a cell quietly takes in the rest of the
    file; read strictly, the same text ends too early."""
    if '"' not in text:
        return False
    tail = "".join(islice(io.StringIO(text, newline=""), start - 1, None))
    try:
        for _ in csv.reader(io.StringIO(tail, newline=""), strict=True):
            pass
    except csv.Error as exc:
        return str(exc) == "unexpected end of data"
    return False


class _SheetParser(WorkSheetParser):
    """openpyxl's sheet parser, telling a formula without a saved value from an empty cell.

    Read for values, both are None, and the import would take the formula's cell as empty.
    A formula's saved value is its <v> element; an empty one is a value only for a formula
    of text (t="str"): the empty text. openpyxl writes an empty <v> for every formula.
    """

    def parse_cell(self, element: Any) -> dict[str, Any]:
        try:
            cell = super().parse_cell(element)
        except IndexError:  # openpyxl looks a shared text up by its number, unchecked
            raise FileProblem(1, f"cell {element.get('r')} refers to shared text number "
                                 f"{element.findtext(VALUE_TAG)}, which the workbook does "
                                 "not hold; the file is damaged") from None
        if cell["value"] is None and element.find(FORMULA_TAG) is not None and (
                element.find(VALUE_TAG) is None or element.get("t") != "str"):
            cell["value"] = UNSAVED
        return cell


_NOT_XLSX = (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError, OSError)
# Excel, LibreOffice and every library we know write a workbook's parts stored or deflated.
# Python also unpacks bzip2 and LZMA, and unpacks those a whole read at a time: 5 KB of bzip2
# became 829 MB in memory in one call. Such a workbook is refused before any part is read.
_XLSX_METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
_INFLATE_STEP = 1 << 20  # bytes unpacked per read at most, whoever asks for more


class _BoundedPart(zipfile.ZipExtFile):
    """A part of the workbook that unpacks at most its stated size, one step at a time.

    The zip's directory states each part's size, and the sum of those is checked against the
    limit before anything is unpacked; but the directory can lie. zipfile stops a part at its
    stated size, yet a whole read (openpyxl reads most parts so) inflates everything in one
    call before cutting; here every call inflates at most _INFLATE_STEP, and a part whose
    data goes on past its stated size is refused rather than cut.
    """

    MAX_N = _INFLATE_STEP

    def _read1(self, n: int) -> bytes:
        try:
            data = super()._read1(min(n, _INFLATE_STEP))
        except zipfile.BadZipFile:  # a wrong checksum, found once the stated size is read
            self._refuse_if_longer()
            raise
        self._refuse_if_longer()
        return data

    def _refuse_if_longer(self) -> None:
        if self._left <= 0 and self._goes_on():
            raise FileProblem(1, f"part {self.name} of the workbook unpacks to more than the "
                                 f"{self._orig_file_size:,} bytes its zip directory states; "
                                 "the file is damaged or crafted")

    def _goes_on(self) -> bool:
        """Whether the part holds data past its stated size (asked once that is reached)."""
        if self._compress_type != zipfile.ZIP_DEFLATED:
            return self._compress_left > 0
        if self._decompressor.eof:
            return False
        # The stream may end just after the last byte was made: one more byte tells.
        tail = self._decompressor.unconsumed_tail or self._read2(4096)
        return bool(self._decompressor.decompress(tail, 1))


class _BoundedZip(zipfile.ZipFile):
    """The workbook's zip, whose parts unpack only as _BoundedPart does."""

    def open(self, name: Any, mode: str = "r", pwd: bytes | None = None, *,
             force_zip64: bool = False) -> Any:
        part = super().open(name, mode, pwd, force_zip64=force_zip64)
        if mode == "r":
            part.__class__ = _BoundedPart
        return part


class _BoundedReader(ExcelReader):
    """openpyxl's workbook reader over a _BoundedZip (load_workbook opens a plain ZipFile)."""

    def __init__(self, archive: _BoundedZip) -> None:
        super().__init__(io.BytesIO(_EMPTY_ZIP), read_only=True, data_only=True)
        self.archive = archive
        self.valid_files = archive.namelist()


_EMPTY_ZIP = b"PK\x05\x06" + bytes(18)  # a zip with no members: what the reader first opens


def _open_workbook(data: bytes, limits: Limits) -> Any:
    """The workbook, read-only, once its zip directory shows it within the limits.

    The sizes and methods its directory states are checked before any part is unpacked;
    that the parts keep to them is checked as they are (_BoundedPart).
    """
    try:
        archive = _BoundedZip(io.BytesIO(data))
    except _NOT_XLSX as exc:
        raise FileProblem(1, f"is not an .xlsx workbook ({type(exc).__name__})") from None
    members = archive.infolist()
    unpacked = sum(member.file_size for member in members)
    if unpacked > limits.bytes:
        raise _too_large("the workbook unpacks to", unpacked, limits)
    odd = next((m for m in members if m.compress_type not in _XLSX_METHODS), None)
    if odd is not None:
        method = zipfile.compressor_names.get(odd.compress_type, odd.compress_type)
        raise FileProblem(1, f"part {odd.filename} of the workbook is compressed with "
                             f"{method}; a workbook's parts are stored or deflated: save it "
                             "again from your spreadsheet")
    reader = _BoundedReader(archive)
    try:
        reader.read()
    except _NOT_XLSX as exc:
        raise FileProblem(1, f"is not an .xlsx workbook ({type(exc).__name__})") from None
    return reader.wb


def xlsx_records(data: bytes, limits: Limits, tick: Tick) -> Iterator[Record]:
    """The rows of a workbook's first sheet, refused whole when larger than the limits allow.

    Read as openpyxl reads them, but not padded: openpyxl makes every row as wide as the sheet
    declares itself, and adds every missing row up to its declared height, so a 1.7 KB file
    declaring A1:XFD1048576 is 17 billion cells. Here the unpacked size (a zip's members say
    it before they are unpacked, _open_workbook) and the declared size are checked first, and
    each row holds only the cells the file has, up to the header's width.
    """
    book = _open_workbook(data, limits)
    try:
        if not book.worksheets:
            raise FileProblem(1, "the workbook has no sheets")
        yield from _sheet_records(book, book.worksheets[0], limits, tick)
    except zipfile.BadZipFile as exc:  # the sheet is unpacked as it is read
        raise FileProblem(1, f"is not an .xlsx workbook ({exc})") from None
    finally:
        book.close()


def _sheet_records(book: Any, sheet: Any, limits: Limits, tick: Tick) -> Iterator[Record]:
    height, width = sheet.max_row, sheet.max_column  # as the sheet declares them, if it does
    if height is not None and width is not None:
        used = (f"{get_column_letter(sheet.min_column)}{sheet.min_row}:"
                f"{get_column_letter(width)}{height}")
        if height - 1 > limits.rows:
            raise _too_many_rows(height - 1, limits, f"the sheet (its used range is {used})")
        if width > limits.columns:
            raise _too_wide(width, limits, f"the sheet (its used range is {used})")
    with sheet._get_source() as source:
        parser = _SheetParser(source, sheet._shared_strings, data_only=True, epoch=book.epoch,
                              date_formats=book._date_formats,
                              timedelta_formats=book._timedelta_formats)
        header: int | None = None  # the header's width, once read
        read = 0
        for number, cells in parser.parse():
            read += 1
            if header is None:
                # The header is row 1: a sheet whose first row is empty has an empty header.
                named = [c for c in cells if not blank(c["value"])] if number == 1 else []
                header = max((c["column"] for c in named), default=0)
                if header > limits.columns:
                    raise _too_wide(header, limits)
                values: list[Any] = [None] * header
                for cell in named:
                    values[cell["column"] - 1] = cell["value"]
                yield 1, values, None
                if number == 1:
                    continue
            if number - 1 > limits.rows or read - 1 > limits.rows:
                raise _too_many_rows(None, limits, "the sheet")
            if (read - 1) % TICK == 0 and read > 1:
                tick(read - 1, (height or 1) - 1)
            values = [None] * header
            beyond = None
            for cell in cells:
                column = cell["column"]
                if column <= header:
                    values[column - 1] = cell["value"]
                elif beyond is None and not blank(cell["value"]):
                    beyond = column
            yield number, values, beyond
