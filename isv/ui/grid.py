"""The opportunity grid: one page of deals in st.data_editor, saved by services/deal_grid.

How edits survive reruns: the rows on screen (with each row's version) are kept in
st.session_state while the editor holds unsaved edits, so a rerun never swaps the data under
the user's edits and a save always carries the version the user started from. Without edits
the page reads on every run, through the shared cache keyed by the data version (a rerun
with no write in between runs no SQL; the first after any write reads the database). The
editor's key carries a generation number, bumped after a save or a discard, so the browser
drops its edit state exactly then.
"""

from __future__ import annotations

import math
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd
import streamlit as st

from isv import display
from isv.auth import Viewer
from isv.models import STAGES
from isv.services import deal_grid, exporter, validate
from isv.services import opportunities as opps
from isv.services.opportunities import OpportunityFilters, OpportunityRow
from isv.ui import widgets
from isv.ui.labels import stage_label
from isv.ui.pipeline import Choices, read
from isv.ui.tables import table_height

PAGE_SIZE = 50
KEY = "opportunity_grid"            # session_state[KEY_NAME] is the editor's current key
KEY_NAME = "opportunity_grid_key"
_GEN = "opportunity_grid_gen"
_SNAPSHOT = "opportunity_grid_rows"
_PROBLEMS = "opportunity_grid_problems"
_REAPPLY = "opportunity_grid_reapply"
PAGE_KEY = "grid_page"
OPEN_KEY = "grid_open"      # the Open button column's click: {"row": position, "label": …}
OPEN = "Open"
SORT_KEY = "grid_sort"

SORTS = {
    "-updated_at": "Recently changed",
    "expected_close_date": "Expected close, soonest first",
    "-deal_value": "Value, largest first",
    "customer_name": "Customer, A to Z",
    "partner_name": "Partner, A to Z",
    "stage": "Stage, in pipeline order",
    "-probability": "Probability, highest first",
}

# Grid column -> the service's field name (the name ValidationError reports), in the order
# shown: what a manager works a deal by comes first and fits a 1024 px tablet without
# scrolling sideways (Customer to Owner, widths below); the rest follows.
FIELDS = {
    "Customer": "customer_name",
    "Stage": "stage",
    "Value": "deal_value",
    "Expected close": "expected_close_date",
    "Owner": "assigned_user_id",
    "Partner": "partner_id",
    "Probability": "probability",
    "Actual close": "actual_close_date",
    "Lost reason": "lost_reason",
    "Contact email": "customer_contact_email",
    "Notes": "notes",
}
COLUMN_OF = {f: c for c, f in FIELDS.items()}
COLUMNS = ["Open", *FIELDS]


def detail_link(opportunity_id: uuid.UUID) -> str:
    # Relative, so it also works when the app is served under a path prefix.
    return f"opportunity_detail?id={opportunity_id}"


def column_config(options: Choices, partner_ids: list[str], values=()) -> dict:
    """The grid's columns; `values` are the shown deal values (cents only if one has them)."""
    people = list(options.people)
    return {
        # A button, not a link: a link cell always opens a new tab; the deal opens here.
        "Open": st.column_config.ButtonColumn(
            "Open", key=OPEN_KEY, type="secondary", width=64,
            help="The deal's own page: every field, stage history, audit trail"),
        "Customer": st.column_config.TextColumn("Customer", max_chars=255, required=True,
                                                width=180),
        "Partner": st.column_config.SelectboxColumn(
            "Partner", options=partner_ids, format_func=options.partner_name, required=True),
        "Stage": st.column_config.SelectboxColumn(
            "Stage", options=list(STAGES), format_func=stage_label, required=True,
            default="lead", width=100,
            help="A stage change is recorded in the deal's stage history. Closed lost needs "
                 "a lost reason in the same row."),
        "Value": st.column_config.NumberColumn(
            "Value", min_value=0, max_value=9_999_999_999.99, step=0.01, width=115,
            format=display.table_money_format(values),
            required=True),
        "Probability": st.column_config.NumberColumn(
            "Prob.", min_value=0, max_value=100, step=0.01,
            format=display.TABLE_PERCENTAGE_FORMAT,
            help="0–100. Left empty on a stage change, the stage's default applies."),
        "Expected close": st.column_config.DateColumn("Expected close",
                                                      format=display.TABLE_DATE_FORMAT,
                                                      width=120),
        "Actual close": st.column_config.DateColumn(
            "Actual close", format=display.TABLE_DATE_FORMAT,
            help="Closed deals only; today when a deal is closed without one"),
        "Owner": st.column_config.SelectboxColumn(
            "Owner", options=people, format_func=options.person, width=140,
            help="The person the deal is assigned to"),
        "Lost reason": st.column_config.TextColumn("Lost reason", max_chars=500),
        "Contact email": st.column_config.TextColumn("Contact email", max_chars=255),
        "Notes": st.column_config.TextColumn("Notes", max_chars=10_000),
    }


