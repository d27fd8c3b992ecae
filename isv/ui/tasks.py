"""The Tasks page's parts: filters, the rollover button, the editable list, add and edit forms.

A grid save goes to services/tasks.save_task_edits in one call; this module reads what the
user changed (against the rows as drawn) and shows what was refused.
"""

from __future__ import annotations

import uuid
import zlib

import pandas as pd
import streamlit as st

from isv import display
from isv.auth import Viewer
from isv.dates import monday_of
from isv.models import PRIORITIES, TASK_STATUSES
from isv.services import tasks
from isv.services.settings import local_today
from isv.services.tasks import (
    OPEN_STATUSES,
    SETTABLE_STATUSES,
    OpportunityChoice,
    TaskEdit,
    TaskFilters,
    TaskRow,
)
from isv.services.validate import MAX_DATE, MIN_DATE
from isv.ui import edits, widgets
from isv.ui.labels import PRIORITY_LABELS, TASK_STATUS_LABELS, priority_label, task_status_label
from isv.ui.widgets import same_as_stored

VERSION_KEY = "tasks_grid_version"    # a new grid (fresh from the database) after each save
GRID_ERRORS_KEY = "tasks_grid_errors"
DRAWN_KEY = "tasks_grid_drawn"        # (grid key, the rows it was drawn from)
ADD_KEYS = ("task_add_title", "task_add_description", "task_add_priority", "task_add_due",
            "task_add_opportunity")
NO_DEAL = "—"
HIDDEN_DEAL = "(a deal you cannot see)"
FIELD_LABELS = {"title": "Title", "description": "Description", "priority": "Priority",
                "status": "Status", "due_date": "Due date", "opportunity_id": "Opportunity"}
COLUMN_FIELDS = {"Title": "title", "Priority": "priority", "Status": "status",
                 "Due": "due_date", "Opportunity": "opportunity_id"}
PRIORITY_CODES = {label: code for code, label in PRIORITY_LABELS.items()}
STATUS_CODES = {label: code for code, label in TASK_STATUS_LABELS.items()}


def fresh_grid() -> None:
    st.session_state[VERSION_KEY] = st.session_state.get(VERSION_KEY, 0) + 1


def flags(row: TaskRow) -> str:
    """Overdue and rolled-over marks as symbols and words, never colour alone."""
    marks = []
    if row.overdue:
        marks.append(f"⚠ {row.days_overdue} day{'s' if row.days_overdue != 1 else ''} late")
    if row.rollover_count:
        marks.append(f"↻ {row.rollover_count}×{' ⚑' if row.flagged else ''}")
    return " · ".join(marks)


def filters() -> tuple[TaskFilters, int]:
    """The filter widgets; returns the filters and a tag that names them in the grid's key."""
    status_col, priority_col = st.columns([3, 2])
    statuses = status_col.multiselect("Status", TASK_STATUSES, default=list(OPEN_STATUSES),
                                      format_func=task_status_label, key="tasks_status")
    priorities = priority_col.multiselect("Priority", PRIORITIES, format_func=priority_label,
                                          key="tasks_priority", placeholder="All")
    search_col, overdue_col = st.columns([3, 2], vertical_alignment="bottom")
    text = search_col.text_input("Search", key="tasks_search",
                                 placeholder="Title or description")
    overdue_only = overdue_col.toggle("Overdue only", key="tasks_overdue")
    tag = zlib.crc32(repr((statuses, priorities, text, overdue_only)).encode())
    return TaskFilters(statuses=tuple(statuses), priorities=tuple(priorities), text=text,
                       overdue_only=overdue_only), tag


