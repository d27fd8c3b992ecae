"""How a Salesforce, HubSpot or Pipedrive opportunities export becomes our opportunities file.

Pure: no database. Three steps, each usable alone (the Import page shows the first two and
lets the person change them):

1. `propose_columns`: which column of the file feeds each of our fields — the tool's known
   header names first, then the nearest name by `difflib` on normalised names, with a
   confidence.
2. `default_stage_map`: the tool's default stage names onto ours.
3. `convert`: every row of the file as a row of our opportunities format (spec/IMPORT.md),
   in the same order, so the importer's `row N` is the file's row N. Money, dates and
   percentages written as the tool writes them are rewritten as ours, and checked by the
   importer's own cleaners; what only the conversion can know (an unknown stage, an owner
   named by a name no user has) is a problem of its row.

The partner: our deals need one, and the tools have no standard partner field. A column
named like a partner field ("Partner", "Partner Account", "Primary Partner", "Referral
Partner") is proposed; otherwise the person maps one (the account may be the partner in
some teams) or names one partner for every row. The account or organization is the
customer.

One file, over 500 lines: a quarter of it is the three tools' vocabularies (header names,
stage names, money and date forms), kept as data beside the code that reads them.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from isv.models import CLOSED_STAGES, CRM_TOOLS, STAGES
from isv.services.cells import guard

TOOLS: tuple[str, ...] = CRM_TOOLS
TOOL_LABELS = {"salesforce": "Salesforce", "hubspot": "HubSpot", "pipedrive": "Pipedrive"}

# Our opportunity columns (spec/IMPORT.md) in their order: what `convert` writes.
COLUMNS: tuple[str, ...] = (
    "external_id", "partner", "customer_name", "customer_contact_email", "deal_value", "stage",
    "probability", "expected_close_date", "actual_close_date", "owner_email", "lost_reason",
    "notes", "created_at",
)
TEXT_COLUMNS = ("external_id", "partner", "customer_name", "customer_contact_email", "stage",
                "owner_email", "lost_reason", "notes")

# What a column of the file can feed: our columns, and what the tools have that ours keep
# elsewhere (a deal's name and next step go into its notes; a won/lost status decides the
# stage; a currency is checked, never converted).
FIELDS: tuple[str, ...] = (*COLUMNS, "deal_name", "next_step", "status", "currency")
FIELD_LABELS = {
    "external_id": "Their record id (external_id)",
    "partner": "Partner",
    "customer_name": "Customer",
    "customer_contact_email": "Customer contact email",
    "deal_value": "Deal value",
    "stage": "Stage",
    "probability": "Probability %",
    "expected_close_date": "Expected close date",
    "actual_close_date": "Actual close date",
    "owner_email": "Owner (name or email)",
    "lost_reason": "Lost reason",
    "notes": "Notes / description",
    "created_at": "Created",
    "deal_name": "Deal name (kept in notes)",
    "next_step": "Next step (kept in notes)",
    "status": "Won/lost status",
    "currency": "Currency",
}
REQUIRED = ("customer_name", "deal_value", "stage")

# Header names as each tool's export writes them (Salesforce opportunity reports, HubSpot's
# deals export, Pipedrive's deals export, whose headers start "Deal - ", also accepted
# without it). Compared normalised (see `normalise`). Earlier names win.
_PARTNER_NAMES = ("Partner", "Partner Name", "Partner Account", "Primary Partner",
                  "Partner Account Name", "Referral Partner", "Partner Company")
KNOWN: dict[str, dict[str, tuple[str, ...]]] = {
    "salesforce": {
        "external_id": ("Opportunity ID", "Opportunity Id", "Record ID"),
        "partner": _PARTNER_NAMES,
        "customer_name": ("Account Name", "Account"),
        "customer_contact_email": ("Contact Email", "Primary Contact Email", "Email"),
        "deal_value": ("Amount",),
        "stage": ("Stage", "Stage Name"),
        "probability": ("Probability (%)", "Probability"),
        "expected_close_date": ("Close Date",),
        "owner_email": ("Opportunity Owner", "Owner Email", "Opportunity Owner Email",
                        "Owner Name"),
        "lost_reason": ("Loss Reason", "Closed Lost Reason", "Reason Lost"),
        "notes": ("Description",),
        "created_at": ("Created Date",),
        "deal_name": ("Opportunity Name",),
        "next_step": ("Next Step",),
        "currency": ("Opportunity Currency", "Amount Currency", "Currency"),
    },
    "hubspot": {
        "external_id": ("Record ID", "Deal ID"),
        "partner": _PARTNER_NAMES,
        "customer_name": ("Associated Company", "Associated Company (Primary)",
                          "Company name", "Company"),
        "customer_contact_email": ("Associated Contact Email", "Contact Email", "Email"),
        "deal_value": ("Amount", "Amount in company currency"),
        "stage": ("Deal Stage",),
        "probability": ("Deal probability",),
        "expected_close_date": ("Close Date",),
        "owner_email": ("Deal owner", "Owner", "HubSpot Owner"),
        "lost_reason": ("Closed lost reason",),
        "notes": ("Deal Description", "Description"),
        "created_at": ("Create Date",),
        "deal_name": ("Deal Name",),
        "next_step": ("Next step",),
        "currency": ("Currency", "Deal currency code"),
    },
    "pipedrive": {
        "external_id": ("ID",),
        "partner": _PARTNER_NAMES,
        "customer_name": ("Organization", "Organization Name"),
        "customer_contact_email": ("Contact person email", "Person - Email", "Email"),
        "deal_value": ("Value",),
        "stage": ("Stage",),
        "probability": ("Probability",),
        "expected_close_date": ("Expected close date",),
        "actual_close_date": ("Close time", "Deal closed on", "Won time", "Lost time"),
        "owner_email": ("Owner", "Owner name", "Creator"),
        "lost_reason": ("Lost reason",),
        "notes": ("Notes", "Description"),
        "created_at": ("Add time", "Deal created"),
        "deal_name": ("Title",),
        "next_step": ("Next activity subject",),
        "status": ("Status",),
        "currency": ("Currency",),
    },
}

# Standard columns of the tools that feed none of our fields: never proposed by similarity
# (Pipedrive's "Contact person" is a name, however like "Contact person email" it looks).
IGNORED: dict[str, tuple[str, ...]] = {
    "salesforce": ("Fiscal Period", "Age", "Lead Source", "Type", "Expected Revenue",
                   "Fiscal Year", "Fiscal Quarter", "Last Modified Date", "Last Activity",
                   "Forecast Category", "Stage Duration", "Account Owner"),
    "hubspot": ("Pipeline", "Deal Type", "Last Activity Date", "Last Modified Date",
                "Associated Company IDs", "Associated Contact IDs", "Associated Contact",
                "Forecast category", "Priority"),
    "pipedrive": ("Contact person", "Creator", "Pipeline", "Update time",
                  "Last stage change", "Next activity date", "Last activity date",
                  "Label", "Visible to", "Person - Name", "Weighted value",
                  "Stage change time"),
}

# The tools' default stages (Salesforce's standard opportunity stages, HubSpot's default
# sales pipeline by label and by internal id, Pipedrive's default pipelines) onto ours.
DEFAULT_STAGES: dict[str, dict[str, str]] = {
    "salesforce": {
        "Prospecting": "lead", "Qualification": "lead", "Needs Analysis": "demo",
        "Value Proposition": "demo", "Id. Decision Makers": "poc",
        "Perception Analysis": "poc", "Proposal/Price Quote": "proposal",
        "Negotiation/Review": "proposal", "Closed Won": "closed_won",
        "Closed Lost": "closed_lost",
    },
    "hubspot": {
        "Appointment Scheduled": "lead", "appointmentscheduled": "lead",
        "Qualified To Buy": "lead", "qualifiedtobuy": "lead",
        "Presentation Scheduled": "demo", "presentationscheduled": "demo",
        "Decision Maker Bought-In": "poc", "decisionmakerboughtin": "poc",
        "Contract Sent": "proposal", "contractsent": "proposal",
        "Closed Won": "closed_won", "closedwon": "closed_won",
        "Closed Lost": "closed_lost", "closedlost": "closed_lost",
    },
    "pipedrive": {
        "Lead In": "lead", "Qualified": "lead", "Contact Made": "lead",
        "Demo Scheduled": "demo", "Needs Defined": "demo", "Proposal Made": "proposal",
        "Negotiations Started": "proposal",
    },
}
# Pipedrive keeps won and lost deals in their last stage, with this status.
STATUS_STAGES = {"won": "closed_won", "lost": "closed_lost"}
OPEN_STATUS = "open"

FUZZY_CUTOFF = 0.75  # a name this similar to a known one is proposed; below, nothing is
_PIPEDRIVE_PREFIX = "deal - "


def normalise(name: str) -> str:
    """A header or stage name as compared: NFKC, case-folded, punctuation as spaces."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    return " ".join(re.sub(r"[^\w]+", " ", folded).split())


