"""Settings: fiscal year, time zone, currency, probabilities, alerts, retention, slide master."""

import calendar

import streamlit as st

from isv import display, ui
from isv.models import OPEN_STAGES
from isv.pack.master import MAX_BYTES
from isv.services import settings
from isv.ui.labels import stage_label

viewer = ui.page_viewer(__file__)
MASTER_MB = MAX_BYTES // 2**20

LABELS = {
    "fiscal_year_start_month": "Fiscal year starts in",
    "time_zone": "Time zone",
    "currency_symbol": "Currency symbol",
    "relationship_cadence_days": "Relationship cadence (days)",
    "alert_due_soon_days": "Deal due soon (days)",
    "alert_due_very_soon_days": "Deal due very soon (days)",
    "alert_goal_milestones": "Goal milestones (%)",
    "audit_retention_days": "Keep audit entries (days)",
    "read_alert_retention_days": "Keep read alerts (days)",
    **{f"stage_probabilities.{stage}": f"{stage_label(stage)} (%)" for stage in OPEN_STAGES},
    "stage_probabilities": "Default probability per stage",
}


def days_text(value: int | None) -> str:
    return "" if value is None else str(value)


def text_setting(name: str, value: str, key: str, **options) -> str:
    """A typed setting with its problem, if the save refuses it, shown right under it."""
    typed = st.text_input(LABELS[name], value, key=key, **options)
    errors.slot(name, LABELS[name])
    return typed


st.title("Settings")
ui.show_flash()
current = settings.current_settings()
zones = sorted(settings.time_zones())
errors = ui.FieldErrors()

with st.form("settings"):
    st.subheader("Calendar and money")
    month_col, zone_col, symbol_col = st.columns(3)
    with month_col:
        month = st.selectbox(LABELS["fiscal_year_start_month"], range(1, 13),
                             index=current.fiscal_year_start_month - 1,
                             format_func=lambda m: calendar.month_name[m], key="set_fiscal_month",
                             help="Quarters and fiscal years on every page and report count "
                                  "from this month. January: calendar quarters. Goals are "
                                  "kept per fiscal quarter, so a change moves which dates "
                                  "each goal covers.")
        errors.slot("fiscal_year_start_month", LABELS["fiscal_year_start_month"])
    with zone_col:
        zone = st.selectbox(LABELS["time_zone"], zones, key="set_time_zone",
                            index=zones.index(current.time_zone)
                            if current.time_zone in zones else None,
                            help="What 'today' and 'this week' mean: due dates, overdue "
                                 "tasks, the weekly rollover. The scheduler picks up a new "
                                 "zone when it restarts.")
        errors.slot("time_zone", LABELS["time_zone"])
    with symbol_col:
        symbol = text_setting("currency_symbol", current.currency_symbol, "set_currency",
                              max_chars=settings.MAX_SYMBOL_CHARS,
                              help="Shown before every amount: cards, tables, charts. "
                                   "Amounts are not converted.")

    st.subheader("Default probability per stage")
    st.caption("A deal entering a stage gets this probability unless one is typed. Closed won "
               "is always 100%, closed lost 0%. Existing deals keep theirs.")
    probabilities = {}
    for stage, column in zip(OPEN_STAGES, st.columns(len(OPEN_STAGES)), strict=True):
        with column:
            probabilities[stage] = text_setting(
                f"stage_probabilities.{stage}", str(current.stage_probabilities[stage]),
                f"set_prob_{stage}")
    errors.slot("stage_probabilities", LABELS["stage_probabilities"])

    st.subheader("Alerts")
    cadence_col, soon_col, very_soon_col, milestone_col = st.columns(4)
    with cadence_col:
        cadence = text_setting("relationship_cadence_days",
                               str(current.relationship_cadence_days), "set_cadence",
                               help="A partner with no logged touch for this many days "
                                    "raises a relationship alert.")
    with soon_col:
        soon = text_setting("alert_due_soon_days", str(current.alert_due_soon_days),
                            "set_due_soon",
                            help="An open deal expected to close within this many days "
                                 "raises a medium alert.")
    with very_soon_col:
        very_soon = text_setting("alert_due_very_soon_days",
                                 str(current.alert_due_very_soon_days), "set_due_very_soon",
                                 help="Within this many days the alert is high. A deal past "
                                      "its date is urgent.")
    with milestone_col:
        milestones = text_setting("alert_goal_milestones",
                                  ", ".join(str(m) for m in current.alert_goal_milestones),
                                  "set_milestones",
                                  help="A goal reaching each of these percentages of its "
                                       "target raises an alert, once.")

    st.subheader("Retention")
    st.caption("Empty keeps them forever. A daily scheduler job removes what is older; unread "
               "alerts are never removed.")
    audit_col, alerts_col = st.columns(2)
    with audit_col:
        audit_days = text_setting("audit_retention_days",
                                  days_text(current.audit_retention_days), "set_audit_days",
                                  placeholder="forever")
    with alerts_col:
        alert_days = text_setting("read_alert_retention_days",
                                  days_text(current.read_alert_retention_days),
                                  "set_alert_days", placeholder="forever")

    save = st.form_submit_button("Save settings", key="set_submit", type="primary")

if save:
    saved = ui.run(settings.update_settings, errors=errors, fiscal_year_start_month=month,
                   time_zone=zone, currency_symbol=symbol, stage_probabilities=probabilities,
                   relationship_cadence_days=cadence, alert_due_soon_days=soon,
                   alert_due_very_soon_days=very_soon, alert_goal_milestones=milestones,
                   audit_retention_days=audit_days, read_alert_retention_days=alert_days)
    if saved is not None:
        changed = [LABELS[name] for name in settings.FIELDS
                   if name in LABELS and getattr(saved, name) != getattr(current, name)]
        ui.flash(f"Settings saved: {', '.join(changed)}." if changed
                 else "Nothing to save: every setting was already as shown.")
        st.rerun()


def slide_master_section() -> None:
    """The exec review pack's slide master: upload, see which is in use, remove (own saves)."""
    st.subheader("Exec review pack: slide master")
    master = ui.run(settings.slide_master_info)
    if master is None:
        st.caption("None uploaded: the pack uses the default look. Upload your company's "
                   f"template (.pptx, at most {MASTER_MB} MB): the cover takes its title "
                   "slide layout, every other slide its Title Only layout.")
    else:
        st.caption(ui.escape_md(
            f"In use: {master.file_name} ({master.size / 2**20:.1f} MB), uploaded by "
            f"{master.uploaded_by} on {display.moment(master.uploaded_at)}. Cover layout "
            f"“{master.cover_layout}”, other slides “{master.content_layout}”."))
    master_errors = ui.FieldErrors()
    upload = st.file_uploader("Slide master (.pptx)", type=["pptx"], key="set_master_file")
    master_errors.slot(settings.SLIDE_MASTER, "Slide master")
    use_col, remove_col = st.columns([1, 1])
    if use_col.button("Use this slide master", key="set_master_save", disabled=upload is None):
        saved = ui.run(settings.save_slide_master, errors=master_errors,
                       file_name=upload.name, data=upload.getvalue())
        if saved is not None:
            ui.flash(f"The exec review pack now uses {saved.file_name}.")
            st.rerun()
    if master is not None and remove_col.button("Remove, use the default look",
                                                key="set_master_remove"):
        if ui.run(settings.remove_slide_master):
            ui.flash("The exec review pack uses the default look again.")
            st.rerun()


slide_master_section()