def rollover(viewer: Viewer) -> None:
    """The rollover button and what it does."""
    monday = monday_of(local_today())
    if st.button("Roll over incomplete tasks", icon=":material/redo:", key="tasks_rollover"):
        result = widgets.run(tasks.rollover, user_id=viewer.id)
        if result is not None:
            if result.rolled:
                flagged = (f"; {result.flagged} of them now rolled over twice or more"
                           if result.flagged else "")
                widgets.flash(f"Rolled {result.rolled} task{'s' if result.rolled != 1 else ''} "
                              f"into the week of {display.day(result.week_start)}{flagged}.")
            else:
                widgets.flash("Nothing to roll over: no unfinished task is due before "
                              f"{display.day(monday)}.")
            fresh_grid()
            st.rerun()
    st.caption(f"Every pending or in-progress task due before Monday {display.day(monday)} "
               "gets a copy due on the same weekday this week; the original is kept as "
               "“rolled over”. Running it again changes nothing.")


def deal_labels(rows: list[TaskRow],
                choices: list[OpportunityChoice]) -> dict[uuid.UUID, str]:
    """Every deal the list or the forms may name, by id: the viewer's, and those on tasks."""
    labels = {choice.id: choice.label for choice in choices}
    for row in rows:
        if row.opportunity_id is not None:
            labels.setdefault(row.opportunity_id, row.opportunity_label or HIDDEN_DEAL)
    return labels


def drawn_rows(rows: list[TaskRow], tag: int) -> tuple[str, list[TaskRow]]:
    """The grid's key and the rows to draw it from.

    While the grid holds an edit it stays drawn from the rows the user edited: positions and
    "what changed" are judged against what was on screen, not against a fresh read.
    """
    grid_key = f"tasks_grid_{st.session_state.get(VERSION_KEY, 0)}_{tag}"
    drawn = st.session_state.get(DRAWN_KEY)
    if st.session_state.get(grid_key, {}).get("edited_rows") and drawn and \
            drawn[0] == grid_key:
        rows = drawn[1]
    st.session_state[DRAWN_KEY] = (grid_key, rows)
    return grid_key, rows


def grid(grid_key: str, rows: list[TaskRow], labels: dict[uuid.UUID, str]) -> None:
    """The editable list; an edited cell is saved at once."""
    for message in st.session_state.pop(GRID_ERRORS_KEY, []):
        st.error(f"Not saved — {widgets.escape_md(message)}", icon=":material/error:")
    columns = {
        # Wide enough for a whole title at tablet width (1024 px); the flags and the deal
        # give way, as the less read columns.
        "Title": st.column_config.TextColumn("Title", required=True,
                                             max_chars=tasks.TITLE_MAX, width=360),
        "Priority": st.column_config.SelectboxColumn(
            "Priority", options=list(PRIORITY_LABELS.values()), required=True),
        "Status": st.column_config.SelectboxColumn(
            "Status",
            options=[TASK_STATUS_LABELS[s] for s in (*SETTABLE_STATUSES, "rolled_over")],
            required=True, help="“Rolled over” is set by the rollover only"),
        "Due": st.column_config.DateColumn("Due", format=display.TABLE_DATE_FORMAT,
                                           min_value=MIN_DATE, max_value=MAX_DATE),
        "Opportunity": st.column_config.SelectboxColumn(
            "Opportunity", options=list(labels.values()),
            help="The deal this task is about"),
        "Flags": st.column_config.TextColumn(
            "Flags", width=130,
            help="⚠ open and past its due date by so many days; ↻ rolled over so many times, "
                 "⚑ from the second time"),
    }
    frame = pd.DataFrame(
        [{"Title": row.title, "Priority": PRIORITY_LABELS[row.priority],
          "Status": TASK_STATUS_LABELS[row.status], "Due": row.due_date,
          "Opportunity": labels.get(row.opportunity_id) if row.opportunity_id else None,
          "Flags": flags(row)} for row in rows],
        columns=["Due", "Title", "Priority", "Status", "Flags", "Opportunity"])
    frame["Due"] = pd.to_datetime(frame["Due"])
    st.data_editor(frame, key=grid_key, hide_index=True, column_config=columns,
                   disabled=["Flags"], num_rows="fixed", placeholder=display.NONE)
    overdue = sum(row.overdue for row in rows)
    stuck = sum(row.flagged for row in rows)
    st.caption(f"{len(rows)} task{'s' if len(rows) != 1 else ''} · ⚠ {overdue} overdue · "
               f"⚑ {stuck} rolled over twice or more. Edit a cell to save it.")
    grid_edits = st.session_state.get(grid_key, {}).get("edited_rows", {})
    if grid_edits:
        _save_grid(grid_edits, rows, {label: i for i, label in labels.items()})


