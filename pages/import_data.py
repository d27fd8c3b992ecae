"""Import / export: load a CSV or Excel file of one entity (spec/IMPORT.md), download any entity.

An upload is checked at once (a dry run): the page shows what would be created, updated and
left unchanged, and every problem by row and column. Nothing is written until Confirm.
Opportunities may also come as a Salesforce, HubSpot or Pipedrive export: a mapping step
(isv/ui/crm.py) comes first, and the same preview follows.
"""

from functools import partial

import pandas as pd
import streamlit as st

from isv import display, ui
from isv.services import crm_import, exporter, importing
from isv.ui import crm
from isv.ui.labels import ENTITY_LABELS, entity_label, role_label

viewer = ui.page_viewer(__file__)

PREVIEW = "import_preview"      # (what was checked, report) of the file on screen
UPLOADS = "import_upload_round"  # bumped after an import, so the uploader starts empty
READY = "export_ready"          # (entity, rows, csv bytes, xlsx bytes)
DONE = "import_done"            # what the last import did, shown until the next upload


def progress_bar(label: str):
    """A progress bar and the callback the importer reports rows processed to.

    The callback is also what stops an abandoned import: every update is a Streamlit call,
    where a rerun (another file uploaded, another page opened) or a closed tab raises inside
    the importer, every thousand rows, which rolls its work back.
    """
    bar = st.progress(0.0, text=label)

    def update(what: str, done: int, total: int) -> None:
        share = done / total if total else 1.0
        bar.progress(min(share, 1.0), text=f"{what}: {done:,} of {total:,} rows")

    return bar, update


def columns_help(entity: str) -> str:
    names = [f"`{c.name}`" + ("\\*" if c.required else "") for c in importing.COLUMNS[entity]]
    return (f"Columns: {', '.join(names)} (\\* required; any order, any letter case). "
            f"A row updates the record with the same {importing.NATURAL_KEYS[entity]}.")


def problems_frame(report: importing.ImportReport,
                   their: dict[str, str | None] | None = None) -> pd.DataFrame:
    """Every problem by row and column; with `their` (a CRM mapping), the file's column too."""
    if their is None:
        return pd.DataFrame([{"Row": e.row, "Column": e.column, "Problem": e.reason}
                             for e in report.errors], columns=["Row", "Column", "Problem"])
    return pd.DataFrame([{"Row": e.row, "Column": e.column, "File's column": their.get(e.column),
                          "Problem": e.reason} for e in report.errors],
                        columns=["Row", "Column", "File's column", "Problem"])


st.title("Import / export")
importable = importing.importable_entities(viewer)
import_tab, export_tab = st.tabs(["Import", "Export"])

