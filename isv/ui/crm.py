"""The Import page's mapping step for a Salesforce, HubSpot or Pipedrive opportunities export.

The proposal (isv.services.crm_mapping) is drawn as editable widgets: a select per field of
ours, the stage map as a small table, a partner for every row when no column holds one, and
a name to save it under. What the widgets show is the mapping the preview and the import use.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

import pandas as pd
import streamlit as st

from isv import display
from isv.models import STAGES
from isv.services import crm_import, crm_mapping
from isv.services.crm_mapping import FIELD_LABELS, REQUIRED, TOOL_LABELS, CrmMapping
from isv.ui.labels import stage_label
from isv.ui.widgets import FieldErrors, escape_md, run

OURS = "ours"
SOURCES = (OURS, *crm_mapping.TOOLS)
NO_COLUMN = "— none —"
EXPORT = "crm_export"  # (tool, file id, Export) of the file on screen
SAVED = "crm_saved"    # the saved mapping chosen, by (tool, file id)

HELP = ("The file is read as the tool exports it; its columns are proposed below (known "
        "names first, then similar ones) and can be changed. Our deals need a partner: map "
        "the file's partner column (a custom Partner field, or the account where your "
        "partners are the accounts), or choose one partner for every row. The account or "
        "organization is the customer.")


def source_label(source: str) -> str:
    return "Our opportunities format" if source == OURS else f"From {TOOL_LABELS[source]}"


def read(tool: str, name: str, file_id: str, data: bytes) -> crm_import.Export:
    """The export, read once per file and tool (reading a large one takes seconds)."""
    held = st.session_state.get(EXPORT)
    if held is None or held[:2] != (tool, file_id):
        held = (tool, file_id, crm_import.read_export(tool=tool, data=data, filename=name))
        st.session_state[EXPORT] = held
    return held[2]


def signature(mapping: CrmMapping) -> str:
    """What the preview depends on: a changed mapping is checked again."""
    return json.dumps([mapping.columns, mapping.stages, mapping.partner], sort_keys=True)


def _how(proposal: crm_mapping.Proposal, tool: str) -> str | None:
    if proposal.how == "known":
        return f"Proposed: {TOOL_LABELS[tool]} names this column so."
    if proposal.how == "similar":
        alike = display.percent(proposal.confidence, places=0)
        return f"Proposed: the most similar name ({alike} alike). Check it."
    return None


def mapping_step(export: crm_import.Export, file_id: str) -> CrmMapping:
    """Draw the mapping, starting from the proposal or a saved mapping; return what it shows."""
    tool = export.tool
    label = TOOL_LABELS[tool]
    proposed = crm_import.proposed_mapping(export)
    if export.table is None:
        return proposed
    saved = run(crm_import.saved_mappings, tool=tool) or []
    by_name = {m.name: m for m in saved}
    chosen = None
    if by_name:
        chosen = st.selectbox("Start from", [None, *by_name],
                              format_func=lambda n: "The proposal" if n is None
                              else f"Saved mapping “{n}”", key=f"crm_saved_{tool}")
    start = crm_import.apply_saved(export, by_name[chosen]) if chosen else proposed
    # Widgets of their own per file and starting point: choosing another one starts afresh.
    token = format(zlib.crc32(f"{tool}|{file_id}|{chosen}".encode()), "x")

    st.subheader("Columns")
    st.caption(f"Which column of the {label} file feeds each field (\\* required). "
               "Columns that feed nothing are not imported.")
    options = [NO_COLUMN, *[h for h in export.header if h]]
    columns: dict[str, str | None] = {}
    grid = st.columns(3)
    for n, name in enumerate(crm_mapping.FIELDS):
        current = start.columns.get(name)
        picked = grid[n % 3].selectbox(
            FIELD_LABELS[name] + (" \\*" if name in REQUIRED else ""), options,
            index=options.index(current) if current in options else 0,
            key=f"crm_col_{token}_{name}",
            help=_how(export.proposals[name], tool) if current == export.proposals[
                name].source else None)
        columns[name] = None if picked == NO_COLUMN else picked

    partner = None
    if columns["partner"] is None:
        names = run(crm_import.partner_names) or []
        st.caption("No column is mapped to the partner: choose the partner of every row.")
        partner = st.selectbox("Partner of every row", [None, *names],
                               index=names.index(start.partner) + 1
                               if start.partner in names else 0,
                               format_func=lambda n: "Choose a partner" if n is None else n,
                               key=f"crm_partner_{token}")

    stages = _stage_table(export, columns["stage"], start.stages, token)
    mapping = CrmMapping(tool=tool, columns=columns, stages=stages, partner=partner,
                         name=chosen)
    _save_form(mapping, token)
    return mapping


def _stage_table(export: crm_import.Export, column: str | None, start: dict[str, str],
                 token: str) -> dict[str, str]:
    """The file's stages against ours, editable; their defaults and saved entries kept."""
    if column is None:
        return start
    theirs = export.stages(column)
    known = {crm_mapping.normalise(k): v for k, v in start.items()}
    st.subheader("Stages")
    note = (" A deal's won or lost status closes it whatever its stage."
            if export.proposals["status"].source else "")
    st.caption(f"Each stage in the file and ours. A stage left without one of ours is "
               f"refused on every row that has it.{note}")
    if not theirs:
        st.caption("The stage column is empty in every row.")
        return start
    frame = pd.DataFrame({"Their stage": theirs,
                          "Our stage": [known.get(crm_mapping.normalise(t)) for t in theirs]})
    edited = st.data_editor(
        frame, key=f"crm_stages_{token}", hide_index=True, num_rows="fixed",
        disabled=["Their stage"],
        column_config={"Our stage": st.column_config.SelectboxColumn(
            "Our stage", options=list(STAGES), format_func=stage_label)})
    out = {k: v for k, v in start.items()
           if crm_mapping.normalise(k) not in {crm_mapping.normalise(t) for t in theirs}}
    for their_stage, ours in zip(edited["Their stage"], edited["Our stage"], strict=True):
        if isinstance(ours, str) and ours in STAGES:
            out[their_stage] = ours
    return out


def _save_form(mapping: CrmMapping, token: str) -> None:
    errors = FieldErrors()
    with st.container(horizontal=True, vertical_alignment="bottom"):
        name = st.text_input("Save this mapping as", value=mapping.name or "",
                             max_chars=crm_import.NAME_MAX, key=f"crm_save_name_{token}",
                             placeholder=f"e.g. {TOOL_LABELS[mapping.tool]} deals")
        clicked = st.button("Save mapping", key=f"crm_save_{token}", icon=":material/save:")
    errors.slot("mapping_name", "Mapping name")
    if clicked:
        changed: Any = run(crm_import.save_mapping, errors=errors, name=name, mapping=mapping)
        if changed is True:
            st.success(f"Saved as “{escape_md(name.strip())}”: choose it under Start from "
                       "next time.", icon=":material/check_circle:")
        elif changed is False:
            st.info(f"“{escape_md(name.strip())}” is already saved with this mapping; "
                    "nothing was written.", icon=":material/info:")