def _task_edit(row: TaskRow, change: dict, deal_ids: dict[str, uuid.UUID]) -> TaskEdit | None:
    """One edited grid row as the fields that really changed; None when nothing did."""
    values = {}
    for column, value in change.items():
        field = COLUMN_FIELDS.get(column)
        if field == "priority":
            value = PRIORITY_CODES.get(value, value)
        elif field == "status":
            value = STATUS_CODES.get(value, value)
        elif field == "due_date" and isinstance(value, str):
            value = value[:10]
        elif field == "opportunity_id":
            if value == HIDDEN_DEAL:
                continue
            value = deal_ids.get(value) if value else None
        if field is not None and not same_as_stored(getattr(row, field), value):
            values[field] = value
    return TaskEdit(row.id, row.title, values) if values else None


def _save_grid(grid_edits: dict, rows: list[TaskRow], deal_ids: dict[str, uuid.UUID]) -> None:
    """Save the grid's edits in one call, keep what was refused to show, and redraw."""
    changes = [edit for position, change in grid_edits.items()
               if (edit := _task_edit(rows[int(position)], change, deal_ids)) is not None]
    if changes:
        result = widgets.run(tasks.save_task_edits, edits=changes)
        kept = st.session_state.setdefault(GRID_ERRORS_KEY, [])
        for problem in result.problems if result is not None else []:
            if problem.field is None:
                # Refused for another reason (deleted meanwhile, say): shown once, redrawn.
                kept.append(f"“{problem.title}” could not be saved; the table shows what "
                            "is stored")
            else:
                kept.append(f"“{problem.title}”, "
                            f"{FIELD_LABELS.get(problem.field, problem.field)}: "
                            f"{problem.reason}")
        for task_id, _ in result.saved if result is not None else []:
            edits.renew(f"task@{task_id}")
        if result is not None and result.saved:
            widgets.flash("Saved " + ", ".join(f"“{title}”" for _, title in result.saved)
                          + ".")
    fresh_grid()
    st.rerun()


def add_form(choices: list[OpportunityChoice], labels: dict[uuid.UUID, str]) -> None:
    """A new task for the viewer's own list."""
    add_errors = widgets.FieldErrors()
    with st.form("tasks_add"):
        title = st.text_input("Title", key="task_add_title")
        add_errors.slot("title", "Title")
        description = st.text_area("Description", key="task_add_description", height=90)
        add_errors.slot("description", "Description")
        p_col, d_col = st.columns(2)
        priority = p_col.selectbox("Priority", PRIORITIES, index=1, format_func=priority_label,
                                   key="task_add_priority")
        due = d_col.date_input("Due date", value=None, min_value=MIN_DATE, max_value=MAX_DATE,
                               format="YYYY-MM-DD", key="task_add_due")
        add_errors.slot("due_date", "Due date")
        deal = st.selectbox("Opportunity", [None, *[c.id for c in choices]],
                            format_func=lambda i: NO_DEAL if i is None else labels[i],
                            key="task_add_opportunity")
        add_errors.slot("opportunity_id", "Opportunity")
        if st.form_submit_button("Add task", type="primary", key="task_add_submit"):
            created = widgets.run(tasks.create_task, errors=add_errors, title=title,
                                  description=description, priority=priority, due_date=due,
                                  opportunity_id=deal)
            if created is not None:
                widgets.flash(f"Added “{created.title}”.")
                widgets.reset(*ADD_KEYS)
                fresh_grid()
                st.rerun()


