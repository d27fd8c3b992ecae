"""The Weekly status page's parts: the week picker, boxes saved as one types, KPIs, history.

Each save is one call to services/status (save_draft or submit) with only what this window
has not saved yet, judged against what the window opened or last saved.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from isv import display
from isv.auth import Viewer
from isv.dates import monday_of
from isv.services import status, validate
from isv.services.settings import local_today
from isv.services.validate import MAX_DATE, MIN_DATE
from isv.ui import widgets
from isv.ui.autosave import autosave_text
from isv.ui.labels import status_state_label
from isv.ui.tables import table_height

WEEK_KEY = "weekly_week"
SAVED_KEY = "weekly_saved"            # (week, time) of the last save
SAVE_ERROR_KEY = "weekly_save_error"  # (week, message, field) of a refused auto-save
HISTORY_KEY = "weekly_history"
HISTORY_WEEKS_KEY = "weekly_history_weeks"
LABELS = {"week_start_date": "Week", "accomplishments": "Accomplishments",
          "upcoming_tasks": "Upcoming", "blockers": "Blockers", "kpi_metrics": "KPI metrics"}
HELP = {
    "accomplishments": "What got done this week.",
    "upcoming_tasks": "What comes next week.",
    "blockers": "What is in the way; one per line. The team status rolls them up.",
}


def keys_for(week: date) -> dict[str, str]:
    """Widget keys per week, so each week's boxes hold that week's text."""
    stem = f"weekly_{week.isoformat()}"
    return {name: f"{stem}_{name}" for name in
            (*status.TEXT_FIELDS, "kpi", "kpi_base", "kpi_saved")}


class KeptErrors(widgets.FieldErrors):
    """An auto-save runs in a callback, before the page is drawn: keep its refusal to show."""

    def __init__(self, week: date) -> None:
        super().__init__()
        self.week = week

    def message(self, error) -> str:
        return f"{LABELS.get(error.field, error.field)}: {error.reason}"

    def show(self, error) -> None:
        st.session_state[SAVE_ERROR_KEY] = (self.week, self.message(error), error.field)


def form_values(week: date) -> dict:
    keys = keys_for(week)
    values = {name: st.session_state.get(keys[name], "") for name in status.TEXT_FIELDS}
    values["kpi_metrics"] = st.session_state.get(keys["kpi_saved"], [])
    return values


def saved(week: date, result) -> None:
    st.session_state[SAVED_KEY] = (week, result.updated_at)
    st.session_state.pop(SAVE_ERROR_KEY, None)


def drawn_key(week: date) -> str:
    """{"saved": bool, "values": {...}}: the week as this window knows it is stored."""
    return f"weekly_{week.isoformat()}_drawn"


def unsaved(week: date, values: dict) -> dict:
    """The parts of `values` this window has not saved: all of them before the first save.

    Compared with what the window opened or last saved, never with a fresh read, so a box
    left alone never sends its text over what another window saved since.
    """
    drawn = st.session_state[drawn_key(week)]
    if not drawn["saved"]:
        return values
    return {name: value for name, value in values.items() if value != drawn["values"][name]}


def save_changes(week: date, values: dict, errors: widgets.FieldErrors, call=None):
    """Send the unsaved parts of `values` (to save_draft, or `call`); None when refused."""
    changes = unsaved(week, values)
    if not changes and call is None:
        return None
    result = widgets.run(call or status.save_draft, errors=errors, week_start_date=week, **changes)
    if result is not None:
        drawn = st.session_state[drawn_key(week)]
        drawn["saved"] = True
        drawn["values"].update(changes)
        saved(week, result)
    return result


def autosave(week: date) -> None:
    """on_change of each text box (while typing): save what changed in the draft."""
    save_changes(week, form_values(week), KeptErrors(week))


def refusal_for(name: str, week: date) -> str | None:
    """What a box says after a refused save: the reason under the box it concerns (the
    first box when it concerns the week), a short note under the others."""
    kept = st.session_state.get(SAVE_ERROR_KEY)
    if not kept or kept[0] != week:
        return None
    field = kept[2] if kept[2] in status.TEXT_FIELDS else status.TEXT_FIELDS[0]
    return f"Not saved: {kept[1]}" if field == name else "Not saved"


def open_history_week() -> None:
    rows = st.session_state[HISTORY_KEY].selection.rows
    weeks = st.session_state.get(HISTORY_WEEKS_KEY, [])
    if rows and rows[0] < len(weeks):
        st.session_state[WEEK_KEY] = weeks[rows[0]]


def go_to(week: date) -> None:
    st.session_state[WEEK_KEY] = week


def week_in_address() -> date | None:
    try:
        day = validate.parse_day(st.query_params.get("week", ""))
    except ValueError:
        return None
    return day if MIN_DATE <= day <= MAX_DATE else None


def choose_week(errors: widgets.FieldErrors) -> tuple[date, status.StatusForm] | None:
    """The week picker, kept in the address so a reload opens the same week; the week's form."""
    if WEEK_KEY not in st.session_state:
        st.session_state[WEEK_KEY] = week_in_address() or monday_of(local_today())
    week = st.date_input("Week starting (Monday)", key=WEEK_KEY, min_value=MIN_DATE,
                         max_value=MAX_DATE, format="YYYY-MM-DD")
    errors.slot("week_start_date", LABELS["week_start_date"])
    form = widgets.run(status.open_week, errors=errors, week_start_date=week)
    if form is None:
        if isinstance(week, date) and week.weekday() != 0:
            st.button(f"Open the week of Monday {monday_of(week)}", on_click=go_to,
                      args=(monday_of(week),), key="weekly_go_monday")
        return None
    st.query_params["week"] = week.isoformat()
    return week, form