def _header_key(tool: str, name: str) -> str:
    text = unicodedata.normalize("NFKC", name).strip().casefold()
    if tool == "pipedrive" and text.startswith(_PIPEDRIVE_PREFIX):
        text = text[len(_PIPEDRIVE_PREFIX):]
    return normalise(text)


def name_key(name: str) -> str:
    """A person's or partner's name as matched: NFKC, case-folded, single spaces."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def validate_tool(tool: str) -> str:
    """The tool, or a ValueError naming the ones known."""
    if tool not in TOOLS:
        raise ValueError(f"{tool!r} is not one of {', '.join(TOOLS)}")
    return tool


# --- 1. columns ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Proposal:
    """Which column of the file is proposed for one of our fields, and how sure that is."""

    field: str
    source: str | None      # the header as the file writes it; None: nothing fits
    confidence: float       # 1.0 a known name of the tool; else difflib's ratio
    how: str                # "known", "similar" or "none"


def propose_columns(tool: str, headers: Sequence[str]) -> dict[str, Proposal]:
    """Propose a column of the file for each field: known names first, then similar ones.

    A column feeds one field at most; the surest pairs are taken first.
    """
    validate_tool(tool)
    keys = {h: _header_key(tool, h) for h in headers if h and h.strip()}
    ignored = {normalise(name) for name in IGNORED[tool]}
    taken: set[str] = {h for h, k in keys.items() if k in ignored}
    out: dict[str, Proposal] = {}
    for name in FIELDS:
        known = [normalise(k) for k in KNOWN[tool].get(name, ())] + [normalise(name)]
        for wanted in known:
            found = next((h for h, k in keys.items() if k == wanted and h not in taken), None)
            if found is not None:
                out[name] = Proposal(name, found, 1.0, "known")
                taken.add(found)
                break
    candidates: list[tuple[float, str, str]] = []
    for name in FIELDS:
        if name in out:
            continue
        names = {normalise(k) for k in KNOWN[tool].get(name, ())}
        names |= {normalise(name), normalise(FIELD_LABELS[name])}
        for header, key in keys.items():
            if header in taken:
                continue
            score = max(difflib.SequenceMatcher(None, key, n).ratio() for n in names)
            if score >= FUZZY_CUTOFF:
                candidates.append((score, name, header))
    for score, name, header in sorted(candidates, key=lambda c: (-c[0], FIELDS.index(c[1]))):
        if name in out or header in taken:
            continue
        out[name] = Proposal(name, header, round(score, 2), "similar")
        taken.add(header)
    for name in FIELDS:
        out.setdefault(name, Proposal(name, None, 0.0, "none"))
    return {name: out[name] for name in FIELDS}


# --- 2. stages -----------------------------------------------------------------------------

def default_stage_map(tool: str) -> dict[str, str]:
    """The tool's default stage names onto ours."""
    return dict(DEFAULT_STAGES[validate_tool(tool)])