def editor_frame(rows: list[OpportunityRow]) -> pd.DataFrame:
    """The rows as the editor shows them: ids as text for the select boxes.

    Value and probability are floats here only because the browser's number cells are
    JavaScript numbers; a saved cell goes back through Decimal(str(x)), and cells the user did
    not touch are never sent, so no stored amount is rounded through a float.
    """
    frame = pd.DataFrame({
        "Open": pd.Series([OPEN] * len(rows), dtype="object"),
        "Customer": pd.Series([r.customer_name for r in rows], dtype="object"),
        "Partner": pd.Series([str(r.partner_id) for r in rows], dtype="object"),
        "Stage": pd.Series([r.stage for r in rows], dtype="object"),
        "Value": pd.Series([float(r.deal_value) for r in rows], dtype="float64"),
        "Probability": pd.Series([float(r.probability) for r in rows], dtype="float64"),
        "Expected close": pd.Series([r.expected_close_date for r in rows], dtype="object"),
        "Actual close": pd.Series([r.actual_close_date for r in rows], dtype="object"),
        "Owner": pd.Series([str(r.assigned_user_id) if r.assigned_user_id else None
                            for r in rows], dtype="object"),
        "Lost reason": pd.Series([r.lost_reason for r in rows], dtype="object"),
        "Contact email": pd.Series([r.customer_contact_email for r in rows], dtype="object"),
        "Notes": pd.Series([r.notes for r in rows], dtype="object"),
    })
    return frame[COLUMNS]


def download_frame(rows: list[OpportunityRow]) -> pd.DataFrame:
    """What is on screen, for CSV/XLSX: exact decimals and readable names, no ids to decode."""
    return pd.DataFrame(
        [{
            "Customer": r.customer_name,
            "Partner": r.partner_name,
            "Domain": r.domain,
            "Stage": stage_label(r.stage),
            "Value": r.deal_value,
            "Probability": r.probability,
            "Expected close": r.expected_close_date,
            "Actual close": r.actual_close_date,
            "Owner": r.assigned_user_name or "",
            "Owner email": r.assigned_user_email or "",
            "Lost reason": r.lost_reason or "",
            "Contact email": r.customer_contact_email or "",
            "Notes": r.notes or "",
            "External id": r.external_id or "",
            "Id": str(r.id),
        } for r in rows],
        columns=["Customer", "Partner", "Domain", "Stage", "Value", "Probability",
                 "Expected close", "Actual close", "Owner", "Owner email", "Lost reason",
                 "Contact email", "Notes", "External id", "Id"])


# --- reading the editor's changes --------------------------------------------------------

def pending(state: Any) -> bool:
    """Whether the editor state holds any edit, addition or deletion."""
    if not isinstance(state, dict):
        return False
    return bool(state.get("edited_rows") or state.get("added_rows")
                or state.get("deleted_rows"))


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or (
        isinstance(value, str) and not value.strip())


def _cell(column: str, value: Any) -> Any:
    """A cell as the editor sends it -> the value the service takes (text stays text)."""
    if _missing(value):
        return None
    if column in ("Value", "Probability"):
        return Decimal(str(value)) if isinstance(value, int | float) else value
    if column in ("Expected close", "Actual close"):
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        text = str(value).strip()
        try:
            return validate.parse_moment(text).date()
        except ValueError:
            return text  # the service names the field and says what a date looks like
    return value


def fields_of(cells: dict[str, Any]) -> dict[str, Any]:
    """Edited cells -> service keyword arguments (unknown columns are ignored)."""
    return {FIELDS[c]: _cell(c, v) for c, v in cells.items() if c in FIELDS}


# --- saving: the editor's changes handed to the grid's use case ---------------------------

