"""Files an attacker or an accident makes: bounded before they are read, refused by name.

A refusal that comes "before the rows are read" is shown by what it reports: the size
problem alone, none of the bad rows the file also holds. Nothing here is timed; a file that
were read whole would make its test take half an hour instead of failing.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import re
import struct
import tracemalloc
import zipfile
import zlib
from itertools import chain

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from isv import cli
from isv.auth import Viewer
from isv.config import get_settings
from isv.db import session_scope
from isv.models import Partner
from isv.services import importing
from isv.services.importing import records

SYSTEM = Viewer.system("tests")
SHEET = "xl/worksheets/sheet1.xml"


def limits(**changes) -> importing.Limits:
    return dataclasses.replace(importing.Limits.configured(), **changes)


def load(session, data: bytes, filename: str = "partners.csv", entity: str = "partners",
         **kwargs) -> importing.ImportReport:
    return importing.import_file(session=session, viewer=SYSTEM, entity=entity, data=data,
                                 filename=filename, **kwargs)


def problems(report: importing.ImportReport) -> list[str]:
    return [str(e) for e in report.errors]


def partner_count(session) -> int:
    return session.scalar(select(func.count()).select_from(Partner))


def workbook(*rows) -> bytes:
    """A workbook as openpyxl writes it: a formula gets no saved value."""
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def edit_sheet(data: bytes, edit) -> bytes:
    """The workbook with its first sheet's XML changed by `edit`, everything else kept."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            content = source.read(member.filename)
            target.writestr(member, edit(content) if member.filename == SHEET else content)
    return out.getvalue()


def declare(data: bytes, used_range: str) -> bytes:
    """The workbook with its sheet declaring another used range (the <dimension> tag)."""
    return edit_sheet(data, lambda xml: re.sub(rb'<dimension ref="[^"]*"',
                                               f'<dimension ref="{used_range}"'.encode(), xml))


def with_last_cell(data: bytes) -> bytes:
    """The workbook with one more cell, the last of the sheet: XFD1048576."""
    return edit_sheet(data, lambda xml: xml.replace(
        b"</sheetData>",
        b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
        b"</sheetData>"))


def without_dimension(data: bytes) -> bytes:
    return edit_sheet(data, lambda xml: re.sub(rb"<dimension[^>]*/>", b"", xml))


GOOD = ("name", "domain"), ("Keyward", "Security"), ("Logvane", "Observability")


# --- the size of the file -------------------------------------------------------------------

def test_a_tiny_workbook_declaring_every_cell_of_a_sheet_is_refused_before_reading(session):
    # A few KB that openpyxl would pad to 1,048,576 rows of 16,384 cells: half an hour.
    data = declare(with_last_cell(workbook(*GOOD)), "A1:XFD1048576")
    assert len(data) < 8_000
    report = load(session, data, "partners.xlsx")
    assert problems(report) == [
        "row 1, column (file): the sheet (its used range is A1:XFD1048576) has 1,048,575 rows "
        "besides the header; at most 200,000 can be imported at once: split it into smaller "
        "files"]
    assert partner_count(session) == 0


def test_a_sheet_that_hides_its_size_stops_at_the_first_row_past_the_limit(session):
    # No declared size; the rows in between are not there to read, nor made up.
    report = load(session, without_dimension(with_last_cell(workbook(*GOOD))), "partners.xlsx")
    assert problems(report) == [
        "row 1, column (file): the sheet has more than 200,000 rows besides the header; at "
        "most 200,000 can be imported at once: split it into smaller files"]


def test_a_workbook_declaring_too_many_columns_is_refused_before_reading(session):
    report = load(session, declare(workbook(*GOOD), "A1:XFD3"), "partners.xlsx")
    assert problems(report) == [
        "row 1, column (file): the sheet (its used range is A1:XFD3) has 16,384 columns; at "
        "most 100 can be read (each kind of record has at most 13)"]


def test_a_workbook_that_hides_a_far_cell_is_read_only_to_its_headers_width(session):
    # It declares three columns and has a cell in the last column of the sheet: openpyxl
    # would make that row, and every row after it, 16,384 cells wide.
    data = edit_sheet(workbook(*GOOD), lambda xml: xml.replace(
        b'<c r="B3"', b'<c r="XFD3" t="inlineStr"><is><t>far</t></is></c><c r="B3"'))
    report = load(session, data, "partners.xlsx")
    assert problems(report) == [
        "row 3, column (file): has a value in cell 16,384, beyond the 2 columns of the header"]