def check_stage_map(entries: Mapping[str, str], *, where: str = "stage map") -> dict[str, str]:
    """Their stage → ours, each of ours one of STAGES; a ValueError names the entry."""
    out: dict[str, str] = {}
    for theirs, ours in entries.items():
        theirs_text = str(theirs or "").strip()
        ours_text = str(ours or "").strip()
        if not theirs_text:
            raise ValueError(f"{where}: an entry has no stage of theirs")
        if ours_text not in STAGES:
            raise ValueError(f"{where}: {theirs_text!r} maps to {ours_text!r}, which is not "
                             f"one of {', '.join(STAGES)}")
        out[theirs_text] = ours_text
    return out


# --- 3. rows -------------------------------------------------------------------------------

@dataclass
class CrmMapping:
    """What the person settled on: a column per field, the stage map, a partner for all."""

    tool: str
    columns: dict[str, str | None]          # field → header of the file (None: not used)
    stages: dict[str, str]                  # their stage → ours
    partner: str | None = None              # every row's partner, when no column is mapped
    name: str | None = None                 # the name it is saved under, if it is


@dataclass(frozen=True)
class People:
    """Who an owner cell may name: users by email, and by full name when only one has it."""

    emails: frozenset[str]
    by_name: Mapping[str, str | None]        # name_key(full name) → email; None: several

    @classmethod
    def of(cls, users: Iterable[tuple[str, str, str]]) -> People:
        """From (email, first name, last name) triples."""
        emails: set[str] = set()
        by_name: dict[str, str | None] = {}
        for email, first, last in users:
            emails.add(email.lower())
            key = name_key(f"{first} {last}")
            by_name[key] = None if key in by_name else email.lower()
        return cls(frozenset(emails), by_name)


