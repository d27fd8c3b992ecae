"""Pipeline analytics: velocity, forecast by close month, time in stage, win/loss, lost reasons."""


import streamlit as st

from isv import charts, display, ui
from isv.analytics import drill
from isv.analytics import pipeline_frames as frames
from isv.analytics.pipeline import pipeline_analytics
from isv.services.settings import local_today
from isv.ui import clicks, kpi


def per_day(value) -> str:
    return f"{display.money_short(value)}/day"


viewer = ui.page_viewer(__file__)
today = local_today()

st.title("Pipeline analytics")
choice = kpi.pick(viewer, today, key="pipeline_analytics")
data = kpi.load(pipeline_analytics, viewer, choice.period, choice.filters, today)
if data is None:
    st.stop()
now = data.kpis
f = choice.filters
where = kpi.context(now, choice.described)
current_state = charts.context_line(*choice.described, f"as of {display.day(today)}")
st.caption(ui.escape_md(f"{kpi.period_text(now)} · as of {display.day(now.as_of)} · "
                        f"{now.scope.describe()}"))

velocity, before = data.velocity[-1], data.velocity[-2]
vs = f"vs {before.period.title}"
first, second = st.columns(2), st.columns(2)  # two a row: the values stay whole on a tablet
with first[0]:
    kpi.card("Sales velocity", display.NONE if velocity.per_day is None
             else per_day(velocity.per_day),
             delta=display.change(velocity.per_day, before.per_day, per_day), versus=vs,
             note=f"revenue per day at {velocity.period.title}'s rates",
             help=f"{display.money(velocity.per_day)} per day",
             deals=(f"{display.count(velocity.open_count)} open deals", drill.open_deals(f)))
with first[1]:
    kpi.card("Open deals", f"{velocity.open_count:,}",
             note=f"current state · {display.money_short(now.pipeline_total)} open value",
             deals=(f"{display.count(velocity.open_count)} open deals", drill.open_deals(f)))
with second[0]:
    kpi.card("Win rate", display.percent(velocity.win_rate),
             delta=display.change(velocity.win_rate, before.win_rate, display.points), versus=vs,
             note=f"{velocity.won_count:,} won · {velocity.lost_count:,} lost",
             deals=(f"{display.count(velocity.won_count + velocity.lost_count)} deals won or lost",
                    drill.closed(f, now.period)))
with second[1]:
    kpi.card("Cycle days", display.number(velocity.avg_cycle_days),
             delta=display.change(velocity.avg_cycle_days, before.avg_cycle_days,
                                  display.days), versus=vs, inverse=True,
             note="creation to close of won deals; fewer is better",
             deals=(f"{display.count(velocity.won_count)} deals won", drill.won(f, now.period)))

speed = frames.velocity_frame(data.velocity)
st.caption("**Sales velocity**: how much revenue the pipeline produces per day = open deals × "
           "win rate × average won deal ÷ cycle days. Win rate, average won deal and cycle "
           "days are each quarter's (deals closed in it); open deals are today's, so the "
           "trend shows today's pipeline at each quarter's rates.")
kpi.chart(charts.velocity_figure(
              speed, title="Sales velocity per quarter (revenue per day)",
              context=charts.context_line(
                  f"{data.velocity[0].period.title} – {velocity.period.title}",
                  *choice.described,
                  f"{velocity.open_count:,} open deals as of {display.day(today)}")),
          speed, key="velocity", title="Sales velocity",
          money=("Average won deal", "Velocity per day"), rates=("Win rate",),
          counts=("Open deals", "Won deals", "Lost deals"),
          drill=clicks.velocity(data.velocity, f),
          row_drill=clicks.velocity_row(data.velocity, f))

forecast = frames.forecast_frame(data.forecast)
overdue = data.forecast[0]
st.caption(f"**Forecast by close month**: open deals by expected close date, full value and "
           f"weighted (value × probability). Overdue = expected before today, still open: "
           f"{overdue.count:,} deals, {display.money(overdue.value)}. Current state, whatever "
           f"the period.")
kpi.chart(charts.close_month_figure(forecast, title="Forecast by close month",
                                    context=current_state),
          forecast.drop(columns="Kind"), key="forecast", title="Forecast by close month",
          money=("Value", "Weighted"), counts=("Deals",),
          drill=clicks.close_month(data.forecast, f, today),
          row_drill=clicks.close_month_row(data.forecast, f, today))

stage_times = frames.stage_time_frame(data.stage_times)
left_out = sum(s.reconstructed for s in data.stage_times)
st.caption("**Time in stage**, from stage history: a stay runs from the move into a stage to "
           "the next move. *Moved on* = stays that ended in the period; *still there* = open "
           "deals in that stage now, counted to the end of today and kept apart from the "
           "finished stays." + (f" {left_out:,} stays of imported deals are left out: their "
                                 "history was reconstructed, so when they entered the stage "
                                 "is unknown." if left_out else ""))
kpi.chart(charts.time_in_stage_figure(stage_times, title="Time in stage (days)",
                                      context=where),
          stage_times, key="time_in_stage", title="Time in stage",
          counts=("Moved on", "Deals moved on", "Still there", "Left out (imported)"),
          drill=clicks.time_in_stage(f, choice.period),
          row_drill=clicks.time_in_stage_row(data.stage_times, f))

win_loss = frames.win_loss_frame(data.win_loss)
st.caption("**Win/loss by partner**: deals closed won or lost in the period, by actual close "
           "date; win rate = won ÷ (won + lost) by count. The chart shows the 12 partners "
           "with the most closed value; the table has them all.")
kpi.chart(charts.win_loss_figure(win_loss, title="Won and lost by partner", context=where),
          win_loss, key="win_loss", title="Win/loss by partner", money=("Won", "Lost"),
          rates=("Win rate",), counts=("Won deals", "Lost deals"),
          drill=clicks.win_loss(data.win_loss, f, now.period),
          row_drill=clicks.win_loss_row(data.win_loss, f, now.period))

reasons = frames.lost_reason_frame(data.lost_reasons)
st.caption("**Lost reasons**: deals closed lost in the period, by the reason given when "
           "closing (same text ignoring case and spaces counts as one reason).")
kpi.chart(charts.lost_reasons_figure(reasons, title="Why deals were lost", context=where),
          reasons, key="lost_reasons", title="Lost reasons", money=("Value",),
          rates=("Share of lost deals",), counts=("Deals",),
          drill=clicks.lost_reason(data.lost_reasons, f, now.period),
          row_drill=clicks.lost_reason_row(data.lost_reasons, f, now.period))
