"""Partner analytics: per-partner KPIs, new pipeline, commission liability, domain coverage
and the quarter's tier review."""


import streamlit as st

from isv import charts, display, ui
from isv.analytics import drill
from isv.analytics import partner_frames as pf
from isv.analytics.partners import CONCENTRATION, partner_analytics
from isv.services.settings import local_today
from isv.ui import clicks, kpi
from isv.ui.tiers import review_section

TOP = 15  # partners on the chart; the table under it lists them all


viewer = ui.page_viewer(__file__)
today = local_today()

st.title("Partner analytics")
ui.show_flash()
choice = kpi.pick(viewer, today, key="partner_analytics")
data = kpi.load(partner_analytics, viewer, choice.period, choice.filters, today)
if data is None:
    st.stop()

now, where = data.kpis, kpi.context(data.kpis, choice.described)
current = charts.context_line(*choice.described, f"as of {display.day(today)}")
liability = data.liability
f = choice.filters
st.caption(ui.escape_md(f"{kpi.period_text(now)} · as of {display.day(now.as_of)} · "
                        f"{now.scope.describe()}"))

cards = st.columns(3)
with cards[0]:
    kpi.card("Pipeline", display.money_short(now.pipeline_total),
             note=f"{now.open_count:,} open deals · weighted "
                  f"{display.money_short(now.pipeline_weighted)}",
             help=f"{display.money(now.pipeline_total)}; weighted "
                  f"{display.money(now.pipeline_weighted)}. Current state.",
             deals=(f"{display.count(now.open_count)} open deals", drill.open_deals(f)))
    kpi.card("Won this period", display.money_short(now.won_revenue),
             note=f"{now.won_count:,} won · {now.lost_count:,} lost · win rate "
                  f"{display.percent(now.win_rate)}",
             help=display.money(now.won_revenue),
             deals=(f"{display.count(now.won_count)} deals won", drill.won(f, now.period)))
with cards[1]:
    unpaid = len(now.no_structure)
    kpi.card("Commission earned", display.money_short(now.commission_earned),
             note=(f"⚠ {unpaid} won deal{'s' if unpaid != 1 else ''} without an applicable "
                   "structure" if unpaid else "first year, on deals won this period"),
             help=display.money(now.commission_earned),
             deals=(f"{display.count(now.won_count)} deals won", drill.won(f, now.period)))
    kpi.card("Commission liability", display.money_short(liability.total),
             note="expected on the weighted open pipeline",
             help=f"{display.money(liability.total)}: Σ value × probability × the applicable "
                  "structure's percentage, over open deals",
             deals=(f"{display.count(now.open_count)} open deals", drill.open_deals(f)))
with cards[2]:
    active = sum(1 for d in data.coverage if not d.no_active_partner)
    concentrated = sum(len(d.concentrated) for d in data.coverage)
    kpi.card("Domains covered", f"{active} of {len(data.coverage)}",
             note=f"⚠ {len(data.coverage) - active} without an active partner"
             if active < len(data.coverage) else "✓ each has an active partner")
    limit = display.percent(CONCENTRATION, places=0)
    kpi.card("Concentrated partners", f"{concentrated}",
             note=f"⚠ above {limit} of a domain's pipeline" if concentrated
             else f"✓ none above {limit} of a domain")

results = pf.partner_kpis_frame(data.partners, liability.by_partner, data.health)
shown = f"Top {TOP} of {len(results)} partners" if len(results) > TOP else None
kpi.chart(charts.partner_results_figure(
              results, title="Partners: revenue won and open pipeline",
              context=charts.context_line(shown, kpi.period_text(now), *choice.described,
                                          f"as of {display.day(now.as_of)}"), limit=TOP),
          results, key="partner_results", title="Partner KPIs",
          money=("Pipeline", "Weighted", "Won", "Commission earned", "Expected commission"),
          rates=("Win rate",), counts=("Open deals", "Won deals", "Lost deals",
                                       "Unpaid won deals", "Health score", "Score change"),
          drill=clicks.partner_results(data.partners, f, now.period),
          row_drill=clicks.partner_results_row(data.partners, f, now.period))

trend = pf.trend_frame(data.trend, data.trend_quarters)
first, last = data.trend_quarters[0], data.trend_quarters[-1]
kpi.chart(charts.created_by_quarter_figure(
              trend, title="New pipeline: value of the deals created each quarter",
              context=charts.context_line(f"{first.title} – {last.title}", *choice.described,
                                          f"as of {display.day(today)}")),
          trend, key="partner_trend", title="New pipeline by quarter", money=("Value",),
          counts=("Deals",), drill=clicks.new_pipeline(data.trend_quarters, f),
          row_drill=clicks.new_pipeline_row(trend, data.trend_quarters, f))

forecast = pf.liability_frame(liability)
kpi.chart(charts.commission_liability_figure(
              forecast, title="Commission liability: expected commission by expected close",
              context=current),
          forecast, key="partner_liability", title="Commission liability forecast",
          money=("Weighted pipeline", "Expected commission", "Weighted without structure"),
          counts=("Deals", "Deals without structure"),
          drill=clicks.liability(liability, f, today),
          row_drill=clicks.liability_row(liability, f, today))
unpriced = sum(b.unpriced_count for b in liability.buckets)
if unpriced:
    st.caption(f"⚠ {unpriced:,} open deal{'s' if unpriced != 1 else ''} "
               f"{'have' if unpriced != 1 else 'has'} no applicable commission structure on "
               "the expected close date: no commission counted; see the last two columns of "
               "the table.")

st.subheader("Domain coverage")
st.caption(f"Active partner: one with an open deal. ⚠ marks a domain with no active partner, "
           f"and a partner holding more than {display.percent(CONCENTRATION, places=0)} of its "
           "domain's open pipeline. Over every deal you can see; the filters above do not "
           "apply here.")
summary = pf.domain_summary_frame(data.coverage)
kpi.table(summary, money=("Pipeline",), rates=("Largest share",),
          counts=("Partners", "Active partners"), key="coverage_summary")
matrix = pf.coverage_frame(data.coverage)
flags = dict(zip(summary["Domain"], summary["Flag"], strict=True))
kpi.chart(charts.domain_coverage_figure(
              matrix, title="Domain × partner: share of each domain's open pipeline",
              context=charts.context_line(f"as of {display.day(today)}"), limit=CONCENTRATION,
              flags=flags),
          matrix, key="partner_coverage", title="Domain × partner coverage",
          money=("Pipeline",), rates=("Share of domain",), counts=("Open deals",),
          drill=clicks.coverage(data.coverage),
          row_drill=clicks.coverage_row(matrix, data.coverage))

review_section(viewer, today)
