"""The Settings page's parts: the settings form (with the partner tiers and deal
registration's days) and the exec pack's slide master.

A save is one call to services/settings.update_settings with only the inputs the user
changed since the form was opened.
"""

from __future__ import annotations

import calendar
from decimal import Decimal

import streamlit as st

from isv import display
from isv.models import OPEN_STAGES
from isv.rules.slides import MAX_BYTES
from isv.services import settings
from isv.ui import edits, widgets
from isv.ui.labels import stage_label

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
    "health_base": "Base",
    "health_touch_points": "Touch recency",
    "health_pipeline_points": "New pipeline",
    "health_win_rate_points": "Win rate",
    "health_stalled_points": "Stalled deals",
    "health_slipped_points": "Slipped deals",
    "health_stall_days": "Stalled after (days)",
    "health_alert_threshold": "Alert below score",
    "registration_protection_days": "Approved registration protects (days)",
    "registration_pending_days": "Pending registration expires after (days)",
    **{f"stage_probabilities.{stage}": f"{stage_label(stage)} (%)" for stage in OPEN_STAGES},
    "stage_probabilities": "Default probability per stage",
    "partner_tiers": "Partner tiers",
}
TIER_INPUTS = (("name", "Name"), ("min_won_revenue", "Min. won revenue"),
               ("min_won_deals", "Min. won deals"), ("min_open_pipeline", "Min. open pipeline"))
TIER_HELP = {
    "name": "Lowest tier first. Clear a row to remove its tier; a new name in the same row "
            "renames the tier, and its partners and commission structures follow.",
    "min_won_revenue": "Revenue of the deals won in the four quarters before the review's.",
    "min_won_deals": "Deals won in the four quarters before the review's.",
    "min_open_pipeline": "Value of the partner's open deals when the review is made.",
}


def tier_key(row: int, field: str) -> str:
    return f"set_tier_{row}_{field}"


def amount_text(value: Decimal) -> str:
    """250000.00 -> '250000': what a person types for a whole amount."""
    text = f"{value:f}"
    return text[:-3] if text.endswith(".00") else text


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
    "set_health_base": "health_base",
    "set_health_touch": "health_touch_points",
    "set_health_pipeline": "health_pipeline_points",
    "set_health_win_rate": "health_win_rate_points",
    "set_health_stalled": "health_stalled_points",
    "set_health_slipped": "health_slipped_points",
    "set_health_stall_days": "health_stall_days",
    "set_health_alert": "health_alert_threshold",
    "set_reg_protection": "registration_protection_days",
    "set_reg_pending": "registration_pending_days",
}
HEALTH_KEYS = {name: key for key, name in KEYS.items() if name.startswith("health_")}
HEALTH_HELP = {
    "health_base": "Where every partner's score starts, before the parts below.",
    "health_touch_points": "A touch today adds this many points, one a cadence ago none, "
                           "none for two cadences takes them off.",
    "health_pipeline_points": "New pipeline this quarter twice the pace of the previous "
                              "three adds this many, none at all takes them off.",
    "health_win_rate_points": "A win rate over 12 months as far above the program's as it "
                              "can be adds this many; as far below takes them off.",
    "health_stalled_points": "Taken off when every open deal is stalled; a share of it "
                             "for a share of them.",
    "health_slipped_points": "Taken off when every open deal is past its expected close "
                             "date; a share of it for a share of them.",
    "health_stall_days": "An open deal whose stage has not changed for longer than this "
                         "counts as stalled.",
    "health_alert_threshold": "A partner whose score falls below this raises a relationship "
                              "alert naming the part that moved it most.",
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
        **{key: str(getattr(saved, name)) for name, key in HEALTH_KEYS.items()},
        "set_reg_protection": str(saved.registration_protection_days),
        "set_reg_pending": str(saved.registration_pending_days),
    }
    values.update({f"set_prob_{stage}": str(saved.stage_probabilities[stage])
                   for stage in OPEN_STAGES})
    for row in range(settings.MAX_TIERS):
        tier = saved.partner_tiers[row] if row < len(saved.partner_tiers) else None
        values[tier_key(row, "name")] = tier.name if tier else ""
        values[tier_key(row, "min_won_revenue")] = amount_text(tier.min_won_revenue) if tier else ""
        values[tier_key(row, "min_won_deals")] = str(tier.min_won_deals) if tier else ""
        values[tier_key(row, "min_open_pipeline")] = (amount_text(tier.min_open_pipeline)
                                                      if tier else "")
    return values


def typed_tiers(typed: dict[str, str]) -> list[dict[str, str]]:
    """The tiers as typed, lowest first; a row left wholly empty is no tier."""
    rows = [{field: typed[tier_key(row, field)] or "" for field, _ in TIER_INPUTS}
            for row in range(settings.MAX_TIERS)]
    return [row for row in rows if any(value.strip() for value in row.values())]


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