@dataclass(frozen=True)
class Partners:
    """The partners a row may name: stored name by name_key, and by contact email."""

    by_name: Mapping[str, str]
    by_email: Mapping[str, str | None]       # contact email → name; None: several

    @classmethod
    def of(cls, partners: Iterable[tuple[str, str | None]]) -> Partners:
        """From (name, primary contact email) pairs."""
        by_name: dict[str, str] = {}
        by_email: dict[str, str | None] = {}
        for name, email in partners:
            by_name[name_key(name)] = name
            if email:
                key = email.lower()
                by_email[key] = None if key in by_email else name
        return cls(by_name, by_email)


@dataclass(frozen=True)
class Problem:
    row: int
    column: str
    reason: str


@dataclass
class Converted:
    """The file in our format, and what the conversion alone found wrong or worth saying."""

    header: list[str]
    rows: list[list[str]]           # one per row of the file after the header, in order
    problems: list[Problem] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


_EMAIL_IN = re.compile(r"[^@\s<>()\[\],;\"']+@[^@\s<>()\[\],;\"']+\.[^@\s<>()\[\],;\"']+")
_MONEY = re.compile(r"-?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?")
_CURRENCY_MARKS = re.compile(r"^[A-Za-z]{3}\s*|\s*[A-Za-z]{3}$|[$€£¥]")
_SLASHED = re.compile(r"([0-9]{1,2})/([0-9]{1,2})/([0-9]{2}|[0-9]{4})"
                      r"(?:[ T]+([0-9]{1,2}):([0-9]{2})(?::([0-9]{2}))?\s*([AaPp][Mm])?)?")
_ISO_START = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def money_text(text: str) -> str:
    """"$1,234.50", "USD 1,234.50", "1234.5 EUR" as 1234.50's text; anything else unchanged
    for the importer's check to refuse by name."""
    bare = _CURRENCY_MARKS.sub("", text.strip()).strip()
    if _MONEY.fullmatch(bare):
        return bare.replace(",", "")
    return text


def percent_text(tool: str, text: str) -> str:
    """"10%" and "10" as 10; HubSpot writes a deal's probability as a fraction (0.1)."""
    bare = text.strip()
    if bare.endswith("%"):
        return bare[:-1].strip()
    if tool == "hubspot" and bare:
        try:
            number = Decimal(bare)
        except InvalidOperation:
            return text
        if 0 <= number <= 1:
            return format((number * 100).normalize(), "f")
    return text


def _slashed(tool: str, text: str, *, moment: bool) -> tuple[str | None, bool]:
    """Month/day/year (the US form the tools write) as ISO; (None, True) when it is not a day."""
    match = _SLASHED.fullmatch(text.strip())
    if match is None:
        return None, False
    month, day, year, hour, minute, second, half = match.groups()
    year_number = int(year) + (2000 if len(year) == 2 else 0)
    try:
        day_value = date(year_number, int(month), int(day))
    except ValueError:
        return None, True
    if not moment or hour is None:
        return day_value.isoformat(), False
    hours = int(hour)
    if half:
        if hours > 12:
            return None, True
        hours = hours % 12 + (12 if half.lower() == "pm" else 0)
    if hours > 23 or int(minute) > 59 or int(second or 0) > 59:
        return None, True
    return f"{day_value.isoformat()}T{hours:02d}:{minute}:{int(second or 0):02d}", False


