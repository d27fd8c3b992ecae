"""Memory of reading the largest workbooks the importer accepts and the worst it refuses.

`python -m bench.upload_limits [--megabytes M]`: each case is built into a temporary file,
then read by a fresh Python process exactly as an import reads it
(`importing.reading.read_rows`: the zip directory checked, the sheet parsed, every cell
checked, the rows kept for the write phase; the database write that follows is not part of
it). The child reports the rise of its peak
RSS over its RSS before the read (ru_maxrss; lxml's and zlib's C memory included), so the
figure is what one upload costs the server process. M is the configured limit
(ISV_IMPORT_MAX_MEGABYTES, default 256); the accepted cases are sized just under it.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

import openpyxl

SHEET = "xl/worksheets/sheet1.xml"
STRINGS = "xl/sharedStrings.xml"
MAIN = b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
STRINGS_TYPE = (b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>')
PARTNER_HEADER = ("name", "domain", "notes")
DEAL_HEADER = ("external_id", "partner", "customer_name", "customer_contact_email",
               "deal_value", "stage", "probability", "expected_close_date",
               "actual_close_date", "owner_email", "lost_reason", "notes", "created_at")


def _template() -> bytes:
    """A small workbook as openpyxl writes it (its text inline: no shared-strings part)."""
    book = openpyxl.Workbook()
    book.active.append(["x"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _workbook(parts: dict[str, Iterable[bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    """The template with `parts` replaced by streamed content (never held whole)."""
    source = zipfile.ZipFile(io.BytesIO(_template()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            content = source.read(member.filename)
            if member.filename == "[Content_Types].xml" and STRINGS in parts:
                content = content.replace(b"</Types>", STRINGS_TYPE + b"</Types>")
            if member.filename not in parts:
                target.writestr(member, content)
        for name, chunks in parts.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = method
            with target.open(info, "w") as part:
                for chunk in chunks:
                    part.write(chunk)
    return out.getvalue()


def _column(index: int) -> str:
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _inline_row(number: int, values: Iterable[str]) -> bytes:
    cells = "".join(f'<c r="{_column(i)}{number}" t="inlineStr"><is><t>{v}</t></is></c>'
                    for i, v in enumerate(values))
    return f'<row r="{number}">{cells}</row>'.encode()


def _sheet(rows: Iterable[bytes]) -> Iterator[bytes]:
    yield b'<?xml version="1.0" encoding="UTF-8"?><worksheet ' + MAIN + b"><sheetData>"
    yield from rows
    yield b"</sheetData></worksheet>"


def _comment(megabytes: int) -> Iterator[bytes]:
    """A sheet with two rows and an XML comment of `megabytes` MB of spaces."""
    yield from _sheet([_inline_row(1, ("name", "domain")), _inline_row(2, ("A", "Security"))])
    yield b"<!--"
    chunk = b" " * 2**20
    for _ in range(megabytes):
        yield chunk
    yield b"-->"


def _understate(data: bytes, name: str, size: int) -> bytes:
    """The zip directory states `size` bytes for part `name`, with the checksum of that prefix."""
    prefix = zipfile.ZipFile(io.BytesIO(data)).open(name).read(size)
    data = bytearray(data)
    entry = data.index(b"PK\x01\x02")
    while data[entry + 46:entry + 46 + len(name)] != name.encode():
        entry = data.index(b"PK\x01\x02", entry + 4)
    data[entry + 16:entry + 20] = zlib.crc32(prefix).to_bytes(4, "little")
    data[entry + 24:entry + 28] = size.to_bytes(4, "little")
    return bytes(data)


def _shared_strings(count: int, chars: int) -> Iterator[bytes]:
    yield (b'<?xml version="1.0" encoding="UTF-8"?><sst ' + MAIN
           + f' count="{count}" uniqueCount="{count}">'.encode())
    body = "n" * (chars - 8)
    for i in range(count):
        yield f"<si><t>{i:08d}{body}</t></si>".encode()
    yield b"</sst>"


def build(case: str, megabytes: int) -> tuple[str, bytes, str]:
    """(entity, file bytes, what it is) for one case."""
    limit = megabytes * 2**20
    if case == "refused: directory understates a 1 GB part":
        data = _understate(_workbook({SHEET: _comment(1024)}), SHEET, 2_000)
        return "partners", data, "1 GB sheet, directory says 2,000 bytes, checksum forged"
    if case == "refused: directory states 1 GB":
        return "partners", _workbook({SHEET: _comment(1024)}), "1 GB sheet, stated truly"
    if case == "refused: bzip2 part":
        data = _understate(_workbook({SHEET: _comment(256)}, zipfile.ZIP_BZIP2), SHEET, 2_000)
        return "partners", data, "256 MB sheet in bzip2, directory says 2,000 bytes"
    if case == "accepted: shared strings at the limit":
        # Cells of Excel's 32,767-character maximum, one unique string each, as many as fit:
        # openpyxl keeps the whole shared-strings table in memory while the sheet is read.
        chars = 32_000
        count = (limit - 4 * 2**20) // (chars + 16) // 2 * 2
        rows = count // 2
        strings = _shared_strings(count, chars)
        header = _inline_row(1, PARTNER_HEADER)
        sheet = _sheet(chain_rows(header, (
            f'<row r="{r + 2}"><c r="A{r + 2}" t="s"><v>{2 * r}</v></c>'
            f'<c r="B{r + 2}" t="inlineStr"><is><t>Security</t></is></c>'
            f'<c r="C{r + 2}" t="s"><v>{2 * r + 1}</v></c></row>'.encode()
            for r in range(rows))))
        return "partners", _workbook({STRINGS: strings, SHEET: sheet}), (
            f"{rows:,} partners, {count:,} unique {chars:,}-character strings")
    if case == "accepted: most cells":
        # The row limit (200,000) times every column an opportunity has, each cell short.
        rows = 200_000
        values = ("X-{0}", "Partner {0}", "Customer {0}", "c{0}@example.com", "{0}.50",
                  "prospecting", "10", "2026-09-30", "", "", "", "note {0}",
                  "2026-01-05T10:00:00")
        sheet = _sheet(chain_rows(_inline_row(1, DEAL_HEADER), (
            _inline_row(r + 2, (v.format(r) for v in values)) for r in range(rows))))
        return "opportunities", _workbook({SHEET: sheet}), (
            f"{rows:,} deals x {len(DEAL_HEADER)} columns")
    raise SystemExit(f"unknown case {case!r}")


def chain_rows(first: bytes, rest: Iterable[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


CASES = ("refused: directory understates a 1 GB part", "refused: directory states 1 GB",
         "refused: bzip2 part", "accepted: shared strings at the limit", "accepted: most cells")


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def read(entity: str, path: str, megabytes: int) -> None:
    """The child: read the file as an import does and print peak RSS rise, outcome, CPU."""
    from isv.services.importing import reading, records, report

    data = Path(path).read_bytes()
    limits = records.Limits(rows=200_000, columns=100, cell_chars=32_767,
                            megabytes=megabytes, problems=1_000)
    errors = report.Errors("bench.xlsx", limits.problems)
    before = _rss_mb()
    cpu = time.process_time()
    rows = reading.read_rows(entity, data, "bench.xlsx", errors, limits)
    cpu = time.process_time() - cpu
    outcome = (f"{len(rows):,} rows read" if rows is not None and not errors.items
               else "; ".join(e.reason for e in errors.items[:1]))
    print(f"{_rss_mb() - before:.0f}\t{cpu:.1f}\t{outcome}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=256)
    parser.add_argument("--case", choices=CASES, action="append")
    parser.add_argument("--read", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.read:
        read(args.read[0], args.read[1], args.megabytes)
        return
    print(f"limit {args.megabytes} MB; load average {os.getloadavg()[0]:.1f}")
    print("| case | file | what | peak RSS rise | read CPU | outcome |")
    print("|---|---|---|---|---|---|")
    for case in args.case or CASES:
        entity, data, what = build(case, args.megabytes)
        with tempfile.NamedTemporaryFile(suffix=".xlsx") as file:
            file.write(data)
            file.flush()
            out = subprocess.run(
                [sys.executable, "-m", "bench.upload_limits", "--megabytes",
                 str(args.megabytes), "--read", entity, file.name],
                capture_output=True, text=True)
        if out.returncode:
            raise SystemExit(out.stderr)
        out = out.stdout.strip()
        rss, cpu, outcome = out.split("\t")
        print(f"| {case} | {len(data) / 2**20:,.2f} MB | {what} | {rss} MB | {cpu} s | "
              f"{outcome} |", flush=True)


if __name__ == "__main__":
    main()