def settings_form() -> None:
    """Every setting in one form; a save sends only what was changed since it was opened."""
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

    def text_setting(name: str, value: str, key: str, **options) -> str:
        """A typed setting with its problem, if the save refuses it, shown right under it."""
        typed = st.text_input(LABELS[name], value, key=key, **options)
        errors.slot(name, LABELS[name])
        return typed

    zones = sorted(settings.time_zones())
    errors = widgets.FieldErrors()

    with st.form("settings"):
        st.subheader("Calendar and money")
        month_col, zone_col, symbol_col = st.columns(3)
        with month_col:
            month = st.selectbox(LABELS["fiscal_year_start_month"], range(1, 13),
                                 index=None if reloaded else int(base["set_fiscal_month"]) - 1,
                                 format_func=lambda m: calendar.month_name[m],
                                 key="set_fiscal_month",
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

        st.subheader("Partner health score")
        st.caption("Each partner's score, 0 to 100, is the base plus the points of each part; "
                   "the partner page lists them. The numbers are the most points a part can "
                   "move the score.")
        health_typed = {}
        # Two rows of four: seven inputs side by side would wrap their labels.
        for (name, key), column in zip(HEALTH_KEYS.items(), [*st.columns(4), *st.columns(4)],
                                       strict=False):
            with column:
                health_typed[key] = text_setting(name, initial(key), key, help=HEALTH_HELP[name])

        st.subheader("Deal registration")
        st.caption("Partners register deals through their links (partner page). An approved "
                   "registration flags later ones for the same customer while it protects its "
                   "partner; a pending one expires if nobody decides.")
        protection_col, pending_col = st.columns(2)
        with protection_col:
            reg_protection = text_setting(
                "registration_protection_days", initial("set_reg_protection"),
                "set_reg_protection",
                help="Days from approval during which the customer counts as this partner's.")
        with pending_col:
            reg_pending = text_setting(
                "registration_pending_days", initial("set_reg_pending"), "set_reg_pending",
                help="Days a registration waits for approval before it expires; an alert "
                     "comes a week before.")

        tier_typed = tier_inputs(errors, initial)

        save = st.form_submit_button("Save settings", key="set_submit", type="primary")

    if save:
        typed = {"set_fiscal_month": month, "set_time_zone": zone, "set_currency": symbol,
                 **{f"set_prob_{stage}": value for stage, value in probabilities.items()},
                 "set_cadence": cadence, "set_due_soon": soon, "set_due_very_soon": very_soon,
                 "set_milestones": milestones, "set_audit_days": audit_days,
                 "set_alert_days": alert_days, **health_typed,
                 "set_reg_protection": reg_protection, "set_reg_pending": reg_pending}
        changes = edited(base, typed)
        tiers_changed = bool(edits.changed(base, tier_typed))
        if tiers_changed:
            changes["partner_tiers"] = typed_tiers(tier_typed)
        if not changes:
            st.info("Nothing to save: every setting is as it was when you opened the page.")
        elif widgets.run(settings.update_settings, errors=errors, **changes) is not None:
            names = {KEYS[key].split(".", 1)[0] for key in edits.changed(base, typed)}
            if tiers_changed:
                names.add("partner_tiers")
            widgets.flash("Settings saved: " + ", ".join(
                LABELS[name] for name in settings.FIELDS if name in names) + ".")
            st.session_state[RELOAD] = True
            st.rerun()


def tier_inputs(errors: widgets.FieldErrors, initial) -> dict[str, str]:
    """A row per tier (and empty rows up to MAX_TIERS for new ones): name and minimums."""
    st.subheader("Partner tiers")
    st.caption("A partner earns the highest tier whose every minimum it meets. Each quarter "
               "the partner analytics page suggests promotions and demotions with the figures "
               "behind them; a vp or sales manager accepts or rejects each. An empty minimum "
               "is 0.")
    typed: dict[str, str] = {}
    position = 0  # the row's place among the tiers typed so far: what a refusal names
    for row in range(settings.MAX_TIERS):
        typed_row = {}
        for (field, label), column in zip(TIER_INPUTS, st.columns(4), strict=True):
            with column:
                key = tier_key(row, field)
                typed_row[key] = st.text_input(
                    f"Tier {row + 1}: {label.lower()}" if row else label, initial(key),
                    key=key, help=TIER_HELP[field] if not row else None,
                    label_visibility="visible" if not row else "collapsed",
                    max_chars=40 if field == "name" else 20)
        typed.update(typed_row)
        for field, label in TIER_INPUTS:
            errors.slot(f"partner_tiers.{position}.{field}", f"Tier {row + 1} {label.lower()}")
        if any((value or "").strip() for value in typed_row.values()):
            position += 1
    errors.slot("partner_tiers", LABELS["partner_tiers"])
    return typed


def file_size(size: int) -> str:
    return f"{size / 2**20:.1f} MB" if size >= 2**20 else f"{max(size // 1024, 1):,} kB"


def slide_master_section() -> None:
    """The exec review pack's slide master: upload, see which is in use, remove (own saves)."""
    st.subheader("Exec review pack: slide master")
    master = widgets.run(settings.slide_master_info)
    if master is None:
        st.caption("No template uploaded: the pack uses the default look. Upload your company's "
                   f"template (.pptx, at most {MASTER_MB} MB): the cover takes its title "
                   "slide layout, every other slide its Title Only layout.")
    else:
        st.caption(widgets.escape_md(
            f"In use: {master.file_name} ({file_size(master.size)}), uploaded by "
            f"{master.uploaded_by} on {display.moment(master.uploaded_at)}. Cover layout "
            f"“{master.cover_layout}”, other slides “{master.content_layout}”."))
    master_errors = widgets.FieldErrors()
    upload = st.file_uploader("Slide master (.pptx)", type=["pptx"], key="set_master_file")
    master_errors.slot(settings.SLIDE_MASTER, "Slide master")
    buttons = st.container(horizontal=True)
    if buttons.button("Use this slide master", key="set_master_save", disabled=upload is None):
        saved = widgets.run(settings.save_slide_master, errors=master_errors,
                            file_name=upload.name, data=upload.getvalue())
        if saved is not None:
            widgets.flash(f"The exec review pack now uses {saved.file_name}.")
            st.rerun()
    if master is not None and buttons.button("Remove, use the default look",
                                             key="set_master_remove"):
        if widgets.run(settings.remove_slide_master):
            widgets.flash("The exec review pack uses the default look again.")
            st.rerun()
