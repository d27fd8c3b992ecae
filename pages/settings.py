"""Settings: fiscal year, time zone, currency, probabilities, alerts, retention, slide master."""

import calendar

import streamlit as st

from isv import display, ui
from isv.models import OPEN_STAGES
from isv.pack.master import MAX_BYTES
from isv.services import settings
from isv.ui import edits
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


# Each input's key -> the setting it shows (a stage's probability as stage_probabilities.STAGE).
KEYS = {
    "set_fiscal_month": "fiscal_year_start_month",
    "set_time_zone": "time_zone",
    "set_currency": "currency_symbol",
    **{f"set_prob_{stage}": f"stage_probabilities.{stage}" for stage in OPEN_STAGES},
    "set_cadence": "relationship_cadence_days",
    "set_due_soon": "alert_due_soon_days",
    "set_due_very_soon": "alert_due_very_soon_days",
    "set_milestones": "alert_goal_milestones",
    "set_audit_days": "audit_retention_days",
    "set_alert_days": "read_alert_retention_days",
}
RELOAD = "settings_reload"  # after a save: show what is stored now, in every input


def shown(saved: settings.AppSettings) -> dict[str, object]:
    """What each input shows for the stored settings."""
    values: dict[str, object] = {
        "set_fiscal_month": saved.fiscal_year_start_month,
        "set_time_zone": saved.time_zone,
        "set_currency": saved.currency_symbol,
        "set_cadence": str(saved.relationship_cadence_days),
        "set_due_soon": str(saved.alert_due_soon_days),
        "set_due_very_soon": str(saved.alert_due_very_soon_days),
        "set_milestones": ", ".join(str(m) for m in saved.alert_goal_milestones),
        "set_audit_days": days_text(saved.audit_retention_days),
        "set_alert_days": days_text(saved.read_alert_retention_days),
    }
    values.update({f"set_prob_{stage}": str(saved.stage_probabilities[stage])
                   for stage in OPEN_STAGES})
    return values


def edited(base: dict[str, object], typed: dict[str, object]) -> dict[str, object]:
    """The service's arguments for the inputs the user changed, and only those.

    Compared with what the form showed when it was opened, not with the settings now: an
    input left alone never sends its old value over someone else's newer one.
    """
    changes: dict[str, object] = {}
    stages: dict[str, object] = {}
    for key, value in edits.changed(base, typed).items():
        name = KEYS[key]
        if name.startswith("stage_probabilities."):
            stages[name.split(".", 1)[1]] = value
        else:
            changes[name] = value
    if stages:
        changes["stage_probability_changes"] = stages
    return changes


def text_setting(name: str, value: str, key: str, **options) -> str:
    """A typed setting with its problem, if the save refuses it, shown right under it."""
    typed = st.text_input(LABELS[name], value, key=key, **options)
    errors.slot(name, LABELS[name])
    return typed


st.title("Settings")
ui.show_flash()
fresh = shown(settings.current_settings())
reloaded = st.session_state.pop(RELOAD, False)
if reloaded:
    # Set before the inputs are drawn (which then take no default of their own), so the
    # browser shows what is stored, not what it held before the save.
    st.session_state.update(fresh)
    edits.renew("settings")
base = edits.drawn_from("settings", fresh, probe="set_currency")


def initial(key: str):
    return None if reloaded else base[key]


zones = sorted(settings.time_zones())
errors = ui.FieldErrors()