with import_tab:
    refused = [e for e in importing.ENTITIES if e not in importable]
    if refused:
        allowed = ", ".join(entity_label(e).lower() for e in importable) or "nothing"
        others = ", ".join(entity_label(e).lower() for e in refused)
        st.info(f"As {role_label(viewer.role)} you may import {allowed}. Your role may not "
                f"change {others}: the import refuses them, but the Export tab downloads "
                "them.", icon=":material/info:")
    if importable:
        entity = st.selectbox("What to import", importable, format_func=entity_label,
                              key="import_entity")
        source = crm.OURS
        if entity == "opportunities":
            source = st.selectbox("File", crm.SOURCES, format_func=crm.source_label,
                                  key="import_source")
        st.caption(columns_help(entity) if source == crm.OURS else crm.HELP)
        if not viewer.sees_everything:
            st.caption("Rows about partners, deals or goals that are not yours are refused.")
        round_ = st.session_state.get(UPLOADS, 0)
        upload = st.file_uploader("CSV (UTF-8) or Excel .xlsx file", type=["csv", "xlsx"],
                                  key=f"import_file_{round_}")
        if upload is None:
            st.session_state.pop(PREVIEW, None)
            st.session_state.pop(crm.EXPORT, None)
            # Kept in the session rather than flashed once: it survives any extra rerun.
            if st.session_state.get(DONE):
                st.success(ui.escape_md(st.session_state[DONE]), icon=":material/check_circle:")
        else:
            st.session_state.pop(DONE, None)
            data = upload.getvalue()
            their = None
            if source == crm.OURS:
                checked = (entity, upload.file_id)
                action = partial(ui.run, importing.import_file, entity=entity, data=data,
                                 filename=upload.name)
            else:
                export = crm.read(source, upload.name, upload.file_id, data)
                mapping = crm.mapping_step(export, upload.file_id)
                checked = (source, upload.file_id, crm.signature(mapping))
                their = mapping.columns
                action = partial(ui.run, crm_import.import_export, export=export,
                                 mapping=mapping)
                st.subheader("Preview")
            shown = st.session_state.get(PREVIEW)
            if shown is None or shown[0] != checked:
                bar, update = progress_bar("Checking the file…")
                report = action(dry_run=True, progress=update)
                bar.empty()
                st.session_state[PREVIEW] = shown = (checked, report)
            report = shown[1]
            if report is not None:
                [part] = report.entities
                created, changed, same, problems = st.columns(4)
                created.metric("To create", f"{part.created:,}")
                changed.metric("To update", f"{part.updated:,}")
                same.metric("Unchanged", f"{part.unchanged:,}")
                problems.metric("Problems", display.count(report.error_count))
                for notice in part.notices:
                    st.warning(ui.escape_md(notice), icon=":material/warning:")
                if report.errors:
                    st.error(f"{display.count(report.error_count)} problem"
                             f"{'s' if report.error_count != 1 else ''} in "
                             f"{ui.escape_md(upload.name)}. Nothing will be imported until "
                             + ("the file is fixed and uploaded again." if source == crm.OURS
                                else "the mapping or the file is fixed."),
                             icon=":material/error:")
                    problems = problems_frame(report, their)
                    st.dataframe(problems, hide_index=True, placeholder=display.NONE,
                                 height=ui.table_height(len(problems)))
                    if part.unlisted:
                        st.caption(f"Only the first {display.count(len(problems))} are "
                                   f"listed; {display.count(part.unlisted)} more were found.")
                elif part.created or part.updated:
                    if st.button(f"Confirm: import {ui.escape_md(upload.name)}", type="primary",
                                 key="import_confirm", icon=":material/upload:"):
                        bar, update = progress_bar("Importing…")
                        done = action(progress=update)
                        bar.empty()
                        if done is not None and done.written:
                            st.session_state[DONE] = (f"Imported {upload.name}: "
                                                      f"{done.entities[0].summary()}.")
                            st.session_state.pop(PREVIEW, None)
                            st.session_state.pop(crm.EXPORT, None)
                            st.session_state.pop(READY, None)
                            st.session_state[UPLOADS] = round_ + 1
                            st.rerun()
                        elif done is not None:
                            # The data changed since the check: show what is wrong now.
                            st.session_state[PREVIEW] = (checked, done)
                            st.rerun()
                else:
                    st.success("Everything in this file is already in the database; there is "
                               "nothing to import.", icon=":material/check_circle:")

with export_tab:
    st.caption("Downloads use the import columns, so a file imports back unchanged. They hold "
               "the records you may see.")
    pick_col, button_col = st.columns([2, 1], vertical_alignment="bottom")
    chosen = pick_col.selectbox("What to export", importing.ENTITIES, format_func=entity_label,
                                key="export_entity")
    if button_col.button("Prepare download", key="export_prepare", icon=":material/download:"):
        table = ui.run(exporter.export_rows, entity=chosen)
        if table is not None:
            st.session_state[READY] = (chosen, len(table[1]),
                                       exporter.table_to_csv(chosen, table),
                                       exporter.table_to_xlsx(chosen, table))
    ready = st.session_state.get(READY)
    if ready is not None and ready[0] == chosen:
        _, count, csv_text, workbook = ready
        st.caption(f"{ENTITY_LABELS[chosen]}: {count:,} row{'s' if count != 1 else ''}.")
        with st.container(horizontal=True):
            st.download_button("Download CSV", data=csv_text.encode(),
                               file_name=f"{chosen}.csv", mime="text/csv", key="export_csv",
                               on_click="ignore", icon=":material/csv:")
            st.download_button(
                "Download Excel", data=workbook, file_name=f"{chosen}.xlsx", key="export_xlsx",
                mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                on_click="ignore", icon=":material/table_view:")
