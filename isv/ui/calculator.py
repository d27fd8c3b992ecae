"""The commission calculator: inputs, the applicable structure and the comparison by type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from isv import display
from isv.services.commissions import MAX_YEARS, CommissionLine, CommissionQuote
from isv.services.deal_view import StructureInfo
from isv.services.settings import local_today
from isv.ui import widgets
from isv.ui.deal import structure_label
from isv.ui.labels import structure_type_label
from isv.ui.pipeline import MAX_DAY, MIN_DAY, Choices
from isv.ui.tables import table_height

DEFAULT_YEARS = 3


@dataclass
class Inputs:
    arguments: dict[str, Any]
    errors: widgets.FieldErrors


def form(options: Choices) -> Inputs | None:
    """Partner, deal value, close date and years; None until a deal value is entered."""
    errors = widgets.FieldErrors()
    ids = list(options.partners)
    linked = st.query_params.get("partner")
    if linked in options.partners and "calc_partner" not in st.session_state:
        st.session_state["calc_partner"] = linked
    partner_col, value_col, day_col, years_col = st.columns([3, 2, 2, 1])
    with partner_col:
        partner_id = st.selectbox("Partner", ids, key="calc_partner",
                                  format_func=options.partner_name)
        errors.slot("partner_id", "Partner")
    with value_col:
        value = st.text_input(f"Deal value ({widgets.escape_md(display.currency())})",
                              key="calc_value", placeholder="e.g. 120000.00")
        errors.slot("deal_value", "Deal value")
    with day_col:
        day = st.date_input("Close date", local_today(), key="calc_day", min_value=MIN_DAY,
                            max_value=MAX_DAY, format="YYYY-MM-DD")
        errors.slot("close_date", "Close date")
    with years_col:
        years = st.number_input("Years", min_value=1, max_value=MAX_YEARS, value=DEFAULT_YEARS,
                                step=1, key="calc_years",
                                help="How many years a lifetime structure is projected over")
        errors.slot("years", "Years")
    if not value.strip():
        st.info("Enter a deal value to see the commission.", icon=":material/calculate:")
        return None
    return Inputs(arguments={"partner_id": partner_id, "deal_value": value.strip(),
                             "close_date": day, "years": int(years)}, errors=errors)


def _line_row(line: CommissionLine, years: int) -> dict[str, str]:
    structure = StructureInfo.of(line.structure) if line.structure is not None else None
    return {
        "Type": structure_type_label(line.structure_type),
        "Percent": display.percentage(line.percentage),
        "Lifetime": "yes" if line.is_lifetime else "no",
        "First year": display.money(line.first_year),
        f"{years}-year total": display.money(line.projection, none="—  (not lifetime)")
        if line.structure is not None else "—",
        "Structure": structure_label(structure) if structure else (line.reason or ""),
    }


def show(q: CommissionQuote) -> None:
    """The applicable structure (or a plain 'no applicable structure'), then the comparison."""
    # One above the other: side by side, the figures do not fit at 1024 px.
    line = q.applicable
    with st.container():
        st.subheader("This deal", anchor=False)
        if line.structure is None:
            st.warning(widgets.escape_md(
                f"No applicable structure: commission {display.money(0)}. None of this "
                f"partner's structures is in effect on {display.day(q.close_date)} for a deal of "
                f"{display.money(q.deal_value)}."), icon=":material/block:")
        else:
            st.markdown(widgets.escape_md(structure_label(StructureInfo.of(line.structure))))
            first, projected, _ = st.columns([1, 1, 1])
            first.metric("First-year commission", display.money(line.first_year))
            if line.is_lifetime:
                projected.metric(f"{q.years}-year projection", display.money(line.projection),
                                 help="Lifetime: the same percentage again each year the "
                                      "customer stays")
            else:
                projected.metric(f"{q.years}-year projection", display.money(line.first_year),
                                 help="Not lifetime: earned once")
            st.caption("Chosen by the rule: in effect on the close date, deal size inside "
                       "its band, latest start, then highest percentage.")
    with st.container():
        st.subheader("The same deal under each structure type", anchor=False)
        if not q.comparison:
            st.caption("The partner has no structure in effect on that day.")
            return
        table = pd.DataFrame([_line_row(c, q.years) for c in q.comparison])
        st.dataframe(table, hide_index=True, width="stretch", key="calc_comparison",
                     placeholder=display.NONE, height=table_height(len(table)))