def test_a_workbook_with_more_rows_than_allowed_is_refused_before_its_rows_are_checked(
        session):
    rows = [("name", "domain")] + [(f"P{n}", "Retail" if n == 3 else "FinOps")
                                   for n in range(12)]
    data = without_dimension(workbook(*rows))
    report = load(session, data, "partners.xlsx", limits=limits(rows=10))
    # Row 5's bad domain is never reported: reading stopped at the eleventh row.
    assert problems(report) == [
        "row 1, column (file): the sheet has more than 10 rows besides the header; at most 10 "
        "can be imported at once: split it into smaller files"]


def test_a_zip_bomb_is_refused_by_its_unpacked_size_before_it_is_unpacked(session):
    bomb = edit_sheet(workbook(*GOOD), lambda xml: xml.replace(
        b"</worksheet>", b" " * 3 * 2**20 + b"</worksheet>"))
    assert len(bomb) < 20_000
    report = load(session, bomb, "partners.xlsx", limits=limits(megabytes=2))
    assert problems(report) == [
        "row 1, column (file): the workbook unpacks to 3.0 MB; at most 2 MB can be imported "
        "at once: split it into smaller files"]


def test_a_workbook_claiming_gigabytes_unpacked_is_refused_by_the_configured_limit(session):
    data = bytearray(workbook(*GOOD))
    entry = data.index(b"PK\x01\x02")  # the central directory's first entry
    name = SHEET.encode()
    while data[entry + 46:entry + 46 + len(name)] != name:
        entry = data.index(b"PK\x01\x02", entry + 4)
    struct.pack_into("<I", data, entry + 24, 0xFFFF_FFF0)  # its uncompressed size: 4 GB
    report = load(session, bytes(data), "partners.xlsx")
    assert problems(report) == [
        "row 1, column (file): the workbook unpacks to 4,096.0 MB; at most 256 MB can be "
        "imported at once: split it into smaller files"]


