"""Team view: per person open pipeline, revenue won in the period and goal attainment."""


import streamlit as st

from isv import charts, display, ui
from isv.analytics import drill
from isv.analytics import partner_frames as pf
from isv.analytics.team import team_view
from isv.services.settings import local_today
from isv.ui import clicks, kpi

viewer = ui.page_viewer(__file__)
today = local_today()

st.title("Team view")
choice = kpi.pick(viewer, today, key="team_view")
data = kpi.load(team_view, viewer, choice.period, choice.filters, today)
if data is None:
    st.stop()

now, where = data.kpis, kpi.context(data.kpis, choice.described)
st.caption(ui.escape_md(f"{kpi.period_text(now)} · as of {display.day(now.as_of)} · "
                        f"{now.scope.describe()}"))

f = choice.filters
people = [p for p in data.people if p.user_id is not None]
on_target = sum(1 for p in people if p.attainment is not None and p.attainment >= 1)
with_target = sum(1 for p in people if p.target)
cards = st.columns(3)
with cards[0]:
    kpi.card("Open pipeline", display.money_short(now.pipeline_total),
             note=f"{now.open_count:,} open deals · current state",
             help=display.money(now.pipeline_total),
             deals=(f"{display.count(now.open_count)} open deals", drill.open_deals(f)))
with cards[1]:
    kpi.card("Won this period", display.money_short(now.won_revenue),
             note=f"{now.won_count:,} deals won", help=display.money(now.won_revenue),
             deals=(f"{display.count(now.won_count)} deals won", drill.won(f, now.period)))
with cards[2]:
    kpi.card("Goal attainment", display.percent(now.goal_attainment),
             note=f"{on_target} of {with_target} people with a target have reached it",
             help=f"Won {display.money(now.goal_won)} of a target of "
                  f"{display.money(now.revenue_target)}",
             deals=kpi.goal_deals(viewer, now, f))

team = pf.team_view_frame(data.people)
kpi.chart(charts.team_figure(team, title="Revenue won against each person's target",
                             context=where),
          team, key="team_view_chart", title="Team performance",
          money=("Pipeline", "Won", "Target"), rates=("Attainment",),
          counts=("Open deals", "Won deals"), drill=clicks.team(data.people, f, now.period),
          row_drill=clicks.person_row(data.people, f, now.period))
st.caption("Open pipeline is the current state; won and target are for the period. "
           "Unassigned: deals assigned to nobody (no target).")
kpi.table(team, money=("Pipeline", "Won", "Target"), rates=("Attainment",),
          counts=("Open deals", "Won deals"), key="team_view_table",
          drill=clicks.person_row(data.people, f, now.period))