def _row_label(position: int, row: OpportunityRow) -> str:
    return f"Row {position + 1} ({row.customer_name})"


def _column(problem: deal_grid.GridProblem) -> str:
    if problem.field is deal_grid.WHOLE_ROW:
        return "whole row"
    return COLUMN_OF.get(problem.field, problem.field)


def save_changes(*, viewer: Viewer, rows: list[OpportunityRow],
                 state: dict[str, Any]) -> deal_grid.GridSave:
    """Save the editor's deleted, edited and added rows in one transaction (all or nothing).

    What counts as a change is read here, against the rows as shown: cells typed back to
    what the grid showed, and new rows never filled in, are not changes.
    """
    deleted = sorted({int(p) for p in state.get("deleted_rows", []) if int(p) < len(rows)})
    edited = {int(p): cells for p, cells in (state.get("edited_rows") or {}).items()}
    changed = []
    for pos in sorted(edited):
        if pos in deleted or pos >= len(rows):
            continue
        row = rows[pos]
        values = {name: value for name, value in fields_of(edited[pos]).items()
                  if not widgets.same_as_stored(getattr(row, name), value)}
        if values:
            changed.append(deal_grid.ChangedRow(_row_label(pos, row), row.id, row.version,
                                                values))
    added = []
    for n, cells in enumerate(state.get("added_rows") or []):
        values = fields_of(cells)
        if any(v is not None for v in values.values()):
            added.append(deal_grid.NewRow(f"New row {n + 1}",
                                          {k: v for k, v in values.items() if v is not None}))
    return deal_grid.save_grid(
        viewer=viewer,
        deleted=[deal_grid.DeletedRow(_row_label(pos, rows[pos]), rows[pos].id,
                                      rows[pos].version) for pos in deleted],
        changed=changed, added=added)


# --- the widget ------------------------------------------------------------------------------

def _key() -> str:
    return f"{KEY}_{st.session_state.get(_GEN, 0)}"


def _new_generation() -> None:
    old = _key()
    st.session_state[_GEN] = st.session_state.get(_GEN, 0) + 1
    st.session_state.pop(old, None)
    st.session_state.pop(_SNAPSHOT, None)


def edits_table(rows: list[OpportunityRow], state: dict[str, Any],
                options: Choices) -> pd.DataFrame:
    """The unsaved edits, in words: what the user would have to type again."""
    def shown(column: str, value: Any) -> str:
        if _missing(value):
            return "(empty)"
        if column == "Partner":
            return options.partner_name(value)
        if column == "Owner":
            return options.person(value)
        if column == "Stage":
            return stage_label(value)
        return str(value)

    lines = []
    for pos in sorted({int(p) for p in state.get("deleted_rows", [])}):
        if pos < len(rows):
            lines.append({"Row": _row_label(pos, rows[pos]), "Column": "—",
                          "Your value": "(row deleted)"})
    for pos, cells in sorted((int(p), c) for p, c in (state.get("edited_rows") or {}).items()):
        if pos < len(rows):
            for column, value in cells.items():
                if column in FIELDS:
                    lines.append({"Row": _row_label(pos, rows[pos]), "Column": column,
                                  "Your value": shown(column, value)})
    for n, cells in enumerate(state.get("added_rows") or []):
        for column, value in cells.items():
            if column in FIELDS and not _missing(value):
                lines.append({"Row": f"New row {n + 1}", "Column": column,
                              "Your value": shown(column, value)})
    return pd.DataFrame(lines, columns=["Row", "Column", "Your value"])


def _problems_table(problems: list[deal_grid.GridProblem]) -> pd.DataFrame:
    return pd.DataFrame([{"Row": p.row, "Column": _column(p), "Reason": p.reason}
                         for p in problems], columns=["Row", "Column", "Reason"])


def _pager(total: int) -> None:
    pages = max(1, math.ceil(total / PAGE_SIZE))
    st.number_input(f"Page (of {pages:,})", min_value=1, max_value=pages, step=1,
                    key=PAGE_KEY)


def _page_offset(filters: OpportunityFilters, sort: str) -> int:
    """The offset of the page to read; back to page 1 whenever filters or sorting change."""
    if st.session_state.get("grid_query") != (filters, sort):
        st.session_state["grid_query"] = (filters, sort)
        st.session_state[PAGE_KEY] = 1
    return (int(st.session_state.get(PAGE_KEY) or 1) - 1) * PAGE_SIZE