def date_text(tool: str, text: str, *, moment: bool = False) -> tuple[str, str | None]:
    """A date or time as the tool writes it, as ours; (text, reason) when it cannot be read.

    "2026-03-31", "2026-03-31 10:22:33" and "3/31/2026" (month first, as the tools' US
    exports write it) are read; anything else goes on unchanged for the importer to refuse.
    """
    bare = text.strip()
    if _ISO_START.match(bare):
        return (bare if moment else bare[:10]), None
    converted, bad = _slashed(tool, bare, moment=moment)
    if bad:
        return text, (f"{bare!r} is not a date month/day/year as {TOOL_LABELS[tool]} writes "
                      "it, nor YYYY-MM-DD")
    return (converted if converted is not None else text), None


def _notes(deal_name: str, notes: str, next_step: str) -> str:
    parts = [p for p in (deal_name.strip(), notes.strip()) if p]
    if next_step.strip():
        parts.append(f"Next step: {next_step.strip()}")
    return "\n\n".join(parts)


def convert(mapping: CrmMapping, header: Sequence[str], records: Iterable[tuple[int, list[str]]],
            *, people: People, partners: Partners) -> Converted:
    """Every record (number, cells under `header`) as a row of our opportunities format.

    Numbers run as in the file (1 is the header); a number skipped (a workbook leaves out
    empty rows) becomes an empty row, so row N of the import is row N of the file.
    """
    tool = mapping.tool
    label = TOOL_LABELS[tool]
    position = {h: i for i, h in enumerate(header) if h}
    source = {name: position.get(col) if col else None
              for name, col in mapping.columns.items() if name in FIELDS}
    stage_map = {normalise(k): v for k, v in mapping.stages.items()}
    out = Converted(header=list(COLUMNS), rows=[])
    lost_without_reason = 0
    currency: str | None = None
    last = 1
    # Pipedrive keeps a won time and a lost time: a closed deal closed at the one of its
    # status, unless the person mapped another column to the close date.
    by_key = {_header_key(tool, h): i for i, h in enumerate(header) if h}
    status_close = {stage: by_key.get(name) for stage, name in
                    (("closed_won", "won time"), ("closed_lost", "lost time"))}
    own_close = source.get("actual_close_date") not in (None, *status_close.values())

    def cell(record: list[str], name: str) -> str:
        index = source.get(name)
        return record[index] if index is not None and index < len(record) else ""

    for number, record in records:
        while last + 1 < number:  # rows the workbook left out
            out.rows.append([""] * len(COLUMNS))
            last += 1
        last = number
        if all(not c.strip() for c in record):
            out.rows.append([""] * len(COLUMNS))
            continue
        row: dict[str, str] = {name: cell(record, name).strip() if name in TEXT_COLUMNS
                               else cell(record, name) for name in COLUMNS}

        def problem(column: str, reason: str, number: int = number) -> None:
            out.problems.append(Problem(number, column, reason))

        if row["external_id"]:
            row["external_id"] = f"{tool}:{row['external_id']}"
        if source.get("partner") is None and mapping.partner:
            row["partner"] = mapping.partner
        partner = row["partner"]
        if "@" in partner:
            found = partners.by_email.get(partner.lower(), "")
            if found is None:
                problem("partner", f"several partners have the contact email {partner!r}; "
                                   "name the partner instead")
            elif found:
                row["partner"] = found
        elif partner:
            row["partner"] = partners.by_name.get(name_key(partner), partner)
        if not row["customer_name"]:
            row["customer_name"] = cell(record, "deal_name").strip()

        row["deal_value"] = money_text(row["deal_value"])
        if row["probability"].strip():
            row["probability"] = percent_text(tool, row["probability"])
        for name in ("expected_close_date", "actual_close_date", "created_at"):
            if row[name].strip():
                row[name], reason = date_text(tool, row[name], moment=name == "created_at")
                if reason:
                    problem(name, reason)

        theirs = row["stage"]
        status = cell(record, "status").strip().casefold()
        if status in STATUS_STAGES:
            ours = STATUS_STAGES[status]
        elif status and status != OPEN_STATUS:
            problem("stage", f"{label} status {status!r} is neither open, won nor lost; "
                             "such deals are not imported")
            ours = None
        elif not theirs:
            ours = ""  # the importer says the stage is required
        else:
            ours = stage_map.get(normalise(theirs))
            if ours is None:
                problem("stage", f"{label} stage {theirs!r} is not in the stage map; add it "
                                 f"with one of {', '.join(STAGES)}")
        if ours is not None:
            row["stage"] = ours
        if ours in CLOSED_STAGES:
            kept = status_close[ours]
            if tool == "pipedrive" and not own_close and kept is not None:
                when = record[kept] if kept < len(record) else ""
                row["actual_close_date"] = date_text(tool, when)[0] if when.strip() else ""
            # Otherwise the tools keep one close date: when a closed deal closed.
            if not row["actual_close_date"]:
                row["actual_close_date"] = row["expected_close_date"]
        elif ours is not None:
            row["actual_close_date"] = ""
        if ours == "closed_lost" and not row["lost_reason"]:
            row["lost_reason"] = f"No reason recorded in {label}"
            lost_without_reason += 1
        elif ours is not None and ours != "closed_lost":
            row["lost_reason"] = ""  # a reason the tool kept for a deal not lost

        owner = row["owner_email"]
        if owner:
            email = _EMAIL_IN.search(owner)
            if email is not None:
                row["owner_email"] = email.group(0).lower()
            else:
                key = name_key(owner)
                if key not in people.by_name:
                    problem("owner_email", f"no user named {owner!r}; owners are matched by "
                                           "full name or email")
                elif people.by_name[key] is None:
                    problem("owner_email", f"several users are named {owner!r}; give the "
                                           "owner's email instead")
                else:
                    row["owner_email"] = people.by_name[key] or ""

        money_currency = cell(record, "currency").strip().upper()
        if money_currency:
            if currency is None:
                currency = money_currency
            elif money_currency != currency:
                problem("deal_value", f"is in {money_currency}, the file's first deal in "
                                      f"{currency}; amounts are not converted, so import each "
                                      "currency in a file of its own")

        row["notes"] = _notes(cell(record, "deal_name") if source.get("customer_name")
                              is not None else "", row["notes"], cell(record, "next_step"))
        out.rows.append([guard(row[c]) if c in TEXT_COLUMNS else row[c] for c in COLUMNS])
    if lost_without_reason:
        out.notices.append(
            f"{lost_without_reason} lost deal{'s have' if lost_without_reason != 1 else ' has'}"
            f" no reason in the file; imported with the reason “No reason recorded in "
            f"{label}”.")
    return out