def edit_form(rows: list[TaskRow], labels: dict[uuid.UUID, str]) -> None:
    """Every field of one task, and deleting it."""
    if not rows:
        st.caption("No tasks match the filters.")
        return
    by_id = {row.id: row for row in rows}
    chosen = st.selectbox(
        "Task", list(by_id), key="task_edit_choice",
        format_func=lambda i: f"{by_id[i].title} · due "
                              f"{display.day(by_id[i].due_date, none='—')}")
    row = by_id[chosen]
    locked = row.status == "rolled_over"
    if locked:
        st.caption("Rolled over: this task continues as a newer one, which is the one to "
                   "edit.")
    edit_errors = widgets.FieldErrors()
    form = f"task@{chosen}"
    stem = edits.keyed(form, f"task_edit_{chosen}")
    drawn = edits.drawn_from(
        f"{form}@{stem}", {"title": row.title, "description": row.description or "",
                           "priority": row.priority, "status": row.status,
                           "due_date": row.due_date, "opportunity_id": row.opportunity_id},
        probe=f"{stem}_title")
    with st.form(stem):
        new_title = st.text_input("Title", value=drawn["title"], key=f"{stem}_title",
                                  disabled=locked)
        edit_errors.slot("title", "Title")
        new_description = st.text_area("Description", value=drawn["description"],
                                       key=f"{stem}_description", height=90,
                                       disabled=locked)
        edit_errors.slot("description", "Description")
        p_col, s_col, d_col = st.columns(3)  # the tab is full width, even at 1024 px
        new_priority = p_col.selectbox("Priority", PRIORITIES,
                                       index=PRIORITIES.index(drawn["priority"]),
                                       format_func=priority_label, key=f"{stem}_priority",
                                       disabled=locked)
        status_options = list(SETTABLE_STATUSES) if not locked else ["rolled_over"]
        new_status = s_col.selectbox("Status", status_options,
                                     index=status_options.index(drawn["status"])
                                     if drawn["status"] in status_options else 0,
                                     format_func=task_status_label, key=f"{stem}_status",
                                     disabled=locked)
        edit_errors.slot("status", "Status")
        new_due = d_col.date_input("Due date", value=drawn["due_date"], min_value=MIN_DATE,
                                   max_value=MAX_DATE, format="YYYY-MM-DD",
                                   key=f"{stem}_due", disabled=locked)
        edit_errors.slot("due_date", "Due date")
        options = [None, *labels]
        new_deal = st.selectbox("Opportunity", options,
                                index=options.index(drawn["opportunity_id"])
                                if drawn["opportunity_id"] in options else 0,
                                format_func=lambda i: NO_DEAL if i is None else labels[i],
                                key=f"{stem}_opportunity", disabled=locked)
        edit_errors.slot("opportunity_id", "Opportunity")
        save = st.form_submit_button("Save changes", key=f"{stem}_save", disabled=locked)
    if save:
        wanted = {"title": new_title, "description": new_description,
                  "priority": new_priority, "status": new_status, "due_date": new_due,
                  "opportunity_id": new_deal}
        changed = {k: v for k, v in wanted.items() if v != drawn[k]}
        if not changed:
            st.info("Nothing changed.")
        elif widgets.run(tasks.update_task, errors=edit_errors, task_id=row.id,
                         **changed) is not None:
            widgets.flash(f"Saved “{new_title.strip()}”.")
            edits.renew(form)
            fresh_grid()
            st.rerun()
    confirm = st.checkbox("Yes, delete this task", key=f"{stem}_confirm")
    if st.button("Delete task", key=f"{stem}_delete", disabled=not confirm,
                 icon=":material/delete:"):
        if widgets.run(tasks.delete_task, task_id=row.id) is not None:
            widgets.flash(f"Deleted “{row.title}”.")
            fresh_grid()
            st.rerun()