def with_part(data: bytes, name: str, chunks, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """The workbook with part `name` replaced by the bytes `chunks` yields, written streaming
    (so a test can make a part of hundreds of MB without holding it)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            if member.filename != name:
                target.writestr(member, source.read(member.filename))
                continue
            info = zipfile.ZipInfo(name)
            info.compress_type = method
            with target.open(info, "w") as part:
                for chunk in chunks:
                    part.write(chunk)
    return out.getvalue()


def understate(data: bytes, name: str, size: int, *, forge_checksum: bool) -> bytes:
    """The workbook with its zip directory stating `size` bytes for part `name`; with
    `forge_checksum`, also the checksum of the part's first `size` bytes, as a crafted file
    would, so only the part's own length gives it away."""
    prefix = zipfile.ZipFile(io.BytesIO(data)).open(name).read(size)
    data = bytearray(data)
    entry = data.index(b"PK\x01\x02")  # the central directory's first entry
    while data[entry + 46:entry + 46 + len(name)] != name.encode():
        entry = data.index(b"PK\x01\x02", entry + 4)
    struct.pack_into("<I", data, entry + 24, size)
    if forge_checksum:
        struct.pack_into("<I", data, entry + 16, zlib.crc32(prefix))
    return bytes(data)


@functools.cache
def bomb(name: str, megabytes: int, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A workbook whose part `name` is an XML comment of `megabytes` MB of spaces (built once:
    compressing it is most of these tests' time)."""
    spaces = (b" " * 2**20 for _ in range(megabytes))
    return with_part(workbook(*GOOD), name, chain([b"<!--"], spaces, [b"-->"]), method)


def peak_megabytes(call) -> float:
    """The most memory Python held while `call` ran, in MB (tracemalloc)."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


# A whole read is how openpyxl takes the workbook's styles (the sheet it streams): zipfile
# inflates such a read at once and cuts it to the stated size afterwards, so before the
# bounded reader this 100 MB part took 100 MB of memory however small its stated size.
@pytest.mark.parametrize("name", ["xl/styles.xml", SHEET])
@pytest.mark.parametrize("forge_checksum", [False, True], ids=["checksum", "forged-checksum"])
def test_a_zip_bomb_whose_directory_understates_its_size_is_refused_within_4_mb_of_memory(
        session, name, forge_checksum):
    data = understate(bomb(name, 100), name, 2_000, forge_checksum=forge_checksum)
    assert len(data) < 200_000
    reports = []
    peak = peak_megabytes(lambda: reports.append(load(session, data, "partners.xlsx")))
    assert problems(reports[0]) == [
        f"row 1, column (file): part {name} of the workbook unpacks to more than the 2,000 "
        "bytes its zip directory states; the file is damaged or crafted"]
    assert peak < 4, f"{peak:.1f} MB"
    assert partner_count(session) == 0


@pytest.mark.parametrize("method", [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA], ids=["bzip2", "lzma"])
def test_a_workbook_part_compressed_other_than_excel_does_is_refused_before_it_is_unpacked(
        session, method):
    # 5 KB of bzip2 held 829 MB, unpacked by zipfile in one call whatever its stated size.
    data = understate(bomb(SHEET, 32, method), SHEET, 2_000, forge_checksum=True)
    reports = []
    peak = peak_megabytes(lambda: reports.append(load(session, data, "partners.xlsx")))
    name = zipfile.compressor_names[method]
    assert problems(reports[0]) == [
        f"row 1, column (file): part {SHEET} of the workbook is compressed with {name}; a "
        "workbook's parts are stored or deflated: save it again from your spreadsheet"]
    assert peak < 4, f"{peak:.1f} MB"


def test_a_workbook_whose_parts_end_exactly_on_an_inflate_step_still_imports(session):
    # A sheet padded so its XML is a whole number of the reader's steps long.
    data = workbook(*GOOD)
    xml = zipfile.ZipFile(io.BytesIO(data)).read(SHEET)
    pad = records._INFLATE_STEP - len(xml) % records._INFLATE_STEP - len(b"<!---->")
    data = edit_sheet(data, lambda x: x.replace(b"</worksheet>",
                                                b"<!--" + b" " * pad + b"--></worksheet>"))
    assert zipfile.ZipFile(io.BytesIO(data)).getinfo(SHEET).file_size % records._INFLATE_STEP \
        == 0
    report = load(session, data, "partners.xlsx")
    assert problems(report) == [] and partner_count(session) == 2


def test_a_cell_naming_shared_text_the_workbook_lacks_is_refused_not_a_crash(session):
    data = edit_sheet(workbook(*GOOD), lambda xml: xml.replace(
        b"</sheetData>", b'<row r="4"><c r="A4" t="s"><v>99</v></c></row></sheetData>'))
    report = load(session, data, "partners.xlsx")
    assert problems(report) == [
        "row 1, column (file): cell A4 refers to shared text number 99, which the workbook "
        "does not hold; the file is damaged"]
    assert partner_count(session) == 0


def test_a_csv_larger_than_allowed_is_refused_before_it_is_decoded(session):
    data = b"name,domain\n" + b"Keyward,Retail\n" * 80_000
    report = load(session, data, limits=limits(megabytes=1))
    assert problems(report) == [
        "row 1, column (file): the file is 1.1 MB; at most 1 MB can be imported at once: "
        "split it into smaller files"]


def test_a_csv_header_of_a_million_columns_is_one_problem_not_a_million(session):
    data = b"name,domain" + b",x" * 1_000_000 + b"\nKeyward,Security\n"
    report = load(session, data)
    assert problems(report) == [
        "row 1, column (file): the header has 1,000,002 columns; at most 100 can be read (each "
        "kind of record has at most 13)"]


def test_a_csv_with_more_rows_than_allowed_is_refused_before_its_rows_are_checked(session):
    data = b"name,domain\n" + b"".join(
        f"P{n},{'Retail' if n == 3 else 'FinOps'}\n".encode() for n in range(12))
    report = load(session, data, limits=limits(rows=10))
    assert problems(report) == [
        "row 1, column (file): the file has 12 rows besides the header; at most 10 can be "
        "imported at once: split it into smaller files"]
    quoted = b"name,domain,notes\n" + b"".join(  # 12 lines, 6 rows
        f'P{n},FinOps,"two\nlines"\n'.encode() for n in range(6))
    assert load(session, quoted, limits=limits(rows=10), dry_run=True).entities[0].created == 6


def test_the_limits_come_from_the_environment(session, monkeypatch):
    monkeypatch.setenv("ISV_IMPORT_MAX_ROWS", "1")
    get_settings.cache_clear()
    try:
        report = load(session, b"name,domain\nKeyward,Security\nLogvane,FinOps\n")
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert problems(report) == [
        "row 1, column (file): the file has 2 rows besides the header; at most 1 can be "
        "imported at once: split it into smaller files"]


def test_a_cell_longer_than_allowed_is_refused_by_row_and_column(session):
    data = b"name,domain,notes\nKeyward,Security," + b"x" * 40 + b"\nLogvane,FinOps,short\n"
    report = load(session, data, limits=limits(cell_chars=32))
    assert problems(report) == ["row 2, column notes: holds 40 characters; a cell holds at "
                                "most 32"]
    # The largest a CSV reader takes at all is well past it, and said too, not a traceback.
    huge = b"name,domain,notes\nKeyward,Security," + b"x" * 200_000 + b"\n"
    assert problems(load(session, huge)) == [
        "row 2, column (file): a cell holds more than 131,072 characters; at most 32,767 are "
        "allowed (a quote that is never closed takes in the rest of the file)"]


def test_only_the_first_thousand_problems_are_listed_and_the_rest_counted(session):
    data = b"name,domain\n" + b"".join(f"P{n},Retail\n".encode() for n in range(1_234))
    report = load(session, data)
    assert (len(report.errors), report.error_count) == (1_000, 1_234)
    assert str(report.errors[-1]).startswith("row 1001, column domain:")
    lines = report.error_lines()
    assert len(lines) == 1_001
    assert lines[-1] == "and 234 more problems (only the first 1,000 of a file are listed)"
    with pytest.raises(importing.ImportRejected, match="^1,234 problems; nothing was imported"):
        raise importing.ImportRejected(report)


def test_an_abandoned_import_stops_while_the_file_is_still_being_read(session):
    calls = []

    def progress(what: str, done: int, total: int) -> None:
        calls.append((what, done, total))
        raise KeyboardInterrupt  # Streamlit's rerun when the person uploads another file

    data = b"name,domain\n" + b"".join(f"P{n},FinOps\n".encode() for n in range(2_500))
    with pytest.raises(KeyboardInterrupt):
        load(session, data, progress=progress)
    assert calls == [("Reading the file", 1_000, 2_500)]
    assert partner_count(session) == 0


# --- what a cell holds ----------------------------------------------------------------------

def test_a_formula_without_a_saved_value_is_refused_by_row_and_column(session):
    data = workbook(("name", "domain", "notes"), ("Keyward", "Security", "plain"),
                    ("Logvane", "Observability", "=1+1"), ("Tracepoint", "FinOps", None))
    report = load(session, data, "partners.xlsx")
    assert problems(report) == [
        "row 3, column notes: a formula without a saved value; open the file in a spreadsheet, "
        "save it, and import again"]
    assert partner_count(session) == 0


def test_a_formula_with_a_saved_value_imports_that_value(session):
    # As a spreadsheet saves it: the formula and the value it computed, <v>.
    data = edit_sheet(workbook(("name", "domain", "notes"), ("Keyward", "Security", "=A2")),
                      lambda xml: xml.replace(b'<c r="C2"><f>A2</f><v></v>',
                                              b'<c r="C2" t="str"><f>A2</f><v>Keyward</v>'))
    report = load(session, data, "partners.xlsx")
    assert report.written, problems(report)
    assert session.scalar(select(Partner.notes)) == "Keyward"


def test_an_unterminated_quote_is_named_with_the_row_it_opens_on(session):
    data = (b'name,domain,notes\nKeyward,Security,"fine"\nLogvane,FinOps,"open\n'
            b"Tracepoint,FinOps,\n")
    report = load(session, data)
    assert problems(report) == [
        'row 3, column notes: the quote that opens this cell, on line 3, is never closed, so '
        'the rest of the file was read into it; close it, and write a quote inside a quoted '
        'cell as two ("")']
    assert partner_count(session) == 0


def test_a_nul_byte_in_a_cell_is_refused_by_row_and_column(session):
    report = load(session, b"name,domain,notes\nKeyward,Security,a\x00b\nLogvane,FinOps,ok\n")
    assert problems(report) == [
        "row 2, column notes: contains a NUL character (byte 0), which no text may hold; "
        "remove it"]
    assert partner_count(session) == 0


# --- the command line -----------------------------------------------------------------------

@pytest.mark.parametrize(("content", "line"), [
    (b"name,domain,notes\nKeyward,Security,a\x00b\n",
     "row 2, column notes: contains a NUL character (byte 0), which no text may hold; remove "
     "it"),
    (b'name,domain,notes\nKeyward,Security,"open\nLogvane,FinOps,\n',
     'row 2, column notes: the quote that opens this cell, on line 2, is never closed, so the '
     'rest of the file was read into it; close it, and write a quote inside a quoted cell as '
     'two ("")'),
])
def test_the_cli_refuses_a_bad_cell_by_row_and_column_without_a_traceback(cli_url, tmp_path,
                                                                          content, line):
    path = tmp_path / "partners.csv"
    path.write_bytes(content)
    result = CliRunner().invoke(cli.main, ["import", "partners", str(path)])
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)
    assert result.stderr.splitlines() == [line, "Error: 1 problem; nothing was imported"]
    with session_scope() as session:
        assert session.scalars(select(Partner.name)).all() == ["Ledgerline"]
