"""Executive dashboard: the KPIs of spec/KPIS.md for a quarter, with funnel, revenue and team."""

import streamlit as st

from isv import charts, display, ui
from isv.analytics import drill, frames
from isv.pack.pages import gap_note, gap_summary
from isv.services.settings import local_today
from isv.ui import clicks, kpi
from isv.ui.pack import exec_pack

viewer = ui.page_viewer(__file__)
today = local_today()

st.title("Executive dashboard")
choice = kpi.pick(viewer, today, key="dashboard")
data = kpi.load_dashboard(viewer, choice.period, choice.filters, today)
if data is None:
    st.stop()
now, where = data.kpis, kpi.context(data.kpis, choice.described)
st.caption(ui.escape_md(f"{kpi.period_text(now)} · as of {display.day(now.as_of)} · "
                        f"{now.scope.describe()}"))
pack = st.container()  # filled once the charts below are drawn

kpi.kpi_cards(now, data.previous, choice.filters, viewer)
f = choice.filters

revenue = frames.revenue_frame(data.revenue)
funnel = frames.funnel_frame(now)
domains = frames.domain_frame(data.domains)
partners = frames.partners_frame(data.partners)
shown = [
    kpi.chart(charts.revenue_by_quarter_figure(
                  revenue, title="Revenue by quarter: won, and weighted forecast from today",
                  context=charts.context_line(*choice.described, f"as of {display.day(today)}")),
              revenue, key="revenue", title="Revenue by quarter", money=("Won", "Forecast"),
              counts=("Won deals", "Forecast deals"), drill=clicks.revenue(data.revenue, f, today)),
    kpi.chart(charts.funnel_figure(
                  funnel, title="Funnel: how far the deals created this period got",
                  context=where),
              funnel, key="funnel", title="Funnel", money=("Value",), rates=("Conversion",),
              counts=("Deals",), drill=clicks.funnel(f, now.period),
              row_drill=clicks.funnel_row(f, now.period)),
    kpi.chart(charts.pipeline_by_domain_figure(
                  domains, title="Open pipeline by domain and stage",
                  context=charts.context_line(*choice.described, f"as of {display.day(today)}")),
              domains, key="domains", title="Open pipeline by domain",
              money=("Value", "Weighted"), counts=("Deals",), drill=clicks.domains(f),
              row_drill=clicks.domain_row(domains, f)),
    kpi.chart(charts.top_partners_figure(partners, title="Top partners by revenue won",
                                         context=where),
              partners, key="partners", title="Top partners", money=("Won", "Pipeline"),
              counts=("Won deals", "Open deals"),
              drill=clicks.top_partners(data.partners, f, now.period),
              row_drill=clicks.partner_row(data.partners, f, now.period)),
]

st.subheader("Slipped deals")
st.caption(f"{now.slipped_count:,} open deals expected to close before {display.day(now.as_of)} · "
           f"{display.money(now.slipped_value)}; the largest {len(data.slipped)} below")
if now.slipped_count:
    kpi.deals_link(f"All {display.count(now.slipped_count)} slipped deals",
                   drill.slipped(f, now.as_of))
kpi.table(frames.slipped_frame(data.slipped), money=("Value",), counts=("Days late",),
          key="slipped", drill=clicks.slipped_row(data.slipped))

st.subheader("Team performance")
st.caption(f"Open pipeline now; won and target in {now.period.title}")
kpi.table(frames.team_frame(data.team), money=("Pipeline", "Won", "Target"),
          rates=("Attainment",), counts=("Open deals", "Won deals"), key="team",
          drill=clicks.person_row(data.team, f, now.period))

st.subheader("Gap to goal")
st.caption(ui.escape_md(f"{gap_summary(now)}. {gap_note(now, data.closers)}"))
if data.closers:
    kpi.table(frames.closers_frame(data.closers), money=("Value", "Running total"),
              percentages=("Probability",), key="closers")

if now.no_structure:
    st.subheader("Won deals without an applicable commission structure")
    st.caption("They earn no commission: add or extend a structure for the partner, or pin "
               "one on the deal.")
    kpi.table(frames.unpaid_frame(now.no_structure), money=("Value",), key="unpaid")

with pack:
    exec_pack(viewer, data, shown, described=choice.described, key="dashboard")
