"""Files shaped like Salesforce, HubSpot and Pipedrive opportunity exports, built in code.

The headers are those the tools' exports write (Salesforce's Opportunities report,
HubSpot's deals export, Pipedrive's deals export with its "Deal - " prefix), plus one
partner column, which no tool has as standard.
"""

from __future__ import annotations

import csv
import io

from openpyxl import Workbook

SALESFORCE = ["Opportunity ID", "Opportunity Owner", "Account Name", "Opportunity Name",
              "Stage", "Fiscal Period", "Amount", "Probability (%)", "Age", "Close Date",
              "Created Date", "Next Step", "Lead Source", "Type", "Description",
              "Partner Account"]
HUBSPOT = ["Record ID", "Deal Name", "Deal Stage", "Close Date", "Deal owner", "Amount",
           "Create Date", "Pipeline", "Associated Company", "Deal Type", "Partner"]
PIPEDRIVE = ["Deal - ID", "Deal - Title", "Deal - Creator", "Deal - Owner", "Deal - Value",
             "Deal - Currency", "Deal - Probability", "Deal - Organization",
             "Deal - Contact person", "Deal - Expected close date", "Deal - Stage",
             "Deal - Status", "Deal - Add time", "Deal - Won time", "Deal - Lost time",
             "Deal - Lost reason", "Deal - Pipeline", "Deal - Partner"]
HEADERS = {"salesforce": SALESFORCE, "hubspot": HUBSPOT, "pipedrive": PIPEDRIVE}

# The fields of ours each tool's standard columns feed, by the tool's header.
STANDARD = {
    "salesforce": {"external_id": "Opportunity ID", "owner_email": "Opportunity Owner",
                   "customer_name": "Account Name", "deal_name": "Opportunity Name",
                   "stage": "Stage", "deal_value": "Amount",
                   "probability": "Probability (%)", "expected_close_date": "Close Date",
                   "created_at": "Created Date", "next_step": "Next Step",
                   "notes": "Description", "partner": "Partner Account"},
    "hubspot": {"external_id": "Record ID", "deal_name": "Deal Name", "stage": "Deal Stage",
                "expected_close_date": "Close Date", "owner_email": "Deal owner",
                "deal_value": "Amount", "created_at": "Create Date",
                "customer_name": "Associated Company", "partner": "Partner"},
    "pipedrive": {"external_id": "Deal - ID", "deal_name": "Deal - Title",
                  "owner_email": "Deal - Owner", "deal_value": "Deal - Value",
                  "currency": "Deal - Currency", "probability": "Deal - Probability",
                  "customer_name": "Deal - Organization",
                  "expected_close_date": "Deal - Expected close date",
                  "stage": "Deal - Stage", "status": "Deal - Status",
                  "created_at": "Deal - Add time", "actual_close_date": "Deal - Won time",
                  "lost_reason": "Deal - Lost reason", "partner": "Deal - Partner"},
}


def salesforce_row(**cells: str) -> dict[str, str]:
    row = {"Opportunity ID": "0065g00000AbCdE", "Opportunity Owner": "Olga Owner",
           "Account Name": "Acme Corp", "Opportunity Name": "Acme - 500 seats",
           "Stage": "Prospecting", "Fiscal Period": "Q1-2026", "Amount": "$1,234.50",
           "Probability (%)": "10%", "Age": "12", "Close Date": "3/31/2026",
           "Created Date": "1/15/2026", "Next Step": "Call the CFO", "Lead Source": "Partner",
           "Type": "New Business", "Description": "Wants SSO", "Partner Account": "Ledgerline"}
    row.update(cells)
    return row


def hubspot_row(**cells: str) -> dict[str, str]:
    row = {"Record ID": "9001", "Deal Name": "Globex renewal",
           "Deal Stage": "Appointment Scheduled", "Close Date": "2026-03-31 00:00",
           "Deal owner": "Olga Owner", "Amount": "25000", "Create Date": "2026-01-15 09:30",
           "Pipeline": "Sales Pipeline", "Associated Company": "Globex",
           "Deal Type": "newbusiness", "Partner": "Ledgerline"}
    row.update(cells)
    return row


def pipedrive_row(**cells: str) -> dict[str, str]:
    row = {"Deal - ID": "17", "Deal - Title": "Initech deal", "Deal - Creator": "Olga Owner",
           "Deal - Owner": "Olga Owner", "Deal - Value": "4200", "Deal - Currency": "USD",
           "Deal - Probability": "", "Deal - Organization": "Initech",
           "Deal - Contact person": "Peter Gibbons",
           "Deal - Expected close date": "2026-03-31", "Deal - Stage": "Lead In",
           "Deal - Status": "open", "Deal - Add time": "2026-01-15 09:30:00",
           "Deal - Won time": "", "Deal - Lost time": "", "Deal - Lost reason": "",
           "Deal - Pipeline": "Pipeline", "Deal - Partner": "Ledgerline"}
    row.update(cells)
    return row


ROWS = {"salesforce": salesforce_row, "hubspot": hubspot_row, "pipedrive": pipedrive_row}


def export_csv(tool: str, rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADERS[tool], lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def export_xlsx(tool: str, rows: list[dict[str, object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(HEADERS[tool])
    for row in rows:
        sheet.append([row.get(h) for h in HEADERS[tool]])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
