"""Partner analytics and team view results as DataFrames: for the charts, tables and exports.

Column names are the headers people read. Money stays exact Decimal; shares and rates are
Decimal (None where undefined); flags are words with a sign, never a colour alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

import pandas as pd

from isv import display
from isv.analytics.kpis import PartnerKpis
from isv.analytics.periods import Period

from .breakdowns import PersonResult
from .partners import (
    CONCENTRATION,
    LATER,
    SLIPPED,
    UNDATED,
    CreatedQuarter,
    DomainCoverage,
    HealthChange,
    Liability,
)

PARTNER_KPI_COLUMNS = ["Partner", "Domain", "Tier", "Open deals", "Pipeline", "Weighted", "Won",
                       "Won deals", "Lost deals", "Win rate", "Commission earned",
                       "Expected commission", "Unpaid won deals", "Health score",
                       "Score change"]
TREND_COLUMNS = ["Quarter", "Dates", "Domain", "Deals", "Value"]
LIABILITY_COLUMNS = ["Close", "Dates", "Deals", "Weighted pipeline", "Expected commission",
                     "Deals without structure", "Weighted without structure"]
COVERAGE_COLUMNS = ["Domain", "Partner", "Flag", "Open deals", "Pipeline", "Share of domain"]
# The flag second: on a narrow screen the last columns scroll out of sight.
DOMAIN_SUMMARY_COLUMNS = ["Domain", "Flag", "Partners", "Active partners", "Pipeline",
                          "Largest partner", "Largest share"]
# Attainment early: on a narrow screen the last columns scroll out of sight.
TEAM_VIEW_COLUMNS = ["Person", "Won", "Target", "Attainment", "Pipeline", "Open deals",
                     "Won deals", "Role"]
NO_ACTIVE = "⚠ No active partner"
BUCKET_NAMES = {SLIPPED: "Slipped", LATER: "Later", UNDATED: "No close date"}


def concentration_flag(share: Decimal | None) -> str:
    limit = display.percent(CONCENTRATION, places=0)
    return f"⚠ Holds more than {limit}" if share is not None and share > CONCENTRATION else ""


def partner_kpis_frame(rows: Iterable[PartnerKpis], expected: dict | None = None,
                       health: Iterable[HealthChange] = ()) -> pd.DataFrame:
    """One row per partner: pipeline now, the period's results, commission earned and
    expected, the health score and its change since the last weekly snapshot."""
    expected = expected or {}
    scores = {h.partner_id: h for h in health}
    return pd.DataFrame(
        [[r.name, r.domain, r.tier or "No tier", r.open_count, r.pipeline_total,
          r.pipeline_weighted, r.won_revenue, r.won_count, r.lost_count, r.win_rate,
          r.commission_earned,
          expected.get(r.partner_id, Decimal(0)), len(r.no_structure),
          scores[r.partner_id].score if r.partner_id in scores else None,
          scores[r.partner_id].change if r.partner_id in scores else None] for r in rows],
        columns=PARTNER_KPI_COLUMNS)


def trend_frame(rows: Iterable[CreatedQuarter], quarters: Sequence[Period]) -> pd.DataFrame:
    """Deals created per quarter and domain; every quarter appears, empty ones with zero."""
    rows = list(rows)
    seen = {r.period.label for r in rows}
    data = [[r.period.title, r.period.span, r.domain, r.count, r.value] for r in rows]
    data += [[q.title, q.span, "", 0, Decimal("0.00")] for q in quarters if q.label not in seen]
    order = {q.title: k for k, q in enumerate(quarters)}
    data.sort(key=lambda row: order[row[0]])
    return pd.DataFrame(data, columns=TREND_COLUMNS)


def liability_frame(liability: Liability) -> pd.DataFrame:
    """Expected commission per expected-close quarter (and slipped, later, undated)."""
    rows = []
    for b in liability.buckets:
        if b.period is None and not b.count:
            continue  # an empty slipped/later/undated bucket says nothing
        name = b.period.title if b.period else BUCKET_NAMES[b.key]
        rows.append([name, b.period.span if b.period else "", b.count, b.weighted,
                     b.commission, b.unpriced_count, b.unpriced_weighted])
    return pd.DataFrame(rows, columns=LIABILITY_COLUMNS)


def coverage_frame(rows: Iterable[DomainCoverage]) -> pd.DataFrame:
    """The coverage matrix in long form: each domain's partners, their share, and the flags."""
    data = []
    for domain in rows:
        if domain.no_active_partner:
            data.append([domain.domain, "", NO_ACTIVE, 0, Decimal("0.00"), None])
        for p in domain.partners:
            if p.active:
                data.append([domain.domain, p.name, concentration_flag(p.share), p.open_count,
                             p.pipeline, p.share])
    return pd.DataFrame(data, columns=COVERAGE_COLUMNS)


def domain_summary_frame(rows: Iterable[DomainCoverage]) -> pd.DataFrame:
    """One row per domain: partners, active ones, pipeline, the largest share and the flags."""
    data = []
    for domain in rows:
        top = domain.partners[0] if domain.partners and domain.partners[0].active else None
        flags = [NO_ACTIVE] if domain.no_active_partner else [
            f"⚠ {p.name} holds more than {display.percent(CONCENTRATION, places=0)}"
            for p in domain.concentrated]
        data.append([domain.domain, " · ".join(flags) or "✓ OK", len(domain.partners),
                     domain.active_count, domain.pipeline, top.name if top else "",
                     top.share if top else None])
    return pd.DataFrame(data, columns=DOMAIN_SUMMARY_COLUMNS)


def team_view_frame(rows: Iterable[PersonResult]) -> pd.DataFrame:
    return pd.DataFrame([[r.name, r.won, r.target, r.attainment, r.pipeline, r.open_count,
                          r.won_count, r.role] for r in rows], columns=TEAM_VIEW_COLUMNS)
