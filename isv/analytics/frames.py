"""Analytics results as DataFrames: what the charts draw, the tables show and exports write.

Column names are the headers people read. Money stays exact Decimal; ratios are Decimal
(or None where the KPI is null); rounding is for whoever displays them.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from isv.charts import STAGE_LABELS
from isv.models import OPEN_STAGES, STAGES
from isv.rules.deals import FUNNEL_STAGES

from .breakdowns import (
    ClosingDeal,
    DomainStage,
    PartnerResult,
    PersonResult,
    QuarterRevenue,
    SlippedDeal,
)
from .kpis import Kpis, UnpaidDeal

FUNNEL_COLUMNS = ["Stage", "Deals", "Value", "Conversion"]
STAGE_COLUMNS = ["Stage", "Deals", "Value"]
REVENUE_COLUMNS = ["Quarter", "Dates", "Status", "Won", "Won deals", "Forecast",
                   "Forecast deals"]
DOMAIN_COLUMNS = ["Domain", "Stage", "Deals", "Value", "Weighted"]
PARTNER_COLUMNS = ["Partner", "Domain", "Won", "Won deals", "Pipeline", "Open deals"]
SLIPPED_COLUMNS = ["Customer", "Partner", "Stage", "Value", "Expected close", "Days late",
                   "Owner"]
TEAM_COLUMNS = ["Person", "Role", "Pipeline", "Open deals", "Won", "Won deals", "Target",
                "Attainment"]
UNPAID_COLUMNS = ["Customer", "Partner", "Value", "Closed"]
CLOSER_COLUMNS = ["Customer", "Partner", "Stage", "Probability", "Value", "Expected close",
                  "Slipped", "Running total"]


def funnel_frame(kpis: Kpis) -> pd.DataFrame:
    """Deals created in the period that reached each stage, and the conversion between them."""
    rows = []
    for k, stage in enumerate(FUNNEL_STAGES):
        conversion = None
        if k:
            conversion = kpis.conversion[f"{FUNNEL_STAGES[k - 1]}->{stage}"]
        rows.append([STAGE_LABELS[stage], kpis.reached_count[stage], kpis.reached_value[stage],
                     conversion])
    return pd.DataFrame(rows, columns=FUNNEL_COLUMNS)


def stage_frame(kpis: Kpis, stages: Iterable[str] = STAGES) -> pd.DataFrame:
    """Count and value per current stage (pipeline: current state)."""
    return pd.DataFrame([[STAGE_LABELS[s], kpis.stage_count[s], kpis.stage_value[s]]
                         for s in stages], columns=STAGE_COLUMNS)


def revenue_frame(rows: Iterable[QuarterRevenue]) -> pd.DataFrame:
    return pd.DataFrame([[r.period.title, r.period.span, r.status, r.won, r.won_count,
                          r.forecast, r.forecast_count] for r in rows],
                        columns=REVENUE_COLUMNS)


def domain_frame(rows: Iterable[DomainStage]) -> pd.DataFrame:
    order = {stage: k for k, stage in enumerate(OPEN_STAGES)}
    ordered = sorted(rows, key=lambda r: (r.domain, order.get(r.stage, 99)))
    return pd.DataFrame([[r.domain, STAGE_LABELS[r.stage], r.count, r.value, r.weighted]
                         for r in ordered], columns=DOMAIN_COLUMNS)


def partners_frame(rows: Iterable[PartnerResult]) -> pd.DataFrame:
    return pd.DataFrame([[r.name, r.domain, r.won, r.won_count, r.pipeline, r.open_count]
                         for r in rows], columns=PARTNER_COLUMNS)


def slipped_frame(rows: Iterable[SlippedDeal]) -> pd.DataFrame:
    return pd.DataFrame([[r.customer_name, r.partner_name, STAGE_LABELS[r.stage], r.deal_value,
                          r.expected_close_date, r.days_late, r.owner_name or "unassigned"]
                         for r in rows], columns=SLIPPED_COLUMNS)


def team_frame(rows: Iterable[PersonResult]) -> pd.DataFrame:
    return pd.DataFrame([[r.name, r.role, r.pipeline, r.open_count, r.won, r.won_count,
                          r.target, r.attainment] for r in rows], columns=TEAM_COLUMNS)


def unpaid_frame(rows: Iterable[UnpaidDeal]) -> pd.DataFrame:
    """Won deals with no applicable commission structure (commission 0)."""
    return pd.DataFrame([[r.customer_name, r.partner_name, r.deal_value, r.close_date]
                         for r in rows], columns=UNPAID_COLUMNS)


def closers_frame(rows: Iterable[ClosingDeal]) -> pd.DataFrame:
    """The open deals most likely to close the gap to goal; probability as stored (0–100)."""
    return pd.DataFrame([[r.customer_name, r.partner_name, STAGE_LABELS[r.stage],
                          r.probability, r.deal_value, r.expected_close_date,
                          "yes" if r.slipped else "", r.cumulative_value] for r in rows],
                        columns=CLOSER_COLUMNS)