def unused_columns(mapping: CrmMapping, header: Sequence[str]) -> list[str]:
    """The file's named columns that feed nothing: the person should know they are dropped."""
    used = {c for c in mapping.columns.values() if c}
    return [h for h in header if h and h.strip() and h not in used]


def parse_stage_map(data: bytes, filename: str) -> dict[str, str]:
    """A stage map file: JSON {"their stage": "our stage"}, or CSV `their_stage,our_stage`.

    A ValueError says what is wrong, naming the entry or row.
    """
    where = f"stage map {filename}"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValueError(f"{where} is not UTF-8 text") from None
    if filename.lower().endswith(".json"):
        try:
            entries = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where} is not JSON: {exc.msg} at line {exc.lineno}") from None
        if not isinstance(entries, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in entries.items()):
            raise ValueError(f'{where} must be one JSON object of texts, like '
                             '{"Discovery": "demo"}')
        return check_stage_map(entries, where=where)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    if not rows or [c.strip().lower() for c in rows[0]] != ["their_stage", "our_stage"]:
        raise ValueError(f"{where}: the first row must be the header their_stage,our_stage")
    entries = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != 2:
            raise ValueError(f"{where}: row {number} has {len(row)} cells; each row is "
                             "their_stage,our_stage")
        entries.update(check_stage_map({row[0]: row[1]}, where=f"{where}, row {number}"))
    return entries
