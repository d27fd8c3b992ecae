"""Pipeline analytics as DataFrames: what the charts draw and the tables under them show.

Column names are the headers people read. Money and rates stay exact Decimal (None where
there is nothing to divide); days are rounded to a tenth, as people read them (the
analytics keep 1/10,000 day), so the tables under the charts show what the labels show.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_EVEN, Decimal

import pandas as pd

from isv import display
from isv.charts import STAGE_LABELS

from .periods import span_text
from .pipeline import (
    LATER,
    OVERDUE,
    UNDATED,
    CloseMonth,
    LostReason,
    PartnerWinLoss,
    StageTime,
    Velocity,
)

STAGE_TIME_COLUMNS = ["Stage", "Moved on", "Average days", "Median days", "Deals moved on",
                      "Still there", "Average days so far", "Median days so far",
                      "Left out (imported)"]
VELOCITY_COLUMNS = ["Quarter", "Dates", "Open deals", "Win rate", "Average won deal",
                    "Cycle days", "Velocity per day", "Won deals", "Lost deals"]
FORECAST_COLUMNS = ["Close month", "Dates", "Kind", "Deals", "Value", "Weighted"]
WIN_LOSS_COLUMNS = ["Partner", "Domain", "Won deals", "Won", "Lost deals", "Lost", "Win rate"]
LOST_REASON_COLUMNS = ["Reason", "Deals", "Value", "Share of lost deals"]
NO_REASON = "No reason given"
TENTH = Decimal("0.1")


def _tenth(days: Decimal | None) -> Decimal | None:
    return None if days is None else days.quantize(TENTH, rounding=ROUND_HALF_EVEN)


def stage_time_frame(rows: Iterable[StageTime]) -> pd.DataFrame:
    """Days in each open stage: stays that ended in the period (and the deals they belong to:
    a deal can leave a stage twice), and deals still there."""
    return pd.DataFrame([[STAGE_LABELS[r.stage], r.moved_count, _tenth(r.moved_avg_days),
                          _tenth(r.moved_median_days), r.moved_deals, r.open_count,
                          _tenth(r.open_avg_days),
                          _tenth(r.open_median_days), r.reconstructed] for r in rows],
                        columns=STAGE_TIME_COLUMNS)


def velocity_frame(rows: Iterable[Velocity]) -> pd.DataFrame:
    """Sales velocity per quarter, with the KPIs it is made of."""
    return pd.DataFrame([[r.period.title, r.period.span, r.open_count, r.win_rate,
                          r.avg_won_deal, _tenth(r.avg_cycle_days), r.per_day, r.won_count,
                          r.lost_count] for r in rows], columns=VELOCITY_COLUMNS)


def _month_name(row: CloseMonth) -> str:
    if row.kind == OVERDUE:
        return "Overdue"
    if row.kind == LATER:
        return "Later"
    if row.kind == UNDATED:
        return "No close date"
    return display.month(row.start)


def _month_dates(row: CloseMonth) -> str:
    if row.kind == OVERDUE:
        return f"expected on or before {display.day(row.end)}"
    if row.kind == LATER:
        return f"from {display.day(row.start)}"
    if row.kind == UNDATED:
        return "no expected close date"
    return span_text(row.start, row.end)


def forecast_frame(rows: Iterable[CloseMonth]) -> pd.DataFrame:
    """Open pipeline by expected close month; the undated bucket only when it holds deals."""
    return pd.DataFrame([[_month_name(r), _month_dates(r), r.kind, r.count, r.value, r.weighted]
                         for r in rows if r.kind != UNDATED or r.count],
                        columns=FORECAST_COLUMNS)


def win_loss_frame(rows: Iterable[PartnerWinLoss]) -> pd.DataFrame:
    """Won and lost deals of the period per partner, and the win rate by count."""
    return pd.DataFrame([[r.name, r.domain, r.won_count, r.won_value, r.lost_count,
                          r.lost_value, r.win_rate] for r in rows], columns=WIN_LOSS_COLUMNS)


def lost_reason_frame(rows: Iterable[LostReason]) -> pd.DataFrame:
    """Deals lost in the period by reason, with each reason's share of the lost deals."""
    rows = list(rows)
    total = sum(r.count for r in rows)
    return pd.DataFrame([[r.reason or NO_REASON, r.count, r.value,
                          Decimal(r.count) / total if total else None]
                         for r in rows], columns=LOST_REASON_COLUMNS)