with st.form("settings"):
    st.subheader("Calendar and money")
    month_col, zone_col, symbol_col = st.columns(3)
    with month_col:
        month = st.selectbox(LABELS["fiscal_year_start_month"], range(1, 13),
                             index=None if reloaded else int(base["set_fiscal_month"]) - 1,
                             format_func=lambda m: calendar.month_name[m], key="set_fiscal_month",
                             help="Quarters and fiscal years on every page and report count "
                                  "from this month. January: calendar quarters. Goals are "
                                  "kept per fiscal quarter, so a change moves which dates "
                                  "each goal covers.")
        errors.slot("fiscal_year_start_month", LABELS["fiscal_year_start_month"])
    with zone_col:
        zone = st.selectbox(LABELS["time_zone"], zones, key="set_time_zone",
                            index=zones.index(base["set_time_zone"])
                            if base["set_time_zone"] in zones and not reloaded else None,
                            help="What 'today' and 'this week' mean: due dates, overdue "
                                 "tasks, the weekly rollover. The scheduler picks up a new "
                                 "zone when it restarts.")
        errors.slot("time_zone", LABELS["time_zone"])
    with symbol_col:
        symbol = text_setting("currency_symbol", initial("set_currency"), "set_currency",
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
                f"stage_probabilities.{stage}", initial(f"set_prob_{stage}"),
                f"set_prob_{stage}")
    errors.slot("stage_probabilities", LABELS["stage_probabilities"])

    st.subheader("Alerts")
    cadence_col, soon_col, very_soon_col, milestone_col = st.columns(4)
    with cadence_col:
        cadence = text_setting("relationship_cadence_days", initial("set_cadence"),
                               "set_cadence",
                               help="A partner with no logged touch for this many days "
                                    "raises a relationship alert.")
    with soon_col:
        soon = text_setting("alert_due_soon_days", initial("set_due_soon"), "set_due_soon",
                            help="An open deal expected to close within this many days "
                                 "raises a medium alert.")
    with very_soon_col:
        very_soon = text_setting("alert_due_very_soon_days", initial("set_due_very_soon"),
                                 "set_due_very_soon",
                                 help="Within this many days the alert is high. A deal past "
                                      "its date is urgent.")
    with milestone_col:
        milestones = text_setting("alert_goal_milestones", initial("set_milestones"),
                                  "set_milestones",
                                  help="A goal reaching each of these percentages of its "
                                       "target raises an alert, once.")

    st.subheader("Retention")
    st.caption("Empty keeps them forever. A daily scheduler job removes what is older; unread "
               "alerts are never removed.")
    audit_col, alerts_col = st.columns(2)
    with audit_col:
        audit_days = text_setting("audit_retention_days", initial("set_audit_days"),
                                  "set_audit_days", placeholder="forever")
    with alerts_col:
        alert_days = text_setting("read_alert_retention_days", initial("set_alert_days"),
                                  "set_alert_days", placeholder="forever")

    save = st.form_submit_button("Save settings", key="set_submit", type="primary")

if save:
    typed = {"set_fiscal_month": month, "set_time_zone": zone, "set_currency": symbol,
             **{f"set_prob_{stage}": value for stage, value in probabilities.items()},
             "set_cadence": cadence, "set_due_soon": soon, "set_due_very_soon": very_soon,
             "set_milestones": milestones, "set_audit_days": audit_days,
             "set_alert_days": alert_days}
    changes = edited(base, typed)
    if not changes:
        st.info("Nothing to save: every setting is as it was when you opened the page.")
    elif ui.run(settings.update_settings, errors=errors, **changes) is not None:
        names = {KEYS[key].split(".", 1)[0] for key in edits.changed(base, typed)}
        ui.flash("Settings saved: " + ", ".join(LABELS[name] for name in settings.FIELDS
                                                if name in names) + ".")
        st.session_state[RELOAD] = True
        st.rerun()


def file_size(size: int) -> str:
    return f"{size / 2**20:.1f} MB" if size >= 2**20 else f"{max(size // 1024, 1):,} kB"


def slide_master_section() -> None:
    """The exec review pack's slide master: upload, see which is in use, remove (own saves)."""
    st.subheader("Exec review pack: slide master")
    master = ui.run(settings.slide_master_info)
    if master is None:
        st.caption("No template uploaded: the pack uses the default look. Upload your company's "
                   f"template (.pptx, at most {MASTER_MB} MB): the cover takes its title "
                   "slide layout, every other slide its Title Only layout.")
    else:
        st.caption(ui.escape_md(
            f"In use: {master.file_name} ({file_size(master.size)}), uploaded by "
            f"{master.uploaded_by} on {display.moment(master.uploaded_at)}. Cover layout "
            f"“{master.cover_layout}”, other slides “{master.content_layout}”."))
    master_errors = ui.FieldErrors()
    upload = st.file_uploader("Slide master (.pptx)", type=["pptx"], key="set_master_file")
    master_errors.slot(settings.SLIDE_MASTER, "Slide master")
    buttons = st.container(horizontal=True)
    if buttons.button("Use this slide master", key="set_master_save", disabled=upload is None):
        saved = ui.run(settings.save_slide_master, errors=master_errors,
                       file_name=upload.name, data=upload.getvalue())
        if saved is not None:
            ui.flash(f"The exec review pack now uses {saved.file_name}.")
            st.rerun()
    if master is not None and buttons.button("Remove, use the default look",
                                             key="set_master_remove"):
        if ui.run(settings.remove_slide_master):
            ui.flash("The exec review pack uses the default look again.")
            st.rerun()


slide_master_section()