def state_note(form: status.StatusForm) -> None:
    """Submitted, or pre-filled from the data and not saved yet."""
    if form.submitted:
        st.success(f"Submitted on {display.moment(form.submitted_at)}. "
                   "A submitted week is final.",
                   icon=":material/task_alt:")
    elif not form.saved:
        st.info("Pre-filled from your week's data: stage advances, won deals, completed tasks, "
                "new deals and partner touches; next week's tasks and closes; slipped deals "
                "and tasks rolled over twice or more. Edit it before you submit.",
                icon=":material/auto_awesome:")


def remember_drawn(week: date, form: status.StatusForm) -> None:
    """On a week's first draw in this window: what it holds, to judge later edits against."""
    keys = keys_for(week)
    if keys["kpi_base"] not in st.session_state:
        pairs = [(name, float(value)) for name, value in form.kpi_metrics]
        st.session_state[keys["kpi_base"]] = pairs
        st.session_state[keys["kpi_saved"]] = pairs
        st.session_state[drawn_key(week)] = {
            "saved": form.saved,
            "values": {**{name: getattr(form, name) for name in status.TEXT_FIELDS},
                       "kpi_metrics": pairs}}


def text_boxes(viewer: Viewer, week: date, form: status.StatusForm,
               errors: widgets.FieldErrors) -> None:
    """The text boxes, each saved as the user types."""
    keys = keys_for(week)
    last = st.session_state.get(SAVED_KEY)
    saved_at = (last[1] if last and last[0] == week
                else form.updated_at if form.saved and not form.submitted else None)
    # Each box starts from what is saved (or drafted); after that it holds what was typed. A
    # submitted week shows what was submitted, even if this window typed on after another
    # window submitted it.
    for name in status.TEXT_FIELDS:
        if form.submitted:
            st.session_state[keys[name]] = getattr(form, name)
        autosave_text(LABELS[name], key=keys[name], value=getattr(form, name), help=HELP[name],
                      on_change=autosave, args=(week,), disabled=form.submitted,
                      max_chars=status.TEXT_MAX, saved_at=None if form.submitted else saved_at,
                      error=refusal_for(name, week), owner=str(viewer.id))
        errors.slot(name, LABELS[name])