def opportunity_grid(viewer: Viewer, filters: OpportunityFilters, options: Choices,
                     errors: widgets.FieldErrors, *, editable: bool) -> None:
    """The grid: sort, pager, the editor, Save / Discard, problems and downloads."""
    key = _key()
    st.session_state[KEY_NAME] = key
    state = st.session_state.get(key)
    snapshot = st.session_state.get(_SNAPSHOT)

    sort_col, page_col, _ = st.columns([3, 2, 3], vertical_alignment="bottom")
    sort = sort_col.selectbox("Sort by", list(SORTS), format_func=SORTS.get, key=SORT_KEY)

    if pending(state) and snapshot is not None:
        # Keep exactly the rows the user is editing, with the versions they started from.
        rows, total, offset = snapshot["rows"], snapshot["total"], snapshot["offset"]
        if (filters, sort) != snapshot["query"] or \
                st.session_state.get(PAGE_KEY) != offset // PAGE_SIZE + 1:
            st.warning("Save or discard your edits to see other filters, sorting or pages; "
                       "until then the grid keeps the rows you are editing.",
                       icon=":material/edit_note:")
    else:
        offset = _page_offset(filters, sort)
        listed = read(opps.list_opportunities, errors=errors, filters=filters,
                      offset=offset, limit=PAGE_SIZE, sort=sort)
        if listed is None:
            return
        rows, total = listed
        if not rows and offset:
            # The page no longer exists (rows deleted meanwhile): show the last one.
            offset = max(0, (math.ceil(total / PAGE_SIZE) - 1) * PAGE_SIZE)
            st.session_state[PAGE_KEY] = offset // PAGE_SIZE + 1
            listed = read(opps.list_opportunities, errors=errors, filters=filters,
                          offset=offset, limit=PAGE_SIZE, sort=sort)
            if listed is None:
                return
            rows, total = listed
        st.session_state[_SNAPSHOT] = {"rows": rows, "total": total, "offset": offset,
                                       "query": (filters, sort)}
    with page_col:
        _pager(total)
    st.caption(_range_caption(offset, len(rows), total, viewer))

    partner_ids = list(dict.fromkeys([*options.deal_partners(viewer),
                                      *(str(r.partner_id) for r in rows)]))
    config = column_config(options, partner_ids, [r.deal_value for r in rows])
    frame = editor_frame(rows)
    if editable:
        # One more line than the rows: the editor's "add row" line.
        st.data_editor(frame, key=key, column_config=config, hide_index=True,
                       num_rows="dynamic", width="stretch", placeholder=display.NONE,
                       height=table_height(len(frame) + 1))
        st.caption("Edit cells, add rows at the bottom, or select rows and delete them; "
                   "nothing is written until you save. A new deal needs customer, partner "
                   "and value.")
    else:
        st.dataframe(frame, key=key, column_config=config, hide_index=True, width="stretch",
                     placeholder=display.NONE, height=table_height(len(frame)))
        st.caption("Read only: your role may not change deals.")

    state = st.session_state.get(key)
    _open_clicked(rows, has_edits=editable and pending(state))
    # The downloads are drawn (registered) before the save bar runs, though shown below it:
    # a save reruns the page from inside the bar, and the run must have re-registered the
    # files the buttons on screen point at (see _downloads).
    save_area = st.container()
    _downloads(rows)
    if editable:
        with save_area:
            _save_bar(viewer, rows, state, options)


def _open_clicked(rows: list[OpportunityRow], *, has_edits: bool) -> None:
    """A row's Open button: the deal's page in this tab, unless edits would be lost."""
    click = st.session_state.get(OPEN_KEY)
    if click is None or not 0 <= int(click["row"]) < len(rows):
        return
    if has_edits:
        st.warning("Save or discard your edits before opening a deal; they would be lost.",
                   icon=":material/edit_note:")
        return
    st.switch_page("pages/opportunity_detail.py",
                   query_params={"id": str(rows[int(click["row"])].id)})


def _range_caption(offset: int, shown: int, total: int, viewer: Viewer) -> str:
    scope = "" if viewer.sees_everything else " you may see"
    if not total:
        return f"No deals{scope} match."
    return f"Deals {offset + 1:,}–{offset + shown:,} of {total:,}{scope}"


def _save_bar(viewer: Viewer, rows: list[OpportunityRow], state: Any,
              options: Choices) -> None:
    has_edits = pending(state)
    # A row of buttons each as wide as its label: columns would cut labels at 1024 px.
    bar = st.container(horizontal=True)
    save = bar.button("Save changes", key="grid_save", type="primary",
                           disabled=not has_edits, icon=":material/save:")
    discard = bar.button("Discard edits and reload", key="grid_discard",
                                 disabled=not has_edits, icon=":material/refresh:")
    if discard:
        if any(p.field is deal_grid.WHOLE_ROW for p in st.session_state.get(_PROBLEMS, [])):
            st.session_state[_REAPPLY] = edits_table(rows, state, options)
        st.session_state.pop(_PROBLEMS, None)
        _new_generation()
        st.rerun()
    if save and has_edits:
        result = save_changes(viewer=viewer, rows=rows, state=state)
        if result.ok:
            st.session_state.pop(_PROBLEMS, None)
            st.session_state.pop(_REAPPLY, None)
            _new_generation()
            widgets.flash(result.summary())
            st.rerun()
        st.session_state[_PROBLEMS] = result.problems
    problems = st.session_state.get(_PROBLEMS) if has_edits else None
    if problems:
        st.error(f"Nothing was saved: {len(problems)} problem"
                 f"{'s' if len(problems) != 1 else ''}. Your edits are still in the grid; "
                 "correct them and save again.", icon=":material/error:")
        st.dataframe(_problems_table(problems), hide_index=True, key="grid_problems_table",
                     placeholder=display.NONE, height=table_height(len(problems)))
        if any(p.field is deal_grid.WHOLE_ROW for p in problems):
            st.info("A row changed since you loaded it. Use “Discard edits and reload” to see "
                    "the latest values; your edits are listed below it so you can re-apply "
                    "them.", icon=":material/info:")
    elif not has_edits:
        st.session_state.pop(_PROBLEMS, None)
    reapply = st.session_state.get(_REAPPLY)
    if reapply is not None and not has_edits:
        st.warning("Edits that were not saved because their rows had changed. Re-apply "
                   "them to the latest values if they still hold:", icon=":material/history:")
        st.dataframe(reapply, hide_index=True, key="grid_reapply_table", placeholder=display.NONE,
                     height=table_height(len(reapply)))
        if st.button("Dismiss", key="grid_reapply_dismiss"):
            st.session_state.pop(_REAPPLY, None)
            st.rerun()


_FILES = "grid_download_files"  # session state: (rows, csv bytes, xlsx bytes)


def _files(rows: list[OpportunityRow]) -> tuple[bytes, bytes]:
    """The rows as CSV and XLSX, made once per distinct rows and kept for the reruns."""
    key = tuple(rows)
    kept = st.session_state.get(_FILES)
    if kept is None or kept[0] != key:
        frame = download_frame(rows)
        kept = (key, exporter.frame_to_csv(frame),
                exporter.frame_to_xlsx(frame, sheet="Opportunities"))
        st.session_state[_FILES] = kept
    return kept[1], kept[2]


def _downloads(rows: list[OpportunityRow]) -> None:
    """Download buttons whose files outlive a rerun.

    The files are made here, not on click: a file made on click comes from a callable that
    Streamlit forgets as soon as a run ends without drawing its button again, so a click on
    the button still on screen while the page reran (after a save) got nothing and said
    nothing. Given bytes, the button points at a stored file, named by its content (the
    same rows give the same file on every rerun), that Streamlit keeps for a run beyond the
    last that drew it. `on_click="ignore"`: a download changes nothing to rerun for.
    """
    if not rows:
        return
    csv_file, xlsx_file = _files(rows)
    bar = st.container(horizontal=True)
    bar.download_button(
        "Download CSV", key="grid_csv", icon=":material/download:", data=csv_file,
        file_name="opportunities.csv", mime="text/csv", on_click="ignore",
        help="The rows on screen, with the filters applied")
    bar.download_button(
        "Download XLSX", key="grid_xlsx", icon=":material/download:", data=xlsx_file,
        on_click="ignore",
        file_name="opportunities.xlsx",
        mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        help="The rows on screen, with the filters applied")