def kpi_table(week: date, form: status.StatusForm, errors: widgets.FieldErrors) -> None:
    """The KPI metrics: an editable table, saved once a row is whole."""
    keys = keys_for(week)
    st.markdown("**KPI metrics**")
    kpi_frame = pd.DataFrame(st.session_state[keys["kpi_base"]], columns=["Metric", "Value"])
    kpi_columns = {
        "Metric": st.column_config.TextColumn("Metric", max_chars=status.KPI_NAME_MAX),
        "Value": st.column_config.NumberColumn("Value", help="A number; up to two decimals"),
    }
    if form.submitted:
        submitted_kpis = pd.DataFrame([(name, float(value)) for name, value in form.kpi_metrics],
                                      columns=["Metric", "Value"])
        st.dataframe(submitted_kpis, hide_index=True, column_config=kpi_columns, width=480,
                     placeholder=display.NONE, height=table_height(len(submitted_kpis)))
        return
    edited = st.data_editor(kpi_frame, key=keys["kpi"], num_rows="dynamic", hide_index=True,
                            column_config=kpi_columns, width=480, placeholder=display.NONE)
    rows = [(None if pd.isna(name) or not str(name).strip() else str(name),
             None if pd.isna(value) else float(value))
            for name, value in edited.itertuples(index=False)]
    # A row being typed (a name without its number, or the reverse) waits until it is whole.
    pairs = [(name, value) for name, value in rows if name is not None and value is not None]
    errors.slot("kpi_metrics", LABELS["kpi_metrics"])
    if any((name is None) != (value is None) for name, value in rows):
        st.caption("A metric is saved once it has both a name and a number.")
    if pairs != st.session_state[keys["kpi_saved"]]:
        values = {**form_values(week), "kpi_metrics": pairs}
        if not unsaved(week, values) or save_changes(week, values, errors) is not None:
            st.session_state[keys["kpi_saved"]] = pairs
    st.caption("Add a row at the bottom of the table; select rows to delete them.")


def save_state_and_submit(week: date, form: status.StatusForm,
                          errors: widgets.FieldErrors) -> None:
    """A refused save, when the draft was last saved, and the Submit button."""
    kept = st.session_state.get(SAVE_ERROR_KEY)
    if kept and kept[0] == week:
        st.error(f"Not saved — {widgets.escape_md(kept[1])}", icon=":material/error:")
    last = st.session_state.get(SAVED_KEY)
    if form.submitted:
        return
    if last and last[0] == week:
        st.caption(f"✔ Changes saved at {display.moment(last[1])} (draft)")
    elif form.saved:
        st.caption(f"✔ Draft last saved at {display.moment(form.updated_at)}")
    else:
        st.caption("Not saved yet: nothing is stored until you change something.")
    if st.button("Submit", type="primary", key="weekly_submit", icon=":material/send:"):
        done = save_changes(week, form_values(week), errors, call=status.submit)
        if done is not None:
            widgets.flash(f"Submitted your status for the week of {display.day(week)}.")
            st.rerun()


def history() -> None:
    """The viewer's weeks; selecting one opens it."""
    st.subheader("Your weeks")
    past = widgets.run(status.history)
    if past:
        st.session_state[HISTORY_WEEKS_KEY] = [row.week_start for row in past]
        frame = pd.DataFrame(
            [{"Week": display.day(row.week_start), "Status": status_state_label(row.state),
              "Submitted": display.moment(row.submitted_at, none="—"),
              "Accomplishments": (row.accomplishments.strip().splitlines() or [""])[0]}
             for row in past],
            columns=["Week", "Status", "Submitted", "Accomplishments"])
        st.dataframe(frame, hide_index=True, key=HISTORY_KEY, on_select=open_history_week,
                     selection_mode="single-row", placeholder=display.NONE,
                     height=table_height(len(frame)))
        st.caption("Select a week to open it.")
    elif past is not None:
        st.caption("No weeks saved yet.")
